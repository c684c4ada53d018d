// Settings → Export (issue 20, GDPR art. 20) against the real services: the JSON and the CSV ZIP buttons download
// the member's data with the session's token — the files a browser saves, with the server's names — and the
// panel speaks Korean too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startPinit, launch, newContext, signUp, watch, requireApi, FAKE_API, ZONE } from './support.js';

let pinit;
let browser;
before(async () => { pinit = await startPinit(); browser = await launch(); });
after(async () => { await browser?.close(); await pinit?.stop(); });

/** A task of `user`'s, made through the API. */
async function createTask(user, title) {
  const login = await fetch(`${pinit.url}/v0/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: user.username, password: user.password }) });
  const { token } = await login.json();
  const res = await fetch(`${pinit.url}/v2/tasks`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ title, description: 'from the export test', dueDate: { date: '2030-01-07', zoneId: ZONE }, importance: 5, difficulty: 3, addDependencies: [] }),
  });
  assert.equal(res.status, 201, await res.text());
}

/** Clicks `name` in the panel and returns the saved download's name and bytes. */
async function download(page, panel, name) {
  const [saved] = await Promise.all([page.waitForEvent('download'), panel.getByRole('button', { name }).click()]);
  return { name: saved.suggestedFilename(), bytes: await readFile(await saved.path()) };
}

test('the JSON and the CSV ZIP of the member are downloaded from Settings, in English and in Korean', { skip: FAKE_API }, async () => {
  const context = await newContext(browser, pinit.url);
  const page = await context.newPage();
  const problems = watch(page);
  const refused = [];
  page.on('response', (r) => { if (r.status() === 401) refused.push(new URL(r.url()).pathname); });
  const user = await signUp(page);
  await requireApi(pinit.url, user, '/v2/export');
  await createTask(user, 'Export me, "please"');

  await page.goto('/app/settings');
  const panel = page.getByRole('region', { name: 'Export your data' });
  await panel.getByText('is not part of this file').waitFor();

  const json = await download(page, panel, 'Download JSON');
  assert.match(json.name, /^pinit-export-\d{4}-\d{2}-\d{2}\.json$/);
  const doc = JSON.parse(json.bytes.toString('utf8'));
  assert.equal(doc.exportVersion, 1);
  assert.equal(doc.member.zoneId, ZONE);
  assert.deepEqual(doc.tasks.map((t) => t.title), ['Export me, "please"']);
  await page.getByText(`Saved ${json.name}.`).waitFor();

  const zip = await download(page, panel, 'Download CSV (ZIP)');
  assert.match(zip.name, /^pinit-export-\d{4}-\d{2}-\d{2}\.zip$/);
  assert.equal(zip.bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'a ZIP archive');
  // The names of the entries are stored as they are, in the local headers and the central directory.
  for (const file of ['member.csv', 'tasks.csv', 'series.csv', 'schedules.csv', 'weekly_statistics.csv']) {
    assert.ok(zip.bytes.includes(Buffer.from(file)), `${file} in the archive`);
  }

  await page.getByLabel('Display language').selectOption('ko');
  const ko = page.getByRole('region', { name: '데이터 내보내기' });
  await ko.getByRole('button', { name: 'JSON 다운로드' }).waitFor();
  const again = await download(page, ko, 'CSV(ZIP) 다운로드');
  assert.equal(again.name, zip.name);
  await page.getByText(`${again.name} 파일을 저장했어요.`).waitFor();

  assert.deepEqual(refused.filter((p) => p.startsWith('/v2/')), [], 'the export is asked with a valid token');
  assert.deepEqual(problems.filter((p) => p.startsWith('pageerror')), []);
  await context.close();
});
