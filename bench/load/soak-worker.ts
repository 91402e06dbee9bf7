/**
 * A soak worker thread (bench/soak.ts): its share of the users, each with one
 * or two devices that come and go for ever (a device is online for an
 * exponentially distributed time, then away, then back), and while online do
 * what the shipped client does: `sync` from its cursors on every connect,
 * delivered and read markers through the client library's coalescer, typing,
 * now and then a fresh login (and a logout of the token it replaces). On top,
 * at steady rates for the whole worker: messages (time-driven, whatever the
 * answers), history (`conversation:join` or REST), searches, edits and
 * deletions of one's own messages. Every interval the main thread asks for
 * what happened since the last report (`report`), latencies included.
 */
import { performance as perf } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { io, type Socket } from 'socket.io-client';
import { markerInterval, MarkerCoalescer } from '../../src/client/marker-coalescer.js';
import type { ClientToServerEvents, ServerToClientEvents, SyncAck } from '../../src/protocol/events.js';
import type { Message } from '../../src/protocol/models.js';
import { nowAbs, rng } from '../lib.js';
import { sentences } from '../text.js';
import { clientIdOf, parseClientId } from './messages.js';

export interface SoakConversation {
  id: string;
  members: number;
}

export interface SoakUser {
  id: string;
  username: string;
  password: string;
  /** One token per device (a device's fresh login revokes only its own). */
  tokens: string[];
  conversations: SoakConversation[];
}

export interface SoakSetup {
  url: string;
  /** This worker's number: device tags are unique across workers. */
  index: number;
  users: SoakUser[];
  /** This worker's share of each steady rate, per second. */
  rates: { messages: number; history: number; search: number; edits: number };
  /** Mean time a device stays connected, and away, ms. */
  onlineMeanMs: number;
  offlineMeanMs: number;
  /** Share of reconnects that log in again first (and log the old token out). */
  loginShare: number;
  /** Share of sends preceded by `typing: true`. */
  typingShare: number;
  /** Words a search looks for. */
  searchWords: string[];
}

export type SoakCommand = { cmd: 'start' } | { cmd: 'report' } | { cmd: 'stop' };

/** What happened in a worker since its last report. */
export interface SoakReport {
  type: 'report';
  /** Send (scheduled) to delivery at another device, ms. */
  latencyMs: number[];
  /** Send (scheduled) to ack, ms. */
  ackMs: number[];
  /** How late the sender sent after the scheduled time, ms. */
  lagMs: number[];
  counts: Record<string, number>;
  /** Answers with `ok: false` (or none in time), by code. */
  errors: Record<string, number>;
  /** Devices online at the time of the report. */
  online: number;
  /** Event-loop utilisation of the worker since the last report. */
  elu: number;
}

type Elu = { utilization: number };
const elu = (perf as unknown as { eventLoopUtilization(since?: Elu): Elu }).eventLoopUtilization.bind(perf);

const setup = workerData as SoakSetup;
const port = parentPort!;
const random = rng(7919 + setup.index);
const nextText = sentences(100 + setup.index, { bytes: 100 });
const ACK_TIMEOUT_MS = 30_000;
/** Live revs seen past a hole, per conversation, before the device gives up tracking them (the next sync fills the hole). */
const MAX_AHEAD = 64;

/** Exponentially distributed, with this mean. */
const expMs = (mean: number) => -Math.log(1 - random()) * mean;
const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)]!;

// ---- the interval's figures ------------------------------------------------------

let latencyMs: number[] = [];
let ackMs: number[] = [];
let lagMs: number[] = [];
let counts: Record<string, number> = {};
let errors: Record<string, number> = {};
let elu0 = elu();
const count = (k: string, n = 1) => (counts[k] = (counts[k] ?? 0) + n);
const error = (code: string) => (errors[code] = (errors[code] ?? 0) + 1);

// ---- REST -------------------------------------------------------------------------

