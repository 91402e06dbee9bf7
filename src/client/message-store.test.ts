import { describe, expect, it } from 'vitest';
import type { Message } from '../protocol/models.js';
import { MessageStore } from './message-store.js';

const msg = (seq: number, patch: Partial<Message> = {}): Message => ({
  id: `m${seq}`,
  conversationId: 'c1',
  seq,
  rev: seq,
  senderId: 'u1',
  content: `message ${seq}`,
  clientId: null,
  createdAt: '2026-11-24T05:00:00.000Z',
  editedAt: null,
  deletedAt: null,
  replyTo: null,
  reactions: [],
  mentions: [],
  attachments: [],
  status: 'sent',
  ...patch,
});

describe('MessageStore', () => {
  it('keeps each seq once, in order, whatever order and how often messages arrive', () => {
    const s = new MessageStore();
    s.apply([msg(3), msg(1)]);
    s.apply([msg(2), msg(3), msg(1)]);
    expect(s.timeline('c1').messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(s.holds('c1')).toBe(true);
    expect(s.holds('c2')).toBe(false);
  });

  it('never lets an older revision overwrite a newer one', () => {
    const s = new MessageStore();
    s.apply([msg(1, { rev: 5, content: 'edited', editedAt: '2026-11-24T05:01:00.000Z' })]);
    s.apply([msg(1, { rev: 1, content: 'original' })]);
    expect(s.timeline('c1').messages[0]?.content).toBe('edited');
    s.apply([msg(1, { rev: 7, content: '', deletedAt: '2026-11-24T05:02:00.000Z' })]);
    expect(s.timeline('c1').messages[0]?.deletedAt).not.toBeNull();
  });

  it('replaces an optimistic message by the stored one with its clientId', () => {
    const s = new MessageStore();
    s.addPending({ clientId: 'k1', conversationId: 'c1', content: 'hi', createdAt: '2026-11-24T05:00:00.000Z', state: 'sending' });
    expect(s.timeline('c1').pending.map((p) => p.clientId)).toEqual(['k1']);
    s.apply([msg(1, { clientId: 'k1', content: 'hi' })]);
    expect(s.timeline('c1').pending).toEqual([]);
    expect(s.timeline('c1').messages.map((m) => m.clientId)).toEqual(['k1']);
    // a repeat of the same stored message changes nothing
    expect(s.apply([msg(1, { clientId: 'k1', content: 'hi' })])).toBe(false);
  });

  it('tells how far the loaded history is contiguous, so gaps are visible', () => {
    const s = new MessageStore();
    s.apply([msg(10), msg(11), msg(12), msg(15)]);
    const t = s.timeline('c1');
    expect([t.oldestSeq, t.contiguousTo]).toEqual([10, 12]);
    s.apply([msg(13), msg(14)]);
    expect(s.timeline('c1').contiguousTo).toBe(15);
  });

  it('raises the status of own messages up to a seq, never lowers it', () => {
    const s = new MessageStore();
    s.apply([msg(1), msg(2), msg(3, { senderId: 'u2' }), msg(4, { status: 'read' })]);
    s.raiseStatus('c1', 'u1', 2, 'delivered');
    s.raiseStatus('c1', 'u1', 4, 'delivered');
    expect(s.timeline('c1').messages.map((m) => m.status)).toEqual(['delivered', 'delivered', 'sent', 'read']);
  });
});
