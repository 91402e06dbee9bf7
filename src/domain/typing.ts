import { checkMember } from './conversations.js';
import type { EventSink } from './events.js';
import { rateLimited } from './rate-limits.js';
import type { MembershipCache } from './membership.js';

/** How long "typing" lasts after the last `isTyping: true`. */
export const TYPING_TIMEOUT_MS = 5000;
/** Changes a client asks for are relayed at most this often per user and conversation (the last one wins). */
export const TYPING_MIN_GAP_MS = 250;
/** A `true` repeated while typing is relayed again once this long has passed since the last relay (or half the timeout). */
export const TYPING_REFRESH_MS = 1000;

interface Typist {
  conversationId: string;
  userId: string;
  /** The socket that last typed (its closing stops the indicator). */
  socketId: string | null;
  /** What the user is doing now, and what was last relayed. */
  typing: boolean;
  relayed: boolean;
  relayedAt: number;
  /** The automatic stop, while typing. */
  stopTimer?: NodeJS.Timeout;
  /** A relay held back by the gap. */
  pending?: NodeJS.Timeout;
  /** Forgets an idle entry once its gap has passed. */
  forget?: NodeJS.Timeout;
}

/**
 * Typing indicators: relayed to the sockets that joined the conversation
 * (never the typist's), never stored. `isTyping: false` follows by itself
 * TYPING_TIMEOUT_MS after the last `true`, and when the typist's socket goes.
 * Typing is coalesced, never refused: a `true` repeated while typing only
 * restarts the automatic stop (relayed again once TYPING_REFRESH_MS has
 * passed since the last relay: receivers that hide an indicator left
 * without news keep showing it, and sockets that joined since learn it), and
 * changes come out at most every TYPING_MIN_GAP_MS per user and
 * conversation, the latest state winning, so a client that floods `typing`
 * costs its conversation a few events a second.
 */
/** Store reads for typing in conversations the node has not cached, at once per user. */
export const LOOKUPS_PER_USER = 8;

export class TypingService {
  /** `${conversationId} ${userId}` -> its state. Typing is per user: two devices share one indicator. */
  private readonly typists = new Map<string, Typist>();
  /** socket id -> the keys it is typing under, so a disconnect finds them at once. */
  private readonly bySocket = new Map<string, Set<string>>();
  /** user id -> membership reads running for their typing (conversations not in the cache). */
  private readonly lookups = new Map<string, number>();

  constructor(
    private readonly d: { membership: MembershipCache; events: EventSink },
    private readonly timeoutMs = TYPING_TIMEOUT_MS,
  ) {}

  async set(userId: string, socketId: string, conversationId: string, isTyping: boolean): Promise<void> {
    checkMember(await this.members(userId, conversationId), userId);
    const key = `${conversationId} ${userId}`;
    let t = this.typists.get(key);
    if (!t) this.typists.set(key, (t = { conversationId, userId, socketId: null, typing: false, relayed: false, relayedAt: -Infinity }));
    clearTimeout(t.forget);
    this.unindex(key, t);
    clearTimeout(t.stopTimer);
    t.stopTimer = undefined;
    if (isTyping) {
      t.stopTimer = setTimeout(() => this.stop(key), this.timeoutMs);
      t.stopTimer.unref();
      t.socketId = socketId;
      let keys = this.bySocket.get(socketId);
      if (!keys) this.bySocket.set(socketId, (keys = new Set()));
      keys.add(key);
      // Still typing: said again only now and then.
      if (t.typing && t.relayed && Date.now() - t.relayedAt >= Math.min(TYPING_REFRESH_MS, this.timeoutMs / 2) && !t.pending) this.relay(key, t);
    }
    t.typing = isTyping;
    this.publish(key, t, false);
  }

  /**
   * The conversation's members. Typing is never refused for a conversation
   * the node knows (the cache holds those its users are in), but one it must
   * read from the store costs queries: at most LOOKUPS_PER_USER of those run
   * at once per user, so a flood of unknown or foreign ids is refused
   * (`rate_limited`) instead of piling queries on the store.
   */
  private async members(userId: string, conversationId: string) {
    if (this.d.membership.cached(conversationId)) return this.d.membership.get(conversationId);
    const n = this.lookups.get(userId) ?? 0;
    if (n >= LOOKUPS_PER_USER) throw rateLimited(100, 'Too many typing events for conversations being looked up.');
    this.lookups.set(userId, n + 1);
    try {
      return await this.d.membership.get(conversationId);
    } finally {
      const left = (this.lookups.get(userId) ?? 1) - 1;
      if (left > 0) this.lookups.set(userId, left);
      else this.lookups.delete(userId);
    }
  }

  /** The socket went away: whatever it was typing stops now. */
  socketClosed(socketId: string): void {
    for (const key of [...(this.bySocket.get(socketId) ?? [])]) this.stop(key);
  }

  /** Stops at once (timeout, closed socket): not held back by the gap. */
  private stop(key: string): void {
    const t = this.typists.get(key);
    if (!t) return;
    clearTimeout(t.stopTimer);
    t.stopTimer = undefined;
    this.unindex(key, t);
    t.typing = false;
    this.publish(key, t, true);
  }

  /** Relays the state if it differs from what was last relayed, now or once the gap has passed. */
  private publish(key: string, t: Typist, now: boolean): void {
    if (t.typing !== t.relayed) {
      const wait = t.relayedAt + TYPING_MIN_GAP_MS - Date.now();
      if (now || wait <= 0) this.relay(key, t);
      else if (!t.pending) {
        t.pending = setTimeout(() => {
          t.pending = undefined;
          this.publish(key, t, true);
        }, wait);
        t.pending.unref();
      }
      return;
    }
    if (!t.typing && !t.pending) {
      // Idle: kept for the rest of its gap (so a flood stays throttled), then forgotten.
      clearTimeout(t.forget);
      t.forget = setTimeout(() => this.typists.get(key) === t && !t.typing && this.typists.delete(key), TYPING_MIN_GAP_MS);
      t.forget.unref();
    }
  }

  private relay(key: string, t: Typist): void {
    clearTimeout(t.pending);
    t.pending = undefined;
    t.relayed = t.typing;
    t.relayedAt = Date.now();
    this.d.events.toConversation(t.conversationId, 'typing', { conversationId: t.conversationId, userId: t.userId, isTyping: t.typing }, t.userId);
    if (!t.typing) this.publish(key, t, false);
  }

  private unindex(key: string, t: Typist): void {
    if (t.socketId === null) return;
    const keys = this.bySocket.get(t.socketId);
    keys?.delete(key);
    if (keys?.size === 0) this.bySocket.delete(t.socketId);
    t.socketId = null;
  }

  /** Typists being tracked (tests: nothing is kept once idle). */
  get size(): number {
    return this.typists.size;
  }

  /** Stops every timer (shutdown). */
  close(): void {
    for (const t of this.typists.values()) {
      clearTimeout(t.stopTimer);
      clearTimeout(t.pending);
      clearTimeout(t.forget);
    }
    this.typists.clear();
    this.bySocket.clear();
  }
}
