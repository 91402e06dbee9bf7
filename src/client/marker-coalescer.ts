/**
 * Marker moves (`message:delivered`, `message:read`) coalesced per
 * conversation: at most one of each kind per interval, always the highest
 * seq asked for, and nothing new while a move of the conversation is in
 * flight. In a group every move is announced to every member's sockets
 * (the contract), so a client that acknowledged each message would make
 * each message cost members² socket writes. At one move per interval, and an
 * interval that grows with the group (markerInterval: 10 ms a member, 500 ms
 * at least), the receipts of a busy conversation cost the server about
 * 2 × members / 10 ms writes a second, whatever the message rate: O(members)
 * (docs/protocol.md, receipts; docs/performance.md, receipts).
 *
 * The first move after a quiet interval leaves at once (on the next turn, so
 * a burst of events read in one go is one move); the ones that follow within
 * the interval wait for its end and go as one. A read at or past the
 * delivered seq stands for both (reading implies delivery). A move that could
 * not be sent (disconnected, timed out, refused for now) stays pending and
 * goes when the connection is back (`resume`); one refused for good
 * (`validation`, `forbidden`, `not_found`) is dropped.
 */
export type MarkerType = 'delivered' | 'read';

/** Default shortest time between two moves of a kind in a conversation, ms. */
export const MARKER_INTERVAL_MS = 500;
/** ...and per member of the conversation, in large groups. */
export const MARKER_INTERVAL_PER_MEMBER_MS = 10;

/** The interval of a conversation of `members` members: `baseMs`, or 10 ms a member in groups of more than baseMs / 10. */
export function markerInterval(members: number, baseMs = MARKER_INTERVAL_MS): number {
  return Math.max(baseMs, members * MARKER_INTERVAL_PER_MEMBER_MS);
}

export interface MarkerCoalescerOptions {
  /** Shortest time between two moves of one kind in a conversation, ms (e.g. markerInterval of its size). */
  intervalMs: (conversationId: string) => number;
  /** Sends one move; resolves on `{ok: true}`, rejects otherwise (with `retryable` and `data.retryAfter` when the server said so). */
  send: (type: MarkerType, conversationId: string, seq: number) => Promise<void>;
  /** Whether a move can be sent now (the socket is connected). */
  canSend: () => boolean;
  now?: () => number;
}

interface Lane {
  conversationId: string;
  /** The highest seq asked for. */
  want: Record<MarkerType, number>;
  /** The highest seq the server acknowledged (a read counts as delivery), or gave up on. */
  done: Record<MarkerType, number>;
  inFlight: number;
  lastSentAt: number;
  /** Not before this time (a `retryAfter`, or the pause after a failure). */
  notBefore: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** markRead callers, answered once the read marker is at or past their seq (or given up). */
  waiters: { seq: number; resolve: () => void }[];
}

interface SendError {
  retryable?: boolean;
  data?: { retryAfter?: unknown };
}

export class MarkerCoalescer {
  private readonly lanes = new Map<string, Lane>();
  private readonly now: () => number;
  private stopped = false;
  /** Moves handed to `send`, of each kind (for tests and the bench). */
  readonly sent: Record<MarkerType, number> = { delivered: 0, read: 0 };

  constructor(private readonly o: MarkerCoalescerOptions) {
    this.now = o.now ?? Date.now;
  }

  /** This device has the conversation's messages up to `seq`. */
  delivered(conversationId: string, seq: number): void {
    this.ask(conversationId, 'delivered', seq);
  }

  /** The user has read up to `seq`. */
  read(conversationId: string, seq: number): void {
    this.ask(conversationId, 'read', seq);
  }

  /** Resolves once the server has the read marker at or past `seq` (or refused it for good, or the coalescer stopped). */
  whenRead(conversationId: string, seq: number): Promise<void> {
    const lane = this.lanes.get(conversationId);
    if (!lane || lane.done.read >= seq || lane.want.read < seq) return Promise.resolve();
    return new Promise((resolve) => lane.waiters.push({ seq, resolve }));
  }

  /** What is still to be sent for a conversation (nothing: null). */
  pending(conversationId: string): Partial<Record<MarkerType, number>> | null {
    const lane = this.lanes.get(conversationId);
    if (!lane) return null;
    const p: Partial<Record<MarkerType, number>> = {};
    if (lane.want.read > lane.done.read) p.read = lane.want.read;
    if (lane.want.delivered > Math.max(lane.done.delivered, lane.want.read)) p.delivered = lane.want.delivered;
    return Object.keys(p).length ? p : null;
  }

