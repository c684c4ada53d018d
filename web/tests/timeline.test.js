// The timeline (Schedules → Day / Week) against the real server: blocks at their time and planned length,
// moved and resized by mouse, touch (long press) and keyboard with the server's answer checked through the API,
// a new schedule from an empty time, the week's blocks on their days, busy time, a started schedule that stays
// put (with its live clock), the List view still there, and axe at 375 px and 1280 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPinit, launch, newContext, signUp, watch, apiAs, axeViolations, todayInZone, ZONE, PHONE, DESKTOP,
} from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

const HOUR = 56; // px per hour in the grid (timeline.js)

/** "YYYY-MM-DD" `n` days after `date`. */
const plusDays = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86400000).toISOString().slice(0, 10);
const mondayOf = (date) => plusDays(date, -((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7));

/** A signed-up member on a fresh page, with the API: {context, page, problems, call}. */
async function member(viewport = DESKTOP, options = {}) {
  const context = await newContext(browser, pinit.url, { viewport, ...options });
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  const { call } = await apiAs(pinit.url, user);
  return { context, page, problems, call };
}

async function makeSchedule(call, { title, date, time, type = 'DEEP_WORK', plannedDuration }) {
  const body = { title, description: `${title} block`, scheduleType: type, date: { dateTime: `${date}T${time}:00`, zoneId: ZONE } };
  if (plannedDuration) body.plannedDuration = plannedDuration;
  const res = await call('POST', '/v2/schedules', body);
  assert.equal(res.status < 300, true, `POST /v2/schedules ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** Waits until the server's schedule satisfies `ok`; returns it (fails with the last one seen). */
async function serverUntil(call, id, ok, what) {
  let last;
  for (let i = 0; i < 50; i++) {
    last = (await call('GET', `/v2/schedules/${id}`)).body;
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: the server has ${JSON.stringify({ date: last?.date, plannedDuration: last?.plannedDuration, state: last?.state })}`);
}

const block = (page, title) => page.locator('.tl-schedule', { hasText: title });

/** Waits until nothing is being saved or loaded (the grid redrawn with the server's answer). */
const settled = (page) => page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));

/** Scrolls the grid so that `hour` is at its top. */
const scrollTo = (page, hour) => page.locator('.tl-scroll').evaluate((el, y) => { el.scrollTop = y; }, hour * HOUR);

async function dragBy(page, locator, dx, dy) {
  const box = await locator.boundingBox();
  const x = box.x + box.width / 2;
  const y = box.y + Math.min(box.height / 2, 12);
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx / 2, y + dy / 2, { steps: 4 });
  await page.mouse.move(x + dx, y + dy, { steps: 4 });
  await page.mouse.up();
}

