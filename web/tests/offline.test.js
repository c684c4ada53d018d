// The player offline, against the real server: presses made without a connection are queued in IndexedDB with
// the moment they were pressed and sent in order when it returns, so the server's tracked time is the offline
// interval (not the milliseconds between the replayed requests); the pages render offline from what was last
// loaded, with a notice, and show the queued presses as waiting; a queued press the server refuses (older than
// 24 hours: 400 on `time`; no longer possible: 409) is dropped and reported; a queue left by a closed page is
// sent on the next load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPinit, launch, newContext, signUp, watch, apiAs, axeViolations, todayInZone, ZONE, PHONE,
} from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

/** The wall clock of instant `ms` in the member's zone, "YYYY-MM-DDTHH:mm:ss". */
const wall = (ms) => new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE, dateStyle: 'short', timeStyle: 'medium' }).format(new Date(ms)).replace(' ', 'T');
const seconds = (iso) => {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(iso || '');
  assert.ok(m, `a duration: ${iso}`);
  return Number(m[1] || 0) * 3600 + Number(m[2] || 0) * 60 + Number(m[3] || 0);
};

async function member() {
  const context = await newContext(browser, pinit.url, { viewport: PHONE });
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  const { call } = await apiAs(pinit.url, user);
  return { context, page, problems, call, user };
}

async function makeSchedule(call, title, time = '23:00') {
  const res = await call('POST', '/v2/schedules', { title, scheduleType: 'DEEP_WORK', date: { dateTime: `${todayInZone()}T${time}:00`, zoneId: ZONE } });
  assert.ok(res.status < 300, `POST /v2/schedules: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

const server = async (call, id) => (await call('GET', `/v2/schedules/${id}`)).body;

async function serverUntil(call, id, ok, what) {
  let last;
  for (let i = 0; i < 100; i++) {
    last = await server(call, id);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: the server has ${JSON.stringify({ state: last?.state, duration: last?.duration })}`);
}

const card = (page, title) => page.locator('.schedule-card', { hasText: title });
const queueLength = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('pinit-app');
  open.onsuccess = () => {
    const count = open.result.transaction('queue').objectStore('queue').count();
    count.onsuccess = () => { open.result.close(); resolve(count.result); };
  };
  open.onerror = () => reject(open.error);
}));

