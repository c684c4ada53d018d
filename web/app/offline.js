// Working without a connection (issue 21). Two things, both in IndexedDB ('pinit-app'), both belonging to the
// member signed in on this device (`owner`), both forgotten at logout or when another member signs in:
//
// - a read cache: the last successful answer of each read the app needs to show the Schedules and Today pages
//   (the member, the zone, the running schedule, the day and week lists, a schedule, busy time, the ready
//   tasks), keyed by URL. A read that fails for want of a network answers from it, and the app says it is
//   offline and since when its data is (the shell's banner).
// - a queue of the player's presses (start, pause, resume, complete) made while offline, each with the moment
//   it was pressed (the wall clock and zone to the millisecond, as the API's `time` and `zoneId`). They are sent
//   in order when the connection returns (replay.js); until then every list, block and the player show them
//   applied, marked as waiting (`project`).
//
// Nothing here calls the API; api.js reads and writes the cache, player.js queues, replay.js sends.
import { emit } from './state.js';
import { toWall, instantOf, parseDuration } from './time.js';

const DB_NAME = 'pinit-app';
const QUEUE = 'queue'; // {seq (auto), owner, scheduleId, action, time, zoneId, at, title, scheduleType, verb}
const CACHE = 'cache'; // {url, owner, at, data}
const OWNER_KEY = 'pinit.owner';
const KEEP_ENTRIES = 120; // cached reads kept (the oldest go first)
export const ACTIONS = ['start', 'suspend', 'complete'];

// ------------------------------------------------------------------ IndexedDB

let dbPromise = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const open = indexedDB.open(DB_NAME, 1);
      open.onupgradeneeded = () => {
        const db = open.result;
        db.createObjectStore(QUEUE, { keyPath: 'seq', autoIncrement: true });
        db.createObjectStore(CACHE, { keyPath: 'url' }).createIndex('at', 'at');
      };
      open.onsuccess = () => {
        const db = open.result;
        db.onversionchange = () => { db.close(); dbPromise = null; };
        resolve(db);
      };
      open.onerror = () => { dbPromise = null; reject(open.error); };
    });
  }
  return dbPromise;
}

/** Runs `work(store…)` in one transaction over `stores`; resolves with what `work` returned once committed. */
async function transact(stores, mode, work) {
  const db = await openDb();
  const tx = db.transaction(stores, mode);
  const result = work(...[].concat(stores).map((name) => tx.objectStore(name)));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  return typeof result === 'function' ? result() : result;
}

/** A request's result, read after the transaction committed. */
const later = (request) => () => request.result;

// ------------------------------------------------------------------ owner

/** The member whose data and queue this device holds ("" when nobody signed in here). */
export const owner = () => {
  try { return localStorage.getItem(OWNER_KEY) || ''; } catch { return ''; }
};

/** The member signed in: another member's cache and queue are dropped. */
export async function setOwner(memberId) {
  const id = String(memberId ?? '');
  if (!id || id === owner()) return;
  const had = owner();
  try { localStorage.setItem(OWNER_KEY, id); } catch { /* private mode: nothing is kept anyway */ }
  if (had) await clearAll().catch(() => {});
  changed();
}

/** Logout: this device keeps nothing of the member. */
export async function forget() {
  try { localStorage.removeItem(OWNER_KEY); } catch { /* private mode */ }
  await clearAll().catch(() => {});
  changed();
}

async function clearAll() {
  await transact([QUEUE, CACHE], 'readwrite', (queue, cache) => { queue.clear(); cache.clear(); });
  mirror = [];
}

// ------------------------------------------------------------------ connection state

let reachable = true; // the last request got an answer
let staleSince = null; // the oldest cached answer shown since the connection was lost (ms)

/** Offline: the browser says so, or the last request got no answer. */
export const isOffline = () => !navigator.onLine || !reachable;

/** {offline, staleSince, pending} for the banner. */
export const status = () => ({ offline: isOffline(), staleSince, pending: mirror.length });

function changed() {
  emit('offline:changed', status());
}

/** A request got an answer (`true`) or none (`false`). */
export function noteReachable(ok) {
  if (ok === reachable) return;
  reachable = ok;
  if (ok) staleSince = null;
  changed();
}

addEventListener('online', () => { reachable = true; staleSince = null; changed(); });
addEventListener('offline', changed);

// ------------------------------------------------------------------ read cache

/** The reads kept for offline use (paths without the query). */
const CACHED = [
  /^\/v0\/me$/,
  /^\/v2\/members\/(zone-id|now)$/,
  /^\/v2\/schedules(\/week)?$/,
  /^\/v2\/schedules\/\d+$/,
  /^\/v2\/calendar\/busy(\/week)?$/,
  /^\/v2\/tasks$/,
];

export const cacheable = (url) => CACHED.some((re) => re.test(url.split('?')[0]));

/** Keeps the answer to `url` (without waiting; a failure only means it is not kept). */
export function remember(url, data) {
  const who = owner();
  if (!who && url !== '/v0/me') return;
  transact(CACHE, 'readwrite', (cache) => {
    cache.put({ url, owner: who, at: Date.now(), data });
    const count = cache.count();
    count.onsuccess = () => {
      let extra = count.result - KEEP_ENTRIES;
      if (extra <= 0) return;
      cache.index('at').openCursor().onsuccess = (e) => {
        const cursor = e.target.result;
        if (cursor && extra-- > 0) { cursor.delete(); cursor.continue(); }
      };
    };
  }).catch(() => {});
}

