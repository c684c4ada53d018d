// Tasks: the list (all / ready only) with infinite scroll, detail, create/edit with dependencies picked
// from a searchable list, complete/reopen, copy into a schedule, delete, and the archive.
import { api, fieldErrors, TITLE_MAX, DESCRIPTION_MAX } from '../api.js';
import { t } from '../i18n.js';
import { formatDate } from '../locale.js';
import { session, emit, on, go } from '../state.js';
import { h, mount, uid, toast, showError, openDialog, confirmDialog, statusPanel, field, chips, busy } from '../ui.js';
import { todayIn, addDays, daysBetween, instantOf, offsetLabel, nowIn, dateOf, utcLabel } from '../time.js';
import { TYPES } from './schedules.js';
import { reminderPicker } from '../reminders.js';
import { dateTimeField } from '../timefields.js';

const PAGE_SIZE = 20;
const DIFFICULTIES = [1, 2, 3, 5, 8, 13, 21];

/** The due date as a DateWithOffset in the member's zone (offset of that date's midnight, DST-correct). */
function dueDate(date) {
  const zone = session.zone;
  return { date, zoneId: zone, offset: offsetLabel(instantOf(`${date}T00:00:00`, zone), zone) };
}

function duePill(task) {
  const date = task.dueDate?.date;
  if (!date) return null;
  const days = daysBetween(todayIn(session.zone), date);
  const short = formatDate(date, { month: 'numeric', day: 'numeric' });
  let label;
  if (days < 0) label = t('tasks.overdue', { date: short });
  else if (days === 0) label = t('tasks.dueToday');
  else if (days === 1) label = t('tasks.dueTomorrow');
  else label = t('tasks.due', { date: short });
  const urgency = task.completed ? 'done' : days < 0 ? 'late' : String(Math.min(days, 7));
  return h('span', { class: `pill due due-${urgency}` }, label);
}

const pills = (task) => [
  duePill(task),
  h('span', { class: `pill imp imp-${task.importance}` }, t('tasks.importanceN', { n: task.importance })),
  h('span', { class: `pill diff diff-${task.difficulty}` }, t('tasks.difficultyN', { n: task.difficulty })),
];

