// The timeline: a day, or a week, as a time grid (hours down, days across). Each schedule is a block at its
// start and planned length (1 hour when it has none), coloured by type, with its state in words (a running one
// with a live clock); busy time from the member's other calendars is hatched beside them; today has a "now"
// line. Schedules not started yet move (drag, or ↑/↓ by 15 minutes and ←/→ by a day) and change length (drag
// the lower edge, or Shift+↑/↓); on a touch screen a block is picked up by pressing on it for 400 ms, so a
// swipe still scrolls. Clicking an empty time opens the form at that time. Times are in the member's zone.
import { t } from './i18n.js';
import { formatDate, formatDateRange, formatTime, formatTimeRange, formatHour } from './locale.js';
import { h, uid } from './ui.js';
import { session } from './state.js';
import { addDays, dateOf, parseDuration, clock, nowIn, toWall, instantOf } from './time.js';
import { elapsedNow } from './player.js';
import { busyOnDay, wallIn } from './busy.js';

/** The grid's step: moves, lengths and new schedules are on quarter hours. */
export const STEP = 15;
/** What a schedule without a planned length is shown as, in minutes. */
export const DEFAULT_MINUTES = 60;
/** The API's bounds on `plannedDuration` (PT1M…PT24H). */
export const MAX_MINUTES = 24 * 60;
const DAY = 24 * 60;
const HOUR_PX = 56;
const MIN_BLOCK_PX = 18; // a 5-minute schedule is still a target
const PX = HOUR_PX / 60;
const LONG_PRESS_MS = 400;
const SAVE_AFTER_MS = 700; // keyboard: the last of a run of arrow presses is saved
const SHORT = 45; // minutes: shorter blocks show their title and time on one line
const SHOWN_MIN = Math.ceil(MIN_BLOCK_PX / PX); // the least a block takes on screen, in minutes (for overlaps)

const pad = (n) => String(n).padStart(2, '0');
const clamp = (n, lo, hi) => Math.min(hi, Math.max(lo, n));

/** "09:30" for minutes since midnight (24:00 at the end of the day): the wire's wall clock, not for people. */
export const hhmm = (minutes) => (minutes === DAY ? '24:00' : `${pad(Math.floor(minutes / 60) % 24)}:${pad(minutes % 60)}`);

/** "PT1H30M" for 90 minutes: the API's plannedDuration. */
export const isoMinutes = (minutes) => `PT${Math.floor(minutes / 60) ? `${Math.floor(minutes / 60)}H` : ''}${minutes % 60 ? `${minutes % 60}M` : ''}`;

/** A schedule's planned length in minutes (the default when it has none). */
export function plannedMinutes(schedule) {
  const seconds = parseDuration(schedule?.plannedDuration);
  return seconds > 0 ? clamp(Math.round(seconds / 60), 1, MAX_MINUTES) : DEFAULT_MINUTES;
}

const wallMinutes = (wall) => Number(wall.slice(11, 13)) * 60 + Number(wall.slice(14, 16));

/** Where a schedule sits in the member's zone: {date, start (minutes), minutes}. */
function placeOf(schedule, zone) {
  const wall = wallIn(schedule.date, zone);
  return { date: dateOf(wall), start: wallMinutes(wall), minutes: plannedMinutes(schedule) };
}

/** Busy blocks touching `date`: timed ones with their minutes on that day, whole-day ones apart. */
function busyOn(raw, date, zone) {
  const next = `${addDays(date, 1)}T00:00:00`;
  const dayStart = `${date}T00:00:00`;
  return busyOnDay(raw, date, zone).filter((b) => {
    if (b.allDay) {
      const first = dateOf(b.start);
      const last = b.end && dateOf(b.end) > first ? addDays(dateOf(b.end), -1) : first; // DTEND is exclusive
      return first <= date && date <= last;
    }
    const end = b.end && b.end > b.start ? b.end : b.start;
    return b.start < next && (end > dayStart || dateOf(b.start) === date);
  }).map((b) => {
    if (b.wholeDay) return b;
    const start = dateOf(b.start) < date ? 0 : wallMinutes(b.start);
    const end = !b.end || b.end <= b.start ? start + STEP : (dateOf(b.end) > date ? DAY : wallMinutes(b.end));
    return { ...b, startMin: start, endMin: Math.max(end, start + 1) };
  });
}

