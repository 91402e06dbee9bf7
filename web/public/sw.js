/* Parley's service worker (scope /messages: the server allows it with
 * Service-Worker-Allowed, as the page is served at /messages too): shows Web Push notifications
 * and opens the conversation when one is clicked. Served as-is (not bundled).
 *
 * The push payload (JSON): { type: 'message', conversationId, title, body,
 * tag, url, count, mentioned, messageId, seq }. title and body are ready to
 * show (no message text when the user turned previews off); tag is
 * `conversation:<id>`, so a later push replaces the earlier one. */

const APP = new URL('./', self.location.href); // /messages/
const SCOPE_PATH = new URL(self.registration.scope).pathname; // /messages

self.addEventListener('install', () => {
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

function payloadOf(event) {
  if (!event.data) return null;
  try {
    return event.data.json();
  } catch {
    return { title: 'Parley', body: event.data.text() };
  }
}

self.addEventListener('push', (event) => {
  const p = payloadOf(event) ?? {};
  const conversationId = typeof p.conversationId === 'string' ? p.conversationId : null;
  const title = typeof p.title === 'string' && p.title ? p.title : 'Parley';
  const options = {
    body: typeof p.body === 'string' ? p.body : 'New message',
    tag: typeof p.tag === 'string' && p.tag ? p.tag : conversationId ? `conversation:${conversationId}` : 'parley',
    renotify: true,
    data: { conversationId, url: typeof p.url === 'string' ? p.url : null },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

/** Where a click opens the app: /messages/?c=<id> (the app opens that conversation on load). */
function openUrl(conversationId) {
  const url = new URL(APP);
  if (conversationId) url.searchParams.set('c', conversationId);
  return url.href;
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversationId = event.notification.data?.conversationId ?? null;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const ours = windows.filter((w) => new URL(w.url).pathname.startsWith(SCOPE_PATH));
      // The one in front first, else any open Parley tab.
      const client = ours.find((w) => w.focused) ?? ours.find((w) => w.visibilityState === 'visible') ?? ours[0];
      if (client) {
        await client.focus().catch(() => undefined);
        if (conversationId) client.postMessage({ type: 'open', conversationId });
        return;
      }
      await self.clients.openWindow(openUrl(conversationId));
    })(),
  );
});
