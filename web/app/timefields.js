// Times of day in forms, in the clock the member reads everywhere else (locale.js), and the clock setting itself.
//
// The browser's own <input type="time"> and "datetime-local" follow the browser's locale; a page cannot tell them to
// use a 12- or a 24-hour clock. While the clock in force is the browser's own (the default, "Automatic", or the same
// one chosen) they are used as they are: the phone's picker, typing, the browser's date order. When the member chose
// the other clock, a time is picked from selects that follow it — the hour (1–12 with AM/PM in the language's words
// and order, or 00–23) and the minute — and a date and time is the browser's date input beside them, so no screen
// shows the two clocks at once. Both kinds have the same `.control.value` ("HH:mm", "YYYY-MM-DDTHH:mm"),
// `.control.focus()`, change events and `setError`.
import { t } from './i18n.js';
import { h, uid, field } from './ui.js';
import {
  CLOCKS, clockSetting, setClock, hourCycle, browserHourCycle, dayPeriods, formatTime, formatDate, DATE,
} from './locale.js';
import { todayIn } from './time.js';
import { session } from './state.js';

/** Whether the browser's own time inputs show the clock in force. */
export const nativeFollowsClock = () => hourCycle() === browserHourCycle();

const pad = (n) => String(n).padStart(2, '0');

/** Hour, minute (and AM/PM) selects for "HH:mm" in the clock in force: {parts: [{label, control}], get, set}. */
function timeSelects(value) {
  const cycle = hourCycle();
  const hour = h('select', { id: uid('time-h') },
    (cycle === 'h12' ? [12, ...Array.from({ length: 11 }, (_, i) => i + 1)] : Array.from({ length: 24 }, (_, i) => i))
      .map((n) => h('option', { value: String(n) }, cycle === 'h12' ? String(n) : pad(n))));
  const minute = h('select', { id: uid('time-m') }, Array.from({ length: 60 }, (_, i) => h('option', { value: String(i) }, pad(i))));
  const words = dayPeriods();
  const period = cycle === 'h12' ? h('select', { id: uid('time-p') },
    h('option', { value: 'am' }, words.am), h('option', { value: 'pm' }, words.pm)) : null;
  const set = (text) => {
    const m = /^(\d{1,2}):(\d{2})/.exec(String(text || '')) || [null, '9', '00'];
    const hh = Number(m[1]) % 24;
    const mm = Math.min(59, Number(m[2]));
    minute.value = String(mm);
    if (period) {
      period.value = hh < 12 ? 'am' : 'pm';
      hour.value = String(hh % 12 || 12);
    } else {
      hour.value = String(hh);
    }
  };
  const get = () => {
    let hh = Number(hour.value);
    if (period) hh = (hh % 12) + (period.value === 'pm' ? 12 : 0);
    return `${pad(hh)}:${pad(Number(minute.value))}`;
  };
  set(value);
  const hourPart = { label: t('time.hour'), control: hour };
  const minutePart = { label: t('time.minute'), control: minute };
  const periodPart = period ? { label: t('time.period'), control: period } : null;
  // In the language's order: "2 : 30 PM", "오후 2 : 30".
  let parts = [hourPart, minutePart];
  if (periodPart) parts = words.periodFirst ? [periodPart, ...parts] : [...parts, periodPart];
  return { parts, get, set };
}

/**
 * A group named `legend` of labelled controls (`parts`), a hint and an error slot in each control's description.
 * `.control` is the group with `value` (get/set through `get`/`set`) and `focus()`; `.setError(message)`.
 */
function group(legend, parts, { hint, get, set }) {
  const hintId = hint ? uid('time-hint') : null;
  const errorId = uid('time-error');
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  for (const { control } of parts) control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  const box = h('fieldset', { class: 'field time-field' },
    h('legend', {}, legend),
    h('div', { class: 'time-parts' }, parts.map(({ label, control }) => h('span', {}, h('label', { for: control.id }, label), control))),
    hint ? h('p', { class: 'field-hint', id: hintId }, hint) : null,
    error);
  Object.defineProperty(box, 'value', { get, set, configurable: true });
  box.focus = () => parts[0].control.focus();
  box.control = box;
  box.setError = (message) => {
    error.textContent = message || '';
    error.hidden = !message;
    for (const { control } of parts) {
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    }
  };
  return box;
}

/** A time of day ("HH:mm") named `label`: the browser's time input, or selects in the member's clock. */
export function timeField(label, value, { hint } = {}) {
  if (nativeFollowsClock()) {
    const input = h('input', { type: 'time', required: true, step: 60, value: String(value || '').slice(0, 5) });
    const wrap = field(label, input, { hint });
    wrap.control = input;
    return wrap;
  }
  const time = timeSelects(value);
  return group(label, time.parts, { hint, get: time.get, set: time.set });
}

/** A date and time ("YYYY-MM-DDTHH:mm") named `label`: the browser's datetime-local, or its date input and time selects. */
export function dateTimeField(label, value, { hint } = {}) {
  if (nativeFollowsClock()) {
    const input = h('input', { type: 'datetime-local', required: true, step: 60, value: String(value || '').slice(0, 16) });
    const wrap = field(label, input, { hint });
    wrap.control = input;
    return wrap;
  }
  const date = h('input', { type: 'date', required: true, id: uid('date'), value: String(value || '').slice(0, 10) });
  const time = timeSelects(String(value || '').slice(11, 16));
  return group(label, [{ label: t('time.date'), control: date }, ...time.parts], {
    hint,
    get: () => (date.value ? `${date.value}T${time.get()}` : ''),
    set: (text) => { date.value = String(text || '').slice(0, 10); time.set(String(text || '').slice(11, 16)); },
  });
}

/**
 * Settings → Date and time: the clock of this device (Automatic — the browser's —, 12-hour or 24-hour), applied at
 * once (locale.js tells the app, which renders the page anew and tells the service worker). The radios keep their
 * ids across that, so the focus stays on the one chosen.
 */
export function clockPanel() {
  const chosen = clockSetting();
  const sample = 14 * 60 + 30;
  const label = (value) => (value === 'auto'
    ? t('clock.auto', { clock: t(`clock.${browserHourCycle()}`) })
    : t(`clock.${value}Example`, { example: formatTime(sample, { cycle: value }) }));
  const radios = h('fieldset', { class: 'field clock-choice' },
    h('legend', {}, t('clock.legend')),
    CLOCKS.map((value) => {
      const id = `clock-${value}`;
      return h('div', { class: 'check-row' },
        h('input', {
          type: 'radio', name: 'clock', id, value, checked: value === chosen,
          onchange: (e) => { if (e.target.checked) setClock(value); },
        }),
        h('label', { for: id }, label(value)));
    }));
  return h('section', { class: 'panel', id: 'set-clock', 'aria-labelledby': 'set-clock-title' },
    h('h2', { id: 'set-clock-title' }, t('clock.title')),
    h('p', { class: 'muted' }, t('clock.dates', { example: formatDate(todayIn(session.zone), DATE) })),
    radios,
    h('p', { class: 'muted' }, t('clock.hint')));
}
