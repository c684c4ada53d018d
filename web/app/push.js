// The service worker and standard Web Push (VAPID): one subscription per device, sent to the server as
// {deviceId, subscription: {endpoint, keys: {p256dh, auth}}}. No Firebase.
import { api } from './api.js';
import { getLang, t } from './i18n.js';
import { formatPrefs } from './locale.js';
import { session } from './state.js';
import { toast } from './ui.js';

const DEVICE_KEY = 'pinit.deviceId';
const SENT_KEY = 'pinit.pushEndpoint'; // the endpoint last registered with the server from this device

export function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

/** The active registration, or an error after `ms` (it never resolves when registration failed). */
function ready(ms = 10000) {
  return Promise.race([
    navigator.serviceWorker.ready,
    new Promise((_, reject) => setTimeout(() => reject(Object.assign(new Error('no service worker'), { userMessage: t('push.unsupported') })), ms)),
  ]);
}

export function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).then((registration) => {
    registration.update().catch(() => {});
  }).catch((error) => console.warn('service worker registration failed', error));
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    sendPrefsToWorker();
    if (!hadController || reloading) return;
    toast(t('app.updated'), {
      action: { label: t('app.reload'), run: () => { reloading = true; location.reload(); } },
    });
  });
}

/** Tells the service worker the language, the zone, and the locale and clock (locale.js) to write notifications in. */
export async function sendPrefsToWorker() {
  if (!('serviceWorker' in navigator)) return;
  const registration = await ready().catch(() => null);
  registration?.active?.postMessage({ type: 'prefs', lang: getLang(), zone: session.zone, ...formatPrefs() });
}

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window && window.isSecureContext;
}

function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function sameKey(buffer, bytes) {
  if (!buffer) return false;
  const a = new Uint8Array(buffer);
  return a.length === bytes.length && a.every((v, i) => v === bytes[i]);
}

function subscriptionBody(subscription) {
  const json = subscription.toJSON();
  return { deviceId: deviceId(), subscription: { endpoint: json.endpoint, keys: { p256dh: json.keys?.p256dh, auth: json.keys?.auth } } };
}

/** The server's VAPID public key, as bytes. */
async function serverKey() {
  return keyBytes(await api.push.vapid());
}

/**
 * Was `subscription` made with another application server key than the server's? A subscription is bound to the
 * key it was made with: after the server's VAPID key was rotated (docs/deploy.md, key rotation) no push reaches it
 * until the browser subscribes again. A browser that does not expose the key is taken at its word.
 */
function madeWithOtherKey(subscription, key) {
  const used = subscription?.options?.applicationServerKey;
  return Boolean(used) && !sameKey(used, key);
}

/**
 * This device's push state: 'unsupported' | 'blocked' | 'on' | 'off' | 'mismatch' (the browser and the
 * server disagree: turning it on again repairs it) | 'stale' (subscribed with the server's old VAPID key:
 * turning it on again subscribes with the new one).
 */
export async function pushStatus() {
  if (!pushSupported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'blocked';
  const registration = await ready();
  const subscription = await registration.pushManager.getSubscription();
  let remote = null;
  try { remote = await api.push.subscribed(deviceId()); } catch { remote = null; }
  if (subscription) {
    let key = null;
    try { key = await serverKey(); } catch { key = null; }
    if (key && madeWithOtherKey(subscription, key)) return 'stale';
  }
  if (subscription && remote !== false) return 'on';
  if (!subscription && !remote) return 'off';
  return 'mismatch';
}

/**
 * Subscribes with `key` (first dropping a subscription made with another key) and registers the subscription
 * with the server.
 */
async function subscribeWith(registration, key) {
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && madeWithOtherKey(subscription, key)) {
    await subscription.unsubscribe(); // the server's key changed
    subscription = null;
  }
  subscription ||= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await api.push.subscribe(subscriptionBody(subscription));
  localStorage.setItem(SENT_KEY, subscription.endpoint);
  return subscription;
}

/**
 * Asks for permission, subscribes with the server's VAPID key and registers the subscription. Refused by the
 * browser: an error with `code` PUSH_BLOCKED (notifications denied for the site: only the member can allow them
 * again, in the browser's settings — see pushhelp.js) or PUSH_DISMISSED (the prompt was closed without a choice).
 */
export async function enablePush() {
  if (!pushSupported()) throw Object.assign(new Error('unsupported'), { code: 'PUSH_UNSUPPORTED', userMessage: t('push.unsupported') });
  const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
  if (permission === 'denied') throw Object.assign(new Error('blocked'), { code: 'PUSH_BLOCKED', userMessage: t('push.blocked') });
  if (permission !== 'granted') throw Object.assign(new Error('dismissed'), { code: 'PUSH_DISMISSED', userMessage: t('push.dismissed') });
  await subscribeWith(await ready(), await serverKey());
  sendPrefsToWorker();
}

/** Unregisters this device on the server, then in the browser. */
export async function disablePush() {
  const registration = 'serviceWorker' in navigator ? await ready().catch(() => null) : null;
  const subscription = await registration?.pushManager?.getSubscription();
  await api.push.unsubscribe(subscription ? subscriptionBody(subscription) : { deviceId: deviceId() });
  await subscription?.unsubscribe();
  localStorage.removeItem(SENT_KEY);
}

/**
 * On every start, with notifications allowed:
 * - the server's VAPID key changed since this device subscribed: subscribes again with the new key and registers
 *   the new subscription ('renewed'), or, when that fails, says so ('stale': the member is asked to turn
 *   notifications on again);
 * - after a browser-side change (the service worker re-subscribed on `pushsubscriptionchange`, which it cannot
 *   tell the server about without a token), registers the current subscription again ('resent').
 * Otherwise (or on any other error: best effort) 'unchanged'.
 */
export async function resyncSubscription() {
  try {
    if (!pushSupported() || Notification.permission !== 'granted') return 'unchanged';
    const registration = await ready();
    const subscription = await registration.pushManager.getSubscription();
    if (!subscription) return 'unchanged';
    const key = await serverKey();
    if (madeWithOtherKey(subscription, key)) {
      try {
        await subscribeWith(registration, key);
        sendPrefsToWorker();
        return 'renewed';
      } catch (error) {
        console.warn('subscribing again with the server\'s new key failed', error);
        return 'stale';
      }
    }
    const sent = localStorage.getItem(SENT_KEY);
    if (sent && subscription.endpoint !== sent) {
      await api.push.subscribe(subscriptionBody(subscription));
      localStorage.setItem(SENT_KEY, subscription.endpoint);
      return 'resent';
    }
  } catch { /* best effort */ }
  return 'unchanged';
}
