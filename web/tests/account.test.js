// Settings → Delete account (issue 20, GDPR art. 17) through the UI against the real services: what is erased and
// that it cannot be undone, the username typed to confirm, a wrong password refused (nothing deleted), then the
// account deleted with the password — the client signs out to the login page and the member can no longer sign
// in — and the page in Korean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, requireApi, memberWithClipboard } from './support.js';

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
