// Pinit service worker: a versioned app-shell cache, Web Push notifications, and the reminders' Start and
// Snooze actions (called with the member's session: see "session" below).
// The gateway replaces the two placeholders below at build time: the build id (a hash of every file of the
// client) and the list of shell URLs. A new build therefore means new sw.js bytes, a new cache, and the
// old one deleted on activation.
'use strict';

const BUILD_ID = '__PINIT_BUILD_ID__';
const SHELL = ["__PINIT_SHELL__"];
const CACHE = `pinit-shell-${BUILD_ID}`;
const API = /^\/(v\d+|\.well-known|health|healthz|readyz|openapi|feeds|dav)(\/|$)/; // feeds and CalDAV too

// ------------------------------------------------------------------ app shell

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL.filter((u) => !u.includes('__PINIT')).map((u) => new Request(u, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('pinit-shell-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || API.test(url.pathname)) return; // the API is never cached
  if (url.pathname.startsWith('/static/')) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === 'navigate') {
    event.respondWith(networkFirstShell(request));
  }
});

async function cacheFirst(request) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && new URL(request.url).pathname.startsWith(`/static/${BUILD_ID}/`)) {
    const cache = await caches.open(CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}

/** Documents come from the network (so a deploy shows at once); offline, the cached shell. */
async function networkFirstShell(request) {
  try {
    const response = await fetch(request);
    if (response.ok && (response.headers.get('Content-Type') || '').includes('text/html')) {
      const cache = await caches.open(CACHE);
      await cache.put('/index.html', response.clone());
    }
    return response;
  } catch (error) {
    const cached = await caches.match('/index.html');
    if (cached) return cached;
    throw error;
  }
}

// ------------------------------------------------------------------ small IndexedDB store

const DB_NAME = 'pinit-sw';
const SEEN = 'seen-push-keys'; // {key, at}
const PREFS = 'prefs'; // {name, value}
const KEEP_KEYS = 500;

function openDb() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      db.createObjectStore(SEEN, { keyPath: 'key' }).createIndex('at', 'at');
      db.createObjectStore(PREFS, { keyPath: 'name' });
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onerror = () => reject(tx.error);
  tx.onabort = () => reject(tx.error);
});

/**
 * Records `key` and tells whether it was new. The check and the write run in one readwrite transaction;
 * IndexedDB runs such transactions on a store one after another, so two deliveries of the same key at the
 * same moment still see each other.
 */
async function firstTime(key) {
  const db = await openDb();
  try {
    const tx = db.transaction(SEEN, 'readwrite');
    const store = tx.objectStore(SEEN);
    let fresh = false;
    const get = store.get(key);
    get.onsuccess = () => {
      if (get.result) return;
      fresh = true;
      store.put({ key, at: Date.now() });
      const count = store.count();
      count.onsuccess = () => {
        let extra = count.result - KEEP_KEYS;
        if (extra <= 0) return;
        store.index('at').openCursor().onsuccess = (e) => {
          const cursor = e.target.result;
          if (cursor && extra-- > 0) { cursor.delete(); cursor.continue(); }
        };
      };
    };
    await done(tx);
    return fresh;
  } finally {
    db.close();
  }
}

async function getPrefs() {
  try {
    const db = await openDb();
    try {
      const tx = db.transaction(PREFS, 'readonly');
      const all = tx.objectStore(PREFS).getAll();
      await done(tx);
      return Object.fromEntries(all.result.map((p) => [p.name, p.value]));
    } finally {
      db.close();
    }
  } catch {
    return {};
  }
}

async function setPrefs(values) {
  const db = await openDb();
  try {
    const tx = db.transaction(PREFS, 'readwrite');
    for (const [name, value] of Object.entries(values)) if (value) tx.objectStore(PREFS).put({ name, value });
    await done(tx);
  } finally {
    db.close();
  }
}

self.addEventListener('message', (event) => {
  const data = event.data || {};
  // The page's language, the member's zone, and how the page writes times (locale.js: the locale and the clock).
  if (data.type === 'prefs') {
    const hourCycle = data.hourCycle === 'h12' || data.hourCycle === 'h23' ? data.hourCycle : null;
    event.waitUntil(setPrefs({ lang: data.lang, zone: data.zone, locale: data.locale, hourCycle }));
  }
});

// ------------------------------------------------------------------ push

