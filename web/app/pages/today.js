// Today: today's schedules in start-time order and the tasks that are ready to do (no unfinished
// prerequisites), each one action away from a schedule.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { formatDate } from '../locale.js';
import { session, on } from '../state.js';
import { h, mount, statusPanel } from '../ui.js';
import { todayIn } from '../time.js';
import { scheduleCard, openScheduleDetail, openScheduleForm } from './schedules.js';
import { taskRow, openTaskDetail, openCopyToSchedule } from './tasks.js';
import { loadBusy, busyCard, interleave, prefillFrom } from '../busy.js';

const READY_COUNT = 10;

export async function render({ main, setTitle, signal }) {
  setTitle(t('today.title'));
  const schedules = h('div', {});
  const tasks = h('div', {});
  const schedulesTitle = h('h2', { class: 'section-title', id: 'today-schedules' }, t('today.schedules'));
  const tasksTitle = h('h2', { class: 'section-title', id: 'today-tasks' }, t('today.ready'));
  const dateLine = h('p', { class: 'eyebrow' });

  main.append(
    h('div', { class: 'page-intro' }, dateLine, h('p', { class: 'muted' }, t('today.lead'))),
    h('section', { 'aria-labelledby': 'today-schedules' }, schedulesTitle, schedules),
    h('section', { 'aria-labelledby': 'today-tasks' }, tasksTitle, tasks, h('p', {}, h('a', { href: '/app/tasks?ready=1' }, t('today.allReady')))));

  async function loadSchedules() {
    const today = todayIn(session.zone);
    dateLine.textContent = formatDate(today, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
    if (!schedules.children.length) mount(schedules, statusPanel('loading', t('schedules.loading')));
    try {
      const [day, busy] = await Promise.all([api.schedules.day(today, session.zone), loadBusy(today, session.zone)]);
      if (signal.aborted) return;
      const items = Array.isArray(day) ? day : [];
      items.sort((a, b) => String(a.date?.dateTime).localeCompare(String(b.date?.dateTime)) || a.id - b.id);
      schedulesTitle.textContent = t('today.schedulesN', { n: items.length });
      const empty = items.length ? null : statusPanel('empty', t('today.noSchedules'), null, { label: t('schedules.add'), run: () => openScheduleForm({ date: today }) });
      if (!busy.length) {
        mount(schedules, empty || h('ol', { class: 'cards' }, items.map((s) => h('li', {}, scheduleCard(s, { onOpen: (x) => openScheduleDetail(x.id) })))));
      } else {
        mount(schedules, empty, h('ol', { class: 'cards' }, interleave(items, busy).map(({ kind, item }) => h('li', { class: kind === 'busy' ? 'busy-item' : null },
          kind === 'busy'
            ? busyCard(item, { onMake: (b) => openScheduleForm({ date: today, prefill: prefillFrom(b, today) }) })
            : scheduleCard(item, { onOpen: (x) => openScheduleDetail(x.id) })))));
      }
    } catch (error) {
      mount(schedules, statusPanel('error', t('schedules.loadFailed'), error.userMessage, { label: t('common.retry'), run: loadSchedules }));
    }
  }

  async function loadTasks() {
    if (!tasks.children.length) mount(tasks, statusPanel('loading', t('tasks.loading')));
    try {
      const page = await api.tasks.list({ page: 0, size: READY_COUNT, readyOnly: true });
      if (signal.aborted) return;
      const items = page?.content || [];
      tasksTitle.textContent = t('today.readyN', { n: page?.totalElements ?? items.length });
      if (!items.length) {
        mount(tasks, statusPanel('empty', t('today.noReady')));
        return;
      }
      mount(tasks, h('ol', { class: 'cards' }, items.map((task) => h('li', {},
        h('div', { class: 'with-action' },
          taskRow(task, { onOpen: (x) => openTaskDetail(x.id) }),
          h('button', { class: 'btn btn-small', type: 'button', onclick: () => openCopyToSchedule(task), 'aria-label': t('today.scheduleIt', { title: task.title }) }, t('today.scheduleShort')))))));
    } catch (error) {
      mount(tasks, statusPanel('error', t('tasks.loadFailed'), error.userMessage, { label: t('common.retry'), run: loadTasks }));
    }
  }

  on('schedule:changed', loadSchedules, signal);
  on('task:changed', loadTasks, signal);
  on('zone:changed', () => { loadSchedules(); loadTasks(); }, signal);
  await Promise.all([loadSchedules(), loadTasks()]);
}
