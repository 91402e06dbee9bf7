import type { ReceiptsResponse } from '../protocol/http.js';
import type { MarkerMove, MarkerOutcome, MarkerType, Store } from '../store/store.js';
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

/** What a marker move came to, once its flush committed. */
export interface CommittedMove {
  /** `moved` on one move of each (user, conversation) per flush, with what it announces; `unchanged` on the others. */
  outcome: MarkerOutcome;
  /** When the merged move was stored: the latest of the flush's moves of that user and conversation. */
  at: number;
}

/**
 * Delivery and read markers: one per member, moved forward only, stored with
 * group commit like messages, announced as `receipt` to every socket of every
 * member (the mover's own too, so their other devices clear the unread count).
 *
 * A flush merges the moves of each (user, conversation): only the highest
 * delivered and the highest read reach the store, and each marker that moved
 * is announced once per flush, at its new seq (commitMerged). A client that
 * acknowledges every message (a plain Socket.IO client) then costs one or two
 * receipts per flush, not one per message; the client library also coalesces
 * its own moves (src/client/marker-coalescer.ts).
 */
export class ReceiptService {
  private readonly queue: GroupCommitQueue<MarkerMove, CommittedMove>;

  constructor(private readonly d: ReceiptDeps) {
    this.queue = new GroupCommitQueue((batch) => commitMerged(batch, (moves) => d.store.advanceMarkers(moves)), {
      maxBatch: 1024,
      maxPending: 50_000,
      overloaded: () => new DomainError('unavailable', 'The server is overloaded; retry shortly.', { retryAfter: 1000 }),
    });
  }

  async mark(userId: string, conversationId: string, type: 'delivered' | 'read', seq: number): Promise<void> {
    checkMember(await this.d.membership.get(conversationId), userId);
    const { outcome, at } = await this.queue.enqueue({ conversationId, userId, type, seq, at: this.d.now() });
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

  /** Moves waiting for the next flush (tests hold a flush and watch moves queue behind it). */
  get pending(): number {
    return this.queue.pending;
  }
}

/**
 * Commits one flush of marker moves, merged per (conversation, user): a
 * user's moves become one `read` at the highest read seq (reading implies
 * delivery), preceded by one `delivered` when the highest delivered seq is
 * further; so 50 delivered moves of one user in a flush are one stored move
 * and one receipt. Every move gets its own answer: the one that came last
 * (the latest `at`) carries what moved (`moved`, each marker at its final
 * seq), the others `unchanged`; a move beyond the conversation's lastSeq is
 * refused alone (`beyond_last_seq`), and the others of its user are merged
 * again without it.
 */
export async function commitMerged(
  items: readonly MarkerMove[],
  advance: (moves: MarkerMove[]) => Promise<MarkerOutcome[]>,
): Promise<CommittedMove[]> {
  const out: CommittedMove[] = new Array(items.length);
  const groups = new Map<string, number[]>();
  items.forEach((m, i) => {
    const key = `${m.conversationId}\u0000${m.userId}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  /** What moved so far, per group key: the highest new seq of each marker. */
  const movedSoFar = new Map<string, Partial<Record<MarkerType, number>>>();
  let todo = [...groups.entries()];
  while (todo.length > 0) {
    const plans = todo.map(([, g]) => mergeMoves(g.map((i) => items[i]!)));
    const outcomes = await advance(plans.flat());
    if (outcomes.length !== plans.flat().length) throw new Error(`advanceMarkers answered ${outcomes.length} of ${plans.flat().length}`);
    const again: [string, number[]][] = [];
    let next = 0;
    todo.forEach(([key, g], gi) => {
      const results = outcomes.slice(next, next + plans[gi]!.length);
      next += plans[gi]!.length;
      if (results.some((r) => r.kind === 'not_member')) {
        for (const i of g) out[i] = { outcome: { kind: 'not_member' }, at: items[i]!.at };
        return;
      }
      const moved = movedSoFar.get(key) ?? {};
      movedSoFar.set(key, moved);
      for (const r of results) {
        if (r.kind !== 'moved') continue;
        for (const m of r.moved) moved[m.type] = Math.max(moved[m.type] ?? 0, m.seq);
      }
      const beyond = results.find((r) => r.kind === 'beyond_last_seq');
      if (beyond) {
        // Refuse the moves past lastSeq; merge the rest again (markers only move forward: what did move stays).
        const valid = g.filter((i) => items[i]!.seq <= beyond.lastSeq);
        for (const i of g) if (items[i]!.seq > beyond.lastSeq) out[i] = { outcome: beyond, at: items[i]!.at };
        if (valid.length === g.length) for (const i of g) out[i] = { outcome: beyond, at: items[i]!.at }; // cannot happen: lastSeq never falls
        else if (valid.length > 0) again.push([key, valid]);
        return;
      }
      const last = results.at(-1) as Extract<MarkerOutcome, { kind: 'moved' | 'unchanged' }>;
      const { deliveredSeq, readSeq } = last;
      const at = Math.max(...g.map((i) => items[i]!.at));
      const announce = (['delivered', 'read'] as const).filter((t) => moved[t] !== undefined).map((t) => ({ type: t, seq: moved[t]! }));
      // The latest move of the group announces; ties go to the one that came last.
      let lead = g[0]!;
      for (const i of g) if (items[i]!.at >= items[lead]!.at) lead = i;
      for (const i of g) out[i] = { outcome: { kind: 'unchanged', deliveredSeq, readSeq }, at };
      if (announce.length > 0) out[lead] = { outcome: { kind: 'moved', deliveredSeq, readSeq, moved: announce }, at };
    });
    todo = again;
  }
  return out;
}

/** One user's moves in one conversation as the fewest moves that end in the same place (one or two). */
function mergeMoves(moves: readonly MarkerMove[]): MarkerMove[] {
  const { conversationId, userId } = moves[0]!;
  let delivered = 0;
  let read = 0;
  let at = -Infinity;
  for (const m of moves) {
    if (m.type === 'read') read = Math.max(read, m.seq);
    else delivered = Math.max(delivered, m.seq);
    at = Math.max(at, m.at);
  }
  const merged: MarkerMove[] = [];
  // Delivered first: a read behind it then leaves the delivered marker where it is.
  if (delivered > read) merged.push({ conversationId, userId, type: 'delivered', seq: delivered, at });
  if (read > 0) merged.push({ conversationId, userId, type: 'read', seq: read, at });
  return merged;
}
