import type { ReceiptsResponse } from '../protocol/http.js';
import type { MarkerMove, MarkerOutcome, Store } from '../store/store.js';
import { checkMember } from './conversations.js';
import { DomainError, notFound, validation } from './errors.js';
import type { EventSink } from './events.js';
import { GroupCommitQueue } from './group-commit.js';
import type { MembershipCache } from './membership.js';
import { iso } from './views.js';

export interface ReceiptDeps {
  store: Store;
  membership: MembershipCache;
  events: EventSink;
  now: () => number;
}

/**
 * Delivery and read markers: one per member, moved forward only, stored with
 * group commit like messages, announced as `receipt` to every socket of every
 * member (the mover's own too, so their other devices clear the unread count).
 */
export class ReceiptService {
  private readonly queue: GroupCommitQueue<MarkerMove, MarkerOutcome>;

  constructor(private readonly d: ReceiptDeps) {
    this.queue = new GroupCommitQueue((batch) => d.store.advanceMarkers(batch), {
      maxBatch: 1024,
      maxPending: 50_000,
      overloaded: () => new DomainError('unavailable', 'The server is overloaded; retry shortly.', { retryAfter: 1000 }),
    });
  }

  async mark(userId: string, conversationId: string, type: 'delivered' | 'read', seq: number): Promise<void> {
    checkMember(await this.d.membership.get(conversationId), userId);
    const at = this.d.now();
    const outcome = await this.queue.enqueue({ conversationId, userId, type, seq, at });
    switch (outcome.kind) {
      case 'not_member':
        throw new DomainError('forbidden', 'You are not a member of this conversation.');
      case 'beyond_last_seq':
        throw validation(`seq: the conversation's last seq is ${outcome.lastSeq}.`);
      case 'unchanged':
        return;
      case 'moved': {
        // The members of now, after the commit: not those of before it, so a
        // member removed meanwhile hears nothing and one added hears it.
        const now = await this.d.membership.get(conversationId);
        if (!now) return;
        for (const m of outcome.moved) {
          this.d.events.toUsers(now.members, 'receipt', { conversationId, userId, seq: m.seq, type: m.type, at: iso(at) });
        }
      }
    }
  }

  /** Seen by: which other current members have the message delivered / read, and since when. */
  async receipts(conversationId: string, messageId: string, viewerId: string): Promise<ReceiptsResponse> {
    const state = checkMember(await this.d.membership.get(conversationId), viewerId);
    const message = await this.d.store.messageById(messageId);
    if (!message || message.conversationId !== conversationId) throw notFound('No such message in this conversation.');
    const others = [...state.members].filter((id) => id !== message.senderId);
    const times = await this.d.store.markerTimes(conversationId, message.seq, others);
    return {
      delivered: times.delivered.map((t) => ({ userId: t.userId, at: iso(t.at) })),
      read: times.read.map((t) => ({ userId: t.userId, at: iso(t.at) })),
    };
  }

  drain(): Promise<void> {
    return this.queue.drain();
  }
}
