// The service worker: the versioned app-shell cache, push messages delivered through CDP
// (ServiceWorker.deliverPushMessage), de-duplication by idempotentKey, the notification text in the
// member's zone, the click, and the Web Push subscription sent to the server; notifications blocked in the
// browser: the steps for this browser to allow them again, and push offered once they are.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startPinit, launch, newContext, signUp, deliverPush, requireApi, watch, axeViolations, ZONE, PHONE, ROOT } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

async function controlledPage() {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const user = await signUp(page);
  await listenForPushes(page);
  return { context, page, user };
}

/** Collects the worker's `push` messages to the page in window.__pushes (again after every page load). */
async function listenForPushes(page) {
  await page.waitForFunction(() => Boolean(navigator.serviceWorker.controller), null, { timeout: 15_000 });
  await page.evaluate(() => {
    window.__pushes = [];
    navigator.serviceWorker.addEventListener('message', (e) => { if (e.data?.type === 'push') window.__pushes.push(e.data); });
  });
}

const notifications = (page) => page.evaluate(async () => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
});

test('the service worker controls the page and caches this build\'s shell', async () => {
  const { context, page } = await controlledPage();
  const build = await page.getAttribute('html', 'data-build');
  const caches = await page.evaluate(async () => {
    const names = await caches.keys();
    const out = {};
    for (const name of names) out[name] = (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname);
    return out;
  });
  assert.deepEqual(Object.keys(caches), [`pinit-shell-${build}`]);
  const entries = caches[`pinit-shell-${build}`];
  for (const path of ['/index.html', `/static/${build}/app/main.js`, `/static/${build}/i18n/ko.json`, `/static/${build}/styles/app.css`]) {
    assert.ok(entries.includes(path), `${path} is precached`);
  }
  await context.close();
});

test('a push delivered twice with the same idempotentKey shows one notification, in the member\'s zone', async () => {
  const { context, page } = await controlledPage();
  const payload = { scheduleId: '42', scheduleTitle: 'Standup', scheduleStartTime: '2026-02-01T00:30:00Z', idempotentKey: 'push-key-1' };
  await deliverPush(page, payload);
  await page.waitForFunction(() => window.__pushes.length >= 1);
  await deliverPush(page, payload);
  await page.waitForFunction(() => window.__pushes.length >= 2);
  const pushes = await page.evaluate(() => window.__pushes);
  assert.deepEqual(pushes.map((p) => p.shown), [true, false], 'shown once, the duplicate dropped');

  const shown = await notifications(page);
  assert.equal(shown.length, 1);
  assert.equal(shown[0].title, '"Standup" is starting');
  // 00:30 UTC is 09:30 in Asia/Seoul, the member's zone.
  assert.equal(ZONE, 'Asia/Seoul');
  assert.match(shown[0].body, /1 Feb.*09:30/);
  assert.equal(shown[0].data.url, '/app/schedules?scheduleId=42');

  // Another key is another notification.
  await deliverPush(page, { ...payload, idempotentKey: 'push-key-2', scheduleId: '43', scheduleTitle: 'Review' });
  await page.waitForFunction(() => window.__pushes.length >= 3);
  assert.equal((await notifications(page)).length, 2);
  await context.close();
});

test('notifications follow the chosen language', async () => {
  const { context, page } = await controlledPage();
  await page.goto('/app/settings');
  await page.getByLabel('Display language').selectOption('ko');
  await page.getByRole('heading', { level: 1, name: '설정' }).waitFor();
  await page.waitForTimeout(300); // the page tells the worker
  await listenForPushes(page);
  await deliverPush(page, { scheduleId: '7', scheduleTitle: '회의', scheduleStartTime: '2026-02-01T05:00:00Z', idempotentKey: 'ko-1' });
  await page.waitForFunction(() => window.__pushes.length >= 1);
  const [n] = await notifications(page);
  assert.equal(n.title, '"회의" 일정이 시작돼요');
  assert.match(n.body, /14:00 시작 예정이에요/);
  await context.close();
});

