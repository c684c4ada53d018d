// Settings: language, the member's time zone (saved to the server), the daily objective, default reminders and
// quiet hours, push on this device, the way to Settings → Calendars (pages/calendars.js), Webhooks
// (pages/webhooks.js), API tokens (pages/tokens.js) and Change password (pages/password.js), Delete account
// (pages/delete-account.js), the export of the member's data (export.js), log out.
import { api, reasonOf, detailOf } from '../api.js';
import { logout } from '../auth.js';
import { t, getLang, setLang, LANGUAGES, formatDuration } from '../i18n.js';
import { session, setZone, emit, on } from '../state.js';
import { h, mount, uid, toast, showError, field, busy, confirmDialog, chips, statusPanel, hoursMinutes } from '../ui.js';
import { reminderChecks } from '../reminders.js';
import { browserZone, utcLabel, parseDuration } from '../time.js';
import { zonePicker } from '../zonepicker.js';
import { timeField, clockPanel } from '../timefields.js';
import { formatTime } from '../locale.js';
import { OBJECTIVE_MIN, OBJECTIVE_MAX, isoFromMinutes } from '../plan.js';
import { pushStatus, enablePush, disablePush, sendPrefsToWorker } from '../push.js';
import { pushHelp } from '../pushhelp.js';
import { exportPanel } from '../export.js';
import * as offline from '../offline.js';

export async function render({ main, setTitle, navigate, signal }) {
  setTitle(t('settings.title'));
  const build = document.documentElement.dataset.build || '';

  // Account
  const me = session.me;
  const account = h('section', { class: 'panel', 'aria-labelledby': 'set-account' },
    h('h2', { id: 'set-account' }, t('settings.account')),
    me ? h('p', {}, h('strong', {}, me.nickname || me.username), ' ', h('span', { class: 'muted' }, `@${me.username}`)) : null,
    h('button', { class: 'btn btn-danger', type: 'button', onclick: async (e) => {
      const button = e.currentTarget;
      const waiting = (await offline.queued()).length;
      const question = waiting ? `${t('settings.confirmLogout')} ${t('settings.logoutDropsQueue', { n: waiting })}` : t('settings.confirmLogout');
      if (!(await confirmDialog(question, { confirmLabel: t('settings.logout'), danger: waiting > 0 }))) return;
      await busy(button, t('settings.loggingOut'), async () => {
        try { if ((await pushStatus()) === 'on') await disablePush(); } catch { /* best effort */ }
        await logout();
        await offline.forget(); // nothing of the member stays on this device
        session.me = null;
        toast(t('settings.loggedOut'), { type: 'success' });
        navigate('/login', { replace: true });
      });
    } }, t('settings.logout')));

  // Language
  const lang = h('select', { onchange: (e) => setLang(e.target.value) },
    LANGUAGES.map((l) => h('option', { value: l, selected: l === getLang() }, t(`lang.${l}`))));
  const language = h('section', { class: 'panel', 'aria-labelledby': 'set-lang' },
    h('h2', { id: 'set-lang' }, t('settings.language')), field(t('settings.languageLabel'), lang));

  // Time zone: a searchable picker (cities, zone ids, offsets), and "use this device's zone".
  const zoneField = zonePicker(t('settings.zoneLabel'), session.zone, { hint: t('settings.zoneHint') });
  const zoneInput = zoneField.input;
  const zoneNow = h('p', { class: 'muted' });
  const device = browserZone();
  let useDevice = null;
  const showZone = () => {
    zoneNow.textContent = t('settings.zoneCurrent', { zone: session.zone, offset: utcLabel(session.zone) });
    if (useDevice) useDevice.hidden = device === session.zone;
  };
  showZone();
  const saveZone = h('button', { class: 'btn btn-primary', type: 'submit' }, t('common.save'));
  // Offered whenever the member's zone is not this device's (and kept in step with it).
  useDevice = h('button', {
    class: 'btn', type: 'button', hidden: device === session.zone,
    onclick: () => { zoneField.set(device); zoneForm.requestSubmit(); },
  }, t('settings.useDeviceZone', { zone: device }));
  const zoneForm = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const zone = zoneField.resolve();
    if (!zone) {
      zoneField.setError(t('settings.zoneInvalid'));
      zoneInput.focus();
      return;
    }
    zoneField.setError('');
    await busy(saveZone, t('common.saving'), async () => {
      try {
        await api.members.setZone(zone);
        setZone(zone);
        zoneField.set(zone);
        showZone();
        sendPrefsToWorker();
        emit('zone:changed', { zone });
        toast(t('settings.zoneSaved', { zone }), { type: 'success' });
      } catch (error) {
        showError(error);
      }
    });
  } },
  zoneField,
  h('div', { class: 'button-row' }, saveZone, useDevice));
  const zone = h('section', { class: 'panel', 'aria-labelledby': 'set-zone' },
    h('h2', { id: 'set-zone' }, t('settings.zone')), zoneNow, zoneForm, h('p', { class: 'muted' }, t('settings.week')));

  // Push on this device (and, when the browser blocks notifications, how to allow them again).
  const push = pushPanel(signal);

  // Calendars: a page of its own (app passwords, feeds, other calendars).
  const calendars = h('section', { class: 'panel', 'aria-labelledby': 'set-calendars' },
    h('h2', { id: 'set-calendars' }, t('settings.calendars')),
    h('p', { class: 'muted' }, t('settings.calendarsHint')),
    h('p', {}, h('a', { class: 'btn', href: '/app/settings/calendars' }, t('settings.calendarsOpen'))));

  // Webhooks: a page of its own (endpoints, their secrets and delivery logs).
  const webhooks = h('section', { class: 'panel', 'aria-labelledby': 'set-webhooks' },
    h('h2', { id: 'set-webhooks' }, t('settings.webhooks')),
    h('p', { class: 'muted' }, t('settings.webhooksHint')),
    h('p', {}, h('a', { class: 'btn', href: '/app/settings/webhooks' }, t('settings.webhooksOpen'))));

  // Security: pages of their own (API tokens, the password).
  const security = h('section', { class: 'panel', 'aria-labelledby': 'set-security' },
    h('h2', { id: 'set-security' }, t('settings.security')),
    h('p', { class: 'muted' }, t('settings.securityHint')),
    h('p', { class: 'button-row' },
      h('a', { class: 'btn', href: '/app/settings/tokens' }, t('settings.tokensOpen')),
      h('a', { class: 'btn', href: '/app/settings/password' }, t('settings.passwordOpen'))),
    h('p', {}, h('a', { class: 'btn btn-danger', href: '/app/settings/delete-account' }, t('settings.deleteAccountOpen'))));

  on('zone:changed', () => { showZone(); zoneField.set(session.zone); }, signal);
  mount(main, h('div', { class: 'settings' }, language, clockPanel(), zone, dailyObjective(), defaultReminders(), quietHours(), push, calendars, webhooks, security, exportPanel(), account,
    h('p', { class: 'muted version' }, t('settings.version', { build }))));
  if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView({ block: 'start' });
  push.refresh();
}

