import { describe, expect, it } from 'vitest';
import type { AppendOutcome, MessageRecord, NewMessage, Store } from '../store/store.js';
import type { EventSink } from './events.js';
import type { MembershipCache } from './membership.js';
import { MessageService } from './messages.js';

/** A store whose commits wait until released, so sends pile up in the queue. */
function stalledStore() {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let seq = 0;
  const store = {
    async appendMessages(batch: readonly NewMessage[]): Promise<AppendOutcome[]> {
      await released;
      return batch.map((m) => ({
        kind: 'stored' as const,
        message: { ...m, id: `m${++seq}`, seq, rev: seq, editedAt: null, deletedAt: null, replyTo: null, mentions: [], reactions: [] } as unknown as MessageRecord,
        members: ['u1', 'u2'],
      }));
    },
  } as unknown as Store;
  return { store, release };
}

describe('MessageService: a fair share of the send queue', () => {
  it('one user may have maxPendingPerUser sends waiting; past it rate_limited, while another user is still accepted', async () => {
    const { store, release } = stalledStore();
    const membership = { get: async (id: string) => ({ id, type: 'group', ownerId: 'u1', members: new Set(['u1', 'u2']) }) } as unknown as MembershipCache;
    const events = { toUsers: () => undefined } as unknown as EventSink;
    const messages = new MessageService({ store, membership, events, now: () => 0, maxPendingPerUser: 5 });
    const send = (userId: string, i: number) => messages.send({ userId }, { conversationId: 'c1', content: `m${i}` });
    const mine = Array.from({ length: 5 }, (_, i) => send('u1', i));
    await expect(send('u1', 5)).rejects.toMatchObject({ code: 'rate_limited', data: { retryAfter: 1000 } });
    const theirs = send('u2', 0);
    release();
    expect(await Promise.all([...mine, theirs])).toHaveLength(6);
    // Its share came back.
    await expect(send('u1', 6)).resolves.toMatchObject({ content: 'm6' });
  });
});