test('day view: a block at its time and length; dragged, resized and moved by keys, each saved on the server', async () => {
  const { context, page, problems, call } = await member();
  const day = plusDays(todayInZone(), 7);
  const id = await makeSchedule(call, { title: 'Deep work', date: day, time: '09:00', plannedDuration: 'PT1H30M' });
  await makeSchedule(call, { title: 'No length', date: day, time: '13:00', type: 'ADMIN_TASK' });
  await page.goto(`/app/schedules?view=day&date=${day}`);
  const deep = block(page, 'Deep work');
  await deep.waitFor();
  assert.equal(await page.getByRole('button', { name: 'Day', exact: true }).getAttribute('aria-pressed'), 'true');

  // Where and how it reads: 09:00–10:30 (90 min tall), the other an hour by default; type and state in words.
  assert.equal(await page.getByRole('button', { name: 'Deep work, 09:00–10:30, Deep work, Not started', exact: true }).count(), 1);
  assert.match(await block(page, 'No length').textContent(), /13:00–14:00, Admin work/);
  const box = await deep.boundingBox();
  assert.ok(Math.abs(box.height - 1.5 * HOUR) <= 3, `90 minutes tall: ${box.height}px`);
  const topOf = (loc) => loc.evaluate((el) => parseFloat(el.style.top));
  assert.equal(await topOf(deep), 9 * HOUR);
  const hint = await deep.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby')).textContent);
  assert.match(hint, /arrows move it by 15 minutes.*Shift.*changes its length/);
  assert.equal(await deep.getAttribute('class').then((c) => c.includes('type-DEEP_WORK')), true);

  // Drag down by an hour: the server has 10:00, the length unchanged.
  await scrollTo(page, 8);
  await dragBy(page, deep, 0, HOUR);
  let saved = await serverUntil(call, id, (s) => s.date.dateTime === `${day}T10:00:00`, 'dragged to 10:00');
  assert.equal(saved.plannedDuration, 'PT1H30M');
  await page.waitForFunction(() => document.querySelector('.tl-schedule')?.textContent.includes('10:00–11:30'));
  await settled(page);
  assert.equal(await page.locator('[role=dialog]').count(), 0, 'a drag is not a click');

  // Drag the lower edge down by half an hour: PT2H.
  await dragBy(page, deep.locator('.tl-resize'), 0, HOUR / 2);
  saved = await serverUntil(call, id, (s) => s.plannedDuration === 'PT2H', 'resized to 2 hours');
  assert.equal(saved.date.dateTime, `${day}T10:00:00`);
  await page.waitForFunction(() => document.querySelector('.tl-schedule')?.textContent.includes('10:00–12:00'));
  await settled(page);

  // Keyboard: ↓↓ moves it by 30 minutes, Shift+↑ shortens it by 15; the live region says so.
  await deep.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.match(await deep.textContent(), /10:30–12:30/);
  await page.waitForFunction(() => /Deep work: 10:30–12:30/.test(document.querySelector('.tl [role=status]').textContent));
  await page.keyboard.press('Shift+ArrowUp');
  saved = await serverUntil(call, id, (s) => s.date.dateTime === `${day}T10:30:00` && s.plannedDuration === 'PT1H45M', 'moved by keys');
  await page.waitForFunction(() => /Saved: Deep work, 10:30–12:15/.test(document.querySelector('.tl [role=status]').textContent));
  assert.equal(await page.evaluate(() => document.activeElement.textContent.startsWith('Deep work')), true, 'the focus stays on the block after the redraw');
  // Enter opens it; its detail shows the planned length.
  await page.keyboard.press('Enter');
  const detail = page.getByRole('dialog', { name: 'Deep work' });
  await detail.getByText('1 h 45 min').waitFor();
  await page.keyboard.press('Escape');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('an empty time opens the form at that time; the planned length is sent; the list view is still there', async () => {
  const { context, page, call } = await member();
  const day = plusDays(todayInZone(), 3);
  await page.goto(`/app/schedules?view=day&date=${day}`);
  await page.locator('.tl-col').waitFor();
  await scrollTo(page, 13);
  const col = await page.locator('.tl-col').boundingBox();
  await page.mouse.click(col.x + col.width / 2, col.y + 14.5 * HOUR + 4); // 14:30–14:45
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.waitFor();
  assert.equal(await form.getByLabel('Start time').inputValue(), `${day}T14:30`);
  await form.getByLabel('Title').fill('Planning');
  await form.getByLabel('Description').fill('Next quarter');
  await form.getByLabel('Planned length').selectOption({ label: '45 min' });
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await form.waitFor({ state: 'detached' });
  await block(page, 'Planning').waitFor();
  assert.match(await block(page, 'Planning').textContent(), /14:30–15:15/);
  const list = (await call('GET', `/v2/schedules?time=${day}T12:00:00&zoneId=${encodeURIComponent(ZONE)}`)).body;
  assert.deepEqual(list.map((s) => [s.title, s.date.dateTime, s.plannedDuration]), [['Planning', `${day}T14:30:00`, 'PT45M']]);

  // List: the day's cards, and the choice is in the URL and remembered.
  await page.getByRole('button', { name: 'List', exact: true }).click();
  await page.locator('.schedule-card', { hasText: 'Planning' }).waitFor();
  assert.match(page.url(), /view=list/);
  assert.equal(await page.locator('.tl').count(), 0);
  await page.getByRole('button', { name: 'Week', exact: true }).click();
  await block(page, 'Planning').waitFor();
  await page.goto(`/app/schedules?date=${day}`);
  await block(page, 'Planning').waitFor(); // remembered on this device
  assert.equal(await page.getByRole('button', { name: 'Week', exact: true }).getAttribute('aria-pressed'), 'true');
  await context.close();
});

test('week view: blocks on their days, moved across days by drag and by ←/→, busy time from another calendar', async () => {
  const { context, page, call } = await member();
  const monday = mondayOf(plusDays(todayInZone(), 7));
  const thursday = plusDays(monday, 3);
  const mon = await makeSchedule(call, { title: 'Monday one', date: monday, time: '09:00' });
  const thu = await makeSchedule(call, { title: 'Thursday one', date: thursday, time: '11:00', type: 'QUICK_TASK', plannedDuration: 'PT30M' });
  const compact = thursday.replaceAll('-', '');
  const ics = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Pinit web tests//EN',
    'BEGIN:VEVENT', 'UID:busy-1@example.com', 'DTSTAMP:20260101T000000Z', `DTSTART:${compact}T050000Z`, `DTEND:${compact}T060000Z`, 'SUMMARY:Team sync', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:busy-2@example.com', 'DTSTAMP:20260101T000000Z', `DTSTART;VALUE=DATE:${compact}`, `DTEND;VALUE=DATE:${plusDays(thursday, 1).replaceAll('-', '')}`, 'SUMMARY:Offsite', 'END:VEVENT',
    'END:VCALENDAR', ''].join('\r\n');
  assert.ok((await call('POST', '/v2/calendar/subscriptions/upload', { name: 'Work', ics })).status < 300);

  await page.goto(`/app/schedules?view=week&date=${plusDays(monday, 2)}`);
  await block(page, 'Thursday one').waitFor();
  const inColumn = (date, title) => page.locator(`.tl-col[data-date="${date}"] .tl-schedule`, { hasText: title });
  assert.equal(await inColumn(monday, 'Monday one').count(), 1);
  assert.equal(await inColumn(thursday, 'Thursday one').count(), 1);
  assert.equal(await page.locator('.tl-col').count(), 7);
  assert.equal(await page.locator('.tl-col').nth(3).getAttribute('aria-label'), await page.locator(`.tl-col[data-date="${thursday}"]`).getAttribute('aria-label'));
  // Busy: 14:00–15:00 in Seoul beside the schedules, the offsite in the all-day row; each one makes a schedule.
  const sync = page.locator(`.tl-col[data-date="${thursday}"] .tl-busy`, { hasText: 'Team sync' });
  assert.match(await sync.textContent(), /Team sync, 14:00–15:00, Busy · Work/);
  assert.equal(await sync.evaluate((el) => parseFloat(el.style.top)), 14 * HOUR);
  await page.locator('.tl-allday .tl-busy', { hasText: 'Offsite' }).waitFor();
  await sync.click();
  const form = page.getByRole('dialog', { name: 'New schedule' });
  assert.equal(await form.getByLabel('Start time').inputValue(), `${thursday}T14:00`);
  await page.keyboard.press('Escape');

  // Drag Thursday's block one column left and half an hour up: Wednesday 10:30.
  await scrollTo(page, 8);
  const width = (await page.locator('.tl-col').first().boundingBox()).width;
  await dragBy(page, block(page, 'Thursday one'), -width, -HOUR / 2);
  await serverUntil(call, thu, (s) => s.date.dateTime === `${plusDays(thursday, -1)}T10:30:00`, 'dragged to Wednesday 10:30');
  await page.waitForFunction((d) => document.querySelector(`.tl-col[data-date="${d}"] .tl-schedule`)?.textContent.includes('Thursday one'), plusDays(thursday, -1));
  await settled(page);

  // → moves Monday's block to Tuesday, same time.
  await block(page, 'Monday one').focus();
  await page.keyboard.press('ArrowRight');
  await serverUntil(call, mon, (s) => s.date.dateTime === `${plusDays(monday, 1)}T09:00:00`, 'moved to Tuesday by →');
  await page.waitForFunction(() => /Saved: Monday one, Tuesday/.test(document.querySelector('.tl [role=status]').textContent));
  await context.close();
});

test('a started schedule is shown running with its clock and cannot be moved by mouse or keys', async () => {
  const { context, page, call } = await member();
  const today = todayInZone();
  const id = await makeSchedule(call, { title: 'Running', date: today, time: '00:15' });
  const now = new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE, dateStyle: 'short', timeStyle: 'medium' }).format(new Date()).replace(' ', 'T');
  assert.ok((await call('POST', `/v2/schedules/${id}/start?time=${encodeURIComponent(now)}&zoneId=${encodeURIComponent(ZONE)}`)).status < 300);
  await page.goto('/app/schedules?view=day');
  const running = block(page, 'Running');
  await running.waitFor();
  // Its name (the icon is hidden from screen readers): title, time, type, state and the elapsed time.
  assert.equal(await page.getByRole('button', { name: /^Running, 00:15–01:15, Deep work, In progress \d+:\d\d:\d\d$/ }).count(), 1);
  assert.doesNotMatch(await running.getAttribute('class'), /is-movable/);
  assert.equal(await running.locator('.tl-resize').count(), 0);
  const hint = await running.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby')).textContent);
  assert.match(hint, /Started/);
  const clockText = () => running.locator('.tl-clock').textContent();
  const before = await clockText();
  await page.waitForFunction((b) => document.querySelector('.tl-clock').textContent !== b, before, { timeout: 3000 });
  // The now line is on today's column.
  assert.equal(await page.locator('.tl-col .tl-now').count(), 1);

  await scrollTo(page, 0);
  await dragBy(page, running, 0, HOUR);
  await page.waitForTimeout(300);
  assert.equal(await page.locator('[role=dialog]').count(), 0, 'neither moved nor taken for a click on an empty time');
  await running.click();
  await page.getByRole('dialog', { name: 'Running' }).waitFor(); // a click opens it
  await page.keyboard.press('Escape');
  await running.focus();
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction(() => /has started, so it can no longer be moved/.test(document.querySelector('.tl [role=status]').textContent));
  await page.waitForTimeout(1000);
  const after = (await call('GET', `/v2/schedules/${id}`)).body;
  assert.equal(after.date.dateTime, `${today}T00:15:00`);
  assert.match(await running.textContent(), /00:15–01:15/);
  await context.close();
});

