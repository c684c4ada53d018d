// How dates and times are written: the one place that decides it. Every date and time the client shows goes
// through the formatters below (and the service worker is told the same locale and clock: push.js).
//
// - The language is the one chosen (i18n.js: ko or en); the conventions of the region come from the browser. For
//   English, the first English entry of `navigator.languages` (en-US: Dec 7 and 2:30 PM; en-GB, en-AU, en-IE: 7 Dec;
//   en-CA and the others as Intl writes them), en-GB when none is English; for Korean, ko-KR.
// - The clock (12- or 24-hour) is a setting of this device (localStorage `pinit.clock`): "auto" takes the browser's
//   own (what its date and time inputs show), or 'h12' / 'h23'. It is applied as `hourCycle` on every formatter
//   that shows an hour.
import { getLang } from './i18n.js';

export const CLOCKS = ['auto', 'h12', 'h23'];
const CLOCK_KEY = 'pinit.clock';
const listeners = new Set();

/** The locale for `lang` given the browser's `languages` (pure, for the tests too). */
export function formatLocaleFor(lang, languages) {
  if (lang === 'ko') return 'ko-KR';
  for (const tag of languages || []) {
    let canonical;
    try { [canonical] = Intl.getCanonicalLocales(String(tag)); } catch { continue; }
    if (canonical && /^en(-|$)/i.test(canonical) && Intl.DateTimeFormat.supportedLocalesOf(canonical).length) return canonical;
  }
  return 'en-GB';
}

/** The BCP 47 locale every date, time, list and plural in the client is formatted with. */
export function formatLocale() {
  const languages = navigator.languages?.length ? navigator.languages : [navigator.language];
  return formatLocaleFor(getLang(), languages);
}

const cycleOf = (hc) => (hc === 'h11' || hc === 'h12' ? 'h12' : 'h23');

/** The browser's own clock: 'h12' or 'h23' (its default locale's; what its time inputs show). */
export function browserHourCycle() {
  try {
    return cycleOf(new Intl.DateTimeFormat(undefined, { hour: 'numeric' }).resolvedOptions().hourCycle);
  } catch {
    return 'h23';
  }
}

/** The clock chosen on this device: 'auto' | 'h12' | 'h23'. */
export function clockSetting() {
  let saved = null;
  try { saved = localStorage.getItem(CLOCK_KEY); } catch { /* private mode */ }
  return CLOCKS.includes(saved) ? saved : 'auto';
}

/** The clock in force: 'h12' or 'h23'. */
export const hourCycle = () => (clockSetting() === 'auto' ? browserHourCycle() : clockSetting());

/** Chooses the clock; listeners (the app: re-render the page, tell the service worker) are told at once. */
export function setClock(value) {
  if (!CLOCKS.includes(value)) return;
  try { localStorage.setItem(CLOCK_KEY, value); } catch { /* private mode: for this page only */ }
  for (const fn of listeners) fn(value);
}

export function onClockChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// Another tab chose another clock.
window.addEventListener('storage', (e) => {
  if (e.key === CLOCK_KEY) for (const fn of listeners) fn(clockSetting());
});

/** What the service worker needs to write notification times as the page does. */
export const formatPrefs = () => ({ locale: formatLocale(), hourCycle: hourCycle() });

// ---------------------------------------------------------------- formatters

const formatters = new Map();

/**
 * An Intl.DateTimeFormat in the formatting locale. Options showing an hour get the clock: `hourCycle`, and the hour
 * as "9" on a 12-hour clock, "09" on a 24-hour one ("9:00 AM", "09:00"). `locale`/`cycle` override (tests, Settings).
 */
