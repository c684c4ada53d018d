// axe-core on every page of the app, signed out and signed in with data (schedules in every state, a task,
// statistics of this week, a token and an app password), at 375 px and 1280 px, light and dark: no serious
// or critical violation. Plus what axe cannot see: the + button never covers a card's button at the end of
// a phone page, and the skip link takes the focus to the page's content.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPinit, launch, newContext, signUp, watch, apiAs, axeViolations, todayInZone, ZONE, PHONE, DESKTOP,
} from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

/** Schedules not started, running, done; a task; a token and an app password (lists are not empty). */
async function seed(user) {
  const { call } = await apiAs(pinit.url, user);
  const today = todayInZone();
  const make = async (title, time, scheduleType) => {
    const res = await call('POST', '/v2/schedules', { title, description: `${title} block`, scheduleType, date: { dateTime: `${today}T${time}:00`, zoneId: ZONE } });
    assert.ok(res.status < 300, `POST /v2/schedules: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  };
  const now = () => new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE, dateStyle: 'short', timeStyle: 'medium' }).format(new Date()).replace(' ', 'T');
  const transition = async (id, action) => {
    const res = await call('POST', `/v2/schedules/${id}/${action}?time=${encodeURIComponent(now())}&zoneId=${encodeURIComponent(ZONE)}`);
    assert.ok(res.status < 300, `${action}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const done = await make('Standup', '09:00', 'ADMIN_TASK');
  const running = await make('Deep focus', '10:00', 'DEEP_WORK');
  await make('Email', '16:30', 'QUICK_TASK');
  await make('Review', '18:00', 'DEEP_WORK');
  await transition(done, 'start');
  await new Promise((r) => setTimeout(r, 1200));
  await transition(done, 'complete');
  await transition(running, 'start');
  assert.ok((await call('POST', '/v2/tasks', { title: 'Write report', description: 'Quarterly numbers', dueDate: { date: today, zoneId: ZONE, offset: '+09:00' }, difficulty: 3, importance: 5 })).status < 300);
  assert.ok((await call('POST', '/v0/tokens', { name: 'CI', scopes: ['read'], expiresAt: null })).status < 500);
  assert.ok((await call('POST', '/v0/app-passwords', { name: 'Phone' })).status < 500);
}

const PAGES = [
  ['/app/today', 'Today'],
  ['/app/schedules', 'Schedules'],
  ['/app/schedules?view=day', 'Schedules'],
  ['/app/schedules?view=week', 'Schedules'],
  ['/app/tasks', 'Tasks'],
  ['/app/statistics', 'Statistics'],
  ['/app/settings', 'Settings'],
  ['/app/settings/calendars', 'Calendars'],
  ['/app/settings/webhooks', 'Webhooks'],
  ['/app/settings/tokens', 'API tokens'],
  ['/app/settings/password', 'Change password'],
];

async function settle(page) {
  await page.waitForLoadState('networkidle');
  await page.waitForFunction(() => !document.querySelector('.spinner, [aria-busy="true"]'));
}

for (const [label, viewport, colorScheme] of [['375 px', PHONE, 'light'], ['1280 px', DESKTOP, 'light'], ['375 px dark', PHONE, 'dark'], ['1280 px dark', DESKTOP, 'dark']]) {
  test(`axe: no serious or critical violation at ${label}`, async () => {
    const context = await newContext(browser, pinit.url, { viewport });
    const page = await context.newPage();
    await page.emulateMedia({ colorScheme, reducedMotion: 'reduce' });
    const problems = watch(page);
    const found = [];
    const check = async (where) => {
      await settle(page);
      for (const line of await axeViolations(page)) found.push(`${where}: ${line}`);
    };
    for (const path of ['/login', '/signup']) {
      await page.goto(path);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await check(path);
    }
    const user = await signUp(page);
    await seed(user);
    for (const [path, heading] of PAGES) {
      await page.goto(path);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      await check(path);
    }
    // The dialogs: a schedule's detail and the new-schedule form.
    await page.goto('/app/schedules');
    await page.getByRole('button', { name: 'Email', exact: true }).click();
    await page.getByRole('dialog', { name: 'Email' }).getByRole('button', { name: 'Start' }).waitFor();
    await check('schedule detail');
    await page.keyboard.press('Escape');
    await page.goto('/app/schedules/new');
    await page.getByRole('dialog', { name: 'New schedule' }).waitFor();
    await check('schedule form');
    assert.deepEqual(found, [], `axe found ${found.length} serious or critical violations:\n${found.join('\n')}`);
    assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
    await context.close();
  });
}

test('at 375 px: the + button covers no control at the end of a page, the chart is legible, the skip link focuses the content', async () => {
  const context = await newContext(browser, pinit.url, { viewport: PHONE });
  const page = await context.newPage();
  const user = await signUp(page);
  const { call } = await apiAs(pinit.url, user);
  const today = todayInZone();
  for (let i = 0; i < 8; i++) {
    await call('POST', '/v2/schedules', { title: `Block ${i}`, description: 'x', scheduleType: 'DEEP_WORK', date: { dateTime: `${today}T${String(10 + i).padStart(2, '0')}:00:00`, zoneId: ZONE } });
  }
  for (const path of ['/app/today', '/app/schedules?view=list']) {
    await page.goto(path);
    await page.getByRole('button', { name: 'Start: Block 7' }).waitFor();
    await settle(page);
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForTimeout(100);
    const covered = await page.evaluate(() => {
      const fab = document.querySelector('.fab').getBoundingClientRect();
      const hits = (r) => r.width && r.left < fab.right && r.right > fab.left && r.top < fab.bottom && r.bottom > fab.top;
      return [...document.querySelectorAll('#main button, #main a[href]')].filter((el) => hits(el.getBoundingClientRect())).map((el) => el.getAttribute('aria-label') || el.textContent);
    });
    assert.deepEqual(covered, [], `${path}: the + button covers ${covered.join(', ')}`);
  }
  // The statistics chart's words are as large on a phone as anywhere (a scaled-down SVG made them ~8 px).
  await page.goto('/app/statistics');
  await page.locator('.chart-label').first().waitFor();
  const heights = await page.locator('.chart-label, .chart-value').evaluateAll((els) => els.map((el) => el.getBoundingClientRect().height));
  assert.ok(heights.length >= 3 && heights.every((px) => px >= 16), `chart text boxes at 375 px: ${heights.join(', ')} px`);
  // The skip link: the first Tab stop, and it moves the focus into <main>, not the top bar.
  await page.goto('/app/today');
  await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'skip');
  await page.keyboard.press('Enter');
  await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => document.activeElement.closest('main')?.id), 'main', 'focus is in <main>');
  await page.keyboard.press('Tab');
  assert.ok(await page.evaluate(() => Boolean(document.activeElement.closest('main'))), 'the next Tab stop is inside <main>');
  await context.close();
});
