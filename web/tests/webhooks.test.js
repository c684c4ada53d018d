// Settings → Webhooks (issue 20) through the UI against the real services, with a receiver on 127.0.0.1 (the
// insecure-endpoint setting lets the server send to it): the URL and the events required, the server's reason for
// a URL it refuses under the URL field, an endpoint made with some events and its signing secret shown once (the
// receiver verifies a test event signed with it), listed active with its events, a test event in the delivery
// log, disabled and enabled again, disabled by the receiver's 410 with the reason shown, deleted; and in Korean.
// The server's refusals are worded by their codes (URL_NOT_HTTPS) in the page's language.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { startPinit, launch, requireApi, memberWithClipboard, clipboard, confirmWith } from './support.js';

let pinit;
let browser;
let receiver;
/** What the receiver got: {headers, body}; it answers `answer` (200, or 410 to ask not to be called again). */
const received = [];
let answer = 200;

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => { received.push({ headers: req.headers, body }); res.writeHead(answer).end(); });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  pinit = await startPinit({ env: { PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS: '1' } });
  browser = await launch();
});
after(async () => { await browser?.close(); await pinit?.stop(); receiver?.close(); });

const hookUrl = () => `http://127.0.0.1:${receiver.address().port}/hook`;

/** Standard Webhooks: HMAC-SHA256 of "id.timestamp.body" with the secret's bytes, among the header's "v1,…". */
function signedBy(secret, { headers, body }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest('base64');
  return String(headers['webhook-signature']).split(' ').includes(`v1,${expected}`);
}

