// Settings → Calendars: Pinit in other calendar apps, and other calendars in Pinit.
// - Calendar apps (CalDAV): the server URL and username to type, app passwords (made, shown once, revoked).
// - Subscription feeds: a secret read-only URL (https and webcal, with a QR code for phones), shown once;
//   rotated (a new URL, shown once) or revoked.
// - Other calendars: an ICS URL or an uploaded .ics file whose events show as busy time beside the schedules.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { session } from '../state.js';
import { h, mount, uid, toast, showError, field, busy, confirmDialog } from '../ui.js';
import { svgPath } from '../qrcode.js';
import { when, copyField, listPanel, confirmThen, revealOnce, fieldErrors } from '../panels.js';

const SVG = 'http://www.w3.org/2000/svg';
const NAME_MAX = 100;
/** Larger files are refused here rather than sent (the server has its own limit). */
const ICS_MAX_BYTES = 5 * 1024 * 1024;

export async function render({ main, setTitle }) {
  setTitle(t('calendars.title'));
  mount(main, h('div', { class: 'settings calendars' },
    h('p', { class: 'muted page-intro' }, t('calendars.lead'), ' ', h('a', { href: '/app/settings' }, t('calendars.backToSettings'))),
    calendarApps(), feeds(), otherCalendars()));
}

// ---------------------------------------------------------------- calendar apps (CalDAV)

function calendarApps() {
  const headingId = 'cal-apps';
  const server = `${location.origin}/dav/`;
  const username = session.me?.username || '';
  const listId = uid('app-passwords');
  const list = listPanel({
    id: listId,
    list: () => api.appPasswords.list(),
    empty: t('calendars.appPasswords.none'),
    row: (p, reload) => h('div', { class: 'row-main' },
      h('div', { class: 'row-text' },
        h('p', { class: 'row-title' }, p.name),
        h('p', { class: 'muted row-meta' },
          t('calendars.created', { when: when(p.createdAt) }), ' · ',
          p.lastUsedAt ? t('calendars.appPasswords.lastUsed', { when: when(p.lastUsedAt) }) : t('calendars.appPasswords.neverUsed'))),
      h('button', {
        class: 'btn btn-small btn-danger', type: 'button', 'aria-label': t('calendars.revokeWhat', { what: p.name }),
        onclick: (e) => confirmThen(t('calendars.appPasswords.confirmRevoke', { name: p.name }), t('calendars.revoke'), e.currentTarget,
          () => api.appPasswords.remove(p.id), t('calendars.appPasswords.revoked', { name: p.name }), reload),
      }, t('calendars.revoke'))),
  });

  const reveal = h('div', { class: 'reveal-slot' });
  const name = h('input', { type: 'text', required: true, maxlength: NAME_MAX, autocomplete: 'off', placeholder: t('calendars.appPasswords.namePlaceholder') });
  const nameField = field(t('calendars.appPasswords.name'), name, { hint: t('calendars.appPasswords.nameHint') });
  const create = h('button', { class: 'btn btn-primary', type: 'submit' }, t('calendars.appPasswords.create'));
  const form = h('form', { class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    nameField.setError('');
    const value = name.value.trim();
    if (!value) { nameField.setError(t('calendars.nameRequired')); name.focus(); return; }
    await busy(create, t('common.saving'), async () => {
      try {
        const made = await api.appPasswords.create(value);
        name.value = '';
        revealOnce(reveal, {
          title: t('calendars.appPasswords.madeTitle', { name: made.name }),
          children: [
            copyField(t('calendars.appPasswords.password'), made.password, { className: 'secret' }),
            h('p', { class: 'muted' }, t('calendars.appPasswords.madeHint', { username })),
          ],
          warning: t('calendars.appPasswords.once'),
        });
        list.reload();
      } catch (error) {
        fieldErrors(error, { name: nameField }, 'name');
      }
    });
  } }, nameField, h('div', { class: 'button-row' }, create));

  list.reload();
  return h('section', { class: 'panel', 'aria-labelledby': headingId },
    h('h2', { id: headingId, tabindex: '-1' }, t('calendars.apps')),
    h('p', {}, t('calendars.appsLine1')),
    h('p', { class: 'muted' }, t('calendars.appsLine2')),
    copyField(t('calendars.server'), server, { hint: t('calendars.serverHint', { host: location.host }) }),
    copyField(t('calendars.username'), username),
    h('h3', { class: 'subhead', id: listId }, t('calendars.appPasswords.title')),
    form, reveal, list.body);
}