/**
 * Settings → Notifications: the switch for push on this device. When the browser blocks notifications for the site
 * (permission 'denied'), no error: the steps to allow them again in this browser (pushhelp.js) next to the switch,
 * and, once the member has (the Permissions API's change event where there is one, else on focus and when the tab
 * is shown again), an offer to turn push on. On an iPhone or iPad outside the Home Screen app, where push is
 * unsupported, the steps to add it there.
 */
function pushPanel(signal) {
  const pushSwitch = h('button', { class: 'switch', type: 'button', role: 'switch', 'aria-checked': 'false', disabled: true, 'aria-describedby': 'push-status push-help' },
    h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })),
    h('span', {}, t('settings.pushLabel')));
  const pushText = h('p', { id: 'push-status', class: 'muted', 'aria-live': 'polite' }, t('common.loading'));
  const helpSlot = h('div', { id: 'push-help' });
  const standalone = () => Boolean(window.matchMedia?.('(display-mode: standalone)').matches || navigator.standalone);
  const help = pushHelp(navigator, { standalone: standalone() });
  let state = 'off';
  let allowedAgain = false; // the browser stopped blocking while this page was open
  let helpHeading = null;

  function showHelp() {
    helpHeading = null;
    const ios = help.kind === 'ios' && state === 'unsupported';
    if (state === 'blocked' || ios) {
      const host = location.host;
      helpHeading = h('h3', { id: 'push-help-title', class: 'push-help-title', tabindex: '-1' }, t(ios ? 'pushHelp.iosTitle' : 'pushHelp.title'));
      mount(helpSlot, h('div', { class: 'push-help', role: 'group', 'aria-labelledby': 'push-help-title' },
        helpHeading,
        ios ? null : h('p', {}, help.name ? t('pushHelp.lead', { browser: help.name, host }) : t('pushHelp.leadUnnamed', { host })),
        h('ol', { class: 'push-help-steps' }, help.steps.map((key) => h('li', {}, t(key, { host, browser: help.name }))))));
    } else if (allowedAgain && ['off', 'mismatch', 'stale'].includes(state)) {
      mount(helpSlot, h('p', { class: 'button-row' },
        h('button', { class: 'btn btn-primary', type: 'button', onclick: (e) => turnOn(e.currentTarget) }, t('pushHelp.turnOn'))));
    } else {
      mount(helpSlot);
    }
  }

  async function refresh() {
    try { state = await pushStatus(); } catch { state = 'error'; }
    if (state === 'on') allowedAgain = false;
    pushSwitch.setAttribute('aria-checked', String(state === 'on'));
    pushSwitch.disabled = state === 'unsupported';
    // Blocked: still focusable (its description says why), but it cannot be switched here.
    if (state === 'blocked') pushSwitch.setAttribute('aria-disabled', 'true');
    else pushSwitch.removeAttribute('aria-disabled');
    const status = t(`push.status.${state}`);
    pushText.textContent = allowedAgain && state !== 'blocked' && state !== 'on' ? `${t('pushHelp.allowed')} ${status}` : status;
    showHelp();
  }

  async function turnOn(button) {
    if (button) button.disabled = true;
    pushSwitch.disabled = true;
    try {
      await enablePush();
      toast(t('push.enabled'), { type: 'success' });
    } catch (error) {
      // Blocked: the steps appear next to the switch (and take the focus), no error toast.
      if (error?.code === 'PUSH_DISMISSED') toast(error.userMessage);
      else if (error?.code !== 'PUSH_BLOCKED') showError(error);
    }
    await refresh();
    // The focus was on a control that was disabled or removed meanwhile: to the steps when blocked, else the switch.
    if (state === 'blocked') helpHeading?.focus();
    else if (!document.activeElement || document.activeElement === document.body) pushSwitch.focus();
  }

  pushSwitch.addEventListener('click', async () => {
    if (state === 'blocked') { helpHeading?.focus(); return; }
    if (state !== 'on') { await turnOn(); return; }
    pushSwitch.disabled = true;
    try {
      await disablePush();
      toast(t('push.disabled'), { type: 'success' });
    } catch (error) {
      showError(error);
    }
    await refresh();
    if (!document.activeElement || document.activeElement === document.body) pushSwitch.focus();
  });

  // The member allows notifications in the browser's settings: notice it while the page is open.
  let permission = 'Notification' in window ? Notification.permission : null;
  const recheck = async () => {
    if (!('Notification' in window) || Notification.permission === permission) return;
    const was = permission;
    permission = Notification.permission;
    allowedAgain = was === 'denied' && permission !== 'denied';
    await refresh();
  };
  navigator.permissions?.query({ name: 'notifications' })
    .then((status) => { if (!signal.aborted) status.addEventListener('change', recheck, { signal }); })
    .catch(() => { /* no Permissions API for notifications: focus and visibility below */ });
  window.addEventListener('focus', recheck, { signal });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') recheck(); }, { signal });

  const panel = h('section', { class: 'panel', 'aria-labelledby': 'set-push' },
    h('h2', { id: 'set-push' }, t('settings.push')), h('p', { class: 'muted' }, t('settings.pushHint')), pushSwitch, pushText, helpSlot);
  panel.refresh = refresh;
  return panel;
}

