import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents, SyncAck } from '../protocol/events.js';
import type { WireError } from '../protocol/errors.js';
import type { AuthResponse, HistoryResponse, SearchResponse } from '../protocol/http.js';
import type { Attachment, Conversation, Message, NotificationLevel, User } from '../protocol/models.js';
import { MarkerCoalescer, markerInterval, MARKER_INTERVAL_MS } from './marker-coalescer.js';
import { MessageStore } from './message-store.js';
import { SyncCursors } from './sync-cursors.js';

/** An error the server answered (HTTP or ack), or a network failure (`code: 'network'`). */
export class ParleyError extends Error {
  constructor(
    readonly code: WireError['code'] | 'network' | 'timeout',
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ParleyError';
  }

  /** Worth trying again later, with the same clientId for a send. */
  get retryable(): boolean {
    return ['network', 'timeout', 'internal', 'unavailable', 'rate_limited'].includes(this.code);
  }
}

/** `unauthorized`: the token is refused (expired, or the account is gone): sign in again. */
export type ConnectionState = 'connecting' | 'online' | 'reconnecting' | 'syncing' | 'unauthorized';

interface OutboxEntry {
  clientId: string;
  conversationId: string;
  content: string;
  replyToId?: string;
  attachmentIds?: string[];
  inFlight: boolean;
  attempts: number;
}

export interface ParleyClientOptions {
  /** The server, e.g. http://localhost:3000 ('' for the page's own origin). */
  baseUrl: string;
  token: string;
  /** How long to wait for an ack (ms). */
  ackTimeoutMs?: number;
  /**
   * Shortest time between two delivered (or two read) markers sent for one
   * conversation, ms (default 500; in groups of more than 50, 10 ms a
   * member): the moves in between go as one, at the highest seq. In a group
   * each move reaches every member's sockets.
   */
  markerIntervalMs?: number;
}

type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

async function request<T>(baseUrl: string, method: string, path: string, token?: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(baseUrl + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ParleyError('network', (e as Error).message);
  }
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => null)) as { error?: WireError } | null;
  if (!res.ok) {
    const err = json?.error;
    throw new ParleyError(err?.code ?? 'internal', err?.message ?? `HTTP ${res.status}`, err?.data);
  }
  return json as T;
}

/**
 * A small typed client for Parley: REST calls, the socket with typed events,
 * an outbox that retries unacknowledged sends with the same clientId (so a
 * message is stored exactly once), `sync` on every reconnect before the
 * outbox goes again, and a local message store keyed by conversation and seq.
 *
 * State changes are announced to `subscribe` listeners (for React's
 * useSyncExternalStore, or anything else); read them from the fields.
 */
export class ParleyClient {
  readonly messages = new MessageStore();
  readonly conversations = new Map<string, Conversation>();
  /** userId → the users typing now, per conversation. */
  readonly typing = new Map<string, Set<string>>();
  /** Presence learnt from events (REST answers carry it too). */
  readonly online = new Map<string, boolean>();
  /** When each user was last seen online (ISO), from the same sources. */
  readonly lastSeen = new Map<string, string | null>();
  me: User | null = null;
  connection: ConnectionState = 'connecting';
  /** Bumped on every change: a cheap snapshot for React. */
  version = 0;

  private readonly socket: AppSocket;
  /** Where `sync` resumes, per conversation: moved only over revs seen without a hole, and by sync answers. */
  private readonly cursors = new SyncCursors();
  private readonly outbox: OutboxEntry[] = [];
  private readonly listeners = new Set<() => void>();
  private everConnected = false;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay = 1000;
  private readonly ackTimeoutMs: number;
  /** Delivered and read markers on their way: one per conversation per interval, the highest seq. */
  private readonly markers: MarkerCoalescer;

