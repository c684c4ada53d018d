// Boot, routing (History API; the gateway answers every client route with index.html) and the app shell.
import { initI18n, t, onLangChange, getLang } from './i18n.js';
import { formatWall, onClockChange, TIME } from './locale.js';
import { refresh, hasSession, onSessionLost, refreshUnreachable, enterOffline } from './auth.js';
import { api } from './api.js';
import { session, setZone, emit, on } from './state.js';
import { h, mount, toast } from './ui.js';
import { mountPlayer, togglePlayer } from './player.js';
import { installShortcuts } from './shortcuts.js';
import * as offline from './offline.js';
import { flushQueue } from './replay.js';
import { toWall } from './time.js';
import { registerServiceWorker, sendPrefsToWorker, resyncSubscription } from './push.js';
import * as loginPage from './pages/login.js';
import * as signupPage from './pages/signup.js';
import * as callbackPage from './pages/callback.js';
import * as todayPage from './pages/today.js';
import * as schedulesPage from './pages/schedules.js';
import * as tasksPage from './pages/tasks.js';
import * as statisticsPage from './pages/statistics.js';
import * as settingsPage from './pages/settings.js';
import * as calendarsPage from './pages/calendars.js';
import * as tokensPage from './pages/tokens.js';
import * as webhooksPage from './pages/webhooks.js';
import * as passwordPage from './pages/password.js';
import * as deleteAccountPage from './pages/delete-account.js';
import * as notFoundPage from './pages/notfound.js';

const ROUTES = [
  ['/login', loginPage, { public: true }],
  ['/signup', signupPage, { public: true }],
  ['/login/callback/:provider', callbackPage, { public: true }],
  ['/app/today', todayPage],
  ['/app/schedules', schedulesPage],
  ['/app/schedules/new', schedulesPage, { action: 'new' }],
  ['/app/new', schedulesPage, { action: 'new' }],
  ['/app/schedules/:id', schedulesPage, { action: 'open' }],
  ['/app/schedules/:id/edit', schedulesPage, { action: 'edit' }],
  ['/app/tasks', tasksPage],
  ['/app/tasks/new', tasksPage, { action: 'new' }],
  ['/app/tasks/:id', tasksPage, { action: 'open' }],
  ['/app/tasks/:id/edit', tasksPage, { action: 'edit' }],
  ['/app/statistics', statisticsPage],
  ['/app/settings', settingsPage],
  ['/app/settings/calendars', calendarsPage],
  ['/app/settings/tokens', tokensPage],
  ['/app/settings/webhooks', webhooksPage],
  ['/app/settings/password', passwordPage],
  ['/app/settings/delete-account', deleteAccountPage],
];

const TABS = [
  ['/app/today', 'nav.today', '☀'],
  ['/app/schedules', 'nav.schedules', '▦'],
  ['/app/tasks', 'nav.tasks', '✓'],
  ['/app/statistics', 'nav.statistics', '▮'],
];

function match(pathname) {
  const parts = pathname.replace(/\/+$/, '').split('/');
  for (const [pattern, page, options = {}] of ROUTES) {
    const want = pattern.split('/');
    if (want.length !== parts.length) continue;
    const params = {};
    if (want.every((w, i) => (w.startsWith(':') ? ((params[w.slice(1)] = decodeURIComponent(parts[i])), true) : w === parts[i]))) {
      return { page, params, options };
    }
  }
  return null;
}

// ---------------------------------------------------------------- navigation

