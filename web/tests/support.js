// Test support: start `pinit serve` on a random port with a fresh data directory, launch Debian's Chromium
// through playwright-core, and helpers shared by the browser tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { installFakeApi } from './fake-api.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.PINIT_BIN || path.join(ROOT, 'target/debug/pinit');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** PINIT_WEB_FAKE_API=1: answer /v2/** and /v0/push/** from an in-test fake of the contract (client development). */
export const FAKE_API = process.env.PINIT_WEB_FAKE_API === '1';
export const SCREENS = process.env.PINIT_WEB_SCREENS ? path.resolve(ROOT, process.env.PINIT_WEB_SCREENS) : null;
export const ZONE = 'Asia/Seoul';
export const PHONE = { width: 375, height: 812 };
export const DESKTOP = { width: 1280, height: 860 };

/** Starts `pinit serve --port 0` (with `env` added to its environment) and resolves once it logs "Pinit is running" with its URL. */
export async function startPinit({ env = {} } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pinit-web-'));
  const child = spawn(BIN, ['serve', '--port', '0', '--data-dir', dataDir], {
    // The per-IP limits are sized for people, not for a test file signing up a member on a fresh browser every
    // few seconds from 127.0.0.1: the gateway's bucket (200 at once, 50/s) against an empty HTTP cache (~45 module,
    // catalogue and icon requests before the first API call — a 429 on one module leaves the page unbooted), and
    // auth's 10 signups and 30 logins a minute. The tests get larger ones.
    env: {
      ...process.env, PINIT_LOG_FORMAT: 'json', PINIT_METRICS_PORT: '0',
      PINIT_GATEWAY_RATE_LIMIT__BURST: '5000', PINIT_GATEWAY_RATE_LIMIT__PER_SECOND: '1000',
      PINIT_AUTH_RATE_LIMIT__SIGNUP_PER_IP: '1000', PINIT_AUTH_RATE_LIMIT__LOGIN_PER_IP: '1000', ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs = [];
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pinit did not start in 60 s:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)), 60_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`pinit exited with ${code}:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)); });
    createInterface({ input: child.stderr }).on('line', (line) => {
      let entry;
      try { entry = JSON.parse(line); } catch { entry = { raw: line }; }
      logs.push(entry);
      if (entry.message === 'Pinit is running' && entry.url) { clearTimeout(timer); resolve(entry.url.replace(/\/$/, '')); }
    });
  });
  return {
    url,
    logs,
    async stop() {
      if (child.exitCode == null) {
        child.kill('SIGTERM');
        await new Promise((r) => { child.once('exit', r); setTimeout(() => { child.kill('SIGKILL'); r(); }, 10_000); });
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=en-US'],
  });
}

/**
 * A browser context on `url` with notifications allowed, the member's zone, and (with FAKE_API) the fake
 * task and push API; other `options` (hasTouch, …) go to `browser.newContext`. Console errors and failed page requests are collected in `context.problems`.
 * The locale is en-GB unless said: dates and times follow the browser's region and clock (locale.js), and the tests
 * read "09:00" and "7 – 13 Dec 2026"; locale.test.js tries en-US and ko-KR.
 */
export async function newContext(browser, url, { locale = 'en-GB', viewport = PHONE, ...options } = {}) {
  const context = await browser.newContext({ baseURL: url, locale, timezoneId: ZONE, viewport, ...options });
  await context.grantPermissions(['notifications'], { origin: url });
  context.problems = [];
  if (FAKE_API) context.fake = await installFakeApi(context);
  return context;
}

export function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  return problems;
}

let counter = 0;
export function uniqueUser() {
  counter += 1;
  return { username: `u${Date.now().toString(36)}${counter}`, password: 'correct horse 42', nickname: `Tester ${counter}` };
}

/** Signs up through the UI and waits for Today. */
export async function signUp(page, user = uniqueUser()) {
  await page.goto('/signup');
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByLabel('Confirm password').fill(user.password);
  await page.getByLabel('Nickname').fill(user.nickname);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.waitForURL('**/app/today');
  await page.getByRole('heading', { level: 1, name: 'Today' }).waitFor();
  return user;
}

export async function screenshot(page, name) {
  if (!SCREENS) return;
  mkdirSync(SCREENS, { recursive: true });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SCREENS, `${name}.png`), fullPage: false });
}

/** Delivers a push message to the page's service worker through CDP (`ServiceWorker.deliverPushMessage`). */
export async function deliverPush(page, data) {
  const cdp = await page.context().newCDPSession(page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  for (let i = 0; i < 50 && !registrations.some((r) => !r.isDeleted); i++) await page.waitForTimeout(100);
  const registration = registrations.find((r) => !r.isDeleted);
  if (!registration) throw new Error('no service worker registration');
  const origin = new URL(page.url()).origin;
  await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: registration.registrationId, data: JSON.stringify(data) });
  await cdp.detach();
}

/**
 * Fails at once, naming the endpoint, when a service the test needs does not answer yet (the task and
 * notification APIs are built alongside the client). Logs in as `user` to call `path` with a token.
 */
export async function requireApi(url, user, path) {
  if (FAKE_API) return;
  const login = await fetch(`${url}/v0/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: user.username, password: user.password }) });
  const { token } = await login.json();
  let res;
  for (let i = 0; i < 20; i++) {
    res = await fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status !== 503) break;
    await new Promise((r) => setTimeout(r, 500)); // the member is being provisioned
  }
  if (res.status === 404 || res.status === 405 || res.status === 501 || res.status >= 502) {
    const body = await res.text();
    throw new Error(`the server does not serve GET ${path} yet (${res.status} ${body.slice(0, 120)})`);
  }
}