  constructor(private readonly o: ParleyClientOptions) {
    this.ackTimeoutMs = o.ackTimeoutMs ?? 10_000;
    this.socket = io(o.baseUrl || undefined, {
      auth: { token: o.token },
      transports: ['websocket', 'polling'],
      autoConnect: false,
      reconnectionDelayMax: 5000,
    }) as AppSocket;
    this.markers = new MarkerCoalescer({
      intervalMs: (id) => markerInterval(this.conversations.get(id)?.members.length ?? 2, o.markerIntervalMs ?? MARKER_INTERVAL_MS),
      canSend: () => this.socket.connected,
      send: async (type, conversationId, seq) => {
        await this.call(type === 'read' ? 'message:read' : 'message:delivered', { conversationId, seq });
      },
    });
    this.wire();
  }

  // ---- accounts (no client needed yet) ---------------------------------------------
  static register(baseUrl: string, body: { username: string; password: string; displayName?: string }): Promise<AuthResponse> {
    return request(baseUrl, 'POST', '/api/auth/register', undefined, body);
  }

  static login(baseUrl: string, body: { username: string; password: string }): Promise<AuthResponse> {
    return request(baseUrl, 'POST', '/api/auth/login', undefined, body);
  }

  // ---- lifecycle ------------------------------------------------------------------------
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  /** Loads the user and the conversation list, then connects the socket. */
  async start(): Promise<void> {
    this.me = await this.api<User>('GET', '/api/users/me');
    await this.refreshConversations();
    this.socket.connect();
  }

