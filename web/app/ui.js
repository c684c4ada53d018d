// DOM helpers, toasts, accessible dialogs. Text always goes in as text nodes (never innerHTML).
import { t } from './i18n.js';

/**
 * h('button', {class: 'btn', onclick: fn, 'aria-label': '…'}, 'text', child)
 * Attributes: `class`, `text`, `on<event>`, `dataset` (object), boolean properties (`disabled`, `checked`,
 * `hidden`, …) and anything else as an attribute (skipped when null/false).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (['value', 'checked', 'disabled', 'hidden', 'selected', 'required', 'readOnly', 'multiple'].includes(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;
export const uid = (prefix = 'id') => `${prefix}-${++idCounter}`;

/** Visually hidden text for screen readers. */
export const srOnly = (text) => h('span', { class: 'sr-only' }, text);

// ---------------------------------------------------------------- toasts

/** A short message; errors are announced assertively. `action`: {label, run}. */
export function toast(message, { type = 'info', action, timeout = 4000 } = {}) {
  const region = document.getElementById(type === 'error' ? 'alerts' : 'toasts');
  const item = h('div', { class: `toast toast-${type}` }, h('span', {}, message));
  const close = () => item.remove();
  if (action) {
    item.append(h('button', { class: 'btn btn-small', type: 'button', onclick: () => { close(); action.run(); } }, action.label));
  }
  item.append(h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('common.dismiss'), onclick: close }, '×'));
  region.append(item);
  if (timeout && !action) setTimeout(close, type === 'error' ? timeout * 1.5 : timeout);
  return close;
}

/** Shows an API or other error to the member (the server's message when there is one). */
export function showError(error, fallbackKey = 'error.generic') {
  const message = error?.userMessage || error?.message || t(fallbackKey);
  toast(message, { type: 'error' });
}

// ---------------------------------------------------------------- dialogs

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
const openDialogs = [];

function setBackgroundInert(inert) {
  for (const id of ['app', 'skip']) {
    const el = document.getElementById(id);
    if (el) el.inert = inert;
  }
}

// Escape closes the topmost dialog and Tab stays inside it, wherever focus is (content may be re-rendered
// under the focused element).
document.addEventListener('keydown', (e) => {
  const top = openDialogs.at(-1);
  if (!top) return;
  if (e.key === 'Escape') {
    e.preventDefault();
    top.close();
    return;
  }
  if (e.key !== 'Tab') return;
  const items = [...top.panel.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length);
  if (!items.length) { e.preventDefault(); return; }
  const first = items[0];
  const last = items.at(-1);
  const inside = top.panel.contains(document.activeElement);
  if (!inside) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
  else if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
  else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
});

/**
 * A modal dialog: role=dialog, aria-modal, labelled by its title, focus trapped inside, Escape and the
 * backdrop close it, focus returns to where it was. `content` is a node or a function (dialog) => node.
 * Returns {el, panel, body, close, refocus}; `onClose` runs once, after it is removed.
 */
export function openDialog({ title, content, actions = [], onClose, wide = false, describedBy }) {
  const opener = document.activeElement;
  const titleId = uid('dialog-title');
  const body = h('div', { class: 'dialog-body' });
  const panel = h('div', {
    class: `dialog${wide ? ' dialog-wide' : ''}`, role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId,
    'aria-describedby': describedBy,
  },
  h('div', { class: 'dialog-head' },
    h('h2', { id: titleId, class: 'dialog-title', tabindex: '-1' }, title),
    h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('common.close'), onclick: () => close() }, '×')),
  body);
  if (actions.length) panel.append(h('div', { class: 'dialog-actions' }, actions));
  const backdrop = h('div', { class: 'backdrop' }, panel);
  let closed = false;

  function close(result) {
    if (closed) return;
    closed = true;
    backdrop.remove();
    openDialogs.splice(openDialogs.indexOf(handle), 1);
    if (!openDialogs.length) setBackgroundInert(false);
    else openDialogs.at(-1).panel.removeAttribute('inert');
    if (opener && document.contains(opener)) opener.focus();
    onClose?.(result);
  }

  backdrop.addEventListener('mousedown', (e) => { if (e.target === backdrop) close(); });
  /** After re-rendering the content: focus the title if the focused element went away. */
  function refocus() {
    if (openDialogs.at(-1) === handle && !panel.contains(document.activeElement)) panel.querySelector('.dialog-title').focus();
  }

  const handle = { el: backdrop, panel, body, close, refocus };
  if (openDialogs.length) openDialogs.at(-1).panel.setAttribute('inert', '');
  openDialogs.push(handle);
  setBackgroundInert(true);
  document.body.append(backdrop);
  const node = typeof content === 'function' ? content(handle) : content;
  if (node) body.append(node);
  const autofocus = body.querySelector('[autofocus]') || body.querySelector('input, select, textarea');
  (autofocus || panel.querySelector('.dialog-title')).focus();
  return handle;
}

/** A yes/no question in a dialog. Resolves true when confirmed. */
export function confirmDialog(message, { confirmLabel = t('common.confirm'), cancelLabel = t('common.cancel'), danger = false, extra, title = t('common.areYouSure') } = {}) {
  return new Promise((resolve) => {
    let answer = false;
    const messageId = uid('confirm');
    const dialog = openDialog({
      title,
      describedBy: messageId,
      content: h('div', {}, h('p', { id: messageId }, message), extra),
      actions: [
        h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, cancelLabel),
        h('button', {
          class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, type: 'button',
          onclick: () => { answer = true; dialog.close(); },
        }, confirmLabel),
      ],
      onClose: () => resolve(answer),
    });
    dialog.panel.querySelector('.dialog-actions .btn').focus();
  });
}