/** Completes or reopens a task and tells every page. */
async function toggleComplete(task) {
  try {
    if (task.completed) await api.tasks.reopen(task.id);
    else await api.tasks.complete(task.id);
    toast(t(task.completed ? 'tasks.reopened' : 'tasks.completed'), { type: 'success' });
    emit('task:changed', { id: task.id, reason: task.completed ? 'reopen' : 'complete' });
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

/**
 * The prerequisites of each of `tasks` not done yet ([{id, title}]), by task id. `known` (id → task) holds the
 * tasks already read; the others are read (and added to it).
 */
export async function blockersOf(tasks, known = new Map()) {
  for (const task of tasks) known.set(task.id, task);
  const missing = new Set(tasks.filter((x) => !x.completed).flatMap((x) => x.previousTaskIds || []).filter((id) => !known.has(id)));
  await Promise.all([...missing].map((id) => api.tasks.get(id).then((x) => known.set(id, x)).catch(() => {})));
  return new Map(tasks.map((x) => [x.id, x.completed ? [] : (x.previousTaskIds || [])
    .map((id) => known.get(id) || { id, title: `#${id}`, completed: false })
    .filter((p) => !p.completed)]));
}

/** "Waits for "Write outline"" (and how many more): what keeps a task from being done. */
export function blockerText(blockers) {
  if (!blockers?.length) return '';
  const [first, ...rest] = blockers;
  return rest.length ? t('tasks.waitsForMore', { title: first.title, more: rest.length }) : t('tasks.waitsFor', { title: first.title });
}

/**
 * A task's card with its done checkbox. `blockers`: its prerequisites not done yet ([] on a ready list): while there
 * are some, the checkbox is disabled (the server refuses it) and the card names them.
 */
export function taskRow(task, { onOpen, blockers = [] } = {}) {
  const checkId = uid('task-done');
  const blocked = !task.completed && blockers.length > 0;
  const blockerId = blocked ? uid('blocker') : null;
  const check = h('input', {
    type: 'checkbox', id: checkId, class: 'check', checked: Boolean(task.completed), disabled: blocked,
    'aria-describedby': blockerId, title: blocked ? t('tasks.blockedCheck', { title: blockers[0].title }) : null,
    onchange: async (e) => {
      e.target.disabled = true;
      if (!(await toggleComplete(task))) e.target.checked = Boolean(task.completed);
      e.target.disabled = false;
    },
  });
  return h('article', { class: `card task-card${task.completed ? ' is-done' : ''}`, dataset: { id: task.id } },
    h('div', { class: 'task-check' }, check,
      h('label', { for: checkId, class: 'sr-only' }, t(task.completed ? 'tasks.markOpen' : 'tasks.markDone', { title: task.title }))),
    h('div', { class: 'task-main' },
      h('h3', { class: 'card-title' }, h('button', { class: 'link-btn', type: 'button', onclick: () => onOpen?.(task) }, task.title)),
      task.description ? h('p', { class: 'card-desc' }, task.description) : null,
      h('p', { class: 'card-meta' }, pills(task),
        blocked ? h('span', { class: 'pill blocked', id: blockerId }, blockerText(blockers)) : null)));
}

// ---------------------------------------------------------------- loading every task (for pickers and names)

async function allTasks() {
  const out = [];
  for (let page = 0; page < 50; page++) {
    const data = await api.tasks.list({ page, size: 100 });
    const items = data?.content || [];
    out.push(...items);
    if (!items.length || data.last !== false) break;
  }
  return out;
}

// ---------------------------------------------------------------- detail

export function openTaskDetail(id, { onClose } = {}) {
  const controller = new AbortController();
  const dialog = openDialog({
    title: t('tasks.detail'), content: statusPanel('loading', t('common.loading')),
    onClose: () => { controller.abort(); onClose?.(); },
  });

  async function load() {
    let task;
    try {
      task = await api.tasks.get(id);
    } catch (error) {
      mount(dialog.body, statusPanel('error', t('tasks.loadFailed'), error.userMessage, { label: t('common.retry'), run: load }));
      return;
    }
    dialog.panel.querySelector('.dialog-title').textContent = task.title;
    const blockers = (await blockersOf([task])).get(task.id);
    const blocked = blockers.length > 0;
    const blockedId = uid('blocked');
    const prev = h('ul', { class: 'dep-list' });
    const next = h('ul', { class: 'dep-list' });
    mount(dialog.body,
      task.description ? h('p', { class: 'detail-desc' }, task.description) : null,
      h('p', { class: 'card-meta' },
        h('span', { class: `pill ${task.completed ? 'state-COMPLETED' : ''}` }, t(task.completed ? 'tasks.done' : 'tasks.notDone')), pills(task)),
      blocked ? h('p', { class: 'blocked-note', id: blockedId }, blockerText(blockers)) : null,
      h('h3', { class: 'section-title' }, t('tasks.previous')), prev,
      h('h3', { class: 'section-title' }, t('tasks.next')), next,
      h('div', { class: 'button-row' },
        h('button', {
          class: 'btn btn-primary', type: 'button', disabled: blocked, 'aria-describedby': blocked ? blockedId : null,
          onclick: async (e) => { await busy(e.currentTarget, t('common.saving'), () => toggleComplete(task)); },
        }, t(task.completed ? 'tasks.reopen' : 'tasks.complete')),
        h('button', { class: 'btn', type: 'button', onclick: () => openCopyToSchedule(task) }, t('tasks.copyToSchedule')),
        h('button', { class: 'btn', type: 'button', onclick: () => { dialog.close(); openTaskForm({ task }); } }, t('common.edit')),
        h('button', { class: 'btn btn-danger', type: 'button', onclick: () => removeTask(task, dialog) }, t('common.delete'))));
    dialog.refocus();
    const names = async (ids, ul) => {
      if (!ids?.length) { mount(ul, h('li', { class: 'muted' }, t('tasks.none'))); return; }
      const items = await Promise.all(ids.map((d) => api.tasks.get(d).catch(() => ({ id: d, title: `#${d}` }))));
      mount(ul, items.map((x) => h('li', {}, h('a', { href: `/app/tasks/${x.id}` }, x.title), x.completed ? ` ✓ ${t('tasks.done')}` : '')));
    };
    names(task.previousTaskIds, prev);
    names(task.nextTaskIds, next);
  }

  on('task:changed', (d) => { if (!d.id || String(d.id) === String(id)) load(); }, controller.signal);
  load();
  return dialog;
}

async function removeTask(task, dialog) {
  const alsoId = uid('also');
  const also = h('input', { type: 'checkbox', id: alsoId });
  const ok = await confirmDialog(t('tasks.confirmDelete', { title: task.title }), {
    confirmLabel: t('common.delete'), danger: true,
    extra: h('p', { class: 'check-row' }, also, h('label', { for: alsoId }, t('tasks.deleteSchedulesToo'))),
  });
  if (!ok) return;
  try {
    await api.tasks.remove(task.id, also.checked);
    dialog.close();
    toast(t('tasks.deleted'), { type: 'success' });
    emit('task:changed', { id: task.id, reason: 'delete', removed: true });
    if (also.checked) emit('schedule:changed', { reason: 'deleted' });
  } catch (error) {
    showError(error);
  }
}

// ---------------------------------------------------------------- copy into a schedule

export function openCopyToSchedule(task) {
  const now = nowIn(session.zone);
  const hour = Math.min(23, Number(now.slice(11, 13)) + 1);
  const title = h('input', { type: 'text', value: task.title });
  const description = h('textarea', { rows: 2 }, task.description || '');
  const titleField = field(t('schedules.form.title'), title, { hint: t('tasks.copyTitleHint'), max: TITLE_MAX });
  const descriptionField = field(t('schedules.form.description'), description, { max: DESCRIPTION_MAX });
  const type = chips(t('schedules.form.type'), uid('type'), TYPES.map((v) => ({ value: v, label: t(`type.${v}`) })), 'DEEP_WORK');
  const startField = dateTimeField(t('schedules.form.start'), `${dateOf(now)}T${String(hour).padStart(2, '0')}:00`,
    { hint: t('schedules.form.zoneHint', { zone: session.zone, offset: utcLabel(session.zone) }) });
  const start = startField.control;
  const reminders = reminderPicker(null, { defaults: api.members.reminders().catch(() => undefined) });
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const formId = uid('copy');
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', form: formId }, t('tasks.copyCreate'));
  const form = h('form', { id: formId, class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    startField.setError(start.value ? '' : t('schedules.form.startRequired'));
    titleField.setError(titleField.tooLong());
    descriptionField.setError(descriptionField.tooLong());
    if (!start.value) return start.focus();
    if (titleField.tooLong()) return title.focus();
    if (descriptionField.tooLong()) return description.focus();
    const body = { date: { dateTime: `${start.value.slice(0, 16)}:00`, zoneId: session.zone }, scheduleType: type.value };
    if (title.value.trim() && title.value.trim() !== task.title) body.title = title.value.trim();
    if (description.value.trim() && description.value.trim() !== task.description) body.description = description.value.trim();
    if (reminders.value !== undefined) body.reminders = reminders.value;
    await busy(submit, t('common.saving'), async () => {
      try {
        const schedule = await api.tasks.toSchedule(task.id, body);
        dialog.close();
        toast(t('tasks.copied'), { type: 'success', action: { label: t('tasks.openSchedule'), run: () => go(`/app/schedules?scheduleId=${schedule?.id ?? ''}&date=${dateOf(body.date.dateTime)}`) } });
        emit('schedule:changed', { id: schedule?.id, reason: 'created', date: dateOf(body.date.dateTime) });
        emit('task:changed', { id: task.id, reason: 'assigned' });
      } catch (error) {
        fieldErrors(error, { title: titleField, description: descriptionField, date: startField });
        formError.textContent = error.userMessage || t('error.generic');
        formError.hidden = false;
      }
    });
  } },
  startField, type, titleField, descriptionField, reminders, formError);
  const dialog = openDialog({
    title: t('tasks.copyTitle', { title: task.title }), content: form,
    actions: [h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, t('common.cancel')), submit],
  });
  return dialog;
}