// ---------------------------------------------------------------- subscription feeds

/** The QR code of `text` as an SVG image (dark modules on a light square, whatever the colour scheme). */
function qrImage(text, label) {
  const { size, path } = svgPath(text);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('class', 'qr');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', String(size));
  bg.setAttribute('height', String(size));
  bg.setAttribute('fill', '#ffffff');
  const modules = document.createElementNS(SVG, 'path');
  modules.setAttribute('d', path);
  modules.setAttribute('fill', '#000000');
  svg.append(bg, modules);
  svg.dataset.modules = String(size - 8);
  return svg;
}

const kindLabel = (kind) => (kind === 'tracked' ? t('calendars.feeds.kind.tracked') : t('calendars.feeds.kind.planned'));

function feeds() {
  const headingId = 'cal-feeds';
  const listId = uid('feeds');
  const reveal = h('div', { class: 'reveal-slot' });

  const showUrl = (feed, title) => revealOnce(reveal, {
    title,
    children: [
      copyField(t('calendars.feeds.url'), feed.url, { className: 'feed-url', hint: t('calendars.feeds.urlHint') }),
      copyField(t('calendars.feeds.webcal'), feed.webcalUrl, { className: 'feed-webcal', hint: t('calendars.feeds.webcalHint') }),
      h('figure', { class: 'qr-figure' },
        qrImage(feed.webcalUrl || feed.url, t('calendars.feeds.qrLabel', { kind: kindLabel(feed.kind) })),
        h('figcaption', { class: 'muted' }, t('calendars.feeds.qrCaption'))),
      h('p', {}, h('a', { href: feed.webcalUrl, 'data-external': '' }, t('calendars.feeds.open'))),
    ],
    warning: t('calendars.feeds.once'),
  });

  const list = listPanel({
    id: listId,
    list: () => api.calendar.feeds.list(),
    empty: t('calendars.feeds.none'),
    row: (f, reload) => h('div', { class: 'row-main' },
      h('div', { class: 'row-text' },
        h('p', { class: 'row-title' }, kindLabel(f.kind)),
        h('p', { class: 'row-hint' }, f.urlHint || ''),
        h('p', { class: 'muted row-meta' },
          t('calendars.created', { when: when(f.createdAt) }),
          f.rotatedAt ? [' · ', t('calendars.feeds.rotatedAt', { when: when(f.rotatedAt) })] : null, ' · ',
          f.lastFetchedAt ? t('calendars.feeds.lastFetched', { when: when(f.lastFetchedAt) }) : t('calendars.feeds.neverFetched'))),
      h('div', { class: 'row-actions' },
        h('button', {
          class: 'btn btn-small', type: 'button', 'aria-label': t('calendars.feeds.rotateWhat', { kind: kindLabel(f.kind), hint: f.urlHint || '' }),
          onclick: async (e) => {
            const button = e.currentTarget;
            if (!(await confirmDialog(t('calendars.feeds.confirmRotate'), { confirmLabel: t('calendars.feeds.rotate') }))) return;
            await busy(button, t('common.saving'), async () => {
              try {
                const fresh = await api.calendar.feeds.rotate(f.id);
                showUrl(fresh, t('calendars.feeds.rotatedTitle', { kind: kindLabel(fresh.kind || f.kind) }));
                reload();
              } catch (error) {
                showError(error);
              }
            });
          },
        }, t('calendars.feeds.rotate')),
        h('button', {
          class: 'btn btn-small btn-danger', type: 'button', 'aria-label': t('calendars.feeds.revokeWhat', { kind: kindLabel(f.kind), hint: f.urlHint || '' }),
          onclick: (e) => confirmThen(t('calendars.feeds.confirmRevoke'), t('calendars.revoke'), e.currentTarget,
            () => api.calendar.feeds.remove(f.id), t('calendars.feeds.revoked'), reload),
        }, t('calendars.revoke')))),
  });

  const createButton = (kind) => h('button', {
    class: `btn ${kind === 'planned' ? 'btn-primary' : ''}`, type: 'button',
    onclick: async (e) => {
      await busy(e.currentTarget, t('common.saving'), async () => {
        try {
          const feed = await api.calendar.feeds.create(kind);
          showUrl(feed, t('calendars.feeds.madeTitle', { kind: kindLabel(feed.kind || kind) }));
          list.reload();
        } catch (error) {
          showError(error);
        }
      });
    },
  }, kind === 'tracked' ? t('calendars.feeds.create.tracked') : t('calendars.feeds.create.planned'));

  list.reload();
  return h('section', { class: 'panel', 'aria-labelledby': headingId },
    h('h2', { id: headingId, tabindex: '-1' }, t('calendars.feeds')),
    h('p', {}, t('calendars.feedsLine1')),
    h('p', { class: 'muted' }, t('calendars.feedsLine2')),
    h('ul', { class: 'kinds muted' },
      h('li', {}, h('strong', {}, kindLabel('planned')), ': ', t('calendars.feeds.plannedHint')),
      h('li', {}, h('strong', {}, kindLabel('tracked')), ': ', t('calendars.feeds.trackedHint'))),
    h('div', { class: 'button-row' }, createButton('planned'), createButton('tracked')),
    reveal,
    h('h3', { class: 'subhead', id: listId }, t('calendars.feeds.yours')),
    list.body);
}

