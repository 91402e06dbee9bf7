import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { conversationTitle, memberName, preview } from '../format';
import { disablePush, enablePush, notifies, permission, pushSupported, registerServiceWorker, showLocal, type PushResult } from '../notifications';
import type { Conversation, Message, ParleyClient } from '../parley';

export interface Notify {
  /** The browser's permission as last seen. */
  permission: NotificationPermission | 'unsupported';
  /** Whether Web Push can work in this browser. */
  pushSupported: boolean;
  /** Push for this session: on, being set up, or what went wrong. */
  push: { state: 'off' | 'working' | 'on' } | { state: 'failed'; message: string };
  /** The user's "show message text in notifications" (null until known). */
  previews: boolean | null;
  /** Asks for permission (when not decided yet), subscribes and tells the server. */
  turnOn: () => Promise<PushResult>;
  setPreviews: (previews: boolean) => Promise<void>;
  /** On sign-out: the server and the browser forget this browser's subscription. */
  signOut: () => Promise<void>;
}

export const NotifyContext = createContext<Notify | null>(null);

export function useNotify(): Notify {
  const n = useContext(NotifyContext);
  if (!n) throw new Error('useNotify outside ChatApp');
  return n;
}

/**
 * Everything about notifications for one signed-in session: the service
 * worker (registered now), a push subscription renewed for this session when
 * permission was given before, clicks on notifications (they open the
 * conversation), and in-page notifications for messages that arrive while the
 * tab is hidden.
 */
export function useNotificationsSetup(client: ParleyClient, open: (conversationId: string) => void): Notify {
  const [perm, setPerm] = useState(() => permission());
  const [push, setPush] = useState<Notify['push']>({ state: 'off' });
  const [previews, setPreviewsState] = useState<boolean | null>(null);
  const openRef = useRef(open);
  openRef.current = open;

  // The service worker, and a subscription for this session when permission is already there.
  useEffect(() => {
    let live = true;
    void registerServiceWorker().then(async (reg) => {
      if (!live || !reg || !pushSupported() || Notification.permission !== 'granted') return;
      setPush({ state: 'working' });
      const r = await enablePush(client, { ask: false });
      if (live) setPush(r.ok ? { state: 'on' } : { state: 'failed', message: r.message });
    });
    return () => {
      live = false;
    };
  }, [client]);

  useEffect(() => {
    let live = true;
    client.api<{ previews: boolean }>('GET', '/api/users/me/notifications').then(
      (r) => live && setPreviewsState(r.previews),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client]);

  // The permission can change in the browser's settings while the page is open.
  useEffect(() => {
    if (!('permissions' in navigator) || !navigator.permissions?.query) return;
    let status: PermissionStatus | null = null;
    const on = () => setPerm(permission());
    navigator.permissions.query({ name: 'notifications' }).then(
      (s) => {
        status = s;
        s.addEventListener('change', on);
      },
      () => undefined,
    );
    return () => status?.removeEventListener('change', on);
  }, []);

  // A notification clicked: the service worker asks this tab to open its conversation.
  useEffect(() => {
    if (!('serviceWorker' in navigator)) return;
    const onMessage = (e: MessageEvent) => {
      const d = e.data as { type?: unknown; conversationId?: unknown } | null;
      if (d?.type === 'open' && typeof d.conversationId === 'string' && client.conversations.has(d.conversationId)) {
        window.focus();
        openRef.current(d.conversationId);
      }
    };
    navigator.serviceWorker.addEventListener('message', onMessage);
    return () => navigator.serviceWorker.removeEventListener('message', onMessage);
  }, [client]);

  // Opened from a notification with no tab open: /messages/?c=<id> (or #/c/<id>).
  useEffect(() => {
    const url = new URL(window.location.href);
    const fromHash = /^#\/c\/([^/?#]+)/.exec(url.hash)?.[1];
    const id = url.searchParams.get('c') ?? (fromHash ? decodeURIComponent(fromHash) : null);
    if (!id) return;
    url.searchParams.delete('c');
    if (fromHash) url.hash = '';
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    if (client.conversations.has(id)) openRef.current(id);
  }, [client]);

  // In-page notifications: a message from someone else, while this tab is hidden
  // (no message text until the user's previews choice is known).
  const previewsRef = useRef(previews);
  previewsRef.current = previews;
  useEffect(() => {
    const known = new Map<string, number>();
    for (const c of client.conversations.values()) known.set(c.id, c.lastSeq);
    const check = () => {
      const meId = client.me?.id;
      for (const c of client.conversations.values()) {
        const before = known.get(c.id) ?? 0; // a conversation new since the start: all of it is new
        if (c.lastSeq <= before) continue;
        known.set(c.id, c.lastSeq);
        const m = c.lastMessage;
        if (!m || m.seq !== c.lastSeq || m.senderId === meId || m.deletedAt || c.unreadCount === 0) continue;
        if (document.visibilityState !== 'hidden' || permission() !== 'granted') continue;
        if (!notifies(c, m, meId)) continue;
        void showLocal({ conversationId: c.id, ...describe(c, m, meId, previewsRef.current ?? false) }, (id) => openRef.current(id));
      }
    };
    return client.subscribe(check);
  }, [client]);

  const turnOn = useCallback(async () => {
    setPush({ state: 'working' });
    const r = await enablePush(client, { ask: true });
    setPerm(permission());
    setPush(r.ok ? { state: 'on' } : r.reason === 'failed' || r.reason === 'unsupported' ? { state: 'failed', message: r.message } : { state: 'off' });
    return r;
  }, [client]);

  const setPreviews = useCallback(
    async (v: boolean) => {
      const was = previewsRef.current;
      setPreviewsState(v); // at once; put back if the server refuses
      try {
        const r = await client.api<{ previews: boolean }>('PUT', '/api/users/me/notifications', { previews: v });
        setPreviewsState(r.previews);
      } catch (err) {
        setPreviewsState(was);
        throw err;
      }
    },
    [client],
  );

  const signOut = useCallback(() => disablePush(client), [client]);

  return { permission: perm, pushSupported: pushSupported(), push, previews, turnOn, setPreviews, signOut };
}

/** What a notification says: like the server's push (no message text with previews off). */
function describe(c: Conversation, m: Message, meId: string | undefined, previews: boolean): { title: string; body: string } {
  const title = conversationTitle(c, meId);
  const sender = memberName(c, m.senderId, meId);
  const mentioned = !!meId && m.mentions?.includes(meId);
  if (!previews) {
    const what = mentioned ? `${sender} mentioned you` : `New message from ${sender}`;
    return { title, body: what };
  }
  return { title, body: preview(c, m, meId) };
}