test('offline: start, wait, pause — queued with their moments, shown as waiting, sent in order once online; the server tracked the offline interval', async () => {
  const { context, page, problems, call } = await member();
  const id = await makeSchedule(call, 'Offline focus');
  await page.goto('/app/schedules?view=list');
  await card(page, 'Offline focus').waitFor();
  await page.waitForFunction(() => Boolean(navigator.serviceWorker.controller), null, { timeout: 15_000 });

  await context.setOffline(true);
  const startedAt = Date.now();
  await page.getByRole('button', { name: 'Start: Offline focus' }).click();
  await page.getByText(/Offline: Start "Offline focus" \(pressed/).waitFor();
  // Shown as applied and waiting: the card, the player, the banner; nothing reached the server.
  await card(page, 'Offline focus').getByText('Waiting to be sent').waitFor();
  assert.match(await card(page, 'Offline focus').textContent(), /In progress/);
  const player = page.getByRole('region', { name: 'Running schedule' });
  await player.getByText(/In progress · Waiting to be sent/).waitFor();
  const banner = page.locator('.net-banner');
  assert.match(await banner.textContent(), /You're offline\..*Changes waiting to be sent when you're back online: 1\./);
  assert.equal((await server(call, id)).state, 'NOT_STARTED');
  assert.equal(await queueLength(page), 1);
  // The timeline, offline too: the block shows it applied and waiting, and no longer moves.
  await page.getByRole('button', { name: 'Day', exact: true }).click();
  const blockEl = page.locator('.tl-schedule', { hasText: 'Offline focus' });
  await blockEl.getByText('Waiting to be sent').waitFor();
  assert.match(await blockEl.getAttribute('aria-label') ?? await blockEl.textContent(), /In progress/);
  assert.doesNotMatch(await blockEl.getAttribute('class'), /is-movable/);
  await page.getByRole('button', { name: 'List', exact: true }).click();
  await card(page, 'Offline focus').waitFor();

  // A reload while offline: the schedules from what was last loaded, the queue still applied, and since when.
  await page.reload();
  await card(page, 'Offline focus').getByText('Waiting to be sent').waitFor();
  assert.match(await card(page, 'Offline focus').textContent(), /In progress/);
  assert.match(await page.locator('.net-banner').textContent(), /You're offline\. Showing what was loaded .*: 1\./);
  // The running clock counts from the moment Start was pressed, not from the reload.
  await page.waitForFunction(() => /0:00:0[3-9]|0:00:[1-5]\d/.test(document.querySelector('.player-time')?.textContent || ''));
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe offline:\n${violations.join('\n')}`);

  await page.waitForTimeout(Math.max(0, 6000 - (Date.now() - startedAt)));
  const pausedAt = Date.now();
  await player.getByRole('button', { name: 'Pause' }).click();
  await player.getByText(/Paused · Waiting to be sent/).waitFor();
  assert.equal(await queueLength(page), 2);
  assert.equal((await server(call, id)).state, 'NOT_STARTED', 'nothing is sent while offline');
  await page.waitForTimeout(3000); // the time spent offline after the pause must not count

  await context.setOffline(false);
  const saved = await serverUntil(call, id, (s) => s.state === 'SUSPENDED', 'the queued start and pause replayed');
  const offlineInterval = (pausedAt - startedAt) / 1000;
  const tracked = seconds(saved.duration);
  assert.ok(Math.abs(tracked - offlineInterval) <= 2, `tracked ${tracked} s, pressed ${offlineInterval} s apart`);
  await page.getByText('Changes made offline sent: 2.').waitFor();
  await page.waitForFunction(() => !document.querySelector('.pill-queued') && document.querySelector('.net-banner').hidden);
  assert.equal(await queueLength(page), 0);
  assert.match(await card(page, 'Offline focus').textContent(), /Paused/);
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('a queued press older than 24 hours is refused by the server, dropped and reported', async () => {
  const { context, page, call } = await member();
  const id = await makeSchedule(call, 'Too late');
  await page.goto('/app/schedules?view=list');
  await card(page, 'Too late').waitFor();
  await context.setOffline(true);
  await page.getByRole('button', { name: 'Start: Too late' }).click();
  await card(page, 'Too late').getByText('Waiting to be sent').waitFor();
  // The press, as if it had been made 25 hours ago.
  const old = Date.now() - 25 * 3600 * 1000;
  await page.evaluate(({ at, time }) => new Promise((resolve, reject) => {
    const open = indexedDB.open('pinit-app');
    open.onsuccess = () => {
      const tx = open.result.transaction('queue', 'readwrite');
      const store = tx.objectStore('queue');
      store.getAll().onsuccess = (e) => { for (const item of e.target.result) store.put({ ...item, at, time }); };
      tx.oncomplete = () => { open.result.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  }), { at: old, time: `${wall(old)}.000` });

  await context.setOffline(false);
  const report = page.locator('.toast-error', { hasText: 'Changes made offline that could not be applied: 1' });
  await report.waitFor();
  const text = await report.textContent();
  assert.match(text, /Start "Too late" \(pressed .*\): the time it was pressed is outside what the server accepts — .*a change may be dated from/);
  assert.equal(await queueLength(page), 0, 'the refused press is dropped');
  assert.equal((await server(call, id)).state, 'NOT_STARTED');
  await page.waitForFunction(() => !document.querySelector('.pill-queued'));
  assert.match(await card(page, 'Too late').textContent(), /Not started/);
  await context.close();
});

test('a queue left by a closed page is sent on the next load; a press no longer possible (409) is reported', async () => {
  const { context, page, call } = await member();
  const first = await makeSchedule(call, 'Was running', '22:00');
  const second = await makeSchedule(call, 'Next one', '23:00');
  assert.ok((await call('POST', `/v2/schedules/${first}/start?time=${encodeURIComponent(wall(Date.now()))}&zoneId=${encodeURIComponent(ZONE)}`)).status < 300);
  await page.goto('/app/schedules?view=list');
  const player = page.getByRole('region', { name: 'Running schedule' });
  await player.getByText('Was running').waitFor();

  // Paused offline; the page is closed with the pause still queued.
  await page.waitForTimeout(1500);
  await context.setOffline(true);
  const pausePressedAt = Date.now();
  await player.getByRole('button', { name: 'Pause' }).click();
  await player.getByText(/Paused · Waiting to be sent/).waitFor();
  // Offline, a second one cannot simply start while the first holds the member's slot (the server's rule): the
  // switch is offered (complete it and start this one); kept as it is, nothing more is queued.
  await page.getByRole('button', { name: 'Start: Next one' }).click();
  const offer = page.getByRole('dialog', { name: 'Switch to another schedule?' });
  await offer.getByText(/"Was running" is paused .* and still holds the clock/).waitFor();
  await offer.getByRole('button', { name: 'Keep "Was running"' }).click();
  await offer.waitFor({ state: 'detached' });
  assert.equal(await queueLength(page), 1);
  await page.close();

  // Meanwhile, on another device, it was completed a second before the pause: that can no longer be applied.
  const done = await call('POST', `/v2/schedules/${first}/complete?time=${encodeURIComponent(wall(pausePressedAt - 1000))}&zoneId=${encodeURIComponent(ZONE)}`);
  assert.ok(done.status < 300, `complete: ${done.status}`);
  await context.setOffline(false);

  let next = await context.newPage();
  await next.goto('/app/schedules?view=list');
  const report = next.locator('.toast-error', { hasText: 'Changes made offline that could not be applied: 1' });
  await report.waitFor();
  // The 409's code worded (COMPLETED_SUSPEND), with no conflict sentence glued before it.
  assert.match(await report.textContent(), /Pause "Was running" \(pressed [^)]*\): A completed schedule can't be paused\./);
  assert.doesNotMatch(await report.textContent(), /current state/);
  assert.equal((await server(call, first)).state, 'COMPLETED');
  assert.equal(await queueLength(next), 0);
  await report.getByRole('button', { name: 'Dismiss' }).click(); // it stays until then

  // Started offline, the page closed; the next load sends it, dated when it was pressed.
  await card(next, 'Next one').waitFor();
  await context.setOffline(true);
  const pressedAt = Date.now();
  await next.getByRole('button', { name: 'Start: Next one' }).click();
  await card(next, 'Next one').getByText('Waiting to be sent').waitFor();
  await next.close();
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal((await server(call, second)).state, 'NOT_STARTED');
  await context.setOffline(false);
  next = await context.newPage();
  await next.goto('/app/today');
  await serverUntil(call, second, (s) => s.state === 'IN_PROGRESS', 'the queued start sent on load');
  const pausedAt = Date.now();
  assert.ok((await call('POST', `/v2/schedules/${second}/suspend?time=${encodeURIComponent(wall(pausedAt))}&zoneId=${encodeURIComponent(ZONE)}`)).status < 300);
  const tracked = seconds((await server(call, second)).duration);
  const expected = Math.floor(pausedAt / 1000) - pressedAt / 1000; // the pause is dated to the second
  assert.ok(Math.abs(tracked - expected) <= 2 && tracked >= 2.5, `tracked ${tracked} s, expected ${expected} s from the press`);
  await context.close();
});
