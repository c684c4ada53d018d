// The player bar: the running (or paused) schedule with a live elapsed-time counter and its controls.
import { api } from './api.js';
import { t, formatDuration } from './i18n.js';
import { session, emit, on } from './state.js';
import { h, mount, toast, showError, confirmDialog } from './ui.js';
import { parseDuration, clock } from './time.js';
import * as offline from './offline.js';
import { flushQueue, pressLabel } from './replay.js';
import { isoFromMinutes } from './plan.js';

/** Elapsed seconds of a schedule now: the server's accumulated time plus the open session, if running. */
export function elapsedNow(schedule) {
  let seconds = parseDuration(schedule.duration);
  if (schedule.state === 'IN_PROGRESS') {
    const since = Date.parse(schedule.runningSince || schedule.startedAt || schedule.updatedAt);
    if (Number.isFinite(since)) seconds += Math.max(0, (Date.now() - since) / 1000);
  }
  return seconds;
}

/**
 * Keeps `el`'s text at `format(elapsedNow(schedule))`, every second while the schedule runs and `el` is in the page
 * (one timer for all of them: cards, and anything else showing a running clock). Returns `el`.
 */
const ticking = new Set();
let ticker = null;
export function tick(el, schedule, format = clock) {
  el.textContent = format(elapsedNow(schedule));
  if (schedule.state !== 'IN_PROGRESS') return el;
  ticking.add({ el, schedule, format, born: Date.now() });
  if (!ticker) {
    ticker = setInterval(() => {
      for (const item of ticking) {
        if (!item.el.isConnected) { if (Date.now() - item.born > 2000) ticking.delete(item); continue; }
        item.el.textContent = item.format(elapsedNow(item.schedule));
      }
      if (!ticking.size) { clearInterval(ticker); ticker = null; }
    }, 1000);
  }
  return el;
}

/**
 * Runs a state transition and tells every page. `action`: start | suspend | complete | cancel.
 * Cancel ("Discard time…") asks first when it would discard time. A start while another schedule holds the member's
 * slot (running or paused: the server's rule) offers to complete that one and start this one, in one step.
 * Offline (or behind presses still waiting to be sent) a start, pause, resume or complete is queued with the moment
 * it was pressed and shown as applied (offline.js); it is sent when the connection returns (replay.js). Cancel needs
 * the server.
 */
export async function transition(schedule, action) {
  if (action === 'cancel' && schedule.state !== 'COMPLETED') {
    const ok = await confirmDialog(t('timer.discardQuestion', { title: schedule.title, time: formatDuration(elapsedNow(schedule)) }), {
      title: t('timer.discardTitle'), confirmLabel: t('timer.discard'), cancelLabel: t('timer.keep'), danger: true,
    });
    if (!ok) { emit('schedule:changed', { id: schedule.id, reason: 'kept' }); return false; }
  }
  const zone = session.zone;
  const at = Date.now();
  const queueable = offline.ACTIONS.includes(action);
  if (queueable && (offline.isOffline() || (await offline.queued()).length)) return queuePress(schedule, action, zone, at);
  if (!queueable && (await offline.queued()).length) await flushQueue(); // the presses before it go first
  try {
    await api.schedules[action](schedule.id, zone);
  } catch (error) {
    if (queueable && error?.status === 0) return queuePress(schedule, action, zone, at);
    if (action === 'start' && error?.status === 409 && error.code === 'ALREADY_RUNNING') return offerSwitch(schedule);
    showError(error);
    emit('schedule:changed', { id: schedule.id, reason: 'failed' });
    return false;
  }
  emit('schedule:changed', { id: schedule.id, reason: action });
  if (schedule.taskId && (action === 'complete' || action === 'cancel')) emit('task:changed', { id: schedule.taskId });
  return true;
}

async function queuePress(schedule, action, zone, at) {
  // The server's rule, applied to the queue: one schedule at a time holds the member's slot (running or paused).
  if (action === 'start') {
    const holder = await api.members.now().catch(() => null);
    if (holder != null && String(holder) !== String(schedule.id)) return offerSwitch(schedule, { queue: true });
  }
  try {
    const item = await offline.enqueue(schedule, action, zone, at);
    toast(t('offline.queued', { press: pressLabel(item) }));
  } catch (error) {
    showError(error);
    return false;
  }
  emit('schedule:changed', { id: schedule.id, reason: 'queued' });
  if (!offline.isOffline()) flushQueue();
  return true;
}

/**
 * `target` cannot start: another schedule holds the member's slot. One schedule is on the clock at a time and a
 * paused one still holds it (the server's rule), so the step offered is: complete that one with its time (resumed
 * first, for no time at all, when it is paused: a paused schedule cannot be completed) and start `target` — the
 * three changes dated at the same moment. Online they are sent one after the other (a refused completion puts a
 * resumed schedule back on pause); offline (`queue`) they are queued.
 */
