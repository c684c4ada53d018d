// Quick add: one line for a schedule — "9:00 90m deep Write Q1 plan" — read as a start time, a planned length, a
// type and the title. The time, length and type come first, in any order, each at most once; whatever follows is
// the title. Pure: no DOM, no catalogue (so it is tested on its own).
//
//   time    9:00 · 09:30 · 21:30 · 9am · 2:30pm · 오후 2시 · 오후 2:30 · 14시
//   length  90m · 45min · 1h · 1h30m · 1.5h · 2시간 · 30분 · 1시간30분
//   type    deep | admin | quick (also "deepwork", "dw", 집중, 행정, 빠른)

const TYPES = new Map([
  ['deep', 'DEEP_WORK'], ['deepwork', 'DEEP_WORK'], ['dw', 'DEEP_WORK'], ['집중', 'DEEP_WORK'], ['딥워크', 'DEEP_WORK'],
  ['admin', 'ADMIN_TASK'], ['행정', 'ADMIN_TASK'], ['관리', 'ADMIN_TASK'],
  ['quick', 'QUICK_TASK'], ['빠른', 'QUICK_TASK'], ['빠른작업', 'QUICK_TASK'],
]);

/** The longest planned length the API takes, in minutes (PT24H). */
const MAX_MINUTES = 24 * 60;

const pad = (n) => String(n).padStart(2, '0');

/** "9:00", "9am", "2:30pm", "14시", "오후 2시", "오후 2:30" at the start of `s` → {time: "HH:mm", rest} or null. */
function readTime(s) {
  let m = /^(오전|오후)\s*(\d{1,2})(?:(?::(\d{2}))|시(?:\s*(\d{1,2})분)?)(?=\s|$)/.exec(s);
  if (m) {
    let hour = Number(m[2]);
    const minute = Number(m[3] ?? m[4] ?? 0);
    if (hour < 1 || hour > 12 || minute > 59) return null;
    if (m[1] === '오후' && hour < 12) hour += 12;
    if (m[1] === '오전' && hour === 12) hour = 0;
    return { time: `${pad(hour)}:${pad(minute)}`, rest: s.slice(m[0].length) };
  }
  m = /^(\d{1,2})(?::(\d{2}))?\s?(am|pm|a\.m\.|p\.m\.)(?=\s|$)/i.exec(s);
  if (m) {
    let hour = Number(m[1]);
    const minute = Number(m[2] ?? 0);
    if (hour < 1 || hour > 12 || minute > 59) return null;
    const pm = m[3].toLowerCase().startsWith('p');
    if (pm && hour < 12) hour += 12;
    if (!pm && hour === 12) hour = 0;
    return { time: `${pad(hour)}:${pad(minute)}`, rest: s.slice(m[0].length) };
  }
  m = /^(\d{1,2})(?::(\d{2})|시(?:\s*(\d{1,2})분)?)(?=\s|$)/.exec(s);
  if (m) {
    const hour = Number(m[1]);
    const minute = Number(m[2] ?? m[3] ?? 0);
    if (hour > 23 || minute > 59) return null;
    return { time: `${pad(hour)}:${pad(minute)}`, rest: s.slice(m[0].length) };
  }
  return null;
}

/** "90m", "45min", "1h", "1h30m", "1.5h", "2시간", "30분", "1시간30분" at the start of `s` → {minutes, rest} or null. */
function readLength(s) {
  const m = /^(?:(\d+(?:[.,]\d+)?)\s?(?:h|hr|hrs|hours?|시간))?\s?(?:(\d+)\s?(?:m|min|mins|minutes?|분))?(?=\s|$)/i.exec(s);
  if (!m || !m[0].trim() || (m[1] == null && m[2] == null)) return null;
  const minutes = Math.round(Number(String(m[1] ?? 0).replace(',', '.')) * 60) + Number(m[2] ?? 0);
  if (!(minutes >= 1 && minutes <= MAX_MINUTES)) return null;
  return { minutes, rest: s.slice(m[0].length) };
}

function readType(s) {
  const m = /^(\S+)(?=\s|$)/.exec(s);
  const type = m && TYPES.get(m[1].toLowerCase());
  return type ? { type, rest: s.slice(m[0].length) } : null;
}

/**
 * Reads a quick-add line: {time: "HH:mm" | null, minutes: number | null, type: 'DEEP_WORK'… | null, title}. The
 * title is what is left (trimmed); a line of only a time, length or type has an empty title.
 */
export function parseQuickAdd(line) {
  let rest = String(line ?? '').replace(/\s+/g, ' ').trim();
  const out = { time: null, minutes: null, type: null, title: '' };
  for (let progress = true; progress && rest;) {
    progress = false;
    for (const [key, read] of [['time', readTime], ['minutes', readLength], ['type', readType]]) {
      if (out[key] != null) continue;
      const got = read(rest);
      if (!got) continue;
      out[key] = got[key];
      rest = got.rest.trim();
      progress = true;
      break;
    }
  }
  out.title = rest;
  return out;
}
