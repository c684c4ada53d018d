// Dialogs are modal for everyone (role, aria-modal, label, focus kept inside, Escape, focus returned);
// the layout holds at phone and desktop widths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, newContext, signUp, PHONE, DESKTOP } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

test('the schedule form is an accessible modal dialog', async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  await signUp(page);
  await page.goto('/app/schedules');
  await page.getByRole('heading', { level: 1, name: 'Schedules' }).waitFor();
  const fab = page.getByRole('link', { name: 'Add schedule' });
  await fab.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'New schedule' });
  await dialog.waitFor();
  assert.equal(await dialog.getAttribute('aria-modal'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.closest('[role=dialog]') !== null), true, 'focus moves into the dialog');
  assert.equal(await page.evaluate(() => document.getElementById('app').inert), true, 'the page behind is inert');
  // Every control has a label.
  const unlabelled = await dialog.evaluate((d) => [...d.querySelectorAll('input, textarea, select')]
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label'))).map((el) => el.outerHTML));
  assert.deepEqual(unlabelled, []);
  // Tab never leaves the dialog.
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => Boolean(document.activeElement.closest('[role=dialog]'))), `Tab ${i} stays inside`);
  }
  // Client-side validation names the field.
  await dialog.getByRole('button', { name: 'Add schedule' }).click();
  assert.equal(await dialog.getByLabel('Title').getAttribute('aria-invalid'), 'true');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.getElementById('app').inert), false);
  await context.close();
});

test('no horizontal scrolling at 375 px or on the desktop', async () => {
  for (const viewport of [PHONE, DESKTOP]) {
    const context = await newContext(browser, pinit.url, { viewport });
    const page = await context.newPage();
    await signUp(page);
    for (const path of ['/app/today', '/app/schedules', '/app/tasks', '/app/statistics', '/app/settings', '/app/settings/calendars', '/app/settings/webhooks']) {
      await page.goto(path);
      await page.waitForLoadState('networkidle');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${path} at ${viewport.width} px overflows by ${overflow} px`);
    }
    await context.close();
  }
});

test('the week strip is one Tab stop: arrow keys choose the day, across weeks, Home and End', async () => {
  const context = await newContext(browser, pinit.url, { viewport: DESKTOP });
  const page = await context.newPage();
  await signUp(page);
  await page.goto('/app/schedules?date=2026-03-04');
  await page.getByRole('heading', { level: 2, name: /4 March/ }).waitFor();
  const strip = page.locator('.week-strip');
  assert.deepEqual(await strip.locator('button').evaluateAll((bs) => bs.map((b) => b.tabIndex)), [-1, -1, 0, -1, -1, -1, -1]);
  // Its name starts with what it shows.
  assert.match(await strip.locator('button').nth(2).evaluate((b) => b.textContent), /^Wed 4, Wednesday 4 March/);
  await page.getByRole('button', { name: 'Previous week' }).focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.date), '2026-03-04', 'the selected day is the Tab stop after the week buttons');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => Boolean(document.activeElement.closest('.week-strip'))), false);
  await strip.locator('[data-date="2026-03-04"]').focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.date), '2026-03-05');
  assert.equal(await strip.locator('[data-date="2026-03-05"]').getAttribute('aria-pressed'), 'true');
  assert.match(page.url(), /date=2026-03-05/);
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.date), '2026-03-08');
  await page.keyboard.press('ArrowRight'); // Sunday → next Monday: the next week
  assert.equal(await page.evaluate(() => document.activeElement.dataset.date), '2026-03-09');
  await page.getByRole('heading', { level: 2, name: /9 March/ }).waitFor();
  await page.keyboard.press('Home');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.date), '2026-03-09');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.date), '2026-03-08');
  await context.close();
});