export function dateTimeFormat(options = {}, { locale = formatLocale(), cycle = hourCycle() } = {}) {
  const o = { ...options };
  if (o.hour) {
    o.hourCycle = cycle;
    o.hour = cycle === 'h12' ? 'numeric' : '2-digit';
  }
  const key = `${locale}|${JSON.stringify(o)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, o);
    formatters.set(key, f);
  }
  return f;
}

/** Hours and minutes, in the clock in force. */
export const TIME = Object.freeze({ hour: 'numeric', minute: '2-digit' });
/** A date with the year: "Dec 7, 2026", "7 Dec 2026", "2026년 12월 7일". */
export const DATE = Object.freeze({ day: 'numeric', month: 'short', year: 'numeric' });

function civilMs(date) {
  const [y, m, d] = String(date).slice(0, 10).split('-').map(Number);
  return Date.UTC(y, m - 1, d);
}

function wallMs(wall) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(String(wall || ''));
  if (!m) return NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] || 0), Number(m[5] || 0), Number(m[6] || 0));
}

/** A civil date ("YYYY-MM-DD") with Intl options, as is (no zone shift). */
export function formatDate(date, options) {
  return dateTimeFormat({ ...options, timeZone: 'UTC' }).format(new Date(civilMs(date)));
}

/**
 * A range of civil dates, the parts they share written once (Intl's formatRange): "Dec 7 – 13, 2026" (en-US),
 * "7 – 13 Dec 2026" (en-GB), "2026년 12월 7일 ~ 13일"; a plain "a – b" where formatRange is missing.
 */
export function formatDateRange(first, last, options = DATE) {
  const format = dateTimeFormat({ ...options, timeZone: 'UTC' });
  const [a, b] = [new Date(civilMs(first)), new Date(civilMs(last))];
  return typeof format.formatRange === 'function' ? format.formatRange(a, b) : `${format.format(a)} – ${format.format(b)}`;
}

/** A wall-clock date-time ("YYYY-MM-DDTHH:mm[:ss]") with Intl options, as is. */
export function formatWall(wall, options) {
  const ms = wallMs(wall);
  return Number.isFinite(ms) ? dateTimeFormat({ ...options, timeZone: 'UTC' }).format(new Date(ms)) : String(wall ?? '');
}

/** An instant (epoch ms, or a string Date.parse reads) in `zone` with Intl options. */
export function formatInstant(instant, zone, options) {
  const ms = typeof instant === 'number' ? instant : Date.parse(instant);
  if (!Number.isFinite(ms)) return String(instant ?? '');
  return dateTimeFormat({ ...options, timeZone: zone }).format(new Date(ms));
}

const DAY_MINUTES = 24 * 60;

/**
 * A time of day: "2:30 PM" / "14:30" / "오후 2:30". `value` is "HH:mm", a wall date-time, or minutes since
 * midnight (24 * 60, the end of the day, is "24:00" on a 24-hour clock and midnight on a 12-hour one).
 */
export function formatTime(value, { cycle = hourCycle(), locale = formatLocale() } = {}) {
  let minutes;
  if (typeof value === 'number') minutes = value;
  else {
    const m = /(?:^|T)(\d{2}):(\d{2})/.exec(String(value ?? ''));
    if (!m) return '';
    minutes = Number(m[1]) * 60 + Number(m[2]);
  }
  if (minutes === DAY_MINUTES && cycle === 'h23') return '24:00';
  const at = Date.UTC(2000, 0, 1, 0, minutes % DAY_MINUTES);
  return dateTimeFormat({ ...TIME, timeZone: 'UTC' }, { cycle, locale }).format(new Date(at));
}

/** "9:00 AM–10:30 AM", "09:00–10:30". */
export const formatTimeRange = (from, to) => `${formatTime(from)}–${formatTime(to)}`;

/** The timeline's hour label: "9 AM", "오전 9시" on a 12-hour clock, "09:00" on a 24-hour one. */
export function formatHour(hour) {
  const cycle = hourCycle();
  if (cycle === 'h23') return formatTime(hour * 60);
  return dateTimeFormat({ hour: 'numeric', timeZone: 'UTC' }).format(new Date(Date.UTC(2000, 0, 1, hour)));
}

/**
 * The words of a 12-hour clock in the formatting locale, for a time field: {am, pm, periodFirst} ("AM"/"PM" after
 * the hour in English, "오전"/"오후" before it in Korean).
 */
export function dayPeriods(locale = formatLocale()) {
  const f = dateTimeFormat({ ...TIME, timeZone: 'UTC' }, { cycle: 'h12', locale });
  const partsAt = (h) => f.formatToParts(new Date(Date.UTC(2000, 0, 1, h)));
  const period = (parts) => parts.find((p) => p.type === 'dayPeriod')?.value || '';
  const morning = partsAt(9);
  const types = morning.map((p) => p.type);
  return {
    am: period(morning) || 'AM',
    pm: period(partsAt(15)) || 'PM',
    periodFirst: types.indexOf('dayPeriod') >= 0 && types.indexOf('dayPeriod') < types.indexOf('hour'),
  };
}

/** Plural categories in the formatting locale ("one", "other"). */
export const pluralOf = (n) => new Intl.PluralRules(formatLocale()).select(n);

/** "A, B and C" in the formatting locale. */
export const formatList = (items) => new Intl.ListFormat(formatLocale(), { style: 'long', type: 'conjunction' }).format(items);