/**
 * Side by side when they overlap: each item gets `lane` and `lanes` (of its cluster of overlapping items).
 * `items`: [{start, end}] in minutes.
 */
function lanes(items) {
  const sorted = items.slice().sort((a, b) => a.start - b.start || b.end - a.end);
  let cluster = [];
  let clusterEnd = -1;
  let ends = [];
  const close = () => { for (const it of cluster) it.lanes = ends.length; cluster = []; ends = []; };
  for (const it of sorted) {
    if (it.start >= clusterEnd) { close(); clusterEnd = -1; }
    let lane = ends.findIndex((end) => end <= it.start);
    if (lane < 0) { lane = ends.length; ends.push(0); }
    ends[lane] = it.end;
    it.lane = lane;
    cluster.push(it);
    clusterEnd = Math.max(clusterEnd, it.end);
  }
  close();
  return sorted;
}

const STATE_ICON = { IN_PROGRESS: '●', SUSPENDED: '❚❚', COMPLETED: '✓' };

/**
 * Creates a timeline. Callbacks: `open(schedule)`; `create(date, "HH:mm")`; `makeFromBusy(block, date)`;
 * `save(schedule, {dateTime, zoneId} | null, minutes | null)` → Promise<boolean> (false: refused, the page
 * redraws what the server has). `signal` ends its timers.
 * Returns {el, set({days, schedules, busy, selected})}.
 */
