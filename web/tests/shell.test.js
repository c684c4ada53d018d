// The gateway serves the client: caching headers, the build id in index.html and sw.js, client routes;
// the message catalogues are complete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startPinit, ROOT } from './support.js';

let pinit;
before(async () => { pinit = await startPinit(); });
after(async () => { await pinit?.stop(); });

test('index.html is revalidated, names this build and sets a CSP', async () => {
  const res = await fetch(`${pinit.url}/`, { headers: { Accept: 'text/html' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
  const html = await res.text();
  const build = /data-build="([0-9a-f]{16})"/.exec(html)?.[1];
  assert.ok(build, 'build id in index.html');
  assert.ok(html.includes(`/static/${build}/app/main.js`));

  const asset = await fetch(`${pinit.url}/static/${build}/app/main.js`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('content-type'), /^text\/javascript/);
  assert.match(asset.headers.get('cache-control'), /immutable/);

  const sw = await fetch(`${pinit.url}/sw.js`);
  assert.equal(sw.headers.get('cache-control'), 'no-cache');
  const source = await sw.text();
  assert.ok(source.includes(`'${build}'`), 'sw.js carries the build id');
  assert.ok(source.includes(`"/static/${build}/styles/app.css"`), 'sw.js precaches the shell');

  const etag = sw.headers.get('etag');
  const again = await fetch(`${pinit.url}/sw.js`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
});

test('client routes get index.html, API paths and assets do not', async () => {
  const route = await fetch(`${pinit.url}/app/schedules?scheduleId=1`, { headers: { Accept: 'text/html' } });
  assert.equal(route.status, 200);
  assert.match(await route.text(), /<!doctype html>/i);
  const api = await fetch(`${pinit.url}/v2/definitely-not-here`, { headers: { Accept: 'text/html' } });
  assert.notEqual((await api.text()).slice(0, 15).toLowerCase(), '<!doctype html>');
  const missing = await fetch(`${pinit.url}/app/missing.js`);
  assert.equal(missing.status, 404);
  const manifest = await fetch(`${pinit.url}/manifest.webmanifest`);
  assert.equal(manifest.headers.get('content-type'), 'application/manifest+json');
  assert.equal((await manifest.json()).name, 'Pinit');
});

test('both message catalogues have every key the code uses, and the same keys', () => {
  const dir = path.join(ROOT, 'web');
  const ko = JSON.parse(readFileSync(path.join(dir, 'i18n/ko.json'), 'utf8'));
  const en = JSON.parse(readFileSync(path.join(dir, 'i18n/en.json'), 'utf8'));
  assert.deepEqual(Object.keys(ko).sort(), Object.keys(en).sort());
  const files = ['app', 'app/pages'].flatMap((d) => readdirSync(path.join(dir, d)).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, d, f)));
  const namespaces = new Set(Object.keys(en).map((k) => k.split('.')[0]));
  const used = new Set();
  for (const file of files) {
    for (const [, key] of readFileSync(file, 'utf8').matchAll(/'([a-zA-Z]+\.[a-zA-Z0-9_.]+)'/g)) {
      if (namespaces.has(key.split('.')[0]) && !key.endsWith('.js') && !key.endsWith('.json')) used.add(key);
    }
  }
  for (const v of ['DEEP_WORK', 'QUICK_TASK', 'ADMIN_TASK']) used.add(`type.${v}`);
  for (const v of ['NOT_STARTED', 'IN_PROGRESS', 'SUSPENDED', 'COMPLETED']) used.add(`state.${v}`);
  for (const s of ['on', 'off', 'blocked', 'unsupported', 'mismatch', 'error']) used.add(`push.status.${s}`);
  for (const n of ['1', '2', '3', '4', '5', '-1']) used.add(`repeat.nth.${n}`);
  for (const s of ['this', 'following', 'all']) used.add(`scope.${s}`);
  const missing = [...used].filter((k) => !(k in en));
  assert.deepEqual(missing, [], 'keys used in the code but missing in the catalogues');
});
