// Busy time from the member's other calendars (GET /v2/calendar/busy): read-only blocks shown among a day's
// schedules, each one click away from a schedule of its own ("Make a schedule" pre-fills the form).
import { api, TITLE_MAX, DESCRIPTION_MAX } from './api.js';
import { t } from './i18n.js';
import { h } from './ui.js';
import { dateOf, toWall, instantOf } from './time.js';
import { formatTime, formatTimeRange } from './locale.js';

export { TITLE_MAX, DESCRIPTION_MAX };

/**
 * A busy time as a wall clock in `zone`: "YYYY-MM-DD" (an all-day date) or "YYYY-MM-DDTHH:mm:ss" stays as it
 * is (the server answers in the zone it was asked for); an instant with Z or an offset, or a
 * {dateTime, zoneId}, is converted.
 */
export function wallIn(value, zone) {
  if (value && typeof value === 'object' && value.dateTime) {
    return value.zoneId && value.zoneId !== zone ? toWall(instantOf(value.dateTime, value.zoneId), zone) : String(value.dateTime).slice(0, 19);
  }
  const s = String(value ?? '');
  if (/(Z|[+-]\d{2}:?\d{2})$/i.test(s) && s.length > 10) return toWall(Date.parse(s), zone);
  return s.length === 16 ? `${s}:00` : s.slice(0, 19);
}

/** Characters a title may not hold (controls, invisible bidirectional controls): the server refuses them. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` cut to `max` UTF-16 code units without splitting a character, ending in "…" when cut; control
 * characters become spaces (the title is one line).
 */
export function fit(text, max) {
  const clean = String(text ?? '').replace(FORBIDDEN, ' ').replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  let out = '';
  for (const ch of clean) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out.trimEnd()}…`;
}

/** Normalised busy blocks of `date` in `zone`, with `sortKey` (where on the day it starts) and `label`. */
export function busyOnDay(items, date, zone) {
  return (Array.isArray(items) ? items : []).map((item) => {
    const allDay = Boolean(item.allDay);
    const start = wallIn(item.start, zone);
    const end = item.end ? wallIn(item.end, zone) : start;
    const dayStart = `${date}T00:00:00`;
    const startsBefore = dateOf(start) < date;
    const endsAfter = !allDay && dateOf(end) > date && end.slice(11) !== '00:00:00';
    const wholeDay = allDay || (startsBefore && dateOf(end) > date);
    let label;
    if (wholeDay) label = t('busy.allDay');
    else if (startsBefore) label = t('busy.until', { time: formatTime(end) });
    else if (endsAfter) label = t('busy.from', { time: formatTime(start) });
    else label = end && end !== start ? formatTimeRange(start, end) : formatTime(start);
    // Whole-day blocks first ("…T" sorts before any time), then by where they start on this day.
    const sortKey = wholeDay ? `${date}T` : (startsBefore ? dayStart : start);
    return { ...item, allDay, start, end, label, sortKey, wholeDay };
  });
}

/** The schedule form's pre-fill for a busy block on `date`: its title (cut to the limit), start and a description. */
export function prefillFrom(block, date) {
  const title = fit(block.title || t('busy.untitled'), TITLE_MAX);
  const start = block.wholeDay ? `${date}T09:00` : (dateOf(block.start) < date ? `${date}T00:00` : block.start.slice(0, 16));
  const full = String(block.title || '').trim();
  const description = fit(full && full !== title ? `${full} · ${block.calendarName || ''}` : t('busy.fromCalendar', { name: block.calendarName || '' }), DESCRIPTION_MAX);
  return { title, description, start };
}

/** A read-only card for a busy block: its time, title and calendar, and "Make a schedule". */
export function busyCard(block, { onMake } = {}) {
  const title = block.title || t('busy.untitled');
  return h('article', { class: 'card busy-card', dataset: { subscription: block.subscriptionId ?? '', uid: block.uid ?? '' } },
    h('span', { class: 'busy-time' }, block.label),
    h('div', { class: 'schedule-main' },
      h('h3', { class: 'card-title busy-title' }, title),
      h('p', { class: 'card-meta' },
        h('span', { class: 'pill busy-pill' }, t('busy.badge')),
        h('span', { class: 'muted busy-calendar' }, block.calendarName || ''))),
    h('div', { class: 'card-actions' },
      h('button', {
        class: 'btn btn-small', type: 'button', 'aria-label': t('busy.makeScheduleFor', { title }),
        onclick: () => onMake?.(block),
      }, t('busy.makeSchedule'))));
}

/** The day's busy blocks (none when the member has no other calendars, or they cannot be had right now). */
export async function loadBusy(date, zone, opts) {
  try {
    return busyOnDay(await api.calendar.busy(date, zone, opts), date, zone);
  } catch (error) {
    if (error?.name === 'AbortError') throw error;
    return [];
  }
}

/**
 * One list of a day's schedules and busy blocks in the order they start: [{kind: 'schedule'|'busy', item}].
 * Schedules keep their order (already sorted); a busy block goes before a schedule starting at the same time.
 */
export function interleave(schedules, blocks) {
  const busy = blocks.slice().sort((a, b) => a.sortKey.localeCompare(b.sortKey) || String(a.title).localeCompare(String(b.title)));
  const out = [];
  let i = 0;
  for (const s of schedules) {
    const at = String(s.date?.dateTime ?? '').slice(0, 19);
    while (i < busy.length && busy[i].sortKey <= at) out.push({ kind: 'busy', item: busy[i++] });
    out.push({ kind: 'schedule', item: s });
  }
  while (i < busy.length) out.push({ kind: 'busy', item: busy[i++] });
  return out;
}