async function openWebhooks(page, open = 'Webhook settings', heading = 'Webhooks') {
  await page.goto('/app/settings');
  await page.getByRole('link', { name: open }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

test('a webhook endpoint: checked, made, its secret shown once, tested, disabled and enabled, disabled by a 410, deleted', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v0/webhooks');
  await openWebhooks(page);
  await page.waitForURL('**/app/settings/webhooks');
  const panel = page.getByRole('region', { name: 'Webhook endpoints' });
  await panel.getByText('No endpoints yet.').waitFor();
  const url = panel.getByLabel('Endpoint URL');
  const add = panel.getByRole('button', { name: 'Add endpoint' });

  // Nothing given: both said, nothing sent.
  await add.click();
  await panel.getByText('Please enter the endpoint\'s URL.').waitFor();
  await panel.getByText('Choose at least one event.').waitFor();
  assert.equal(await url.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.name), 'url');

  // A URL the server refuses: its reason (URL_NOT_HTTPS) in the page's words under the URL field.
  await url.fill('ftp://example.com/hook');
  await panel.getByRole('checkbox', { name: /Task created/ }).check();
  await add.click();
  const urlError = panel.locator(`#${await url.getAttribute('id')}-error`);
  await urlError.waitFor();
  assert.equal(await urlError.innerText(), 'The URL must start with https://.');
  assert.match(await url.getAttribute('aria-describedby'), new RegExp(await urlError.getAttribute('id')));
  assert.equal(await url.getAttribute('aria-invalid'), 'true');
  assert.equal(await panel.getByText('Choose at least one event.').count(), 0);

  // All events but one: "All events" checks them all, then shows it is partly chosen.
  await url.fill(hookUrl());
  await panel.getByLabel('Description (optional)').fill('time tracker');
  const all = panel.getByRole('checkbox', { name: 'All events' });
  await all.check();
  assert.equal(await panel.getByRole('checkbox', { name: /Schedule cancelled/ }).isChecked(), true);
  await panel.getByRole('checkbox', { name: /Reminder sent/ }).uncheck();
  assert.equal(await all.isChecked(), false);
  assert.equal(await all.evaluate((el) => el.indeterminate), true);
  await add.click();
  const reveal = panel.getByRole('region', { name: `Endpoint ${hookUrl()} added` });
  await reveal.waitFor();
  const secret = await reveal.getByLabel('Signing secret', { exact: true }).inputValue();
  assert.match(secret, /^whsec_[A-Za-z0-9+/=]{20,}$/);
  await reveal.getByText('you will not see this secret again').waitFor();
  await reveal.getByRole('link', { name: 'Standard Webhooks libraries' }).waitFor();
  await reveal.getByRole('button', { name: 'Copy Signing secret' }).click();
  assert.equal(await clipboard(page), secret);
  assert.equal(await url.inputValue(), '');

  const listed = panel.getByRole('list', { name: 'Your endpoints' }).getByRole('listitem').filter({ hasText: hookUrl() });
  await listed.getByText('Active', { exact: true }).waitFor();
  await listed.getByText('time tracker').waitFor();
  const events = await listed.getByText(/^Events:/).innerText();
  assert.match(events, /Schedule created, Schedule changed, .*Task completed/);
  assert.ok(!events.includes('Reminder sent'), events);

  // A test event: queued, delivered (200) in the log, signed with the secret shown.
  await listed.getByRole('button', { name: 'Send a test event to time tracker' }).click();
  await page.getByText('Test event queued').waitFor();
  const log = listed.getByRole('table', { name: `Deliveries to ${hookUrl()}, newest first` });
  const testRow = log.getByRole('row').filter({ hasText: 'webhook.test' });
  await testRow.getByText('Delivered').waitFor({ timeout: 15_000 });
  assert.deepEqual((await testRow.getByRole('cell').allInnerTexts()).slice(0, 4), ['webhook.test', 'Delivered', '1', '200']);
  assert.equal(received.length, 1);
  assert.equal(JSON.parse(received[0].body).type, 'webhook.test');
  assert.ok(signedBy(secret, received[0]), 'the receiver verifies the test event with the secret the page showed');
  await listed.getByRole('button', { name: 'Hide deliveries' }).click();
  await log.waitFor({ state: 'detached' });

  await reveal.getByRole('button', { name: 'Done' }).click();
  await reveal.waitFor({ state: 'detached' });
  await page.reload();
  await listed.getByText('Active', { exact: true }).waitFor();
  assert.ok(!(await page.locator('body').innerText()).includes(secret), 'the secret is never shown again');

  // Disabled by the member: said, no test; enabled again.
  await listed.getByRole('button', { name: 'Disable time tracker' }).click();
  await listed.getByText('Disabled', { exact: true }).waitFor();
  await listed.getByText(/you disabled it/).waitFor();
  assert.equal(await listed.getByRole('button', { name: /Send a test event/ }).count(), 0);
  await listed.getByRole('button', { name: 'Enable time tracker' }).click();
  await listed.getByText('Active', { exact: true }).waitFor();

  // The receiver answers 410: the endpoint is disabled, and the page says so and why.
  answer = 410;
  await listed.getByRole('button', { name: 'Send a test event to time tracker' }).click();
  await listed.getByText('Disabled', { exact: true }).waitFor({ timeout: 15_000 });
  await listed.getByText(/the receiver answered 410 Gone/).waitFor();
  await listed.getByRole('row').filter({ hasText: 'webhook.test' }).filter({ hasText: '410' }).getByText('Failed').waitFor();
  await listed.getByRole('button', { name: 'Enable time tracker' }).waitFor();
  assert.equal(received.length, 2);

  // Deleted after confirming.
  await listed.getByRole('button', { name: 'Delete time tracker' }).click();
  await confirmWith(page, 'Delete');
  await listed.waitFor({ state: 'detached' });
  await panel.getByText('No endpoints yet.').waitFor();
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('Settings → Webhooks in Korean', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v0/webhooks');
  await page.goto('/app/settings');
  await page.getByLabel('Display language').selectOption('ko');
  await page.getByRole('region', { name: '웹훅' }).getByRole('link', { name: '웹훅 설정' }).click();
  await page.getByRole('heading', { level: 1, name: '웹훅' }).waitFor();
  const panel = page.getByRole('region', { name: '웹훅 엔드포인트' });
  await panel.getByText('아직 엔드포인트가 없어요.').waitFor();
  const url = panel.getByLabel('엔드포인트 URL');
  await url.fill('ftp://example.com/hook');
  await panel.getByRole('button', { name: '엔드포인트 추가' }).click();
  await panel.getByText('이벤트를 하나 이상 선택해 주세요.').waitFor();
  await panel.getByRole('checkbox', { name: /할 일 완료/ }).check();
  // The server's URL_NOT_HTTPS in Korean under the URL field.
  await panel.getByRole('button', { name: '엔드포인트 추가' }).click();
  const urlError = panel.locator(`#${await url.getAttribute('id')}-error`);
  await urlError.waitFor();
  assert.equal(await urlError.innerText(), 'URL은 https:// 로 시작해야 해요.');
  assert.equal(await url.getAttribute('aria-invalid'), 'true');
  await url.fill(hookUrl());
  await panel.getByRole('button', { name: '엔드포인트 추가' }).click();
  await panel.getByLabel('서명 비밀 키', { exact: true }).waitFor();
  const listed = panel.getByRole('list', { name: '내 엔드포인트' }).getByRole('listitem');
  await listed.getByText('사용 중', { exact: true }).waitFor();
  await listed.getByText('이벤트: 할 일 완료').waitFor();
  await listed.getByRole('button', { name: `${hookUrl()} 끄기` }).click();
  await listed.getByText('꺼짐', { exact: true }).waitFor();
  await listed.getByText(/직접 껐어요/).waitFor();
  await listed.getByRole('button', { name: '전송 기록 보기' }).click();
  await listed.getByText('이 엔드포인트로 아직 보낸 것이 없어요.').waitFor();
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

const member = () => memberWithClipboard(browser, pinit.url);