  /** The connection is back: what is pending goes, each lane after its interval. */
  resume(): void {
    for (const lane of this.lanes.values()) {
      lane.notBefore = 0;
      this.schedule(lane);
    }
  }

  /**
   * Sends what is pending now, interval or not (before closing a
   * conversation or the client); one conversation or all. Answers a promise
   * of the answers to what it sent, or null when nothing was to be sent.
   */
  flush(conversationId?: string): Promise<void> | null {
    const lanes = conversationId === undefined ? [...this.lanes.values()] : [this.lanes.get(conversationId)].filter((l) => l !== undefined);
    const sent: Promise<void>[] = [];
    for (const lane of lanes) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
      sent.push(...this.sendDue(lane, true));
    }
    return sent.length ? Promise.all(sent).then(() => undefined) : null;
  }

  /** Forgets a conversation (the user left it): nothing more is sent for it. */
  forget(conversationId: string): void {
    const lane = this.lanes.get(conversationId);
    if (!lane) return;
    clearTimeout(lane.timer);
    this.lanes.delete(conversationId);
    for (const w of lane.waiters.splice(0)) w.resolve();
  }

  /** Stops every timer and answers every waiting read; nothing is sent any more. */
  stop(): void {
    this.stopped = true;
    for (const id of [...this.lanes.keys()]) this.forget(id);
  }

  private ask(conversationId: string, type: MarkerType, seq: number): Lane | undefined {
    if (this.stopped) return undefined;
    let lane = this.lanes.get(conversationId);
    if (!lane) {
      lane = {
        conversationId,
        want: { delivered: 0, read: 0 },
        done: { delivered: 0, read: 0 },
        inFlight: 0,
        lastSentAt: -Infinity,
        notBefore: 0,
        timer: undefined,
        waiters: [],
      };
      this.lanes.set(conversationId, lane);
    }
    lane.want[type] = Math.max(lane.want[type], seq);
    this.schedule(lane);
    return lane;
  }

  private schedule(lane: Lane): void {
    if (this.stopped || lane.timer !== undefined || lane.inFlight > 0 || !this.pending(lane.conversationId)) return;
    if (!this.o.canSend()) return; // resume() picks it up
    const delay = Math.max(0, lane.lastSentAt + this.o.intervalMs(lane.conversationId) - this.now(), lane.notBefore - this.now());
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      this.sendDue(lane, false);
    }, delay);
  }

  /** Sends what is due; answers a promise per move sent, settled with its answer (never rejecting). */
  private sendDue(lane: Lane, force: boolean): Promise<void>[] {
    if (this.stopped || (!force && lane.inFlight > 0) || !this.o.canSend()) return [];
    const due = this.pending(lane.conversationId);
    if (!due) return [];
    const answers: Promise<void>[] = [];
    lane.lastSentAt = this.now();
    // Delivered first when it is ahead of the read: the read then leaves it where it is.
    for (const type of ['delivered', 'read'] as const) {
      const seq = due[type];
      if (seq === undefined) continue;
      lane.inFlight++;
      this.sent[type]++;
      answers.push(
        this.o.send(type, lane.conversationId, seq).then(
          () => this.settled(lane, type, seq, null),
          (err: unknown) => this.settled(lane, type, seq, (err ?? {}) as SendError),
        ),
      );
    }
    return answers;
  }

  private settled(lane: Lane, type: MarkerType, seq: number, err: SendError | null): void {
    lane.inFlight--;
    if (err === null || !err.retryable) {
      // Acknowledged, or refused for good (no retry could help): done up to seq.
      lane.done[type] = Math.max(lane.done[type], seq);
      if (type === 'read') lane.done.delivered = Math.max(lane.done.delivered, seq);
    } else {
      const retryAfter = Number(err.data?.retryAfter);
      lane.notBefore = this.now() + (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : this.o.intervalMs(lane.conversationId));
    }
    if (lane.inFlight > 0) return;
    const stillWaiting = [];
    for (const w of lane.waiters) {
      if (lane.done.read >= w.seq) w.resolve();
      else stillWaiting.push(w);
    }
    lane.waiters = stillWaiting;
    if (this.lanes.get(lane.conversationId) === lane) this.schedule(lane);
  }
}
