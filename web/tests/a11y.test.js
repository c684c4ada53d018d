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