async function rest<T>(method: string, path: string, token?: string, body?: unknown): Promise<T | null> {
  try {
    const res = await fetch(setup.url + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 300) {
      error(`http ${res.status} ${path.split('?')[0]!.replace(/\/c[\w-]+/g, '/:id')}`);
      return null;
    }
    return (text ? JSON.parse(text) : {}) as T;
  } catch (err) {
    error(`fetch ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

// ---- devices ----------------------------------------------------------------------

type ParleySocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type AnyAck = { ok: true } | { ok: false; error: { code: string } };

let stopping = false;
let nextN = 0;
/** Devices online and not leaving: the ones that send and read. */
const online: Device[] = [];

class Device {
  private socket: ParleySocket | null = null;
  private leaving = false;
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Per conversation: the rev up to which every change is applied (the sync cursor), and live revs seen past it. */
  private readonly cursors = new Map<string, number>();
  private readonly ahead = new Map<string, Set<number>>();
  /** Its own recent messages, for edits and deletions. */
  private readonly own: string[] = [];
  private readonly markers: MarkerCoalescer;
  private readonly sizes: Map<string, number>;
  private connectedOnce = false;

  constructor(
    readonly user: SoakUser,
    readonly tag: number,
    private token: string,
  ) {
    this.sizes = new Map(user.conversations.map((c) => [c.id, c.members]));
    this.markers = new MarkerCoalescer({
      intervalMs: (id) => markerInterval(this.sizes.get(id) ?? 2),
      canSend: () => this.socket?.connected === true,
      send: (type, conversationId, seq) =>
        new Promise((resolve, reject) => {
          const s = this.socket;
          if (!s?.connected) return reject({ retryable: true });
          count('markerMoves');
          s.timeout(ACK_TIMEOUT_MS).emit(type === 'read' ? 'message:read' : 'message:delivered', { conversationId, seq }, (err: Error | null, ack: AnyAck) => {
            // A disconnect answers pending acks with an error at once: retryable, it goes again after the reconnect.
            if (err) reject({ retryable: true });
            else if (ack.ok) resolve();
            else {
              error(`${type} ${ack.error.code}`);
              reject({ retryable: false });
            }
          });
        }),
    });
  }

  /** Comes online after `delayMs`. */
  later(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), delayMs);
  }

  private async connect(): Promise<void> {
    if (stopping) return;
    if (this.connectedOnce && random() < setup.loginShare) {
      // A fresh login, as after an app reinstall; the token it replaces is revoked.
      const r = await rest<{ token: string }>('POST', '/api/auth/login', undefined, { username: this.user.username, password: this.user.password });
      if (r) {
        count('logins');
        if (await rest('POST', '/api/auth/logout', this.token, {})) count('logouts');
        this.token = r.token;
        if (random() < 0.5) (await rest('GET', '/api/conversations', this.token)) && count('conversationLists');
      }
    }
    if (stopping) return;
    const socket: ParleySocket = io(setup.url, { auth: { token: this.token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: ACK_TIMEOUT_MS });
    this.socket = socket;
    socket.on('message:new', ({ message }) => this.received(message, true));
    socket.on('message:updated', ({ message }) => this.received(message, false));
    socket.on('receipt', () => count('receipts'));
    socket.on('typing', () => count('typingEvents'));
    socket.on('presence', () => count('presenceEvents'));
    socket.once('connect_error', (err) => {
      error(`connect ${err.message}`);
      socket.close();
      this.socket = null;
      this.later(expMs(setup.offlineMeanMs));
    });
    socket.once('connect', () => {
      count('connects');
      this.connectedOnce = true;
      this.leaving = false;
      online.push(this);
      this.markers.resume();
      void this.sync();
      this.timer = setTimeout(() => this.leave(), expMs(setup.onlineMeanMs));
    });
    socket.on('disconnect', (reason) => {
      this.offline();
      if (this.leaving || stopping) return;
      // Not asked for: the server dropped it.
      error(`disconnected ${reason}`);
      this.later(expMs(setup.offlineMeanMs));
    });
  }

  /** Catch-up, as the client library does after every connect: pages until level. */
  private async sync(): Promise<void> {
    for (let page = 0; page < 50; page++) {
      const s = this.socket;
      if (!s?.connected) return;
      const cursors: Record<string, number> = {};
      for (const c of this.user.conversations) cursors[c.id] = this.cursors.get(c.id) ?? 0;
      const ack = await this.ask<SyncAck>('sync', (cb) => s.timeout(ACK_TIMEOUT_MS).emit('sync', { cursors, limit: 500 }, cb));
      if (!ack) return;
      count('syncs');
      count('syncMessages', ack.messages.length);
      // Ascending by rev within a conversation: the highest returned is a cursor.
      for (const m of ack.messages) if (m.rev > (this.cursors.get(m.conversationId) ?? 0)) this.moveCursor(m.conversationId, m.rev);
      if (!ack.hasMore) return;
    }
  }

  private moveCursor(conversationId: string, rev: number): void {
    this.cursors.set(conversationId, rev);
    const ahead = this.ahead.get(conversationId);
    if (!ahead) return;
    let c = rev;
    for (const r of [...ahead]) if (r <= c) ahead.delete(r);
    while (ahead.delete(c + 1)) c++;
    this.cursors.set(conversationId, c);
  }

  private received(m: Message, isNew: boolean): void {
    // Live revs move the cursor only where they leave no hole (protocol.md, the sync cursor).
    const cursor = this.cursors.get(m.conversationId) ?? 0;
    if (m.rev === cursor + 1) this.moveCursor(m.conversationId, m.rev);
    else if (m.rev > cursor + 1) {
      let ahead = this.ahead.get(m.conversationId);
      if (!ahead) this.ahead.set(m.conversationId, (ahead = new Set()));
      if (ahead.size < MAX_AHEAD) ahead.add(m.rev);
    }
    if (!isNew) {
      count('updates');
      return;
    }
    const id = m.clientId ? parseClientId(m.clientId) : null;
    if (!id || id.tag === this.tag) return;
    count('deliveries');
    latencyMs.push(nowAbs() - id.sentAbs);
    // As the shipped client: delivered on arrival; read when the conversation is open (here: a third of the time).
    this.markers.delivered(m.conversationId, m.seq);
    if (random() < 1 / 3) this.markers.read(m.conversationId, m.seq);
  }

  /** An emit with an ack and a timeout; null (counted) unless `ok`. */
  private ask<A extends object>(event: string, emit: (cb: (err: Error | null, ack: ({ ok: true } & A) | { ok: false; error: { code: string } }) => void) => void): Promise<A | null> {
    this.inFlight++;
    return new Promise((resolve) =>
      emit((err, ack) => {
        this.inFlight--;
        if (err) error(`${event} ${this.leaving ? 'closed' : 'timeout'}`);
        else if (!ack.ok) error(`${event} ${ack.error.code}`);
        resolve(!err && ack.ok ? ack : null);
      }),
    );
  }

  /** Sends one message; `dueAbs` is when it was due (the latency counts from then). */
  send(dueAbs: number): void {
    const s = this.socket!;
    const conversation = pick(this.user.conversations);
    const typing = random() < setup.typingShare;
    if (typing) {
      count('typing');
      void this.ask('typing', (cb) => s.timeout(ACK_TIMEOUT_MS).emit('typing', { conversationId: conversation.id, isTyping: true }, cb));
    }
    count('sent');
    const clientId = clientIdOf(this.tag, nextN++, dueAbs);
    void this.ask<{ message: Message }>('message:send', (cb) => s.timeout(ACK_TIMEOUT_MS).emit('message:send', { conversationId: conversation.id, content: nextText(), clientId }, cb)).then((ack) => {
      if (!ack) return;
      ackMs.push(nowAbs() - dueAbs);
      this.own.push(ack.message.id);
      if (this.own.length > 20) this.own.shift();
      // Half the typists say they stopped; the others are stopped by the server's timer.
      if (typing && random() < 0.5 && s.connected) void this.ask('typing', (cb) => s.timeout(ACK_TIMEOUT_MS).emit('typing', { conversationId: conversation.id, isTyping: false }, cb));
    });
  }

  history(): void {
    const conversation = pick(this.user.conversations);
    if (random() < 0.5) {
      const s = this.socket!;
      void this.ask('conversation:join', (cb) => s.timeout(ACK_TIMEOUT_MS).emit('conversation:join', { conversationId: conversation.id, limit: 50 }, cb)).then((a) => a && count('joins'));
    } else void rest('GET', `/api/conversations/${conversation.id}/messages?limit=50`, this.token).then((a) => a && count('restHistories'));
  }

  search(): void {
    void rest('GET', `/api/search?q=${encodeURIComponent(pick(setup.searchWords))}&limit=20`, this.token).then((a) => a && count('searches'));
  }

  /** Edits one of its recent messages, or now and then deletes one. */
  change(): void {
    const s = this.socket!;
    const messageId = this.own[Math.floor(random() * this.own.length)];
    if (messageId === undefined) return;
    if (random() < 0.2) {
      this.own.splice(this.own.indexOf(messageId), 1);
      void this.ask('message:delete', (cb) => s.timeout(ACK_TIMEOUT_MS).emit('message:delete', { messageId }, cb)).then((a) => a && count('deletes'));
    } else void this.ask('message:edit', (cb) => s.timeout(ACK_TIMEOUT_MS).emit('message:edit', { messageId, content: nextText() }, cb)).then((a) => a && count('edits'));
  }

  /** Goes away once its answers are in (so no send is left unanswered); a fifth of the time while typing. */
  leave(): void {
    if (!this.socket || this.leaving) return;
    this.leaving = true;
    const i = online.indexOf(this);
    if (i >= 0) online.splice(i, 1);
    const s = this.socket;
    if (random() < 0.2) {
      count('leftTyping');
      s.emit('typing', { conversationId: pick(this.user.conversations).id, isTyping: true }, () => {});
    }
    const close = () => {
      if (this.inFlight > 0) return void (this.timer = setTimeout(close, 20));
      count('disconnects');
      s.close();
      this.offline();
      if (!stopping) this.later(expMs(setup.offlineMeanMs));
    };
    close();
  }

  private offline(): void {
    const i = online.indexOf(this);
    if (i >= 0) online.splice(i, 1);
    this.socket = null;
  }

  stop(): Promise<void> {
    clearTimeout(this.timer);
    this.markers.stop();
    if (!this.socket) return Promise.resolve();
    this.leave();
    // leave() waits for the answers in flight; give it up to the ack timeout.
    return new Promise((resolve) => {
      const check = () => (this.socket ? setTimeout(check, 20) : resolve());
      check();
    });
  }
}

const devices = setup.users.flatMap((u, i) => u.tokens.map((token, d) => new Device(u, setup.index * 100_000 + i * 4 + d, token)));

// ---- steady rates -----------------------------------------------------------------

const timers: ReturnType<typeof setTimeout>[] = [];

/** Calls `fn` with a device online `perSec` times a second, on a schedule (late calls are made up at once). */
function every(perSec: number, fn: (d: Device, dueAbs: number) => void, onLag?: (ms: number) => void): void {
  if (perSec <= 0) return;
  const period = 1000 / perSec;
  const t0 = performance.now();
  let i = 0;
  const tick = () => {
    if (stopping) return;
    const now = performance.now();
    for (; t0 + i * period <= now; i++) {
      const due = t0 + i * period;
      onLag?.(now - due);
      const d = online.length ? online[Math.floor(random() * online.length)]! : undefined;
      if (d) fn(d, performance.timeOrigin + due);
      else count('skipped');
    }
    timers.push(setTimeout(tick, Math.max(0, t0 + i * period - performance.now())));
  };
  timers.push(setTimeout(tick, period));
}

function start(): void {
  // Everyone arrives within the first 5 s rather than all at once.
  for (const d of devices) d.later(random() * 5000);
  every(setup.rates.messages, (d, due) => d.send(due), (ms) => lagMs.push(ms));
  every(setup.rates.history, (d) => d.history());
  every(setup.rates.search, (d) => d.search());
  every(setup.rates.edits, (d) => d.change());
}

function report(): SoakReport {
  const r: SoakReport = { type: 'report', latencyMs, ackMs, lagMs, counts, errors, online: online.length, elu: elu(elu0).utilization };
  latencyMs = [];
  ackMs = [];
  lagMs = [];
  counts = {};
  errors = {};
  elu0 = elu();
  return r;
}

port.on('message', (c: SoakCommand) => {
  switch (c.cmd) {
    case 'start':
      start();
      return port.postMessage({ type: 'started' });
    case 'report':
      return port.postMessage(report());
    case 'stop':
      stopping = true;
      for (const t of timers) clearTimeout(t);
      void Promise.all(devices.map((d) => d.stop())).then(() => port.postMessage(report()));
      return;
  }
});
port.postMessage({ type: 'ready' });
