// Statistics: a week against the week before: deep work, admin work and total, as cards and a bar chart; then
// the week's plan against what was worked, day by day and by type, against the daily objective (plan.js).
import { api } from '../api.js';
import { t, formatDuration } from '../i18n.js';
import { formatDateRange } from '../locale.js';
import { session, on } from '../state.js';
import { h, mount, statusPanel } from '../ui.js';
import { todayIn, addDays, mondayOf, parseDuration, dateOf } from '../time.js';
import { planSection } from '../plan.js';

const METRICS = [
  ['deep', 'deepWorkElapsedTime', 'stats.deep'],
  ['admin', 'adminWorkElapsedTime', 'stats.admin'],
  ['total', 'totalWorkElapsedTime', 'stats.total'],
];

function read(stats) {
  if (!stats) return null;
  return Object.fromEntries(METRICS.map(([key, field]) => [key, parseDuration(stats[field])]));
}

/** "+25%", "−10%", "new", "no change", or "no data" against the previous week. */
function change(now, before) {
  if (before == null) return { text: t('stats.noPrevious'), cls: '' };
  if (now === before) return { text: t('stats.noChange'), cls: '' };
  if (before === 0) return { text: t('stats.new'), cls: 'up' };
  const pct = Math.round(((now - before) / before) * 100);
  if (pct === 0) return { text: t('stats.noChange'), cls: '' };
  return { text: t('stats.vsLast', { pct: `${pct > 0 ? '+' : '−'}${Math.abs(pct)}%` }), cls: pct > 0 ? 'up' : 'down' };
}

/**
 * Both weeks as horizontal bars in HTML (the text stays at its size on a phone; an SVG scaled to 375 px made it
 * unreadable): each metric's name, this week's bar and time, last week's bar and time. The bars are decoration;
 * the times next to them are the data.
 */
function chart(current, previous) {
  const max = Math.max(60, ...METRICS.flatMap(([k]) => [current[k], previous?.[k] ?? 0]));
  const bar = (seconds, cls) => {
    const el = h('span', { class: `bar ${cls}`, 'aria-hidden': 'true' });
    el.style.width = `calc((100% - 6em) * ${(seconds / max).toFixed(4)})`;
    return el;
  };
  return h('ul', { class: 'chart', 'aria-labelledby': 'chart-title' }, METRICS.map(([key, , label]) => h('li', { class: 'chart-row' },
    h('span', { class: 'chart-label' }, t(label)),
    h('span', { class: 'chart-bars' },
      h('span', { class: 'bar-line' }, bar(current[key], `bar-${key}`),
        h('span', { class: 'chart-value' }, formatDuration(current[key]))),
      previous ? h('span', { class: 'bar-line' }, bar(previous[key], 'bar-prev'),
        h('span', { class: 'chart-value chart-prev' }, h('span', { class: 'sr-only' }, `${t('stats.lastWeek')}: `), formatDuration(previous[key]))) : null))));
}

export async function render({ main, setTitle, signal }) {
  setTitle(t('stats.title'));
  let anchor = mondayOf(todayIn(session.zone));
  const label = h('h2', { class: 'week-label', 'aria-live': 'polite' });
  const next = h('button', { class: 'btn btn-small', type: 'button', onclick: () => go(7) }, t('stats.nextWeek'));
  const body = h('div', { class: 'stats-body' });
  main.append(
    h('div', { class: 'page-head' },
      h('button', { class: 'btn btn-small', type: 'button', onclick: () => go(-7) }, t('stats.prevWeek')),
      label, next,
      h('button', { class: 'btn btn-small', type: 'button', onclick: () => load() }, t('common.refresh'))),
    body);

  function go(days) {
    anchor = addDays(anchor, days);
    load();
  }

  async function load() {
    const week = anchor;
    next.disabled = week >= mondayOf(todayIn(session.zone));
    if (!body.children.length) mount(body, statusPanel('loading', t('common.loading')));
    body.setAttribute('aria-busy', 'true');
    const [now, before, plan] = await Promise.allSettled([
      api.statistics(week, session.zone), api.statistics(addDays(week, -7), session.zone), api.plan(week, session.zone)]);
    body.removeAttribute('aria-busy');
    if (week !== anchor || signal.aborted) return;
    if (now.status === 'rejected') {
      mount(body, statusPanel('error', t('stats.loadFailed'), now.reason?.userMessage, { label: t('common.retry'), run: load }));
      return;
    }
    const current = read(now.value);
    const previous = before.status === 'fulfilled' ? read(before.value) : null;
    const monday = now.value?.startOfWeek?.dateTime ? dateOf(now.value.startOfWeek.dateTime) : week;
    const range = formatDateRange(monday, addDays(monday, 6), { day: 'numeric', month: 'long', year: 'numeric' });
    label.textContent = t(week >= mondayOf(todayIn(session.zone)) ? 'stats.thisWeek' : 'stats.weekOf', { range });
    mount(body,
      h('ul', { class: 'stat-cards' }, METRICS.map(([key, , name]) => {
        const c = change(current[key], previous?.[key]);
        return h('li', { class: `stat-card stat-${key}` },
          h('h3', {}, t(name)),
          h('p', { class: 'stat-value', dataset: { metric: key } }, formatDuration(current[key])),
          h('p', { class: `stat-change ${c.cls}` }, c.text));
      })),
      h('figure', { class: 'chart-wrap', 'aria-labelledby': 'chart-title' },
        h('h2', { class: 'chart-title', id: 'chart-title' }, t('stats.chartTitle')),
        chart(current, previous),
        h('figcaption', { class: 'legend' },
          h('span', { class: 'key key-now' }, t('stats.thisWeekShort')), ' ',
          h('span', { class: 'key key-prev' }, t('stats.lastWeek')))),
      h('p', { class: 'muted' }, t('stats.quick', { quick: formatDuration(Math.max(0, current.total - current.deep - current.admin)) })),
      plan.status === 'fulfilled'
        ? planSection(plan.value, { today: todayIn(session.zone), onChangeObjective: true })
        : statusPanel('error', t('plan.loadFailed'), plan.reason?.userMessage, { label: t('common.retry'), run: load }));
  }

  on('schedule:changed', load, signal);
  on('zone:changed', () => { anchor = mondayOf(todayIn(session.zone)); load(); }, signal);
  await load();
}