test('clicking the notification opens that schedule', async () => {
  const { context, page, user } = await controlledPage();
  // A schedule to be notified about (needs the task API).
  await requireApi(pinit.url, user, '/v2/schedules?time=2026-02-02T12:00:00&zoneId=Asia/Seoul');
  await page.goto('/app/schedules/new');
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.getByLabel('Title').fill('Standup');
  await form.getByLabel('Description').fill('Daily');
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();
  const id = await page.locator('.schedule-card').first().getAttribute('data-id');
  assert.ok(id, 'the schedule was created');

  await page.goto('/app/today');
  await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
  await listenForPushes(page);
  await deliverPush(page, { scheduleId: id, scheduleTitle: 'Standup', scheduleStartTime: new Date().toISOString(), idempotentKey: `click-${id}` });
  await page.waitForFunction(() => window.__pushes.length >= 1);
  const [worker] = context.serviceWorkers();
  await worker.evaluate(async (tag) => {
    const [n] = await self.registration.getNotifications({ tag });
    await self.pinit.openFromNotification(n);
  }, `click-${id}`);
  await page.waitForURL(`**/app/schedules?scheduleId=${id}*`);
  await page.getByRole('dialog', { name: 'Standup' }).waitFor();
  assert.equal((await notifications(page)).length, 0, 'the clicked notification is closed');
  await context.close();
});

/**
 * Headless Chromium has no push service to subscribe with: stands in for PushManager with a subscription that has
 * real keys (a P-256 public key and a 16-byte secret, as the server checks), and records the application server key
 * the page passed (window.__subscribeKey).
 */
async function fakePushService(context) {
  await context.addInitScript(() => {
    const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    let current = null;
    PushManager.prototype.subscribe = async function subscribe(options) {
      const key = new Uint8Array(options.applicationServerKey);
      window.__subscribeKey = [...key];
      const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
      const p256dh = b64url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)));
      const auth = b64url(crypto.getRandomValues(new Uint8Array(16)));
      current = {
        endpoint: 'https://fcm.googleapis.com/fcm/send/pinit-browser-test',
        options: { applicationServerKey: key.buffer },
        toJSON() { return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh, auth } }; },
        unsubscribe: async () => { current = null; return true; },
      };
      return current;
    };
    PushManager.prototype.getSubscription = async function getSubscription() { return current; };
  });
}

test('push on: subscribes with the server\'s VAPID key and registers {deviceId, subscription}', async () => {
  const context = await newContext(browser, pinit.url);
  await fakePushService(context);
  const page = await context.newPage();
  const user = await signUp(page);
  await requireApi(pinit.url, user, '/v0/push/vapid');
  await requireApi(pinit.url, user, '/v0/push/subscribed?deviceId=00000000-0000-4000-8000-000000000000');
  const bodies = [];
  page.on('request', (r) => { if (r.url().endsWith('/v0/push/subscribe')) bodies.push(r.postDataJSON()); });
  await page.goto('/app/settings');
  const toggle = page.getByRole('switch', { name: 'Push notifications on this device' });
  await toggle.waitFor();
  await page.waitForFunction(() => !document.querySelector('[role=switch]').disabled);
  await toggle.click();
  await page.waitForFunction(() => document.querySelector('[role=switch]').getAttribute('aria-checked') === 'true', null, { timeout: 10_000 });
  assert.equal(bodies.length, 1);
  const [body] = bodies;
  assert.match(body.deviceId, /^[0-9a-f-]{36}$/);
  assert.equal(body.subscription.endpoint, 'https://fcm.googleapis.com/fcm/send/pinit-browser-test');
  assert.deepEqual(Object.keys(body.subscription.keys).sort(), ['auth', 'p256dh']);
  assert.equal(Buffer.from(body.subscription.keys.p256dh, 'base64url').length, 65);
  assert.equal(Buffer.from(body.subscription.keys.auth, 'base64url').length, 16);
  const key = await page.evaluate(() => window.__subscribeKey);
  assert.equal(key.length, 65, 'an uncompressed P-256 public key from /v0/push/vapid');
  assert.equal(key[0], 4);

  // Off again: the server forgets the device.
  await toggle.click();
  await page.waitForFunction(() => document.querySelector('[role=switch]').getAttribute('aria-checked') === 'false', null, { timeout: 10_000 });
  await page.getByText('Off for this device.', { exact: true }).waitFor();
  await context.close();
});

