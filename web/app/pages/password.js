// Settings → Change password: the current password and a new one (typed twice). The server signs out every other
// session; this one stays. Members who signed up with Naver have no password to give (an operator can set one).
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, mount, field, busy, toast } from '../ui.js';

const MIN = 8;
const MAX = 128;

export async function render({ main, setTitle }) {
  setTitle(t('password.title'));
  const current = h('input', { type: 'password', name: 'current-password', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', required: true, minlength: MIN, maxlength: MAX });
  const again = h('input', { type: 'password', name: 'new-password-again', autocomplete: 'new-password', required: true });
  const currentField = field(t('password.current'), current);
  const nextField = field(t('password.new'), next, { hint: t('password.newHint') });
  const againField = field(t('password.again'), again);
  const fields = [currentField, nextField, againField];
  const save = h('button', { class: 'btn btn-primary', type: 'submit' }, t('password.save'));

  const check = () => {
    if (!current.value) return [currentField, t('password.currentRequired')];
    const length = [...next.value].length;
    if (length < MIN || length > MAX) return [nextField, t('password.newRule')];
    if (next.value === current.value) return [nextField, t('password.newSame')];
    if (again.value !== next.value) return [againField, t('password.mismatch')];
    return null;
  };

  const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    for (const f of fields) f.setError('');
    const problem = check();
    if (problem) {
      const [where, message] = problem;
      where.setError(message);
      where.querySelector('input').focus();
      return;
    }
    await busy(save, t('common.saving'), async () => {
      try {
        await api.changePassword(current.value, next.value);
        for (const input of [current, next, again]) input.value = '';
        toast(t('password.changed'), { type: 'success' });
      } catch (error) {
        // A wrong current password, or a new one the server refuses, under its field in the member's words, by
        // auth's code (CURRENT_PASSWORD_WRONG, NEW_PASSWORD_RULE, NEW_PASSWORD_SAME). A 400 breaking two rules has
        // no code; its message names the fields (currentPassword, newPassword) — never shown as such.
        const message = error?.status === 400 && !error.code ? error?.data?.message || '' : '';
        if (['WRONG_PASSWORD', 'CURRENT_PASSWORD_WRONG'].includes(error?.code) || /currentPassword/.test(message)) {
          currentField.setError(t('password.currentWrong'));
          current.focus();
        } else if (['PASSWORD_RULE', 'NEW_PASSWORD_RULE', 'NEW_PASSWORD_SAME'].includes(error?.code) || /newPassword/.test(message)) {
          nextField.setError(t(next.value === current.value ? 'password.newSame' : 'password.newRule'));
          next.focus();
        } else {
          currentField.setError(error?.userMessage || t('error.generic'));
          current.focus();
        }
      }
    });
  } }, currentField, nextField, againField, h('div', { class: 'button-row' }, save));

  mount(main, h('div', { class: 'settings password' },
    h('p', { class: 'muted page-intro' }, t('password.lead'), ' ', h('a', { href: '/app/settings' }, t('calendars.backToSettings'))),
    h('section', { class: 'panel', 'aria-labelledby': 'change-password' },
      h('h2', { id: 'change-password' }, t('password.heading')),
      h('p', { class: 'muted' }, t('password.hint')),
      form)));
}