// ---------------------------------------------------------------- create / edit

export function openTaskForm({ task, onClose } = {}) {
  const editing = Boolean(task);
  const title = h('input', { type: 'text', required: true, value: task?.title || '', autofocus: true });
  const description = h('textarea', { rows: 3 }, task?.description || '');
  const due = h('input', { type: 'date', required: true, value: task?.dueDate?.date || addDays(todayIn(session.zone), 1) });
  const importanceValue = h('output', { class: 'range-value' }, String(task?.importance ?? 5));
  const importance = h('input', {
    type: 'range', min: 1, max: 9, step: 1, value: String(task?.importance ?? 5),
    oninput: (e) => { importanceValue.textContent = e.target.value; },
  });
  const difficulty = chips(t('tasks.form.difficulty'), uid('difficulty'), DIFFICULTIES.map((d) => ({ value: d, label: String(d) })), task?.difficulty ?? 2);
  const fields = {
    title: field(t('tasks.form.title'), title, { max: TITLE_MAX }),
    description: field(t('tasks.form.description'), description, { max: DESCRIPTION_MAX }),
    due: field(t('tasks.form.due'), due, { hint: t('tasks.form.dueHint', { zone: session.zone }) }),
    importance: field(t('tasks.form.importance'), importance, { hint: t('tasks.form.importanceHint') }),
  };
  fields.importance.querySelector('label').append(' ', importanceValue);

  // Dependencies: ids → titles, edited as two lists.
  const original = { prev: new Set(task?.previousTaskIds || []), next: new Set(task?.nextTaskIds || []) };
  const deps = { prev: new Set(original.prev), next: new Set(original.next) };
  const titles = new Map();
  const lists = { prev: h('ul', { class: 'tag-list' }), next: h('ul', { class: 'tag-list' }) };
  const renderDeps = (which) => {
    mount(lists[which], [...deps[which]].map((id) => h('li', { class: 'tag' },
      h('span', {}, titles.get(id) || `#${id}`),
      h('button', {
        class: 'icon-btn', type: 'button', 'aria-label': t('tasks.form.removeDep', { title: titles.get(id) || `#${id}` }),
        onclick: () => { deps[which].delete(id); renderDeps(which); },
      }, '×'))));
    if (!deps[which].size) lists[which].append(h('li', { class: 'muted' }, t('tasks.none')));
  };
  const depSection = (which) => h('fieldset', { class: 'deps' },
    h('legend', {}, t(which === 'prev' ? 'tasks.previous' : 'tasks.next')),
    h('p', { class: 'field-hint' }, t(which === 'prev' ? 'tasks.form.prevHint' : 'tasks.form.nextHint')),
    lists[which],
    h('button', {
      class: 'btn btn-small', type: 'button',
      onclick: () => openDependencyPicker({
        which, selected: deps[which], other: deps[which === 'prev' ? 'next' : 'prev'], self: task?.id, titles,
        onApply: (ids) => { deps[which] = ids; renderDeps(which); },
      }),
    }, t('tasks.form.chooseDeps')));
  if (original.prev.size || original.next.size) {
    Promise.all([...original.prev, ...original.next].map((id) => api.tasks.get(id).then((x) => titles.set(id, x.title)).catch(() => {})))
      .then(() => { renderDeps('prev'); renderDeps('next'); });
  }
  renderDeps('prev');
  renderDeps('next');

  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const formId = uid('task-form');
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', form: formId }, t(editing ? 'common.save' : 'tasks.form.create'));
  const form = h('form', { id: formId, class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    formError.hidden = true;
    const errors = {
      title: title.value.trim() ? fields.title.tooLong() : t('form.titleRequired'),
      description: fields.description.tooLong(), // optional
      due: due.value ? '' : t('tasks.form.dueRequired'),
    };
    for (const [k, m] of Object.entries(errors)) fields[k].setError(m);
    const first = Object.keys(errors).find((k) => errors[k]);
    if (first) return ({ title, description, due })[first].focus();
    const body = {
      title: title.value.trim(), description: description.value.trim(), dueDate: dueDate(due.value),
      importance: Number(importance.value), difficulty: Number(difficulty.value),
    };
    if (editing) {
      const edge = (which, other) => (which === 'prev' ? { fromId: other, toId: task.id } : { fromId: task.id, toId: other });
      body.addDependencies = ['prev', 'next'].flatMap((w) => [...deps[w]].filter((x) => !original[w].has(x)).map((x) => edge(w, x)));
      body.removeDependencies = ['prev', 'next'].flatMap((w) => [...original[w]].filter((x) => !deps[w].has(x)).map((x) => edge(w, x)));
    } else {
      // 0 stands for the task being created.
      body.addDependencies = [...[...deps.prev].map((x) => ({ fromId: x, toId: 0 })), ...[...deps.next].map((x) => ({ fromId: 0, toId: x }))];
    }
    await busy(submit, t('common.saving'), async () => {
      try {
        const saved = editing ? await api.tasks.update(task.id, body) : await api.tasks.create(body);
        dialog.close();
        toast(t(editing ? 'tasks.updated' : 'tasks.created'), { type: 'success' });
        emit('task:changed', { id: saved?.id ?? task?.id, reason: editing ? 'update' : 'create' });
      } catch (error) {
        fieldErrors(error, { title: fields.title, description: fields.description, dueDate: fields.due });
        formError.textContent = error.userMessage || t('error.generic');
        formError.hidden = false;
      }
    });
  } },
  fields.title, fields.description, fields.due, fields.importance, difficulty, depSection('prev'), depSection('next'), formError);

  const dialog = openDialog({
    title: t(editing ? 'tasks.form.editTitle' : 'tasks.form.newTitle'), content: form, wide: true,
    actions: [h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, t('common.cancel')), submit],
    onClose,
  });
  return dialog;
}

