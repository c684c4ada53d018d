// Sign up, then log in at once (the task service provisions the member asynchronously: the first calls may
// get 503 USER_NOT_READY, which api.js retries).
import { signup, login } from '../auth.js';
import { worded } from '../api.js';
import { t, getLang, setLang, LANGUAGES } from '../i18n.js';
import { h, field, busy } from '../ui.js';
import { browserZone } from '../time.js';

/** The frame shared by the public pages. */
export function authLayout(title, lead, ...children) {
  return h('div', { class: 'auth' },
    h('div', { class: 'auth-brand' },
      h('img', { src: new URL('../../icons/icon.svg', import.meta.url).pathname, alt: '', width: 48, height: 48 }),
      h('span', {}, 'Pinit')),
    h('h1', { class: 'auth-title', tabindex: '-1' }, title),
    lead ? h('p', { class: 'auth-lead' }, lead) : null,
    ...children);
}

export function languageSwitch() {
  const select = h('select', { onchange: (e) => setLang(e.target.value) },
    LANGUAGES.map((l) => h('option', { value: l, selected: l === getLang() }, t(`lang.${l}`))));
  return h('div', { class: 'lang-switch' }, field(t('settings.language'), select));
}

/**
 * The field a refusal of auth's is about, by its code (auth answers `{message, code}`, no `errors[]`): the rules
 * of the username, password and nickname, and a taken username. The rest (the zone, too many signups) is said
 * above the button.
 */
export const FIELD_OF_CODE = {
  USERNAME_RULE: 'username', DUPLICATE_USERNAME: 'username', PASSWORD_RULE: 'password', NICKNAME_RULE: 'nickname',
};

const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;

export async function render({ main, setTitle, navigate, loadMember }) {
  setTitle(t('signup.title'));
  const inputs = {
    username: h('input', { type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true, maxlength: 50 }),
    password: h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: PASSWORD_MIN }),
    confirm: h('input', { type: 'password', autocomplete: 'new-password', required: true }),
    nickname: h('input', { type: 'text', autocomplete: 'nickname', required: true, maxlength: 30 }),
  };
  const fields = {
    username: field(t('auth.username'), inputs.username),
    password: field(t('auth.password'), inputs.password, { hint: t('signup.passwordHint') }),
    confirm: field(t('signup.confirm'), inputs.confirm),
    nickname: field(t('signup.nickname'), inputs.nickname),
  };
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, t('signup.submit'));

  function validate() {
    const v = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
    const errors = {
      username: v.username.trim() ? '' : t('auth.usernameRequired'),
      password: !v.password ? t('auth.passwordRequired')
        : [...v.password].length < PASSWORD_MIN ? t('signup.passwordShort')
          : [...v.password].length > PASSWORD_MAX ? worded('PASSWORD_RULE', t('signup.passwordShort')) : '',
      confirm: v.confirm !== v.password ? t('signup.mismatch') : '',
      nickname: v.nickname.trim() ? '' : t('signup.nicknameRequired'),
    };
    for (const [k, message] of Object.entries(errors)) fields[k].setError(message);
    const first = Object.keys(errors).find((k) => errors[k]);
    if (first) inputs[first].focus();
    return !first;
  }

  const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    formError.hidden = true;
    if (!validate()) return;
    await busy(submit, t('signup.busy'), async () => {
      try {
        const username = inputs.username.value.trim();
        await signup({ username, password: inputs.password.value, nickname: inputs.nickname.value.trim(), zoneId: browserZone() });
        await login(username, inputs.password.value);
        await loadMember();
        navigate('/app/today', { replace: true });
      } catch (error) {
        // The server's rule under the field it is about, in the member's words; anything else above the button.
        const name = FIELD_OF_CODE[error?.code];
        if (name && fields[name]) {
          fields[name].setError(error.userMessage);
          inputs[name].focus();
          return;
        }
        formError.textContent = error.userMessage || t('error.generic');
        formError.hidden = false;
      }
    });
  } },
  fields.username, fields.password, fields.confirm, fields.nickname, formError, submit);

  main.append(authLayout(t('signup.title'), t('signup.lead'), form,
    h('p', { class: 'auth-switch' }, t('signup.haveAccount'), ' ', h('a', { href: '/login' }, t('signup.toLogin'))),
    languageSwitch()));
}
