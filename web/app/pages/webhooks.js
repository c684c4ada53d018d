// Settings → Webhooks: endpoints that receive the member's events, signed as Standard Webhooks says
// (docs/integrations.md#webhooks). Made with a URL, a description and the event types, the signing secret shown
// once with a Copy button; listed with their events and whether they are active or disabled (and why: by the
// member, a 410 answer, repeated failures), with Send test, the delivery log, Disable/Enable and Delete.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, mount, uid, toast, showError, field, busy, statusPanel } from '../ui.js';
import { when, copyField, listPanel, confirmThen, revealOnce, fieldErrors } from '../panels.js';

const URL_MAX = 2000;
const DESCRIPTION_MAX = 200;
/** The event types an endpoint may receive (crates/notification/openapi.json, WebhookCreate.events). */
export const EVENTS = [
  'schedule.created', 'schedule.updated', 'schedule.started', 'schedule.paused', 'schedule.completed',
  'schedule.cancelled', 'schedule.deleted', 'task.created', 'task.completed', 'reminder.sent',
];
/** How often an open delivery log is read again while a delivery is pending. */
const POLL_MS = 1500;
/** The Standard Webhooks libraries that verify a request, and this server's API reference. */
const LIBRARIES = 'https://github.com/standard-webhooks/standard-webhooks/tree/main/libraries';
const API_DOCS = '/docs';

export async function render({ main, setTitle }) {
  setTitle(t('webhooks.title'));
  mount(main, h('div', { class: 'settings webhooks' },
    h('p', { class: 'muted page-intro' }, t('webhooks.lead'), ' ', h('a', { href: '/app/settings' }, t('calendars.backToSettings'))),
    webhooksPanel()));
}

const eventLabel = (type) => t(`webhooks.event.${type}`);

function eventsLabel(events) {
  const list = Array.isArray(events) ? events : [];
  return EVENTS.every((e) => list.includes(e)) ? t('webhooks.allEvents') : list.map(eventLabel).join(', ');
}

/** Why an endpoint is disabled, in the member's language, by the server's stable `disabledCode`. */
export function disabledReason(endpoint) {
  switch (endpoint.disabledCode) {
    case 'BY_MEMBER': return t('webhooks.reasonYou');
    case 'GONE': return t('webhooks.reasonGone');
    case 'FAILURES': return t('webhooks.reasonFailures');
    default: return endpoint.disabledReason || t('webhooks.reasonUnknown');
  }
}

/** Checkboxes for the event types with an "All events" box that checks or clears them all. */
function eventChecks() {
  const name = uid('webhook-event');
  const boxes = EVENTS.map((type) => h('input', { type: 'checkbox', name, value: type, id: uid(name) }));
  const all = h('input', { type: 'checkbox', id: uid('webhook-all') });
  const sync = () => {
    const n = boxes.filter((b) => b.checked).length;
    all.checked = n === boxes.length;
    all.indeterminate = n > 0 && n < boxes.length;
  };
  all.addEventListener('change', () => { for (const b of boxes) b.checked = all.checked; });
  const error = h('p', { class: 'field-error', id: uid('webhook-events-error'), hidden: true });
  const set = h('fieldset', { class: 'webhook-events', 'aria-describedby': error.id, onchange: (e) => { if (e.target !== all) sync(); } },
    h('legend', {}, t('webhooks.events')),
    h('label', { class: 'event-check event-check-all', for: all.id }, all, t('webhooks.selectAll')),
    h('div', { class: 'event-checks' }, boxes.map((box) =>
      h('label', { class: 'event-check', for: box.id }, box, h('span', {}, eventLabel(box.value), ' ', h('code', { class: 'muted' }, box.value))))),
    error);
  Object.defineProperty(set, 'value', { get: () => boxes.filter((b) => b.checked).map((b) => b.value) });
  set.clear = () => { for (const b of boxes) b.checked = false; sync(); };
  set.setError = (message) => {
    error.textContent = message || '';
    error.hidden = !message;
    for (const b of [all, ...boxes]) {
      if (message) b.setAttribute('aria-invalid', 'true');
      else b.removeAttribute('aria-invalid');
    }
  };
  return set;
}

