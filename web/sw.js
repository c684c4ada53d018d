// Pinit service worker: a versioned app-shell cache and Web Push notifications.
// The gateway replaces the two placeholders below at build time: the build id (a hash of every file of the
// client) and the list of shell URLs. A new build therefore means new sw.js bytes, a new cache, and the
// old one deleted on activation.
'use strict';

const BUILD_ID = '__PINIT_BUILD_ID__';
const SHELL = ["__PINIT_SHELL__"];
const CACHE = `pinit-shell-${BUILD_ID}`;
const API = /^\/(v\d+|\.well-known|health|healthz|readyz|openapi)(\/|$)/;

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
  if (data.type === 'prefs') event.waitUntil(setPrefs({ lang: data.lang, zone: data.zone }));
});

// ------------------------------------------------------------------ push

const TEXT = {
  ko: {
    title: (title) => (title ? `"${title}" 일정이 시작돼요` : '일정 시작 알림'),
    body: (when) => (when ? `${when} 시작 예정이에요.` : '일정이 곧 시작돼요.'),
  },
  en: {
    title: (title) => (title ? `"${title}" is starting` : 'A schedule is starting'),
    body: (when) => (when ? `Starts at ${when}.` : 'A schedule is about to start.'),
  },
};

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

function formatStart(date, lang, zone) {
  if (!date) return '';
  const options = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  try {
    return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', { ...options, timeZone: zone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', options).format(date);
  }
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
  const lang = prefs.lang === 'ko' || prefs.lang === 'en' ? prefs.lang
    : (String(self.navigator.language || '').startsWith('ko') ? 'ko' : 'en');
  const zone = prefs.zone || Intl.DateTimeFormat().resolvedOptions().timeZone;
  const text = TEXT[lang];
  const when = formatStart(parseStart(data.scheduleStartTime), lang, zone);
  const url = data.scheduleId ? `/app/schedules?scheduleId=${encodeURIComponent(data.scheduleId)}` : '/app/schedules';
  await self.registration.showNotification(notification.title || text.title(data.scheduleTitle), {
    body: notification.body || text.body(when || data.scheduleStartTime),
    icon: `/static/${BUILD_ID}/icons/icon.svg`,
    badge: `/static/${BUILD_ID}/icons/badge.svg`,
    tag: key || (data.scheduleId ? `schedule-${data.scheduleId}` : undefined),
    lang,
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

/** Opens the schedule: an open Pinit window navigates in place (no reload) and gets focus; else a new one. */
async function openFromNotification(notification) {
  notification.close();
  const url = new URL(notification.data?.url || '/app/schedules', self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const client = windows.find((c) => new URL(c.url).origin === self.location.origin);
  if (client) {
    client.postMessage({ type: 'navigate', url });
    try { await client.focus(); } catch { /* focus needs a user gesture */ }
    return client;
  }
  return self.clients.openWindow(url);
}

self.addEventListener('notificationclick', (event) => {
  event.waitUntil(openFromNotification(event.notification));
});

/** The browser replaced the subscription; the page registers the new one with the server on its next load. */
self.addEventListener('pushsubscriptionchange', (event) => {
  const options = event.oldSubscription?.options;
  if (options) event.waitUntil(self.registration.pushManager.subscribe(options).catch(() => {}));
});

// For tests and debugging in DevTools.
self.pinit = { BUILD_ID, handlePush, openFromNotification };