  /**
   * Disconnects for good. Delivered and read markers still waiting for their
   * interval are sent first, and the socket closes once they are answered
   * (1 s at most): the server ignores events that arrive with the disconnect.
   */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const flushed = this.markers.flush();
    this.markers.stop();
    if (flushed === null) this.socket.disconnect();
    else {
      const giveUp = setTimeout(() => this.socket.disconnect(), 1000);
      void flushed.then(() => {
        clearTimeout(giveUp);
        this.socket.disconnect();
      });
    }
    this.listeners.clear();
  }

  /**
   * Socket.IO reconnects by itself after a network loss, but not when the
   * server ended the connection (a restart) or refused the handshake: then
   * this tries again, with backoff, until it connects or the token is refused.
   */
  private reconnectLater(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped && !this.socket.connected) this.socket.connect();
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 30_000);
  }

  api<T>(method: string, path: string, body?: unknown): Promise<T> {
    return request<T>(this.o.baseUrl, method, path, this.o.token, body);
  }

  // ---- conversations ----------------------------------------------------------------------
  async refreshConversations(): Promise<void> {
    const [active, archived] = await Promise.all([
      this.api<{ conversations: Conversation[] }>('GET', '/api/conversations?limit=500'),
      this.api<{ conversations: Conversation[] }>('GET', '/api/conversations?limit=500&archived=true'),
    ]);
    this.conversations.clear();
    for (const c of [...active.conversations, ...archived.conversations]) this.putConversation(c);
    this.changed();
  }

  private putConversation(c: Conversation): void {
    // Holding none of its messages, anything loaded later is at least as fresh as this snapshot.
    if (!this.messages.holds(c.id)) this.cursors.startAt(c.id, c.lastRev);
    this.conversations.set(c.id, c);
    for (const u of c.members) {
      this.online.set(u.id, u.online);
      this.lastSeen.set(u.id, u.lastSeenAt);
    }
    if (c.lastMessage) this.messages.apply([c.lastMessage]);
  }

  /** Conversations, latest activity first (by their last message, then creation). */
  conversationList(archived: boolean): Conversation[] {
    const when = (c: Conversation) => c.lastMessage?.createdAt ?? c.createdAt;
    return [...this.conversations.values()].filter((c) => c.archived === archived).sort((a, b) => (when(a) < when(b) ? 1 : -1));
  }

  async findPeople(q: string): Promise<User[]> {
    return (await this.api<{ users: User[] }>('GET', `/api/users?q=${encodeURIComponent(q)}&limit=20`)).users;
  }

  async createDirect(userId: string): Promise<Conversation> {
    const c = await this.api<Conversation>('POST', '/api/conversations', { type: 'direct', memberIds: [userId] });
    this.putConversation(c);
    this.changed();
    return c;
  }

  async createGroup(title: string, memberIds: string[]): Promise<Conversation> {
    const c = await this.api<Conversation>('POST', '/api/conversations', { type: 'group', title, memberIds });
    this.putConversation(c);
    this.changed();
    return c;
  }

  async setArchived(conversationId: string, archived: boolean): Promise<void> {
    const c = await this.api<Conversation>(archived ? 'PUT' : 'DELETE', `/api/conversations/${conversationId}/archive`);
    this.putConversation(c);
    this.changed();
  }

  /**
   * The caller's notification preferences for a conversation: `level`
   * (`all`, `mentions`, `none`) and a mute until a time (`null`: none).
   * The caller's other devices hear of it through `conversation:updated`.
   */
  async setNotifications(conversationId: string, settings: { level: NotificationLevel; mutedUntil?: Date | string | null }): Promise<Conversation> {
    const until = settings.mutedUntil instanceof Date ? settings.mutedUntil.toISOString() : (settings.mutedUntil ?? null);
    const c = await this.api<Conversation>('PUT', `/api/conversations/${conversationId}/notifications`, { level: settings.level, mutedUntil: until });
    this.putConversation(c);
    this.changed();
    return c;
  }

  /** Signs this session out on the server (its token stops working everywhere), then stops. */
  async logout(): Promise<void> {
    try {
      await this.api('POST', '/api/auth/logout');
    } finally {
      this.stop();
    }
  }

  // ---- Web Push (issue #19) ----------------------------------------------------------------
  /** The server's VAPID public key (base64url): `applicationServerKey` for `pushManager.subscribe`. */
  async pushKey(): Promise<string> {
    return (await this.api<{ publicKey: string }>('GET', '/api/push/key')).publicKey;
  }

  /** Registers a browser's push subscription (`PushSubscription.toJSON()`); it ends with this session. */
  async subscribePush(subscription: { endpoint: string; keys: { p256dh: string; auth: string } }): Promise<void> {
    await this.api('POST', '/api/push/subscriptions', subscription);
  }

  /** Forgets this browser's subscription (on sign-out, or when the user turns pushes off). */
  async unsubscribePush(endpoint: string): Promise<void> {
    await this.api('DELETE', '/api/push/subscriptions', { endpoint });
  }

  /** Whether notifications show message text (the user's choice, on every device). */
  async notificationPreviews(): Promise<boolean> {
    return (await this.api<{ previews: boolean }>('GET', '/api/users/me/notifications')).previews;
  }

  async setNotificationPreviews(previews: boolean): Promise<boolean> {
    return (await this.api<{ previews: boolean }>('PUT', '/api/users/me/notifications', { previews })).previews;
  }

  // ---- messages ---------------------------------------------------------------------------
  /** Joins (typing) and loads the latest page. */
  async open(conversationId: string): Promise<void> {
    const ack = await this.call('conversation:join', { conversationId, limit: 50 });
    this.messages.apply(ack.messages);
    this.changed();
  }

  async close(conversationId: string): Promise<void> {
    void this.markers.flush(conversationId);
    await this.call('conversation:leave', { conversationId }).catch(() => undefined);
  }

  /** Loads the page before the oldest loaded message; answers whether more is left. */
  async loadOlder(conversationId: string): Promise<boolean> {
    const oldest = this.messages.timeline(conversationId).oldestSeq;
    if (oldest === null || oldest <= 1) return false;
    const page = await this.api<HistoryResponse>('GET', `/api/conversations/${conversationId}/messages?before=${oldest}&limit=50`);
    this.messages.apply(page.messages);
    this.changed();
    return page.hasMore;
  }

  /**
   * Shows the message at once (pending), then sends it; an unacknowledged
   * send is retried with the same clientId, so it is stored exactly once.
   */
  send(conversationId: string, content: string, opts: { replyToId?: string; attachmentIds?: string[] } = {}): string {
    const clientId = newClientId();
    const { replyToId, attachmentIds } = opts;
    this.messages.addPending({ clientId, conversationId, content, replyToId, attachmentIds, createdAt: new Date().toISOString(), state: 'sending' });
    this.outbox.push({ clientId, conversationId, content, replyToId, attachmentIds, inFlight: false, attempts: 0 });
    this.changed();
    this.flushOutbox();
    return clientId;
  }

  /** Forgets a message that failed to send (it was never stored). */
  discard(conversationId: string, clientId: string): void {
    const i = this.outbox.findIndex((e) => e.clientId === clientId);
    if (i !== -1 && !this.outbox[i]!.inFlight) this.outbox.splice(i, 1);
    this.messages.removePending(conversationId, clientId);
    this.changed();
  }

  /** Loads the page after `afterSeq` (to fill a gap forward); answers whether more follows. */
  async loadNewer(conversationId: string, afterSeq: number): Promise<boolean> {
    const page = await this.api<HistoryResponse>('GET', `/api/conversations/${conversationId}/messages?after=${afterSeq}&limit=50`);
    this.messages.apply(page.messages);
    this.changed();
    return page.hasMore;
  }

  /** Sends a failed message again (same clientId). */
  retry(conversationId: string, clientId: string): void {
    const entry = this.outbox.find((e) => e.clientId === clientId);
    if (entry) entry.attempts = 0;
    else {
      const p = this.messages.timeline(conversationId).pending.find((x) => x.clientId === clientId);
      if (!p) return;
      this.outbox.push({ clientId, conversationId, content: p.content, replyToId: p.replyToId, attachmentIds: p.attachmentIds, inFlight: false, attempts: 0 });
    }
    this.messages.updatePending(conversationId, clientId, { state: 'sending', error: undefined });
    this.changed();
    this.flushOutbox();
  }

  async edit(messageId: string, content: string): Promise<Message> {
    const { message } = await this.call('message:edit', { messageId, content });
    this.applyChange(message);
    this.changed();
    return message;
  }

  /**
   * Uploads a file to a conversation; send it with `send(id, text, {attachmentIds})`.
   * `onProgress(sent, total)` follows the upload (in browsers through
   * XMLHttpRequest's upload events; where there is none, at the start and
   * the end); `signal` cancels it (rejects with code `network`, message
   * `aborted`). An unsent upload is erased by the server after a day.
   */
  upload(
    conversationId: string,
    file: Blob,
    name: string,
    opts: { onProgress?: (sent: number, total: number) => void; signal?: AbortSignal } = {},
  ): Promise<Attachment> {
    const url = `${this.o.baseUrl}/api/conversations/${encodeURIComponent(conversationId)}/attachments`;
    const form = new FormData();
    form.append('file', file, name);
    const { onProgress, signal } = opts;
    if (signal?.aborted) return Promise.reject(new ParleyError('network', 'aborted'));
    const fail = (status: number, text: string) => {
      let err: WireError | undefined;
      try {
        err = (JSON.parse(text) as { error?: WireError }).error;
      } catch {
        // not JSON
      }
      return new ParleyError(err?.code ?? 'internal', err?.message ?? `HTTP ${status}`, err?.data);
    };
    if (typeof XMLHttpRequest !== 'undefined') {
      return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', url);
        xhr.setRequestHeader('authorization', `Bearer ${this.o.token}`);
        xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
        xhr.onload = () => (xhr.status === 201 ? resolve(JSON.parse(xhr.responseText) as Attachment) : reject(fail(xhr.status, xhr.responseText)));
        xhr.onerror = () => reject(new ParleyError('network', 'the upload failed'));
        xhr.onabort = () => reject(new ParleyError('network', 'aborted'));
        signal?.addEventListener('abort', () => xhr.abort(), { once: true });
        xhr.send(form);
      });
    }
    onProgress?.(0, file.size);
    return fetch(url, { method: 'POST', headers: { authorization: `Bearer ${this.o.token}` }, body: form, signal }).then(
      async (res) => {
        const text = await res.text();
        if (res.status !== 201) throw fail(res.status, text);
        onProgress?.(file.size, file.size);
        return JSON.parse(text) as Attachment;
      },
      (e: unknown) => {
        throw new ParleyError('network', signal?.aborted ? 'aborted' : (e as Error).message);
      },
    );
  }

  /** Adds the caller's reaction (one emoji); answers the message as it now is. */
  async react(messageId: string, emoji: string): Promise<Message> {
    const { message } = await this.call('reaction:add', { messageId, emoji });
    this.applyChange(message);
    this.changed();
    return message;
  }

  /** Removes the caller's reaction; answers the message as it now is. */
  async unreact(messageId: string, emoji: string): Promise<Message> {
    const { message } = await this.call('reaction:remove', { messageId, emoji });
    this.applyChange(message);
    this.changed();
    return message;
  }

  async remove(messageId: string): Promise<Message> {
    const { message } = await this.call('message:delete', { messageId });
    this.applyChange(message);
    this.changed();
    return message;
  }

  /**
   * Marks everything up to `seq` read (and so delivered). Coalesced with the
   * conversation's other marker moves (`markerIntervalMs`); resolves once the
   * server has it. Sent after a reconnect if the connection is down.
   */
  async markRead(conversationId: string, seq: number): Promise<void> {
    const c = this.conversations.get(conversationId);
    if (c) this.conversations.set(conversationId, { ...c, unreadCount: 0 });
    this.changed();
    this.markers.read(conversationId, seq);
    await this.markers.whenRead(conversationId, seq);
  }

  /** Sends the delivered and read markers still waiting for their interval now (before a page is hidden or unloaded). */
  flushMarkers(): void {
    void this.markers.flush();
  }

  setTyping(conversationId: string, isTyping: boolean): void {
    if (this.socket.connected) this.socket.emit('typing', { conversationId, isTyping }, () => undefined);
  }

  async search(q: string, conversationId?: string): Promise<SearchResponse['results']> {
    const scope = conversationId ? `&conversationId=${encodeURIComponent(conversationId)}` : '';
    return (await this.api<SearchResponse>('GET', `/api/search?q=${encodeURIComponent(q)}${scope}&limit=50`)).results;
  }

  /** Loads the messages around a seq (to jump to a search hit). */
  async loadAround(conversationId: string, seq: number): Promise<void> {
    const [before, after] = await Promise.all([
      this.api<HistoryResponse>('GET', `/api/conversations/${conversationId}/messages?before=${seq}&limit=25`),
      this.api<HistoryResponse>('GET', `/api/conversations/${conversationId}/messages?after=${seq - 1}&limit=25`),
    ]);
    this.messages.apply([...before.messages, ...after.messages]);
    this.changed();
  }

  // ---- the socket ---------------------------------------------------------------------
  private call<E extends keyof ClientToServerEvents>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
  ): Promise<Exclude<Parameters<Parameters<ClientToServerEvents[E]>[1]>[0], { ok: false }>> {
    type Answer = { ok: boolean; error?: WireError };
    return new Promise((resolve, reject) => {
      if (!this.socket.connected) return reject(new ParleyError('network', 'not connected'));
      (this.socket.timeout(this.ackTimeoutMs).emit as (e: string, p: unknown, cb: (err: Error | null, a: Answer) => void) => void)(
        event,
        payload,
        (err, answer) => {
          if (err) return reject(new ParleyError('timeout', 'no answer from the server'));
          if (!answer.ok) return reject(new ParleyError(answer.error!.code, answer.error!.message, answer.error!.data));
          resolve(answer as never);
        },
      );
    });
  }

  private flushOutbox(): void {
    if (!this.socket.connected || this.connection === 'syncing' || this.connection === 'connecting') return;
    for (const entry of this.outbox) {
      if (entry.inFlight) continue;
      entry.inFlight = true;
      entry.attempts++;
      this.call('message:send', {
        conversationId: entry.conversationId,
        content: entry.content,
        clientId: entry.clientId,
        ...(entry.replyToId === undefined ? {} : { replyToId: entry.replyToId }),
        ...(entry.attachmentIds === undefined ? {} : { attachmentIds: entry.attachmentIds }),
      }).then(
        ({ message }) => {
          this.outbox.splice(this.outbox.indexOf(entry), 1);
          this.applyChange(message);
          // Receipts can overtake the ack (the others had the message first): its tick from what they said.
          this.raiseOwnStatus(message.conversationId);
          this.bumpConversation(message);
          this.changed();
        },
        (err: ParleyError) => {
          entry.inFlight = false;
          if (err.retryable && entry.attempts < 5) {
            // Again after a pause; a reconnect flushes at once anyway.
            setTimeout(() => this.flushOutbox(), Math.min(8000, 500 * 2 ** entry.attempts));
            return;
          }
          this.outbox.splice(this.outbox.indexOf(entry), 1);
          this.messages.updatePending(entry.conversationId, entry.clientId, { state: 'failed', error: err.message });
          this.changed();
        },
      );
    }
  }

  /**
   * A live change (an event, or the ack of this client's own send, edit or
   * deletion): applied, and its rev noted for the sync cursor. History pages
   * and snapshots are applied directly: they move no cursor.
   */
  private applyChange(m: Message): void {
    this.messages.apply([m]);
    this.cursors.saw(m.conversationId, m.rev);
  }

  private bumpConversation(m: Message): void {
    const c = this.conversations.get(m.conversationId);
    if (!c) return;
    const mine = m.senderId === this.me?.id;
    this.conversations.set(m.conversationId, {
      ...c,
      lastMessage: !c.lastMessage || c.lastMessage.seq <= m.seq ? m : c.lastMessage,
      lastSeq: Math.max(c.lastSeq, m.seq),
      lastRev: Math.max(c.lastRev, m.rev),
      unreadCount: mine ? 0 : c.lastMessage && c.lastMessage.seq >= m.seq ? c.unreadCount : c.unreadCount + 1,
    });
  }

  /**
   * After a connect: every change missed, through `sync` pages, before the
   * outbox sends again. The cursors sent are SyncCursors', never the highest
   * rev seen: live changes arrive out of rev order (protocol.md, the sync cursor).
   * The first connect catches up too: what was committed between the
   * conversation list and the socket's join reaches this client no other way.
   * It stays `connecting` meanwhile (nothing to announce on a first load);
   * a reconnect says `syncing`.
   */
  private async catchUp(first = false): Promise<void> {
    this.connection = first ? 'connecting' : 'syncing';
    this.changed();
    try {
      const cursors: Record<string, number> = {};
      for (const id of this.conversations.keys()) {
        // Messages held with nothing known of their revs (loaded before the conversation was listed): from the start.
        const from = this.cursors.syncFrom(id) ?? (this.messages.holds(id) ? 0 : undefined);
        if (from !== undefined) cursors[id] = from;
      }
      for (let page = 0; page < 1000; page++) {
        const ack: Omit<SyncAck, 'ok'> = await this.call('sync', { cursors, limit: 500 });
        this.messages.apply(ack.messages);
        const highest = new Map<string, number>();
        for (const m of ack.messages) highest.set(m.conversationId, Math.max(highest.get(m.conversationId) ?? 0, m.rev));
        for (const [id, sent] of Object.entries(cursors)) {
          this.cursors.synced(id, sent, highest.get(id));
          cursors[id] = this.cursors.syncFrom(id) ?? sent;
        }
        if (!ack.hasMore) break;
      }
      await this.refreshConversations();
    } catch {
      // the next reconnect tries again
    } finally {
      this.connection = this.socket.connected ? 'online' : 'reconnecting';
      this.changed();
      this.flushOutbox();
    }
  }

  private wire(): void {
    const s = this.socket;
    s.on('connect', () => {
      this.retryDelay = 1000;
      this.markers.resume();
      const first = !this.everConnected;
      this.everConnected = true;
      void this.catchUp(first);
    });
    s.on('disconnect', (reason) => {
      this.connection = 'reconnecting';
      for (const e of this.outbox) e.inFlight = false;
      this.typing.clear();
      this.changed();
      if (reason === 'io server disconnect') this.reconnectLater();
    });
    s.on('connect_error', (err) => {
      if (err.message === 'unauthorized') {
        this.connection = 'unauthorized';
        this.changed();
        return;
      }
      this.connection = this.everConnected ? 'reconnecting' : 'connecting';
      this.changed();
      // A refused handshake (the server is shutting down) is not retried by Socket.IO itself.
      if (!s.active) this.reconnectLater();
    });
    s.io.on('reconnect_attempt', () => {
      this.connection = 'reconnecting';
      this.changed();
    });
    s.on('message:new', ({ message }) => {
      this.applyChange(message);
      this.bumpConversation(message);
      this.typing.get(message.conversationId)?.delete(message.senderId);
      this.changed();
      // It reached this device: the sender's tick can turn to "delivered" (coalesced: one move per interval).
      if (message.senderId !== this.me?.id) this.markers.delivered(message.conversationId, message.seq);
    });
    s.on('message:updated', ({ message }) => {
      this.applyChange(message);
      const c = this.conversations.get(message.conversationId);
      if (c?.lastMessage?.id === message.id) this.conversations.set(c.id, { ...c, lastMessage: message });
      this.changed();
    });
    s.on('receipt', (r) => {
      if (r.userId === this.me?.id) {
        // read on another device: the unread count clears here too
        const c = this.conversations.get(r.conversationId);
        if (c && r.type === 'read' && r.seq >= c.lastSeq) this.conversations.set(c.id, { ...c, unreadCount: 0 });
      } else if (this.me) {
        this.applyReceipt(r.conversationId, r.userId, r.seq, r.type);
      }
      this.changed();
    });
    s.on('typing', ({ conversationId, userId, isTyping }) => {
      let set = this.typing.get(conversationId);
      if (!set) this.typing.set(conversationId, (set = new Set()));
      if (isTyping) set.add(userId);
      else set.delete(userId);
      this.changed();
    });
    s.on('presence', ({ userId, online, lastSeenAt }) => {
      this.online.set(userId, online);
      this.lastSeen.set(userId, lastSeenAt);
      this.changed();
    });
    s.on('conversation:new', ({ conversation }) => {
      this.putConversation(conversation);
      this.changed();
    });
    s.on('conversation:updated', ({ conversation }) => {
      this.putConversation(conversation);
      this.changed();
    });
    s.on('conversation:removed', ({ conversationId }) => {
      this.markers.forget(conversationId);
      this.conversations.delete(conversationId);
      this.messages.drop(conversationId);
      this.cursors.drop(conversationId);
      this.changed();
    });
  }

  /** Members' markers as far as this client has seen them, for the ticks of its own messages. */
  private readonly seenMarkers = new Map<string, Map<string, { delivered: number; read: number }>>();

  private applyReceipt(conversationId: string, userId: string, seq: number, type: 'delivered' | 'read'): void {
    const c = this.conversations.get(conversationId);
    if (!c || !this.me) return;
    let byUser = this.seenMarkers.get(conversationId);
    if (!byUser) this.seenMarkers.set(conversationId, (byUser = new Map()));
    const m = byUser.get(userId) ?? { delivered: 0, read: 0 };
    if (type === 'read') m.read = Math.max(m.read, seq);
    m.delivered = Math.max(m.delivered, m.read, type === 'delivered' ? seq : 0);
    byUser.set(userId, m);
    this.raiseOwnStatus(conversationId);
  }

  /**
   * The ticks of this user's messages from the members' markers seen in
   * receipts: a status every other member has reached. Members not heard of
   * yet count as reached only as far as the server's own status said.
   */
  private raiseOwnStatus(conversationId: string): void {
    const c = this.conversations.get(conversationId);
    const byUser = this.seenMarkers.get(conversationId);
    if (!c || !this.me || !byUser) return;
    const others = c.members.filter((u) => u.id !== this.me!.id).map((u) => byUser.get(u.id));
    if (others.length === 0 || others.some((x) => x === undefined)) return;
    const minRead = Math.min(...others.map((x) => x!.read));
    const minDelivered = Math.min(...others.map((x) => x!.delivered));
    this.messages.raiseStatus(conversationId, this.me.id, minDelivered, 'delivered');
    this.messages.raiseStatus(conversationId, this.me.id, minRead, 'read');
  }
}

/**
 * A UUIDv7 (RFC 9562): the time in milliseconds first, then random bits. One
 * sender's ids then sort roughly in time, so the server's index of them
 * (conversation, sender, clientId) grows at its end: a random UUID put each
 * send on a random page of it (measured: 240 instead of 130 WAL pages for a
 * batch of 140 sends: docs/performance.md, ingest).
 */
export function newClientId(now = Date.now()): string {
  const b = new Uint8Array(16);
  const c = globalThis.crypto;
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