/** The delivery log of endpoint `id` as a table; read again while a delivery is pending, `settled` once none is. */
function deliveries(id, url, settled) {
  const body = h('div', { class: 'webhook-deliveries', 'aria-live': 'polite' }, statusPanel('loading', t('common.loading')));
  let timer;
  let pending = false;
  async function load() {
    clearTimeout(timer);
    try {
      const items = await api.webhooks.deliveries(id);
      const rows = Array.isArray(items) ? items : [];
      const refresh = h('button', { class: 'btn btn-small', type: 'button', onclick: load }, t('common.refresh'));
      mount(body, rows.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'data-table' },
          h('caption', {}, t('webhooks.deliveriesOf', { url })),
          h('thead', {}, h('tr', {}, ['event', 'status', 'attempts', 'code', 'time'].map((c) => h('th', { scope: 'col' }, t(`webhooks.col.${c}`))))),
          h('tbody', {}, rows.map((d) => h('tr', {},
            h('td', {}, h('code', {}, d.type)),
            h('td', {}, h('span', { class: `pill delivery-${d.status}` }, t(`webhooks.delivery.${d.status}`))),
            h('td', {}, String(d.attempts)),
            h('td', { title: d.lastError || null }, d.lastResponseCode == null ? '—' : String(d.lastResponseCode)),
            h('td', {}, when(d.lastAttemptAt || d.createdAt)))))))
        : h('p', { class: 'muted' }, t('webhooks.noDeliveries')),
      h('div', { class: 'button-row' }, refresh));
      const still = rows.some((d) => d.status === 'pending');
      if (pending && !still) settled?.();
      pending = still;
      if (still) timer = setTimeout(() => { if (body.isConnected) load(); }, POLL_MS);
    } catch (error) {
      mount(body, statusPanel('error', t('settings.loadFailed'), error.userMessage, { label: t('common.retry'), run: load }));
    }
  }
  load();
  return body;
}