/** A new member signed up on a phone-sized page whose clipboard the test may read: {context, page, problems, user}. */
export async function memberWithClipboard(browser, url) {
  const context = await newContext(browser, url, { viewport: PHONE });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  const page = await context.newPage();
  const problems = watch(page);
  const user = await signUp(page);
  return { context, page, problems, user };
}

/** What the page last copied. */
export const clipboard = (page) => page.evaluate(() => navigator.clipboard.readText());

/** Answers the confirmation dialog with the button `label`. */
export async function confirmWith(page, label) {
  const dialog = page.getByRole('dialog', { name: 'Please confirm' });
  await dialog.getByRole('button', { name: label }).click();
  await dialog.waitFor({ state: 'detached' });
}

/** Today's date in the member's zone ("YYYY-MM-DD"), as the page sees it. */
export const todayInZone = (zone = ZONE) => new Intl.DateTimeFormat('sv-SE', { timeZone: zone }).format(new Date());

/**
 * The API as `user` (logs in with /v0/login): `call(method, path, body)` → {status, body}; a 503 while the
 * member is being provisioned is retried.
 */
export async function apiAs(url, user) {
  const login = await fetch(`${url}/v0/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: user.username, password: user.password }) });
  if (!login.ok) throw new Error(`login as ${user.username}: ${login.status}`);
  const { token } = await login.json();
  async function call(method, path, body) {
    for (let i = 0; ; i++) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed = text;
      try { parsed = text ? JSON.parse(text) : undefined; } catch { /* text */ }
      if (res.status === 503 && i < 20) { await new Promise((r) => setTimeout(r, 500)); continue; }
      return { status: res.status, body: parsed };
    }
  }
  return { token, call };
}

export const AXE = path.join(ROOT, 'web/tests/node_modules/axe-core/axe.min.js');

/**
 * Runs axe-core on the page (WCAG 2.x A/AA and best practices) and returns its serious and critical
 * violations as readable lines ("id: help — target …"). `include`: a selector to limit the check to.
 */
export async function axeViolations(page, { include } = {}) {
  // Not page.addScriptTag: the page's Content-Security-Policy (script-src 'self') refuses an inline script, and
  // the test should not turn the policy off. Code evaluated through the DevTools protocol is not subject to it.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(readFileSync(AXE, 'utf8'));
  const result = await page.evaluate(async (sel) => window.axe.run(sel ? { include: [sel] } : document, { resultTypes: ['violations'] }), include || null);
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${v.help} — ${n.target.join(' ')}${n.failureSummary ? ` [${n.failureSummary.replace(/\s+/g, ' ').slice(0, 200)}]` : ''}`));
}