// Every text the worker writes, in the member's language (the page tells it: `prefs` below).
const TEXT = {
  ko: {
    title: (title) => (title ? `"${title}" 일정이 시작돼요` : '일정 시작 알림'),
    body: (when) => (when ? `${when} 시작 예정이에요.` : '일정이 곧 시작돼요.'),
    reminderTitle: (title) => title || 'Pinit 일정 알림',
    startsIn: (lead, when) => (when ? `${lead} 후 시작 · ${when}` : `${lead} 후 시작`),
    startingNow: (when) => (when ? `지금 시작해요 · ${when}` : '지금 시작해요'),
    snoozed: (when) => (when ? `다시 알림 · ${when}` : '다시 알림'),
    minutes: (n) => `${n}분`,
    hours: (n) => `${n}시간`,
    days: (n) => `${n}일`,
    hoursMinutes: (h, m) => `${h}시간 ${m}분`,
    start: '시작',
    snooze: '10분 뒤 다시 알림',
    startFailed: (message) => `시작하지 못했어요: ${message}`,
    snoozeFailed: (message) => `다시 알림을 설정하지 못했어요: ${message}`,
    unreachable: 'Pinit에 연결할 수 없어요.',
    openToFinish: 'Pinit을 열어 마무리해 주세요.',
  },
  en: {
    title: (title) => (title ? `"${title}" is starting` : 'A schedule is starting'),
    body: (when) => (when ? `Starts at ${when}.` : 'A schedule is about to start.'),
    reminderTitle: (title) => title || 'Pinit reminder',
    startsIn: (lead, when) => (when ? `Starts in ${lead} · ${when}` : `Starts in ${lead}`),
    startingNow: (when) => (when ? `Starting now · ${when}` : 'Starting now'),
    snoozed: (when) => (when ? `Snoozed reminder · ${when}` : 'Snoozed reminder'),
    minutes: (n) => (n === 1 ? '1 minute' : `${n} minutes`),
    hours: (n) => (n === 1 ? '1 hour' : `${n} hours`),
    days: (n) => (n === 1 ? '1 day' : `${n} days`),
    hoursMinutes: (h, m) => `${h} h ${m} min`,
    start: 'Start',
    snooze: 'Snooze 10 min',
    startFailed: (message) => `Could not start it: ${message}`,
    snoozeFailed: (message) => `Could not snooze it: ${message}`,
    unreachable: 'Pinit cannot be reached.',
    openToFinish: 'Open Pinit to finish.',
  },
};

const SNOOZE_MINUTES = 10;

/** The page's catalogues (`i18n/<lang>.json`, precached with the shell), loaded once per language. */
const catalogues = {};

/**
 * A refusal in the member's language: the catalogue's words for the server's stable `code` (`error.code.*`, as
 * the page words it), else the server's own text.
 */
async function worded(lang, code, text) {
  if (!code) return text;
  const url = `/static/${BUILD_ID}/i18n/${lang === 'ko' ? 'ko' : 'en'}.json`;
  try {
    catalogues[lang] ||= (async () => ((await caches.match(url)) || (await fetch(url))).json())();
    return (await catalogues[lang])[`error.code.${code}`] || text;
  } catch {
    delete catalogues[lang];
    return text;
  }
}

function parsePayload(event) {
  if (!event.data) return {};
  try { return event.data.json(); } catch { /* not JSON */ }
  try { return JSON.parse(event.data.text()); } catch { return {}; }
}

/** The start instant: ISO with Z or an offset; a naive date-time is UTC (the server's format); epoch s or ms. */
function parseStart(value) {
  if (value == null || value === '') return null;
  if (typeof value === 'number' || /^\d+$/.test(String(value))) {
    const n = Number(value);
    return new Date(n < 1e12 ? n * 1000 : n);
  }
  const s = String(value).trim().replace(' ', 'T');
  const d = new Date(/[zZ]|[+-]\d{2}:?\d{2}$/.test(s) ? s : `${s}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * The locale the page formats with (locale.js, told with the prefs); until the page has told it, the language's
 * (en-GB or ko-KR).
 */
const localeOf = (prefs, lang) => {
  try {
    if (prefs.locale && Intl.DateTimeFormat.supportedLocalesOf(prefs.locale).length) return prefs.locale;
  } catch { /* not a locale */ }
  return lang === 'ko' ? 'ko-KR' : 'en-GB';
};

/**
 * The start as the page writes times (locale.js): "09:00" or "9:00 AM" (`hourCycle` 'h23' or 'h12'), with the date
 * unless `timeOnly` ("1 Feb, 09:00", "Feb 1, 9:00 AM").
 */
function formatStart(date, { locale, hourCycle = 'h23', zone, timeOnly = false }) {
  if (!date) return '';
  const time = { hour: hourCycle === 'h12' ? 'numeric' : '2-digit', minute: '2-digit', hourCycle };
  const options = timeOnly ? time : { month: 'short', day: 'numeric', ...time };
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone: zone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(locale, options).format(date);
  }
}

/** "YYYY-MM-DDTHH:mm:ss" of instant `ms` in `zone` (the API's wall clock). */
function wallClock(ms, zone) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).formatToParts(new Date(ms));
  } catch {
    return wallClock(ms, 'UTC');
  }
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour === '24' ? '00' : p.hour}:${p.minute}:${p.second}`;
}

/** Seconds of an ISO 8601 duration ("-PT10M" → -600, "-P1D", "PT0S"); null when unreadable. */
function durationSeconds(value) {
  const m = /^([-+])?P(?:(\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+(?:\.\d+)?)S)?)?$/i.exec(String(value ?? '').trim());
  if (!m || value === 'P' || value === 'PT') return null;
  const total = Number(m[2] || 0) * 86400 + Number(m[3] || 0) * 3600 + Number(m[4] || 0) * 60 + Number(m[5] || 0);
  return m[1] === '-' ? -total : total;
}

