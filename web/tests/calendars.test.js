// Settings → Calendars (issue 19) through the UI against the real services: an app password made, shown once,
// working for CalDAV, listed and revoked; a subscription feed made (its URL, webcal URL and QR code), fetched,
// listed, given a new URL (the old one 404) and revoked; another calendar uploaded as an .ics file whose
// events appear among the day's schedules as busy blocks, one of them turned into a schedule. One app password too
// many is refused with the server's LIMIT_REACHED in the page's words.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, requireApi, memberWithClipboard, clipboard, confirmWith, apiAs } from './support.js';
import { svgPath } from '../app/qrcode.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

const member = () => memberWithClipboard(browser, pinit.url);

async function openCalendars(page) {
  await page.getByRole('link', { name: 'Settings' }).first().click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await page.getByRole('link', { name: 'Calendar settings' }).click();
  await page.waitForURL('**/app/settings/calendars');
  await page.getByRole('heading', { level: 1, name: 'Calendars' }).waitFor();
}

async function noHorizontalScroll(page, where) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${where} overflows by ${overflow} px at 375 px`);
}

const basic = (username, password) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
const propfind = (username, password) => fetch(`${pinit.url}/dav/`, {
  method: 'PROPFIND', headers: { Authorization: basic(username, password), Depth: '0' },
});

test('an app password: made, shown once, signs a calendar app in, listed with its last use, revoked', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v0/app-passwords');
  await openCalendars(page);
  const apps = page.getByRole('region', { name: 'Calendar apps (CalDAV)' });

  // What to type into a calendar app, with copy buttons.
  assert.equal(await apps.getByLabel('Server address', { exact: true }).inputValue(), `${pinit.url}/dav/`);
  assert.equal(await apps.getByLabel('Username', { exact: true }).inputValue(), user.username);
  await apps.getByRole('button', { name: 'Copy Server address' }).click();
  assert.equal(await clipboard(page), `${pinit.url}/dav/`);
  await apps.getByText('No app passwords yet.').waitFor();

  // A name is required (said next to the field), then the password is shown once.
  await apps.getByRole('button', { name: 'Create app password' }).click();
  assert.equal(await apps.getByLabel('Name of the new app password').getAttribute('aria-invalid'), 'true');
  await apps.getByLabel('Name of the new app password').fill('iPhone');
  await apps.getByRole('button', { name: 'Create app password' }).click();
  const reveal = apps.getByRole('region', { name: 'App password for "iPhone"' });
  await reveal.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'App password for "iPhone"', 'focus on the new password');
  const password = await reveal.getByLabel('App password', { exact: true }).inputValue();
  assert.match(password, /^[a-z2-7]{4}(-[a-z2-7]{4}){6}$/);
  await reveal.getByText('you will not see it again').waitFor();
  await reveal.getByRole('button', { name: 'Copy App password' }).click();
  assert.equal(await clipboard(page), password);
  await noHorizontalScroll(page, 'the new app password');

  // It works as a calendar app would use it (HTTP Basic on /dav/), and the list says it was used.
  const listed = apps.getByRole('list', { name: 'App passwords' }).getByRole('listitem').filter({ hasText: 'iPhone' });
  await listed.getByText('never used').waitFor();
  assert.equal((await propfind(user.username, password)).status, 207);
  await reveal.getByRole('button', { name: 'Done' }).click();
  await reveal.waitFor({ state: 'detached' });
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Calendars' }).waitFor();
  await listed.getByText(/last used/).waitFor();
  assert.ok(!(await page.locator('body').innerText()).includes(password), 'the password is never shown again');
  assert.equal(await page.locator('.reveal').count(), 0);

  // Revoked (after confirming): gone from the list, and refused within 5 s.
  await listed.getByRole('button', { name: 'Revoke iPhone' }).click();
  await confirmWith(page, 'Revoke');
  await listed.waitFor({ state: 'detached' });
  await apps.getByText('No app passwords yet.').waitFor();
  let status;
  for (let i = 0; i < 14; i++) {
    status = (await propfind(user.username, password)).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(status, 401);
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('one app password too many: LIMIT_REACHED in Korean under the name', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v0/app-passwords');
  // A member may have 20 app passwords at once; these are made through the API.
  const { call } = await apiAs(pinit.url, user);
  for (let i = 1; i <= 20; i++) {
    const made = await call('POST', '/v0/app-passwords', { name: `device ${i}` });
    assert.ok(made.status < 300, `app password ${i}: ${made.status} ${JSON.stringify(made.body)}`);
  }
  await page.goto('/app/settings');
  await page.getByLabel('Display language').selectOption('ko');
  await page.getByRole('link', { name: '캘린더 설정' }).click();
  const apps = page.getByRole('region', { name: '캘린더 앱 (CalDAV)' });
  const name = apps.getByLabel('새 앱 비밀번호 이름');
  await name.fill('태블릿');
  await apps.getByRole('button', { name: '앱 비밀번호 만들기' }).click();
  const error = apps.locator(`[id="${await name.getAttribute('id')}-error"]`);
  await error.waitFor();
  // The server's text is Korean too, but not these words: the page's own, by the code.
  assert.equal(await error.textContent(), '더 만들 수 없어요. 쓰지 않는 것을 먼저 삭제해 주세요.');
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('a feed: URL, webcal URL and QR code shown once, listed, a new URL (the old one 404), revoked', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v2/calendar/feeds');
  await openCalendars(page);
  const feeds = page.getByRole('region', { name: 'Subscription feeds' });
  await feeds.getByText('No feeds yet.').waitFor();

  await feeds.getByRole('button', { name: 'New feed of planned schedules' }).click();
  const reveal = feeds.getByRole('region', { name: 'Your new feed: Planned schedules' });
  await reveal.waitFor();
  const url = await reveal.getByLabel('Feed address (https)', { exact: true }).inputValue();
  const webcal = await reveal.getByLabel('Feed address (webcal)', { exact: true }).inputValue();
  assert.match(url, new RegExp(`^${pinit.url}/feeds/[A-Za-z0-9_-]+\\.ics$`));
  assert.equal(webcal, url.replace(/^https?:/, 'webcal:'));
  await reveal.getByText('you will not see it again').waitFor();
  await reveal.getByRole('button', { name: 'Copy Feed address (webcal)' }).click();
  assert.equal(await clipboard(page), webcal);
  assert.equal(await reveal.getByRole('link', { name: 'Open in a calendar app on this device' }).getAttribute('href'), webcal);
  // The QR code is drawn here (no outside service) and holds exactly the webcal URL: the page's modules are the
  // ones the encoder (checked against the library it comes from) gives for that text.
  const qr = reveal.getByRole('img', { name: 'QR code of the feed address (Planned schedules)' });
  const drawn = await qr.evaluate((svg) => ({ d: svg.querySelector('path').getAttribute('d'), box: svg.getAttribute('viewBox'), width: svg.getBoundingClientRect().width }));
  const expected = svgPath(webcal);
  assert.equal(drawn.d, expected.path);
  assert.equal(drawn.box, `0 0 ${expected.size} ${expected.size}`);
  assert.ok(drawn.width >= 160, `the QR code is large enough to scan (${drawn.width} px)`);
  await noHorizontalScroll(page, 'the new feed');

  // The URL is the feed; it is listed by its last characters only.
  const feed = await fetch(url);
  assert.equal(feed.status, 200);
  assert.match(feed.headers.get('content-type'), /^text\/calendar/);
  assert.match(await feed.text(), /BEGIN:VCALENDAR/);
  const row = feeds.getByRole('list', { name: 'Your feeds' }).getByRole('listitem').filter({ hasText: 'Planned schedules' });
  await row.waitFor();
  assert.ok((await row.innerText()).includes(url.slice(-8)), 'the hint shows the end of the URL');
  await reveal.getByRole('button', { name: 'Done' }).click();
  await reveal.waitFor({ state: 'detached' });

  // A new URL, shown once; the old one answers 404.
  await row.getByRole('button', { name: /^New address for the feed Planned schedules/ }).click();
  await confirmWith(page, 'New address');
  const rotated = feeds.getByRole('region', { name: 'New address: Planned schedules' });
  await rotated.waitFor();
  const next = await rotated.getByLabel('Feed address (https)', { exact: true }).inputValue();
  assert.notEqual(next, url);
  assert.equal((await fetch(url)).status, 404);
  assert.equal((await fetch(next)).status, 200);
  assert.equal(await rotated.getByRole('img', { name: /QR code/ }).evaluate((svg) => svg.querySelector('path').getAttribute('d')), svgPath(next.replace(/^https?:/, 'webcal:')).path);

  // Revoked: the list is empty and the URL answers 404.
  await feeds.getByRole('list', { name: 'Your feeds' }).getByRole('listitem').filter({ hasText: 'Planned schedules' }).getByRole('button', { name: /^Revoke the feed Planned schedules/ }).click();
  await confirmWith(page, 'Revoke');
  await feeds.getByText('No feeds yet.').waitFor();
  assert.equal((await fetch(next)).status, 404);
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

/** Today in Asia/Seoul as YYYYMMDD and YYYY-MM-DD. */
function seoulToday() {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Seoul', year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date()).map((p) => [p.type, p.value]));
  return { compact: `${parts.year}${parts.month}${parts.day}`, iso: `${parts.year}-${parts.month}-${parts.day}` };
}

/** An Outlook-like export: a timed meeting (in UTC: 14:00–15:00 in Seoul) with a long title, and an all-day event. */
function workCalendar(day) {
  const next = new Date(Date.UTC(Number(day.compact.slice(0, 4)), Number(day.compact.slice(4, 6)) - 1, Number(day.compact.slice(6, 8)) + 1));
  const nextDay = next.toISOString().slice(0, 10).replaceAll('-', '');
  return [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Pinit web tests//EN', 'CALSCALE:GREGORIAN',
    'BEGIN:VEVENT', 'UID:meeting-1@example.com', 'DTSTAMP:20260101T000000Z',
    `DTSTART:${day.compact}T050000Z`, `DTEND:${day.compact}T060000Z`,
    'SUMMARY:Quarterly planning with the whole team', 'END:VEVENT',
    'BEGIN:VEVENT', 'UID:holiday-1@example.com', 'DTSTAMP:20260101T000000Z',
    `DTSTART;VALUE=DATE:${day.compact}`, `DTEND;VALUE=DATE:${nextDay}`,
    'SUMMARY:Company offsite', 'TRANSP:OPAQUE', 'END:VEVENT',
    'END:VCALENDAR', '',
  ].join('\r\n');
}

test('another calendar as busy time: an uploaded .ics, its events among the day\'s schedules, one made a schedule', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v2/calendar/subscriptions');
  await openCalendars(page);
  const other = page.getByRole('region', { name: 'Other calendars (busy time)' });
  await other.getByText('No other calendars yet.').waitFor();

  // An address the server will not fetch (loopback): its reason is shown next to the address field.
  const byUrl = other.getByRole('form', { name: 'Subscribe by address' });
  await byUrl.getByLabel('Calendar name').fill('Local');
  await byUrl.getByLabel('Calendar address (ICS)').fill('http://127.0.0.1:9/calendar.ics');
  await byUrl.getByRole('button', { name: 'Add calendar' }).click();
  const urlInput = byUrl.getByLabel('Calendar address (ICS)');
  await page.waitForFunction(() => document.querySelector('input[type=url]')?.getAttribute('aria-invalid') === 'true');
  const reason = await urlInput.evaluate((el) => document.getElementById(`${el.id}-error`).textContent);
  assert.ok(reason.length > 3, `the server's reason next to the field: "${reason}"`);

  // Upload a file (read with FileReader, its text sent).
  const day = seoulToday();
  const uploads = [];
  page.on('request', (r) => { if (r.method() === 'POST' && new URL(r.url()).pathname === '/v2/calendar/subscriptions/upload') uploads.push(r.postDataJSON()); });
  const byFile = other.getByRole('form', { name: 'Upload an .ics file' });
  await byFile.getByLabel('Calendar file (.ics)').setInputFiles({ name: 'Work.ics', mimeType: 'text/calendar', buffer: Buffer.from(workCalendar(day)) });
  assert.equal(await byFile.getByLabel('Calendar name').inputValue(), 'Work', 'the name comes from the file');
  await byFile.getByRole('button', { name: 'Upload file' }).click();
  const row = other.getByRole('list', { name: 'Your other calendars' }).getByRole('listitem').filter({ hasText: 'Work' });
  await row.waitFor();
  assert.equal(uploads.length, 1);
  assert.equal(uploads[0].name, 'Work');
  assert.match(uploads[0].ics, /SUMMARY:Quarterly planning with the whole team/);
  await row.getByText('Uploaded file').waitFor();
  await noHorizontalScroll(page, 'the other calendars');

  // The day's schedules: the busy blocks (all-day first, then by time) among a schedule of one's own.
  await page.goto(`/app/schedules/new?date=${day.iso}`);
  const form = page.getByRole('dialog', { name: 'New schedule' });
  await form.getByLabel('Title').fill('Prepare slides');
  await form.getByLabel('Description').fill('For the planning');
  await form.getByLabel('Start time').fill(`${day.iso}T10:00`);
  await form.getByRole('button', { name: 'Add schedule' }).click();
  await form.waitFor({ state: 'detached' });
  const list = page.getByRole('list', { name: /^Schedules on/ });
  const meeting = list.locator('.busy-card').filter({ hasText: 'Quarterly planning with the whole team' });
  await meeting.waitFor();
  assert.match(await meeting.innerText(), /14:00–15:00/);
  assert.match(await meeting.innerText(), /Work/);
  assert.match(await meeting.innerText(), /Busy/);
  const order = await list.locator(':scope > li').evaluateAll((items) => items.map((li) => li.querySelector('h3')?.textContent.trim()));
  assert.deepEqual(order, ['Company offsite', 'Prepare slides', 'Quarterly planning with the whole team']);
  assert.match(await list.locator('.busy-card').filter({ hasText: 'Company offsite' }).innerText(), /All day/);
  await noHorizontalScroll(page, 'the day with busy blocks');

  // "Make a schedule": the form pre-filled with the title (it fits the API's 100 characters), the time, and
  // the calendar's name as the description.
  await meeting.getByRole('button', { name: 'Make a schedule from "Quarterly planning with the whole team"' }).click();
  const made = page.getByRole('dialog', { name: 'New schedule' });
  await made.waitFor();
  const title = await made.getByLabel('Title').inputValue();
  assert.equal(title, 'Quarterly planning with the whole team');
  assert.equal(await made.getByLabel('Start time').inputValue(), `${day.iso}T14:00`);
  assert.match(await made.getByLabel('Description').inputValue(), /From the calendar "/);
  await made.getByRole('button', { name: 'Add schedule' }).click();
  await made.waitFor({ state: 'detached' });
  await list.locator('.schedule-card').filter({ hasText: 'Quarterly planning with the whole team' }).first().waitFor();

  // Today shows them too; removing the calendar removes its busy time.
  await page.goto('/app/today');
  await page.locator('.busy-card').filter({ hasText: 'Company offsite' }).waitFor();
  await page.goto('/app/settings/calendars');
  await other.getByRole('list', { name: 'Your other calendars' }).getByRole('listitem').filter({ hasText: 'Work' }).getByRole('button', { name: 'Remove the calendar "Work"' }).click();
  await confirmWith(page, 'Remove');
  await other.getByText('No other calendars yet.').waitFor();
  await page.goto(`/app/schedules?date=${day.iso}`);
  await list.locator('.schedule-card').filter({ hasText: 'Prepare slides' }).waitFor();
  assert.equal(await page.locator('.busy-card').count(), 0);
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('Settings → Calendars: every control labelled, no horizontal scroll at 375 px', async () => {
  const { context, page } = await member();
  await page.goto('/app/settings/calendars');
  await page.getByRole('heading', { level: 1, name: 'Calendars' }).waitFor();
  await page.waitForLoadState('networkidle');
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('main input, main select, main textarea')]
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label'))).map((el) => el.outerHTML));
  assert.deepEqual(unlabelled, []);
  await noHorizontalScroll(page, 'Settings → Calendars');
  await context.close();
});
