// Schedules: a Monday–Sunday week strip, the selected day's schedules in start-time order, the detail dialog
// with every state action, and the create/edit form. Dates and times are in the member's zone.
import { api, fieldErrors, reasonOf, TITLE_MAX, DESCRIPTION_MAX } from '../api.js';
import { t, formatDuration } from '../i18n.js';
import { formatDate, formatDateRange, formatWall, formatTime, DATE, TIME } from '../locale.js';
import { session, emit, on } from '../state.js';
import { h, mount, uid, toast, showError, openDialog, confirmDialog, statusPanel, field, chips, busy, hoursMinutes } from '../ui.js';
import {
  todayIn, addDays, weekOf, mondayOf, dateOf, parseDuration, clock, utcLabel, nowIn,
} from '../time.js';
import { elapsedNow, transition, tick, correctDuration } from '../player.js';
import { pressLabel } from '../replay.js';
import { describe, presets } from '../recurrence.js';
import { reminderPicker, reminderHint, reminderSummary } from '../reminders.js';
import { loadBusy, busyCard, interleave, prefillFrom } from '../busy.js';
import { createTimeline, isoMinutes, plannedMinutes, DEFAULT_MINUTES } from '../timeline.js';
import { parseQuickAdd } from '../quickadd.js';
import { openShortcutHelp } from '../shortcuts.js';
import { dateTimeField } from '../timefields.js';

/** The planned lengths offered in the form, in minutes. */
const LENGTHS = [15, 30, 45, 60, 90, 120, 180, 240, 360, 480];
/** "45 min", "2 h", "1 h 30 min". */
export function lengthLabel(minutes) {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (!hours) return t('duration.m', { m: rest });
  return rest ? t('duration.hm', { h: hours, m: String(rest).padStart(2, '0') }) : t('duration.h', { h: hours });
}

export const TYPES = ['DEEP_WORK', 'QUICK_TASK', 'ADMIN_TASK'];

const byStart = (a, b) => String(a.date?.dateTime).localeCompare(String(b.date?.dateTime)) || a.id - b.id;

/** The next full hour in the member's zone, as a datetime-local value on `date` (today by default). */
function defaultStart(date) {
  const now = nowIn(session.zone);
  const hour = Math.min(23, Number(now.slice(11, 13)) + 1);
  return `${date || dateOf(now)}T${String(hour).padStart(2, '0')}:00`;
}

const typeLabel = (type) => t(`type.${type}`);
const stateLabel = (state) => t(`state.${state}`);

// ---------------------------------------------------------------- card

export function scheduleCard(schedule, { onOpen } = {}) {
  const elapsed = parseDuration(schedule.duration);
  return h('article', { class: `card schedule-card state-${schedule.state}`, dataset: { id: schedule.id } },
    h('time', { class: 'schedule-time', datetime: schedule.date?.dateTime }, formatTime(schedule.date?.dateTime)),
    h('div', { class: 'schedule-main' },
      h('h3', { class: 'card-title' },
        h('button', { class: 'link-btn', type: 'button', onclick: () => onOpen?.(schedule) }, schedule.title)),
      h('p', { class: 'card-meta' },
        h('span', { class: `pill type-${schedule.scheduleType}` }, typeLabel(schedule.scheduleType)),
        h('span', { class: `pill state-pill state-${schedule.state}` }, stateLabel(schedule.state)),
        queuedPill(schedule),
        // A running one's clock ticks (from runningSince); the others show their tracked time.
        schedule.state === 'IN_PROGRESS' ? tick(h('span', { class: 'muted card-clock' }), schedule)
          : elapsed > 0 || schedule.state !== 'NOT_STARTED' ? h('span', { class: 'muted' }, formatDuration(elapsed)) : null,
        schedule.state === 'NOT_STARTED' ? reminderHint(schedule) : null),
      schedule.description ? h('p', { class: 'card-desc' }, schedule.description) : null),
    h('div', { class: 'card-actions' }, quickAction(schedule)));
}

/** "⏳ Waiting to be sent" on a schedule whose presses made offline are queued (offline.js). */
export function queuedPill(schedule) {
  if (!schedule.queued?.length) return null;
  return h('span', { class: 'pill pill-queued', title: schedule.queued.map(pressLabel).join('\n') },
    h('span', { 'aria-hidden': 'true' }, '⏳ '), t('offline.waiting'));
}

function quickAction(schedule) {
  const make = (action, icon, label) => h('button', {
    class: `round-btn action-${action}`, type: 'button', 'aria-label': `${label}: ${schedule.title}`, title: label,
    onclick: (e) => { e.currentTarget.disabled = true; transition(schedule, action); },
  }, h('span', { 'aria-hidden': 'true' }, icon));
  switch (schedule.state) {
    case 'NOT_STARTED': return make('start', '▶', t('schedules.action.start'));
    case 'IN_PROGRESS': return make('complete', '✓', t('schedules.action.complete'));
    case 'SUSPENDED': return make('start', '▶', t('schedules.action.resume'));
    default: return h('span', { class: 'done-mark', 'aria-hidden': 'true' }, '✓'); // the state pill says it
  }
}

// ---------------------------------------------------------------- detail dialog

