// Settings → Delete account (GDPR art. 17): what is erased, that it cannot be undone, the username typed to confirm
// and the password. A member who signed up with Naver/Google has no password: they sign in again and delete within
// five minutes, leaving the password empty. Deleted, the client forgets its session and goes to the login page.
import { api } from '../api.js';
import { logout } from '../auth.js';
import * as offline from '../offline.js';
import { t } from '../i18n.js';
import { session } from '../state.js';
import { h, mount, field, busy, toast } from '../ui.js';

export async function render({ main, setTitle, navigate }) {
  setTitle(t('deleteAccount.title'));
  const username = session.me?.username || '';
  const typed = h('input', { type: 'text', name: 'confirm-username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = h('input', { type: 'password', name: 'current-password', autocomplete: 'current-password' });
  const typedField = field(t('deleteAccount.typeUsername', { username }), typed);
  const passwordField = field(t('deleteAccount.password'), password, { hint: t('deleteAccount.passwordHint') });
  const submit = h('button', { class: 'btn btn-danger', type: 'submit' }, t('deleteAccount.submit'));

  const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    typedField.setError('');
    passwordField.setError('');
    if (!username || typed.value.trim() !== username) {
      typedField.setError(t('deleteAccount.usernameMismatch'));
      typed.focus();
      return;
    }
    await busy(submit, t('deleteAccount.deleting'), async () => {
      try {
        await api.deleteAccount(password.value);
      } catch (error) {
        password.value = '';
        // By auth's codes: a wrong password (403 WRONG_PASSWORD), an OAuth-made account without a fresh login
        // (403 FRESH_LOGIN_REQUIRED), too many attempts (429, with the wait). No password given is a 400 without
        // a code whose message names the field.
        if (error?.code === 'WRONG_PASSWORD') {
          passwordField.setError(t('deleteAccount.passwordWrong'));
        } else if (error?.code === 'FRESH_LOGIN_REQUIRED') {
          passwordField.setError(t('deleteAccount.signInAgain'));
        } else if (error?.status === 400 && !error.code && /password/.test(error?.data?.message || '')) {
          passwordField.setError(t('deleteAccount.passwordRequired'));
        } else {
          passwordField.setError(error?.userMessage || t('error.generic'));
        }
        password.focus();
        return;
      }
      // The server ended every session and deleted the refresh cookie; forget this one too.
      try { await logout(); } catch { /* the account is gone either way */ }
      await offline.forget();
      session.me = null;
      toast(t('deleteAccount.deleted'), { type: 'success' });
      navigate('/login', { replace: true });
    });
  } }, typedField, passwordField, h('div', { class: 'button-row' }, submit));

  const erased = ['account', 'tasks', 'notifications', 'access'].map((k) => h('li', {}, t(`deleteAccount.erases.${k}`)));
  mount(main, h('div', { class: 'settings delete-account' },
    h('p', { class: 'muted page-intro' }, t('deleteAccount.lead'), ' ', h('a', { href: '/app/settings' }, t('calendars.backToSettings'))),
    h('section', { class: 'panel', 'aria-labelledby': 'delete-account' },
      h('h2', { id: 'delete-account' }, t('deleteAccount.heading')),
      h('p', {}, h('strong', {}, t('deleteAccount.cannotUndo'))),
      h('p', {}, t('deleteAccount.erasesLead')),
      h('ul', { 'aria-label': t('deleteAccount.erasesLead') }, ...erased),
      h('p', { class: 'muted' }, t('deleteAccount.exportFirst')),
      form)));
}
