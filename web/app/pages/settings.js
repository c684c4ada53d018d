// Settings: language, the member's time zone (saved to the server), push on this device, log out.
import { api } from '../api.js';
import { logout } from '../auth.js';
import { t, getLang, setLang, LANGUAGES } from '../i18n.js';
import { session, setZone, emit, on } from '../state.js';
import { h, mount, uid, toast, showError, field, busy, confirmDialog } from '../ui.js';
import { allZones, browserZone, utcLabel, isValidZone } from '../time.js';
import { pushStatus, enablePush, disablePush, sendPrefsToWorker } from '../push.js';

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
      if (!(await confirmDialog(t('settings.confirmLogout'), { confirmLabel: t('settings.logout') }))) return;
      await busy(button, t('settings.loggingOut'), async () => {
        try { if ((await pushStatus()) === 'on') await disablePush(); } catch { /* best effort */ }
        await logout();
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

  // Time zone
  const listId = uid('zones');
  const zoneInput = h('input', { type: 'text', list: listId, value: session.zone, autocomplete: 'off', spellcheck: 'false' });
  const zoneField = field(t('settings.zoneLabel'), zoneInput, { hint: t('settings.zoneHint') });
  const zoneNow = h('p', { class: 'muted' });
  const showZone = () => { zoneNow.textContent = t('settings.zoneCurrent', { zone: session.zone, offset: utcLabel(session.zone) }); };
  showZone();
  const device = browserZone();
  const saveZone = h('button', { class: 'btn btn-primary', type: 'submit' }, t('common.save'));
  const zoneForm = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const zone = zoneInput.value.trim();
    if (!isValidZone(zone) || !(zone === 'UTC' || zone.includes('/'))) {
      zoneField.setError(t('settings.zoneInvalid'));
      zoneInput.focus();
      return;
    }
    zoneField.setError('');
    await busy(saveZone, t('common.saving'), async () => {
      try {
        await api.members.setZone(zone);
        setZone(zone);
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
  h('datalist', { id: listId }, allZones().map((z) => h('option', { value: z }))),
  h('div', { class: 'button-row' }, saveZone,
    device !== session.zone ? h('button', { class: 'btn', type: 'button', onclick: () => { zoneInput.value = device; zoneForm.requestSubmit(); } }, t('settings.useDeviceZone', { zone: device })) : null));
  const zone = h('section', { class: 'panel', 'aria-labelledby': 'set-zone' },
    h('h2', { id: 'set-zone' }, t('settings.zone')), zoneNow, zoneForm, h('p', { class: 'muted' }, t('settings.week')));

  // Push on this device
  const pushSwitch = h('button', { class: 'switch', type: 'button', role: 'switch', 'aria-checked': 'false', disabled: true, 'aria-describedby': 'push-status' },
    h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })),
    h('span', {}, t('settings.pushLabel')));
  const pushText = h('p', { id: 'push-status', class: 'muted', 'aria-live': 'polite' }, t('common.loading'));
  let state = 'off';
  async function refreshPush() {
    try { state = await pushStatus(); } catch { state = 'error'; }
    pushSwitch.setAttribute('aria-checked', String(state === 'on'));
    pushSwitch.disabled = state === 'unsupported' || state === 'blocked';
    pushText.textContent = t(`push.status.${state}`);
  }
  pushSwitch.addEventListener('click', async () => {
    pushSwitch.disabled = true;
    try {
      if (state === 'on') { await disablePush(); toast(t('push.disabled'), { type: 'success' }); }
      else { await enablePush(); toast(t('push.enabled'), { type: 'success' }); }
    } catch (error) {
      showError(error);
    }
    await refreshPush();
  });
  const push = h('section', { class: 'panel', 'aria-labelledby': 'set-push' },
    h('h2', { id: 'set-push' }, t('settings.push')), h('p', { class: 'muted' }, t('settings.pushHint')), pushSwitch, pushText);

  on('zone:changed', () => { showZone(); zoneInput.value = session.zone; }, signal);
  mount(main, h('div', { class: 'settings' }, language, zone, push, account,
    h('p', { class: 'muted version' }, t('settings.version', { build }))));
  refreshPush();
}
