// The session: the access token lives in memory only; the refresh token is the httpOnly `refresh_token`
// cookie (Path=/v0) that only the server reads. One refresh is in flight at a time for every request of the
// page, and across tabs (Web Locks + BroadcastChannel), so a rotating refresh token is never presented twice.
import { ApiError } from './api.js';

let accessToken = null;
let inFlight = null;
const lostListeners = new Set();
const channel = 'BroadcastChannel' in self ? new BroadcastChannel('pinit-session') : null;
let sharedToken = null; // a token another tab just obtained
let unreachable = false; // the last refresh got no answer (offline)
let offlineSession = false; // the app was opened offline on the member's kept data (main.js)
let accountDeleted = false; // a service answered 401 ACCOUNT_DELETED: the session ends for that reason

channel?.addEventListener('message', ({ data }) => {
  if (data?.type === 'token') sharedToken = data.token;
  if (data?.type === 'logout') {
    accessToken = null;
    for (const fn of lostListeners) fn('logout');
  }
});

/** The `exp` of a JWT in ms (not verified: it only schedules the refresh). */
function expiresAt(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return payload.exp * 1000;
  } catch {
    return 0;
  }
}

const fresh = (token) => Boolean(token) && expiresAt(token) - 30_000 > Date.now();

export const hasSession = () => Boolean(accessToken);

/** The last refresh got no answer: the session may well be alive, the server is out of reach (offline.js). */
export const refreshUnreachable = () => unreachable;

/** The app goes on offline with the member's kept data; a refusal once back online ends that session. */
export const enterOffline = () => { offlineSession = true; };

/** A service said the account was deleted (401 ACCOUNT_DELETED); the refresh that follows ends the session so. */
export const noteAccountDeleted = () => { accountDeleted = true; };

/** Called with a reason when the session is gone: 'expired' (refresh refused), 'deleted' (the account was
 * deleted elsewhere), 'logout' (in another tab). */
export function onSessionLost(fn) {
  lostListeners.add(fn);
  return () => lostListeners.delete(fn);
}

/** A usable access token: the current one, or a refreshed one; null when there is no session. */
export async function ensureToken() {
  if (fresh(accessToken)) return accessToken;
  return refresh();
}

/** Refreshes once for every caller; resolves to the new token or null. */
export function refresh() {
  if (!inFlight) {
    inFlight = (navigator.locks ? navigator.locks.request('pinit-refresh', refreshOnce) : refreshOnce())
      .finally(() => { inFlight = null; });
  }
  return inFlight;
}

async function refreshOnce() {
  // Another tab may have refreshed while we waited for the lock.
  if (fresh(sharedToken) && sharedToken !== accessToken) {
    accessToken = sharedToken;
    return accessToken;
  }
  let response;
  try {
    response = await fetch('/v0/refresh', { method: 'POST', credentials: 'same-origin' });
  } catch {
    unreachable = true;
    return accessToken && fresh(accessToken) ? accessToken : null; // offline: keep what we have
  }
  unreachable = false;
  if (!response.ok) {
    // A session in use — or the one the app was opened with offline — that the server now refuses has ended.
    const hadSession = Boolean(accessToken) || offlineSession || accountDeleted;
    const reason = accountDeleted ? 'deleted' : 'expired';
    offlineSession = false;
    accountDeleted = false;
    accessToken = null;
    if (hadSession && (response.status === 401 || response.status === 403)) {
      for (const fn of lostListeners) fn(reason);
    }
    return null;
  }
  const body = await response.json();
  offlineSession = false;
  accountDeleted = false;
  setToken(body.token);
  return accessToken;
}

function setToken(token) {
  accessToken = token || null;
  if (accessToken) channel?.postMessage({ type: 'token', token: accessToken });
}

/** Drops a token the server refused, so the next call refreshes. */
export function dropToken(token) {
  if (accessToken === token) accessToken = null;
  if (sharedToken === token) sharedToken = null;
}

async function authCall(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  // Auth answers {message, code}: worded by its code (BAD_CREDENTIALS, USERNAME_RULE, RATE_LIMITED…).
  if (!response.ok) throw new ApiError(response.status, data, path, Number(response.headers.get('Retry-After')) || null);
  return data;
}

export async function login(username, password) {
  const data = await authCall('/v0/login', { username, password });
  setToken(data.token);
}

export async function signup({ username, password, nickname, zoneId }) {
  await authCall('/v0/signup', { username, password, nickname, zoneId });
}

/** Exchanges the provider's `code`/`state` for a session (same origin, so the binding cookie goes along). */
export async function oauthCallback(provider, search) {
  const response = await fetch(`/v0/login/oauth2/code/${encodeURIComponent(provider)}${search}`, {
    credentials: 'same-origin', headers: { Accept: 'application/json' },
  });
  const data = await response.json().catch(() => null);
  if (!response.ok || !data?.token) throw new ApiError(response.ok ? 502 : response.status, data, '/v0/login/oauth2/code');
  setToken(data.token);
}

/** Ends the session on the server (revokes the cookie's family) and everywhere in this browser. */
export async function logout() {
  try {
    await fetch('/v0/logout', { method: 'POST', credentials: 'same-origin' });
  } finally {
    accessToken = null;
    sharedToken = null;
    channel?.postMessage({ type: 'logout' });
  }
}