/** A searchable checkbox list of tasks. `other` are the ids already on the opposite side (not selectable). */
function openDependencyPicker({ which, selected, other, self, titles, onApply }) {
  const chosen = new Set(selected);
  const search = h('input', { type: 'search', autocomplete: 'off', placeholder: t('tasks.picker.searchPlaceholder') });
  const list = h('ul', { class: 'picker-list', 'aria-live': 'polite' }, h('li', {}, statusPanel('loading', t('common.loading'))));
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  let tasks = [];

  function renderList() {
    const q = search.value.trim().toLowerCase();
    const shown = tasks.filter((x) => String(x.id) !== String(self) && (!q || `${x.title} ${x.description}`.toLowerCase().includes(q)));
    count.textContent = t('tasks.picker.count', { n: shown.length, chosen: chosen.size });
    if (!shown.length) { mount(list, h('li', { class: 'muted' }, t('tasks.picker.none'))); return; }
    mount(list, shown.map((x) => {
      const id = uid('pick');
      const blocked = other.has(x.id);
      return h('li', { class: 'picker-item' },
        h('input', {
          type: 'checkbox', id, checked: chosen.has(x.id), disabled: blocked,
          onchange: (e) => { if (e.target.checked) chosen.add(x.id); else chosen.delete(x.id); count.textContent = t('tasks.picker.count', { n: shown.length, chosen: chosen.size }); },
        }),
        h('label', { for: id },
          h('span', { class: 'picker-title' }, x.title),
          h('span', { class: 'muted' }, ` · ${formatDate(x.dueDate?.date || todayIn(session.zone), { month: 'numeric', day: 'numeric' })}`),
          blocked ? h('span', { class: 'muted' }, ` · ${t('tasks.picker.otherSide')}`) : null,
          x.completed ? h('span', { class: 'muted' }, ` · ${t('tasks.done')}`) : null));
    }));
  }

  const dialog = openDialog({
    title: t(which === 'prev' ? 'tasks.picker.prevTitle' : 'tasks.picker.nextTitle'),
    content: h('div', {}, field(t('tasks.picker.search'), search), count, list),
    actions: [
      h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, t('common.cancel')),
      h('button', { class: 'btn btn-primary', type: 'button', onclick: () => {
        for (const x of tasks) titles.set(x.id, x.title);
        onApply(new Set(chosen));
        dialog.close();
      } }, t('tasks.picker.apply')),
    ],
  });
  search.addEventListener('input', renderList);
  allTasks().then((all) => { tasks = all; renderList(); })
    .catch((error) => mount(list, h('li', {}, statusPanel('error', t('tasks.loadFailed'), error.userMessage))));
  return dialog;
}

