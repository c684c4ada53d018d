// The service worker and standard Web Push (VAPID): one subscription per device, sent to the server as
// {deviceId, subscription: {endpoint, keys: {p256dh, auth}}}. No Firebase.
import { api } from './api.js';
import { getLang, t } from './i18n.js';
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

/** Tells the service worker the language and zone to write notifications in. */
export async function sendPrefsToWorker() {
  if (!('serviceWorker' in navigator)) return;
  const registration = await ready().catch(() => null);
  registration?.active?.postMessage({ type: 'prefs', lang: getLang(), zone: session.zone });
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

/**
 * This device's push state: 'unsupported' | 'blocked' | 'on' | 'off' | 'mismatch' (the browser and the
 * server disagree: turning it on again repairs it).
 */
export async function pushStatus() {
  if (!pushSupported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'blocked';
  const registration = await ready();
  const subscription = await registration.pushManager.getSubscription();
  let remote = null;
  try { remote = await api.push.subscribed(deviceId()); } catch { remote = null; }
  if (subscription && remote !== false) return 'on';
  if (!subscription && !remote) return 'off';
  return 'mismatch';
}

/** Asks for permission, subscribes with the server's VAPID key and registers the subscription. */
export async function enablePush() {
  if (!pushSupported()) throw Object.assign(new Error('unsupported'), { userMessage: t('push.unsupported') });
  const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
  if (permission !== 'granted') throw Object.assign(new Error('blocked'), { userMessage: t('push.blocked') });
  const key = keyBytes(await api.push.vapid());
  const registration = await ready();
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options?.applicationServerKey, key)) {
    await subscription.unsubscribe(); // the server's key changed
    subscription = null;
  }
  subscription ||= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await api.push.subscribe(subscriptionBody(subscription));
  localStorage.setItem(SENT_KEY, subscription.endpoint);
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
 * After a browser-side change (the service worker re-subscribed on `pushsubscriptionchange`, which it cannot
 * tell the server about without a token), registers the current subscription again.
 */
export async function resyncSubscription() {
  try {
    if (!pushSupported() || Notification.permission !== 'granted') return;
    const registration = await ready();
    const subscription = await registration.pushManager.getSubscription();
    const sent = localStorage.getItem(SENT_KEY);
    if (subscription && sent && subscription.endpoint !== sent) {
      await api.push.subscribe(subscriptionBody(subscription));
      localStorage.setItem(SENT_KEY, subscription.endpoint);
    }
  } catch { /* best effort */ }
}
