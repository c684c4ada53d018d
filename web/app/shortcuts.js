// Keyboard shortcuts, for the whole app: N a new schedule (a new task on Tasks), T today, ←/→ the day before or
// after on Schedules (the week in the week view), Space pauses or resumes the running schedule, ? lists them.
// They act only when the focus is on no control that uses the key itself (a field, a button, the timeline, the
// week strip) and no dialog is open, and never with Ctrl, Alt or ⌘; so typing, Space on a button and the
// timeline's arrows keep working.
import { t } from './i18n.js';
import { h, openDialog } from './ui.js';

const KEYS = [
  [['N'], 'shortcuts.new'],
  [['T'], 'shortcuts.today'],
  [['←', '→'], 'shortcuts.days'],
  [['Space'], 'shortcuts.player'],
  [['?'], 'shortcuts.help'],
];

// Controls with a use for the key: the shortcut keeps out of their way. Letters: where text is typed. Arrows: that
// too, and what moves with them (the timeline, the week strip, radio groups). Space: any control (it presses it).
const TEXT = 'input, textarea, select, [contenteditable=""], [contenteditable="true"]';
const ARROWS = `${TEXT}, .tl, .week-strip, [role=radiogroup], [role=listbox], [role=tablist], [role=menu]`;
const SPACE = `${TEXT}, button, a[href], [role=button], [role=switch], [role=checkbox], summary, .tl`;

let helpOpen = null;

/** The list of shortcuts and the quick-add line's syntax, in a dialog. */
export function openShortcutHelp() {
  if (helpOpen) return helpOpen;
  const row = (keys, label) => h('tr', {},
    h('th', { scope: 'row' }, keys.map((k, i) => [i ? ' ' : null, h('kbd', {}, k === 'Space' ? t('shortcuts.space') : k)])),
    h('td', {}, t(label)));
  helpOpen = openDialog({
    title: t('shortcuts.title'),
    content: h('div', { class: 'shortcut-help' },
      h('table', { class: 'plan-table shortcut-table' },
        h('caption', { class: 'sr-only' }, t('shortcuts.title')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('shortcuts.key')), h('th', { scope: 'col' }, t('shortcuts.does')))),
        h('tbody', {}, KEYS.map(([keys, label]) => row(keys, label)))),
      h('p', { class: 'muted' }, t('shortcuts.where')),
      h('h3', { class: 'section-title' }, t('quick.label')),
      h('p', {}, t('quick.helpLine')),
      h('ul', { class: 'quick-examples' }, ['quick.example1', 'quick.example2', 'quick.example3'].map((k) => h('li', {}, h('code', {}, t(k)))))),
    onClose: () => { helpOpen = null; },
  });
  return helpOpen;
}

/**
 * Listens for the shortcuts. `act(name)`: 'new' | 'today' | 'prev' | 'next' | 'player' — what the app does for
 * each (main.js decides by the page shown); true when it did something (the key is then not passed on).
 */
export function installShortcuts(act) {
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (document.querySelector('[aria-modal="true"]')) return; // a dialog has the keyboard
    let name = null;
    let owners = TEXT;
    if (e.key === '?') name = 'help';
    else if (e.key === 'n' || e.key === 'N') name = 'new';
    else if (e.key === 't' || e.key === 'T') name = 'today';
    else if (e.key === 'ArrowLeft' && !e.shiftKey) { name = 'prev'; owners = ARROWS; }
    else if (e.key === 'ArrowRight' && !e.shiftKey) { name = 'next'; owners = ARROWS; }
    else if (e.key === ' ' && !e.shiftKey) { name = 'player'; owners = SPACE; }
    if (!name || (e.target instanceof Element && e.target.closest(owners))) return;
    const done = name === 'help' ? Boolean(openShortcutHelp()) : act(name);
    if (done) e.preventDefault();
  });
}
