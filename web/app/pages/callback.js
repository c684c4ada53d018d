// The OAuth/OIDC redirect target (/login/callback/:provider): hands code and state to the server.
import { oauthCallback } from '../auth.js';
import { t } from '../i18n.js';
import { h, statusPanel } from '../ui.js';
import { authLayout } from './signup.js';

export async function render({ main, params, setTitle, navigate, loadMember }) {
  setTitle(t('callback.title'));
  const slot = h('div', {}, statusPanel('loading', t('callback.working')));
  main.append(authLayout(t('callback.title'), null, slot));
  const query = new URLSearchParams(location.search);
  const forward = new URLSearchParams();
  for (const key of ['code', 'state', 'error', 'error_description']) if (query.has(key)) forward.set(key, query.get(key));
  try {
    await oauthCallback(params.provider, `?${forward}`);
    await loadMember();
    navigate('/app/today', { replace: true });
  } catch (error) {
    slot.replaceChildren(statusPanel('error', t('callback.failed'), error.userMessage || query.get('error_description') || '',
      { label: t('callback.back'), run: () => navigate('/login', { replace: true }) }));
  }
}
