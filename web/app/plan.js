// Plan against actual (Statistics): `GET /v2/statistics/plan` — each day of the week's planned length and worked
// time by type, the member's daily objective, the days met and the streak. Drawn as a light SVG (bars only: no
// text inside it, so nothing shrinks on a phone) with the words and numbers in HTML: the day labels under it and
// two tables (day by day, and the week by type), which are also what a screen reader reads.
import { t, formatDuration } from './i18n.js';
import { formatDate, pluralOf } from './locale.js';
import { h } from './ui.js';
import { parseDuration } from './time.js';

export const PLAN_TYPES = ['DEEP_WORK', 'ADMIN_TASK', 'QUICK_TASK'];
const SVG = 'http://www.w3.org/2000/svg';
const COL = 100; // viewBox units per day
const HEIGHT = 100;

/** The objective's bounds (the API's: whole minutes from PT15M to PT24H). */
export const OBJECTIVE_MIN = 15;
export const OBJECTIVE_MAX = 24 * 60;

/** "PT2H30M" for 150 minutes. */
export const isoFromMinutes = (minutes) => {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `PT${hours ? `${hours}H` : ''}${rest || !hours ? `${rest}M` : ''}`;
};

/** The message of the plural form `n` takes in the language: `keys` {one, other}. */
export function plural(keys, n) {
  return t(pluralOf(n) === 'one' ? keys.one : keys.other, { n });
}

/** formatDuration, with "0 min" rather than "0 s" for nothing at all. */
const amount = (seconds) => (seconds === 0 ? t('duration.m', { m: 0 }) : formatDuration(seconds));

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** The plan's days with seconds: [{date, planned: {DEEP_WORK…, total}, worked: {…}, met}]. */
export function readPlan(plan) {
  const secondsOf = (part) => Object.fromEntries([...PLAN_TYPES, 'total'].map((k) => [k, parseDuration(part?.[k])]));
  return (Array.isArray(plan?.days) ? plan.days : []).map((d) => ({ date: d.date, planned: secondsOf(d.planned), worked: secondsOf(d.worked), met: Boolean(d.met) }));
}

/** Bars for each day (planned: pale and outlined; worked: solid), stacked by type, and the objective line. */
function chart(days, objective, today) {
  const max = Math.max(3600, objective * 1.15, ...days.flatMap((d) => [d.planned.total, d.worked.total]));
  const y = (seconds) => HEIGHT - (seconds / max) * HEIGHT;
  const root = svg('svg', { viewBox: `0 0 ${COL * days.length} ${HEIGHT}`, preserveAspectRatio: 'none', class: 'plan-svg', 'aria-hidden': 'true', focusable: 'false' });
  days.forEach((day, i) => {
    const x = i * COL;
    if (day.date === today) root.append(svg('rect', { x, y: 0, width: COL, height: HEIGHT, class: 'plan-today' }));
    for (const [kind, offset] of [['planned', 14], ['worked', 52]]) {
      let top = HEIGHT;
      for (const type of PLAN_TYPES) {
        const seconds = day[kind][type];
        if (!seconds) continue;
        const height = (seconds / max) * HEIGHT;
        top -= height;
        root.append(svg('rect', { x: x + offset, y: top, width: 34, height, class: `plan-bar plan-${kind} plan-${type}` }));
      }
    }
  });
  root.append(svg('line', { x1: 0, x2: COL * days.length, y1: y(objective), y2: y(objective), class: 'plan-objective', 'vector-effect': 'non-scaling-stroke' }));
  return root;
}

/**
 * The section: summary (objective, days met, streak), the chart with its day labels and legend, the day-by-day
 * table and the week by type. `today` ("YYYY-MM-DD") marks today and the days still to come.
 */
