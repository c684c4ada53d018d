// Sign up, the session (memory token + refresh cookie, one refresh for all requests), log out and in, the
// server's refusals worded by their codes in the page's language (under their field or above the button), and
// switching the language.
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

test('log out, a wrong password is said above the button in English, log in again', async () => {
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
  // BAD_CREDENTIALS in the page's words (the server's text is Korean), above the button, under no field.
  assert.equal(await alert.textContent(), 'The username or password is not right.');
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.equal(await page.locator('form .form-error + button[type=submit]').count(), 1, 'the message is right above the button');
  assert.equal(await page.locator('[aria-invalid="true"]').count(), 0, 'no field is marked');
  assert.deepEqual(await hangulMessages(page), []);

  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/app/today');
  await context.close();
});

test('signup validates on the client before asking the server', async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const sent = [];
  page.on('request', (r) => { if (r.url().endsWith('/v0/signup')) sent.push(r.url()); });
  await page.goto('/signup');
  await page.getByRole('button', { name: 'Sign up' }).click();
  assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Username').fill(uniqueUser().username);
  await page.getByLabel('Password', { exact: true }).fill('short');
  await page.getByLabel('Confirm password').fill('short');
  await page.getByLabel('Nickname').fill('x');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByText('The password needs at least 8 characters.').waitFor();
  await page.getByLabel('Password', { exact: true }).fill('p'.repeat(129));
  await page.getByLabel('Confirm password').fill('p'.repeat(129));
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByText('A password is 8 to 128 characters long.').waitFor();
  assert.deepEqual(sent, [], 'nothing was sent');
  await context.close();
});

const HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/;

/** Every message the page shows (field errors, the form's error, toasts). */
const messages = (page) => page.locator('.field-error:not([hidden]), .form-error:not([hidden]), .toast').allTextContents();
const hangulMessages = async (page) => (await messages(page)).filter((m) => HANGUL.test(m));

/** The error shown under the field labelled `label` (its aria-describedby), after checking it is marked invalid. */
async function errorUnder(page, label) {
  const input = page.getByLabel(label, { exact: true });
  await page.waitForFunction((id) => document.getElementById(id)?.getAttribute('aria-invalid') === 'true', await input.getAttribute('id'));
  const errorId = (await input.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  return (await page.locator(`[id="${errorId}"]`).textContent()).trim();
}

/** Wrong passwords for `username` straight to the API until it answers 429, early enough in the window to last. */
async function lockOut(username) {
  for (;;) {
    let answer;
    for (let i = 0; i < 40; i++) {
      answer = await fetch(`${pinit.url}/v0/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password: 'not the password' }) });
      if (answer.status === 429) break;
    }
    assert.equal(answer.status, 429, 'wrong passwords are limited');
    assert.equal((await answer.json()).code, 'RATE_LIMITED');
    const wait = Number(answer.headers.get('Retry-After'));
    if (wait >= 10) return wait;
    await new Promise((r) => setTimeout(r, (wait + 1) * 1000)); // the window is about to end: the next one
  }
}

/** Signs up through the form (no waiting), in whatever language the page is in. */
async function submitSignup(page, labels, { username, password, nickname }) {
  await page.getByLabel(labels.username, { exact: true }).fill(username);
  await page.getByLabel(labels.password, { exact: true }).fill(password);
  await page.getByLabel(labels.confirm, { exact: true }).fill(password);
  await page.getByLabel(labels.nickname, { exact: true }).fill(nickname);
  await page.getByRole('button', { name: labels.submit }).click();
}

for (const lang of [
  {
    name: 'English', locale: 'en-US', foreign: HANGUL,
    labels: { username: 'Username', password: 'Password', confirm: 'Confirm password', nickname: 'Nickname', submit: 'Sign up', login: 'Log in' },
    words: {
      usernameRule: 'A username is 3 to 50 characters: letters, digits and . _ - @ only.',
      taken: 'This username is taken. Please choose another one.',
      badCredentials: 'The username or password is not right.',
      wait: /^Too many attempts\. Please try again in \d+ seconds?\.$/,
    },
  },
  {
    name: 'Korean', locale: 'ko-KR', foreign: /[A-Za-z]{4,}/,
    labels: { username: '아이디', password: '비밀번호', confirm: '비밀번호 확인', nickname: '별명', submit: '가입하기', login: '로그인' },
    words: {
      usernameRule: '아이디는 3~50자의 영문, 숫자와 . _ - @ 만 쓸 수 있어요.',
      taken: '이미 쓰이고 있는 아이디예요. 다른 아이디를 골라 주세요.',
      badCredentials: '아이디 또는 비밀번호가 올바르지 않아요.',
      wait: /^시도가 너무 많아요\. \d+초 후에 다시 시도해 주세요\.$/,
    },
  },
]) {
  test(`in ${lang.name}: a bad and a taken username under the field, a wrong password and too many tries above the button`, async () => {
    const taken = uniqueUser();
    const setup = await newContext(browser, pinit.url);
    await signUp(await setup.newPage(), taken);
    await setup.close();

    const context = await newContext(browser, pinit.url, { locale: lang.locale });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto('/signup');
    const { labels, words } = lang;
    const username = page.getByLabel(labels.username, { exact: true });

    // The server's USERNAME_RULE, under "Username", in the page's language; the field focused.
    const user = uniqueUser();
    await submitSignup(page, labels, { ...user, username: 'no spaces allowed' });
    assert.equal(await errorUnder(page, labels.username), words.usernameRule);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('autocomplete')), 'username');
    assert.equal(await page.locator('.form-error:not([hidden])').count(), 0, 'nothing above the button');

    // DUPLICATE_USERNAME (409): under "Username" too, with no conflict sentence before it.
    await username.fill(taken.username);
    await page.getByRole('button', { name: labels.submit }).click();
    await page.waitForFunction((text) => [...document.querySelectorAll('.field-error')].some((e) => e.textContent === text), words.taken);
    assert.equal(await errorUnder(page, labels.username), words.taken);
    assert.equal(await page.locator('[aria-invalid="true"]').count(), 1, 'only the username is marked');
    const shown = await messages(page);
    assert.deepEqual(shown, [words.taken]);
    assert.ok(shown.every((m) => !lang.foreign.test(m.replace(/[._@-]/g, ' '))), `only ${lang.name} words: ${shown}`);

    // Log in with the wrong password: BAD_CREDENTIALS above the button.
    await page.goto('/login');
    await page.getByLabel(labels.username, { exact: true }).fill(taken.username);
    await page.getByLabel(labels.password, { exact: true }).fill('not the password');
    await page.getByRole('button', { name: labels.login }).click();
    const alert = page.locator('.form-error:not([hidden])');
    await alert.waitFor();
    assert.equal(await alert.textContent(), words.badCredentials);
    assert.equal(await page.locator('[aria-invalid="true"]').count(), 0);

    // Too many wrong passwords: RATE_LIMITED, said as a wait with the seconds of Retry-After.
    const wait = await lockOut(taken.username);
    await page.getByRole('button', { name: labels.login }).click();
    await page.waitForFunction((old) => document.querySelector('.form-error')?.textContent !== old, words.badCredentials);
    const said = await alert.textContent();
    assert.match(said, words.wait);
    const seconds = Number(said.match(/\d+/)[0]);
    assert.ok(seconds > 0 && seconds <= wait, `${seconds} s of at most ${wait} s`);
    assert.ok(!lang.foreign.test(said.replace(/\d+/g, '')), said);
    assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
    await context.close();
  });
}

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