/** The kept answer to `url` ({data, at}) or null; it is then shown, so the banner says since when. */
export async function recall(url) {
  let entry = null;
  try {
    entry = await transact(CACHE, 'readonly', (cache) => later(cache.get(url)));
  } catch {
    return null;
  }
  if (!entry || (url !== '/v0/me' && entry.owner !== owner())) return null;
  if (staleSince == null || entry.at < staleSince) { staleSince = entry.at; changed(); }
  return entry;
}

/** A schedule from any kept answer (a list or the schedule itself), the most recent; null when none has it. */
export async function findCachedSchedule(id) {
  let entries = [];
  try {
    entries = await transact(CACHE, 'readonly', (cache) => later(cache.getAll()));
  } catch {
    return null;
  }
  let best = null;
  for (const entry of entries) {
    if (entry.owner !== owner() || !/^\/v2\/schedules/.test(entry.url)) continue;
    const list = Array.isArray(entry.data) ? entry.data : [entry.data];
    const found = list.find((s) => s && String(s.id) === String(id));
    if (found && (!best || entry.at > best.at)) best = { at: entry.at, data: found };
  }
  if (best && (staleSince == null || best.at < staleSince)) { staleSince = best.at; changed(); }
  return best;
}

// ------------------------------------------------------------------ the queue

let mirror = []; // the queue as last read (for the banner's count)

/** "YYYY-MM-DDTHH:mm:ss.SSS" of instant `ms` in `zone`: the API's `time` to the millisecond. */
export const wallMillis = (ms, zone) => `${toWall(ms, zone)}.${String(Math.floor(ms) % 1000).padStart(3, '0')}`;

/** The member's queued presses, oldest first. */
export async function queued() {
  let items = [];
  try {
    items = await transact(QUEUE, 'readonly', (queue) => later(queue.getAll()));
  } catch {
    items = [];
  }
  const who = owner();
  const before = mirror.length;
  mirror = items.filter((it) => it.owner === who).sort((a, b) => a.seq - b.seq);
  if (mirror.length !== before) changed();
  return mirror;
}

/** Queues `action` on `schedule`, pressed at `at` (ms) in `zone`. → the queued item. */
export async function enqueue(schedule, action, zone, at = Date.now()) {
  if (!ACTIONS.includes(action)) throw new Error(`not queued: ${action}`);
  const item = {
    owner: owner(), scheduleId: schedule.id, action, time: wallMillis(at, zone), zoneId: zone, at,
    title: schedule.title, scheduleType: schedule.scheduleType,
    verb: action === 'start' && schedule.state === 'SUSPENDED' ? 'resume' : action, // for the member: "Resume"
  };
  item.seq = await transact(QUEUE, 'readwrite', (queue) => later(queue.add(item)));
  await queued();
  return item;
}

/** Removes a sent (or refused) press. */
export async function drop(seq) {
  await transact(QUEUE, 'readwrite', (queue) => { queue.delete(seq); });
  await queued();
}

/** The instant a queued press happened (its `time` in its zone; `at` as written). */
export const pressedAt = (item) => (Number.isFinite(item.at) ? item.at : instantOf(item.time, item.zoneId));

// ------------------------------------------------------------------ what the queue does to the schedules

const AFTER = { start: 'IN_PROGRESS', suspend: 'SUSPENDED', complete: 'COMPLETED' };

/**
 * `schedule` as it will be once its queued presses are applied: state, tracked time (`duration`), the running
 * session's start (`runningSince`) and `queued` (the presses waiting, oldest first). Unchanged without any.
 */
export function project(schedule, items) {
  const mine = items.filter((it) => String(it.scheduleId) === String(schedule?.id));
  if (!schedule || !mine.length) return schedule;
  let { state } = schedule;
  let seconds = parseDuration(schedule.duration);
  let since = state === 'IN_PROGRESS' ? Date.parse(schedule.runningSince || schedule.startedAt || schedule.updatedAt) : null;
  for (const it of mine) {
    const at = pressedAt(it);
    if (state === 'IN_PROGRESS' && Number.isFinite(since) && it.action !== 'start') seconds += Math.max(0, (at - since) / 1000);
    if (it.action === 'start' && state !== 'IN_PROGRESS') since = at;
    if (it.action !== 'start') since = null;
    state = AFTER[it.action];
  }
  return {
    ...schedule, state, duration: `PT${seconds.toFixed(3)}S`,
    runningSince: state === 'IN_PROGRESS' && Number.isFinite(since) ? new Date(since).toISOString() : null,
    queued: mine,
  };
}

/** A list of schedules with their queued presses applied. */
export const projectAll = (list, items) => (Array.isArray(list) && items.length ? list.map((s) => project(s, items)) : list);

/**
 * The running (or paused) schedule once the queue is applied: the schedule the latest press left running or
 * paused; else none when the server's one (`serverId`) was completed in the queue; else the server's.
 */
export function projectNow(serverId, items) {
  const last = new Map();
  for (const it of items) last.set(String(it.scheduleId), it);
  const open = [...last.values()].filter((it) => it.action !== 'complete').sort((a, b) => a.seq - b.seq).at(-1);
  if (open) return Number(open.scheduleId);
  if (serverId != null && last.has(String(serverId))) return null;
  return serverId;
}
