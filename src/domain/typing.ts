import { checkMember } from './conversations.js';
import type { EventSink } from './events.js';
import type { MembershipCache } from './membership.js';

/** How long "typing" lasts after the last `isTyping: true`. */
export const TYPING_TIMEOUT_MS = 5000;

/**
 * Typing indicators: relayed to the sockets that joined the conversation
 * (never the typist's), never stored. `isTyping: false` follows by itself
 * TYPING_TIMEOUT_MS after the last `true`, and when the typist's socket goes.
 */
export class TypingService {
  /**
   * `${conversationId} ${userId}` -> the pending automatic stop, and the
   * socket that typed. Typing is per user: two devices share one indicator.
   */
  private readonly active = new Map<string, { timer: NodeJS.Timeout; socketId: string; conversationId: string; userId: string }>();
  /** socket id -> the keys it is typing under, so a disconnect finds them at once. */
  private readonly bySocket = new Map<string, Set<string>>();

  constructor(
    private readonly d: { membership: MembershipCache; events: EventSink },
    private readonly timeoutMs = TYPING_TIMEOUT_MS,
  ) {}

  async set(userId: string, socketId: string, conversationId: string, isTyping: boolean): Promise<void> {
    checkMember(await this.d.membership.get(conversationId), userId);
    const key = `${conversationId} ${userId}`;
    this.forget(key);
    if (isTyping) {
      const timer = setTimeout(() => this.stop(key), this.timeoutMs);
      timer.unref();
      this.active.set(key, { timer, socketId, conversationId, userId });
      let keys = this.bySocket.get(socketId);
      if (!keys) this.bySocket.set(socketId, (keys = new Set()));
      keys.add(key);
    }
    this.d.events.toConversation(conversationId, 'typing', { conversationId, userId, isTyping }, userId);
  }

  /** The socket went away: whatever it was typing stops now. */
  socketClosed(socketId: string): void {
    for (const key of [...(this.bySocket.get(socketId) ?? [])]) this.stop(key);
  }

  /** Drops a key's timer and index entries; answers what was there. */
  private forget(key: string) {
    const t = this.active.get(key);
    if (!t) return undefined;
    clearTimeout(t.timer);
    this.active.delete(key);
    const keys = this.bySocket.get(t.socketId);
    keys?.delete(key);
    if (keys?.size === 0) this.bySocket.delete(t.socketId);
    return t;
  }

  private stop(key: string): void {
    const t = this.forget(key);
    if (!t) return;
    this.d.events.toConversation(t.conversationId, 'typing', { conversationId: t.conversationId, userId: t.userId, isTyping: false }, t.userId);
  }

  /** Stops every timer (shutdown). */
  close(): void {
    for (const t of this.active.values()) clearTimeout(t.timer);
    this.active.clear();
    this.bySocket.clear();
  }
}
