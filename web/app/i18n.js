// Messages in Korean and English: `i18n/<lang>.json`, keys like "tasks.title", `{name}` placeholders.
// The language comes from the saved choice, else the browser's languages, else English.

export const LANGUAGES = ['ko', 'en'];
const STORAGE_KEY = 'pinit.lang';

let lang = 'en';
let messages = {};
const listeners = new Set();

function detect() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || '']) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(base)) return base;
  }
  return 'en';
}

async function load(next) {
  const response = await fetch(new URL(`../i18n/${next}.json`, import.meta.url));
  if (!response.ok) throw new Error(`cannot load messages for ${next}`);
  messages = await response.json();
  lang = next;
  document.documentElement.lang = next;
}

export async function initI18n() {
  await load(detect());
}

export const getLang = () => lang;

export async function setLang(next) {
  if (!LANGUAGES.includes(next) || next === lang) return;
  await load(next);
  localStorage.setItem(STORAGE_KEY, next);
  for (const fn of listeners) fn(next);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Whether the catalogue has `key`. */
export const hasMessage = (key) => Object.prototype.hasOwnProperty.call(messages, key);

/** The message `key` with `{name}` placeholders filled from `params`; the key itself when missing. */
export function t(key, params) {
  const text = messages[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** "2h 05m", "45m", "12s": an amount of seconds for people. */
export function formatDuration(seconds) {
  const negative = seconds < 0;
  const s = Math.round(Math.abs(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  let text;
  if (h > 0) text = t('duration.hm', { h, m: String(m).padStart(2, '0') });
  else if (m > 0) text = t('duration.m', { m });
  else text = t('duration.s', { s });
  return negative ? `−${text}` : text;
}
