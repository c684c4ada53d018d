// Time and time zones, without a date library. (Writing dates and times for people: locale.js.)
//
// Wire formats (docs/contract/web-client.md#wire-formats): a wall-clock date-time "YYYY-MM-DDTHH:mm:ss"
// plus an IANA zone id; a date "YYYY-MM-DD". Dates here are plain strings; instants are epoch milliseconds. Never toISOString()
// for payloads: it shifts the wall clock to UTC.

const partFormatters = new Map();

function partFormatter(zone) {
  let f = partFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    partFormatters.set(zone, f);
  }
  return f;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** The wall clock of instant `ms` in `zone`: {y, mo, d, h, mi, s}. */
export function wallParts(ms, zone) {
  const out = {};
  for (const p of partFormatter(zone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return { y: out.year, mo: out.month, d: out.day, h: out.hour % 24, mi: out.minute, s: out.second };
}

/** Offset of `zone` from UTC at instant `ms`, in milliseconds. */
export function offsetMs(ms, zone) {
  const p = wallParts(ms, zone);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000;
}

/** "YYYY-MM-DDTHH:mm:ss" of instant `ms` in `zone`. */
export function toWall(ms, zone) {
  const p = wallParts(ms, zone);
  return `${p.y}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
}

function parseWall(wall) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(wall || '');
  if (!m) return null;
  return [Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] || 0), Number(m[5] || 0), Number(m[6] || 0)];
}

/** The instant at which the wall clock in `zone` shows `wall` (DST gap: shifted forward; overlap: earlier). */
export function instantOf(wall, zone) {
  const p = parseWall(wall);
  if (!p) return NaN;
  const asUtc = Date.UTC(...p);
  const offsets = new Set([offsetMs(asUtc - 86400000, zone), offsetMs(asUtc, zone), offsetMs(asUtc + 86400000, zone)]);
  const candidates = [...offsets].map((o) => asUtc - o);
  const valid = candidates.filter((c) => offsetMs(c, zone) === asUtc - c);
  if (valid.length) return Math.min(...valid); // an overlap takes the earlier instant
  return Math.max(...candidates); // a gap is shifted forward by its length
}

/** "+09:00" for `zone` at instant `ms` ("Z" for UTC, as the server renders it). */
export function offsetLabel(ms, zone) {
  const off = Math.round(offsetMs(ms, zone) / 60000);
  if (off === 0) return 'Z';
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** "UTC+09:00" for display. */
export function utcLabel(zone, ms = Date.now()) {
  const l = offsetLabel(ms, zone);
  return l === 'Z' ? 'UTC' : `UTC${l}`;
}

export const dateOf = (wall) => String(wall).slice(0, 10);

/** Today's date in `zone`. */
export const todayIn = (zone) => dateOf(toWall(Date.now(), zone));

/** The current wall clock in `zone` (for `time` query parameters). */
export const nowIn = (zone) => toWall(Date.now(), zone);

function civil(date) {
  const [y, m, d] = date.split('-').map(Number);
  return Date.UTC(y, m - 1, d);
}

function fromCivil(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export const addDays = (date, n) => fromCivil(civil(date) + n * 86400000);

/** ISO weekday: Monday 1 … Sunday 7. */
export const isoWeekday = (date) => ((new Date(civil(date)).getUTCDay() + 6) % 7) + 1;

export const mondayOf = (date) => addDays(date, 1 - isoWeekday(date));

export const weekOf = (date) => {
  const monday = mondayOf(date);
  return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
};

export const daysBetween = (a, b) => Math.round((civil(b) - civil(a)) / 86400000);

/** Seconds in an ISO-8601 duration ("PT1H2M3.5S", "-PT5M", "P1DT2H") or "HH:mm:ss[.SSS]"; 0 if unreadable. */
export function parseDuration(value) {
  if (value == null || value === '') return 0;
  if (typeof value === 'number') return value;
  const s = String(value).trim();
  const iso = /^([-+])?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:([-+]?\d+(?:\.\d+)?)H)?(?:([-+]?\d+(?:\.\d+)?)M)?(?:([-+]?\d+(?:\.\d+)?)S)?)?$/i.exec(s);
  if (iso) {
    const [, sign, d, h, m, sec] = iso;
    const total = Number(d || 0) * 86400 + Number(h || 0) * 3600 + Number(m || 0) * 60 + Number(sec || 0);
    return sign === '-' ? -total : total;
  }
  const clock = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(s);
  if (clock) return Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3]);
  return 0;
}

/** "1:02:03" for a running counter. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/** Every IANA zone the browser knows (with a short fallback list). */
export function allZones() {
  try {
    const zones = Intl.supportedValuesOf('timeZone');
    return zones.includes('UTC') ? zones : ['UTC', ...zones];
  } catch {
    return ['UTC', 'Asia/Seoul', 'Asia/Tokyo', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles'];
  }
}

export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export function isValidZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return Boolean(zone);
  } catch {
    return false;
  }
}
