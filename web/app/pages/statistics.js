// Statistics: a week against the week before: deep work, admin work and total, as cards and a bar chart.
import { api } from '../api.js';
import { t, locale, formatDuration } from '../i18n.js';
import { session, on } from '../state.js';
import { h, mount, statusPanel } from '../ui.js';
import { todayIn, addDays, mondayOf, formatDate, parseDuration, dateOf } from '../time.js';

const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs = {}, ...children) => {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
};

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

function chart(current, previous) {
  const max = Math.max(60, ...METRICS.flatMap(([k]) => [current[k], previous?.[k] ?? 0]));
  const rowH = 56;
  const labelW = 96;
  const width = 480;
  const barMax = width - labelW - 90;
  const root = svg('svg', { viewBox: `0 0 ${width} ${METRICS.length * rowH + 24}`, class: 'chart', role: 'img', 'aria-labelledby': 'chart-title chart-desc' });
  root.append(svg('title', { id: 'chart-title' }, t('stats.chartTitle')),
    svg('desc', { id: 'chart-desc' }, METRICS.map(([k, , label]) => `${t(label)}: ${formatDuration(current[k])} (${t('stats.lastWeek')}: ${previous ? formatDuration(previous[k]) : '—'})`).join('; ')));
  METRICS.forEach(([key, , label], i) => {
    const y = i * rowH + 8;
    const w1 = Math.max(2, (current[key] / max) * barMax);
    const w0 = previous ? Math.max(2, (previous[key] / max) * barMax) : 0;
    root.append(
      svg('text', { x: 0, y: y + 18, class: 'chart-label' }, t(label)),
      svg('rect', { x: labelW, y, width: w1, height: 20, rx: 4, class: `bar bar-${key}` }),
      svg('text', { x: labelW + w1 + 6, y: y + 15, class: 'chart-value' }, formatDuration(current[key])),
      previous ? svg('rect', { x: labelW, y: y + 24, width: w0, height: 12, rx: 3, class: 'bar bar-prev' }) : '',
      previous ? svg('text', { x: labelW + w0 + 6, y: y + 34, class: 'chart-value chart-prev' }, formatDuration(previous[key])) : '');
  });
  return root;
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
    const [now, before] = await Promise.allSettled([api.statistics(week, session.zone), api.statistics(addDays(week, -7), session.zone)]);
    body.removeAttribute('aria-busy');
    if (week !== anchor || signal.aborted) return;
    if (now.status === 'rejected') {
      mount(body, statusPanel('error', t('stats.loadFailed'), now.reason?.userMessage, { label: t('common.retry'), run: load }));
      return;
    }
    const current = read(now.value);
    const previous = before.status === 'fulfilled' ? read(before.value) : null;
    const monday = now.value?.startOfWeek?.dateTime ? dateOf(now.value.startOfWeek.dateTime) : week;
    const fmt = (d) => formatDate(d, locale(), { month: 'long', day: 'numeric' });
    label.textContent = t(week >= mondayOf(todayIn(session.zone)) ? 'stats.thisWeek' : 'stats.weekOf', { range: `${fmt(monday)} – ${fmt(addDays(monday, 6))}` });
    mount(body,
      h('ul', { class: 'stat-cards' }, METRICS.map(([key, , name]) => {
        const c = change(current[key], previous?.[key]);
        return h('li', { class: `stat-card stat-${key}` },
          h('h3', {}, t(name)),
          h('p', { class: 'stat-value', dataset: { metric: key } }, formatDuration(current[key])),
          h('p', { class: `stat-change ${c.cls}` }, c.text));
      })),
      h('figure', { class: 'chart-wrap' }, chart(current, previous),
        h('figcaption', { class: 'legend' },
          h('span', { class: 'key key-now' }, t('stats.thisWeekShort')), ' ',
          h('span', { class: 'key key-prev' }, t('stats.lastWeek')))),
      h('p', { class: 'muted' }, t('stats.quick', { quick: formatDuration(Math.max(0, current.total - current.deep - current.admin)) })));
  }

  on('schedule:changed', load, signal);
  on('zone:changed', () => { anchor = mondayOf(todayIn(session.zone)); load(); }, signal);
  await load();
}
