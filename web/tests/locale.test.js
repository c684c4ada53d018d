// Dates and times after the browser's region, in the clock of this device (locale.js, timefields.js), against the
// real server: an en-US browser reads month/day and 12-hour on cards, the detail, the timeline and the week range, an
// en-GB one day/month and 24-hour, a ko-KR one the Korean forms; the clock set in Settings turns every time on the
// page at once (cards, timeline, quick add, the forms' time fields) and stays after a reload; the service worker
// writes a notification in it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, newContext, signUp, watch, apiAs, deliverPush, axeViolations, ZONE, DESKTOP } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

const DAY = '2026-12-09'; // a Wednesday: its week is 7–13 December 2026

/** A member signed up in a browser of `locale` (a Korean one signs up in English, then goes back to Korean). */
async function member(locale) {
  const context = await newContext(browser, pinit.url, { locale, viewport: DESKTOP });
  const page = await context.newPage();
  const problems = watch(page);
  if (locale.startsWith('ko')) {
    await page.goto('/login');
    await page.getByLabel('언어').selectOption('en');
    await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  }
  const user = await signUp(page);
  const { call } = await apiAs(pinit.url, user);
  if (locale.startsWith('ko')) {
    await page.goto('/app/settings');
    await page.getByLabel('Display language').selectOption('ko');
    await page.getByRole('heading', { level: 1, name: '설정' }).waitFor();
  }
  const made = await call('POST', '/v2/schedules', {
    title: 'Deep work', description: 'Write', scheduleType: 'DEEP_WORK', plannedDuration: 'PT1H30M',
    date: { dateTime: `${DAY}T14:30:00`, zoneId: ZONE },
  });
  assert.ok(made.status < 300, `POST /v2/schedules ${made.status}`);
  return { context, page, problems, call };
}

const QUIET = 'section[aria-labelledby="set-quiet"]';
const quietHint = (page) => page.locator(QUIET).locator('p.muted').first().textContent();
const card = (page, title = 'Deep work') => page.locator('.schedule-card').filter({ has: page.locator('.card-title', { hasText: title }) });
const cardTime = (page, title) => card(page, title).locator('.schedule-time').textContent();
/** Errors thrown in the page (the console's failed requests aside: a refresh before signing up answers 401). */
const thrown = (problems) => problems.filter((p) => p.startsWith('pageerror'));
const hourLabels = (page) => page.locator('.tl-hour').allTextContents();

/** The list, the detail, the day and week timelines of DAY: what they show. */
async function readDay(page, { detailName = 'Deep work' } = {}) {
  await page.goto(`/app/schedules?view=list&date=${DAY}`);
  await card(page).waitFor();
  const out = { range: await page.locator('.week-label').textContent(), card: await cardTime(page) };
  await card(page).getByRole('button', { name: 'Deep work', exact: true }).click();
  const detail = page.getByRole('dialog', { name: detailName });
  await detail.locator('dd.start').waitFor();
  out.detail = (await detail.locator('dd.start').textContent()).replace(/\s*\(.*\)$/, '');
  await page.keyboard.press('Escape');
  await detail.waitFor({ state: 'detached' });
  for (const view of ['day', 'week']) {
    await page.goto(`/app/schedules?view=${view}&date=${DAY}`);
    await page.locator('.tl-schedule .tl-range').waitFor();
    out[view] = { hours: await hourLabels(page), block: await page.locator('.tl-schedule .tl-range').textContent() };
  }
  return out;
}

