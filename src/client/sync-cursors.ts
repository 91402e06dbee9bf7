/**
 * The `sync` cursor of each conversation: the rev below which nothing is
 * missing. Live changes (events and the acks of one's own sends, edits and
 * deletions) can arrive out of rev order: an edit's `message:updated` waits
 * for the search index while later `message:new` go out at once, and nodes
 * publish independently. A cursor moved to the highest rev seen would skip a
 * change still on its way, and a device that disconnected in that window
 * would never sync it. So a cursor advances only over revs seen without a
 * hole, and to what a `sync` answer covers.
 *
 * Meaning: every message whose latest change has a rev <= cursor is held (if
 * held at all) in that latest state; a `sync` from the cursor brings the rest.
 */
interface Track {
  /** null: no base yet (only live changes seen, before any snapshot or sync). */
  cursor: number | null;
  /** Revs applied above the cursor, waiting for the holes below them. */
  seen: Set<number>;
}

export class SyncCursors {
  private readonly tracks = new Map<string, Track>();

  private track(conversationId: string): Track {
    let t = this.tracks.get(conversationId);
    if (!t) this.tracks.set(conversationId, (t = { cursor: null, seen: new Set() }));
    return t;
  }

  /** A live change (event or ack) carrying this rev was applied. */
  saw(conversationId: string, rev: number): void {
    const t = this.track(conversationId);
    if (t.cursor !== null && rev <= t.cursor) return;
    t.seen.add(rev);
    advance(t);
  }

  /**
   * A snapshot of the conversation (its `lastRev`), taken while the client
   * held none of its messages: whatever it loads later is at least as fresh.
   * Ignored once the conversation has a cursor.
   */
  startAt(conversationId: string, lastRev: number): void {
    const t = this.track(conversationId);
    if (t.cursor !== null) return;
    t.cursor = lastRev;
    advance(t);
  }

  /** Whether the conversation has a cursor (or live changes waiting for one). */
  has(conversationId: string): boolean {
    return this.tracks.has(conversationId);
  }

  /**
   * The cursor to send in `sync`. With no base yet (live changes came
   * first), the rev just below the lowest one seen; undefined when nothing is
   * known of the conversation.
   */
  syncFrom(conversationId: string): number | undefined {
    const t = this.tracks.get(conversationId);
    if (!t) return undefined;
    if (t.cursor !== null) return t.cursor;
    let lowest = Infinity;
    for (const rev of t.seen) lowest = Math.min(lowest, rev);
    return lowest === Infinity ? undefined : lowest - 1;
  }

  /**
   * A `sync` answer to the cursor `sent`: it holds every change above it up
   * to the highest rev it returned in the conversation (ascending and
   * complete; `highest` undefined when it returned none).
   */
  synced(conversationId: string, sent: number, highest?: number): void {
    const t = this.track(conversationId);
    t.cursor = Math.max(t.cursor ?? sent, sent, highest ?? sent);
    advance(t);
  }

  /** Forgets the conversation (the user left or was removed). */
  drop(conversationId: string): void {
    this.tracks.delete(conversationId);
  }
}

/** Drops what the cursor covers, then moves it through the revs that follow it without a hole. */
function advance(t: Track): void {
  if (t.cursor === null) return;
  for (const rev of t.seen) if (rev <= t.cursor) t.seen.delete(rev);
  while (t.seen.delete(t.cursor + 1)) t.cursor++;
}
