// Reminders (issue 18, docs/adr/0015-reminders.md) through the UI against the real services: a schedule's own
// reminders from the form (sent, listed, shown again when editing, back to the defaults), the default reminders
// and quiet hours in Settings (kept across a reload, the server's validation next to its field), and the service
// worker's reminder notifications: their text, the Start and Snooze actions and where they go without a session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, newContext, signUp, watch, requireApi, deliverPush } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

/** Seconds of an ISO 8601 offset ("-PT10M" → -600, "-P1D" and "-PT24H" → -86400). */
function seconds(iso) {
  const m = /^([-+])?P(?:(\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)S)?)?$/.exec(iso);
  assert.ok(m, `an ISO 8601 duration: ${iso}`);
  const total = Number(m[2] || 0) * 86400 + Number(m[3] || 0) * 3600 + Number(m[4] || 0) * 60 + Number(m[5] || 0);
  return m[1] === '-' ? -total : total;
}
const bySeconds = (list) => list.map(seconds).sort((a, b) => a - b);

/** A new member on a new page; `paths` are API reads the test needs (it fails at once, naming a missing one). */
async function member(...paths) {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  for (const path of paths) await requireApi(pinit.url, user, path);
  return { context, page, problems, user };
}

/** Request bodies of `method path` (path without the query), as they are sent. */
function recordBodies(page, method, path) {
  const bodies = [];
  page.on('request', (r) => {
    if (r.method() === method && new URL(r.url()).pathname === path) bodies.push(r.postDataJSON());
  });
  return bodies;
}

async function newSchedule(page, { title, description, start }) {
  await page.goto('/app/schedules/new');
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.getByLabel('Title').fill(title);
  await form.getByLabel('Description').fill(description);
  if (start) await form.getByLabel('Start time').fill(start);
  return form;
}

