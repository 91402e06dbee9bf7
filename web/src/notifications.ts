// Notifications (issue #19): the service worker, Web Push subscriptions, the
// rule for which messages notify, and in-page notifications while the tab is hidden.
import type { Conversation, Message, ParleyClient } from './parley';

export type NotificationLevel = Conversation['notifications']['level'];

/** Where the web client's files live (vite.config.ts `base`). */
const BASE = '/messages/';
/**
 * The service worker's scope: /messages rather than its folder, because the
 * page is served at /messages as well as /messages/ (and / redirects to
 * /messages); the server allows it with `Service-Worker-Allowed`.
 */
export const SW_SCOPE = '/messages';
const DISMISSED_KEY = 'parley.notify.dismissed';
const ENGAGED_KEY = 'parley.notify.engaged';
const ENGAGED_EVENT = 'parley:engaged';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** Whether this browser can receive Web Push at all (service workers, the Push API, notifications). */
export function pushSupported(): boolean {
  return typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window && window.isSecureContext;
}

export function notificationsSupported(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window;
}

export function permission(): NotificationPermission | 'unsupported' {
  return notificationsSupported() ? Notification.permission : 'unsupported';
}

/** Registers the service worker (scope /messages/); resolves null where there is none. */
export async function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null;
  try {
    return await navigator.serviceWorker.register(`${BASE}sw.js`, { scope: SW_SCOPE });
  } catch (err) {
    console.warn('Parley: the service worker did not register', err);
    return null;
  }
}

/** The active registration, if one is there (never waits for one). */
async function registration(): Promise<ServiceWorkerRegistration | null> {
  if (!('serviceWorker' in navigator)) return null;
  try {
    return (await navigator.serviceWorker.getRegistration(BASE)) ?? null;
  } catch {
    return null;
  }
}

function base64UrlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export type PushResult = { ok: true } | { ok: false; reason: 'unsupported' | 'denied' | 'dismissed' | 'failed'; message: string };

/** Why subscribing failed, in words for the user (push services refuse some browsers, e.g. private windows). */
function failure(err: unknown): PushResult {
  const detail = err instanceof Error ? err.message : String(err);
  return {
    ok: false,
    reason: 'failed',
    message: `This browser could not sign up for notifications when Parley is closed (${detail}). You will still be notified while Parley is open in a tab.`,
  };
}

/**
 * Subscribes this browser to Web Push for the signed-in session and tells the
 * server (subscriptions are bound to the session, so this is done again after
 * every sign-in). Asks for permission first only when `ask` is set.
 */
export async function enablePush(client: ParleyClient, { ask }: { ask: boolean }): Promise<PushResult> {
  if (!pushSupported()) return { ok: false, reason: 'unsupported', message: 'This browser cannot show notifications while Parley is closed.' };
  let perm = Notification.permission;
  if (perm === 'default' && ask) {
    try {
      perm = await Notification.requestPermission();
    } catch (err) {
      return failure(err);
    }
  }
  if (perm === 'denied') return { ok: false, reason: 'denied', message: 'Notifications are blocked for this site in the browser’s settings.' };
  if (perm !== 'granted') return { ok: false, reason: 'dismissed', message: 'Notifications were not allowed.' };
  try {
    const reg = (await registration()) ?? (await registerServiceWorker());
    if (!reg) return { ok: false, reason: 'unsupported', message: 'The service worker could not be installed.' };
    const ready = await navigator.serviceWorker.ready;
    const { publicKey } = await client.api<{ publicKey: string }>('GET', '/api/push/key');
    const key = base64UrlToBytes(publicKey);
    let sub = await ready.pushManager.getSubscription();
    // A subscription made for another server key cannot be used: replace it.
    if (sub && sub.options.applicationServerKey && !sameBytes(new Uint8Array(sub.options.applicationServerKey), key)) {
      await sub.unsubscribe().catch(() => undefined);
      sub = null;
    }
    sub ??= await ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    await client.api('POST', '/api/push/subscriptions', sub.toJSON());
    return { ok: true };
  } catch (err) {
    return failure(err);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** On sign-out: the server forgets this browser's subscription, and the browser drops it. */
export async function disablePush(client: ParleyClient): Promise<void> {
  try {
    const reg = await registration();
    const sub = await reg?.pushManager?.getSubscription();
    if (!sub) return;
    await client.api('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint }).catch(() => undefined);
    await sub.unsubscribe().catch(() => undefined);
  } catch {
    // nothing to undo
  }
}

// ---- when to ask -------------------------------------------------------------------------

export function promptDismissed(): boolean {
  return storage()?.getItem(DISMISSED_KEY) === '1';
}

export function dismissPrompt(): void {
  storage()?.setItem(DISMISSED_KEY, '1');
}

export function engaged(): boolean {
  return storage()?.getItem(ENGAGED_KEY) === '1';
}

/** The user sent a message from this browser: a good moment to offer notifications. */
export function markEngaged(): void {
  if (engaged()) return;
  storage()?.setItem(ENGAGED_KEY, '1');
  window.dispatchEvent(new Event(ENGAGED_EVENT));
}

export function onEngaged(listener: () => void): () => void {
  window.addEventListener(ENGAGED_EVENT, listener);
  return () => window.removeEventListener(ENGAGED_EVENT, listener);
}

// ---- the rule ----------------------------------------------------------------------------

export function mutedUntil(c: Conversation, now = Date.now()): Date | null {
  const until = c.notifications?.mutedUntil;
  if (!until) return null;
  const t = new Date(until);
  return t.getTime() > now ? t : null;
}

/**
 * Whether message M in conversation C notifies the user (protocol.md, the
 * rule): not at level "none"; a mention always; otherwise level "all" and
 * not muted.
 */
export function notifies(c: Conversation, m: Message, meId: string | undefined, now = Date.now()): boolean {
  const level = c.notifications?.level ?? 'all';
  if (level === 'none') return false;
  if (meId && m.mentions?.includes(meId)) return true;
  return level === 'all' && mutedUntil(c, now) === null;
}

// ---- in-page notifications ---------------------------------------------------------------

export interface Shown {
  title: string;
  body: string;
  conversationId: string;
}

/**
 * Shows a notification from the page (the tab is hidden): through the service
 * worker where there is one (its click handler opens the conversation), else
 * with `new Notification`, whose click is handled here.
 */
export async function showLocal(n: Shown, onClick: (conversationId: string) => void): Promise<void> {
  if (permission() !== 'granted') return;
  const options: NotificationOptions & { renotify?: boolean } = {
    body: n.body,
    tag: `conversation:${n.conversationId}`,
    renotify: true,
    data: { conversationId: n.conversationId, url: `${BASE}?c=${encodeURIComponent(n.conversationId)}` },
  };
  const reg = await registration();
  if (reg?.active) {
    try {
      await reg.showNotification(n.title, options);
      return;
    } catch {
      // fall back to a page notification
    }
  }
  try {
    const note = new Notification(n.title, options);
    note.onclick = () => {
      window.focus();
      onClick(n.conversationId);
      note.close();
    };
  } catch {
    // some browsers allow notifications from the service worker only
  }
}