/** "10 minutes", "1 hour", "1 h 30 min", "1 day" — how long before the start. */
function leadText(seconds, text) {
  const s = Math.abs(seconds);
  if (s >= 86400 && s % 86400 === 0) return text.days(s / 86400);
  if (s >= 3600 && s % 3600 === 0) return text.hours(s / 3600);
  if (s < 3600) return text.minutes(Math.max(1, Math.round(s / 60)));
  return text.hoursMinutes(Math.floor(s / 3600), Math.round((s % 3600) / 60));
}

const languageOf = (prefs) => (prefs.lang === 'ko' || prefs.lang === 'en' ? prefs.lang
  : (String(self.navigator.language || '').startsWith('ko') ? 'ko' : 'en'));

/**
 * The notification's title and body for a payload (pure: for the tests too). A reminder (a payload with
 * `reminderOffset`) says how long until the start, or that it starts now, or that it is a snoozed one, with the
 * start time in the member's zone (and the date when it is not today there), written with the page's `locale` and
 * clock (`hourCycle`). A payload without it is the push at the start, worded as before reminders existed.
 */
function notificationText(data, { lang = 'en', zone = 'UTC', now = Date.now(), locale, hourCycle = 'h23' } = {}) {
  const text = TEXT[lang] || TEXT.en;
  const format = { locale: locale || localeOf({}, lang), hourCycle, zone };
  const start = parseStart(data.scheduleStartTime);
  const offset = durationSeconds(data.reminderOffset);
  if (offset === null) {
    const when = formatStart(start, format);
    return { title: text.title(data.scheduleTitle), body: text.body(when || data.scheduleStartTime) };
  }
  const sameDay = start && wallClock(start.getTime(), zone).slice(0, 10) === wallClock(now, zone).slice(0, 10);
  const when = formatStart(start, { ...format, timeOnly: sameDay });
  const snoozed = data.snooze !== undefined && data.snooze !== null && String(data.snooze) !== '' && String(data.snooze) !== '0';
  let body;
  if (snoozed) body = text.snoozed(when);
  else if (offset === 0) body = text.startingNow(when);
  else body = text.startsIn(leadText(offset, text), when);
  return { title: text.reminderTitle(data.scheduleTitle), body };
}

/** The payload's `actions` ("start,snooze") as notification actions; snooze needs the reminder's key. */
function notificationActions(data, lang = 'en') {
  const text = TEXT[lang] || TEXT.en;
  const wanted = String(data.actions || '').split(',').map((a) => a.trim());
  const out = [];
  if (wanted.includes('start') && data.scheduleId) out.push({ action: 'start', title: text.start });
  if (wanted.includes('snooze') && data.idempotentKey) out.push({ action: 'snooze', title: text.snooze });
  return out;
}

/**
 * The API call behind a notification action (pure): `start` is the schedule's start with the wall clock now in
 * the member's zone (what the app sends), `snooze` reminds again in ten minutes under the reminder's key.
 * Returns {method, path, body?} or null when the payload lacks what the call needs.
 */
function actionRequest(action, data, { zone = 'UTC', now = Date.now() } = {}) {
  if (action === 'start' && data.scheduleId) {
    const query = new URLSearchParams({ time: wallClock(now, zone), zoneId: zone });
    return { method: 'POST', path: `/v2/schedules/${encodeURIComponent(data.scheduleId)}/start?${query}` };
  }
  if (action === 'snooze' && data.idempotentKey) {
    return { method: 'POST', path: `/v0/push/reminders/${encodeURIComponent(data.idempotentKey)}/snooze`, body: { minutes: SNOOZE_MINUTES } };
  }
  return null;
}