/**
 * Server validation errors next to their fields, worded by their codes (`reasonOf`): `errors[].field` ("start",
 * "quietHours.end", "reminders[2]") is matched by its last name against `fields`; what matches nothing goes to
 * `formError` (`detailOf`), or, without `errors[]`, the whole message (`userMessage`).
 */
function showFieldErrors(error, fields, formError, aliases = {}) {
  const rest = [];
  const byField = new Map();
  for (const e of Array.isArray(error?.data?.errors) ? error.data.errors : []) {
    const last = String(e.field || '').split('.').pop().replace(/\[\d*\]$/, '');
    const name = aliases[last] || last;
    if (fields[name]) byField.set(name, [...(byField.get(name) || []), reasonOf(e) || error.userMessage]);
    else rest.push(detailOf(e));
  }
  for (const [name, reasons] of byField) fields[name].setError(reasons.join(' '));
  const text = rest.some(Boolean) ? rest.filter(Boolean).join(' ') : byField.size ? '' : (error?.userMessage || t('error.generic'));
  formError.textContent = text;
  formError.hidden = !text;
  const first = Object.keys(fields).find((n) => byField.has(n));
  (first ? fields[first].querySelector('input, select') : null)?.focus();
}

/**
 * The daily objective (GET/PUT /v2/members/objective): how much work makes a day "met" on Statistics, in hours and
 * minutes (15 minutes to 24 hours, checked here and by the server, whose refusal shows under the field).
 */
