// The player bar: the running (or paused) schedule with a live elapsed-time counter and its controls.
import { api } from './api.js';
import { t } from './i18n.js';
import { session, emit, on } from './state.js';
import { h, mount, toast, showError, confirmDialog } from './ui.js';
import { parseDuration, clock } from './time.js';
import * as offline from './offline.js';
import { flushQueue, pressLabel } from './replay.js';

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
 * Runs a state transition and tells every page. `action`: start | suspend | complete | cancel.
 * Cancel asks first when it would discard time. Offline (or behind presses still waiting to be sent) a start,
 * pause, resume or complete is queued with the moment it was pressed and shown as applied (offline.js); it is sent
 * when the connection returns (replay.js). Cancel needs the server.
 */
export async function transition(schedule, action) {
  if (action === 'cancel' && schedule.state !== 'COMPLETED') {
    const ok = await confirmDialog(t('schedules.confirmCancel', { title: schedule.title }), { confirmLabel: t('schedules.action.cancel'), danger: true });
    if (!ok) return false;
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
    if (holder != null && String(holder) !== String(schedule.id)) {
      const other = await api.schedules.get(holder).catch(() => null);
      toast(t('offline.slotTaken', { title: other?.title || `#${holder}` }), { type: 'error' });
      emit('schedule:changed', { id: schedule.id, reason: 'failed' });
      return false;
    }
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

let timer = null;

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
        button('cancel', '✕', t('schedules.action.cancel')))));
    if (running) timer = setInterval(() => { counter.textContent = clock(elapsedNow(schedule)); }, 1000);
  }

  on('schedule:changed', load, controller.signal);
  on('zone:changed', load, controller.signal);
  load();
  return () => { controller.abort(); clearInterval(timer); };
}