/**
 * Opens a schedule's detail; resolves when the dialog closes. `reminder` ({action: 'start'|'snooze', key}):
 * the member chose that action on a reminder but the service worker could not do it (no session then): the
 * detail offers it, focused, for one more click.
 */
export function openScheduleDetail(id, { onClose, reminder } = {}) {
  let offered = false;
  let timer = null;
  const controller = new AbortController();
  const dialog = openDialog({
    title: t('schedules.detail'),
    content: statusPanel('loading', t('common.loading')),
    onClose: () => { clearInterval(timer); controller.abort(); onClose?.(); },
  });

  async function load() {
    clearInterval(timer);
    let schedule;
    try {
      schedule = await api.schedules.get(id);
    } catch (error) {
      mount(dialog.body, statusPanel('error', t('schedules.loadFailed'), error.userMessage, { label: t('common.retry'), run: load }));
      return;
    }
    const title = dialog.panel.querySelector('.dialog-title');
    title.textContent = schedule.title;
    const elapsed = h('dd', { class: 'elapsed' }, clock(elapsedNow(schedule)));
    if (schedule.state === 'IN_PROGRESS') timer = setInterval(() => { elapsed.textContent = clock(elapsedNow(schedule)); }, 1000);
    const task = h('dd', {}, '—');
    const repeats = h('dd', { class: 'repeats' }, '…');
    const act = (action, label, cls = '') => h('button', {
      class: `btn ${cls}`, type: 'button',
      onclick: async (e) => { await busy(e.currentTarget, label, () => transition(schedule, action)); },
    }, label);
    const actions = [];
    const s = schedule.state;
    if (s === 'NOT_STARTED') actions.push(act('start', t('schedules.action.start'), 'btn-primary'), act('complete', t('schedules.action.completeNow')));
    if (s === 'IN_PROGRESS') actions.push(act('suspend', t('schedules.action.pause')), act('complete', t('schedules.action.complete'), 'btn-primary'));
    if (s === 'SUSPENDED') actions.push(act('start', t('schedules.action.resume'), 'btn-primary'));
    if (s !== 'NOT_STARTED') actions.push(act('cancel', t(s === 'COMPLETED' ? 'schedules.action.reset' : 'timer.discardButton')));
    if (s === 'COMPLETED') {
      actions.push(h('button', { class: 'btn', type: 'button', onclick: () => openCorrectDuration(schedule) }, t('timer.correct')));
    }
    let preferred = null;
    if (reminder && !offered && s === 'NOT_STARTED') {
      if (reminder.action === 'start') preferred = actions[0];
      if (reminder.action === 'snooze' && reminder.key) {
        preferred = h('button', { class: 'btn', type: 'button', onclick: (e) => snooze(reminder.key, e.currentTarget, dialog) }, t('reminders.snoozeButton'));
        actions.push(preferred);
      }
    }
    const manage = [];
    if (s === 'NOT_STARTED') {
      manage.push(
        h('button', { class: 'btn', type: 'button', onclick: () => { dialog.close(); openScheduleForm({ schedule }); } }, t('common.edit')),
        h('button', { class: 'btn', type: 'button', onclick: (e) => move(schedule, -1, e.currentTarget) }, t('schedules.movePrev')),
        h('button', { class: 'btn', type: 'button', onclick: (e) => move(schedule, 1, e.currentTarget) }, t('schedules.moveNext')));
    }
    if (s === 'NOT_STARTED' || s === 'COMPLETED') {
      manage.push(h('button', { class: 'btn btn-danger', type: 'button', onclick: () => remove(schedule, dialog) }, t('common.delete')));
    }
    mount(dialog.body,
      schedule.description ? h('p', { class: 'detail-desc' }, schedule.description) : null,
      h('p', { class: 'card-meta' },
        h('span', { class: `pill state-pill state-${s}` }, stateLabel(s)),
        h('span', { class: 'pill' }, typeLabel(schedule.scheduleType)),
        queuedPill(schedule)),
      schedule.queued?.length ? h('div', { class: 'queued-detail' },
        h('p', {}, t('offline.detail')),
        h('ul', {}, schedule.queued.map((item) => h('li', {}, pressLabel(item))))) : null,
      h('dl', { class: 'facts' },
        h('dt', {}, t('schedules.start')),
        h('dd', { class: 'start' }, formatWall(schedule.date.dateTime, { ...DATE, ...TIME }),
          ' ', h('span', { class: 'muted' }, `(${schedule.date.zoneId}, ${utcLabel(schedule.date.zoneId)})`)),
        schedule.plannedDuration ? [h('dt', {}, t('schedules.form.length')), h('dd', { class: 'planned' }, lengthLabel(plannedMinutes(schedule)))] : null,
        h('dt', {}, t('schedules.elapsed')), elapsed,
        schedule.taskId ? [h('dt', {}, t('schedules.task')), task] : null,
        schedule.seriesId ? [h('dt', {}, t('schedules.repeats')), repeats] : null,
        schedule.reminders !== undefined ? [h('dt', {}, t('reminders.label')),
          h('dd', { class: 'reminders-fact' }, Array.isArray(schedule.reminders) ? reminderSummary(schedule.reminders) : t('reminders.followsDefaults'))] : null),
      h('div', { class: 'button-row', role: 'group', 'aria-label': t('schedules.stateActions') }, actions),
      manage.length ? h('div', { class: 'button-row', role: 'group', 'aria-label': t('schedules.manage') }, manage) : null);
    if (preferred) { offered = true; preferred.focus(); }
    dialog.refocus();
    if (schedule.seriesId) {
      api.schedules.series(schedule.seriesId).then((series) => {
        repeats.textContent = describe(series.recurrence.rrule) || series.recurrence.rrule;
      }).catch(() => { repeats.textContent = '—'; });
    }
    if (schedule.taskId) {
      api.tasks.get(schedule.taskId).then((linked) => {
        mount(task, h('a', { href: `/app/tasks/${linked.id}`, onclick: () => dialog.close() }, linked.title),
          linked.completed ? ` (${t('tasks.done')})` : '');
      }).catch(() => mount(task, `#${schedule.taskId}`));
    }
  }

  on('schedule:changed', (detail) => { if (!detail.id || String(detail.id) === String(id)) load(); }, controller.signal);
  load();
  return dialog;
}

