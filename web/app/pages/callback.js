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
    // The server's refusal in the member's words; when it said nothing, the provider's description.
    const said = error?.data?.message || error?.data?.code ? error.userMessage : (query.get('error_description') || error?.userMessage || '');
    slot.replaceChildren(statusPanel('error', t('callback.failed'), said,
      { label: t('callback.back'), run: () => navigate('/login', { replace: true }) }));
  }
}