test('on a phone: a long press picks a block up and moves it; a quick swipe only scrolls', async () => {
  const { context, page, call } = await member(PHONE, { hasTouch: true, isMobile: true });
  const day = plusDays(todayInZone(), 5);
  const id = await makeSchedule(call, { title: 'Touch me', date: day, time: '09:00' });
  await page.goto(`/app/schedules?view=day&date=${day}`);
  const target = block(page, 'Touch me');
  await target.waitFor();
  await scrollTo(page, 8);
  const cdp = await context.newCDPSession(page);
  const touch = (type, x, y) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x, y }] });
  const box = await target.boundingBox();
  const x = box.x + box.width / 2;
  const y = box.y + 10;

  // A quick swipe: nothing moves (the grid scrolls instead).
  await touch('touchStart', x, y);
  for (let i = 1; i <= 5; i++) await touch('touchMove', x, y - i * 12);
  await touch('touchEnd');
  await page.waitForTimeout(800);
  assert.equal((await call('GET', `/v2/schedules/${id}`)).body.date.dateTime, `${day}T09:00:00`);

  // Press, hold 600 ms, then move down an hour and a quarter.
  await scrollTo(page, 8);
  const held = await target.boundingBox();
  const hx = held.x + held.width / 2;
  const hy = held.y + 10;
  await touch('touchStart', hx, hy);
  await page.waitForTimeout(600);
  assert.match(await target.getAttribute('class'), /is-dragging/);
  for (let i = 1; i <= 6; i++) await touch('touchMove', hx, hy + (i * 1.25 * HOUR) / 6);
  await touch('touchEnd');
  await serverUntil(call, id, (s) => s.date.dateTime === `${day}T10:15:00`, 'moved by touch to 10:15');
  await context.close();
});