/**
 * Corrects a completed schedule's tracked time: hours and minutes (0 to 24 hours, checked here; the server's
 * refusal of `duration` under the field, a 409 — no longer completed — above the buttons).
 */
function openCorrectDuration(schedule) {
  const amount = hoursMinutes(t('timer.correctLabel'), parseDuration(schedule.duration) / 60, { hint: t('timer.correctHint') });
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const formId = uid('correct');
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', form: formId }, t('common.save'));
  const form = h('form', { id: formId, class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    formError.hidden = true;
    const minutes = amount.minutes();
    if (!(minutes >= 0 && minutes <= 24 * 60)) {
      amount.setError(t('timer.correctInvalid'));
      amount.focus();
      return;
    }
    amount.setError('');
    await busy(submit, t('common.saving'), async () => {
      try {
        await correctDuration(schedule, minutes);
        dialog.close();
        toast(t('timer.corrected', { title: schedule.title, time: lengthLabel(minutes) }), { type: 'success' });
      } catch (error) {
        if (!fieldErrors(error, { duration: amount })) {
          formError.textContent = error.userMessage || t('error.generic');
          formError.hidden = false;
        }
      }
    });
  } }, amount, formError);
  const dialog = openDialog({
    title: t('timer.correctTitle', { title: schedule.title }), content: form,
    actions: [h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, t('common.cancel')), submit],
  });
  amount.focus();
  return dialog;
}

async function move(schedule, days, button) {
  const { dateTime, zoneId } = schedule.date;
  const target = `${addDays(dateOf(dateTime), days)}T${dateTime.slice(11, 19) || '00:00:00'}`;
  await busy(button, t('common.saving'), async () => {
    try {
      await api.schedules.update(schedule.id, { date: { dateTime: target, zoneId } });
      toast(t(days < 0 ? 'schedules.movedPrev' : 'schedules.movedNext', { title: schedule.title }), { type: 'success' });
      emit('schedule:changed', { id: schedule.id, reason: 'moved', date: dateOf(target) });
    } catch (error) {
      showError(error);
    }
  });
}

const SNOOZE_MINUTES = 10;

/** Reminds again in ten minutes (a reminder's snooze, offered when the service worker could not do it). */
async function snooze(key, button, dialog) {
  await busy(button, t('common.saving'), async () => {
    try {
      await api.push.snooze(key, SNOOZE_MINUTES);
      dialog.close();
      toast(t('reminders.snoozed', { n: SNOOZE_MINUTES }), { type: 'success' });
    } catch (error) {
      showError(error);
    }
  });
}

/** The choice of `this | following | all` for an occurrence of a repeating schedule (null: not one). */
function scopeChoice(schedule, legend, { seriesWide = false } = {}) {
  if (!schedule.seriesId) return null;
  const scopes = seriesWide ? ['following', 'all'] : ['this', 'following', 'all'];
  return chips(legend, uid('scope'), scopes.map((v) => ({ value: v, label: t(`scope.${v}`) })), scopes[0]);
}

async function remove(schedule, dialog) {
  const scope = scopeChoice(schedule, t('scope.deleteLegend'));
  const ok = await confirmDialog(t('schedules.confirmDelete', { title: schedule.title }), { confirmLabel: t('common.delete'), danger: true, extra: scope });
  if (!ok) return;
  try {
    await api.schedules.remove(schedule.id, scope?.value);
    dialog.close();
    toast(t('schedules.deleted'), { type: 'success' });
    emit('schedule:changed', { id: schedule.id, reason: 'deleted' });
  } catch (error) {
    showError(error);
  }
}

// ---------------------------------------------------------------- form dialog

/**
 * Create (no `schedule`) or edit a schedule. `date` preselects the day when creating; `prefill` ({title,
 * description, start: "YYYY-MM-DDTHH:mm"}) fills a new one in (a busy block turned into a schedule).
 */
