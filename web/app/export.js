// Settings → Export (issue 20, GDPR art. 20): everything the task service holds of the member — tasks with their
// prerequisites, repeating schedules, schedules with their runs, weekly statistics — as one JSON file or a ZIP of
// CSV files (GET /v2/export?format=json|csv). Downloaded with the session's token (fetch + a blob link), so
// no token ever goes into a URL. docs/integrations.md#export.
import { ensureToken, dropToken } from './auth.js';
import { ApiError } from './api.js';
import { t } from './i18n.js';
import { h, toast, showError, busy } from './ui.js';

/** The name in `Content-Disposition: attachment; filename="…"`, else `fallback`. */
export function fileName(disposition, fallback) {
  const match = /filename="([^"]+)"/.exec(disposition || '');
  return match ? match[1] : fallback;
}

/** GET /v2/export?format=… with the session's token (refreshed once on 401) → {blob, name}. */
export async function fetchExport(format) {
  for (let attempt = 0; ; attempt++) {
    const token = await ensureToken();
    let response;
    try {
      response = await fetch(`/v2/export?format=${encodeURIComponent(format)}`, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        credentials: 'same-origin',
      });
    } catch {
      throw new ApiError(0, null, '/v2/export');
    }
    if (response.status === 401 && attempt === 0) {
      dropToken(token);
      continue;
    }
    if (!response.ok) {
      const text = await response.text();
      let data = text;
      try { data = JSON.parse(text); } catch { /* not JSON */ }
      throw new ApiError(response.status, data, '/v2/export');
    }
    const ext = format === 'csv' ? 'zip' : 'json';
    // A transfer cut short (the server failed mid-way) rejects here: never a partial file.
    let blob;
    try {
      blob = await response.blob();
    } catch {
      throw Object.assign(new Error('the export was cut short'), { userMessage: t('export.cutShort') });
    }
    return { blob, name: fileName(response.headers.get('Content-Disposition'), `pinit-export.${ext}`) };
  }
}

/** Saves `blob` as `name` through a temporary link. */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The Export panel of Settings: a button per format. */
export function exportPanel() {
  const button = (format, label) => h('button', { class: 'btn', type: 'button', 'data-format': format, onclick: async (e) => {
    await busy(e.currentTarget, t('export.preparing'), async () => {
      try {
        const { blob, name } = await fetchExport(format);
        save(blob, name);
        toast(t('export.done', { name }), { type: 'success' });
      } catch (error) {
        showError(error, 'export.failed');
      }
    });
  } }, label);
  return h('section', { class: 'panel', 'aria-labelledby': 'set-export' },
    h('h2', { id: 'set-export' }, t('export.title')),
    h('p', { class: 'muted' }, t('export.hint')),
    h('div', { class: 'button-row' }, button('json', t('export.json')), button('csv', t('export.csv'))),
    h('p', { class: 'muted' }, t('export.scope')));
}
