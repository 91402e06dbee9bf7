import type { ConversationKind, Store } from '../store/store.js';

/** What the send path and fan-out need to know of a conversation, cached. */
export interface ConversationMembers {
  id: string;
  type: ConversationKind;
  ownerId: string | null;
  /**
   * Who is a member, longest-standing first. Only who: markers move too often
   * to cache (and move on other nodes); they are read from the store.
   */
  members: ReadonlySet<string>;
}

export interface MembershipCacheOptions {
  /** Most conversations kept. */
  capacity?: number;
  /**
   * Tells every other node to forget a conversation, resolving once they
   * did (several nodes: fanout/cluster.ts); none for one process.
   */
  broadcast?: (conversationId: string) => Promise<void>;
  /**
   * Entries older than this are read again: a bound on staleness should an
   * invalidation from another node be lost (Redis down). Default: no bound.
   */
  maxAgeMs?: number;
  now?: () => number;
}

/**
 * Membership of conversations, read on every send and every fan-out, kept in
 * memory (LRU-bounded) and invalidated by every membership write, on every
 * node before the write is answered. A load that races an invalidation is
 * not cached, so a stale member list never sticks.
 */
export class MembershipCache {
  private readonly entries = new Map<string, ConversationMembers & { loadedAt: number }>();
  private readonly generation = new Map<string, number>();
  private epoch = 0;

  private readonly capacity: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly opts: MembershipCacheOptions = {},
  ) {
    this.capacity = opts.capacity ?? 50_000;
    this.now = opts.now ?? Date.now;
  }

  /** The conversation's members, or null when there is no such conversation. */
  async get(conversationId: string): Promise<ConversationMembers | null> {
    const hit = this.entries.get(conversationId);
    if (hit && this.opts.maxAgeMs !== undefined && this.now() - hit.loadedAt > this.opts.maxAgeMs) {
      this.entries.delete(conversationId);
    } else if (hit) {
      // refresh its place in the LRU order
      this.entries.delete(conversationId);
      this.entries.set(conversationId, hit);
      return hit;
    }
    const epoch = this.epoch;
    const gen = this.generation.get(conversationId) ?? 0;
    const [conversation, members] = await Promise.all([
      this.store.conversationById(conversationId),
      this.store.members(conversationId),
    ]);
    if (!conversation) return null;
    const loaded = {
      loadedAt: this.now(),
      id: conversation.id,
      type: conversation.type,
      ownerId: conversation.ownerId,
      members: new Set(members.map((m) => m.userId)),
    };
    if (this.epoch === epoch && (this.generation.get(conversationId) ?? 0) === gen) {
      this.entries.set(conversationId, loaded);
      if (this.entries.size > this.capacity) {
        const oldest = this.entries.keys().next().value as string;
        this.entries.delete(oldest);
      }
    }
    return loaded;
  }

  /** Whether `get` would answer without reading the store. */
  cached(conversationId: string): boolean {
    return this.entries.has(conversationId);
  }

  /** After a write to a conversation's membership or ownership: every node forgets it, then this resolves. */
  async invalidate(conversationId: string): Promise<void> {
    this.forget(conversationId);
    await this.opts.broadcast?.(conversationId);
  }

  /** Forgets everything (after a time in which invalidations may have been missed). */
  clear(): void {
    this.entries.clear();
    this.generation.clear();
    this.epoch++;
  }

  /** Forgets a conversation here (this node's part of an invalidation). */
  forget(conversationId: string): void {
    this.entries.delete(conversationId);
    this.generation.set(conversationId, (this.generation.get(conversationId) ?? 0) + 1);
    if (this.generation.size > this.capacity) {
      // Old generations only matter to loads in flight; start a new epoch.
      this.generation.clear();
      this.epoch++;
    }
  }
}