export function openScheduleForm({ schedule, date, prefill, onClose } = {}) {
  const editing = Boolean(schedule);
  const title = h('input', { type: 'text', required: true, value: schedule?.title || prefill?.title || '', autofocus: true });
  const description = h('textarea', { rows: 3 }, schedule?.description || prefill?.description || '');
  const initialStart = schedule ? schedule.date.dateTime.slice(0, 16) : (prefill?.start ? prefill.start.slice(0, 16) : defaultStart(date));
  const zone = schedule?.date.zoneId || session.zone;
  // The browser's datetime-local, or its date input and time selects when the member's clock is not the browser's.
  const startField = dateTimeField(t('schedules.form.start'), initialStart, { hint: t('schedules.form.zoneHint', { zone, offset: utcLabel(zone) }) });
  const start = startField.control;
  const fields = {
    title: field(t('schedules.form.title'), title, { max: TITLE_MAX }),
    description: field(t('schedules.form.description'), description, { max: DESCRIPTION_MAX }),
    start: startField,
  };
  const type = chips(t('schedules.form.type'), uid('type'), TYPES.map((v) => ({ value: v, label: typeLabel(v) })), schedule?.scheduleType || 'DEEP_WORK');
  // Planned length (plannedDuration): not set (the timeline shows an hour), or a choice; an odd length set
  // elsewhere stays offered so an edit keeps it.
  const initialLength = schedule?.plannedDuration ? String(plannedMinutes(schedule)) : '';
  const lengths = [...new Set([...LENGTHS, ...(initialLength ? [Number(initialLength)] : [])])].sort((a, b) => a - b);
  const length = h('select', {},
    h('option', { value: '', selected: initialLength === '' }, t('schedules.form.lengthNone')),
    lengths.map((m) => h('option', { value: String(m), selected: String(m) === initialLength }, lengthLabel(m))));
  fields.length = field(t('schedules.form.length'), length, { hint: t('schedules.form.lengthHint') });
  // A repeat choice (presets from the start date, or a rule of one's own with its summary): when creating, and
  // when editing an occurrence of a repeating schedule (its series' rule, which "this one" cannot change).
  const series = editing && schedule.seriesId;
  const repeat = h('select', {});
  const rule = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'FREQ=WEEKLY;BYDAY=MO' });
  const ruleSummary = h('p', { class: 'field-hint', 'aria-live': 'polite' });
  const ruleField = field(t('repeat.rule'), rule, { hint: t('repeat.ruleHint') });
  ruleField.append(ruleSummary);
  const repeatLabel = (value, date) => {
    const preset = presets(date).find((p) => p.value === value);
    return value === 'none' ? t('repeat.none') : value === 'custom' ? t('repeat.custom') : describe(preset.rrule);
  };
  let seriesRule = null; // the series' rule as loaded, when editing an occurrence
  const fillRepeat = () => {
    const day = dateOf(start.value || defaultStart(date));
    const chosen = repeat.value || 'none';
    const choices = presets(day).filter((p) => !(series && p.value === 'none'));
    mount(repeat, choices.map((p) => h('option', { value: p.value, selected: p.value === chosen }, repeatLabel(p.value, day))));
    ruleField.hidden = repeat.value !== 'custom';
  };
  const chosenRule = () => {
    if (repeat.value === 'custom') return rule.value.trim();
    return presets(dateOf(start.value)).find((p) => p.value === repeat.value)?.rrule ?? null;
  };
  const summarize = () => { ruleSummary.textContent = rule.value.trim() ? (describe(rule.value) || '') : ''; };
  repeat.addEventListener('change', () => { ruleField.hidden = repeat.value !== 'custom'; });
  start.addEventListener('change', fillRepeat);
  rule.addEventListener('input', summarize);
  const repeatField = editing && !series ? null : field(t('repeat.label'), repeat);
  if (!editing) fillRepeat();
  if (series) {
    repeat.disabled = true;
    fillRepeat();
    api.schedules.series(schedule.seriesId).then((loaded) => {
      seriesRule = loaded.recurrence.rrule;
      const preset = presets(dateOf(start.value)).find((p) => p.rrule === seriesRule);
      repeat.value = preset ? preset.value : 'custom';
      if (!preset) { rule.value = seriesRule; summarize(); }
      ruleField.hidden = repeat.value !== 'custom';
      repeat.disabled = false;
    }).catch(() => { repeatField.hidden = true; });
  }
  // Reminders: the member's defaults (sends nothing) or a list of its own; an occurrence shows its series' list.
  const reminders = reminderPicker(schedule?.reminders, { defaults: api.members.reminders().catch(() => undefined) });
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, t(editing ? 'common.save' : 'schedules.form.create'));
  const formId = uid('schedule-form');

  const form = h('form', { id: formId, class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    formError.hidden = true;
    const custom = (!editing || series) && repeat.value === 'custom';
    const errors = {
      title: title.value.trim() ? fields.title.tooLong() : t('form.titleRequired'),
      description: fields.description.tooLong(), // optional
      start: start.value ? '' : t('schedules.form.startRequired'),
      rule: custom && !rule.value.trim() ? t('repeat.ruleRequired') : '',
    };
    for (const [k, m] of Object.entries(errors)) (k === 'rule' ? ruleField : fields[k]).setError(m);
    reminders.setError('');
    const first = Object.keys(errors).find((k) => errors[k]);
    if (first) return ({ title, description, start, rule })[first].focus();
    const body = {
      title: title.value.trim(), description: description.value.trim(), scheduleType: type.value,
      date: { dateTime: `${start.value.slice(0, 16)}:00`, zoneId: zone },
    };
    if (!editing && repeat.value !== 'none') {
      const preset = presets(dateOf(start.value)).find((p) => p.value === repeat.value);
      body.recurrence = { rrule: custom ? rule.value.trim() : preset.rrule };
    }
    // A new rule for an occurrence's series: only this and the following ones, or all of them.
    const newRule = series && seriesRule !== null ? chosenRule() : null;
    const ruleChanged = Boolean(newRule && newRule !== seriesRule);
    if (ruleChanged) body.recurrence = { rrule: newRule };
    if (!editing && length.value) body.plannedDuration = isoMinutes(Number(length.value));
    if (editing && length.value !== initialLength) body.plannedDuration = length.value ? isoMinutes(Number(length.value)) : null;
    if (!editing && reminders.value !== undefined) body.reminders = reminders.value;
    if (editing && reminders.changed()) body.reminders = reminders.value ?? null; // null: back to the defaults
    // An occurrence of a repeating schedule: this one, this and the following ones, or all of them?
    let scope;
    const choice = editing ? scopeChoice(schedule, t('scope.legend'), { seriesWide: ruleChanged }) : null;
    if (choice) {
      const ok = await confirmDialog(t('scope.title'), { confirmLabel: t('scope.apply'), extra: choice });
      if (!ok) return;
      scope = choice.value;
    }
    await busy(submit, t('common.saving'), async () => {
      try {
        const saved = editing ? await api.schedules.update(schedule.id, body, scope) : await api.schedules.create(body);
        dialog.close();
        toast(t(editing ? 'schedules.updated' : 'schedules.created'), { type: 'success' });
        emit('schedule:changed', { id: saved?.id ?? schedule?.id, reason: editing ? 'updated' : 'created', date: dateOf(body.date.dateTime) });
      } catch (error) {
        const reminderErrors = (error.data?.errors || []).filter((e) => String(e.field || '').startsWith('reminders'));
        if (reminderErrors.length) reminders.setError(reminderErrors.map(reasonOf).join(' '));
        fieldErrors(error, { title: fields.title, description: fields.description });
        formError.textContent = error.userMessage || t('error.generic');
        formError.hidden = false;
      }
    });
  } }, fields.title, fields.description, type, fields.start, fields.length, repeatField, editing && !series ? null : ruleField, reminders, formError);

  const dialog = openDialog({
    title: t(editing ? 'schedules.form.editTitle' : 'schedules.form.newTitle'),
    content: form,
    actions: [
      h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, t('common.cancel')),
      submit,
    ],
    onClose,
  });
  submit.setAttribute('form', formId);
  return dialog;
}

