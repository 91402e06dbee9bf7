/**
 * A chaos client: one user keeping a window of `message:send`s in flight,
 * each message with a clientId of its own. A send that is not acknowledged
 * (its connection dropped, no answer in time, or a retryable error such as
 * `unavailable`) is sent again with the same clientId until it is, over
 * whatever connection the client has by then: after a node dies the client
 * reconnects, to its home node or, while that is down, to the next one.
 *
 * Now and then it also sends an already acknowledged message again (a
 * "replay", as a client does that never saw the ack): the answer must be the
 * same message, and nothing new may be stored.
 */
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, SendAck, ServerToClientEvents } from '../../src/protocol/events.js';
import type { ErrorCode } from '../../src/protocol/errors.js';
import type { Ledger, SentMessage } from './ledger.js';
import { sleep } from './nodes.js';

type ChaosSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface SenderOptions {
  /** Sends in flight at once (below the server's 64 unanswered events per connection). */
  window: number;
  /** An attempt with no answer after this long is sent again. */
  ackTimeoutMs: number;
  /** Share of sends that replay an already acknowledged message. */
  replayRate: number;
  /** Longest time the client may go without a connection before the run fails. */
  offlineLimitMs: number;
}

/** What every client of a run counted. */
export interface Counters {
  /** `message:send` emits: first sends, retries and replays. */
  emits: number;
  /** Why attempts were sent again: `disconnect`, `timeout`, or the ack's error code. */
  retries: Record<string, number>;
  replays: number;
  /** Successful connections, the first ones included. */
  connects: number;
  /** Failed connection attempts by error message (`xhr poll error`, `unavailable`, `timeout`, ...). */
  connectErrors: Record<string, number>;
}

export function newCounters(): Counters {
  return { emits: 0, retries: {}, replays: 0, connects: 0, connectErrors: {} };
}

/** Error codes after which the same send may succeed (docs/protocol.md, Errors). */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['unavailable', 'internal', 'rate_limited']);
/** A retryAfter longer than this is not waited out in full: the run would only stall. */
const MAX_RETRY_AFTER_MS = 1000;

interface Attempt {
  msg: SentMessage;
  replay: boolean;
  socket: ChaosSocket;
  /** The node the socket is connected to. */
  url: string;
  timer: NodeJS.Timeout;
  /** Given up on (disconnect or timeout); an ack that still comes is recorded, nothing else. */
  over: boolean;
}

export interface SenderIdentity {
  /** Index of the sender in the run, in its clientIds. */
  index: number;
  userId: string;
  token: string;
  conversations: readonly string[];
}