export function createTimeline({ open, create, makeFromBusy, save, signal }) {
  const moveHint = h('p', { id: uid('tl-hint'), hidden: true });
  const fixedHint = h('p', { id: uid('tl-fixed'), hidden: true }, t('timeline.hintStarted'));
  const live = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const head = h('div', { class: 'tl-head', 'aria-hidden': 'true' });
  const allDay = h('div', { class: 'tl-allday' });
  const body = h('div', { class: 'tl-body' });
  const scroller = h('div', { class: 'tl-scroll', tabindex: '0', role: 'region' }, body);
  const legend = h('ul', { class: 'tl-legend', 'aria-label': t('timeline.legend') },
    ['DEEP_WORK', 'ADMIN_TASK', 'QUICK_TASK'].map((type) => h('li', { class: `tl-key type-${type}` }, t(`type.${type}`))));
  const el = h('div', { class: 'tl' },
    h('p', { class: 'muted tl-help' }, t('timeline.help')),
    legend,
    h('div', { class: 'tl-frame' }, head, allDay, scroller),
    moveHint, fixedHint, live);

  let data = { days: [], schedules: [], busy: [], selected: null };
  let items = new Map(); // id → {schedule, date, start, minutes, movable, block}
  let deferred = null; // data that came in while a block was being moved
  let drag = null;
  let justDragged = false;
  let scrolledFor = null;
  let saving = 0;

  const announce = (text) => { live.textContent = ''; setTimeout(() => { live.textContent = text; }, 30); };
  const busyNow = () => Boolean(drag?.active || saving || [...items.values()].some((it) => it.pending));
  const week = () => data.days.length > 1;

  /** "Mon 9 March, 09:00–10:30" (the day only in the week view), in the member's clock. */
  function spoken(it, p = it) {
    const range = formatTimeRange(p.start, Math.min(DAY, p.start + p.minutes));
    return week() ? `${formatDate(p.date, { weekday: 'long', day: 'numeric', month: 'long' })}, ${range}` : range;
  }

  // ------------------------------------------------------------ drawing

  function set(next) {
    data = { ...data, ...next };
    if (busyNow()) { deferred = data; return; }
    deferred = null;
    draw();
  }

  function draw() {
    const focusedId = el.contains(document.activeElement) ? document.activeElement.dataset?.id : null;
    const { days } = data;
    const zone = session.zone;
    const today = dateOf(nowIn(zone));
    el.dataset.days = String(days.length);
    el.style.setProperty('--tl-days', String(days.length));
    el.style.setProperty('--tl-hour', `${HOUR_PX}px`);
    moveHint.textContent = t(week() ? 'timeline.hintMoveWeek' : 'timeline.hintMoveDay');
    const first = days[0];
    const last = days.at(-1);
    const range = first === last ? formatDate(first, { weekday: 'long', month: 'long', day: 'numeric' })
      : formatDateRange(first, last, { month: 'long', day: 'numeric' });
    scroller.setAttribute('aria-label', t('timeline.label', { range }));

    head.replaceChildren(h('span', { class: 'tl-corner' }), ...days.map((date) => h('span', { class: `tl-head-cell${date === today ? ' is-today' : ''}` },
      h('span', { class: 'tl-head-name' }, formatDate(date, { weekday: 'short' })), ' ',
      h('strong', { class: 'tl-head-num' }, String(Number(date.slice(8, 10)))))));
    head.hidden = !week();

    // Whole-day busy time, above the grid.
    const wholeDays = days.map((date) => busyOn(data.busy, date, zone).filter((b) => b.wholeDay));
    allDay.hidden = !wholeDays.some((list) => list.length);
    allDay.replaceChildren(h('span', { class: 'tl-allday-label' }, t('busy.allDay')), ...days.map((date, i) => h('div', { class: 'tl-allday-cell' },
      wholeDays[i].map((b) => busyBlock(b, date)))));

    // Hours, columns, blocks.
    const hours = h('div', { class: 'tl-hours', 'aria-hidden': 'true' });
    for (let hour = 1; hour < 24; hour++) {
      const label = h('span', { class: 'tl-hour' }, formatHour(hour));
      label.style.top = `${hour * HOUR_PX}px`;
      hours.append(label);
    }
    items = new Map();
    const columns = days.map((date) => {
      const col = h('div', {
        class: `tl-col${date === today ? ' is-today' : ''}${week() && date === data.selected ? ' is-selected' : ''}`,
        role: 'group', 'aria-label': formatDate(date, { weekday: 'long', month: 'long', day: 'numeric' }), dataset: { date },
      });
      const placed = [];
      for (const schedule of data.schedules) {
        const p = placeOf(schedule, zone);
        if (p.date !== date) continue;
        // A schedule with presses waiting to be sent (offline.js) shows them applied and stays where it is.
        const it = { schedule, ...p, movable: schedule.state === 'NOT_STARTED' && !schedule.queued?.length, pending: null };
        items.set(String(schedule.id), it);
        placed.push({ it, start: p.start, end: Math.min(DAY, p.start + Math.max(p.minutes, SHOWN_MIN)) });
      }
      for (const b of busyOn(data.busy, date, zone).filter((x) => !x.wholeDay)) {
        placed.push({ busy: b, start: b.startMin, end: Math.max(b.endMin, b.startMin + SHOWN_MIN) });
      }
      for (const slot of lanes(placed)) {
        const block = slot.it ? scheduleBlock(slot.it) : busyBlock(slot.busy, date);
        block.style.left = `calc(${slot.lane} * 100% / ${slot.lanes} + 2px)`;
        block.style.width = `calc(100% / ${slot.lanes} - 4px)`;
        if (slot.it) { slot.it.block = block; position(slot.it, slot.it); } else {
          block.style.top = `${slot.start * PX}px`;
          block.style.height = `${Math.max(MIN_BLOCK_PX, (slot.busy.endMin - slot.start) * PX) - 2}px`;
          block.classList.toggle('is-short', slot.busy.endMin - slot.start < SHORT);
        }
        col.append(block);
      }
      if (date === today) col.append(nowLine());
      return col;
    });
    body.replaceChildren(hours, ...columns);

    const key = days.join();
    if (scrolledFor !== key) {
      scrolledFor = key;
      const starts = [...items.values()].map((it) => it.start);
      if (days.includes(today)) starts.push(wallMinutes(nowIn(zone)));
      const top = starts.length ? Math.min(...starts) - 60 : 8 * 60;
      scroller.scrollTop = Math.max(0, top) * PX;
    }
    if (focusedId) el.querySelector(`.tl-schedule[data-id="${CSS.escape(focusedId)}"]`)?.focus({ preventScroll: true });
  }

  function scheduleBlock(it) {
    const s = it.schedule;
    const sep = () => h('span', { class: 'tl-sep' }, ', ');
    const state = s.state;
    const stateText = h('span', { class: 'tl-state' },
      STATE_ICON[state] ? [h('span', { class: `tl-icon tl-icon-${state}`, 'aria-hidden': 'true' }, STATE_ICON[state]), ' '] : null,
      h('span', { class: state === 'NOT_STARTED' ? 'sr-only' : 'tl-state-word' }, t(`state.${state}`)),
      state === 'IN_PROGRESS' || state === 'SUSPENDED' ? [' ', h('span', { class: 'tl-clock' }, clock(elapsedNow(s)))] : null,
      s.queued?.length ? h('span', { class: 'tl-queued' }, h('span', { class: 'tl-sep' }, ', '), h('span', { 'aria-hidden': 'true' }, ' ⏳ '), t('offline.waiting')) : null);
    // The name is its visible text (title, time, type, state); what the keys do is its description.
    const block = h('button', {
      type: 'button', class: `tl-block tl-schedule type-${s.scheduleType} state-${state}${it.movable ? ' is-movable' : ''}${s.queued?.length ? ' is-queued' : ''}`,
      dataset: { id: String(s.id) }, 'aria-describedby': it.movable ? moveHint.id : fixedHint.id,
      onclick: () => { if (!justDragged) open?.(s); },
      oncontextmenu: (e) => { if (it.movable) e.preventDefault(); }, // a long press picks it up instead
    },
    // The commas (heard, not seen) are inside the pieces: a separate box would get spaces around it in the name.
    h('span', { class: 'tl-title' }, s.title, sep()),
    h('span', { class: 'tl-time' }, h('span', { class: 'tl-range' }), sep()),
    h('span', { class: 'tl-type' }, t(`type.${s.scheduleType}`), sep()),
    stateText,
    it.movable ? h('span', { class: 'tl-resize', 'aria-hidden': 'true' }) : null);
    return block;
  }

  function busyBlock(b, date) {
    const title = b.title || t('busy.untitled');
    const sep = () => h('span', { class: 'tl-sep' }, ', ');
    return h('button', {
      type: 'button', class: `tl-block tl-busy${b.wholeDay ? ' is-whole-day' : ''}`,
      onclick: () => makeFromBusy?.(b, date),
    },
    h('span', { class: 'tl-title' }, title, sep()),
    h('span', { class: 'tl-time' }, b.label, sep()),
    h('span', { class: 'tl-type' }, `${t('busy.badge')}${b.calendarName ? ` · ${b.calendarName}` : ''}`, h('span', { class: 'tl-sep' }, `. ${t('busy.makeSchedule')}`)));
  }

  /** Puts a schedule's block at `p` ({date, start, minutes}) in its column (another day: shifted sideways). */
  function position(it, p) {
    const { block } = it;
    block.style.top = `${p.start * PX}px`;
    block.style.height = `${Math.max(MIN_BLOCK_PX, Math.min(p.minutes, DAY - p.start) * PX) - 2}px`;
    const shift = data.days.indexOf(p.date) - data.days.indexOf(it.date);
    block.style.transform = shift && block.parentElement ? `translateX(${shift * block.parentElement.getBoundingClientRect().width}px)` : '';
    block.classList.toggle('is-late', p.start + p.minutes > DAY);
    block.classList.toggle('is-short', p.minutes < SHORT);
    block.querySelector('.tl-range').textContent = formatTimeRange(p.start, Math.min(DAY, p.start + p.minutes));
  }

  function nowLine() {
    const line = h('div', { class: 'tl-now', 'aria-hidden': 'true' });
    const place = () => { line.style.top = `${wallMinutes(nowIn(session.zone)) * PX}px`; };
    place();
    line.place = place;
    return line;
  }

  // Live clocks of running schedules (every second) and the now line (every 20 s).
  let ticks = 0;
  const timer = setInterval(() => {
    for (const it of items.values()) {
      if (it.schedule.state === 'IN_PROGRESS') {
        const c = it.block?.querySelector('.tl-clock');
        if (c) c.textContent = clock(elapsedNow(it.schedule));
      }
    }
    if (++ticks % 20 === 0) {
      const line = body.querySelector('.tl-now');
      if (line && line.closest('.tl-col').dataset.date !== dateOf(nowIn(session.zone))) set({}); // past midnight
      else line?.place();
    }
  }, 1000);
  signal?.addEventListener('abort', () => clearInterval(timer));

  // ------------------------------------------------------------ saving

  function schedule(it) {
    clearTimeout(it.saveTimer);
    it.saveTimer = setTimeout(() => commit(it), SAVE_AFTER_MS);
  }

  async function commit(it) {
    clearTimeout(it.saveTimer);
    const p = it.pending;
    if (!p) return;
    it.pending = null;
    const moved = p.date !== it.date || p.start !== it.start;
    const resized = p.minutes !== it.minutes;
    if (!moved && !resized) { finish(); return; }
    const zone = session.zone;
    const s = it.schedule;
    let date = null;
    if (moved) {
      const wall = `${p.date}T${hhmm(p.start)}:00`;
      const zoneId = s.date?.zoneId || zone;
      date = { dateTime: zoneId === zone ? wall : toWall(instantOf(wall, zone), zoneId), zoneId };
    }
    saving++;
    el.setAttribute('aria-busy', 'true');
    let ok = false;
    try {
      ok = await save(s, date, resized ? p.minutes : null);
    } finally {
      if (--saving === 0) el.removeAttribute('aria-busy');
    }
    if (ok) {
      Object.assign(it, { date: p.date, start: p.start, minutes: p.minutes });
      announce(t('timeline.saved', { title: s.title, when: spoken(it) }));
    }
    finish(!ok);
  }

  /** After a move: draw what came in meanwhile (or, when the save failed, what was there). */
  function finish(failed = false) {
    if (busyNow()) return;
    if (deferred || failed) { deferred = null; draw(); }
  }

  // ------------------------------------------------------------ keyboard

  el.addEventListener('keydown', (e) => {
    const block = e.target.closest?.('.tl-schedule');
    if (e.key === 'Escape' && drag?.active) { e.preventDefault(); cancelDrag(); return; }
    if (!block || e.altKey || e.ctrlKey || e.metaKey) return;
    const vertical = { ArrowUp: -1, ArrowDown: 1 }[e.key] || 0;
    const sideways = { ArrowLeft: -1, ArrowRight: 1 }[e.key] || 0;
    if (!vertical && !sideways) return;
    const it = items.get(block.dataset.id);
    if (!it) return;
    if (sideways && !week()) return;
    e.preventDefault();
    if (!it.movable) { announce(t('timeline.cannotMove', { title: it.schedule.title })); return; }
    const p = it.pending || { date: it.date, start: it.start, minutes: it.minutes };
    if (e.shiftKey && vertical) {
      p.minutes = clamp(p.minutes + vertical * STEP, STEP, MAX_MINUTES);
    } else if (vertical) {
      p.start = clamp(p.start + vertical * STEP, 0, DAY - STEP);
    } else {
      const i = data.days.indexOf(p.date) + sideways;
      if (i < 0 || i >= data.days.length) return;
      p.date = data.days[i];
    }
    it.pending = p;
    position(it, p);
    block.scrollIntoView({ block: 'nearest' });
    announce(t(e.shiftKey ? 'timeline.resizedTo' : 'timeline.movedTo', { title: it.schedule.title, when: spoken(it, p) }));
    schedule(it);
  });
  // Leaving the block saves at once.
  el.addEventListener('focusout', (e) => {
    const it = items.get(e.target.dataset?.id);
    if (it?.pending) commit(it);
  });

  // ------------------------------------------------------------ pointer

  let pressedOnBlock = false; // a press that began on a block is never a click on an empty time
  el.addEventListener('pointerdown', (e) => {
    pressedOnBlock = Boolean(e.target.closest('.tl-block'));
    if (drag || (e.pointerType === 'mouse' && e.button !== 0)) return;
    const block = e.target.closest('.tl-schedule');
    const it = block && items.get(block.dataset.id);
    if (!it?.movable || it.pending) return;
    drag = {
      it, block, resize: Boolean(e.target.closest('.tl-resize')), pointerId: e.pointerId, touch: e.pointerType !== 'mouse',
      x0: e.clientX, y0: e.clientY, x: e.clientX, y: e.clientY, scroll0: scroller.scrollTop, active: false,
      p: { date: it.date, start: it.start, minutes: it.minutes },
    };
    if (drag.touch) drag.timer = setTimeout(() => activate(), LONG_PRESS_MS);
  });

  function activate() {
    if (!drag) return;
    drag.active = true;
    drag.block.classList.add('is-dragging');
    el.classList.add('is-dragging');
    try { drag.block.setPointerCapture(drag.pointerId); } catch { /* the pointer is gone */ }
    navigator.vibrate?.(10);
    const loop = () => {
      if (!drag?.active) return;
      const r = scroller.getBoundingClientRect();
      const edge = 36;
      const speed = drag.y < r.top + edge ? -8 : (drag.y > r.bottom - edge ? 8 : 0);
      if (speed) { scroller.scrollTop += speed; follow(); }
      drag.frame = requestAnimationFrame(loop);
    };
    drag.frame = requestAnimationFrame(loop);
  }

  function follow() {
    const { it, p } = drag;
    const steps = Math.round((drag.y - drag.y0 + scroller.scrollTop - drag.scroll0) / (PX * STEP));
    if (drag.resize) {
      p.minutes = clamp(it.minutes + steps * STEP, STEP, MAX_MINUTES);
    } else {
      p.start = clamp(it.start + steps * STEP, 0, DAY - STEP);
      if (week()) {
        const col = [...body.querySelectorAll('.tl-col')].find((c) => {
          const r = c.getBoundingClientRect();
          return drag.x >= r.left && drag.x < r.right;
        });
        if (col) p.date = col.dataset.date;
      }
    }
    position(it, p);
  }

  window.addEventListener('pointermove', (e) => {
    if (!drag || e.pointerId !== drag.pointerId) return;
    drag.x = e.clientX;
    drag.y = e.clientY;
    const distance = Math.hypot(e.clientX - drag.x0, e.clientY - drag.y0);
    if (!drag.active) {
      if (drag.touch) { if (distance > 10) cancelDrag(); return; } // a swipe: the page scrolls
      if (distance < 5) return;
      activate();
    }
    e.preventDefault();
    follow();
  }, { signal });

  // A touch that picked a block up moves it instead of scrolling.
  el.addEventListener('touchmove', (e) => { if (drag?.active) e.preventDefault(); }, { passive: false });

  window.addEventListener('pointerup', (e) => {
    if (!drag || e.pointerId !== drag.pointerId) return;
    const { it, active, p, resize } = drag;
    endDrag();
    if (!active) return;
    justDragged = true;
    setTimeout(() => { justDragged = false; }, 0);
    it.pending = p;
    announce(t(resize ? 'timeline.resizedTo' : 'timeline.movedTo', { title: it.schedule.title, when: spoken(it, p) }));
    commit(it);
  }, { signal });

  window.addEventListener('pointercancel', (e) => { if (drag && e.pointerId === drag.pointerId) cancelDrag(); }, { signal });

  function endDrag() {
    clearTimeout(drag.timer);
    cancelAnimationFrame(drag.frame);
    drag.block.classList.remove('is-dragging');
    el.classList.remove('is-dragging');
    drag = null;
  }

  function cancelDrag() {
    if (!drag) return;
    const { it, active } = drag;
    endDrag();
    if (active) { position(it, it); finish(); }
  }

  // ------------------------------------------------------------ empty time

  const slotHint = h('div', { class: 'tl-slot-hint', 'aria-hidden': 'true', hidden: true });
  const slotAt = (col, clientY) => clamp(Math.floor((clientY - col.getBoundingClientRect().top) / PX / STEP) * STEP, 0, DAY - STEP);
  body.addEventListener('click', (e) => {
    const col = e.target.closest('.tl-col');
    if (!col || e.target.closest('.tl-block') || justDragged || pressedOnBlock) return;
    create?.(col.dataset.date, hhmm(slotAt(col, e.clientY)));
  });
  body.addEventListener('pointermove', (e) => {
    const col = e.target.closest('.tl-col');
    if (drag || e.pointerType !== 'mouse' || !col || e.target.closest('.tl-block')) { slotHint.hidden = true; return; }
    const start = slotAt(col, e.clientY);
    slotHint.textContent = `+ ${formatTime(start)}`;
    slotHint.style.top = `${start * PX}px`;
    if (slotHint.parentElement !== col) col.append(slotHint);
    slotHint.hidden = false;
  });
  body.addEventListener('pointerleave', () => { slotHint.hidden = true; });

  return { el, set };
}