// ---------------------------------------------------------------- archive

function openArchive() {
  const list = h('ol', { class: 'cards' });
  const sentinel = h('div', { class: 'sentinel' });
  const status = h('div', {});
  let cursor = null;
  let hasNext = true;
  let loading = false;
  const seen = new Set();
  let observer;

  async function more() {
    if (loading || !hasNext) return;
    loading = true;
    mount(status, statusPanel('loading', t('common.loading')));
    try {
      const page = await api.tasks.archive({ size: PAGE_SIZE, cursor });
      for (const task of page?.data || []) {
        if (seen.has(task.id)) continue;
        seen.add(task.id);
        list.append(h('li', {}, taskRow(task, { onOpen: (x) => openTaskDetail(x.id) })));
      }
      hasNext = Boolean(page?.hasNext && page?.nextCursor);
      cursor = page?.nextCursor;
      mount(status, hasNext ? h('button', { class: 'btn btn-block', type: 'button', onclick: more }, t('common.loadMore'))
        : h('p', { class: 'muted end' }, seen.size ? t('tasks.archiveEnd') : t('tasks.archiveEmpty')));
    } catch (error) {
      mount(status, statusPanel('error', t('tasks.loadFailed'), error.userMessage, { label: t('common.retry'), run: more }));
    } finally {
      loading = false;
    }
  }

  const dialog = openDialog({
    title: t('tasks.archive'), wide: true,
    content: h('div', { class: 'archive' }, h('p', { class: 'muted' }, t('tasks.archiveHint')), list, status, sentinel),
    onClose: () => observer?.disconnect(),
  });
  observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) more(); }, { root: dialog.panel, rootMargin: '120px' });
  observer.observe(sentinel);
  more();
}

