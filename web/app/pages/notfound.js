// Unknown client routes.
import { t } from '../i18n.js';
import { h } from '../ui.js';
import { authLayout } from './signup.js';

export function render({ main, setTitle }) {
  setTitle(t('notFound.title'));
  main.append(authLayout(t('notFound.title'), t('notFound.lead'), h('a', { class: 'btn btn-primary', href: '/' }, t('notFound.home'))));
}