// ---------------------------------------------------------------- other calendars (busy time)

/** A subscription's facts (GET /v2/calendar/subscriptions: kind `url` or `upload`, lastFetchedAt, lastError, events). */
function subscriptionFacts(s) {
  return { fetched: s.lastFetchedAt, error: s.lastError, events: s.events, uploaded: s.kind === 'upload', url: s.url };
}

function otherCalendars() {
  const headingId = 'cal-other';
  const listId = uid('subscriptions');
  const list = listPanel({
    id: listId,
    list: () => api.calendar.subscriptions.list(),
    empty: t('calendars.other.none'),
    row: (s, reload) => {
      const f = subscriptionFacts(s);
      return h('div', { class: 'row-main' },
        h('div', { class: 'row-text' },
          h('p', { class: 'row-title' }, s.name),
          f.uploaded ? h('p', { class: 'muted row-meta' }, t('calendars.other.uploadedFile')) : h('p', { class: 'row-hint' }, f.url || ''),
          h('p', { class: 'muted row-meta' },
            f.uploaded ? t('calendars.other.uploadedAt', { when: when(s.createdAt) })
              : f.fetched ? t('calendars.other.lastFetched', { when: when(f.fetched) }) : t('calendars.other.notFetched'),
            typeof f.events === 'number' ? [' · ', t('calendars.other.events', { n: f.events })] : null),
          f.error ? h('p', { class: 'row-error' }, t('calendars.other.lastError', { error: f.error })) : null),
        h('button', {
          class: 'btn btn-small btn-danger', type: 'button', 'aria-label': t('calendars.other.removeWhat', { name: s.name }),
          onclick: (e) => confirmThen(t('calendars.other.confirmRemove', { name: s.name }), t('calendars.other.remove'), e.currentTarget,
            () => api.calendar.subscriptions.remove(s.id), t('calendars.other.removed', { name: s.name }), reload),
        }, t('calendars.other.remove')));
    },
  });

  // By URL
  const urlName = h('input', { type: 'text', required: true, maxlength: NAME_MAX, autocomplete: 'off', placeholder: t('calendars.other.namePlaceholder') });
  const url = h('input', { type: 'url', required: true, autocomplete: 'off', spellcheck: 'false', inputmode: 'url', placeholder: 'https://…/basic.ics' });
  const byUrl = { name: field(t('calendars.other.name'), urlName), url: field(t('calendars.other.url'), url, { hint: t('calendars.other.urlHint') }) };
  const add = h('button', { class: 'btn btn-primary', type: 'submit' }, t('calendars.other.add'));
  const urlForm = h('form', { class: 'form', novalidate: true, 'aria-labelledby': 'cal-other-url', onsubmit: async (e) => {
    e.preventDefault();
    byUrl.name.setError('');
    byUrl.url.setError('');
    const value = { name: urlName.value.trim(), url: url.value.trim() };
    if (!value.name) { byUrl.name.setError(t('calendars.nameRequired')); urlName.focus(); return; }
    if (!/^(https?|webcal):\/\/\S+$/i.test(value.url)) { byUrl.url.setError(t('calendars.other.urlInvalid')); url.focus(); return; }
    await busy(add, t('calendars.other.adding'), async () => {
      try {
        await api.calendar.subscriptions.add(value);
        urlName.value = '';
        url.value = '';
        toast(t('calendars.other.added', { name: value.name }), { type: 'success' });
        list.reload();
      } catch (error) {
        fieldErrors(error, byUrl, 'url');
      }
    });
  } }, h('h3', { class: 'subhead', id: 'cal-other-url' }, t('calendars.other.byUrl')), byUrl.name, byUrl.url, h('div', { class: 'button-row' }, add));

  // By file
  const fileName = h('input', { type: 'text', required: true, maxlength: NAME_MAX, autocomplete: 'off', placeholder: t('calendars.other.namePlaceholder') });
  const file = h('input', { type: 'file', accept: '.ics,.ical,.ifb,text/calendar' });
  file.addEventListener('change', () => {
    const chosen = file.files?.[0];
    if (chosen && !fileName.value.trim()) fileName.value = chosen.name.replace(/\.(ics|ical|ifb)$/i, '').slice(0, NAME_MAX);
  });
  const byFile = { name: field(t('calendars.other.name'), fileName), ics: field(t('calendars.other.file'), file, { hint: t('calendars.other.fileHint') }) };
  const upload = h('button', { class: 'btn', type: 'submit' }, t('calendars.other.upload'));
  const fileForm = h('form', { class: 'form', novalidate: true, 'aria-labelledby': 'cal-other-file', onsubmit: async (e) => {
    e.preventDefault();
    byFile.name.setError('');
    byFile.ics.setError('');
    const chosen = file.files?.[0];
    const name = fileName.value.trim();
    if (!name) { byFile.name.setError(t('calendars.nameRequired')); fileName.focus(); return; }
    if (!chosen) { byFile.ics.setError(t('calendars.other.fileRequired')); file.focus(); return; }
    if (chosen.size > ICS_MAX_BYTES) { byFile.ics.setError(t('calendars.other.fileTooLarge', { mb: ICS_MAX_BYTES / 1024 / 1024 })); file.focus(); return; }
    await busy(upload, t('calendars.other.uploading'), async () => {
      let ics;
      try {
        ics = await readText(chosen);
      } catch {
        byFile.ics.setError(t('calendars.other.fileUnreadable'));
        return;
      }
      try {
        await api.calendar.subscriptions.upload({ name, ics });
        fileName.value = '';
        file.value = '';
        toast(t('calendars.other.added', { name }), { type: 'success' });
        list.reload();
      } catch (error) {
        fieldErrors(error, byFile, 'ics');
      }
    });
  } }, h('h3', { class: 'subhead', id: 'cal-other-file' }, t('calendars.other.byFile')), byFile.name, byFile.ics, h('div', { class: 'button-row' }, upload));

  list.reload();
  return h('section', { class: 'panel', 'aria-labelledby': headingId },
    h('h2', { id: headingId, tabindex: '-1' }, t('calendars.other')),
    h('p', {}, t('calendars.otherLine1')),
    h('p', { class: 'muted' }, t('calendars.otherLine2')),
    urlForm, fileForm,
    h('h3', { class: 'subhead', id: listId }, t('calendars.other.yours')),
    list.body);
}

/** A file's text (UTF-8), read with FileReader. */
function readText(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsText(file, 'utf-8');
  });
}
