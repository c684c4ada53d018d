// Reminders (issue 18, docs/adr/0015-reminders.md): up to five ISO 8601 offsets ≤ 0 from a schedule's start
// ("PT0S" at the start, "-PT10M" ten minutes before). A schedule has its own list, or follows the member's
// defaults (`null` on the wire). Offsets are compared by their seconds, never by their text: the server may
// write one day as "-P1D" or "-PT24H".
import { t, formatDuration } from './i18n.js';
import { parseDuration } from './time.js';
import { h, uid } from './ui.js';

export const MAX_REMINDERS = 5;

/** The offsets the forms offer, latest first. */
export const PRESETS = ['PT0S', '-PT5M', '-PT10M', '-PT15M', '-PT30M', '-PT1H', '-P1D'];

/** Seconds of an offset ("-PT10M" → -600). */
export const offsetSeconds = (iso) => parseDuration(iso);

/** An offset in seconds as ISO 8601 ("-PT10M", "-P1D", "PT0S"). */
export function isoOffset(seconds) {
  if (!seconds) return 'PT0S';
  const sign = seconds < 0 ? '-' : '';
  let s = Math.abs(Math.round(seconds));
  if (s % 86400 === 0) return `${sign}P${s / 86400}D`;
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  return `${sign}PT${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${s ? `${s}S` : ''}`;
}

/** "At the start", "10 min before", "1 hour before", "1 day before" (Korean: "10분 전"…). */
export function reminderLabel(iso) {
  const seconds = Math.abs(offsetSeconds(iso));
  if (seconds === 0) return t('reminders.atStart');
  if (seconds % 86400 === 0) {
    const n = seconds / 86400;
    return n === 1 ? t('reminders.dayBefore') : t('reminders.daysBefore', { n });
  }
  if (seconds % 3600 === 0) {
    const n = seconds / 3600;
    return n === 1 ? t('reminders.hourBefore') : t('reminders.hoursBefore', { n });
  }
  if (seconds % 60 === 0 && seconds < 3600) return t('reminders.minutesBefore', { n: seconds / 60 });
  return t('reminders.before', { lead: formatDuration(seconds) });
}

/** Distinct offsets (by seconds), earliest reminder first; the texts as given. */
export function normalize(list) {
  const seen = new Map();
  for (const iso of Array.isArray(list) ? list : []) {
    const s = offsetSeconds(iso);
    if (!seen.has(s)) seen.set(s, iso);
  }
  return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, iso]) => iso);
}

/** "10 min before, at the start"; "No reminders" for an empty list. */
export function reminderSummary(list) {
  const items = normalize(list);
  if (!items.length) return t('reminders.none');
  return items.map(reminderLabel).join(', ');
}