export function navigate(to, { replace = false } = {}) {
  const url = new URL(to, location.origin);
  if (url.origin !== location.origin) { location.assign(url); return; }
  const target = url.pathname + url.search + url.hash;
  if (target === location.pathname + location.search + location.hash && !replace) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', target);
  route();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[href]');
  if (!a || a.target || a.hasAttribute('download') || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || a.dataset.external !== undefined || url.pathname.startsWith('/v0/')) return;
  // A link to a place on this page (the skip link): focus it, without routing again.
  if (url.hash && url.pathname === location.pathname && url.search === location.search) {
    const target = document.getElementById(decodeURIComponent(url.hash.slice(1)));
    if (target) {
      e.preventDefault();
      if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
      target.focus();
      target.scrollIntoView({ block: 'start' });
    }
    return;
  }
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

// ---------------------------------------------------------------- shell

let shell = null; // {root, main, title, tabs, fab, back}
let current = null; // {page, controller, key}
let firstRoute = true;
let keepFocus = null; // the id of the element to focus again after the page is rendered anew (onClockChange)

function buildShell() {
  const title = h('h1', { class: 'topbar-title', id: 'page-title', tabindex: '-1' });
  const back = h('button', { class: 'icon-btn topbar-back', type: 'button', 'aria-label': t('common.back'), onclick: () => history.back() }, '‹');
  const logo = h('a', { class: 'logo', href: '/app/today', 'aria-label': t('nav.home') },
    h('img', { src: new URL('../icons/icon.svg', import.meta.url).pathname, alt: '', width: 28, height: 28 }), h('span', {}, 'Pinit'));
  const settingsLink = h('a', { class: 'icon-btn topbar-settings', href: '/app/settings', 'aria-label': t('nav.settings') }, '⚙');
  // The + button is a link like the tabs: it lives in the navigation landmark (fixed on screen by CSS).
  const fab = h('a', { class: 'fab', href: '/app/schedules/new' }, h('span', { 'aria-hidden': 'true' }, '+'));
  const tabs = h('nav', { class: 'tabs', 'aria-label': t('nav.main') },
    h('ul', {}, TABS.map(([href, key, icon]) => h('li', {},
      h('a', { href, class: 'tab' }, h('span', { class: 'tab-icon', 'aria-hidden': 'true' }, icon), h('span', { class: 'tab-label' }, t(key))))),
    h('li', { class: 'tab-desktop-only' }, h('a', { href: '/app/settings', class: 'tab' },
      h('span', { class: 'tab-icon', 'aria-hidden': 'true' }, '⚙'), h('span', { class: 'tab-label' }, t('nav.settings'))))),
    fab);
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const player = h('div', { class: 'player-slot' });
  const network = h('p', { class: 'net-banner', role: 'status', hidden: true });
  const root = h('div', { class: 'shell' },
    h('header', { class: 'topbar' }, back, logo, title, settingsLink),
    network,
    h('div', { class: 'layout' }, tabs, main),
    player);
  mount(document.getElementById('app'), root);
  shell = { root, main, title, tabs, fab, back, logo, settingsLink, network, controller: new AbortController() };
  shell.unmountPlayer = mountPlayer(player);
  on('offline:changed', showNetwork, shell.controller.signal);
  showNetwork();
}

/**
 * The offline banner: offline, since when the data shown is (the oldest kept answer shown) and what is waiting
 * to be sent; online with presses still waiting: that they are being sent.
 */
function showNetwork() {
  if (!shell) return;
  const { offline: off, staleSince, pending } = offline.status();
  const el = shell.network;
  const parts = [];
  if (off) {
    parts.push(t('offline.banner'));
    if (staleSince) parts.push(t('offline.since', { when: formatWall(toWall(staleSince, session.zone), { day: 'numeric', month: 'short', ...TIME }) }));
    parts.push(pending ? t('offline.pendingN', { n: pending }) : t('offline.howItWorks'));
  } else if (pending) {
    parts.push(t('offline.sending', { n: pending }));
  }
  el.textContent = parts.join(' ');
  el.hidden = !parts.length;
  el.classList.toggle('is-offline', off);
}

function dropShell() {
  shell?.unmountPlayer();
  shell?.controller.abort();
  shell = null;
}

function updateShell(pathname) {
  for (const a of shell.tabs.querySelectorAll('a.tab')) {
    const active = pathname === a.getAttribute('href') || pathname.startsWith(`${a.getAttribute('href')}/`);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const onTasks = pathname.startsWith('/app/tasks');
  const date = new URLSearchParams(location.search).get('date');
  shell.fab.href = onTasks ? '/app/tasks/new' : `/app/schedules/new${date ? `?date=${date}` : ''}`;
  shell.fab.setAttribute('aria-label', t(onTasks ? 'tasks.add' : 'schedules.add'));
  const isTop = TABS.some(([href]) => href === pathname);
  shell.back.hidden = isTop;
  shell.logo.hidden = !isTop;
  shell.settingsLink.hidden = pathname === '/app/settings';
  shell.root.dataset.route = pathname.split('/')[2] || '';
}

function setTitle(text) {
  if (shell) shell.title.textContent = text;
  document.title = text ? `${text} · Pinit` : 'Pinit';
}

// ---------------------------------------------------------------- routing

let routeSeq = 0;

async function route() {
  const seq = ++routeSeq;
  const { pathname } = location;
  if (pathname === '/' || pathname === '/app' || pathname === '/index.html') {
    navigate(hasSession() ? '/app/today' : '/login', { replace: true });
    return;
  }
  const found = match(pathname) || { page: notFoundPage, params: {}, options: { public: true } };
  const { page, params, options } = found;
  const isPublic = Boolean(options.public);
  if (!isPublic && !hasSession()) {
    const token = await refresh();
    if (!token && !canWorkOffline()) {
      navigate(`/login?next=${encodeURIComponent(pathname + location.search)}`, { replace: true });
      return;
    }
    if (token || !session.me) await loadMember();
    if (seq !== routeSeq) return;
  }
  if (isPublic && hasSession() && (page === loginPage || page === signupPage)) {
    navigate('/app/today', { replace: true });
    return;
  }

  const ctx = {
    params, action: options.action, query: new URLSearchParams(location.search), navigate, setTitle, loadMember,
  };
  if (current && current.page === page && page.update && !isPublic) {
    updateShell(pathname);
    page.update(ctx);
    return;
  }
  current?.controller.abort();
  const controller = new AbortController();
  current = { page, controller };
  ctx.signal = controller.signal;

  let container;
  if (isPublic) {
    dropShell();
    container = h('main', { id: 'main', class: 'main main-public', tabindex: '-1' });
    mount(document.getElementById('app'), container);
  } else {
    if (!shell) buildShell();
    updateShell(pathname);
    container = shell.main;
    container.replaceChildren();
  }
  ctx.main = container;
  try {
    await page.render(ctx);
  } catch (error) {
    if (error?.name !== 'AbortError') {
      console.error(error);
      toast(error?.userMessage || t('error.generic'), { type: 'error' });
    }
  }
  const again = keepFocus && document.getElementById(keepFocus);
  keepFocus = null;
  if (again) again.focus({ preventScroll: true });
  else if (!firstRoute && !controller.signal.aborted) {
    (container.querySelector('h1') || shell?.title || container).focus({ preventScroll: true });
  }
  firstRoute = false;
}

/**
 * The member's profile and zone. The task service's zone is the one that counts; it is awaited briefly (the
 * member may still be being provisioned) and applied later with a zone:changed event if it comes late.
 */
async function loadMember() {
  let fromTask = false;
  const zone = api.members.zone().then((z) => {
    if (!z) return;
    fromTask = true;
    if (z !== session.zone) {
      setZone(z);
      emit('zone:changed', { zone: z });
      sendPrefsToWorker();
    }
  }).catch(() => {});
  try {
    session.me = await api.me();
    if (session.me?.zoneId && !fromTask) setZone(session.me.zoneId);
    if (hasSession() && session.me) {
      // This device keeps the member's data for offline use; another member's goes.
      await offline.setOwner(session.me.memberId ?? session.me.id ?? session.me.username);
      offline.remember('/v0/me', session.me);
    }
  } catch { /* the zone stays the browser's */ }
  await Promise.race([zone, new Promise((r) => setTimeout(r, 1500))]);
  if (hasSession()) flushQueue(); // presses made offline last time
  sendPrefsToWorker();
  resyncSubscription().then((outcome) => {
    if (outcome === 'renewed') toast(t('push.renewed'), { type: 'success' });
    if (outcome === 'stale') {
      toast(t('push.keyChanged'), { action: { label: t('push.openSettings'), run: () => navigate('/app/settings') } });
    }
  });
}

onSessionLost((reason) => {
  session.me = null;
  if (reason === 'expired') toast(t('error.sessionExpired'), { type: 'error' });
  if (reason === 'deleted') toast(t('error.code.ACCOUNT_DELETED'), { type: 'error' });
  if (!match(location.pathname)?.options.public) navigate('/login', { replace: true });
});

onLangChange(() => {
  dropShell();
  current?.controller.abort();
  current = null;
  sendPrefsToWorker();
  route();
});

// Another clock (Settings, or another tab): every time on the page is written again — the page is rendered anew,
// the focus kept on the control that had it (by its id) — and the service worker is told.
onClockChange(() => {
  sendPrefsToWorker();
  showNetwork();
  if (!current) return;
  keepFocus = document.activeElement?.id || null;
  current.controller.abort();
  current = null;
  route();
});

window.addEventListener('popstate', route);

navigator.serviceWorker?.addEventListener('message', ({ data }) => {
  if (data?.type === 'push') emit('schedule:changed', { id: data.scheduleId, reason: 'push' });
  if (data?.type === 'navigate' && data.url) {
    navigate(data.url);
    if (data.notice) toast(data.notice, { type: 'error' });
  }
  // A reminder's Start or Snooze, done by the service worker from the notification.
  if (data?.type === 'reminder') {
    emit('schedule:changed', { id: data.scheduleId, reason: data.action === 'start' ? 'start' : 'snoozed' });
    toast(data.action === 'start' ? t('reminders.started', { title: data.scheduleTitle || '' }) : t('reminders.snoozed', { n: 10 }), { type: 'success' });
  }
});

/**
 * Offline with a member's data kept on this device (they were signed in here and did not log out): the app opens
 * on it, and the session is refreshed once the server answers again (a refusal then sends to the login page).
 */
function canWorkOffline() {
  if (!refreshUnreachable() || !offline.owner()) return false;
  enterOffline();
  return true;
}

// Back online: refresh the session (with the first call) and send what was pressed meanwhile.
window.addEventListener('online', () => {
  if (!offline.owner()) return;
  flushQueue().finally(() => { if (shell) emit('schedule:changed', { reason: 'online' }); });
});

// Keyboard shortcuts (shortcuts.js), inside the app only.
installShortcuts((name) => {
  if (!shell || match(location.pathname)?.options.public) return false;
  const onSchedules = location.pathname === '/app/schedules';
  if (name === 'new') { navigate(shell.fab.getAttribute('href')); return true; }
  if (name === 'today') {
    if (onSchedules) return schedulesPage.shortcut('today');
    navigate('/app/today');
    return true;
  }
  if (name === 'prev' || name === 'next') return onSchedules && schedulesPage.shortcut(name);
  if (name === 'player') return togglePlayer();
  return false;
});

async function boot() {
  await initI18n();
  document.documentElement.lang = getLang();
  registerServiceWorker();
  if ((await refresh()) || canWorkOffline()) await loadMember();
  route();
}

boot();

window.addEventListener('unhandledrejection', (event) => {
  if (event.reason?.name === 'AbortError') return;
  console.error(event.reason);
  toast(event.reason?.userMessage || t('error.generic'), { type: 'error' });
});