// ---------------------------------------------------------------- quick add

/**
 * One line for a schedule on the day shown — "9:00 90m deep Write Q1 plan" (quickadd.js) — with what it will make
 * shown as it is typed; Enter makes it (deep work and the next full hour unless said; no planned length unless
 * said). `date()` is the day selected.
 */
function quickAdd(date) {
  const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'done', placeholder: t('quick.placeholder') });
  const quick = field(t('quick.label'), input);
  const preview = h('p', { class: 'quick-preview', id: uid('quick-preview') });
  const help = h('button', { class: 'link-btn quick-help', type: 'button', onclick: () => openShortcutHelp() }, t('quick.syntax'));
  input.setAttribute('aria-describedby', `${preview.id} ${input.getAttribute('aria-describedby')}`);
  quick.insertBefore(preview, quick.querySelector('.field-error'));
  const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, t('quick.add'));
  const read = () => {
    const parsed = parseQuickAdd(input.value);
    const day = date();
    const start = parsed.time ? `${day}T${parsed.time}` : defaultStart(day);
    const minutes = parsed.minutes ?? DEFAULT_MINUTES;
    const endMinutes = Math.min(24 * 60, Number(start.slice(11, 13)) * 60 + Number(start.slice(14, 16)) + minutes);
    return { ...parsed, type: parsed.type || 'DEEP_WORK', start, endMinutes };
  };
  const show = () => {
    quick.setError('');
    if (!input.value.trim()) { preview.textContent = t('quick.hint'); return; }
    const x = read();
    preview.textContent = t('quick.preview', {
      type: typeLabel(x.type), day: formatDate(x.start.slice(0, 10), { weekday: 'short', day: 'numeric', month: 'short' }),
      from: formatTime(x.start), to: formatTime(x.endMinutes), title: x.title || t('quick.noTitle'),
    }) + (x.minutes ? '' : ` ${t('quick.noLength')}`);
  };
  input.addEventListener('input', show);
  show();
  const form = h('form', { class: 'quick-add', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const x = read();
    const problem = !x.title ? t('form.titleRequired') : x.title.length > TITLE_MAX ? t('form.tooLong', { max: TITLE_MAX, over: x.title.length - TITLE_MAX }) : '';
    quick.setError(problem);
    if (problem) { input.focus(); return; }
    const body = { title: x.title, scheduleType: x.type, date: { dateTime: `${x.start}:00`, zoneId: session.zone } };
    if (x.minutes) body.plannedDuration = isoMinutes(x.minutes);
    await busy(submit, t('common.saving'), async () => {
      try {
        const saved = await api.schedules.create(body);
        input.value = '';
        show();
        toast(t('quick.added', { title: x.title, from: formatTime(x.start) }), { type: 'success' });
        emit('schedule:changed', { id: saved?.id, reason: 'created', date: x.start.slice(0, 10) });
      } catch (error) {
        if (!fieldErrors(error, { title: quick, date: quick, plannedDuration: quick, scheduleType: quick })) quick.setError(error.userMessage);
      }
    });
    input.focus();
  } }, h('div', { class: 'quick-row' }, quick, submit), help);
  return form;
}

