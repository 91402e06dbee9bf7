import type { Message, MessageStatus } from '../protocol/models.js';

/** A message typed here and not yet acknowledged by the server. */
export interface PendingMessage {
  clientId: string;
  conversationId: string;
  content: string;
  /** The message it replies to, if any. */
  replyToId?: string;
  /** Uploads it sends. */
  attachmentIds?: string[];
  createdAt: string;
  state: 'sending' | 'failed';
  error?: string;
}

/** What a conversation view shows: stored messages in seq order, then pending ones. */
export interface ConversationTimeline {
  messages: Message[];
  pending: PendingMessage[];
  /** The lowest seq loaded; older history exists when it is above 1. */
  oldestSeq: number | null;
  /** Every seq from oldestSeq up to here is loaded. */
  contiguousTo: number;
}

interface ConversationState {
  bySeq: Map<number, Message>;
  pending: Map<string, PendingMessage>;
}

/**
 * The client's copy of messages, keyed by conversation and seq. Every update
 * is idempotent: a message applied twice (an ack and a sync, a live event and
 * a history page) is stored once, and an older revision never overwrites a
 * newer one. Pending (optimistic) messages are keyed by clientId and replaced
 * by the stored message with that clientId when it arrives.
 */
export class MessageStore {
  private readonly conversations = new Map<string, ConversationState>();

  private state(conversationId: string): ConversationState {
    let s = this.conversations.get(conversationId);
    if (!s) this.conversations.set(conversationId, (s = { bySeq: new Map(), pending: new Map() }));
    return s;
  }

  /** Applies stored messages (new, edited or deleted); answers whether anything changed. */
  apply(messages: readonly Message[]): boolean {
    let changed = false;
    for (const m of messages) {
      const s = this.state(m.conversationId);
      const current = s.bySeq.get(m.seq);
      if (!current || current.rev < m.rev || (current.rev === m.rev && current.status !== m.status && rank(m.status) > rank(current.status))) {
        s.bySeq.set(m.seq, m);
        changed = true;
        // Replies quote their target as it is now: an edit or deletion of it reaches their quotes here.
        if (current && current.rev < m.rev) this.requote(s, m);
      }
      if (m.clientId !== null && s.pending.delete(m.clientId)) changed = true;
    }
    return changed;
  }

  private requote(s: ConversationState, target: Message): void {
    const preview = target.deletedAt === null ? [...target.content].slice(0, 100).join('') : '';
    for (const [seq, m] of s.bySeq) {
      if (m.replyTo?.id === target.id && (m.replyTo.preview !== preview || m.replyTo.deleted !== (target.deletedAt !== null))) {
        s.bySeq.set(seq, { ...m, replyTo: { ...m.replyTo, preview, deleted: target.deletedAt !== null } });
      }
    }
  }

  addPending(p: PendingMessage): void {
    this.state(p.conversationId).pending.set(p.clientId, p);
  }

  updatePending(conversationId: string, clientId: string, patch: Partial<PendingMessage>): void {
    const p = this.state(conversationId).pending.get(clientId);
    if (p) Object.assign(p, patch);
  }

  removePending(conversationId: string, clientId: string): void {
    this.state(conversationId).pending.delete(clientId);
  }

  /** Raises the status of the given own messages up to `status` (from receipts). */
  raiseStatus(conversationId: string, senderId: string, upToSeq: number, status: MessageStatus): boolean {
    const s = this.conversations.get(conversationId);
    if (!s) return false;
    let changed = false;
    for (const [seq, m] of s.bySeq) {
      if (seq <= upToSeq && m.senderId === senderId && rank(m.status) < rank(status)) {
        s.bySeq.set(seq, { ...m, status });
        changed = true;
      }
    }
    return changed;
  }

  /**
   * Whether any stored message of the conversation is held. (The highest rev
   * held is no sync cursor: live changes arrive out of rev order; see
   * SyncCursors.)
   */
  holds(conversationId: string): boolean {
    return (this.conversations.get(conversationId)?.bySeq.size ?? 0) > 0;
  }

  timeline(conversationId: string): ConversationTimeline {
    const s = this.conversations.get(conversationId);
    if (!s) return { messages: [], pending: [], oldestSeq: null, contiguousTo: 0 };
    const messages = [...s.bySeq.values()].sort((a, b) => a.seq - b.seq);
    const oldestSeq = messages[0]?.seq ?? null;
    let contiguousTo = oldestSeq === null ? 0 : oldestSeq - 1;
    for (const m of messages) {
      if (m.seq === contiguousTo + 1) contiguousTo = m.seq;
      else if (m.seq > contiguousTo + 1) break;
    }
    return { messages, pending: [...s.pending.values()], oldestSeq, contiguousTo };
  }

  /** Forgets a conversation (the user left or was removed). */
  drop(conversationId: string): void {
    this.conversations.delete(conversationId);
  }

  knownConversations(): string[] {
    return [...this.conversations.keys()];
  }
}

const rank = (s: MessageStatus): number => (s === 'read' ? 2 : s === 'delivered' ? 1 : 0);