/**
 * Stands in for PushManager (headless Chromium has no push service) with a subscription that outlives page
 * loads: the application server key it was made with is localStorage.__pushKey (none at first; see
 * subscribedWithOldKey). `subscribe` fails while localStorage.__failSubscribe is set.
 */
async function fakePushWithOldKey(context) {
  await context.addInitScript(() => {
    let storage;
    try { storage = window.localStorage; } catch { return; }
    const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const make = async (key) => {
      const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
      const p256dh = b64url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)));
      const auth = b64url(crypto.getRandomValues(new Uint8Array(16)));
      return {
        endpoint: `https://fcm.googleapis.com/fcm/send/pinit-key-${key.slice(1, 5).join('-')}`,
        options: { applicationServerKey: new Uint8Array(key).buffer },
        toJSON() { return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh, auth } }; },
        unsubscribe: async () => { current = null; storage.setItem('__pushKey', 'null'); return true; },
      };
    };
    let current;
    let loaded = null;
    const load = () => (loaded ||= (async () => {
      const saved = storage.getItem('__pushKey');
      const key = saved === null ? null : JSON.parse(saved);
      current = key ? await make(key) : null;
    })());
    PushManager.prototype.getSubscription = async function getSubscription() { await load(); return current; };
    PushManager.prototype.subscribe = async function subscribe(options) {
      await load();
      if (storage.getItem('__failSubscribe')) throw new DOMException('push service unavailable', 'AbortError');
      const key = [...new Uint8Array(options.applicationServerKey)];
      current = await make(key);
      storage.setItem('__pushKey', JSON.stringify(key));
      return current;
    };
  });
}

/** As if this device had subscribed before the server's VAPID key was rotated (`pinit keys rotate --vapid`). */
const subscribedWithOldKey = (page) => page.evaluate(() => localStorage.setItem('__pushKey', JSON.stringify([4, ...new Array(64).fill(7)])));

const serverVapidKey = (page) => page.evaluate(async () => {
  const b64 = (await (await fetch('/v0/push/vapid')).text()).trim().replace(/-/g, '+').replace(/_/g, '/');
  return [...atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))].map((c) => c.charCodeAt(0));
});

test('a subscription made with the server\'s old VAPID key is renewed with the new key when the app opens', async () => {
  const context = await newContext(browser, pinit.url);
  await fakePushWithOldKey(context);
  const page = await context.newPage();
  const bodies = [];
  page.on('request', (r) => { if (r.url().endsWith('/v0/push/subscribe')) bodies.push(r.postDataJSON()); });
  await signUp(page);
  await subscribedWithOldKey(page);
  await page.reload();
  await page.getByText('push notifications on this device were renewed', { exact: false }).waitFor({ timeout: 15_000 });
  const key = await serverVapidKey(page);
  assert.equal(key.length, 65);
  assert.deepEqual(await page.evaluate(() => JSON.parse(localStorage.getItem('__pushKey'))), key,
    'subscribed again with the key the server serves');
  assert.ok(bodies.length >= 1, 'the new subscription is registered');
  const last = bodies.at(-1);
  assert.equal(last.subscription.endpoint, `https://fcm.googleapis.com/fcm/send/pinit-key-${key.slice(1, 5).join('-')}`);

  // Opened again: nothing left to renew, and the settings say it is on.
  const count = bodies.length;
  await page.goto('/app/settings');
  await page.getByText('On: this device is notified when a schedule starts.', { exact: true }).waitFor({ timeout: 10_000 });
  assert.equal(bodies.length, count, 'no second renewal');
  await context.close();
});

test('when subscribing again fails, the member is asked to turn notifications on again', async () => {
  const context = await newContext(browser, pinit.url);
  await fakePushWithOldKey(context);
  const page = await context.newPage();
  await signUp(page);
  await subscribedWithOldKey(page);
  await page.evaluate(() => localStorage.setItem('__failSubscribe', '1'));
  await page.reload();
  await page.getByText('turn push notifications on again', { exact: false }).waitFor({ timeout: 15_000 });
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  await page.waitForURL('**/app/settings');
  // The subscription bound to the old key was dropped (a browser holds one per key at most): off until switched on.
  await page.getByText('Off for this device.', { exact: true }).waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate(() => localStorage.getItem('__pushKey')), 'null');

  // Switching it on (the push service answers again) subscribes with the server's key.
  await page.evaluate(() => localStorage.removeItem('__failSubscribe'));
  const toggle = page.getByRole('switch', { name: 'Push notifications on this device' });
  await page.waitForFunction(() => !document.querySelector('[role=switch]').disabled);
  await toggle.click();
  await page.waitForFunction(() => document.querySelector('[role=switch]').getAttribute('aria-checked') === 'true', null, { timeout: 10_000 });
  assert.deepEqual(await page.evaluate(() => JSON.parse(localStorage.getItem('__pushKey'))), await serverVapidKey(page));
  await context.close();
});

