// Settings → Delete account (issue 20, GDPR art. 17) through the UI against the real services: what is erased and
// that it cannot be undone, the username typed to confirm, a wrong password refused (nothing deleted), then the
// account deleted with the password — the client signs out to the login page and the member can no longer sign
// in, and another device signed in is told the account was deleted (401 ACCOUNT_DELETED) — and the page and the
// server's refusals (WRONG_PASSWORD, RATE_LIMITED) in Korean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, requireApi, memberWithClipboard, newContext, watch, PHONE } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

const login = (user) => fetch(`${pinit.url}/v0/login`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: user.username, password: user.password }),
});

test('an account is deleted after typing the username and the password; the client signs out', async () => {
  const { context, page, problems, user } = await memberWithClipboard(browser, pinit.url);
  await requireApi(pinit.url, user, '/v2/members/zone-id');
  // The same member signed in on another device, which will be told the account is gone.
  const other = await newContext(browser, pinit.url, { viewport: PHONE });
  const elsewhere = await other.newPage();
  await elsewhere.goto('/login');
  await elsewhere.getByLabel('Username').fill(user.username);
  await elsewhere.getByLabel('Password').fill(user.password);
  await elsewhere.getByRole('button', { name: 'Log in' }).click();
  await elsewhere.waitForURL('**/app/today');
  await page.getByRole('link', { name: 'Settings' }).first().click();
  await page.getByRole('region', { name: 'Security' }).getByRole('link', { name: 'Delete account…' }).click();
  await page.waitForURL('**/app/settings/delete-account');
  await page.getByRole('heading', { level: 1, name: 'Delete account' }).waitFor();
  const panel = page.getByRole('region', { name: 'Delete your account' });
  await panel.getByText('This cannot be undone.').waitFor();
  const erased = panel.getByRole('list', { name: 'What is erased:' }).getByRole('listitem');
  assert.equal(await erased.count(), 4);
  await panel.getByText(/API tokens and app passwords/).waitFor();

  const confirmField = panel.getByLabel(`Type your username (${user.username}) to confirm`);
  const password = panel.getByLabel('Password', { exact: true });
  const submit = panel.getByRole('button', { name: 'Delete my account' });
  // Not without the username typed.
  await password.fill(user.password);
  await submit.click();
  await panel.getByText('Type your username exactly as shown to confirm.').waitFor();
  assert.equal(await confirmField.getAttribute('aria-invalid'), 'true');
  // A wrong password: refused, nothing deleted.
  await confirmField.fill(user.username);
  await password.fill('not my password');
  await submit.click();
  await panel.getByText('The password is not right. Your account was not deleted.').waitFor();
  assert.equal(await password.getAttribute('aria-invalid'), 'true', 'WRONG_PASSWORD is said under the password');
  assert.equal((await login(user)).status, 200);

  await password.fill(user.password);
  await submit.click();
  await page.waitForURL('**/login');
  assert.equal((await login(user)).status, 400, 'the member is gone');
  // Signed out here too: the app sends back to the login page.
  await page.goto('/app/today');
  await page.waitForURL('**/login**');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();

  // The other device still holds an access token: once the services have erased the member, its next request is
  // answered 401 ACCOUNT_DELETED, the refresh is refused, and the page says why on the way to the login page.
  const nav = elsewhere.getByRole('navigation', { name: 'Main' });
  for (let i = 0; i < 40 && !new URL(elsewhere.url()).pathname.startsWith('/login'); i++) {
    await nav.getByRole('link', { name: i % 2 ? 'Today' : 'Tasks' }).click().catch(() => {});
    await elsewhere.waitForTimeout(250);
  }
  await elsewhere.waitForURL('**/login**');
  await elsewhere.locator('.toast-error', { hasText: 'This account was deleted.' }).waitFor();
  await other.close();
});

test('the refusals in Korean: a wrong password, too many tries', async () => {
  const { context, page, problems, user } = await memberWithClipboard(browser, pinit.url);
  await requireApi(pinit.url, user, '/v2/members/zone-id');
  await page.goto('/app/settings');
  await page.getByLabel('Display language').selectOption('ko');
  await page.getByRole('region', { name: '보안' }).getByRole('link', { name: '계정 삭제…' }).click();
  await page.getByRole('heading', { level: 1, name: '계정 삭제' }).waitFor();
  await page.getByLabel(`확인을 위해 아이디(${user.username})를 입력하세요`).fill(user.username);
  const password = page.getByLabel('비밀번호', { exact: true });
  // WRONG_PASSWORD (403) under the password, in Korean.
  await password.fill('not my password');
  await page.getByRole('button', { name: '계정 삭제' }).click();
  await page.getByText('비밀번호가 올바르지 않습니다. 계정은 삭제되지 않았습니다.').waitFor();
  assert.equal(await password.getAttribute('aria-invalid'), 'true');
  // Wrong passwords count as failed logins: the 11th in the minute is 429 RATE_LIMITED, said as a wait.
  let said = '';
  let status = 0;
  for (let i = 0; i < 12 && status !== 429; i++) {
    await password.fill('not my password');
    const answered = page.waitForResponse((r) => r.url().endsWith('/v0/members/me') && r.request().method() === 'DELETE');
    await page.getByRole('button', { name: '계정 삭제' }).click();
    status = (await answered).status();
  }
  assert.equal(status, 429);
  const error = page.locator(`[id="${await password.getAttribute('id')}-error"]`);
  await page.waitForFunction((id) => /후에/.test(document.getElementById(id)?.textContent), `${await password.getAttribute('id')}-error`);
  assert.match(await error.textContent(), /^시도가 너무 많아요\. \d+초 후에 다시 시도해 주세요\.$/);
  assert.ok([200, 429].includes((await login(user)).status), 'not deleted');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('the page in Korean', async () => {
  const { context, page, problems } = await memberWithClipboard(browser, pinit.url);
  await page.goto('/app/settings');
  await page.getByLabel('Display language').selectOption('ko');
  await page.getByRole('region', { name: '보안' }).getByRole('link', { name: '계정 삭제…' }).click();
  await page.getByRole('heading', { level: 1, name: '계정 삭제' }).waitFor();
  await page.getByText('삭제한 계정은 되돌릴 수 없습니다.').waitFor();
  await page.getByRole('button', { name: '계정 삭제' }).click();
  await page.getByText('표시된 아이디를 그대로 입력해야 합니다.').waitFor();
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});