test('an en-US browser reads month/day and 12-hour, an en-GB one day/month and 24-hour, everywhere', async () => {
  const cases = {
    'en-US': {
      week: 'Dec 7 – 13, 2026', card: '2:30 PM', detail: 'Dec 9, 2026, 2:30 PM', block: '2:30 PM–4:00 PM',
      hours: ['1 AM', '9 AM', '12 PM', '2 PM', '11 PM'], due: '12/9', title: 'Wednesday, December 9',
    },
    'en-GB': {
      week: '7 – 13 Dec 2026', card: '14:30', detail: '9 Dec 2026, 14:30', block: '14:30–16:00',
      hours: ['01:00', '09:00', '12:00', '14:00', '23:00'], due: '09/12', title: 'Wednesday 9 December',
    },
  };
  for (const [locale, want] of Object.entries(cases)) {
    const { context, page, problems, call } = await member(locale);
    const seen = await readDay(page);
    assert.equal(seen.range, want.week, `${locale}: the week range`);
    assert.equal(seen.card, want.card, `${locale}: the card`);
    assert.equal(seen.detail, want.detail, `${locale}: the detail`);
    for (const view of ['day', 'week']) {
      const hours = seen[view].hours;
      assert.deepEqual([hours[0], hours[8], hours[11], hours[13], hours[22]], want.hours, `${locale}: the ${view} timeline's hours`);
      assert.equal(seen[view].block, want.block, `${locale}: the ${view} timeline's block`);
    }
    // The day's title and a task's due date in the region's order too.
    await page.goto(`/app/schedules?view=list&date=${DAY}`);
    assert.equal(await page.locator('.day-title').textContent(), want.title);
    // Due on 9 December of a far year: a date near today would read "Due today" or "Due tomorrow" instead.
    assert.ok((await call('POST', '/v2/tasks', { title: 'Report', description: 'x', dueDate: { date: '2099-12-09', zoneId: ZONE, offset: '+09:00' }, difficulty: 3, importance: 5 })).status < 300);
    await page.goto('/app/tasks');
    assert.match(await page.locator('.task-card', { hasText: 'Report' }).locator('.due').textContent(), new RegExp(`\\b${want.due}\\b`));
    assert.deepEqual(thrown(problems), [], locale);
    await context.close();
  }
});

test('the clock set to 24-hour in an en-US browser: at once everywhere, the forms too, and after a reload', async () => {
  const { context, page, problems, call } = await member('en-US');
  await page.goto(`/app/schedules?view=list&date=${DAY}`);
  assert.equal(await cardTime(page), '2:30 PM');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  const clock = page.getByRole('group', { name: 'Clock' });
  assert.equal(await clock.getByLabel('Automatic (from this browser: 12-hour)').isChecked(), true);
  assert.match(await quietHint(page), /10:00 PM to 7:00 AM/);
  const quiet = page.locator(QUIET);
  await quiet.getByLabel('From', { exact: true }).waitFor();
  assert.equal(await quiet.getByLabel('From', { exact: true }).getAttribute('type'), 'time', 'the browser\'s own time input while it shows the clock in force');

  // Another tab on the day's schedules follows too.
  const other = await context.newPage();
  await other.goto(`/app/schedules?view=list&date=${DAY}`);
  await card(other).waitFor();
  assert.equal(await cardTime(other), '2:30 PM');

  await clock.getByLabel('24-hour (14:30)').check();
  // The page is written again at once, the focus kept on the choice.
  await page.waitForFunction((sel) => /22:00 to 07:00/.test(document.querySelector(`${sel} p.muted`)?.textContent || ''), QUIET);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'clock-h23');
  assert.equal(await page.getByRole('group', { name: 'Clock' }).getByLabel('24-hour (14:30)').isChecked(), true);
  assert.equal(await page.evaluate(() => localStorage.getItem('pinit.clock')), 'h23');
  // Quiet hours: the browser's input would show 12-hour, so selects in the 24-hour clock take its place.
  const from = page.locator(QUIET).getByRole('group', { name: 'From' });
  await from.getByLabel('Hour').waitFor();
  assert.equal(await from.getByLabel('Hour').inputValue(), '22');
  await other.waitForFunction(() => document.querySelector('.schedule-card .schedule-time')?.textContent === '14:30');
  await other.close();
  assert.equal(await from.getByLabel('Hour').locator('option').first().textContent(), '00');
  assert.equal(await from.getByLabel('AM/PM').count(), 0);
  assert.deepEqual(await axeViolations(page, { include: '#set-clock' }), []);
  assert.deepEqual(await axeViolations(page, { include: QUIET }), []);

  // Schedules: the card, the quick-add preview and its toast, the timeline.
  await page.goto(`/app/schedules?view=list&date=${DAY}`);
  await card(page).waitFor();
  assert.equal(await cardTime(page), '14:30');
  const quick = page.getByLabel('Quick add');
  await quick.fill('2:30pm 45m admin Expenses');
  assert.match(await page.locator('.quick-preview').textContent(), /, 14:30–15:15 · "Expenses"\.$/);
  await quick.press('Enter');
  await page.getByText('Added "Expenses" at 14:30.').waitFor();
  await page.goto(`/app/schedules?view=day&date=${DAY}`);
  await page.locator('.tl-schedule .tl-range').first().waitFor();
  assert.equal((await hourLabels(page))[13], '14:00');
  assert.equal(await page.locator('.tl-schedule', { hasText: 'Deep work' }).locator('.tl-range').textContent(), '14:30–16:00');

  // The schedule form: a date and a 24-hour time in selects (the browser's datetime-local would show 12-hour).
  await page.goto(`/app/schedules/new?date=${DAY}`);
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.getByLabel('Title').fill('Late review');
  const start = form.getByRole('group', { name: 'Start time' });
  assert.equal(await start.getByLabel('Date').inputValue(), DAY);
  await start.getByLabel('Hour').selectOption('16');
  await start.getByLabel('Minute').selectOption('45');
  assert.equal(await start.getByLabel('AM/PM').count(), 0);
  assert.deepEqual(await axeViolations(page, { include: '.dialog' }), []);
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await form.waitFor({ state: 'detached' });
  const list = (await call('GET', `/v2/schedules?time=${DAY}T12:00:00&zoneId=${encodeURIComponent(ZONE)}`)).body;
  assert.deepEqual(list.filter((s) => s.title === 'Late review').map((s) => s.date.dateTime), [`${DAY}T16:45:00`]);

  // Kept on this device.
  await page.goto(`/app/schedules?view=list&date=${DAY}`);
  await page.reload();
  await card(page, 'Late review').waitFor();
  assert.equal(await cardTime(page), '14:30');
  assert.equal(await cardTime(page, 'Late review'), '16:45');
  await page.goto('/app/settings');
  assert.equal(await page.getByRole('group', { name: 'Clock' }).getByLabel('24-hour (14:30)').isChecked(), true);
  assert.deepEqual(thrown(problems), []);
  await context.close();
});