function dailyObjective() {
  const body = h('div', {}, statusPanel('loading', t('common.loading')));
  const panel = h('section', { class: 'panel', id: 'set-objective', 'aria-labelledby': 'set-objective-title' },
    h('h2', { id: 'set-objective-title' }, t('settings.objective')),
    h('p', { class: 'muted' }, t('settings.objectiveHint')), body);

  function render(value) {
    const set = hoursMinutes(t('settings.objectiveLabel'), parseDuration(value) / 60, { hint: t('settings.objectiveRange') });
    const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { class: 'btn btn-primary', type: 'submit' }, t('common.save'));
    const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      formError.hidden = true;
      const chosen = set.minutes();
      if (!(chosen >= OBJECTIVE_MIN && chosen <= OBJECTIVE_MAX)) {
        set.setError(t('settings.objectiveInvalid'));
        set.focus();
        return;
      }
      set.setError('');
      await busy(save, t('common.saving'), async () => {
        try {
          const saved = await api.members.setObjective(isoFromMinutes(chosen));
          toast(t('settings.objectiveSaved', { objective: formatDuration(parseDuration(saved)) }), { type: 'success' });
          emit('objective:changed', { dailyObjective: saved });
          render(saved);
          panel.querySelector('button[type=submit]')?.focus();
        } catch (error) {
          showFieldErrors(error, { dailyObjective: set }, formError);
        }
      });
    } }, set, formError, h('div', { class: 'button-row' }, save));
    mount(body, form);
  }

  async function load() {
    try {
      render(await api.members.objective());
    } catch (error) {
      mount(body, statusPanel('error', t('settings.loadFailed'), error.userMessage, { label: t('common.retry'), run: load }));
    }
  }
  load();
  return panel;
}

/** Default reminders: the offsets a schedule without its own list is reminded at (GET/PUT /v2/members/reminders). */
function defaultReminders() {
  const body = h('div', {}, statusPanel('loading', t('common.loading')));
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'set-reminders' },
    h('h2', { id: 'set-reminders' }, t('settings.reminders')),
    h('p', { class: 'muted' }, t('settings.remindersHint')), body);

  function render(list) {
    const checks = reminderChecks(t('settings.remindersLegend'), list);
    const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { class: 'btn btn-primary', type: 'submit' }, t('common.save'));
    const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      checks.setError('');
      formError.hidden = true;
      await busy(save, t('common.saving'), async () => {
        try {
          const saved = await api.members.setReminders(checks.value);
          toast(t('settings.remindersSaved'), { type: 'success' });
          render(saved);
          panel.querySelector('button[type=submit]')?.focus();
        } catch (error) {
          showFieldErrors(error, { reminders: checks }, formError);
        }
      });
    } }, checks, formError, h('div', { class: 'button-row' }, save));
    mount(body, form);
  }

  async function load() {
    try {
      render(await api.members.reminders());
    } catch (error) {
      mount(body, statusPanel('error', t('settings.loadFailed'), error.userMessage, { label: t('common.retry'), run: load }));
    }
  }
  load();
  return panel;
}