async function offerSwitch(target, { queue = false } = {}) {
  const holderId = await api.members.now().catch(() => null);
  const holder = holderId != null && String(holderId) !== String(target.id) ? await api.schedules.get(holderId).catch(() => null) : null;
  if (!holder) {
    toast(t('offline.slotTaken', { title: holderId != null ? `#${holderId}` : '?' }), { type: 'error' });
    emit('schedule:changed', { id: target.id, reason: 'failed' });
    return false;
  }
  const paused = holder.state === 'SUSPENDED';
  const names = { from: holder.title, to: target.title };
  const ok = await confirmDialog(t(paused ? 'timer.switchPaused' : 'timer.switchRunning', { ...names, time: formatDuration(elapsedNow(holder)) }), {
    title: t('timer.switchTitle'), confirmLabel: t('timer.switchConfirm', names), cancelLabel: t('timer.switchKeep', names),
  });
  if (!ok) { emit('schedule:changed', { id: target.id, reason: 'kept' }); return false; }
  const zone = session.zone;
  const at = Date.now();
  const steps = [...(paused ? [[holder, 'start']] : []), [holder, 'complete'], [target, 'start']];
  if (queue || offline.isOffline()) {
    try {
      for (const [schedule, action] of steps) await offline.enqueue(schedule, action, zone, at);
    } catch (error) {
      showError(error);
      return false;
    }
    toast(t('timer.switchQueued', names));
    emit('schedule:changed', { id: target.id, reason: 'queued' });
    if (!offline.isOffline()) flushQueue();
    return true;
  }
  const time = offline.wallMillis(at, zone);
  for (const [schedule, action] of steps) {
    try {
      await api.schedules.replay({ scheduleId: schedule.id, action, time, zoneId: zone });
    } catch (error) {
      if (paused && schedule === holder && action === 'complete') {
        await api.schedules.replay({ scheduleId: holder.id, action: 'suspend', time, zoneId: zone }).catch(() => {});
      }
      showError(error);
      emit('schedule:changed', { id: target.id, reason: 'failed' });
      return false;
    }
  }
  toast(t('timer.switched', names), { type: 'success' });
  emit('schedule:changed', { id: holder.id, reason: 'complete' });
  emit('schedule:changed', { id: target.id, reason: 'start' });
  if (holder.taskId) emit('task:changed', { id: holder.taskId });
  return true;
}

/** Corrects a completed schedule's tracked time (`PUT /v2/schedules/{id}/duration`); resolves with the schedule. */
export async function correctDuration(schedule, minutes) {
  const saved = await api.schedules.setDuration(schedule.id, isoFromMinutes(minutes));
  emit('schedule:changed', { id: schedule.id, reason: 'corrected' });
  return saved;
}

let timer = null;
let shown = null; // the schedule in the player bar (for the Space shortcut)

/** Pauses the schedule in the player bar, or resumes it (the Space shortcut); false when there is none. */
export function togglePlayer() {
  if (!shown) return false;
  transition(shown, shown.state === 'IN_PROGRESS' ? 'suspend' : 'start');
  return true;
}

export function mountPlayer(slot) {
  const controller = new AbortController();
  let schedule = null;
  let loading = 0;

  async function load() {
    const seq = ++loading;
    let next = null;
    try {
      const id = await api.members.now();
      if (id != null) next = await api.schedules.get(id);
    } catch {
      next = null;
    }
    if (seq !== loading) return;
    schedule = next && (next.state === 'IN_PROGRESS' || next.state === 'SUSPENDED') ? next : null;
    shown = schedule;
    render();
  }

  function render() {
    clearInterval(timer);
    if (!schedule) {
      mount(slot);
      slot.hidden = true;
      document.body.classList.remove('has-player');
      return;
    }
    slot.hidden = false;
    document.body.classList.add('has-player');
    const running = schedule.state === 'IN_PROGRESS';
    const counter = h('span', { class: 'player-time', role: 'timer', 'aria-label': t('player.elapsed') }, clock(elapsedNow(schedule)));
    const button = (action, icon, label, disabled = false) => h('button', {
      class: `player-btn player-${action}`, type: 'button', 'aria-label': label, title: label, disabled,
      onclick: async (e) => {
        e.currentTarget.disabled = true;
        await transition(schedule, action);
      },
    }, h('span', { 'aria-hidden': 'true' }, icon));
    mount(slot, h('section', { class: `player ${running ? 'is-running' : 'is-paused'}`, 'aria-label': t('player.label') },
      h('a', { class: 'player-info', href: `/app/schedules?scheduleId=${schedule.id}` },
        h('span', { class: 'player-state' }, t(running ? 'player.running' : 'player.paused'),
          schedule.queued ? h('span', { class: 'queued-note' }, ` · ${t('offline.waiting')}`) : null),
        h('span', { class: 'player-title' }, schedule.title)),
      counter,
      h('div', { class: 'player-controls' },
        running ? button('suspend', '❚❚', t('schedules.action.pause')) : button('start', '▶', t('schedules.action.resume')),
        button('complete', '✓', t('schedules.action.complete'), !running),
        // Not a bare ✕: it throws the tracked time away, so it says so, and asks.
        h('button', { class: 'player-discard', type: 'button', onclick: () => transition(schedule, 'cancel') }, t('timer.discardButton')))));
    if (running) timer = setInterval(() => { counter.textContent = clock(elapsedNow(schedule)); }, 1000);
  }

  on('schedule:changed', load, controller.signal);
  on('zone:changed', load, controller.signal);
  load();
  return () => { controller.abort(); clearInterval(timer); shown = null; };
}
