// The member's day, end to end through the UI: tasks with a dependency, a schedule copied from a task and
// one created directly, start → live counter → complete, statistics before and after, time zone.
// Needs the task service's /v2 API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, newContext, signUp, watch, requireApi } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

const nav = (page, name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();

async function addTask(page, { title, description, prerequisite }) {
  await page.getByRole('link', { name: 'Add task' }).click();
  const dialog = page.getByRole('dialog', { name: 'New task' });
  await dialog.getByLabel('Title').fill(title);
  await dialog.getByLabel('Description').fill(description);
  if (prerequisite) {
    await dialog.getByRole('group', { name: 'Before this task (prerequisites)' }).getByRole('button', { name: 'Choose…' }).click();
    const picker = page.getByRole('dialog', { name: 'Choose prerequisites' });
    await picker.getByLabel('Search tasks').fill(prerequisite.slice(0, 4));
    await picker.getByLabel(new RegExp(prerequisite)).check();
    await picker.getByRole('button', { name: 'Apply' }).click();
    await dialog.getByText(prerequisite).waitFor();
  }
  await dialog.getByRole('button', { name: 'Add task' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.locator('.task-card').filter({ hasText: title }).waitFor();
}

test('tasks, a schedule, start and complete it, statistics change, time zone', async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  await requireApi(pinit.url, user, '/v2/statistics?time=2026-02-02T12:00:00&zoneId=Asia/Seoul');
  await requireApi(pinit.url, user, '/v2/tasks');

  // Statistics before: nothing recorded this week.
  await nav(page, 'Statistics');
  const total = page.locator('.stat-total .stat-value');
  await total.waitFor();
  assert.equal(await total.textContent(), '0 s');

  // Two tasks; the second waits for the first.
  await nav(page, 'Tasks');
  await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
  await addTask(page, { title: 'Write report', description: 'Quarterly numbers' });
  await addTask(page, { title: 'Send report', description: 'To the team', prerequisite: 'Write report' });
  const rows = page.locator('.task-card');
  await rows.filter({ hasText: 'Send report' }).getByText('Waits for "Write report"').waitFor();
  await page.getByRole('button', { name: 'Ready to do' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.task-card').length === 1);
  assert.match(await rows.first().textContent(), /Write report/);
  await page.getByRole('button', { name: 'All' }).click();
  await rows.filter({ hasText: 'Send report' }).waitFor();

  // Copy the first task into a schedule (next full hour today).
  await rows.filter({ hasText: 'Write report' }).getByRole('button', { name: 'Write report' }).click();
  const detail = page.getByRole('dialog', { name: 'Write report' });
  await detail.getByRole('button', { name: 'Copy into a schedule' }).click();
  const copy = page.getByRole('dialog', { name: 'Schedule "Write report"' });
  await copy.getByRole('button', { name: 'Create schedule' }).click();
  await page.getByText('Added to your schedules.').waitFor();
  await page.keyboard.press('Escape');
  await detail.waitFor({ state: 'detached' });

  // A second, earlier schedule created directly: the day list is in start-time order with times shown.
  await nav(page, 'Schedules');
  await page.getByRole('heading', { level: 1, name: 'Schedules' }).waitFor();
  await page.getByRole('link', { name: 'Add schedule' }).click();
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.getByLabel('Title').fill('Standup');
  await form.getByLabel('Description').fill('Daily sync');
  await form.getByText('Admin work').click();
  const start = await form.getByLabel('Start time').inputValue();
  await form.getByLabel('Start time').fill(`${start.slice(0, 10)}T00:05`);
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();
  const cards = page.locator('.schedule-card');
  await page.waitForFunction(() => document.querySelectorAll('.schedule-card').length === 2);
  assert.equal(await cards.nth(0).locator('.card-title').textContent(), 'Standup');
  assert.equal(await cards.nth(0).locator('time').textContent(), '00:05');
  assert.equal(await cards.nth(1).locator('.card-title').textContent(), 'Write report');

  // Start: the player bar appears with a live counter.
  await cards.nth(1).getByRole('button', { name: 'Start: Write report' }).click();
  const player = page.getByRole('region', { name: 'Running schedule' });
  await player.waitFor();
  const timer = player.getByRole('timer');
  const first = await timer.textContent();
  await page.waitForTimeout(2200);
  assert.notEqual(await timer.textContent(), first, 'the counter runs');

  // Pause and resume from the player, then complete.
  await player.getByRole('button', { name: 'Pause' }).click();
  await player.getByText('Paused').waitFor();
  await player.getByRole('button', { name: 'Resume' }).click();
  await player.getByText('In progress').waitFor();
  await page.waitForTimeout(1200);
  await player.getByRole('button', { name: 'Complete' }).click();
  await player.waitFor({ state: 'detached' });
  await cards.nth(1).locator('.state-pill', { hasText: 'Done' }).waitFor();

  // The linked task is done now, and statistics show the time.
  await nav(page, 'Statistics');
  await page.waitForFunction(() => document.querySelector('.stat-total .stat-value')?.textContent !== '0 s');
  assert.match(await page.locator('.stat-deep .stat-value').textContent(), /^[1-9]\d* s$|min/);
  assert.match(await page.locator('.stat-total .stat-change').textContent(), /New this week/);
  await nav(page, 'Tasks');
  await page.locator('.task-card.is-done').filter({ hasText: 'Write report' }).waitFor();

  // The time zone is the member's choice, saved on the server.
  await page.goto('/app/settings');
  await page.getByLabel('Your time zone (IANA name)').fill('America/New_York');
  await page.getByRole('region', { name: 'Time zone' }).getByRole('button', { name: 'Save' }).click();
  await page.getByText('Time zone set to America/New_York.').waitFor();
  await page.reload();
  await page.getByText(/Now: America\/New_York/).waitFor();

  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('edit and delete a schedule, move it a day, and the archive scrolls', async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const user = await signUp(page);
  await requireApi(pinit.url, user, '/v2/schedules?time=2026-02-02T12:00:00&zoneId=Asia/Seoul');
  await page.goto('/app/schedules/new');
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.getByLabel('Title').fill('Gym');
  await form.getByLabel('Description').fill('Legs');
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await page.getByText('Schedule added.').waitFor();

  await page.getByRole('button', { name: 'Gym', exact: true }).click();
  const detail = page.getByRole('dialog', { name: 'Gym' });
  await detail.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit schedule' });
  await edit.getByLabel('Title').fill('Gym session');
  await edit.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Schedule saved.').waitFor();
  await page.getByRole('button', { name: 'Gym session', exact: true }).click();
  const again = page.getByRole('dialog', { name: 'Gym session' });
  await again.getByRole('button', { name: 'Move to next day' }).click();
  await page.getByText('Moved "Gym session" to the next day.').waitFor();
  await again.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Delete' }).click();
  await page.getByText('Schedule deleted.').waitFor();

  await page.goto('/app/tasks');
  await page.getByRole('button', { name: 'Archive' }).click();
  const archive = page.getByRole('dialog', { name: 'Archive' });
  await archive.getByText('The archive is empty.').waitFor();
  await context.close();
});
