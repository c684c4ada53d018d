// Settings → API tokens: personal tokens for scripts and integrations (docs/integrations.md). Made with a name,
// read or read-and-write access and an expiry, shown once with a Copy button and a curl example; listed with when
// each was made, last used and expires; revoked after confirming.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, mount, field, busy, chips } from '../ui.js';
import { when, copyField, listPanel, confirmThen, revealOnce, fieldErrors } from '../panels.js';

const NAME_MAX = 100;
/** Expiry choices in days ('' = never); the server allows at most 365. */
const EXPIRIES = ['7', '30', '90', '365', ''];
const DAY_MS = 24 * 60 * 60 * 1000;

export async function render({ main, setTitle }) {
  setTitle(t('tokens.title'));
  mount(main, h('div', { class: 'settings tokens' },
    h('p', { class: 'muted page-intro' }, t('tokens.lead'), ' ', h('a', { href: '/app/settings' }, t('calendars.backToSettings'))),
    tokensPanel()));
}

function scopesLabel(scopes) {
  return t(Array.isArray(scopes) && scopes.includes('write') ? 'tokens.scopeWrite' : 'tokens.scopeRead');
}

function expiryLabel(expiresAt) {
  if (!expiresAt) return t('tokens.neverExpires');
  return t(Date.parse(expiresAt) <= Date.now() ? 'tokens.expired' : 'tokens.expires', { when: when(expiresAt) });
}

function tokensPanel() {
  const headingId = 'api-tokens';
  const listId = 'api-tokens-list';
  const list = listPanel({
    id: listId,
    list: () => api.tokens.list(),
    empty: t('tokens.none'),
    row: (token, reload) => h('div', { class: 'row-main' },
      h('div', { class: 'row-text' },
        h('p', { class: 'row-title' }, token.name, ' · ', scopesLabel(token.scopes)),
        h('p', { class: 'muted row-meta' },
          t('tokens.created', { when: when(token.createdAt) }), ' · ',
          token.lastUsedAt ? t('tokens.lastUsed', { when: when(token.lastUsedAt) }) : t('tokens.neverUsed'), ' · ',
          expiryLabel(token.expiresAt))),
      h('button', {
        class: 'btn btn-small btn-danger', type: 'button', 'aria-label': t('calendars.revokeWhat', { what: token.name }),
        onclick: (e) => confirmThen(t('tokens.confirmRevoke', { name: token.name }), t('calendars.revoke'), e.currentTarget,
          () => api.tokens.remove(token.id), t('tokens.revoked', { name: token.name }), reload),
      }, t('calendars.revoke'))),
  });

  const reveal = h('div', { class: 'reveal-slot' });
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: NAME_MAX, autocomplete: 'off', placeholder: t('tokens.namePlaceholder') });
  const nameField = field(t('tokens.name'), name, { hint: t('tokens.nameHint') });
  const access = chips(t('tokens.access'), 'token-access', [
    { value: 'read', label: t('tokens.scopeRead') },
    { value: 'write', label: t('tokens.scopeWrite') },
  ], 'read');
  const accessHint = h('p', { class: 'muted field-hint' }, t('tokens.accessHint'));
  const expiry = h('select', { name: 'expiry' }, EXPIRIES.map((days) =>
    h('option', { value: days, selected: days === '90' }, days ? t('tokens.expiryDays', { days }) : t('tokens.expiryNever'))));
  const expiryField = field(t('tokens.expiry'), expiry, { hint: t('tokens.expiryHint') });
  const create = h('button', { class: 'btn btn-primary', type: 'submit' }, t('tokens.create'));
  const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    nameField.setError('');
    expiryField.setError('');
    const value = name.value.trim();
    if (!value) { nameField.setError(t('calendars.nameRequired')); name.focus(); return; }
    const scopes = access.value === 'write' ? ['read', 'write'] : ['read'];
    const expiresAt = expiry.value ? new Date(Date.now() + Number(expiry.value) * DAY_MS - 60_000).toISOString() : null;
    await busy(create, t('common.saving'), async () => {
      try {
        const made = await api.tokens.create({ name: value, scopes, expiresAt });
        name.value = '';
        const example = `curl -H "Authorization: Bearer ${made.token}" ${location.origin}/v2/tasks?page=0&size=10`;
        revealOnce(reveal, {
          title: t('tokens.madeTitle', { name: made.name }),
          children: [
            copyField(t('tokens.token'), made.token, { className: 'secret' }),
            h('p', { class: 'muted' }, t('tokens.madeHint', { access: scopesLabel(made.scopes), expiry: expiryLabel(made.expiresAt) })),
            copyField(t('tokens.example'), example, { className: 'example' }),
          ],
          warning: t('tokens.once'),
        });
        list.reload();
      } catch (error) {
        fieldErrors(error, { name: nameField, expiresAt: expiryField }, 'name');
      }
    });
  } }, nameField, access, accessHint, expiryField, h('div', { class: 'button-row' }, create));

  list.reload();
  return h('section', { class: 'panel', 'aria-labelledby': headingId },
    h('h2', { id: headingId, tabindex: '-1' }, t('tokens.heading')),
    h('p', {}, t('tokens.line1')),
    h('p', { class: 'muted' }, t('tokens.line2')),
    form, reveal,
    h('h3', { class: 'subhead', id: listId }, t('tokens.listTitle')),
    list.body);
}
