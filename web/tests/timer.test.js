// The timer against the real server: starting a second schedule while one holds the member's slot offers to switch
// in one step (running, and paused: completed with its time, the other started) instead of a 409; a card's clock
// counts from the server's runningSince and ticks; the player's "Discard time…" asks, and "Keep tracking" keeps it;
// a completed schedule's tracked time is corrected (PUT /duration) and the week's statistics follow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPinit, launch, newContext, signUp, watch, apiAs, axeViolations, todayInZone, ZONE, PHONE,
} from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

const wall = (ms) => new Intl.DateTimeFormat('sv-SE', { timeZone: ZONE, dateStyle: 'short', timeStyle: 'medium' }).format(new Date(ms)).replace(' ', 'T');
const seconds = (iso) => {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(iso || '');
  assert.ok(m, `a duration: ${iso}`);
  return Number(m[1] || 0) * 3600 + Number(m[2] || 0) * 60 + Number(m[3] || 0);
};

async function member() {
  const context = await newContext(browser, pinit.url, { viewport: PHONE });
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  const { call } = await apiAs(pinit.url, user);
  const make = async (title, time = '10:00') => {
    const res = await call('POST', '/v2/schedules', { title, scheduleType: 'DEEP_WORK', date: { dateTime: `${todayInZone()}T${time}:00`, zoneId: ZONE } });
    assert.ok(res.status < 300, `POST: ${res.status}`);
    return res.body.id;
  };
  const act = async (id, action, at = Date.now()) => {
    const res = await call('POST', `/v2/schedules/${id}/${action}?time=${encodeURIComponent(wall(at))}&zoneId=${encodeURIComponent(ZONE)}`);
    assert.ok(res.status < 300, `${action}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const get = async (id) => (await call('GET', `/v2/schedules/${id}`)).body;
  return { context, page, problems, call, make, act, get };
}

test('a second start offers to complete the one running (or paused) and start this one, in one step', async () => {
  const { context, page, problems, make, act, get } = await member();
  const first = await make('Reading', '09:00');
  const second = await make('Writing', '10:00');
  const third = await make('Review', '11:00');
  await act(first, 'start');
  await page.goto('/app/schedules?view=list');
  const player = page.getByRole('region', { name: 'Running schedule' });
  await player.getByText('Reading').waitFor();
  await page.waitForTimeout(1200);

  let errors = 0;
  page.on('response', (r) => { if (r.status() === 409) errors++; });
  await page.getByRole('button', { name: 'Start: Writing' }).click();
  const offer = page.getByRole('dialog', { name: 'Switch to another schedule?' });
  await offer.getByText(/"Reading" is running \(.* tracked\)/).waitFor();
  const found = await axeViolations(page, { include: '[role=dialog]' });
  assert.deepEqual(found, [], found.join('\n'));
  assert.equal(await page.locator('.toast-error').count(), 0, 'no 409 toast');
  // "Keep" changes nothing.
  await offer.getByRole('button', { name: 'Keep "Reading"' }).click();
  await offer.waitFor({ state: 'detached' });
  assert.equal((await get(first)).state, 'IN_PROGRESS');
  assert.equal((await get(second)).state, 'NOT_STARTED');

  await page.getByRole('button', { name: 'Start: Writing' }).click();
  await offer.getByRole('button', { name: 'Complete "Reading" and start "Writing"' }).click();
  await page.getByText('"Reading" completed, "Writing" started.').waitFor();
  const done = await get(first);
  assert.equal(done.state, 'COMPLETED');
  assert.ok(seconds(done.duration) >= 1, `Reading kept its time: ${done.duration}`);
  assert.equal((await get(second)).state, 'IN_PROGRESS');
  await player.getByText('Writing').waitFor();
  assert.equal(await page.locator('.toast-error').count(), 0);

  // A paused one holds the slot too: it is completed with the time it had (resumed for no time first).
  await player.getByRole('button', { name: 'Pause' }).click();
  await player.getByText(/Paused/).waitFor();
  const pausedWith = seconds((await get(second)).duration);
  await page.getByRole('button', { name: 'Start: Review' }).click();
  await offer.getByText(/"Writing" is paused .* and still holds the clock/).waitFor();
  await offer.getByRole('button', { name: 'Complete "Writing" and start "Review"' }).click();
  await page.getByText('"Writing" completed, "Review" started.').waitFor();
  const writing = await get(second);
  assert.equal(writing.state, 'COMPLETED');
  assert.ok(Math.abs(seconds(writing.duration) - pausedWith) < 0.5, `${writing.duration} after ${pausedWith} s paused`);
  assert.equal((await get(third)).state, 'IN_PROGRESS');
  assert.ok(errors >= 2, 'the server was asked first, and its 409 became the offer');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('a running card\'s clock counts from runningSince and ticks; "Discard time…" asks, keeps on "Keep tracking", discards on "Discard"', async () => {
  const { context, page, make, act, get } = await member();
  const id = await make('Deep focus');
  const created = Date.now();
  await new Promise((r) => setTimeout(r, 4000));
  await act(id, 'start', created + 1000); // dated: the session began ~3 s before this request
  const running = await get(id);
  assert.ok(running.runningSince, 'the server sends runningSince');
  assert.ok(Date.parse(running.updatedAt) - Date.parse(running.runningSince) >= 2000, 'updatedAt is later than runningSince');

  await page.goto('/app/schedules?view=list');
  const clock = page.locator('.schedule-card', { hasText: 'Deep focus' }).locator('.card-clock');
  await clock.waitFor();
  const first = await clock.textContent();
  const secondsOf = (text) => text.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
  const expected = (Date.now() - Date.parse(running.runningSince)) / 1000;
  assert.ok(Math.abs(secondsOf(first) - expected) <= 1.5, `the card shows ${first}, ${expected} s since runningSince`);
  await page.waitForFunction((before) => document.querySelector('.card-clock')?.textContent !== before, first);

  const player = page.getByRole('region', { name: 'Running schedule' });
  await player.getByRole('button', { name: 'Discard time…' }).click();
  const ask = page.getByRole('dialog', { name: 'Discard the tracked time?' });
  await ask.getByText(/"Deep focus" has .* tracked\. Discarding sets it back to not started/).waitFor();
  await ask.getByRole('button', { name: 'Keep tracking' }).click();
  await ask.waitFor({ state: 'detached' });
  assert.equal((await get(id)).state, 'IN_PROGRESS');
  await player.getByRole('button', { name: 'Discard time…' }).click();
  await ask.getByRole('button', { name: 'Discard', exact: true }).click();
  await player.waitFor({ state: 'detached' });
  const discarded = await get(id);
  assert.equal(discarded.state, 'NOT_STARTED');
  assert.equal(seconds(discarded.duration), 0);
  await context.close();
});

test('a completed schedule\'s tracked time is corrected; out of range refused here, the server\'s refusal under the field', async () => {
  const { context, page, call, make, act, get } = await member();
  const id = await make('Planning');
  await act(id, 'start');
  await act(id, 'complete');
  await page.goto(`/app/schedules?scheduleId=${id}`);
  const detail = page.getByRole('dialog', { name: 'Planning' });
  await detail.getByRole('button', { name: 'Correct tracked time…' }).click();
  const form = page.getByRole('dialog', { name: 'Tracked time of "Planning"' });
  const group = form.getByRole('group', { name: 'Tracked time' });
  let puts = 0;
  page.on('request', (r) => { if (r.method() === 'PUT' && r.url().endsWith(`/v2/schedules/${id}/duration`)) puts++; });

  await group.getByLabel('Hours').fill('24');
  await group.getByLabel('Minutes').fill('30');
  await form.getByRole('button', { name: 'Save' }).click();
  await group.getByText('24 hours at most').waitFor();
  assert.equal(puts, 0);

  await page.route(`**/v2/schedules/${id}/duration`, (route) => route.continue({ postData: JSON.stringify({ duration: 'PT25H' }) }));
  await group.getByLabel('Hours').fill('2');
  await group.getByLabel('Minutes').fill('0');
  await form.getByRole('button', { name: 'Save' }).click();
  await group.locator('.field-error').getByText('The tracked time is from 0 seconds to 24 hours.').waitFor(); // CORRECTION_RANGE, in English
  await page.unroute(`**/v2/schedules/${id}/duration`);
  assert.ok(seconds((await get(id)).duration) < 60, 'unchanged');

  await group.getByLabel('Hours').fill('1');
  await group.getByLabel('Minutes').fill('5');
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Tracked time of "Planning" set to 1 h 05 min.').waitFor();
  assert.equal((await get(id)).duration, 'PT1H5M');
  const stats = (await call('GET', `/v2/statistics?time=${todayInZone()}T12:00:00&zoneId=${encodeURIComponent(ZONE)}`)).body;
  assert.equal(seconds(stats.totalWorkElapsedTime), 3900, 'the week follows');
  await detail.locator('.elapsed').getByText('1:05:00').waitFor();
  await context.close();
});
