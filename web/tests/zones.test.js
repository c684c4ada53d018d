// The searchable time-zone picker in Settings against the real server: a city that is not a zone name (Mumbai),
// a Korean city name (뉴욕) and an offset (UTC+9) find their zones; ↓ and Enter choose one, which is saved
// (GET /v2/members/zone-id has it); a city typed and saved without choosing is resolved to its zone; "use this
// device's zone" still works; the combobox is announced as such (axe with the list open).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, newContext, signUp, watch, apiAs, axeViolations, ZONE, PHONE } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

test('Settings → time zone: search by city, Korean city name or offset, choose with the keyboard, saved on the server', async () => {
  const context = await newContext(browser, pinit.url, { viewport: PHONE });
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  const { call } = await apiAs(pinit.url, user);
  const serverZone = async () => {
    const v = (await call('GET', '/v2/members/zone-id')).body;
    return typeof v === 'string' ? v.replace(/"/g, '') : v.zoneId;
  };
  await page.goto('/app/settings');
  const region = page.getByRole('region', { name: 'Time zone' });
  const box = region.getByRole('combobox', { name: 'Your time zone (IANA name)' });
  const options = region.getByRole('option');

  // A city that is no zone's name.
  await box.fill('Mumbai');
  assert.equal(await box.getAttribute('aria-expanded'), 'true');
  assert.deepEqual(await options.allTextContents(), ['Mumbai — Asia/Kolkata (UTC+05:30)']);
  const found = await axeViolations(page, { include: '.zone-field' });
  assert.deepEqual(found, [], found.join('\n'));
  await box.press('ArrowDown');
  assert.equal(await box.getAttribute('aria-activedescendant'), await options.first().getAttribute('id'));
  await box.press('Enter');
  assert.equal(await box.inputValue(), 'Asia/Kolkata');
  assert.equal(await box.getAttribute('aria-expanded'), 'false');
  await region.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Time zone set to Asia/Kolkata.').waitFor();
  assert.equal(await serverZone(), 'Asia/Kolkata');

  // An offset: the zones at UTC+09:00 (Seoul and Tokyo among them), none elsewhere.
  await box.fill('UTC+9');
  const nine = await options.allTextContents();
  assert.ok(nine.some((o) => o.includes('Asia/Seoul')) && nine.some((o) => o.includes('Asia/Tokyo')), nine.join(', '));
  assert.ok(nine.every((o) => o.endsWith('(UTC+09:00)')), nine.join(', '));
  await box.press('Escape');
  assert.equal(await box.getAttribute('aria-expanded'), 'false');

  // A Korean city name typed and saved without choosing: the one zone it names.
  await box.fill('뉴욕');
  assert.deepEqual(await options.allTextContents(), ['New York — America/New_York (UTC-05:00)'].map((o) => (nineOrSummer(o))));
  await region.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Time zone set to America/New_York.').waitFor();
  assert.equal(await serverZone(), 'America/New_York');

  // Nonsense is refused here.
  await box.fill('Atlantis');
  assert.equal(await options.count(), 0);
  await region.getByRole('button', { name: 'Save' }).click();
  await region.getByText('That is not a time zone name this browser knows.').waitFor();
  assert.equal(await serverZone(), 'America/New_York');

  // This device's zone, in one click.
  await region.getByRole('button', { name: `Use this device's zone (${ZONE})` }).click();
  await page.getByText(`Time zone set to ${ZONE}.`).waitFor();
  assert.equal(await serverZone(), ZONE);
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

/** New York's offset depends on the season (UTC-05:00 in winter, UTC-04:00 in summer). */
function nineOrSummer(label) {
  const offset = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', timeZoneName: 'longOffset' }).formatToParts(new Date())
    .find((p) => p.type === 'timeZoneName').value.replace('GMT', 'UTC');
  return label.replace('(UTC-05:00)', `(${offset})`);
}
