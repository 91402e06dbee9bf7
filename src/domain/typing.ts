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
  /** `${conversationId} ${userId}` -> the pending automatic stop, and the socket that typed. */
  private readonly active = new Map<string, { timer: NodeJS.Timeout; socketId: string; conversationId: string; userId: string }>();

  constructor(
    private readonly d: { membership: MembershipCache; events: EventSink },
    private readonly timeoutMs = TYPING_TIMEOUT_MS,
  ) {}

  async set(userId: string, socketId: string, conversationId: string, isTyping: boolean): Promise<void> {
    checkMember(await this.d.membership.get(conversationId), userId);
    const key = `${conversationId} ${userId}`;
    const current = this.active.get(key);
    if (current) clearTimeout(current.timer);
    if (isTyping) {
      const timer = setTimeout(() => this.stop(key), this.timeoutMs);
      timer.unref();
      this.active.set(key, { timer, socketId, conversationId, userId });
    } else {
      this.active.delete(key);
    }
    this.d.events.toConversation(conversationId, 'typing', { conversationId, userId, isTyping }, userId);
  }

  /** The socket went away: whatever it was typing stops now. */
  socketClosed(socketId: string): void {
    for (const [key, t] of this.active) if (t.socketId === socketId) this.stop(key);
  }

  private stop(key: string): void {
    const t = this.active.get(key);
    if (!t) return;
    clearTimeout(t.timer);
    this.active.delete(key);
    this.d.events.toConversation(t.conversationId, 'typing', { conversationId: t.conversationId, userId: t.userId, isTyping: false }, t.userId);
  }

  /** Stops every timer (shutdown). */
  close(): void {
    for (const t of this.active.values()) clearTimeout(t.timer);
    this.active.clear();
  }
}