// ---------------------------------------------------------------- notifications blocked in the browser

test('which browser, and its steps to allow notifications again (pushhelp.js alone)', async () => {
  // The module has no imports: loaded as it is served.
  const source = readFileSync(path.join(ROOT, 'web/app/pushhelp.js'), 'utf8');
  const { pushHelp } = await import(`data:text/javascript,${encodeURIComponent(source)}`);
  const chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
  const safari = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
  const brands = (...names) => ({ brands: names.map((brand) => ({ brand, version: '126' })), mobile: false, platform: 'Windows' });
  const cases = [
    [{ userAgent: chrome, userAgentData: brands('Google Chrome', 'Chromium') }, 'chromium', 'Chrome'],
    [{ userAgent: `${chrome} Edg/126.0.0.0`, userAgentData: brands('Microsoft Edge', 'Chromium') }, 'chromium', 'Edge'],
    [{ userAgent: chrome, userAgentData: brands('Brave', 'Chromium') }, 'chromium', 'Brave'],
    [{ userAgent: `${chrome} OPR/112.0.0.0` }, 'chromium', 'Opera'],
    [{ userAgent: chrome }, 'chromium', 'Chrome'],
    [{ userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', userAgentData: { brands: [{ brand: 'Google Chrome' }], mobile: true, platform: 'Android' } }, 'android', 'Chrome'],
    [{ userAgent: 'Mozilla/5.0 (Linux; Android 13; SM-S901B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36' }, 'other', ''],
    [{ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' }, 'firefox', 'Firefox'],
    [{ userAgent: safari, maxTouchPoints: 0 }, 'safari', 'Safari'],
    [{ userAgent: safari, maxTouchPoints: 5 }, 'ios', ''], // an iPad asking for the desktop site
    [{ userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1' }, 'ios', ''],
    [{ userAgent: 'Lynx/2.8.9rel.1' }, 'other', ''],
  ];
  for (const [nav, kind, name] of cases) {
    const help = pushHelp(nav);
    assert.deepEqual([help.kind, help.name], [kind, name], nav.userAgent);
    assert.ok(help.steps.length >= 2 && help.steps.every((k) => k.startsWith('pushHelp.')), nav.userAgent);
  }
  assert.deepEqual(pushHelp({ userAgent: safari, maxTouchPoints: 5 }, { standalone: true }).steps, ['pushHelp.iosApp', 'pushHelp.comeBack']);
  // Every step is in both catalogues.
  for (const lang of ['en', 'ko']) {
    const catalogue = JSON.parse(readFileSync(path.join(ROOT, `web/i18n/${lang}.json`), 'utf8'));
    for (const [nav] of cases) for (const key of pushHelp(nav).steps) assert.ok(catalogue[key], `${lang}: ${key}`);
  }
});

/** A context like newContext's, but with notifications not granted (headless Chromium denies when asked). */
async function contextWithoutNotifications(options = {}) {
  const context = await browser.newContext({ baseURL: pinit.url, locale: 'en-US', timezoneId: ZONE, viewport: PHONE, ...options });
  await fakePushService(context);
  return context;
}

const pushSwitch = (page) => page.getByRole('switch', { name: 'Push notifications on this device' });

test('push blocked in the browser: the steps for this browser next to the switch, no error; allowed again, push is offered', async () => {
  const context = await contextWithoutNotifications();
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  await requireApi(pinit.url, user, '/v0/push/vapid');
  const host = new URL(pinit.url).host;
  await page.goto('/app/settings');
  const toggle = pushSwitch(page);
  await toggle.waitFor();
  await page.waitForFunction(() => !document.querySelector('[role=switch]').disabled);
  assert.equal(await page.evaluate(() => Notification.permission), 'default');

  // Switched on: the browser's prompt is answered "Block" (headless Chromium denies it).
  await toggle.click();
  const help = page.getByRole('group', { name: 'Notifications are blocked for Pinit' });
  await help.waitFor();
  assert.equal(await page.evaluate(() => Notification.permission), 'denied');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'push-help-title', 'the focus is on the steps');
  await help.getByText(`Chromium blocks notifications from this site (${host}), so push can't be turned on here. To allow them again:`).waitFor();
  assert.deepEqual(await help.getByRole('listitem').allTextContents(), [
    'Click the site information icon to the left of the address.',
    'Choose “Site settings”.',
    'Next to “Notifications”, choose “Allow”.',
    'Come back to this page and reload it.',
  ]);
  assert.equal(await page.locator('.toast-error').count(), 0, 'no error toast');
  assert.equal(await toggle.getAttribute('aria-checked'), 'false');
  assert.equal(await toggle.getAttribute('aria-disabled'), 'true');
  assert.match(await toggle.getAttribute('aria-describedby'), /\bpush-help\b/);
  await page.getByText('Blocked in the browser\'s site settings.').waitFor();

  // Still focusable (aria-disabled, not disabled): pressed from the keyboard it asks the browser nothing and says
  // nothing new, the steps take the focus.
  await toggle.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'push-help-title');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'push-help-title');
  assert.equal(await page.locator('.toast').count(), 0);
  assert.deepEqual(await axeViolations(page), [], 'axe on Settings with the steps shown');
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axeViolations(page), [], 'axe on Settings with the steps shown, dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // Opened again later: the steps at once.
  await page.reload();
  await help.waitFor();

  // In Korean.
  await page.getByLabel('Display language').selectOption('ko');
  const koHelp = page.getByRole('group', { name: 'Pinit 알림이 차단되어 있어요' });
  await koHelp.waitFor();
  await koHelp.getByText(`Chromium에서 이 사이트(${host})의 알림을 차단하고 있어 여기서는 푸시 알림을 켤 수 없어요. 다시 허용하려면:`).waitFor();
  assert.deepEqual(await koHelp.getByRole('listitem').allTextContents(), [
    '주소 왼쪽의 사이트 정보 아이콘을 클릭하세요.',
    '‘사이트 설정’을 선택하세요.',
    '‘알림’ 옆에서 ‘허용’을 선택하세요.',
    '이 페이지로 돌아와 새로고침하세요.',
  ]);
  assert.deepEqual(await axeViolations(page), [], 'axe on Settings in Korean with the steps shown');
  await page.getByLabel('표시 언어').selectOption('en');
  await help.waitFor();

  // The member allows notifications in the browser's settings: the page notices and offers to turn push on.
  await context.grantPermissions(['notifications'], { origin: pinit.url });
  await page.getByText('Your browser allows notifications from Pinit again. Off for this device.').waitFor();
  await help.waitFor({ state: 'detached' });
  assert.equal(await toggle.getAttribute('aria-disabled'), null);
  const offer = page.getByRole('button', { name: 'Turn on push notifications' });
  await offer.click();
  await page.waitForFunction(() => document.querySelector('[role=switch]').getAttribute('aria-checked') === 'true', null, { timeout: 10_000 });
  await page.getByText('Push notifications are on for this device.').waitFor();
  assert.equal(await offer.count(), 0, 'the offer is gone once push is on');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('role')), 'switch', 'the focus is on the switch');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('push blocked in Firefox: the steps for Firefox', async () => {
  const context = await contextWithoutNotifications({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' });
  const page = await context.newPage();
  await signUp(page);
  assert.equal(await page.evaluate(() => Notification.requestPermission()), 'denied');
  await page.goto('/app/settings');
  const help = page.getByRole('group', { name: 'Notifications are blocked for Pinit' });
  await help.waitFor();
  await help.getByText(/^Firefox blocks notifications from this site/).waitFor();
  assert.deepEqual(await help.getByRole('listitem').allTextContents(), [
    'Click the permissions icon in the address bar, to the left of the address.',
    'Next to “Send notifications: Blocked”, click × to clear it.',
    'Come back to this page and reload it.',
  ]);
  await context.close();
});