function webhooksPanel() {
  const headingId = 'webhooks';
  const listId = 'webhooks-list';
  /** Endpoints whose delivery log is open (kept open when the list is drawn again). */
  const open = new Set();

  const row = (endpoint, reload) => {
    const logId = `webhook-log-${endpoint.id}`;
    const log = h('div', { id: logId, class: 'webhook-log' });
    const toggle = h('button', { class: 'btn btn-small', type: 'button', 'aria-expanded': 'false', 'aria-controls': logId }, t('webhooks.showDeliveries'));
    const showLog = (on) => {
      toggle.setAttribute('aria-expanded', String(on));
      toggle.textContent = t(on ? 'webhooks.hideDeliveries' : 'webhooks.showDeliveries');
      if (on) { open.add(endpoint.id); mount(log, deliveries(endpoint.id, endpoint.url, reload)); }
      else { open.delete(endpoint.id); mount(log); }
    };
    toggle.addEventListener('click', () => showLog(toggle.getAttribute('aria-expanded') !== 'true'));
    const what = endpoint.description || endpoint.url;
    const setEnabled = (button, enabled) => busy(button, t('common.saving'), async () => {
      try {
        await api.webhooks.update(endpoint.id, { enabled });
        toast(t(enabled ? 'webhooks.enabledDone' : 'webhooks.disabledDone', { url: endpoint.url }), { type: 'success' });
        await reload();
      } catch (error) {
        showError(error);
      }
    });
    const sendTest = (button) => busy(button, t('webhooks.sending'), async () => {
      try {
        await api.webhooks.test(endpoint.id);
        toast(t('webhooks.testSent'), { type: 'success' });
        showLog(true);
      } catch (error) {
        showError(error);
      }
    });
    const disabled = !endpoint.enabled;
    const item = h('div', { class: `webhook${disabled ? ' webhook-off' : ''}` },
      h('div', { class: 'row-main' },
        h('div', { class: 'row-text' },
          h('p', { class: 'row-title' }, endpoint.url, ' ',
            h('span', { class: `pill webhook-status ${disabled ? 'webhook-status-off' : 'webhook-status-on'}` }, t(disabled ? 'webhooks.disabled' : 'webhooks.active'))),
          endpoint.description ? h('p', { class: 'row-meta' }, endpoint.description) : null,
          h('p', { class: 'muted row-meta' }, t('webhooks.eventsList', { events: eventsLabel(endpoint.events) }), ' · ', t('calendars.created', { when: when(endpoint.createdAt) })),
          disabled ? h('p', { class: 'row-error' }, t('webhooks.disabledBecause', { reason: disabledReason(endpoint), when: when(endpoint.disabledAt) })) : null,
          disabled && endpoint.disabledReason && endpoint.disabledCode !== 'BY_MEMBER' ? h('p', { class: 'row-hint' }, endpoint.disabledReason) : null,
          disabled ? h('p', { class: 'muted row-meta' }, t('webhooks.enableHint')) : null)),
      h('div', { class: 'row-actions' },
        disabled
          ? h('button', { class: 'btn btn-small btn-primary', type: 'button', 'aria-label': t('webhooks.enableWhat', { what }), onclick: (e) => setEnabled(e.currentTarget, true) }, t('webhooks.enable'))
          : h('button', { class: 'btn btn-small', type: 'button', 'aria-label': t('webhooks.testWhat', { what }), onclick: (e) => sendTest(e.currentTarget) }, t('webhooks.test')),
        toggle,
        disabled ? null : h('button', { class: 'btn btn-small', type: 'button', 'aria-label': t('webhooks.disableWhat', { what }), onclick: (e) => setEnabled(e.currentTarget, false) }, t('webhooks.disable')),
        h('button', {
          class: 'btn btn-small btn-danger', type: 'button', 'aria-label': t('webhooks.deleteWhat', { what }),
          onclick: (e) => confirmThen(t('webhooks.confirmDelete', { url: endpoint.url }), t('common.delete'), e.currentTarget,
            () => api.webhooks.remove(endpoint.id), t('webhooks.deleted', { url: endpoint.url }), reload),
        }, t('common.delete'))),
      log);
    if (open.has(endpoint.id)) showLog(true);
    return item;
  };
  const list = listPanel({ id: listId, list: () => api.webhooks.list(), empty: t('webhooks.none'), row });

  const reveal = h('div', { class: 'reveal-slot' });
  const url = h('input', { type: 'url', name: 'url', required: true, maxlength: URL_MAX, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://example.com/pinit/webhook' });
  const urlField = field(t('webhooks.url'), url, { hint: t('webhooks.urlHint') });
  const description = h('input', { type: 'text', name: 'description', maxlength: DESCRIPTION_MAX, autocomplete: 'off', placeholder: t('webhooks.descriptionPlaceholder') });
  const descriptionField = field(t('webhooks.description'), description, { hint: t('webhooks.descriptionHint') });
  const events = eventChecks();
  const create = h('button', { class: 'btn btn-primary', type: 'submit' }, t('webhooks.create'));
  const fields = { url: urlField, description: descriptionField, events };
  const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    for (const f of Object.values(fields)) f.setError('');
    const target = url.value.trim();
    const chosen = events.value;
    if (!target) urlField.setError(t('webhooks.urlRequired'));
    if (!chosen.length) events.setError(t('webhooks.eventsRequired'));
    if (!target) { url.focus(); return; }
    if (!chosen.length) { events.querySelector('input')?.focus(); return; }
    await busy(create, t('common.saving'), async () => {
      try {
        const made = await api.webhooks.create({ url: target, events: chosen, description: description.value.trim() || undefined });
        url.value = '';
        description.value = '';
        events.clear();
        revealOnce(reveal, {
          title: t('webhooks.madeTitle', { url: made.url }),
          children: [
            copyField(t('webhooks.secret'), made.secret, { className: 'secret' }),
            h('p', { class: 'muted' }, t('webhooks.verifyHint'), ' ',
              h('a', { href: LIBRARIES, target: '_blank', rel: 'noopener' }, t('webhooks.verifyLink')), ' · ',
              h('a', { href: API_DOCS, target: '_blank', rel: 'noopener' }, t('webhooks.apiDocs'))),
          ],
          warning: t('webhooks.once'),
        });
        list.reload();
      } catch (error) {
        fieldErrors(error, fields, 'url');
      }
    });
  } }, urlField, descriptionField, events, h('div', { class: 'button-row' }, create));

  list.reload();
  return h('section', { class: 'panel', 'aria-labelledby': headingId },
    h('h2', { id: headingId, tabindex: '-1' }, t('webhooks.heading')),
    h('p', {}, t('webhooks.line1')),
    h('p', { class: 'muted' }, t('webhooks.line2')),
    form, reveal,
    h('h3', { class: 'subhead', id: listId }, t('webhooks.listTitle')),
    list.body);
}
