// Sign up, the session (memory token + refresh cookie, one refresh for all requests), log out and in,
// server messages, and switching the language.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPinit, launch, newContext, signUp, uniqueUser, watch } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

test('sign up lands on Today; the access token is never stored; a reload refreshes once from the cookie', async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  await page.clock.install();
  const problems = watch(page);
  await signUp(page);
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.doesNotMatch(stored, /eyJ/, 'no JWT in web storage');
  const cookies = await context.cookies();
  const refresh = cookies.find((c) => c.name === 'refresh_token');
  assert.ok(refresh?.httpOnly, 'the refresh token is an httpOnly cookie');

  const refreshes = [];
  page.on('request', (r) => { if (r.url().endsWith('/v0/refresh')) refreshes.push(r.url()); });
  // A reload has no token in memory: the page gets one from the cookie, once.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(refreshes.length, 1, 'one refresh after a reload');

  // Six minutes later the 5-minute token has expired: the schedules page starts five requests at once,
  // and they share one refresh.
  await page.clock.fastForward('06:00');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules' }).click();
  await page.getByRole('heading', { level: 1, name: 'Schedules' }).waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(refreshes.length, 2, 'one refresh shared by every request of the page');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});

test('log out, wrong password shows the server message, log in again', async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const user = await signUp(page, uniqueUser());
  await page.getByRole('link', { name: 'Settings' }).first().click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL('**/login');

  // After logout the cookie is gone: the app stays on the login page.
  await page.goto('/app/today');
  await page.waitForURL('**/login?next=*');

  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Log in' }).click();
  const alert = page.locator('.form-error');
  await alert.waitFor();
  assert.match(await alert.textContent(), /아이디 또는 비밀번호가 올바르지 않습니다/, 'the server\'s own message is shown');

  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/app/today');
  await context.close();
});

test('signup validates on the client and shows a taken username from the server', async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const user = await signUp(page, uniqueUser());
  await context.clearCookies();
  await page.goto('/signup');
  await page.getByRole('button', { name: 'Sign up' }).click();
  assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password', { exact: true }).fill('short');
  await page.getByLabel('Confirm password').fill('short');
  await page.getByLabel('Nickname').fill('x');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByText('The password needs at least 8 characters.').waitFor();
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByLabel('Confirm password').fill(user.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  const alert = page.locator('.form-error');
  await alert.waitFor();
  assert.ok((await alert.textContent()).length > 3, 'the server explains the refusal');
  await context.close();
});

test('language: the browser language first, switchable, remembered', async () => {
  const context = await newContext(browser, pinit.url, { locale: 'ko-KR' });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByRole('heading', { level: 1, name: '로그인' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'ko');
  await page.getByLabel('언어').selectOption('en');
  await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  await page.getByRole('link', { name: 'Sign up' }).click();
  const user = uniqueUser();
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByLabel('Confirm password').fill(user.password);
  await page.getByLabel('Nickname').fill(user.nickname);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.waitForURL('**/app/today');
  await page.goto('/app/settings');
  await page.getByLabel('Display language').selectOption('ko');
  await page.getByRole('heading', { level: 1, name: '설정' }).waitFor();
  assert.ok(await page.getByRole('navigation', { name: '주 메뉴' }).getByRole('link', { name: '오늘' }).isVisible());
  await page.reload();
  await page.getByRole('heading', { level: 1, name: '설정' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'ko');
  await context.close();
});

test('OAuth buttons appear only for providers the server lists', async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const listed = await (await fetch(`${pinit.url}/v0/login/oauth2/providers`)).json().catch(() => null);
  await page.goto('/login');
  await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  await page.waitForLoadState('networkidle');
  const buttons = await page.locator('.oauth a').count();
  assert.equal(buttons, Array.isArray(listed) ? listed.length : 0);

  await page.route('**/v0/login/oauth2/providers', (r) => r.fulfill({ contentType: 'application/json', body: '["naver"]' }));
  await page.reload();
  const naver = page.getByRole('link', { name: 'Continue with Naver' });
  await naver.waitFor();
  assert.equal(await naver.getAttribute('href'), '/v0/login/oauth2/authorize/naver');
  await context.close();
});