export class Sender {
  private socket: ChaosSocket | undefined;
  private socketUrl = '';
  private readonly inFlight = new Set<Attempt>();
  /** Sends waiting for a connection or a free slot in the window, retries first. */
  private readonly retryQueue: SentMessage[] = [];
  /** Retries waiting out a `retryAfter`. */
  private readonly delayed = new Set<NodeJS.Timeout>();
  private readonly mine: SentMessage[] = [];
  private stopping = false;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly who: SenderIdentity,
    /** Node URLs in the order this client tries them: its home node first. */
    private readonly urls: readonly string[],
    private readonly tag: string,
    private readonly options: SenderOptions,
    private readonly ledger: Ledger,
    private readonly counters: Counters,
    private readonly random: () => number,
  ) {}

  /** Sends until stop(), then until every message it sent is acknowledged (or refused for good). */
  async run(): Promise<void> {
    while (!this.closed) {
      if (this.stopping && this.inFlight.size === 0 && this.retryQueue.length === 0 && this.delayed.size === 0) break;
      if (!this.socket?.connected) {
        await this.connect();
        continue;
      }
      while (this.inFlight.size < this.options.window) {
        const next = this.next();
        if (!next) break;
        this.emit(next.msg, next.replay);
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    this.close();
  }

  /** No new messages from now on; run() resolves once the sent ones are settled. */
  stop(): void {
    this.stopping = true;
    this.notify();
  }

  /** Drops everything at once (teardown). */
  close(): void {
    this.closed = true;
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    for (const a of this.inFlight) clearTimeout(a.timer);
    this.inFlight.clear();
    this.socket?.disconnect();
    this.notify();
  }

  /** Attempts on the wire to the node at `url`, waiting for their answer. */
  inFlightOn(url: string): number {
    let n = 0;
    for (const a of this.inFlight) if (a.url === url) n++;
    return n;
  }

  /**
   * Connected to another node than its home: leaves it, abandoning the sends
   * in flight there (retried at home, as after a lost connection). After a
   * restart this brings each node its clients back for its next kill.
   */
  goHome(): void {
    if (this.socket?.connected && this.socketUrl !== this.urls[0]) this.socket.disconnect();
  }

  /** Messages of this client not acknowledged yet (nor refused for good). */
  unsettled(): SentMessage[] {
    return this.mine.filter((m) => !m.ack && !m.refused);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private next(): { msg: SentMessage; replay: boolean } | undefined {
    for (let msg = this.retryQueue.shift(); msg; msg = this.retryQueue.shift()) {
      if (!msg.ack) return { msg, replay: false }; // a late ack may have settled it meanwhile
    }
    if (this.stopping) return undefined;
    if (this.mine.length > 0 && this.random() < this.options.replayRate) {
      const old = this.mine[Math.floor(this.random() * this.mine.length)];
      if (old?.ack) return { msg: old, replay: true };
    }
    const { conversations, index, userId } = this.who;
    const k = this.mine.length;
    const conversationId = conversations[Math.floor(this.random() * conversations.length)] as string;
    const msg = this.ledger.record({
      clientId: `${this.tag}-s${index}-${k}`,
      conversationId,
      senderId: userId,
      content: `sender ${index} message ${k} (${Math.floor(this.random() * 1e9).toString(36)})`,
    });
    this.mine.push(msg);
    return { msg, replay: false };
  }

  private emit(msg: SentMessage, replay: boolean): void {
    const socket = this.socket as ChaosSocket;
    const attempt: Attempt = { msg, replay, socket, url: this.socketUrl, over: false, timer: setTimeout(() => this.giveUp(attempt, 'timeout'), this.options.ackTimeoutMs) };
    this.inFlight.add(attempt);
    this.counters.emits++;
    if (replay) this.counters.replays++;
    else {
      msg.attempts++;
      msg.lastSentAt = Date.now();
    }
    socket.emit('message:send', { conversationId: msg.conversationId, content: msg.content, clientId: msg.clientId }, (ack) => this.answered(attempt, ack));
  }

  private answered(attempt: Attempt, ack: Ack<SendAck>): void {
    const { msg } = attempt;
    if (ack.ok) this.ledger.acknowledged(msg, ack.message, attempt.url);
    if (attempt.over) return;
    this.settle(attempt);
    if (ack.ok) return;
    const { code, data } = ack.error;
    if (!RETRYABLE.has(code)) {
      this.ledger.violation('refused', `${msg.conversationId} ${msg.clientId}: refused with ${code} (${ack.error.message})`);
      if (!attempt.replay) msg.refused = code;
      return;
    }
    if (attempt.replay) return;
    this.counters.retries[code] = (this.counters.retries[code] ?? 0) + 1;
    const wait = Math.min(typeof data?.retryAfter === 'number' ? data.retryAfter : 100, MAX_RETRY_AFTER_MS);
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      this.retryQueue.push(msg);
      this.notify();
    }, wait);
    this.delayed.add(timer);
  }

  /** No answer will count for this attempt any more: its message goes back in the queue. */
  private giveUp(attempt: Attempt, why: 'timeout' | 'disconnect'): void {
    if (attempt.over) return;
    this.settle(attempt);
    attempt.over = true;
    if (attempt.replay || attempt.msg.ack) return;
    this.counters.retries[why] = (this.counters.retries[why] ?? 0) + 1;
    this.retryQueue.push(attempt.msg);
  }

  private settle(attempt: Attempt): void {
    clearTimeout(attempt.timer);
    this.inFlight.delete(attempt);
    this.notify();
  }

  /**
   * Connects to the first node that takes the handshake, trying them in
   * order; a round that finds none waits a little (the node is restarting).
   */
  private async connect(): Promise<void> {
    const since = Date.now();
    for (let round = 0; !this.closed; round++) {
      for (const url of this.urls) {
        try {
          const socket = await open(url, this.who.token);
          if (this.closed) return void socket.disconnect();
          socket.on('disconnect', () => {
            for (const a of this.inFlight) if (a.socket === socket) this.giveUp(a, 'disconnect');
            this.notify();
          });
          this.socket = socket;
          this.socketUrl = url;
          this.counters.connects++;
          return;
        } catch (err) {
          const why = (err as Error).message;
          this.counters.connectErrors[why] = (this.counters.connectErrors[why] ?? 0) + 1;
          // A node that is up must take a valid token, before and after any restart.
          if (why === 'unauthorized') this.ledger.violation('handshake', `sender ${this.who.index}: ${url} refused the token`);
        }
      }
      if (Date.now() - since > this.options.offlineLimitMs) {
        throw new Error(`sender ${this.who.index} found no node to connect to for ${this.options.offlineLimitMs} ms`);
      }
      await sleep(Math.min(25 * 2 ** round, 250));
    }
  }
}

/** One Socket.IO connection, no automatic reconnection (the sender picks the node). */
function open(url: string, token: string): Promise<ChaosSocket> {
  const socket: ChaosSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token }, timeout: 5000 });
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.off();
      socket.disconnect();
      reject(err);
    };
    // `timeout` above covers the transport's handshake only; a node killed
    // after it, before Socket.IO's own CONNECT is answered, ends in a
    // `disconnect` and no `connect_error`.
    const timer = setTimeout(() => fail(new Error('timeout')), 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('connect_error');
      socket.off('disconnect');
      resolve(socket);
    });
    socket.once('connect_error', fail);
    socket.once('disconnect', (reason) => fail(new Error(`closed before connecting (${reason})`)));
  });
}
