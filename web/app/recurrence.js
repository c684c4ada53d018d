// Repeating schedules: the presets the schedule form offers (as RFC 5545 RRULE values, built from the start
// date), and a readable summary of a rule ("Every weekday", "Every 2 weeks on Friday", "Every month on the last
// Friday · 10 times"). The server checks every rule; the summary is only what people read.
import { t } from './i18n.js';
import { formatDate, formatList, DATE } from './locale.js';

const DAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];

/** The RRULE weekday code of a date 'YYYY-MM-DD'. */
export function weekdayOf(date) {
  return DAYS[(new Date(`${date}T12:00:00Z`).getUTCDay() + 6) % 7];
}

/** Which of its month's weekdays a date is: 1…4, or -1 for the last (the 5th, and the 4th when no 5th follows). */
export function nthOfMonth(date) {
  const [y, m, d] = date.split('-').map(Number);
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (d + 7 > daysInMonth) return -1;
  return Math.ceil(d / 7);
}

/** The form's presets for a schedule starting on `date`: value → RRULE (`null`: no repeat; '': custom). */
export function presets(date) {
  const day = weekdayOf(date);
  return [
    { value: 'none', rrule: null },
    { value: 'daily', rrule: 'FREQ=DAILY' },
    { value: 'weekdays', rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR' },
    { value: 'weekly', rrule: `FREQ=WEEKLY;BYDAY=${day}` },
    { value: 'monthly', rrule: `FREQ=MONTHLY;BYDAY=${nthOfMonth(date)}${day}` },
    { value: 'custom', rrule: '' },
  ];
}

/** The local name of a weekday code, long form ('Monday', '월요일'). */
function dayName(code) {
  const monday = Date.UTC(2024, 0, 1); // a Monday
  const at = new Date(monday + DAYS.indexOf(code) * 86_400_000);
  return formatDate(at.toISOString().slice(0, 10), { weekday: 'long' });
}

const list = formatList;

/** `FREQ=…;…` → { FREQ: 'DAILY', … } (names upper-cased), or null when it is not NAME=VALUE parts. */
function parts(rrule) {
  const out = {};
  for (const part of String(rrule).replace(/^RRULE:/i, '').split(';').filter(Boolean)) {
    const [name, value] = part.split('=');
    if (!name || value === undefined) return null;
    out[name.trim().toUpperCase()] = value.trim().toUpperCase();
  }
  return out.FREQ ? out : null;
}

/** A readable summary of `rrule`, or null when it says more than these words can (the rule is shown as is). */
export function describe(rrule) {
  const p = parts(rrule);
  if (!p) return null;
  const known = new Set(['FREQ', 'INTERVAL', 'BYDAY', 'BYMONTHDAY', 'COUNT', 'UNTIL', 'WKST']);
  if (Object.keys(p).some((k) => !known.has(k))) return null;
  const n = Number(p.INTERVAL || 1);
  const days = p.BYDAY ? p.BYDAY.split(',') : [];
  const plainDays = days.every((d) => DAYS.includes(d));
  let text;
  if (p.FREQ === 'DAILY' && !days.length && !p.BYMONTHDAY) {
    text = n === 1 ? t('repeat.daily') : t('repeat.everyNDays', { n });
  } else if (p.FREQ === 'WEEKLY' && plainDays && !p.BYMONTHDAY) {
    const weekdays = days.length === 5 && ['MO', 'TU', 'WE', 'TH', 'FR'].every((d) => days.includes(d));
    if (weekdays && n === 1) text = t('repeat.weekdays');
    else if (!days.length) text = n === 1 ? t('repeat.everyWeek') : t('repeat.everyNWeeks', { n });
    else {
      const names = list(DAYS.filter((d) => days.includes(d)).map(dayName));
      text = n === 1 ? t('repeat.weeklyOn', { days: names }) : t('repeat.everyNWeeksOn', { n, days: names });
    }
  } else if (p.FREQ === 'MONTHLY' && n === 1 && days.length === 1 && !p.BYMONTHDAY) {
    const m = /^([+-]?\d)?(MO|TU|WE|TH|FR|SA|SU)$/.exec(days[0]);
    const nth = m?.[1] ? Number(m[1]) : null;
    if (!m || (nth !== null && ![1, 2, 3, 4, 5, -1].includes(nth))) return null;
    text = nth === null ? t('repeat.weeklyOn', { days: dayName(m[2]) })
      : t('repeat.monthlyOn', { nth: t(`repeat.nth.${nth}`), day: dayName(m[2]) });
  } else if (p.FREQ === 'MONTHLY' && n === 1 && !days.length && /^-?\d+$/.test(p.BYMONTHDAY || '')) {
    text = Number(p.BYMONTHDAY) === -1 ? t('repeat.monthlyLastDay') : t('repeat.monthlyDay', { day: Number(p.BYMONTHDAY) });
  } else if (p.FREQ === 'MONTHLY' && !days.length && !p.BYMONTHDAY) {
    text = n === 1 ? t('repeat.everyMonth') : t('repeat.everyNMonths', { n });
  } else if (p.FREQ === 'YEARLY' && !days.length && !p.BYMONTHDAY) {
    text = n === 1 ? t('repeat.everyYear') : t('repeat.everyNYears', { n });
  } else {
    return null;
  }
  if (p.COUNT) text += t('repeat.times', { n: Number(p.COUNT) });
  if (p.UNTIL && /^\d{8}/.test(p.UNTIL)) {
    const date = `${p.UNTIL.slice(0, 4)}-${p.UNTIL.slice(4, 6)}-${p.UNTIL.slice(6, 8)}`;
    const shown = formatDate(date, DATE);
    text += t('repeat.until', { date: shown });
  }
  return text;
}