test('the clock set to 12-hour in an en-GB browser: AM/PM in the forms, and the service worker writes it', async () => {
  const { context, page, problems, call } = await member('en-GB');
  await page.waitForFunction(() => Boolean(navigator.serviceWorker.controller), null, { timeout: 15_000 });
  await page.goto('/app/settings');
  const clock = page.getByRole('group', { name: 'Clock' });
  assert.equal(await clock.getByLabel('Automatic (from this browser: 24-hour)').isChecked(), true);
  await clock.getByLabel('12-hour (2:30 pm)').check();
  await page.waitForFunction((sel) => /10:00 pm to 7:00 am/.test(document.querySelector(`${sel} p.muted`)?.textContent || ''), QUIET);

  // Quiet hours from selects: hour 1–12 and am/pm after the minute.
  const quiet = page.locator(QUIET);
  const from = quiet.getByRole('group', { name: 'From' });
  await from.getByLabel('Hour').waitFor();
  assert.deepEqual(await from.locator('select').evaluateAll((s) => s.map((x) => x.labels[0].textContent)), ['Hour', 'Minute', 'AM/PM']);
  assert.equal(await from.getByLabel('Hour').locator('option').first().textContent(), '12');
  assert.equal(await from.getByLabel('Hour').inputValue(), '10');
  assert.equal(await from.getByLabel('AM/PM').inputValue(), 'pm');
  await from.getByLabel('Hour').selectOption('11');
  await from.getByLabel('Minute').selectOption('30');
  const to = quiet.getByRole('group', { name: 'To' });
  await to.getByLabel('Hour').selectOption('6');
  await to.getByLabel('Minute').selectOption('15');
  await to.getByLabel('AM/PM').selectOption('am');
  await quiet.getByLabel('Quiet hours on').check();
  await quiet.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Quiet hours saved.').waitFor();
  const saved = (await call('GET', '/v0/push/quiet-hours')).body;
  assert.equal(String(saved.start).slice(0, 5), '23:30');
  assert.equal(String(saved.end).slice(0, 5), '06:15');

  // The worker was told the locale and the clock, and a reminder reads "9:30 am".
  const worker = context.serviceWorkers()[0] || await context.waitForEvent('serviceworker');
  await worker.evaluate(async () => {
    for (let i = 0; i < 50; i++) {
      if ((await self.pinit.getPrefs()).hourCycle === 'h12') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the worker was not told the clock');
  });
  assert.deepEqual(await worker.evaluate(async () => { const p = await self.pinit.getPrefs(); return [p.locale, p.hourCycle]; }), ['en-GB', 'h12']);
  await page.evaluate(() => {
    window.__pushes = [];
    navigator.serviceWorker.addEventListener('message', (e) => { if (e.data?.type === 'push') window.__pushes.push(e.data); });
  });
  await deliverPush(page, {
    scheduleId: '42', scheduleTitle: 'Standup', scheduleStartTime: '2026-02-01T00:30:00Z', idempotentKey: 'locale-1', reminderOffset: '-PT10M',
  });
  await page.waitForFunction(() => window.__pushes.length >= 1);
  const bodies = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.body));
  assert.deepEqual(bodies, ['Starts in 10 minutes · 1 Feb, 9:30 am'], '00:30Z is 9:30 am in Seoul, on a 12-hour clock');

  // In Korean, 오전/오후 comes before the hour, as the language writes it.
  await page.getByLabel('Display language').selectOption('ko');
  const start = page.locator(QUIET).getByRole('group', { name: '시작' });
  await start.getByLabel('시', { exact: true }).waitFor();
  assert.deepEqual(await start.locator('select').evaluateAll((s) => s.map((x) => x.labels[0].textContent)), ['오전/오후', '시', '분']);
  assert.deepEqual(await start.getByLabel('오전/오후').locator('option').allTextContents(), ['오전', '오후']);
  assert.equal(await start.getByLabel('오전/오후').inputValue(), 'pm');
  await page.getByLabel('표시 언어').selectOption('en');
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();

  // Back to the browser's own: 24-hour, the worker too.
  await page.getByRole('group', { name: 'Clock' }).getByLabel('Automatic (from this browser: 24-hour)').check();
  await page.waitForFunction((sel) => /22:00 to 07:00/.test(document.querySelector(`${sel} p.muted`)?.textContent || ''), QUIET);
  await page.locator(QUIET).getByLabel('From', { exact: true }).waitFor();
  assert.equal(await page.locator(QUIET).getByLabel('From', { exact: true }).inputValue(), '23:30');
  await worker.evaluate(async () => {
    for (let i = 0; i < 50; i++) {
      if ((await self.pinit.getPrefs()).hourCycle === 'h23') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the worker was not told the clock');
  });
  await deliverPush(page, {
    scheduleId: '43', scheduleTitle: 'Review', scheduleStartTime: '2026-02-01T05:00:00Z', idempotentKey: 'locale-2', reminderOffset: '-PT10M',
  });
  await page.waitForFunction(() => window.__pushes.length >= 2);
  const latest = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications({ tag: 'locale-2' })).map((n) => n.body));
  assert.deepEqual(latest, ['Starts in 10 minutes · 1 Feb, 14:00']);
  assert.deepEqual(thrown(problems), []);
  await context.close();
});

