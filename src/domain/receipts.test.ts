import { describe, expect, it } from 'vitest';
import { nextMarkers } from '../store/rows.js';
import type { MarkerMove, MarkerOutcome } from '../store/store.js';
import { commitMerged } from './receipts.js';

/** An in-memory store of markers with the stores' own rule (nextMarkers), recording every batch it is given. */
function fakeStore(lastSeq: Record<string, number>, members: string[]) {
  const markers = new Map<string, { delivered_seq: number; read_seq: number }>();
  const batches: MarkerMove[][] = [];
  const advance = async (batch: MarkerMove[]): Promise<MarkerOutcome[]> => {
    batches.push(batch);
    return batch.map((m) => {
      if (!members.includes(`${m.conversationId}/${m.userId}`)) return { kind: 'not_member' };
      const key = `${m.conversationId}/${m.userId}`;
      const cur = markers.get(key) ?? { delivered_seq: 0, read_seq: 0 };
      const o = nextMarkers({ ...cur, last_seq: lastSeq[m.conversationId] ?? 0 }, m);
      if (o.kind === 'moved') markers.set(key, { delivered_seq: o.deliveredSeq, read_seq: o.readSeq });
      return o;
    });
  };
  return { advance, batches, markers };
}

const move = (userId: string, type: 'delivered' | 'read', seq: number, at = seq, conversationId = 'c1'): MarkerMove => ({ conversationId, userId, type, seq, at });

describe('commitMerged: one flush of marker moves, merged per (conversation, user)', () => {
  it('50 delivered moves of one user are one stored move, announced once, by the latest', async () => {
    const s = fakeStore({ c1: 50 }, ['c1/u1']);
    const items = Array.from({ length: 50 }, (_, i) => move('u1', 'delivered', i + 1, 1000 + i));
    const out = await commitMerged(items, s.advance);
    expect(s.batches).toEqual([[move('u1', 'delivered', 50, 1049)]]);
    expect(out.filter((o) => o.outcome.kind === 'moved')).toHaveLength(1);
    expect(out[49]).toEqual({ outcome: { kind: 'moved', deliveredSeq: 50, readSeq: 0, moved: [{ type: 'delivered', seq: 50 }] }, at: 1049 });
    for (const o of out.slice(0, 49)) expect(o.outcome).toEqual({ kind: 'unchanged', deliveredSeq: 50, readSeq: 0 });
  });

  it('a read at or past the delivered moves is one read (reading implies delivery): both markers announced, delivered first', async () => {
    const s = fakeStore({ c1: 9 }, ['c1/u1']);
    const out = await commitMerged([move('u1', 'delivered', 3), move('u1', 'read', 5), move('u1', 'delivered', 4), move('u1', 'read', 2)], s.advance);
    expect(s.batches).toEqual([[move('u1', 'read', 5, 5)]]);
    const moved = out.filter((o) => o.outcome.kind === 'moved');
    expect(moved.map((o) => o.outcome)).toEqual([{ kind: 'moved', deliveredSeq: 5, readSeq: 5, moved: [{ type: 'delivered', seq: 5 }, { type: 'read', seq: 5 }] }]);
    // The move with the latest `at` carries it.
    expect(out[1]!.outcome.kind).toBe('moved');
  });

  it('delivered ahead of read: delivered first, then the read, which leaves delivered where it is', async () => {
    const s = fakeStore({ c1: 9 }, ['c1/u1']);
    const out = await commitMerged([move('u1', 'read', 2, 10), move('u1', 'delivered', 7, 11), move('u1', 'read', 4, 12)], s.advance);
    expect(s.batches).toEqual([[move('u1', 'delivered', 7, 12), move('u1', 'read', 4, 12)]]);
    expect(out[2]).toEqual({ outcome: { kind: 'moved', deliveredSeq: 7, readSeq: 4, moved: [{ type: 'delivered', seq: 7 }, { type: 'read', seq: 4 }] }, at: 12 });
    expect(out.filter((o) => o.outcome.kind === 'moved')).toHaveLength(1);
  });

  it('keeps users and conversations apart, in one store call', async () => {
    const s = fakeStore({ c1: 9, c2: 9 }, ['c1/u1', 'c1/u2', 'c2/u1']);
    const out = await commitMerged(
      [move('u1', 'delivered', 1, 1), move('u2', 'delivered', 2, 2), move('u1', 'delivered', 3, 3, 'c2'), move('u1', 'delivered', 4, 4), move('u2', 'read', 1, 5)],
      s.advance,
    );
    expect(s.batches).toHaveLength(1);
    expect(s.batches[0]).toHaveLength(4);
    expect(out.map((o) => (o.outcome.kind === 'moved' ? o.outcome.moved : o.outcome.kind))).toEqual([
      'unchanged',
      'unchanged',
      [{ type: 'delivered', seq: 3 }],
      [{ type: 'delivered', seq: 4 }],
      [
        { type: 'delivered', seq: 2 },
        { type: 'read', seq: 1 },
      ],
    ]);
  });

  it('a move at or below the markers answers unchanged and announces nothing', async () => {
    const s = fakeStore({ c1: 9 }, ['c1/u1']);
    await commitMerged([move('u1', 'read', 6)], s.advance);
    const out = await commitMerged([move('u1', 'delivered', 5), move('u1', 'read', 6)], s.advance);
    expect(out.map((o) => o.outcome)).toEqual([
      { kind: 'unchanged', deliveredSeq: 6, readSeq: 6 },
      { kind: 'unchanged', deliveredSeq: 6, readSeq: 6 },
    ]);
  });

  it('refuses only the moves past lastSeq; the user\'s other moves are merged again without them', async () => {
    const s = fakeStore({ c1: 5 }, ['c1/u1', 'c1/u2']);
    const out = await commitMerged(
      [move('u1', 'delivered', 4), move('u1', 'delivered', 9), move('u1', 'read', 3), move('u2', 'read', 5), move('u1', 'read', 99)],
      s.advance,
    );
    expect(out[1]!.outcome).toEqual({ kind: 'beyond_last_seq', lastSeq: 5 });
    expect(out[4]!.outcome).toEqual({ kind: 'beyond_last_seq', lastSeq: 5 });
    expect(out[3]!.outcome).toMatchObject({ kind: 'moved', moved: [{ type: 'delivered', seq: 5 }, { type: 'read', seq: 5 }] });
    const u1 = [out[0]!, out[2]!];
    expect(u1.filter((o) => o.outcome.kind === 'moved').map((o) => o.outcome)).toEqual([
      { kind: 'moved', deliveredSeq: 4, readSeq: 3, moved: [{ type: 'delivered', seq: 4 }, { type: 'read', seq: 3 }] },
    ]);
    expect(s.markers.get('c1/u1')).toEqual({ delivered_seq: 4, read_seq: 3 });
    expect(s.batches).toHaveLength(2);
  });

  it('every move of a non-member is not_member', async () => {
    const s = fakeStore({ c1: 5 }, []);
    const out = await commitMerged([move('u1', 'delivered', 1), move('u1', 'read', 2)], s.advance);
    expect(out.map((o) => o.outcome.kind)).toEqual(['not_member', 'not_member']);
  });
});