const scheduleUrl = (data) => (data.scheduleId ? `/app/schedules?scheduleId=${encodeURIComponent(data.scheduleId)}` : '/app/schedules');

/**
 * Where an action goes when the worker has no session to call it with: the schedule's detail in the app, which
 * (after logging in) offers that action, focused — one more click, never a state change from a URL alone.
 */
function fallbackUrl(action, data) {
  const query = new URLSearchParams();
  if (data.scheduleId) query.set('scheduleId', data.scheduleId);
  query.set('reminder', action);
  if (action === 'snooze' && data.idempotentKey) query.set('key', data.idempotentKey);
  return `/app/schedules?${query}`;
}

/** Builds and shows the notification for a payload, once per idempotentKey. Returns whether it was shown. */
async function handlePush(payload) {
  const data = payload.data || payload;
  const notification = payload.notification || {};
  const key = data.idempotentKey ? String(data.idempotentKey) : null;
  if (key) {
    let fresh = true;
    try { fresh = await firstTime(key); } catch { fresh = true; } // storage trouble: rather twice than never
    if (!fresh) {
      await tellClients({ type: 'push', scheduleId: data.scheduleId, idempotentKey: key, shown: false });
      return false;
    }
  }
  const prefs = await getPrefs();
  const lang = languageOf(prefs);
  const zone = prefs.zone || Intl.DateTimeFormat().resolvedOptions().timeZone;
  const text = notificationText(data, { lang, zone, locale: localeOf(prefs, lang), hourCycle: prefs.hourCycle || 'h23' });
  const url = scheduleUrl(data);
  // A newer reminder of a schedule replaces the older one still shown ("in 10 minutes" → "starting now").
  if (data.reminderOffset !== undefined && data.scheduleId) {
    for (const old of await self.registration.getNotifications()) {
      if (old.data?.scheduleId === data.scheduleId && old.tag !== key) old.close();
    }
  }
  await self.registration.showNotification(notification.title || text.title, {
    body: notification.body || text.body,
    icon: `/static/${BUILD_ID}/icons/icon.svg`,
    badge: `/static/${BUILD_ID}/icons/badge.svg`,
    tag: key || (data.scheduleId ? `schedule-${data.scheduleId}` : undefined),
    lang,
    actions: notificationActions(data, lang),
    data: { ...data, url },
  });
  await tellClients({ type: 'push', scheduleId: data.scheduleId, idempotentKey: key, shown: true });
  return true;
}

async function tellClients(message) {
  for (const client of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) {
    client.postMessage(message);
  }
}

self.addEventListener('push', (event) => {
  event.waitUntil(handlePush(parsePayload(event)));
});

async function openWindows() {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return windows.filter((c) => new URL(c.url).origin === self.location.origin);
}

/**
 * Opens `path` in the app: an open Pinit window navigates in place (no reload), shows `notice` (an error) and
 * gets focus; else a new window.
 */
async function openApp(path, notice) {
  const url = new URL(path, self.location.origin).href;
  const [client] = await openWindows();
  if (client) {
    client.postMessage({ type: 'navigate', url, notice });
    try { await client.focus(); } catch { /* focus needs a user gesture */ }
    return client;
  }
  return self.clients.openWindow(url);
}

/** Opens the schedule: an open Pinit window navigates in place (no reload) and gets focus; else a new one. */
async function openFromNotification(notification) {
  notification.close();
  return openApp(notification.data?.url || '/app/schedules');
}

// ------------------------------------------------------------------ session (for the notification actions)
//
// The worker calls the API with the member's session the way a tab does: the access token in memory only
// (never in IndexedDB or other storage), obtained from POST /v0/refresh with the httpOnly refresh cookie, under
// the same Web Lock ('pinit-refresh') as every tab, so a rotating refresh token is never presented twice (the
// server treats that as theft and ends the session); the token a tab obtained comes over the tabs'
// BroadcastChannel ('pinit-session') and is used instead of refreshing, and one the worker obtains is posted
// there for the tabs. No session (the refresh refused): the action opens the app (`fallbackUrl`).

const session = { token: null, shared: null };
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('pinit-session') : null;
channel?.addEventListener('message', ({ data }) => {
  if (data?.type === 'token') session.shared = data.token;
  if (data?.type === 'logout') { session.token = null; session.shared = null; }
});

function expiresAt(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return payload.exp * 1000;
  } catch {
    return 0;
  }
}

const fresh = (token) => Boolean(token) && expiresAt(token) - 30_000 > Date.now();

