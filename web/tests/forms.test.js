// Form limits and dependency wording against the real server: titles up to 100 characters with a live counter
// (nothing cut, 101 refused here with the reason under the field), descriptions optional (saved empty); a task
// waiting for another names it and cannot be ticked until it is done, then is free (and says nothing on Today's
// ready list); "Before this task" / "After this task" list the right tasks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPinit, launch, newContext, signUp, watch, apiAs, axeViolations, todayInZone, ZONE, PHONE,
} from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

async function member() {
  const context = await newContext(browser, pinit.url, { viewport: PHONE });
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  const { call } = await apiAs(pinit.url, user);
  return { context, page, problems, call };
}

const long = (n) => `${'Quarterly planning, '.repeat(6)}`.slice(0, n - 3).padEnd(n - 3, 'x') + ' ok'; // n characters

test('task and schedule titles: 100 characters with a live counter, 101 refused with the reason, nothing cut; descriptions optional', async () => {
  const { context, page, problems, call } = await member();
  const hundred = long(100);
  assert.equal(hundred.length, 100);

  await page.goto('/app/tasks/new');
  const form = page.getByRole('dialog', { name: 'New task' });
  const title = form.getByLabel('Title');
  assert.equal(await title.getAttribute('maxlength'), null, 'no maxlength: it would cut pasted text');
  assert.equal(await form.getByLabel('Description (optional)').getAttribute('required'), null);
  await title.fill(`${hundred}!`);
  assert.equal((await title.inputValue()).length, 101, 'nothing is cut');
  const counter = form.locator('.field-count').first(); // the title's
  assert.equal(await counter.textContent(), '101 / 100 characters — 1 too many');
  assert.ok((await title.getAttribute('aria-describedby')).includes(await counter.getAttribute('id')));
  await form.getByRole('button', { name: 'Add task' }).click();
  await form.locator('.field-error', { hasText: 'Up to 100 characters: 1 too many.' }).waitFor();
  assert.equal(await title.getAttribute('aria-invalid'), 'true');
  assert.equal((await call('GET', '/v2/tasks?page=0&size=20')).body.totalElements, 0, 'nothing sent');

  await title.fill(hundred);
  assert.equal(await counter.textContent(), '100 / 100 characters');
  await form.getByRole('button', { name: 'Add task' }).click();
  await form.waitFor({ state: 'detached' });
  const [task] = (await call('GET', '/v2/tasks?page=0&size=20')).body.content;
  assert.equal(task.title, hundred);
  assert.equal(task.description, '');

  // A schedule: the same limits, the description left empty.
  await page.goto(`/app/schedules/new?date=${todayInZone()}`);
  const sform = page.getByRole('dialog', { name: 'New schedule' });
  await sform.getByLabel('Title').fill(hundred);
  assert.equal(await sform.locator('.field-count').first().textContent(), '100 / 100 characters');
  assert.equal(await sform.getByLabel('Description (optional)').inputValue(), '');
  const violations = await axeViolations(page, { include: '[role=dialog]' });
  assert.deepEqual(violations, [], violations.join('\n'));
  await sform.getByRole('button', { name: 'Add schedule' }).click();
  await sform.waitFor({ state: 'detached' });
  const day = (await call('GET', `/v2/schedules?time=${todayInZone()}T12:00:00&zoneId=${encodeURIComponent(ZONE)}`)).body;
  assert.deepEqual(day.map((s) => [s.title, s.description]), [[hundred, '']]);
  await page.locator('.schedule-card').filter({ hasText: 'Quarterly planning' }).waitFor();
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('a task waiting for another names it and cannot be ticked; once it is done the task is free, and the headings read the right way round', async () => {
  const { context, page, call } = await member();
  const due = { date: todayInZone(), zoneId: ZONE, offset: '+09:00' };
  const outline = (await call('POST', '/v2/tasks', { title: 'Write outline', dueDate: due, difficulty: 2, importance: 5 })).body;
  const draft = (await call('POST', '/v2/tasks', { title: 'Write draft', dueDate: due, difficulty: 3, importance: 5, addDependencies: [{ fromId: outline.id, toId: 0 }] })).body;
  assert.deepEqual(draft.previousTaskIds, [outline.id], 'the draft comes after the outline');

  await page.goto('/app/tasks');
  const card = (title) => page.locator('.task-card').filter({ has: page.getByRole('button', { name: title, exact: true }) });
  await card('Write draft').getByText('Waits for "Write outline"').waitFor();
  const draftCheck = page.getByRole('checkbox', { name: 'Mark "Write draft" done' });
  assert.equal(await draftCheck.isDisabled(), true);
  const described = await draftCheck.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby')).textContent);
  assert.equal(described, 'Waits for "Write outline"');
  assert.equal(await card('Write outline').getByText(/Waits for/).count(), 0);

  // The headings, both ways: the draft has the outline before it, the outline the draft after it.
  await card('Write draft').getByRole('button', { name: 'Write draft' }).click();
  let detail = page.getByRole('dialog', { name: 'Write draft' });
  await detail.getByText('Waits for "Write outline"').waitFor();
  assert.equal(await detail.getByRole('button', { name: 'Mark done', exact: true }).isDisabled(), true);
  const listAfter = async (dialog, heading) => dialog.getByRole('heading', { name: heading }).evaluate((el) => el.nextElementSibling.textContent);
  await detail.getByRole('link', { name: 'Write outline' }).waitFor();
  assert.match(await listAfter(detail, 'Before this task (prerequisites)'), /Write outline/);
  assert.equal(await listAfter(detail, 'After this task (follow-ups)'), 'None');
  await page.keyboard.press('Escape');
  await card('Write outline').getByRole('button', { name: 'Write outline' }).click();
  detail = page.getByRole('dialog', { name: 'Write outline' });
  await detail.getByRole('link', { name: 'Write draft' }).waitFor();
  assert.match(await listAfter(detail, 'After this task (follow-ups)'), /Write draft/);
  assert.equal(await listAfter(detail, 'Before this task (prerequisites)'), 'None');
  await page.keyboard.press('Escape');

  // The outline ticked: the draft is free at once (no "Waits for", the checkbox enabled).
  await page.getByRole('checkbox', { name: 'Mark "Write outline" done' }).check();
  await page.waitForFunction(() => ![...document.querySelectorAll('.task-card')].some((c) => /Waits for/.test(c.textContent)));
  assert.equal(await draftCheck.isDisabled(), false);
  assert.equal((await call('GET', `/v2/tasks/${outline.id}`)).body.completed, true);

  // On Today's ready tasks: the draft, saying nothing about waiting (its prerequisite is done).
  await page.goto('/app/today');
  const ready = page.getByRole('region', { name: /Ready tasks/ });
  await ready.locator('.task-card').filter({ hasText: 'Write draft' }).waitFor();
  assert.equal(await ready.getByText(/Waits for/).count(), 0);
  await page.getByRole('checkbox', { name: 'Mark "Write draft" done' }).check();
  for (let i = 0; i < 30 && !(await call('GET', `/v2/tasks/${draft.id}`)).body.completed; i++) await page.waitForTimeout(100);
  assert.equal((await call('GET', `/v2/tasks/${draft.id}`)).body.completed, true, 'the server took it');
  await context.close();
});