/** Same offsets, by seconds? */
export function sameReminders(a, b) {
  const x = normalize(a).map(offsetSeconds);
  const y = normalize(b).map(offsetSeconds);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * A set of offsets as checkbox chips (the presets, plus any other offset in `selected` so an edit keeps it),
 * at most five: the others are disabled once five are chosen. `.value` is the chosen list (ISO, earliest first).
 */
export function reminderChecks(legend, selected = [], { onChange } = {}) {
  const chosen = normalize(selected);
  const seconds = new Set(chosen.map(offsetSeconds));
  // The presets and any other chosen offset, at the start first; the server's own text for an offset it sent.
  const byText = normalize([...chosen, ...PRESETS]).reverse();
  const limit = h('p', { class: 'field-hint' }, t('reminders.max', { n: MAX_REMINDERS }));
  const set = h('fieldset', { class: 'chips reminder-checks' }, h('legend', {}, legend));
  const name = uid('reminder');
  for (const iso of byText) {
    const id = uid(name);
    set.append(h('span', { class: 'chip' },
      h('input', { type: 'checkbox', name, id, value: iso, checked: seconds.has(offsetSeconds(iso)), dataset: { seconds: String(offsetSeconds(iso)) } }),
      h('label', { for: id }, reminderLabel(iso))));
  }
  const error = h('p', { class: 'field-error', hidden: true });
  set.append(limit, error);
  const boxes = () => [...set.querySelectorAll('input[type=checkbox]')];
  const enforce = () => {
    const full = boxes().filter((b) => b.checked).length >= MAX_REMINDERS;
    for (const b of boxes()) b.disabled = set.disabled || (full && !b.checked);
  };
  set.addEventListener('change', () => { enforce(); onChange?.(); });
  enforce();
  Object.defineProperty(set, 'value', { get: () => normalize(boxes().filter((b) => b.checked).map((b) => b.value)) });
  set.setError = (message) => {
    error.textContent = message || '';
    error.hidden = !message;
    if (message) set.setAttribute('aria-invalid', 'true');
    else set.removeAttribute('aria-invalid');
  };
  set.setEnabled = (on) => { set.disabled = !on; enforce(); };
  return set;
}

/**
 * The schedule form's Reminders choice: "Use my defaults" (nothing sent when creating; `null` when an edit
 * goes back to them) or a list of its own. `current`: the schedule's `reminders` (null/undefined: defaults).
 * `.value`: undefined (defaults) or the chosen list; `.changed()`: differs from `current`.
 */
export function reminderPicker(current, { defaults } = {}) {
  const own = Array.isArray(current);
  const name = uid('reminder-mode');
  const radio = (value, label, checked) => {
    const id = uid(name);
    return h('span', { class: 'chip' },
      h('input', { type: 'radio', name, id, value, checked }),
      h('label', { for: id }, label));
  };
  const defaultsHint = h('p', { class: 'field-hint reminder-defaults', 'aria-live': 'polite' });
  const checks = reminderChecks(t('reminders.chooseLegend'), own ? current : []);
  const set = h('fieldset', { class: 'reminders' },
    h('legend', {}, t('reminders.label')),
    h('div', { class: 'chips' },
      radio('defaults', t('reminders.useDefaults'), !own),
      radio('own', t('reminders.own'), own)),
    defaultsHint,
    checks);
  const mode = () => set.querySelector(`input[name="${name}"]:checked`)?.value || 'defaults';
  const sync = () => {
    const mine = mode() === 'own';
    checks.hidden = !mine;
    checks.setEnabled(mine);
    defaultsHint.hidden = mine;
  };
  set.addEventListener('change', (e) => { if (e.target.name === name) sync(); });
  sync();
  Promise.resolve(defaults).then((list) => {
    if (Array.isArray(list)) defaultsHint.textContent = t('reminders.defaultsAre', { list: reminderSummary(list) });
  }).catch(() => {});
  Object.defineProperty(set, 'value', { get: () => (mode() === 'own' ? checks.value : undefined) });
  set.changed = () => {
    const value = set.value;
    if (value === undefined) return own;
    return !own || !sameReminders(value, current);
  };
  set.setError = (message) => checks.setError(message);
  set.checks = checks;
  return set;
}

const SVG = 'http://www.w3.org/2000/svg';

/** A bell (struck through when `off`), drawn as SVG: no emoji font needed. */
function bell(off) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'bell');
  svg.setAttribute('aria-hidden', 'true');
  const paths = ['M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6v-5a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z'];
  for (const d of paths) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', 'currentColor');
    svg.append(path);
  }
  if (off) {
    const line = document.createElementNS(SVG, 'path');
    line.setAttribute('d', 'M3 3l18 18');
    line.setAttribute('stroke', 'currentColor');
    line.setAttribute('stroke-width', '2.5');
    svg.append(line);
  }
  return svg;
}

/** A small bell with "10 min before" for a schedule with reminders of its own (nothing when it follows the defaults). */
export function reminderHint(schedule) {
  if (!Array.isArray(schedule?.reminders)) return null;
  const text = reminderSummary(schedule.reminders);
  const none = !normalize(schedule.reminders).length;
  return h('span', { class: `reminder-hint${none ? ' is-off' : ''}`, title: t('reminders.hint', { list: text }) },
    bell(none),
    h('span', { class: 'sr-only' }, `${t('reminders.label')}: `),
    text);
}