// ---------------------------------------------------------------- page

let active = null;

export async function render(ctx) {
  const { main, setTitle, signal } = ctx;
  setTitle(t('tasks.title'));
  const state = { readyOnly: ctx.query.get('ready') === '1', page: 0, last: false, loading: false, items: new Map(), tasks: new Map() };
  const known = new Map(); // every task read (id → task): the names and states of prerequisites
  const list = h('ol', { class: 'cards', 'aria-labelledby': 'tasks-list-title' });
  const footer = h('div', { class: 'list-footer' });
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const filterAll = h('button', { class: 'seg', type: 'button', onclick: () => setFilter(false) }, t('tasks.filterAll'));
  const filterReady = h('button', { class: 'seg', type: 'button', onclick: () => setFilter(true) }, t('tasks.filterReady'));

  main.append(
    h('div', { class: 'page-head' },
      h('div', { class: 'segmented', role: 'group', 'aria-label': t('tasks.filter') }, filterAll, filterReady),
      h('button', { class: 'btn btn-small', type: 'button', onclick: openArchive }, t('tasks.archive')),
      h('button', { class: 'btn btn-small btn-primary desktop-only', type: 'button', onclick: () => openTaskForm() }, t('tasks.add'))),
    h('p', { class: 'muted page-hint' }, t('tasks.hint')),
    h('h2', { class: 'sr-only', id: 'tasks-list-title' }, t('tasks.listLabel')),
    list, footer, sentinel);

  function setFilter(ready) {
    state.readyOnly = ready;
    const url = new URL(location.href);
    if (ready) url.searchParams.set('ready', '1'); else url.searchParams.delete('ready');
    history.replaceState(null, '', url.pathname + url.search);
    reload();
  }

  function renderFilter() {
    filterAll.setAttribute('aria-pressed', String(!state.readyOnly));
    filterReady.setAttribute('aria-pressed', String(state.readyOnly));
  }

  function reload() {
    state.page = 0;
    state.last = false;
    state.items.clear();
    state.tasks.clear();
    known.clear();
    list.replaceChildren();
    renderFilter();
    more();
  }

  const open = (task) => openTaskDetail(task.id);

  async function more() {
    if (state.loading || state.last) return;
    state.loading = true;
    const filter = state.readyOnly;
    mount(footer, statusPanel('loading', t('tasks.loading')));
    try {
      const data = await api.tasks.list({ page: state.page, size: PAGE_SIZE, readyOnly: filter });
      const items = data?.content || [];
      const blockers = await blockersOf(items, known); // none on the ready list, by definition
      if (filter !== state.readyOnly || signal.aborted) return;
      for (const task of items) {
        if (state.items.has(task.id)) continue;
        const li = h('li', {}, taskRow(task, { onOpen: open, blockers: blockers.get(task.id) }));
        state.items.set(task.id, li);
        state.tasks.set(task.id, task);
        list.append(li);
      }
      state.page += 1;
      state.last = data?.last ?? (data?.totalPages != null ? state.page >= data.totalPages : items.length < PAGE_SIZE);
      if (!state.items.size) {
        mount(footer, statusPanel('empty', t(filter ? 'tasks.emptyReady' : 'tasks.empty'), t('tasks.emptyHint'), { label: t('tasks.add'), run: () => openTaskForm() }));
      } else if (state.last) {
        mount(footer, h('p', { class: 'muted end' }, t('tasks.end')));
      } else {
        mount(footer, h('button', { class: 'btn btn-block', type: 'button', onclick: more }, t('common.loadMore')));
      }
    } catch (error) {
      mount(footer, statusPanel('error', t('tasks.loadFailed'), error.userMessage, { label: t('common.retry'), run: more }));
    } finally {
      state.loading = false;
    }
  }

  /**
   * A changed task is re-read and replaced in place, and so are the tasks it is a prerequisite of (they may be
   * blocked or free now); a new or deleted one reloads the list, and so does any change on the ready list (a task
   * done there can make others ready).
   */
  async function changed(detail) {
    const li = detail.id != null ? state.items.get(detail.id) : null;
    if (!li || detail.removed || state.readyOnly) { reload(); return; }
    try {
      const task = await api.tasks.get(detail.id);
      known.set(task.id, task);
      state.tasks.set(task.id, task);
      const affected = [...state.tasks.values()].filter((x) => x.id === task.id || (x.previousTaskIds || []).includes(task.id));
      const blockers = await blockersOf(affected, known);
      for (const x of affected) state.items.get(x.id)?.replaceChildren(taskRow(x, { onOpen: open, blockers: blockers.get(x.id) }));
    } catch {
      reload();
    }
  }

  const observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) more(); }, { rootMargin: '120px' });
  observer.observe(sentinel);
  signal.addEventListener('abort', () => observer.disconnect());
  on('task:changed', changed, signal);
  on('zone:changed', reload, signal);
  reload();
  active = { handle: (c) => handleAction(c), signal };
  signal.addEventListener('abort', () => { if (active?.signal === signal) active = null; });
  handleAction(ctx);
}

export function update(ctx) {
  active?.handle(ctx);
}

async function handleAction(ctx) {
  const back = () => ctx.navigate('/app/tasks', { replace: true });
  if (ctx.action === 'new') openTaskForm({ onClose: back });
  else if (ctx.action === 'open') openTaskDetail(ctx.params.id, { onClose: back });
  else if (ctx.action === 'edit') {
    try {
      openTaskForm({ task: await api.tasks.get(ctx.params.id), onClose: back });
    } catch (error) {
      showError(error);
      back();
    }
  }
}