test('a ko-KR browser reads the Korean forms: 오후 2:30 on a 12-hour clock, 14:30 on a 24-hour one', async () => {
  const { context, page, problems } = await member('ko-KR');
  const seen = await readDay(page);
  assert.equal(seen.range, '2026년 12월 7일 ~ 13일');
  assert.equal(seen.card, '오후 2:30');
  assert.equal(seen.detail, '2026년 12월 9일 오후 2:30');
  assert.equal(seen.day.block, '오후 2:30–오후 4:00');
  assert.deepEqual([seen.day.hours[8], seen.day.hours[13]], ['오전 9시', '오후 2시']);

  await page.goto('/app/settings');
  const clock = page.getByRole('group', { name: '시간 표시' });
  assert.equal(await clock.getByLabel('자동 (이 브라우저: 12시간제)').isChecked(), true);
  await clock.getByLabel('24시간제 (14:30)').check();
  await page.waitForFunction(() => document.activeElement?.id === 'clock-h23');
  const after = await readDay(page);
  assert.equal(after.card, '14:30');
  assert.equal(after.detail, '2026년 12월 9일 14:30');
  assert.equal(after.day.block, '14:30–16:00');
  assert.equal(after.day.hours[13], '14:00');

  // 12-hour chosen: the browser's own clock here, so its time inputs are used (24-hour chosen: selects).
  await page.goto('/app/settings');
  await page.locator(QUIET).getByRole('group', { name: '시작' }).getByLabel('시', { exact: true }).waitFor();
  await page.getByRole('group', { name: '시간 표시' }).getByLabel('12시간제 (오후 2:30)').check();
  await page.waitForFunction(() => document.activeElement?.id === 'clock-h12');
  await page.locator(QUIET).getByLabel('시작', { exact: true }).waitFor();
  assert.equal(await page.locator(`${QUIET} input[type="time"]`).count(), 2);
  assert.match(await quietHint(page), /오후 10:00부터 오전 7:00처럼/);
  assert.deepEqual(thrown(problems), []);
  await context.close();
});