/**
 * Quiet hours (GET/PUT /v0/push/quiet-hours): reminders due between `start` and `end` in `zoneId` are held to the
 * window's end or dropped; the push at the start too unless `includeAtStart` is off.
 */
function quietHours() {
  const body = h('div', {}, statusPanel('loading', t('common.loading')));
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'set-quiet' },
    h('h2', { id: 'set-quiet' }, t('settings.quiet')),
    h('p', { class: 'muted' }, t('settings.quietHint', { from: formatTime('22:00'), to: formatTime('07:00') })), body);

  function render(q) {
    const enabledId = uid('quiet-on');
    const enabled = h('input', { type: 'checkbox', id: enabledId, checked: Boolean(q.enabled) });
    // The browser's time inputs, or selects in the member's clock (timefields.js).
    const startField = timeField(t('settings.quietStart'), String(q.start || '22:00').slice(0, 5));
    const endField = timeField(t('settings.quietEnd'), String(q.end || '07:00').slice(0, 5));
    const start = startField.control;
    const end = endField.control;
    // Not turned on yet: this device's zone rather than a default the member never chose.
    const zonePick = zonePicker(t('settings.quietZone'), q.enabled && q.zoneId ? q.zoneId : browserZone(), { hint: t('settings.quietZoneHint') });
    const zone = zonePick.input;
    const mode = chips(t('settings.quietMode'), uid('quiet-mode'),
      [{ value: 'hold', label: t('settings.quietHold') }, { value: 'drop', label: t('settings.quietDrop') }], q.mode === 'drop' ? 'drop' : 'hold');
    const atStartId = uid('quiet-start');
    const atStart = h('input', { type: 'checkbox', id: atStartId, checked: q.includeAtStart !== false });
    const checkRow = (input, id, label) => {
      const error = h('p', { class: 'field-error', hidden: true });
      const row = h('div', { class: 'field' }, h('div', { class: 'check-row' }, input, h('label', { for: id }, label)), error);
      row.setError = (message) => { error.textContent = message || ''; error.hidden = !message; };
      return row;
    };
    const withError = (set) => {
      const error = h('p', { class: 'field-error', hidden: true });
      set.append(error);
      set.setError = (message) => { error.textContent = message || ''; error.hidden = !message; };
      return set;
    };
    const fields = {
      enabled: checkRow(enabled, enabledId, t('settings.quietEnabled')),
      start: startField,
      end: endField,
      zoneId: zonePick,
      mode: withError(mode),
      includeAtStart: checkRow(atStart, atStartId, t('settings.quietAtStart')),
    };
    const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { class: 'btn btn-primary', type: 'submit' }, t('common.save'));
    const form = h('form', { class: 'form quiet-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      formError.hidden = true;
      const errors = {
        start: start.value ? '' : t('settings.quietTimeRequired'),
        end: end.value ? '' : t('settings.quietTimeRequired'),
        zoneId: zonePick.resolve() ? '' : t('settings.zoneInvalid'),
      };
      for (const [name, f] of Object.entries(fields)) f.setError(errors[name] || '');
      const first = Object.keys(errors).find((k) => errors[k]);
      if (first) return ({ start, end, zoneId: zone })[first].focus();
      const next = {
        enabled: enabled.checked, start: start.value, end: end.value, zoneId: zonePick.resolve(),
        mode: mode.value, includeAtStart: atStart.checked,
      };
      await busy(save, t('common.saving'), async () => {
        try {
          const saved = await api.push.setQuietHours(next);
          toast(t('settings.quietSaved'), { type: 'success' });
          render(saved && typeof saved === 'object' ? saved : next);
          panel.querySelector('button[type=submit]')?.focus();
        } catch (error) {
          showFieldErrors(error, fields, formError, { zone: 'zoneId', from: 'start', to: 'end' });
        }
      });
    } },
    fields.enabled,
    h('div', { class: 'quiet-times' }, fields.start, fields.end),
    fields.zoneId, fields.mode, fields.includeAtStart, formError,
    h('div', { class: 'button-row' }, save));
    mount(body, form);
  }

  async function load() {
    try {
      render(await api.push.quietHours());
    } catch (error) {
      mount(body, statusPanel('error', t('settings.loadFailed'), error.userMessage, { label: t('common.retry'), run: load }));
    }
  }
  load();
  return panel;
}