export function planSection(plan, { today, onChangeObjective }) {
  const days = readPlan(plan);
  const objective = parseDuration(plan?.dailyObjective);
  const streak = Number(plan?.streak) || 0;
  const met = days.filter((d) => d.met).length;
  const dayName = (date, style = 'short') => formatDate(date, { weekday: style, day: 'numeric', ...(style === 'long' ? { month: 'long' } : {}) });
  const metText = (d) => (d.met ? t('plan.met') : d.date > today ? t('plan.ahead') : t('plan.notMet'));
  const week = (kind, type) => days.reduce((sum, d) => sum + d[kind][type], 0);

  return h('section', { class: 'plan', 'aria-labelledby': 'plan-title' },
    h('h2', { class: 'chart-title', id: 'plan-title' }, t('plan.title')),
    h('ul', { class: 'stat-cards plan-cards' },
      h('li', { class: 'stat-card' },
        h('h3', {}, t('plan.objective')),
        h('p', { class: 'stat-value', dataset: { metric: 'objective' } }, formatDuration(objective)),
        onChangeObjective ? h('p', {}, h('a', { href: '/app/settings#set-objective' }, t('plan.changeObjective'))) : null),
      h('li', { class: 'stat-card' },
        h('h3', {}, t('plan.daysMet')),
        h('p', { class: 'stat-value', dataset: { metric: 'met' } }, t('plan.daysMetValue', { met, days: days.length })),
        h('p', { class: 'stat-change' }, t('plan.daysMetHint'))),
      h('li', { class: 'stat-card' },
        h('h3', {}, t('plan.streak')),
        h('p', { class: 'stat-value', dataset: { metric: 'streak' } }, plural({ one: 'plan.streakDays.one', other: 'plan.streakDays.other' }, streak)),
        h('p', { class: 'stat-change' }, t('plan.streakHint')))),
    h('figure', { class: 'chart-wrap plan-figure', 'aria-labelledby': 'plan-chart-title' },
      h('h3', { class: 'chart-title', id: 'plan-chart-title' }, t('plan.chartTitle')),
      h('div', { class: 'plan-chart' }, chart(days, objective, today)),
      h('ol', { class: 'plan-days', 'aria-hidden': 'true' }, days.map((d) => h('li', { class: d.date === today ? 'is-today' : null },
        h('span', {}, dayName(d.date)), h('span', { class: `plan-mark${d.met ? ' is-met' : ''}` }, d.met ? '✓' : '·')))),
      h('figcaption', { class: 'legend plan-legend' },
        h('span', { class: 'key key-planned' }, t('plan.planned')),
        h('span', { class: 'key key-worked' }, t('plan.worked')),
        h('span', { class: 'key key-objective' }, t('plan.objectiveLine', { objective: formatDuration(objective) })),
        PLAN_TYPES.map((type) => h('span', { class: `key key-${type}` }, t(`type.${type}`))))),
    h('div', { class: 'table-fit' },
      h('table', { class: 'plan-table plan-by-day' },
        h('caption', {}, t('plan.byDay')),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, t('plan.day')), h('th', { scope: 'col' }, t('plan.planned')),
          h('th', { scope: 'col' }, t('plan.worked')), h('th', { scope: 'col' }, t('plan.objective')))),
        h('tbody', {}, days.map((d) => h('tr', { class: d.date === today ? 'is-today' : null, dataset: { date: d.date } },
          // "Wed 9" on screen (it fits a phone), the full date for screen readers.
          h('th', { scope: 'row' },
            h('span', { 'aria-hidden': 'true' }, dayName(d.date)), h('span', { class: 'sr-only' }, dayName(d.date, 'long')),
            d.date === today ? h('span', { class: 'plan-today-mark' }, t('schedules.today')) : null),
          h('td', {}, amount(d.planned.total)),
          h('td', {}, amount(d.worked.total)),
          h('td', { class: d.met ? 'is-met' : null }, d.met ? h('span', { 'aria-hidden': 'true' }, '✓ ') : null, metText(d))))),
        h('tfoot', {}, h('tr', {},
          h('th', { scope: 'row' }, t('plan.week')),
          h('td', {}, amount(week('planned', 'total'))),
          h('td', {}, amount(week('worked', 'total'))),
          h('td', {}, t('plan.daysMetValue', { met, days: days.length })))))),
    h('div', { class: 'table-fit' },
      h('table', { class: 'plan-table plan-by-type' },
        h('caption', {}, t('plan.byType')),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, t('plan.type')), h('th', { scope: 'col' }, t('plan.planned')),
          h('th', { scope: 'col' }, t('plan.worked')), h('th', { scope: 'col' }, t('plan.difference')))),
        h('tbody', {}, [...PLAN_TYPES, 'total'].map((type) => {
          const planned = week('planned', type);
          const worked = week('worked', type);
          return h('tr', { class: type === 'total' ? 'is-total' : null, dataset: { type } },
            h('th', { scope: 'row' }, type === 'total' ? t('stats.total') : t(`type.${type}`)),
            h('td', {}, amount(planned)),
            h('td', {}, amount(worked)),
            h('td', {}, worked === planned ? '±0' : `${worked > planned ? '+' : ''}${formatDuration(worked - planned)}`));
        })))));
}
