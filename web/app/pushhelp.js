// When the browser blocks notifications for this site (Notification.permission === 'denied'), only the member can
// allow them again, in the browser's own settings — and where those are differs by browser. Which browser this is,
// and the steps for it as catalogue keys (pushHelp.*). No imports: the tests load it as it is served.

/**
 * The browser from `navigator` (userAgentData where it has it, else the user-agent string): {kind, name}, kind one
 * of 'chromium' (Chrome, Edge, Brave, Opera, Vivaldi… on a desktop), 'android' (Chrome on Android), 'firefox',
 * 'safari' (on macOS), 'ios' (any browser on an iPhone or iPad: all are Safari underneath) or 'other'; `name` is
 * what the member calls it ("Edge"), or '' when not known.
 */
export function browserKind(nav = globalThis.navigator) {
  const ua = String(nav?.userAgent || '');
  const brands = (nav?.userAgentData?.brands || []).map((b) => String(b.brand));
  const platform = String(nav?.userAgentData?.platform || '');
  const has = (brand) => brands.includes(brand);
  // iPadOS asks for the desktop site: a Mac with a touch screen is an iPad.
  if (/iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && nav?.maxTouchPoints > 1)) return { kind: 'ios', name: '' };
  // The user-agent string first: Firefox's and Safari's never name Chrome (and they have no userAgentData).
  if (/Firefox\//.test(ua) && !/Chrome\//.test(ua)) return { kind: 'firefox', name: 'Firefox' };
  if (/Safari\//.test(ua) && /Macintosh/.test(ua) && !/Chrome\/|Chromium\//.test(ua)) return { kind: 'safari', name: 'Safari' };
  const chromium = brands.some((b) => /Chrom|Edge|Opera|Brave/.test(b)) || /Chrome\/|Chromium\/|CriOS\//.test(ua);
  if (chromium) {
    // Samsung Internet and other Android browsers built on Chromium have menus of their own.
    if (/SamsungBrowser|UCBrowser|YaBrowser/.test(ua)) return { kind: 'other', name: '' };
    const name = has('Microsoft Edge') || /Edg(A|iOS)?\//.test(ua) ? 'Edge'
      : has('Opera') || has('Opera GX') || /OPR\//.test(ua) ? 'Opera'
        : has('Brave') || nav?.brave ? 'Brave'
          : has('Google Chrome') || !brands.length ? 'Chrome' : 'Chromium';
    if (/Android/.test(ua) || platform === 'Android' || nav?.userAgentData?.mobile) {
      return name === 'Chrome' ? { kind: 'android', name } : { kind: 'other', name };
    }
    return { kind: 'chromium', name };
  }
  return { kind: 'other', name: '' };
}

/** The steps that allow notifications again, as catalogue keys, for a `browserKind` kind. */
export const STEPS = {
  chromium: ['pushHelp.chromium1', 'pushHelp.chromium2', 'pushHelp.chromium3', 'pushHelp.reload'],
  android: ['pushHelp.android1', 'pushHelp.android2', 'pushHelp.android3', 'pushHelp.comeBack'],
  firefox: ['pushHelp.firefox1', 'pushHelp.firefox2', 'pushHelp.reload'],
  safari: ['pushHelp.safari1', 'pushHelp.safari2', 'pushHelp.safari3', 'pushHelp.comeBack'],
  ios: ['pushHelp.ios1', 'pushHelp.ios2', 'pushHelp.ios3'],
  /** Pinit opened from the Home Screen already: only the system's settings are left. */
  iosApp: ['pushHelp.iosApp', 'pushHelp.comeBack'],
  other: ['pushHelp.other1', 'pushHelp.other2', 'pushHelp.reload'],
};

/** {kind, name, steps} for this browser; `standalone`: the page runs as the installed app (display-mode). */
export function pushHelp(nav = globalThis.navigator, { standalone = false } = {}) {
  const browser = browserKind(nav);
  const steps = browser.kind === 'ios' && standalone ? STEPS.iosApp : STEPS[browser.kind] || STEPS.other;
  return { ...browser, steps };
}
