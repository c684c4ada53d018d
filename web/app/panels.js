// What the Settings pages that show secrets share (Calendars: app passwords and feeds; API tokens): instants in the
// member's zone, a read-only value with a Copy button, a panel whose list loads, a confirmed removal, a box for a
// secret shown once, and the server's validation errors under the fields they name.
import { reasonOf, detailOf } from './api.js';
import { t } from './i18n.js';
import { formatInstant, DATE, TIME } from './locale.js';
import { session } from './state.js';
import { h, mount, uid, toast, showError, field, busy, confirmDialog, statusPanel } from './ui.js';

/** An instant ("2026-12-06T23:40:12Z") in the member's zone, e.g. "7 Dec 2026, 08:40", "Dec 7, 2026, 8:40 AM". */
export function when(instant) {
  if (!instant) return '';
  return formatInstant(instant, session.zone, { ...DATE, ...TIME });
}

export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (an insecure origin, or refused): select the text and ask the browser to copy it.
    input?.focus();
    input?.select();
    if (!document.execCommand?.('copy')) {
      toast(t('calendars.copyFailed'), { type: 'error' });
      return;
    }
  }
  toast(t('calendars.copied'), { type: 'success' });
}

/** A read-only, selectable value with a label and a Copy button (its accessible name says what it copies). */
export function copyField(label, value, { hint, className = '' } = {}) {
  const input = h('input', { type: 'text', readOnly: true, value, class: `copy-value ${className}`.trim(), spellcheck: 'false', autocomplete: 'off' });
  input.addEventListener('focus', () => input.select());
  const button = h('button', { class: 'btn btn-small', type: 'button', 'aria-label': t('calendars.copyWhat', { what: label }), onclick: () => copyText(input.value, input) }, t('calendars.copy'));
  const wrap = field(label, input, { hint });
  const row = h('div', { class: 'copy-row' });
  input.replaceWith(row);
  row.append(input, button);
  return wrap;
}

/** A panel whose body loads a list; returns {panel, reload}. */
export function listPanel({ id, title, intro, list, row, empty }) {
  const body = h('div', { class: 'calendar-list' }, statusPanel('loading', t('common.loading')));
  async function reload() {
    try {
      const items = await list();
      const rows = Array.isArray(items) ? items : [];
      mount(body, rows.length ? h('ul', { class: 'rows', 'aria-labelledby': id }, rows.map((item) => h('li', { class: 'row' }, row(item, reload)))) : h('p', { class: 'muted' }, empty));
    } catch (error) {
      mount(body, statusPanel('error', t('settings.loadFailed'), error.userMessage, { label: t('common.retry'), run: reload }));
    }
  }
  return { body, reload, title, intro };
}

/** Asks, then runs `remove`, says `done` and reloads; the server's reason on failure. */
export async function confirmThen(message, confirmLabel, button, remove, done, reload) {
  if (!(await confirmDialog(message, { confirmLabel, danger: true }))) return;
  await busy(button, t('common.saving'), async () => {
    try {
      await remove();
      toast(done, { type: 'success' });
      await reload();
    } catch (error) {
      showError(error);
    }
  });
}

/**
 * A box for a secret shown once: a heading (focused, so it is read out), the values, a warning, and a Done
 * button that removes it. `slot` is where it goes (one at a time).
 */
export function revealOnce(slot, { title, children, warning }) {
  const headingId = uid('reveal');
  const heading = h('h3', { id: headingId, tabindex: '-1', class: 'reveal-title' }, title);
  const box = h('section', { class: 'reveal', 'aria-labelledby': headingId },
    heading, children,
    h('p', { class: 'reveal-warning' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), warning),
    h('div', { class: 'button-row' }, h('button', { class: 'btn', type: 'button', onclick: () => { mount(slot); slot.closest('.panel')?.querySelector('h2')?.focus(); } }, t('calendars.done'))));
  mount(slot, box);
  heading.focus();
  return box;
}

/**
 * Server validation errors under the fields they name (`errors[].field`), each worded by its code (`reasonOf`);
 * the rest under the field the answer is about — by `codeFields` (a code → the field's name, e.g. URL_NOT_HTTPS →
 * url for an answer without `errors[]`), else the field the server's message names ("name: …", "앱 비밀번호
 * 이름(name)은…"), else `fallback` — as `userMessage` says it (worded, or the server's text; 429 with the wait).
 */
export function fieldErrors(error, fields, fallback, codeFields = {}) {
  const byField = new Map();
  const rest = [];
  for (const e of Array.isArray(error?.data?.errors) ? error.data.errors : []) {
    const name = String(e.field || '').split('.').pop().replace(/\[\d*\]$/, '');
    if (fields[name]) byField.set(name, [...(byField.get(name) || []), reasonOf(e)]);
    else rest.push(detailOf(e));
  }
  for (const [name, reasons] of byField) fields[name].setError(reasons.filter(Boolean).join(' ') || error.userMessage);
  if (!byField.size || rest.some(Boolean)) {
    const raw = error?.data?.message || '';
    const named = codeFields[error?.code] || Object.keys(fields).find((n) => !byField.has(n) && new RegExp(`\\b${n}\\b`, 'i').test(raw));
    const target = fields[named] || fields[fallback];
    target.setError((byField.size ? rest.filter(Boolean).join(' ') : '') || error?.userMessage || t('error.generic'));
  }
  const first = Object.keys(fields).find((n) => fields[n].querySelector('[aria-invalid="true"]'));
  fields[first]?.querySelector('input')?.focus();
}