async function refreshOnce() {
  if (fresh(session.shared) && session.shared !== session.token) { // a tab refreshed while we waited
    session.token = session.shared;
    return session.token;
  }
  let response;
  try {
    response = await fetch('/v0/refresh', { method: 'POST', credentials: 'same-origin' });
  } catch {
    return null;
  }
  if (!response.ok) { session.token = null; return null; }
  const body = await response.json().catch(() => ({}));
  session.token = body.token || null;
  if (session.token) channel?.postMessage({ type: 'token', token: session.token });
  return session.token;
}

async function accessToken() {
  if (fresh(session.token)) return session.token;
  if (fresh(session.shared)) { session.token = session.shared; return session.token; }
  return self.navigator.locks ? self.navigator.locks.request('pinit-refresh', refreshOnce) : refreshOnce();
}

/** Calls the API as the member: {ok, status, data, message}; status 401 when there is no session, 0 offline. */
async function callApi({ method, path, body }) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = await accessToken();
    if (!token) return { ok: false, status: 401 };
    let response;
    try {
      response = await fetch(path, {
        method, credentials: 'same-origin',
        headers: { Accept: 'application/json', Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      return { ok: false, status: 0 };
    }
    if (response.status === 401 && attempt === 0) { // expired or revoked: refresh once
      if (session.token === token) session.token = null;
      if (session.shared === token) session.shared = null;
      continue;
    }
    const raw = await response.text().catch(() => '');
    let data = null;
    try { data = raw ? JSON.parse(raw) : null; } catch { data = raw; }
    return { ok: response.ok, status: response.status, data, message: typeof data === 'object' && data ? data.message : '' };
  }
  return { ok: false, status: 401 };
}

/**
 * A click on a notification: `start` starts the schedule and `snooze` reminds again in ten minutes, both without
 * opening the app (open pages are told, and refresh); without a session the app opens on the schedule, offering
 * the action; a refusal (already started, no such reminder) or no network opens the schedule in an open window
 * with the reason, or says it in a notification. A plain click opens the schedule.
 */
async function onNotificationClick(action, notification) {
  const data = notification.data || {};
  const request = action === 'start' || action === 'snooze' ? actionRequest(action, data, { zone: (await getPrefs()).zone || Intl.DateTimeFormat().resolvedOptions().timeZone }) : null;
  if (!request) return openFromNotification(notification);
  notification.close();
  const result = await callApi(request);
  if (result.ok) {
    await tellClients({ type: 'reminder', action, scheduleId: data.scheduleId, scheduleTitle: data.scheduleTitle, dueAt: result.data?.dueAt });
    return result;
  }
  if (result.status === 401) {
    await openOrSay(fallbackUrl(action, data), null, data);
    return result;
  }
  const lang = languageOf(await getPrefs());
  const text = TEXT[lang];
  const reason = result.status === 0 ? text.unreachable : await worded(lang, result.data?.code, result.message || `HTTP ${result.status}`);
  const said = action === 'start' ? text.startFailed(reason) : text.snoozeFailed(reason);
  if ((await openWindows()).length) await openApp(scheduleUrl(data), said);
  else await say(said, data, scheduleUrl(data));
  return result;
}

/** Opens the app at `path`; when the browser does not let the worker open a window, a notification leads there. */
async function openOrSay(path, notice, data) {
  try {
    if (await openApp(path, notice)) return;
  } catch { /* no user activation left */ }
  await say(TEXT[languageOf(await getPrefs())].openToFinish, data, path);
}

async function say(body, data, url) {
  await self.registration.showNotification(TEXT[languageOf(await getPrefs())].reminderTitle(data.scheduleTitle), {
    body,
    icon: `/static/${BUILD_ID}/icons/icon.svg`,
    badge: `/static/${BUILD_ID}/icons/badge.svg`,
    tag: `${data.idempotentKey || data.scheduleId || 'pinit'}-outcome`,
    data: { scheduleId: data.scheduleId, scheduleTitle: data.scheduleTitle, url },
  });
}

self.addEventListener('notificationclick', (event) => {
  event.waitUntil(onNotificationClick(event.action, event.notification));
});

/** The browser replaced the subscription; the page registers the new one with the server on its next load. */
self.addEventListener('pushsubscriptionchange', (event) => {
  const options = event.oldSubscription?.options;
  if (options) event.waitUntil(self.registration.pushManager.subscribe(options).catch(() => {}));
});

// For tests and debugging in DevTools.
self.pinit = {
  BUILD_ID, handlePush, openFromNotification, onNotificationClick, notificationText, notificationActions, actionRequest,
  fallbackUrl, wallClock, durationSeconds, session, getPrefs, worded,
};
