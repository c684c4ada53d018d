// Sends the presses queued offline (offline.js) in the order they were made, each with the moment it was
// pressed (`time` + `zoneId`: ADR 0004 "Dated changes"): when the connection returns, when the app loads, and
// right after a press queued behind others. One tab sends at a time (Web Lock 'pinit-queue').
//
// A press the server refuses for good — 400 (its `time` is outside the window: older than 24 hours, before the
// schedule's previous change), 409 (not possible in the schedule's state by then), 404 (deleted) — is dropped and
// the member is told what could not be applied and why. No answer, 401, 429 or 5xx: the queue stays for later.
import { api, request } from './api.js';
import * as offline from './offline.js';
import { t } from './i18n.js';
import { emit } from './state.js';
import { h, toast } from './ui.js';
import { formatWall, TIME } from './locale.js';

const AFTER = { start: 'IN_PROGRESS', suspend: 'SUSPENDED', complete: 'COMPLETED' };

let running = null;
let again = false;

/** Sends what is queued; resolves when the queue is empty or the rest must wait. */
export function flushQueue() {
  if (running) { again = true; return running; }
  const work = async () => {
    do { again = false; await run(); } while (again && !offline.isOffline());
  };
  running = (navigator.locks ? navigator.locks.request('pinit-queue', work) : work()).finally(() => { running = null; });
  return running;
}

async function run() {
  const refused = [];
  let sent = 0;
  for (;;) {
    const [item] = await offline.queued();
    if (!item) break;
    const outcome = await send(item);
    if (outcome === 'later') break;
    await offline.drop(item.seq);
    if (outcome === 'sent') sent++;
    else refused.push(outcome);
  }
  if (!sent && !refused.length) return;
  emit('schedule:changed', { reason: 'replayed' });
  if (refused.length) report(refused);
  else toast(t('offline.sent', { n: sent }), { type: 'success' });
}

async function send(item) {
  try {
    await api.schedules.replay(item);
    return 'sent';
  } catch (error) {
    if (error?.name === 'AbortError' || error.status === 0 || error.status === 401 || error.status === 429 || error.status >= 500) return 'later';
    if (error.status === 409 && (await reached(item))) return 'sent'; // the first try got through, its answer was lost
    return { item, error };
  }
}

/** Whether the schedule is already where the press leads (read from the server, the queue not applied). */
async function reached(item) {
  try {
    const schedule = await request('GET', `/v2/schedules/${item.scheduleId}`);
    return schedule?.state === AFTER[item.action];
  } catch {
    return false;
  }
}

/** "Start “Deep work”, pressed 7 Dec, 15:07" */
export function pressLabel(item) {
  const when = formatWall(item.time, { day: 'numeric', month: 'short', ...TIME });
  return t('offline.press', { action: t(`offline.verb.${item.verb || item.action}`), title: item.title || `#${item.scheduleId}`, when });
}

function report(refused) {
  const reason = (error) => {
    const field = Array.isArray(error.data?.errors) ? error.data.errors.find((e) => e.field === 'time') : null;
    if (error.status === 400 && field) return t('offline.reasonTime', { detail: error.message });
    return error.userMessage;
  };
  toast(h('span', {},
    h('strong', {}, t('offline.refused', { n: refused.length })),
    h('ul', { class: 'toast-list' }, refused.map(({ item, error }) => h('li', {}, `${pressLabel(item)}: ${reason(error)}`)))),
  { type: 'error', timeout: 0 });
}
