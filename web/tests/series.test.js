// Repeating schedules through the UI against the real task service: "every weekday" from the form, the
// occurrences on each weekday with "Repeats" in the detail, a custom rule summarised as it is typed, editing
// all of the series, and deleting "this and the following ones".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, newContext, signUp, watch, requireApi, FAKE_API } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

/** The titles of the cards listed on `date` (YYYY-MM-DD). */
async function titlesOn(page, date) {
  await page.goto(`/app/schedules?date=${date}`);
  const list = page.locator('.schedule-list');
  await list.locator('.cards, .status-empty').first().waitFor();
  return list.locator('.cards li .card-title').allTextContents();
}

/** A new member on a new page, with the schedule form open and filled in up to its Repeat choice. */
async function memberWithForm({ title, description, start }) {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  await requireApi(pinit.url, user, '/v2/schedules?time=2030-01-07T12:00:00&zoneId=Asia/Seoul');
  await page.goto('/app/schedules/new');
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.getByLabel('Title').fill(title);
  await form.getByLabel('Description').fill(description);
  await form.getByLabel('Start time').fill(start);
  return { context, page, problems, form };
}

test('every weekday from the form; edit all of the series; delete this and the following ones', { skip: FAKE_API }, async () => {
  const { context, page, problems, form } = await memberWithForm({ title: 'Standup', description: 'Team sync', start: '2030-01-07T09:00' }); // a Monday
  const repeat = form.getByLabel('Repeat');
  // The presets follow the start date.
  assert.ok((await repeat.locator('option').allTextContents()).includes('Every week on Monday'));
  assert.ok((await repeat.locator('option').allTextContents()).includes('Every month on the first Monday'));
  // A rule of one's own is summarised as it is typed.
  await repeat.selectOption('custom');
  await form.getByLabel('Rule').fill('FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;COUNT=4');
  await form.getByText('Every 2 weeks on Friday · 4 times').waitFor();
  await repeat.selectOption('weekdays');
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();

  for (const date of ['2030-01-07', '2030-01-08', '2030-01-09', '2030-01-10', '2030-01-11']) {
    assert.deepEqual(await titlesOn(page, date), ['Standup'], date);
  }
  assert.deepEqual(await titlesOn(page, '2030-01-12'), [], 'not on Saturday');

  // Edit: all of the series.
  await titlesOn(page, '2030-01-08');
  await page.getByRole('button', { name: 'Standup', exact: true }).click();
  const detail = page.getByRole('dialog', { name: 'Standup' });
  await detail.getByText('Every weekday (Mon–Fri)').waitFor();
  await detail.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit schedule' });
  await edit.getByLabel('Title').fill('Daily sync');
  await edit.getByRole('button', { name: 'Save' }).click();
  const ask = page.getByRole('dialog', { name: 'Please confirm' });
  await ask.getByLabel('All of the series').check();
  await ask.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('Schedule saved.').waitFor();
  assert.deepEqual(await titlesOn(page, '2030-01-10'), ['Daily sync'], 'the edit reached Thursday');

  // Delete: Wednesday and what follows.
  await titlesOn(page, '2030-01-09');
  await page.getByRole('button', { name: 'Daily sync', exact: true }).click();
  await page.getByRole('dialog', { name: 'Daily sync' }).getByRole('button', { name: 'Delete' }).click();
  const confirm = page.getByRole('dialog', { name: 'Please confirm' });
  await confirm.getByLabel('This and the following ones').check();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await page.getByText('Schedule deleted.').waitFor();
  assert.deepEqual(await titlesOn(page, '2030-01-08'), ['Daily sync'], 'Tuesday stays');
  assert.deepEqual(await titlesOn(page, '2030-01-10'), [], 'Thursday went');
  assert.deepEqual(await titlesOn(page, '2030-01-14'), [], 'and the next week');
  // A reload refreshes the token once from the cookie (a 401 in the console); no script error.
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('a new rule for all of the series from the edit form', { skip: FAKE_API }, async () => {
  const { context, page, problems, form } = await memberWithForm({ title: 'Review', description: 'Inbox zero', start: '2030-01-07T16:00' });
  await form.getByLabel('Repeat').selectOption('weekdays');
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();
  assert.deepEqual(await titlesOn(page, '2030-01-08'), ['Review']);

  await titlesOn(page, '2030-01-07');
  await page.getByRole('button', { name: 'Review', exact: true }).click();
  await page.getByRole('dialog', { name: 'Review' }).getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit schedule' });
  const repeat = edit.getByLabel('Repeat');
  await repeat.and(edit.locator('select:not([disabled])')).waitFor(); // enabled once the series' rule is read
  assert.equal(await repeat.inputValue(), 'weekdays', 'the series\' rule is shown');
  await repeat.selectOption('weekly'); // every week on Monday
  await edit.getByRole('button', { name: 'Save' }).click();
  const ask = page.getByRole('dialog', { name: 'Please confirm' });
  assert.equal(await ask.getByLabel('This one').count(), 0, 'a rule is never for one occurrence');
  await ask.getByLabel('All of the series').check();
  await ask.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('Schedule saved.').waitFor();
  assert.deepEqual(await titlesOn(page, '2030-01-08'), [], 'Tuesday went with the old rule');
  assert.deepEqual(await titlesOn(page, '2030-01-14'), ['Review'], 'Mondays stay');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});
