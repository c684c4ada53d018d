// Log in with a username and password, or with a configured OAuth/OIDC provider.
import { login } from '../auth.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, field, busy } from '../ui.js';
import { authLayout, languageSwitch } from './signup.js';

export async function render({ main, setTitle, query, navigate, loadMember, signal }) {
  setTitle(t('login.title'));
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const userField = field(t('auth.username'), username);
  const passField = field(t('auth.password'), password);
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, t('login.submit'));
  const providers = h('div', { class: 'oauth', hidden: true });

  const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    formError.hidden = true;
    userField.setError(username.value.trim() ? '' : t('auth.usernameRequired'));
    passField.setError(password.value ? '' : t('auth.passwordRequired'));
    if (!username.value.trim()) return username.focus();
    if (!password.value) return password.focus();
    await busy(submit, t('login.busy'), async () => {
      try {
        await login(username.value.trim(), password.value);
        await loadMember();
        const next = query.get('next');
        navigate(next && next.startsWith('/app') ? next : '/app/today', { replace: true });
      } catch (error) {
        formError.textContent = error.userMessage || t('error.generic');
        formError.hidden = false;
        password.select();
      }
    });
  } },
  userField, passField, formError, submit);

  main.append(authLayout(t('login.title'), t('login.lead'),
    form,
    providers,
    h('p', { class: 'auth-switch' }, t('login.noAccount'), ' ', h('a', { href: '/signup' }, t('login.toSignup'))),
    languageSwitch()));

  const list = await api.providers();
  if (signal.aborted || !list.length) return;
  providers.hidden = false;
  providers.append(h('p', { class: 'oauth-or' }, t('login.or')));
  for (const provider of list) {
    providers.append(h('a', {
      class: `btn btn-block oauth-${provider}`,
      href: `/v0/login/oauth2/authorize/${encodeURIComponent(provider)}`,
      'data-external': '',
    }, t('login.with', { provider: t(`provider.${provider}`) === `provider.${provider}` ? provider : t(`provider.${provider}`) })));
  }
}