test('axe: the Day and Week views at 375 px and 1280 px have no serious or critical violation', async () => {
  for (const viewport of [PHONE, DESKTOP]) {
    const { context, page, call } = await member(viewport);
    const today = todayInZone();
    const monday = mondayOf(today);
    await makeSchedule(call, { title: 'Focus', date: today, time: '10:00', plannedDuration: 'PT2H' });
    await makeSchedule(call, { title: 'Overlap', date: today, time: '11:00', type: 'ADMIN_TASK' });
    await makeSchedule(call, { title: 'Later', date: plusDays(monday, 4), time: '16:00', type: 'QUICK_TASK', plannedDuration: 'PT15M' });
    const found = [];
    for (const view of ['day', 'week']) {
      await page.goto(`/app/schedules?view=${view}&date=${today}`);
      await block(page, 'Focus').waitFor();
      await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
      for (const line of await axeViolations(page)) found.push(`${view} at ${viewport.width}px: ${line}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${view} at ${viewport.width} px overflows by ${overflow} px`);
    }
    // Overlapping blocks are side by side, not on top of each other.
    await page.goto(`/app/schedules?view=day&date=${today}`);
    const [a, b] = [await block(page, 'Focus').boundingBox(), await block(page, 'Overlap').boundingBox()];
    assert.ok(a.x + a.width <= b.x + 1 || b.x + b.width <= a.x + 1, 'overlapping blocks share the column');
    assert.deepEqual(found, [], found.join('\n'));
    await context.close();
  }
});
