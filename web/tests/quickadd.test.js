// Quick add and keyboard shortcuts: the quick-add parser on its own (English and Korean forms, any order, what is
// left is the title), then against the real server — lines typed on Schedules make the schedules they say (time,
// planned length, type, title on the day shown), a line without a title is refused here; N, T, ←/→, Space and ?
// do what they say, and not while typing or on a button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT, startPinit, launch, newContext, signUp, watch, apiAs, axeViolations, todayInZone, ZONE, DESKTOP,
} from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

const plusDays = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86400000).toISOString().slice(0, 10);
const wall = (ms) => new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE, dateStyle: 'short', timeStyle: 'medium' }).format(new Date(ms)).replace(' ', 'T');

test('the quick-add line: time, length and type in any order, then the title', async () => {
  // The module has no imports: loaded as it is served.
  const source = readFileSync(path.join(ROOT, 'web/app/quickadd.js'), 'utf8');
  const { parseQuickAdd } = await import(`data:text/javascript,${encodeURIComponent(source)}`);
  const cases = [
    ['9:00 90m deep Write Q1 plan', { time: '09:00', minutes: 90, type: 'DEEP_WORK', title: 'Write Q1 plan' }],
    ['admin 2:30pm 45min Expenses', { time: '14:30', minutes: 45, type: 'ADMIN_TASK', title: 'Expenses' }],
    ['1h30m 21:15 quick Call the bank', { time: '21:15', minutes: 90, type: 'QUICK_TASK', title: 'Call the bank' }],
    ['1.5h Review the deck', { time: null, minutes: 90, type: null, title: 'Review the deck' }],
    ['12am 10m Backup', { time: '00:00', minutes: 10, type: null, title: 'Backup' }],
    ['오후 2시 30분 행정 경비 정리', { time: '14:30', minutes: null, type: 'ADMIN_TASK', title: '경비 정리' }],
    ['오전 9시 1시간30분 집중 계획 쓰기', { time: '09:00', minutes: 90, type: 'DEEP_WORK', title: '계획 쓰기' }],
    ['14시 2시간 보고서', { time: '14:00', minutes: 120, type: null, title: '보고서' }],
    ['Write 2 reports by 9:00', { time: null, minutes: null, type: null, title: 'Write 2 reports by 9:00' }],
    ['25:00 3 things', { time: null, minutes: null, type: null, title: '25:00 3 things' }],
    ['9:00 9:30 Twice', { time: '09:00', minutes: null, type: null, title: '9:30 Twice' }],
    ['25h Too long', { time: null, minutes: null, type: null, title: '25h Too long' }],
    ['  deep   ', { time: null, minutes: null, type: 'DEEP_WORK', title: '' }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseQuickAdd(line), want, line);
});

test('quick add on Schedules makes the schedule the line says; N, T, ←/→, Space and ? do what they say', async () => {
  const context = await newContext(browser, pinit.url, { viewport: DESKTOP });
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  const { call } = await apiAs(pinit.url, user);
  const today = todayInZone();
  const day = plusDays(today, 2);
  const dayList = async () => (await call('GET', `/v2/schedules?time=${day}T12:00:00&zoneId=${encodeURIComponent(ZONE)}`)).body
    .map((s) => [s.title, s.scheduleType, s.date.dateTime, s.plannedDuration]);

  await page.goto(`/app/schedules?view=list&date=${day}`);
  const quick = page.getByLabel('Quick add');
  await quick.fill('9:00 90m deep Write Q1 plan');
  const preview = page.locator('.quick-preview');
  assert.match(await preview.textContent(), /^Deep work · .*, 09:00–10:30 · "Write Q1 plan"\.$/);
  assert.ok((await quick.getAttribute('aria-describedby')).includes(await preview.getAttribute('id')));
  await quick.press('Enter');
  await page.getByText('Added "Write Q1 plan" at 09:00.').waitFor();
  assert.equal(await quick.inputValue(), '');
  await quick.fill('admin 2:30pm 45m Expenses');
  await quick.press('Enter');
  await page.getByText('Added "Expenses" at 14:30.').waitFor();
  assert.deepEqual(await dayList(), [
    ['Write Q1 plan', 'DEEP_WORK', `${day}T09:00:00`, 'PT1H30M'],
    ['Expenses', 'ADMIN_TASK', `${day}T14:30:00`, 'PT45M'],
  ]);
  await page.locator('.schedule-card', { hasText: 'Expenses' }).waitFor();
  // Only a length: no title, refused here.
  await quick.fill('90m');
  await quick.press('Enter');
  await page.locator('.quick-add .field-error', { hasText: 'Please enter a title.' }).waitFor();
  assert.equal((await dayList()).length, 2);
  // Typing "n" in it types an n.
  await quick.fill('');
  await quick.press('n');
  assert.equal(await quick.inputValue(), 'n');
  assert.equal(await page.getByRole('dialog').count(), 0);

  // ←/→ move the day, T goes back to today (the focus on the page's heading, off any control).
  const heading = page.getByRole('heading', { level: 1 });
  await heading.focus();
  await page.keyboard.press('ArrowRight');
  await page.waitForURL(`**/app/schedules?*date=${plusDays(day, 1)}*`);
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await page.waitForURL(`**/app/schedules?*date=${plusDays(day, -1)}*`);
  await page.keyboard.press('t');
  await page.waitForURL(`**/app/schedules?*date=${today}*`);
  // ? lists them (axe on it); N opens a new schedule on the day shown.
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await help.getByRole('cell', { name: 'Pause or resume the running schedule' }).waitFor();
  const found = await axeViolations(page, { include: '[role=dialog]' });
  assert.deepEqual(found, [], found.join('\n'));
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'detached' });
  await heading.focus();
  await page.keyboard.press('n');
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.waitFor();
  assert.match(await form.getByLabel('Start time').inputValue(), new RegExp(`^${today}T`));
  await page.keyboard.press('Escape');
  await form.waitFor({ state: 'detached' });

  // Space pauses and resumes the running schedule; on a button it presses the button instead.
  const id = (await call('POST', '/v2/schedules', { title: 'Focus', scheduleType: 'DEEP_WORK', date: { dateTime: `${today}T23:00:00`, zoneId: ZONE } })).body.id;
  assert.ok((await call('POST', `/v2/schedules/${id}/start?time=${encodeURIComponent(wall(Date.now()))}&zoneId=${encodeURIComponent(ZONE)}`)).status < 300);
  await page.reload();
  const player = page.getByRole('region', { name: 'Running schedule' });
  await player.getByText('Focus').waitFor();
  await page.getByRole('heading', { level: 1 }).focus();
  await page.waitForTimeout(1100);
  await page.keyboard.press(' ');
  await player.getByText(/Paused/).waitFor();
  assert.equal((await call('GET', `/v2/schedules/${id}`)).body.state, 'SUSPENDED');
  await page.getByRole('heading', { level: 1 }).focus();
  await page.keyboard.press(' ');
  await player.getByText(/In progress/).waitFor();
  assert.equal((await call('GET', `/v2/schedules/${id}`)).body.state, 'IN_PROGRESS');
  await page.getByRole('button', { name: 'Refresh' }).first().focus();
  await page.keyboard.press(' ');
  await page.waitForTimeout(500);
  assert.equal((await call('GET', `/v2/schedules/${id}`)).body.state, 'IN_PROGRESS', 'Space on a button is the button\'s');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});