test('a schedule with two reminders of its own: sent, listed, shown when editing, and back to the defaults', async () => {
  const { context, page, problems } = await member('/v2/members/reminders');
  const created = recordBodies(page, 'POST', '/v2/schedules');
  const form = await newSchedule(page, { title: 'Focus block', description: 'Deep work', start: '2030-01-07T09:00' });
  // The defaults are what a new schedule follows, and the form says what they are.
  assert.equal(await form.getByLabel('Use my defaults').isChecked(), true);
  await form.getByText('Your defaults: At the start').waitFor();
  await form.getByLabel('Choose for this schedule').check();
  await form.getByLabel('10 min before', { exact: true }).check();
  await form.getByLabel('At the start', { exact: true }).check();
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();
  assert.equal(created.length, 1);
  assert.deepEqual(bySeconds(created[0].reminders), [-600, 0]);

  // The list shows a small hint; the detail and the edit form show the list.
  await page.goto('/app/schedules?date=2030-01-07');
  const card = page.locator('.schedule-card').filter({ hasText: 'Focus block' });
  await card.locator('.reminder-hint').waitFor();
  assert.match(await card.locator('.reminder-hint').textContent(), /10 min before, At the start/);
  await card.getByRole('button', { name: 'Focus block', exact: true }).click();
  const detail = page.getByRole('dialog', { name: 'Focus block' });
  assert.match(await detail.locator('.reminders-fact').textContent(), /10 min before, At the start/);
  await detail.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit schedule' });
  assert.equal(await edit.getByLabel('Choose for this schedule').isChecked(), true);
  assert.equal(await edit.getByLabel('10 min before', { exact: true }).isChecked(), true);
  assert.equal(await edit.getByLabel('At the start', { exact: true }).isChecked(), true);
  assert.equal(await edit.getByLabel('5 min before', { exact: true }).isChecked(), false);

  // Another list: sent with the edit.
  const patched = recordBodies(page, 'PATCH', `/v2/schedules/${await card.getAttribute('data-id')}`);
  await edit.getByLabel('At the start', { exact: true }).uncheck();
  await edit.getByLabel('1 hour before', { exact: true }).check();
  await edit.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Schedule saved.').waitFor();
  assert.deepEqual(bySeconds(patched[0].reminders), [-3600, -600]);
  await page.waitForFunction(() => /1 hour before, 10 min before/.test(document.querySelector('.reminder-hint')?.textContent || ''));

  // Back to the defaults: `reminders: null`, and the hint goes.
  await card.getByRole('button', { name: 'Focus block', exact: true }).click();
  await page.getByRole('dialog', { name: 'Focus block' }).getByRole('button', { name: 'Edit' }).click();
  await edit.getByLabel('Use my defaults').check();
  await edit.getByRole('button', { name: 'Save' }).click();
  await edit.waitFor({ state: 'detached' }); // saved (the first "Schedule saved." may still be shown)
  assert.equal(patched.length, 2);
  assert.equal(patched[1].reminders, null);
  await page.waitForFunction(() => document.querySelector('.schedule-card') && !document.querySelector('.reminder-hint'));
  await card.getByRole('button', { name: 'Focus block', exact: true }).click();
  await page.getByRole('dialog', { name: 'Focus block' }).getByText('Your default reminders').waitFor();
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('an edit that does not touch the reminders does not send them', async () => {
  const { context, page } = await member('/v2/members/reminders');
  const form = await newSchedule(page, { title: 'Plain', description: 'Defaults', start: '2030-01-08T10:00' });
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();
  await page.goto('/app/schedules?date=2030-01-08');
  const card = page.locator('.schedule-card').filter({ hasText: 'Plain' });
  await card.waitFor();
  assert.equal(await card.locator('.reminder-hint').count(), 0, 'no hint for a schedule on the defaults');
  const patched = recordBodies(page, 'PATCH', `/v2/schedules/${await card.getAttribute('data-id')}`);
  await card.getByRole('button', { name: 'Plain', exact: true }).click();
  await page.getByRole('dialog', { name: 'Plain' }).getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit schedule' });
  assert.equal(await edit.getByLabel('Use my defaults').isChecked(), true);
  await edit.getByLabel('Title').fill('Plain 2');
  await edit.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Schedule saved.').waitFor();
  assert.equal(patched.length, 1);
  assert.equal('reminders' in patched[0], false);
  await context.close();
});

test('an occurrence shows its series\' reminders; a new list for this and the following ones', async () => {
  const { context, page, problems } = await member('/v2/members/reminders');
  const form = await newSchedule(page, { title: 'Standup', description: 'Team sync', start: '2030-01-07T09:00' }); // a Monday
  await form.getByLabel('Repeat').selectOption('weekdays');
  await form.getByLabel('Choose for this schedule').check();
  await form.getByLabel('10 min before', { exact: true }).check();
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();
  const hintOn = async (date) => {
    await page.goto(`/app/schedules?date=${date}`);
    const card = page.locator('.schedule-card').first();
    await card.waitFor();
    return (await card.locator('.reminder-hint').count()) ? card.locator('.reminder-hint').textContent() : null;
  };
  assert.match(await hintOn('2030-01-08'), /10 min before/, 'Tuesday follows the series');

  // Wednesday: 30 minutes before, for this and the following ones.
  await hintOn('2030-01-09');
  await page.getByRole('button', { name: 'Standup', exact: true }).click();
  await page.getByRole('dialog', { name: 'Standup' }).getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit schedule' });
  assert.equal(await edit.getByLabel('10 min before', { exact: true }).isChecked(), true, 'the series\' list');
  await edit.getByLabel('10 min before', { exact: true }).uncheck();
  await edit.getByLabel('30 min before', { exact: true }).check();
  await edit.getByRole('button', { name: 'Save' }).click();
  const ask = page.getByRole('dialog', { name: 'Please confirm' });
  await ask.getByLabel('This and the following ones').check();
  await ask.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('Schedule saved.').waitFor();
  assert.match(await hintOn('2030-01-10'), /30 min before/, 'Thursday follows the edit');
  assert.match(await hintOn('2030-01-08'), /10 min before/, 'Tuesday keeps the old list');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('default reminders saved in Settings survive a reload; at most five', async () => {
  const { context, page, problems } = await member('/v2/members/reminders');
  const puts = recordBodies(page, 'PUT', '/v2/members/reminders');
  await page.goto('/app/settings');
  const panel = page.getByRole('region', { name: 'Default reminders' });
  await panel.getByLabel('At the start', { exact: true }).waitFor();
  assert.equal(await panel.getByLabel('At the start', { exact: true }).isChecked(), true, 'the server\'s default: at the start');
  // Five chosen: the others cannot be.
  for (const label of ['5 min before', '10 min before', '15 min before', '30 min before']) await panel.getByLabel(label, { exact: true }).check();
  assert.equal(await panel.getByLabel('1 hour before', { exact: true }).isDisabled(), true);
  assert.equal(await panel.getByLabel('1 day before', { exact: true }).isDisabled(), true);
  for (const label of ['At the start', '5 min before', '10 min before', '30 min before']) await panel.getByLabel(label, { exact: true }).uncheck();
  await panel.getByLabel('1 day before', { exact: true }).check();
  await panel.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Default reminders saved.').waitFor();
  assert.deepEqual(bySeconds(puts[0].reminders), [-86400, -900]);

  await page.reload();
  await panel.getByLabel('1 day before', { exact: true }).waitFor();
  assert.equal(await panel.getByLabel('1 day before', { exact: true }).isChecked(), true);
  assert.equal(await panel.getByLabel('15 min before', { exact: true }).isChecked(), true);
  assert.equal(await panel.getByLabel('At the start', { exact: true }).isChecked(), false);
  // The schedule form says what the defaults now are.
  const form = await newSchedule(page, { title: 'x', description: 'y' });
  await form.getByText('Your defaults: 1 day before, 15 min before').waitFor();
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('quiet hours saved and shown after a reload; an empty window is refused next to its field', async () => {
  const { context, page, problems } = await member('/v0/push/quiet-hours');
  const puts = recordBodies(page, 'PUT', '/v0/push/quiet-hours');
  await page.goto('/app/settings');
  const quiet = page.getByRole('region', { name: 'Quiet hours' });
  await quiet.getByLabel('Quiet hours on').waitFor();
  // Never set: off, the server's 22:00–07:00, this device's zone.
  assert.equal(await quiet.getByLabel('Quiet hours on').isChecked(), false);
  assert.equal(await quiet.getByLabel('From', { exact: true }).inputValue(), '22:00');
  assert.equal(await quiet.getByLabel('To', { exact: true }).inputValue(), '07:00');
  const deviceZone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  assert.equal(await quiet.getByLabel('Time zone of the quiet hours').inputValue(), deviceZone);

  await quiet.getByLabel('Quiet hours on').check();
  await quiet.getByLabel('From', { exact: true }).fill('23:30');
  await quiet.getByLabel('To', { exact: true }).fill('06:15');
  await quiet.getByLabel('Drop them').check();
  await quiet.getByLabel('Also hold (or drop) the push at the start').uncheck();
  await quiet.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Quiet hours saved.').waitFor();
  assert.deepEqual(puts[0], { enabled: true, start: '23:30', end: '06:15', zoneId: deviceZone, mode: 'drop', includeAtStart: false });

  await page.reload();
  await quiet.getByLabel('Quiet hours on').waitFor();
  assert.equal(await quiet.getByLabel('Quiet hours on').isChecked(), true);
  assert.equal(await quiet.getByLabel('From', { exact: true }).inputValue(), '23:30');
  assert.equal(await quiet.getByLabel('To', { exact: true }).inputValue(), '06:15');
  assert.equal(await quiet.getByLabel('Drop them').isChecked(), true);
  assert.equal(await quiet.getByLabel('Also hold (or drop) the push at the start').isChecked(), false);
  assert.equal(await quiet.getByLabel('Time zone of the quiet hours').inputValue(), deviceZone);

  // From 23:30 to 23:30 is no window: the server's reason shows under "To".
  await quiet.getByLabel('To', { exact: true }).fill('23:30');
  await quiet.getByRole('button', { name: 'Save' }).click();
  const to = quiet.getByLabel('To', { exact: true });
  await page.waitForFunction(() => [...document.querySelectorAll('input[type=time]')].some((i) => i.getAttribute('aria-invalid') === 'true'));
  assert.equal(await to.getAttribute('aria-invalid'), 'true');
  const errorId = (await to.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  // QUIET_EMPTY in the page's words, under "To" and nowhere else.
  const reason = await page.locator(`[id="${errorId}"]`).textContent();
  assert.equal(reason.trim(), 'The end must differ from the start, or the quiet hours would be empty.');
  assert.equal(await quiet.locator('.form-error:not([hidden])').count(), 0, 'nothing above the button');
  assert.equal(await page.getByText('Quiet hours saved.').count(), 0, 'not saved');
  // Still the saved window after a reload.
  await page.reload();
  await quiet.getByLabel('To', { exact: true }).waitFor();
  assert.equal(await quiet.getByLabel('To', { exact: true }).inputValue(), '06:15');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

// ---------------------------------------------------------------- the service worker

/** A member's page controlled by the service worker, collecting the worker's messages in window.__sw. */
async function controlledMember(...paths) {
  const m = await member(...paths);
  await listen(m.page);
  const worker = m.context.serviceWorkers()[0] || await m.context.waitForEvent('serviceworker');
  return { ...m, worker };
}

async function listen(page) {
  await page.waitForFunction(() => Boolean(navigator.serviceWorker.controller), null, { timeout: 15_000 });
  await page.evaluate(() => {
    window.__sw = [];
    navigator.serviceWorker.addEventListener('message', (e) => window.__sw.push(e.data));
  });
}

const shown = (page) => page.evaluate(async () => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data, actions: n.actions.map((a) => [a.action, a.title]) }));
});

/** Clicks `action` ('' for the notification itself) on the notification tagged `tag`, in the worker. */
const click = (worker, tag, action) => worker.evaluate(async ([t, a]) => {
  const [n] = await self.registration.getNotifications({ tag: t });
  if (!n) throw new Error(`no notification tagged ${t}`);
  const result = await self.pinit.onNotificationClick(a, n);
  return result && typeof result === 'object' && 'status' in result ? { ok: result.ok, status: result.status } : null;
}, [tag, action]);

test('the worker\'s reminder texts, actions and requests (pure functions, in the worker)', async () => {
  const { context, worker } = await controlledMember();
  const out = await worker.evaluate(() => {
    const p = self.pinit;
    const zone = 'Asia/Seoul';
    const data = {
      scheduleId: '42', scheduleTitle: 'Standup', scheduleStartTime: '2026-02-01T00:00:00Z', idempotentKey: 'evt-7:-600',
      reminderOffset: '-PT10M', snooze: '0', actions: 'start,snooze',
    };
    const now = Date.parse('2026-01-31T23:50:00Z'); // 08:50 in Seoul, the same day as the start
    return {
      before: p.notificationText(data, { lang: 'en', zone, now }),
      beforeKo: p.notificationText(data, { lang: 'ko', zone, now }),
      hour: p.notificationText({ ...data, reminderOffset: '-PT1H' }, { lang: 'en', zone, now }).body,
      atStart: p.notificationText({ ...data, reminderOffset: 'PT0S' }, { lang: 'en', zone, now }).body,
      atStartKo: p.notificationText({ ...data, reminderOffset: 'PT0S' }, { lang: 'ko', zone, now }).body,
      snoozed: p.notificationText({ ...data, snooze: '1' }, { lang: 'en', zone, now }).body,
      snoozedKo: p.notificationText({ ...data, snooze: '2' }, { lang: 'ko', zone, now }).body,
      dayBefore: p.notificationText({ ...data, reminderOffset: '-PT24H' }, { lang: 'en', zone, now: Date.parse('2026-01-31T00:00:00Z') }).body,
      legacy: p.notificationText({ scheduleTitle: 'Standup', scheduleStartTime: '2026-02-01T00:30:00Z' }, { lang: 'en', zone, now }),
      actions: p.notificationActions(data, 'en'),
      actionsKo: p.notificationActions(data, 'ko'),
      startOnly: p.notificationActions({ ...data, actions: 'start' }, 'en'),
      noKey: p.notificationActions({ ...data, idempotentKey: undefined }, 'en'),
      none: p.notificationActions({ scheduleId: '42' }, 'en'),
      start: p.actionRequest('start', data, { zone, now }),
      snooze: p.actionRequest('snooze', { ...data, idempotentKey: 'evt:7/x -PT10M' }, { zone, now }),
      cannot: p.actionRequest('snooze', { scheduleId: '42' }, { zone, now }),
      fallbackStart: p.fallbackUrl('start', data),
      fallbackSnooze: p.fallbackUrl('snooze', data),
      seconds: ['PT0S', '-PT10M', '-P1D', '-PT24H', 'PT-5M'].map(p.durationSeconds),
    };
  });
  assert.deepEqual(out.before, { title: 'Standup', body: 'Starts in 10 minutes · 09:00' });
  assert.deepEqual(out.beforeKo, { title: 'Standup', body: '10분 후 시작 · 09:00' });
  assert.equal(out.hour, 'Starts in 1 hour · 09:00');
  assert.equal(out.atStart, 'Starting now · 09:00');
  assert.equal(out.atStartKo, '지금 시작해요 · 09:00');
  assert.equal(out.snoozed, 'Snoozed reminder · 09:00');
  assert.equal(out.snoozedKo, '다시 알림 · 09:00');
  assert.match(out.dayBefore, /^Starts in 1 day · 1 Feb.* 09:00$/, 'another day: with the date');
  assert.equal(out.legacy.title, '"Standup" is starting', 'a push without reminderOffset reads as before');
  assert.match(out.legacy.body, /^Starts at 1 Feb.*09:30\.$/);
  assert.deepEqual(out.actions, [{ action: 'start', title: 'Start' }, { action: 'snooze', title: 'Snooze 10 min' }]);
  assert.deepEqual(out.actionsKo, [{ action: 'start', title: '시작' }, { action: 'snooze', title: '10분 뒤 다시 알림' }]);
  assert.deepEqual(out.startOnly, [{ action: 'start', title: 'Start' }]);
  assert.deepEqual(out.noKey, [{ action: 'start', title: 'Start' }], 'no snooze without the reminder\'s key');
  assert.deepEqual(out.none, []);
  // Start: what the app sends — the wall clock now in the member's zone.
  assert.deepEqual(out.start, { method: 'POST', path: '/v2/schedules/42/start?time=2026-02-01T08%3A50%3A00&zoneId=Asia%2FSeoul' });
  assert.deepEqual(out.snooze, { method: 'POST', path: '/v0/push/reminders/evt%3A7%2Fx%20-PT10M/snooze', body: { minutes: 10 } });
  assert.equal(out.cannot, null);
  assert.equal(out.fallbackStart, '/app/schedules?scheduleId=42&reminder=start');
  assert.equal(out.fallbackSnooze, '/app/schedules?scheduleId=42&reminder=snooze&key=evt-7%3A-600');
  assert.deepEqual(out.seconds, [0, -600, -86400, -86400, -300]);
  await context.close();
});

test('a reminder push shows Start and Snooze, and a newer reminder of the schedule replaces the older one', async () => {
  const { context, page } = await controlledMember();
  const start = new Date(Date.now() + 10 * 60_000).toISOString();
  const base = { scheduleId: '901', scheduleTitle: 'Review', scheduleStartTime: start, snooze: '0', actions: 'start,snooze' };
  await deliverPush(page, { ...base, idempotentKey: 'evt-1:-600', reminderOffset: '-PT10M' });
  await page.waitForFunction(() => window.__sw.filter((m) => m.type === 'push').length >= 1);
  let [n] = await shown(page);
  assert.equal(n.title, 'Review');
  assert.match(n.body, /^Starts in 10 minutes · (\d\d:\d\d|.+)$/);
  assert.deepEqual(n.actions, [['start', 'Start'], ['snooze', 'Snooze 10 min']]);
  assert.equal(n.data.idempotentKey, 'evt-1:-600');

  await deliverPush(page, { ...base, idempotentKey: 'evt-1:0', reminderOffset: 'PT0S' });
  await page.waitForFunction(() => window.__sw.filter((m) => m.type === 'push').length >= 2);
  const all = await shown(page);
  assert.equal(all.length, 1, 'the earlier reminder of the schedule was replaced');
  [n] = all;
  assert.match(n.body, /^Starting now/);
  assert.equal(n.tag, 'evt-1:0');
  await context.close();
});

test('Start on a reminder starts the schedule without opening the app; the open page follows', async () => {
  const { context, page, worker } = await controlledMember('/v2/schedules?time=2030-01-07T12:00:00&zoneId=Asia/Seoul');
  const form = await newSchedule(page, { title: 'Standup', description: 'Daily' });
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();
  const id = await page.locator('.schedule-card').first().getAttribute('data-id');
  await page.goto('/app/today');
  await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
  await listen(page);
  const key = `evt-${id}:-600`;
  await deliverPush(page, { scheduleId: id, scheduleTitle: 'Standup', scheduleStartTime: new Date(Date.now() + 600_000).toISOString(), idempotentKey: key, reminderOffset: '-PT10M', snooze: '0', actions: 'start,snooze' });
  await page.waitForFunction(() => window.__sw.some((m) => m.type === 'push'));

  const result = await click(worker, key, 'start');
  assert.deepEqual(result, { ok: true, status: 204 });
  await page.getByText('Started "Standup" from the notification.').waitFor();
  await page.locator('.player').getByText('Standup').waitFor(); // the player bar shows it running
  assert.equal(new URL(page.url()).pathname, '/app/today', 'the page was not navigated');
  assert.equal((await shown(page)).length, 0, 'the notification is closed');

  // Start again: refused (already running) — the open page is taken to the schedule and says why.
  await deliverPush(page, { scheduleId: id, scheduleTitle: 'Standup', scheduleStartTime: new Date().toISOString(), idempotentKey: `evt-${id}:0`, reminderOffset: 'PT0S', snooze: '0', actions: 'start' });
  await page.waitForFunction(() => window.__sw.filter((m) => m.type === 'push').length >= 2);
  const again = await click(worker, `evt-${id}:0`, 'start');
  assert.equal(again.ok, false);
  assert.equal(again.status, 409);
  await page.waitForURL(`**/app/schedules?scheduleId=${id}*`);
  // The 409's code in the page's words (the server's text is Korean).
  await page.getByText('Could not start it: This schedule is already running.').waitFor();
  await context.close();
});

test('Snooze on a reminder: the call with the reminder\'s key; an unknown key opens the schedule and says why', async () => {
  const { context, page, worker } = await controlledMember();
  const key = 'evt-55:-PT10M';
  const payload = { scheduleId: '55', scheduleTitle: 'Write', scheduleStartTime: new Date(Date.now() + 600_000).toISOString(), idempotentKey: key, reminderOffset: '-PT10M', snooze: '0', actions: 'start,snooze' };
  await deliverPush(page, payload);
  await page.waitForFunction(() => window.__sw.some((m) => m.type === 'push'));
  // The notification service cannot arm a reminder for a test key, so the worker's fetch answers this one call
  // (202, as the API does) and records it; the session (refresh, token) is the real one.
  const sent = await worker.evaluate(async (k) => {
    const real = self.fetch;
    const calls = [];
    self.fetch = async (input, init = {}) => {
      const url = new URL(typeof input === 'string' ? input : input.url, self.location.origin);
      if (!url.pathname.startsWith('/v0/push/reminders/')) return real(input, init);
      calls.push({ path: url.pathname, method: init.method, body: init.body, auth: /^Bearer .+\..+\..+/.test(init.headers?.Authorization || '') });
      return new Response(JSON.stringify({ key: `${k}:snooze:1`, dueAt: new Date(Date.now() + 600_000).toISOString() }), { status: 202, headers: { 'Content-Type': 'application/json' } });
    };
    try {
      const [n] = await self.registration.getNotifications({ tag: k });
      const result = await self.pinit.onNotificationClick('snooze', n);
      return { calls, ok: result.ok, status: result.status };
    } finally {
      self.fetch = real;
    }
  }, key);
  assert.deepEqual(sent.calls, [{ path: '/v0/push/reminders/evt-55%3A-PT10M/snooze', method: 'POST', body: '{"minutes":10}', auth: true }]);
  assert.equal(sent.ok, true);
  await page.getByText('You\'ll be reminded again in 10 minutes.').waitFor();
  assert.equal((await shown(page)).length, 0, 'the notification is closed');

  // Against the real service an unknown key is refused: the page is taken to the schedule with the reason.
  await deliverPush(page, { ...payload, idempotentKey: 'evt-56:-PT10M' });
  await page.waitForFunction(() => window.__sw.filter((m) => m.type === 'push').length >= 2);
  const refused = await click(worker, 'evt-56:-PT10M', 'snooze');
  assert.equal(refused.ok, false);
  assert.ok(refused.status >= 400 && refused.status !== 401, `refused (${refused.status})`);
  await page.waitForURL('**/app/schedules?scheduleId=55*');
  await page.getByText('Could not snooze it: This reminder is no longer waiting: it was sent, or its schedule changed.').waitFor();
  await context.close();
});

test('without a session the action opens the schedule, where it is offered (focused) for one more click', async () => {
  const { context, page, worker } = await controlledMember('/v2/schedules?time=2030-01-07T12:00:00&zoneId=Asia/Seoul');
  const form = await newSchedule(page, { title: 'Gym', description: 'Legs' });
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();
  const id = await page.locator('.schedule-card').first().getAttribute('data-id');
  const key = `evt-${id}:-300`;

  // Snooze: the detail offers it with the reminder's key.
  await page.goto(`/app/schedules?scheduleId=${id}&reminder=snooze&key=${encodeURIComponent(key)}`);
  const offered = page.getByRole('dialog', { name: 'Gym' });
  await offered.getByRole('button', { name: 'Remind me again in 10 minutes' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.textContent === 'Remind me again in 10 minutes');
  await page.keyboard.press('Escape');
  await offered.waitFor({ state: 'detached' });

  await page.goto('/app/today');
  await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
  await listen(page);
  await deliverPush(page, { scheduleId: id, scheduleTitle: 'Gym', scheduleStartTime: new Date(Date.now() + 300_000).toISOString(), idempotentKey: key, reminderOffset: '-PT5M', snooze: '0', actions: 'start,snooze' });
  await page.waitForFunction(() => window.__sw.some((m) => m.type === 'push'));
  // The session ends for the worker: no refresh cookie, no token in its memory (the page keeps its own).
  await context.clearCookies();
  await worker.evaluate(() => { self.pinit.session.token = null; self.pinit.session.shared = null; });
  const result = await click(worker, key, 'start');
  assert.equal(result.status, 401);
  await page.waitForURL(`**/app/schedules?scheduleId=${id}&reminder=start`);
  const detail = page.getByRole('dialog', { name: 'Gym' });
  await detail.waitFor();
  await page.waitForFunction(() => document.activeElement?.textContent === 'Start');
  assert.ok(await detail.getByText('Not started').count() > 0, 'nothing was started by the URL');
  await context.close();
});
