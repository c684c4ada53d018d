// What every page shares: the member's time zone and profile, and change events between pages.
import { browserZone, isValidZone } from './time.js';

export const session = {
  /** The member's IANA zone: every date shown and sent is in it. */
  zone: browserZone(),
  /** {memberId, username, nickname, zoneId} from /v0/me, when known. */
  me: null,
};

export function setZone(zone) {
  if (isValidZone(zone)) session.zone = zone;
}

const bus = new EventTarget();

/** emit('schedule:changed', {id}) / emit('task:changed', {id}) / emit('zone:changed') */
export function emit(type, detail = {}) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}

/** Listens until `signal` aborts (a page's lifetime). */
export function on(type, fn, signal) {
  const listener = (e) => fn(e.detail);
  bus.addEventListener(type, listener, { signal });
}

/** Client-side navigation from anywhere (the router listens to popstate). */
export function go(url) {
  history.pushState(null, '', url);
  dispatchEvent(new PopStateEvent('popstate'));
}
