// Every call to the server, on this origin (the gateway routes /v0 to auth and notification, /v2 to task).
// The request helper adds the bearer token, refreshes once on 401, retries 503 USER_NOT_READY with backoff
// (the member is provisioned asynchronously after signup), and turns error bodies into ApiError, worded in the
// member's language by the server's stable `code` when the catalogue has it (`error.code.*`).
import { ensureToken, dropToken, noteAccountDeleted } from './auth.js';
import { t, hasMessage } from './i18n.js';
import { formatLocale } from './locale.js';
import * as offline from './offline.js';

/** The API's limits on a task's and a schedule's text, in UTF-16 code units (ADR 0006: 1–100 and 0–2,000). */
export const TITLE_MAX = 100;
export const DESCRIPTION_MAX = 2000;

/**
 * Puts the server's validation errors (`errors[].field`) under the form fields of that name (`fields`: name →
 * field()); true when at least one found its field.
 */
export function fieldErrors(error, fields) {
  let placed = false;
  for (const e of Array.isArray(error?.data?.errors) ? error.data.errors : []) {
    const name = String(e.field || '').split(/[.[]/)[0];
    if (fields[name] && e.reason) { fields[name].setError(reasonOf(e)); placed = true; }
  }
  return placed;
}

export class ApiError extends Error {
  /** `retryAfter`: the answer's Retry-After in seconds (429, 503), when it had one. */
  constructor(status, data, url, retryAfter = null) {
    const serverMessage = typeof data === 'object' && data ? data.message : (typeof data === 'string' && data.length < 300 ? data : '');
    super(serverMessage || `HTTP ${status}`);
    this.status = status;
    this.data = data;
    this.url = url;
    this.code = typeof data === 'object' && data ? data.code : undefined;
    this.retryAfter = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null;
    this.userMessage = userMessage(status, data, serverMessage, this.retryAfter);
  }
}

/** Whether the catalogue has words of its own for the server's `code` (`error.code.<code>`). */
export const isWorded = (code) => typeof code === 'string' && code !== '' && hasMessage(`error.code.${code}`);

/**
 * The server's words in the member's language: an answer or field error with a `code` (the services' stable
 * codes, e.g. ALREADY_RUNNING, BAD_CREDENTIALS, URL_NOT_HTTPS) we have a message for (`error.code.*`), else the
 * server's own text.
 */
export function worded(code, text) {
  return isWorded(code) ? t(`error.code.${code}`) : text;
}

/** A field error's reason, worded (see `worded`). */
export const reasonOf = (e) => worded(e?.code, e?.reason);

/**
 * A field error as a sentence of its own, where no form field shows it: worded by its code (the words name what
 * they are about), else the server's reason after the field's name ("end: must differ from start.").
 */
export function detailOf(e) {
  if (isWorded(e?.code)) return t(`error.code.${e.code}`);
  const reason = String(e?.reason || '').trim();
  if (!reason) return '';
  const sentence = /[.!?。]$/.test(reason) ? reason : `${reason}.`;
  return e?.field ? `${e.field}: ${sentence}` : sentence;
}

/** "Too many attempts. Try again in 40 seconds." — Retry-After in the member's words, else "in a moment". */
export function tooManyMessage(retryAfter) {
  if (!(retryAfter > 0)) return t('error.tooMany');
  const minutes = retryAfter >= 120;
  const time = new Intl.NumberFormat(formatLocale(), { style: 'unit', unit: minutes ? 'minute' : 'second', unitDisplay: 'long' })
    .format(minutes ? Math.ceil(retryAfter / 60) : Math.ceil(retryAfter));
  return t('error.tooManyWait', { time });
}

function userMessage(status, data, serverMessage, retryAfter) {
  if (status === 0) return t('error.network');
  const code = typeof data === 'object' && data ? data.code : undefined;
  if (status === 429) return tooManyMessage(retryAfter);
  if (status === 401) return isWorded(code) ? worded(code) : t('error.sessionExpired');
  const details = [...new Set((Array.isArray(data?.errors) ? data.errors : []).map(detailOf).filter(Boolean))];
  let text;
  if (isWorded(code)) {
    const own = worded(code);
    text = [own, ...details.filter((d) => d !== own)].join(' ');
  } else if (details.length) {
    text = details.join(' '); // the server's summary ("Validation failed for 1 field(s)") adds nothing to them
  } else {
    text = serverMessage || t(status >= 500 ? 'error.server' : 'error.generic');
  }
  // A conflict the catalogue does not word gets the client's sentence first; a worded one says it all.
  if (status === 409 && !isWorded(code)) text = `${t('error.conflictPrefix')} ${text}`;
  return text;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Backoff for USER_NOT_READY: Retry-After when given, else 0.25 s doubling to 4 s, about 30 s in all. */
const NOT_READY_ATTEMPTS = 10;
const backoff = (attempt, retryAfter) => (retryAfter ? Math.min(retryAfter * 1000, 5000) : Math.min(250 * 2 ** attempt, 4000));

async function parse(response) {
  if (response.status === 204) return undefined;
  const text = await response.text();
  if (!text) return undefined;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try { return JSON.parse(text); } catch { return text; }
  }
  return text;
}

/**
 * request('GET', '/v2/tasks', {query: {page: 0}}) → parsed body (JSON, text, or undefined when empty).
 * Options: query, body (JSON), auth (default true), signal.
 */
export async function request(method, path, { query, body, auth = true, signal } = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') params.set(k, v);
  const qs = params.toString();
  const url = qs ? `${path}?${qs}` : path;
  let refreshed = false;
  for (let attempt = 0; ; attempt++) {
    const token = auth ? await ensureToken() : null;
    const headers = { Accept: 'application/json, text/plain;q=0.9' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(url, {
        method, headers, signal, credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      offline.noteReachable(false);
      // No answer: a read kept for offline use answers from the last time it succeeded (the banner says so).
      if (method === 'GET' && auth && offline.cacheable(url)) {
        const kept = await offline.recall(url);
        if (kept) return kept.data;
      }
      throw new ApiError(0, null, url);
    }
    offline.noteReachable(true);
    const data = await parse(response);
    if (response.status === 401 && auth && !refreshed) {
      // The account was deleted (on another device): the refresh that follows is refused, and says so.
      if (data?.code === 'ACCOUNT_DELETED') noteAccountDeleted();
      refreshed = true;
      dropToken(token);
      continue;
    }
    const retryAfter = Number(response.headers.get('Retry-After')) || null;
    if (response.status === 503 && data?.code === 'USER_NOT_READY' && attempt < NOT_READY_ATTEMPTS) {
      await sleep(backoff(attempt, retryAfter));
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, data, url, retryAfter);
    if (method === 'GET' && auth && offline.cacheable(url)) offline.remember(url, data);
    return data;
  }
}

const get = (path, query, opts) => request('GET', path, { ...opts, query });
const post = (path, body, query) => request('POST', path, { body, query });

/**
 * `time` + `zoneId` of now in `zone`, for state transitions — to the millisecond: the server dates the change at
 * `time` and refuses one before the schedule's previous change, which may lie earlier in the same second.
 */
const now = (zone) => ({ time: offline.wallMillis(Date.now(), zone), zoneId: zone });

/** Schedules as they will be once the presses queued offline are sent (offline.project). */
const projected = async (list) => offline.projectAll(list, await offline.queued());

/** A schedule: the server's (or, offline, the last one seen in any list), with its queued presses applied. */
async function scheduleById(id) {
  let schedule;
  try {
    schedule = await get(`/v2/schedules/${id}`);
  } catch (error) {
    const kept = error?.status === 0 ? await offline.findCachedSchedule(id) : null;
    if (!kept) throw error;
    schedule = kept.data;
  }
  return offline.project(schedule, await offline.queued());
}

export const api = {
  providers: async () => {
    try {
      const list = await request('GET', '/v0/login/oauth2/providers', { auth: false });
      return Array.isArray(list) ? list.filter((p) => typeof p === 'string') : [];
    } catch {
      return []; // 404 until the server lists providers: no buttons
    }
  },
  me: () => get('/v0/me'),

  tasks: {
    list: ({ page = 0, size = 20, readyOnly = false } = {}, opts) => get('/v2/tasks', { page, size, readyOnly }, opts),
    archive: ({ size = 20, cursor } = {}) => get('/v2/tasks/completed', { size, cursor }),
    get: (id) => get(`/v2/tasks/${id}`),
    create: (body) => post('/v2/tasks', body),
    update: (id, body) => request('PATCH', `/v2/tasks/${id}`, { body }),
    remove: (id, deleteSchedules = false) => request('DELETE', `/v2/tasks/${id}`, { query: { deleteSchedules } }),
    complete: (id) => post(`/v2/tasks/${id}/complete`),
    reopen: (id) => post(`/v2/tasks/${id}/reopen`),
    toSchedule: (id, body) => post(`/v2/tasks/${id}/schedules`, body),
  },

  schedules: {
    /** The day containing `date` (queried at 12:00, safe from DST and day edges). */
    day: async (date, zone) => projected(await get('/v2/schedules', { time: `${date}T12:00:00`, zoneId: zone })),
    week: async (date, zone) => projected(await get('/v2/schedules/week', { time: `${date}T12:00:00`, zoneId: zone })),
    get: scheduleById,
    create: (body) => post('/v2/schedules', body),
    update: (id, body, scope) => request('PATCH', `/v2/schedules/${id}`, { body, query: { scope } }),
    remove: (id, scope) => request('DELETE', `/v2/schedules/${id}`, { query: { scope } }),
    series: (id) => get(`/v2/schedules/series/${id}`),
    start: (id, zone) => post(`/v2/schedules/${id}/start`, undefined, now(zone)),
    suspend: (id, zone) => post(`/v2/schedules/${id}/suspend`, undefined, now(zone)),
    complete: (id, zone) => post(`/v2/schedules/${id}/complete`, undefined, now(zone)),
    cancel: (id) => post(`/v2/schedules/${id}/cancel`),
    /** Corrects a COMPLETED schedule's tracked time (ISO 8601, PT0S–PT24H; 409 in any other state). */
    setDuration: (id, duration) => request('PUT', `/v2/schedules/${id}/duration`, { body: { duration } }),
    /** A press queued offline, sent with the moment it was pressed (offline.js). */
    replay: (item) => post(`/v2/schedules/${item.scheduleId}/${item.action}`, undefined, { time: item.time, zoneId: item.zoneId }),
  },

  members: {
    /** The running (or paused) schedule's id, or null (the presses queued offline applied). */
    now: async () => {
      let id = null;
      try {
        const v = await get('/v2/members/now');
        id = typeof v === 'number' ? v : Number.parseInt(v, 10);
      } catch (error) {
        if (error?.status !== 0) throw error; // offline and never read: only the queue tells
      }
      return offline.projectNow(Number.isFinite(id) ? id : null, await offline.queued());
    },
    zone: async () => {
      const v = await get('/v2/members/zone-id');
      return typeof v === 'string' ? v.trim().replace(/^"|"$/g, '') : v?.zoneId;
    },
    setZone: (zoneId) => request('PUT', '/v2/members/zone-id', { body: { zoneId } }),
    /** The member's default reminders (ISO 8601 offsets from the start). */
    reminders: async () => (await get('/v2/members/reminders'))?.reminders ?? [],
    setReminders: async (reminders) => (await request('PUT', '/v2/members/reminders', { body: { reminders } }))?.reminders ?? reminders,
    /** The daily objective (ISO 8601, PT15M–PT24H; PT4H unless set). */
    objective: async () => (await get('/v2/members/objective'))?.dailyObjective,
    setObjective: async (dailyObjective) => (await request('PUT', '/v2/members/objective', { body: { dailyObjective } }))?.dailyObjective ?? dailyObjective,
  },

  statistics: (date, zone) => get('/v2/statistics', { time: `${date}T12:00:00`, zoneId: zone }),
  /** The week of `date`: each day's planned and worked time by type, the daily objective, days met, the streak. */
  plan: (date, zone) => get('/v2/statistics/plan', { time: `${date}T12:00:00`, zoneId: zone }),

  /** App passwords for calendar apps (CalDAV over HTTP Basic); the secret is in the create answer only. */
  appPasswords: {
    list: () => get('/v0/app-passwords'),
    /** → {id, name, password, createdAt} */
    create: (name) => post('/v0/app-passwords', { name }),
    remove: (id) => request('DELETE', `/v0/app-passwords/${id}`),
  },

  /** Personal API tokens; `token` is in the create answer only. Never callable with a token itself. */
  tokens: {
    list: () => get('/v0/tokens'),
    /** {name, scopes: ['read'] | ['read', 'write'], expiresAt: ISO instant | null} → {id, …, token} */
    create: ({ name, scopes, expiresAt }) => post('/v0/tokens', { name, scopes, expiresAt }),
    remove: (id) => request('DELETE', `/v0/tokens/${id}`),
  },

  /** Webhook endpoints (Standard Webhooks); `secret` is in the create answer only. */
  webhooks: {
    list: () => get('/v0/webhooks'),
    /** {url, events, description?} → {id, …, secret} */
    create: ({ url, events, description }) => post('/v0/webhooks', { url, events, description }),
    /** Any of {url, events, description, enabled} (false disables, true enables again). */
    update: (id, body) => request('PATCH', `/v0/webhooks/${id}`, { body }),
    remove: (id) => request('DELETE', `/v0/webhooks/${id}`),
    /** Queues a `webhook.test` event → the delivery. */
    test: (id) => post(`/v0/webhooks/${id}/test`),
    /** The last 100 deliveries, newest first. */
    deliveries: (id) => get(`/v0/webhooks/${id}/deliveries`),
  },

  /** The password: the current one is checked; other sessions are signed out (this one, by its cookie, stays). */
  changePassword: (currentPassword, newPassword) => post('/v0/members/me/password', { currentPassword, newPassword }),
  /** Deletes the account and everything of it (no password: an OAuth member's fresh login). Cannot be undone. */
  deleteAccount: (password) => request('DELETE', '/v0/members/me', { body: password ? { password } : {} }),

  calendar: {
    /** Subscription feeds; `url` and `webcalUrl` are in the create and rotate answers only. */
    feeds: {
      list: () => get('/v2/calendar/feeds'),
      create: (kind) => post('/v2/calendar/feeds', { kind }),
      rotate: (id) => post(`/v2/calendar/feeds/${id}/rotate`),
      remove: (id) => request('DELETE', `/v2/calendar/feeds/${id}`),
    },
    /** Other calendars, imported as busy time: by URL, or an uploaded .ics file's text. */
    subscriptions: {
      list: () => get('/v2/calendar/subscriptions'),
      add: ({ name, url }) => post('/v2/calendar/subscriptions', { name, url }),
      upload: ({ name, ics }) => post('/v2/calendar/subscriptions/upload', { name, ics }),
      remove: (id) => request('DELETE', `/v2/calendar/subscriptions/${id}`),
    },
    /** Busy blocks from those calendars on the day (or week) containing `date`. */
    busy: (date, zone, opts) => get('/v2/calendar/busy', { time: `${date}T12:00:00`, zoneId: zone }, opts),
    busyWeek: (date, zone, opts) => get('/v2/calendar/busy/week', { time: `${date}T12:00:00`, zoneId: zone }, opts),
  },

  push: {
    vapid: async () => String(await request('GET', '/v0/push/vapid')).trim(),
    subscribed: async (deviceId) => {
      const v = await get('/v0/push/subscribed', { deviceId });
      return v === true || v === 'true';
    },
    subscribe: (body) => post('/v0/push/subscribe', body),
    unsubscribe: (body) => post('/v0/push/unsubscribe', body),
    /** {enabled, start, end, zoneId, mode: 'hold'|'drop', includeAtStart} */
    quietHours: () => get('/v0/push/quiet-hours'),
    setQuietHours: (body) => request('PUT', '/v0/push/quiet-hours', { body }),
    /** Reminds again in `minutes` (5..120); `key` is the push payload's idempotentKey. → {key, dueAt} */
    snooze: (key, minutes = 10) => post(`/v0/push/reminders/${encodeURIComponent(key)}/snooze`, { minutes }),
  },
};
