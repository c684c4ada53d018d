// Screenshots of every page at phone and desktop width, for docs/screens/ (PINIT_WEB_SCREENS=<dir>).
// With the real task API (or PINIT_WEB_FAKE_API=1) the pages show data.
import { test, before, after } from 'node:test';
import { startPinit, launch, newContext, signUp, screenshot, SCREENS, PHONE, DESKTOP } from './support.js';

let pinit;
let browser;
before(async () => { if (SCREENS) { pinit = await startPinit(); browser = await launch(); } });
after(async () => { await browser?.close(); await pinit?.stop(); });

async function seed(page) {
  // Some data through the UI; failures (no task API yet) leave the pages empty.
  try {
    await page.goto('/app/tasks/new');
    let d = page.getByRole('dialog', { name: 'New task' });
    await d.getByLabel('Title').fill('Write report');
    await d.getByLabel('Description').fill('Quarterly numbers for the team');
    await d.getByRole('button', { name: 'Add task' }).click();
    await d.waitFor({ state: 'detached', timeout: 5000 });
    await page.goto('/app/tasks/new');
    d = page.getByRole('dialog', { name: 'New task' });
    await d.getByLabel('Title').fill('Plan sprint');
    await d.getByLabel('Description').fill('Backlog grooming');
    await d.getByRole('button', { name: 'Add task' }).click();
    await d.waitFor({ state: 'detached', timeout: 5000 });
    for (const [title, time, type, length] of [['Standup', '09:00', 'Admin work', '15 min'], ['Deep focus', '10:00', 'Deep work', '2 h'], ['Email', '16:30', 'Quick task', null]]) {
      await page.goto('/app/schedules/new');
      d = page.getByRole('dialog', { name: 'New schedule' });
      await d.getByLabel('Title').fill(title);
      await d.getByLabel('Description').fill(`${title} block`);
      await d.getByText(type).click();
      const start = await d.getByLabel('Start time').inputValue();
      await d.getByLabel('Start time').fill(`${start.slice(0, 10)}T${time}`);
      if (length) await d.getByLabel('Planned length').selectOption({ label: length });
      await d.getByRole('button', { name: 'Add schedule' }).click();
      await d.waitFor({ state: 'detached', timeout: 5000 });
    }
    await page.getByRole('button', { name: 'Start: Standup' }).click();
    await page.waitForTimeout(2500);
    await page.getByRole('region', { name: 'Running schedule' }).getByRole('button', { name: 'Complete' }).click();
    await page.getByRole('button', { name: 'Start: Deep focus' }).click();
    await page.waitForTimeout(1500);
  } catch { /* no task API */ }
}

for (const [label, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
  test(`screenshots at ${label} width`, { skip: !SCREENS && 'set PINIT_WEB_SCREENS to a directory' }, async () => {
    const context = await newContext(browser, pinit.url, { viewport });
    const page = await context.newPage();
    await page.goto('/login');
    await page.getByRole('heading', { level: 1 }).waitFor();
    await screenshot(page, `${label}-login`);
    await page.goto('/signup');
    await screenshot(page, `${label}-signup`);
    await signUp(page);
    await seed(page);
    for (const [name, path] of [['today', '/app/today'], ['schedules', '/app/schedules'], ['tasks', '/app/tasks'], ['statistics', '/app/statistics'], ['settings', '/app/settings']]) {
      await page.goto(path);
      await page.waitForLoadState('networkidle');
      await page.waitForTimeout(400);
      await screenshot(page, `${label}-${name}`);
    }
    await page.goto('/app/tasks/new');
    await page.getByRole('dialog').waitFor();
    await screenshot(page, `${label}-task-form`);
    await page.goto('/app/schedules');
    await page.waitForLoadState('networkidle');
    const first = page.locator('.schedule-card .link-btn').first();
    if (await first.count()) {
      await first.click();
      await page.getByRole('dialog').waitFor();
      await page.waitForTimeout(300);
      await screenshot(page, `${label}-schedule-detail`);
    }
    // The timeline (Schedules → Day / Week), then back to the list (the choice is remembered).
    for (const view of ['day', 'week', 'list']) {
      await page.goto(`/app/schedules?view=${view}`);
      await page.waitForLoadState('networkidle');
      await page.waitForTimeout(400);
      if (view !== 'list') await screenshot(page, `${label}-schedules-${view}`);
    }
    // Plan against actual, further down Statistics.
    await page.goto('/app/statistics');
    await page.locator('.plan-figure').waitFor();
    await page.locator('.plan-figure').scrollIntoViewIfNeeded();
    await screenshot(page, `${label}-statistics-plan`);
    // Offline: the banner, and a pause queued (sent when the page is online again).
    await page.goto('/app/schedules?view=list');
    await page.waitForLoadState('networkidle');
    await context.setOffline(true);
    const player = page.getByRole('region', { name: 'Running schedule' });
    if (await player.count()) {
      await player.getByRole('button', { name: 'Pause' }).click();
      await player.getByText(/Waiting to be sent/).waitFor();
    }
    await page.waitForTimeout(300);
    await screenshot(page, `${label}-offline`);
    await context.setOffline(false);
    await page.locator('.net-banner').waitFor({ state: 'hidden' });
    await page.goto('/app/today');
    await page.goto('/app/settings');
    await page.getByLabel('Display language').selectOption('ko');
    await page.goto('/app/schedules');
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(400);
    await screenshot(page, `${label}-schedules-ko`);
    await context.close();
  });
}
