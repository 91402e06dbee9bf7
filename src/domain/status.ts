import type { MessageStatus } from '../protocol/models.js';

/** A member's markers, as far as message status cares. */
export interface Markers {
  userId: string;
  deliveredSeq: number;
  readSeq: number;
}

/**
 * Message status as every viewer sees it, from the sender's side: `read` once
 * every other member has read the seq, `delivered` once every other member
 * has delivery (a read marker counts as delivery), `sent` otherwise, and
 * `sent` when the sender is alone.
 *
 * Built once per conversation view: the minimum markers over all members plus
 * the runner-up, so that "everyone but the sender" is O(1) per message.
 */
export class StatusOracle {
  /** For a message just stored: nobody else can have reached its seq yet. */
  static readonly FRESH = new StatusOracle([]);

  private readonly read: MinPair;
  private readonly delivered: MinPair;
  private readonly count: number;

  constructor(members: readonly Markers[]) {
    this.count = members.length;
    this.read = minPair(members, (m) => m.readSeq);
    this.delivered = minPair(members, (m) => Math.max(m.deliveredSeq, m.readSeq));
  }

  statusOf(seq: number, senderId: string): MessageStatus {
    const senderIsMember = this.read.ids.has(senderId);
    const others = this.count - (senderIsMember ? 1 : 0);
    if (others <= 0) return 'sent';
    if (othersMin(this.read, senderId) >= seq) return 'read';
    if (othersMin(this.delivered, senderId) >= seq) return 'delivered';
    return 'sent';
  }
}

interface MinPair {
  ids: Set<string>;
  min: number;
  minId: string | null;
  minCount: number;
  second: number;
}

function minPair(members: readonly Markers[], value: (m: Markers) => number): MinPair {
  const pair: MinPair = { ids: new Set(), min: Infinity, minId: null, minCount: 0, second: Infinity };
  for (const m of members) {
    pair.ids.add(m.userId);
    const v = value(m);
    if (v < pair.min) {
      pair.second = pair.min;
      pair.min = v;
      pair.minId = m.userId;
      pair.minCount = 1;
    } else if (v === pair.min) {
      pair.minCount++;
      pair.second = v;
    } else if (v < pair.second) {
      pair.second = v;
    }
  }
  return pair;
}

/** The minimum over every member except `exclude`. */
function othersMin(p: MinPair, exclude: string): number {
  if (p.minId === exclude && p.minCount === 1) return p.second;
  return p.min;
}
