// Settings → API tokens and Change password (issue 20) through the UI against the real services: a read-only
// token made with a name and an expiry, shown once with a Copy button and a curl example, working for GET and
// refused for POST, listed with its last use and expiry, revoked (refused within 5 s); the password changed after
// the current one is checked, the new one logging in, and the Korean strings; one token too many refused with the
// server's LIMIT_REACHED in the page's words (English and Korean).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, requireApi, memberWithClipboard, clipboard, confirmWith, apiAs } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

const member = () => memberWithClipboard(browser, pinit.url);

async function openFromSettings(page, link, heading) {
  await page.getByRole('link', { name: 'Settings' }).first().click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await page.getByRole('region', { name: 'Security' }).getByRole('link', { name: link }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

const withToken = (token, method = 'GET', body) => fetch(`${pinit.url}/v2/tasks${method === 'GET' ? '?page=0&size=10' : ''}`, {
  method,
  headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
  body: body ? JSON.stringify(body) : undefined,
});

test('an API token: made read-only, shown once, works for GET only, listed with its use, revoked', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v0/tokens');
  await openFromSettings(page, 'API tokens', 'API tokens');
  await page.waitForURL('**/app/settings/tokens');
  const panel = page.getByRole('region', { name: 'Personal API tokens' });
  await panel.getByText('No tokens yet.').waitFor();

  // A name is required; then read-only (the default), expiring in 30 days.
  await panel.getByRole('button', { name: 'Create token' }).click();
  assert.equal(await panel.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
  await panel.getByLabel('Name', { exact: true }).fill('backup script');
  assert.equal(await panel.getByRole('radio', { name: 'Read only' }).isChecked(), true);
  await panel.getByLabel('Expires').selectOption({ label: 'In 30 days' });
  await panel.getByRole('button', { name: 'Create token' }).click();
  const reveal = panel.getByRole('region', { name: 'Token “backup script” created' });
  await reveal.waitFor();
  const token = await reveal.getByLabel('Token', { exact: true }).inputValue();
  assert.match(token, /^pinit_pat_[a-z2-7]{32}$/);
  await reveal.getByText('you will not see this token again').waitFor();
  await reveal.getByRole('button', { name: 'Copy Token' }).click();
  assert.equal(await clipboard(page), token);
  const example = await reveal.getByLabel('Example request', { exact: true }).inputValue();
  assert.ok(example.startsWith(`curl -H "Authorization: Bearer ${token}" ${pinit.url}/v2/`), example);

  // It reads as the member and writes nothing.
  const listed = panel.getByRole('list', { name: 'Your tokens' }).getByRole('listitem').filter({ hasText: 'backup script' });
  await listed.getByText('never used').waitFor();
  await listed.getByText('Read only').waitFor();
  await listed.getByText(/expires/).waitFor();
  assert.equal((await withToken(token)).status, 200);
  const refused = await withToken(token, 'POST', { title: 'x' });
  assert.equal(refused.status, 403);
  assert.match((await refused.json()).message, /read scope/);
  // Not even a token of the member's own may make tokens.
  const made = await fetch(`${pinit.url}/v0/tokens`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'x', scopes: ['read'] }) });
  assert.equal(made.status, 403);

  await reveal.getByRole('button', { name: 'Done' }).click();
  await reveal.waitFor({ state: 'detached' });
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'API tokens' }).waitFor();
  await listed.getByText(/last used/).waitFor();
  assert.ok(!(await page.locator('body').innerText()).includes(token), 'the token is never shown again');

  // Revoked after confirming: gone, and refused within 5 s.
  await listed.getByRole('button', { name: 'Revoke backup script' }).click();
  await confirmWith(page, 'Revoke');
  await listed.waitFor({ state: 'detached' });
  await panel.getByText('No tokens yet.').waitFor();
  let status;
  for (let i = 0; i < 14; i++) {
    status = (await withToken(token)).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(status, 401);
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('the password: the current one is checked, the new one logs in, in Korean too', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v0/tokens');
  await openFromSettings(page, 'Change password', 'Change password');
  const form = page.getByRole('region', { name: 'Change password' });
  const fill = async (current, next, again) => {
    await form.getByLabel('Current password').fill(current);
    await form.getByLabel('New password', { exact: true }).fill(next);
    await form.getByLabel('New password again').fill(again);
    await form.getByRole('button', { name: 'Change password' }).click();
  };

  await fill(user.password, 'another pass 42', 'another pass 43');
  await form.getByText('The two new passwords differ.').waitFor();
  await fill('not my password', 'another pass 42', 'another pass 42');
  await form.getByText('The current password is not right.').waitFor();
  assert.equal(await form.getByLabel('Current password').getAttribute('aria-invalid'), 'true');
  await fill(user.password, 'another pass 42', 'another pass 42');
  await page.getByText('Password changed.').waitFor();
  assert.equal(await form.getByLabel('Current password').inputValue(), '');

  const login = (password) => fetch(`${pinit.url}/v0/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: user.username, password }) });
  assert.equal((await login(user.password)).status, 400);
  assert.equal((await login('another pass 42')).status, 200);
  // This browser stays signed in.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Change password' }).waitFor();

  // In Korean.
  await page.goto('/app/settings');
  await page.getByLabel('Display language').selectOption('ko');
  await page.getByRole('region', { name: '보안' }).getByRole('link', { name: 'API 토큰' }).waitFor();
  await page.getByRole('region', { name: '보안' }).getByRole('link', { name: '비밀번호 변경' }).click();
  await page.getByRole('heading', { level: 1, name: '비밀번호 변경' }).waitFor();
  // The wrong current password said in Korean under its field (auth's 400 names the field, in Korean too).
  await page.getByLabel('현재 비밀번호').fill('not my password');
  await page.getByLabel('새 비밀번호', { exact: true }).fill('third pass 42');
  await page.getByLabel('새 비밀번호 확인').fill('third pass 42');
  await page.getByRole('button', { name: '비밀번호 변경' }).click();
  await page.getByText('현재 비밀번호가 올바르지 않습니다.').waitFor();
  assert.equal(await page.getByLabel('현재 비밀번호').getAttribute('aria-invalid'), 'true');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('too many tokens: LIMIT_REACHED worded under the name, in English and Korean', async () => {
  const { context, page, problems, user } = await member();
  await requireApi(pinit.url, user, '/v0/tokens');
  // A member may have 50 tokens at once; these are made through the API.
  const { call } = await apiAs(pinit.url, user);
  for (let i = 1; i <= 50; i++) {
    const made = await call('POST', '/v0/tokens', { name: `script ${i}`, scopes: ['read'], expiresAt: null });
    assert.ok(made.status < 300, `token ${i}: ${made.status} ${JSON.stringify(made.body)}`);
  }
  await openFromSettings(page, 'API tokens', 'API tokens');
  const panel = page.getByRole('region', { name: 'Personal API tokens' });
  const name = panel.getByLabel('Name', { exact: true });
  const error = panel.locator(`[id="${await name.getAttribute('id')}-error"]`);
  await name.fill('one too many');
  await panel.getByRole('button', { name: 'Create token' }).click();
  await error.waitFor();
  assert.equal(await error.textContent(), 'You have as many as you can have. Delete one you no longer use first.');
  assert.equal(await name.getAttribute('aria-invalid'), 'true');

  await page.goto('/app/settings');
  await page.getByLabel('Display language').selectOption('ko');
  await page.getByRole('region', { name: '보안' }).getByRole('link', { name: 'API 토큰' }).click();
  const ko = page.getByRole('region', { name: '개인 API 토큰' });
  const koName = ko.getByLabel('이름', { exact: true });
  await koName.fill('하나 더');
  await ko.getByRole('button', { name: '토큰 만들기' }).click();
  const koError = ko.locator(`[id="${await koName.getAttribute('id')}-error"]`);
  await koError.waitFor();
  assert.equal(await koError.textContent(), '더 만들 수 없어요. 쓰지 않는 것을 먼저 삭제해 주세요.');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});