// ---------------------------------------------------------------- panels and forms

/** A loading / empty / error panel. `action`: {label, run}. */
export function statusPanel(kind, title, description, action) {
  return h('div', { class: `status status-${kind}`, role: kind === 'loading' ? 'status' : null },
    kind === 'loading' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null,
    h('p', { class: 'status-title' }, title),
    description ? h('p', { class: 'status-desc' }, description) : null,
    action ? h('button', { class: 'btn', type: 'button', onclick: action.run }, action.label) : null);
}

/**
 * A live "12 / 100 characters" under a text control whose limit is `max` UTF-16 code units (the API's unit). No
 * `maxlength`: it cuts pasted text without a word. Over the limit the counter says by how much (and screen readers
 * hear it once, when the limit is crossed); `tooLong()` is the message for the field's error, or ''.
 */
export function charCounter(control, max) {
  const count = h('p', { class: 'field-count', id: uid('count') });
  const live = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  let wasOver = false;
  const update = () => {
    const n = control.value.length;
    const over = n - max;
    count.textContent = over > 0 ? t('form.countOver', { n, max, over }) : t('form.count', { n, max });
    count.classList.toggle('is-over', over > 0);
    if ((over > 0) !== wasOver) {
      wasOver = over > 0;
      live.textContent = wasOver ? t('form.tooLong', { max, over }) : '';
    }
  };
  control.addEventListener('input', update);
  update();
  return {
    el: h('div', { class: 'field-count-wrap' }, count, live),
    id: count.id,
    update,
    tooLong: () => (control.value.trim().length > max ? t('form.tooLong', { max, over: control.value.trim().length - max }) : ''),
  };
}

/**
 * A labelled form control with an optional hint and an error slot wired to aria-describedby; `max`: a character
 * counter (charCounter) too, and `wrap.tooLong()`.
 */
export function field(label, control, { hint, max, id = control.id || uid('field') } = {}) {
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const counter = max ? charCounter(control, max) : null;
  control.setAttribute('aria-describedby', [hintId, counter?.id, errorId].filter(Boolean).join(' '));
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  const wrap = h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'field-hint', id: hintId }, hint) : null,
    counter?.el,
    error);
  wrap.tooLong = () => counter?.tooLong() || '';
  wrap.refreshCount = () => counter?.update();
  wrap.setError = (message) => {
    error.textContent = message || '';
    error.hidden = !message;
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  };
  return wrap;
}

/**
 * An amount of time as hours and minutes: a fieldset named `legend` with two number inputs, a hint and an error
 * slot (both in the inputs' description). `.minutes()` is the whole number of minutes, or NaN when either is not
 * a whole number in range (hours 0–24, minutes 0–59; empty is 0); `.setError(message)`.
 */
export function hoursMinutes(legend, minutes, { hint } = {}) {
  const total = Math.max(0, Math.round(minutes || 0));
  const hours = h('input', { type: 'number', inputmode: 'numeric', min: 0, max: 24, step: 1, value: String(Math.floor(total / 60)), id: uid('hm-h') });
  const mins = h('input', { type: 'number', inputmode: 'numeric', min: 0, max: 59, step: 1, value: String(total % 60), id: uid('hm-m') });
  const hintId = uid('hm-hint');
  const errorId = uid('hm-error');
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  for (const input of [hours, mins]) input.setAttribute('aria-describedby', `${hint ? `${hintId} ` : ''}${errorId}`);
  const set = h('fieldset', { class: 'field hm-field' },
    h('legend', {}, legend),
    h('div', { class: 'hm-inputs' },
      h('span', {}, h('label', { for: hours.id }, t('form.hours')), hours),
      h('span', {}, h('label', { for: mins.id }, t('form.minutes')), mins)),
    hint ? h('p', { class: 'field-hint', id: hintId }, hint) : null, error);
  const whole = (input, max) => {
    const text = input.value.trim() || '0';
    return /^\d{1,2}$/.test(text) && Number(text) <= max ? Number(text) : NaN;
  };
  set.minutes = () => whole(hours, 24) * 60 + whole(mins, 59);
  set.setError = (message) => {
    error.textContent = message || '';
    error.hidden = !message;
    for (const input of [hours, mins]) {
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  };
  set.focus = () => hours.focus();
  return set;
}

/** A group of radio buttons styled as chips. Returns the fieldset; `.value` reads the choice. */
export function chips(legend, name, options, selected) {
  const set = h('fieldset', { class: 'chips' }, h('legend', {}, legend));
  for (const { value, label } of options) {
    const id = uid(name);
    set.append(h('span', { class: 'chip' },
      h('input', { type: 'radio', name, id, value, checked: String(value) === String(selected) }),
      h('label', { for: id }, label)));
  }
  Object.defineProperty(set, 'value', { get: () => set.querySelector('input:checked')?.value });
  return set;
}

/** Disables a submit button and shows a busy label while `work` runs. */
export async function busy(button, label, work) {
  const original = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = original;
  }
}
