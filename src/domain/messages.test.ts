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
        message: { ...m, id: `m${++seq}`, seq, rev: seq, editedAt: null, deletedAt: null, replyTo: null, mentions: [], reactions: [], attachments: [] } as unknown as MessageRecord,
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

describe('MessageService: reactions never wait behind edits', () => {
  it('a reaction commits while an edit is still waiting (for the search index, on SQLite)', async () => {
    let releaseEdit!: () => void;
    const editHeld = new Promise<void>((r) => (releaseEdit = r));
    const record = { id: 'm1', conversationId: 'c1', seq: 1, rev: 2, senderId: 'u1', content: 'x', clientId: null, createdAt: 0, editedAt: null, deletedAt: null, replyTo: null, mentions: [], reactions: [], attachments: [] } as MessageRecord;
    const store = {
      async changeMessages(batch: readonly { kind: string }[]) {
        if (batch.some((c) => c.kind === 'edit')) await editHeld;
        return batch.map(() => ({ kind: 'changed' as const, message: record }));
      },
      members: async () => [],
    } as unknown as Store;
    const membership = { get: async (id: string) => ({ id, type: 'group', ownerId: 'u1', members: new Set(['u1']) }) } as unknown as MembershipCache;
    const events = { toUsers: () => undefined } as unknown as EventSink;
    const messages = new MessageService({ store, membership, events, now: () => 0 });
    let edited = false;
    const edit = messages.edit({ userId: 'u1' }, 'm1', 'new text').then(() => (edited = true));
    await expect(messages.react({ userId: 'u1' }, 'm1', '👍', true)).resolves.toMatchObject({ id: 'm1' });
    expect(edited).toBe(false);
    releaseEdit();
    await edit;
  });
});