// ---------------------------------------------------------------- page

let active = null; // the mounted page's handle, for update()

export async function render(ctx) {
  const { main, setTitle, signal } = ctx;
  setTitle(t('schedules.title'));
  const page = { date: ctx.query.get('date') || todayIn(session.zone), week: [], monday: null, view: initialView(ctx.query) };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(page.date)) page.date = todayIn(session.zone);
  let timeline = null;

  const weekLabelId = uid('week');
  const overdue = h('div', { class: 'overdue-slot' });
  const weekLabel = h('h2', { class: 'week-label', id: weekLabelId });
  const strip = h('div', { class: 'week-strip', role: 'group', 'aria-labelledby': weekLabelId });
  const total = h('p', { class: 'week-total' });
  const dayTitle = h('h2', { class: 'day-title' });
  const list = h('div', { class: 'schedule-list' });
  // List (the day's cards), Day or Week (the timeline): ?view=, remembered on this device.
  const viewButtons = VIEWS.map((view) => h('button', {
    class: 'seg', type: 'button', dataset: { view }, onclick: () => setView(view),
  }, t(`timeline.view.${view}`)));
  const viewSwitch = h('div', { class: 'segmented view-switch', role: 'group', 'aria-label': t('timeline.viewLabel') }, viewButtons);
  const navButton = (label, icon, run) => h('button', { class: 'icon-btn', type: 'button', 'aria-label': label, title: label, onclick: run }, h('span', { 'aria-hidden': 'true' }, icon));

  main.append(
    overdue,
    h('section', { class: 'week', 'aria-label': t('schedules.week') },
      h('div', { class: 'week-head' },
        navButton(t('schedules.prevWeek'), '‹', () => select(addDays(page.date, -7))),
        weekLabel,
        navButton(t('schedules.nextWeek'), '›', () => select(addDays(page.date, 7))),
        h('button', { class: 'btn btn-small', type: 'button', onclick: () => select(todayIn(session.zone)) }, t('schedules.today'))),
      strip, total),
    h('section', { class: 'day', 'aria-labelledby': 'day-title' },
      h('div', { class: 'day-head' },
        Object.assign(dayTitle, { id: 'day-title' }),
        viewSwitch,
        h('button', { class: 'btn btn-small', type: 'button', onclick: () => refreshAll() }, t('common.refresh'))),
      quickAdd(() => page.date),
      list));

  swipe(strip, (direction) => select(addDays(page.date, direction * 7)));
  // Roving focus: ←/→ the day before/after (across weeks), Home/End Monday/Sunday; the day is selected as it is focused.
  strip.addEventListener('keydown', (e) => {
    const steps = { ArrowLeft: -1, ArrowRight: 1 };
    let date = null;
    if (e.key in steps) date = addDays(page.date, steps[e.key]);
    else if (e.key === 'Home') date = mondayOf(page.date);
    else if (e.key === 'End') date = addDays(mondayOf(page.date), 6);
    if (!date || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    select(date);
    strip.querySelector(`[data-date="${date}"]`)?.focus();
  });

  function renderStrip() {
    const today = todayIn(session.zone);
    const days = weekOf(page.date);
    const hadFocus = strip.contains(document.activeElement); // redrawn under the keyboard: keep it on the day
    weekLabel.textContent = formatDateRange(days[0], days[6]); // "30 Nov – 6 Dec 2026", "Nov 30 – Dec 6, 2026"
    mount(strip, days.map((date) => {
      const items = page.week.filter((s) => dateOf(s.date?.dateTime) === date);
      const open = items.filter((s) => s.state !== 'COMPLETED').length;
      const dot = items.length ? (open ? 'dot dot-open' : 'dot dot-done') : 'dot';
      const summary = items.length ? t('schedules.daySummary', { n: items.length, open }) : t('schedules.dayEmpty');
      const name = formatDate(date, { weekday: 'short' });
      const num = String(Number(date.slice(8, 10)));
      // The name is the visible text ("Mon 9") and more for screen readers; one Tab stop for the week, arrow keys
      // between days.
      return h('button', {
        class: `day-btn${date === today ? ' is-today' : ''}`, type: 'button', dataset: { date },
        tabindex: date === page.date ? '0' : '-1',
        'aria-pressed': String(date === page.date), 'aria-current': date === today ? 'date' : null,
        onclick: () => select(date),
      },
      h('span', { class: 'day-name' }, name), ' ',
      h('span', { class: 'day-num' }, num),
      h('span', { class: 'sr-only' }, `, ${formatDate(date, { weekday: 'long', month: 'long', day: 'numeric' })}${date === today ? `, ${t('schedules.today')}` : ''}. ${summary}`),
      h('span', { class: dot, 'aria-hidden': 'true' }));
    }));
    if (hadFocus) strip.querySelector(`[data-date="${page.date}"]`)?.focus();
    dayTitle.textContent = page.view === 'week'
      ? formatDateRange(days[0], days[6], { month: 'long', day: 'numeric' })
      : formatDate(page.date, { weekday: 'long', month: 'long', day: 'numeric' });
    for (const b of viewButtons) b.setAttribute('aria-pressed', String(b.dataset.view === page.view));
  }

  function setView(view) {
    if (!VIEWS.includes(view) || view === page.view) return;
    page.view = view;
    try { localStorage.setItem(VIEW_KEY, view); } catch { /* private mode */ }
    const url = new URL(location.href);
    url.searchParams.set('view', view);
    history.replaceState(null, '', url.pathname + url.search);
    list.replaceChildren();
    renderStrip();
    loadDay();
  }

  /** The Day or Week grid: the schedules and busy time of its days; moves and new lengths PATCHed. */
  async function loadTimeline() {
    const { date, view } = page;
    const days = view === 'week' ? weekOf(date) : [date];
    if (!timeline) {
      timeline = createTimeline({
        signal,
        open: (schedule) => openScheduleDetail(schedule.id),
        create: (day, time) => openScheduleForm({ date: day, prefill: { start: `${day}T${time}` } }),
        makeFromBusy: (block, day) => openScheduleForm({ date: day, prefill: prefillFrom(block, day) }),
        save: saveFromTimeline,
      });
    }
    if (timeline.el.parentElement !== list) mount(list, timeline.el);
    list.setAttribute('aria-busy', 'true');
    try {
      const busyCall = view === 'week' ? api.calendar.busyWeek : api.calendar.busy;
      const [items, busy] = await Promise.all([
        view === 'week' ? api.schedules.week(date, session.zone) : api.schedules.day(date, session.zone),
        busyCall(date, session.zone, { signal }).catch((error) => { if (error?.name === 'AbortError') throw error; return []; }),
      ]);
      if (date !== page.date || view !== page.view || signal.aborted) return;
      timeline.set({ days, schedules: Array.isArray(items) ? items : [], busy: Array.isArray(busy) ? busy : [], selected: date });
    } catch (error) {
      if (error?.name === 'AbortError' || date !== page.date || view !== page.view) return;
      mount(list, statusPanel('error', t('schedules.loadFailed'), error.userMessage, { label: t('common.retry'), run: loadDay }));
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  async function loadWeek() {
    const monday = mondayOf(page.date);
    try {
      const week = await api.schedules.week(page.date, session.zone);
      if (mondayOf(page.date) !== monday) return;
      page.week = Array.isArray(week) ? week : [];
    } catch {
      page.week = [];
    }
    renderStrip();
  }

  async function loadTotal() {
    const monday = mondayOf(page.date);
    try {
      const stats = await api.statistics(monday, session.zone);
      if (mondayOf(page.date) !== monday) return;
      total.textContent = t('schedules.weekTotal', { total: formatDuration(parseDuration(stats.totalWorkElapsedTime)) });
    } catch {
      total.textContent = t('schedules.weekTotalUnavailable');
    }
  }

  async function loadDay() {
    if (page.view !== 'list') { await loadTimeline(); return; }
    const date = page.date;
    if (!list.children.length) mount(list, statusPanel('loading', t('schedules.loading')));
    list.setAttribute('aria-busy', 'true');
    try {
      // Busy time from the member's other calendars comes alongside; without it the day still shows.
      const [items, busy] = await Promise.all([api.schedules.day(date, session.zone), loadBusy(date, session.zone, { signal })]);
      if (date !== page.date || signal.aborted) return;
      const sorted = (Array.isArray(items) ? items : []).slice().sort(byStart);
      const emptyPanel = () => statusPanel('empty', t('schedules.empty'), t('schedules.emptyHint'),
        { label: t('schedules.add'), run: () => openScheduleForm({ date: page.date }) });
      if (!sorted.length && !busy.length) {
        mount(list, emptyPanel());
      } else {
        mount(list, sorted.length ? null : emptyPanel(),
          h('ol', { class: 'cards', 'aria-label': t('schedules.listLabel', { date: dayTitle.textContent }) },
            interleave(sorted, busy).map(({ kind, item }) => h('li', { class: kind === 'busy' ? 'busy-item' : null },
              kind === 'busy'
                ? busyCard(item, { onMake: (b) => openScheduleForm({ date, prefill: prefillFrom(b, date) }) })
                : scheduleCard(item, { onOpen: (x) => openScheduleDetail(x.id) })))));
      }
    } catch (error) {
      if (date !== page.date) return;
      mount(list, statusPanel('error', t('schedules.loadFailed'), error.userMessage, { label: t('common.retry'), run: loadDay }));
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  async function loadOverdue() {
    const today = todayIn(session.zone);
    try {
      const weeks = await Promise.all([api.schedules.week(today, session.zone), api.schedules.week(addDays(today, -7), session.zone)]);
      const late = weeks.flat().filter((s) => dateOf(s.date?.dateTime) < today && s.state !== 'COMPLETED');
      if (!late.length) { mount(overdue); return; }
      const earliest = late.map((s) => dateOf(s.date.dateTime)).sort()[0];
      mount(overdue, h('button', { class: 'banner banner-warn', type: 'button', onclick: () => select(earliest) },
        h('span', { 'aria-hidden': 'true' }, '⚠ '), t('schedules.overdue', { n: late.length })));
    } catch {
      mount(overdue);
    }
  }

  function select(date) {
    const weekChanged = mondayOf(date) !== mondayOf(page.date);
    page.date = date;
    const url = new URL(location.href);
    url.searchParams.set('date', date);
    history.replaceState(null, '', url.pathname + url.search);
    document.querySelector('.fab')?.setAttribute('href', `/app/schedules/new?date=${date}`);
    if (page.view !== 'week' || weekChanged) list.replaceChildren();
    renderStrip();
    loadDay();
    if (weekChanged) { page.week = []; loadWeek(); loadTotal(); }
  }

  function refreshAll() {
    loadWeek();
    loadDay();
    loadTotal();
    loadOverdue();
  }

  on('schedule:changed', (detail) => {
    if (detail.date && detail.reason === 'created' && detail.date !== page.date) select(detail.date);
    else refreshAll();
  }, signal);
  on('task:changed', () => loadDay(), signal);
  on('zone:changed', () => select(todayIn(session.zone)), signal);

  renderStrip();
  refreshAll();
  active = {
    handle: (c) => handleAction(c, page, select, setView),
    signal,
    // Shortcuts: T today, ←/→ the day before/after (a week in the week view).
    keys: (name) => {
      if (name === 'today') select(todayIn(session.zone));
      else select(addDays(page.date, (name === 'prev' ? -1 : 1) * (page.view === 'week' ? 7 : 1)));
      return true;
    },
  };
  signal.addEventListener('abort', () => { if (active?.signal === signal) active = null; });
  handleAction(ctx, page, select, setView);
}

export function update(ctx) {
  active?.handle(ctx);
}

/** A keyboard shortcut on this page (shortcuts.js): 'today' | 'prev' | 'next'. */
export function shortcut(name) {
  return active?.keys(name) ?? false;
}

async function handleAction(ctx, page, select, setView) {
  const back = () => ctx.navigate(`/app/schedules?date=${page.date}${page.view === 'list' ? '' : `&view=${page.view}`}`, { replace: true });
  const view = ctx.query.get('view');
  if (view) setView(view);
  const date = ctx.query.get('date');
  if (!ctx.action && !ctx.query.get('scheduleId') && date && /^\d{4}-\d{2}-\d{2}$/.test(date) && date !== page.date) select(date);
  const scheduleId = ctx.query.get('scheduleId') || (ctx.action === 'open' ? ctx.params.id : null);
  if (ctx.action === 'new') {
    const date = ctx.query.get('date');
    if (date && date !== page.date) select(date);
    openScheduleForm({ date: date || page.date, onClose: back });
  } else if (ctx.action === 'edit') {
    try {
      const schedule = await api.schedules.get(ctx.params.id);
      openScheduleForm({ schedule, onClose: back });
    } catch (error) {
      showError(error);
      back();
    }
  } else if (scheduleId) {
    try {
      const schedule = await api.schedules.get(scheduleId);
      const date = dateOf(schedule.date.dateTime);
      if (date !== page.date) select(date);
    } catch { /* the dialog shows the error */ }
    const action = ctx.query.get('reminder');
    const reminder = action === 'start' || action === 'snooze' ? { action, key: ctx.query.get('key') } : null;
    openScheduleDetail(scheduleId, { onClose: back, reminder });
  }
}

const VIEWS = ['list', 'day', 'week'];
const VIEW_KEY = 'pinit.scheduleView';

/** ?view= when given, else the one last chosen on this device, else the list. */
function initialView(query) {
  const asked = query.get('view');
  if (VIEWS.includes(asked)) return asked;
  try {
    const saved = localStorage.getItem(VIEW_KEY);
    if (VIEWS.includes(saved)) return saved;
  } catch { /* private mode */ }
  return 'list';
}

/**
 * A move or a new length from the timeline: `date` ({dateTime, zoneId}) and/or `minutes` PATCHed (an occurrence
 * of a series: this one only). True when saved; on a refusal (409 once it has started) the reason is shown and
 * the page reloads what the server has.
 */
async function saveFromTimeline(schedule, date, minutes) {
  const body = {};
  if (date) body.date = date;
  if (minutes != null) body.plannedDuration = isoMinutes(minutes);
  try {
    await api.schedules.update(schedule.id, body);
  } catch (error) {
    showError(error);
    emit('schedule:changed', { id: schedule.id, reason: 'failed' });
    return false;
  }
  emit('schedule:changed', { id: schedule.id, reason: date ? 'moved' : 'resized' });
  return true;
}

/** Horizontal swipe on `el` (more than 60 px): direction -1 = previous, +1 = next. Buttons do the same. */
function swipe(el, run) {
  let x0 = null;
  let y0 = null;
  el.addEventListener('pointerdown', (e) => { if (e.pointerType !== 'mouse') { x0 = e.clientX; y0 = e.clientY; } });
  el.addEventListener('pointerup', (e) => {
    if (x0 == null) return;
    const dx = e.clientX - x0;
    const dy = e.clientY - y0;
    x0 = null;
    if (Math.abs(dx) > 60 && Math.abs(dx) > Math.abs(dy) * 1.5) run(dx < 0 ? 1 : -1);
  });
  el.addEventListener('pointercancel', () => { x0 = null; });
}
