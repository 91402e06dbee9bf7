import { describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { connect, direct, group, http, register, type Account, type TestSocket } from '../helpers/client.js';
import { startServer, tempDir, useServer } from '../helpers/server.js';
import { expectConversation, expectMessage, expectShape, expectAckError } from '../helpers/shapes.js';
import { ReceiptEvent } from '../../src/protocol/events.js';
import { ReceiptsResponse } from '../../src/protocol/http.js';

/**
 * Receipts and message status, through a real t.server.
 * Contract: "Socket.IO events" (message:delivered, message:read, receipt),
 * "Common shapes" (Message.status, unreadCount), "Conversations (REST)"
 * (GET .../messages/:messageId/receipts); docs/protocol.md "Receipts and
 * message status".
 */

const t = useServer();
const { pool } = t;

// ---- helpers ------------------------------------------------------------------

const OkAck = Type.Object({ ok: Type.Literal(true) });

/** Every `receipt` a socket got, each checked against the wire schema. */
function receipts(s: TestSocket, pred: (p: any) => boolean = () => true): any[] {
  const got = s.all('receipt', pred);
  for (const r of got) expectShape(ReceiptEvent, r);
  return got;
}

async function waitReceipt(s: TestSocket, want: { userId: string; seq: number; type: string; conversationId: string }) {
  const [r] = await s.waitFor(
    'receipt',
    (p) => p.userId === want.userId && p.seq === want.seq && p.type === want.type && p.conversationId === want.conversationId,
  );
  expectShape(ReceiptEvent, r);
  return r;
}

async function sendMany(s: TestSocket, cid: string, n: number, text = 'm'): Promise<any[]> {
  const out = [];
  for (let i = 1; i <= n; i++) {
    const m = await s.send(cid, `${text} ${i}`);
    expectMessage(m);
    out.push(m);
  }
  return out;
}

const getConversation = async (url: string, who: Account, cid: string) => {
  const r = await http(url, 'GET', `/api/conversations/${cid}`, { token: who.token });
  expect(r.status).toBe(200);
  expectConversation(r.body);
  return r.body;
};

const listed = async (url: string, who: Account, cid: string) => {
  const r = await http(url, 'GET', '/api/conversations', { token: who.token });
  expect(r.status).toBe(200);
  const c = (r.body.conversations as any[]).find((x) => x.id === cid);
  expect(c, 'the conversation is in the list').toBeDefined();
  expectConversation(c);
  return c;
};

const historyStatuses = async (url: string, who: Account, cid: string) => {
  const r = await http(url, 'GET', `/api/conversations/${cid}/messages`, { token: who.token });
  expect(r.status).toBe(200);
  for (const m of r.body.messages) expectMessage(m);
  return (r.body.messages as any[]).map((m) => m.status);
};

async function seenBy(url: string, who: Account, cid: string, messageId: string) {
  const r = await http(url, 'GET', `/api/conversations/${cid}/messages/${messageId}/receipts`, { token: who.token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expectShape(ReceiptsResponse, r.body);
  const byUser = (xs: { userId: string; at: string }[]) => [...xs].sort((x, y) => (x.userId < y.userId ? -1 : 1));
  return { delivered: byUser(r.body.delivered), read: byUser(r.body.read) };
}
const ids = (xs: { userId: string }[]) => xs.map((x) => x.userId).sort();
const sorted = (xs: string[]) => [...xs].sort();

/**
 * The statuses of a conversation's messages (ascending by seq) as `who` sees
 * them through every channel that carries a Message: REST history,
 * conversation:join, sync from 0, and lastMessage in GET one / the list.
 */
async function statusEverywhere(who: Account, s: TestSocket, cid: string) {
  const join = await s.ok('conversation:join', { conversationId: cid });
  for (const m of join.messages) expectMessage(m);
  const sync = await s.ok('sync', { cursors: { [cid]: 0 } });
  const synced = (sync.messages as any[]).filter((m) => m.conversationId === cid);
  for (const m of synced) expectMessage(m);
  const one = await getConversation(t.url, who, cid);
  const inList = await listed(t.url, who, cid);
  return {
    history: await historyStatuses(t.url, who, cid),
    join: (join.messages as any[]).map((m) => m.status),
    sync: synced.sort((x, y) => x.seq - y.seq).map((m) => m.status),
    lastMessage: one.lastMessage?.status,
    listLastMessage: inList.lastMessage?.status,
  };
}

function expectEverywhere(seen: Awaited<ReturnType<typeof statusEverywhere>>, statuses: string[]): void {
  expect(seen).toEqual({
    history: statuses,
    join: statuses,
    sync: statuses,
    lastMessage: statuses.at(-1),
    listLastMessage: statuses.at(-1),
  });
}

// ---- message:delivered / message:read ---------------------------------------------

describe('message:delivered and message:read', () => {
  it('move the marker and announce a receipt to every socket of every member, the mover\'s own too, and to nobody else', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const x = await register(t.url, 'x');
    const cid = (await direct(t.url, a, b)).id;
    const [a1, a2, b1, b2, sx] = [await pool.connect(a), await pool.connect(a), await pool.connect(b), await pool.connect(b), await pool.connect(x)];
    await sendMany(a1, cid, 3);

    const before = Date.now();
    const ack = await b1.call('message:delivered', { conversationId: cid, seq: 2 });
    const after = Date.now();
    expectShape(OkAck, ack);

    for (const s of [a1, a2, b1, b2]) {
      const r = await waitReceipt(s, { conversationId: cid, userId: b.id, seq: 2, type: 'delivered' });
      expect(Date.parse(r.at)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(r.at)).toBeLessThanOrEqual(after);
    }
    for (const s of [a1, a2, b1, b2, sx]) await s.barrier();
    expect(receipts(sx)).toEqual([]);
    for (const s of [a1, a2, b1, b2]) expect(receipts(s)).toHaveLength(1);

    // The marker is stored: the status of seq 1 and 2 moved, seq 3 did not.
    expect(await historyStatuses(t.url, a, cid)).toEqual(['delivered', 'delivered', 'sent']);

    await b2.ok('message:read', { conversationId: cid, seq: 1 });
    for (const s of [a1, a2, b1, b2]) await waitReceipt(s, { conversationId: cid, userId: b.id, seq: 1, type: 'read' });
    expect(await historyStatuses(t.url, b, cid)).toEqual(['read', 'delivered', 'sent']);
  });

  it('reading past the delivered marker moves both: two receipts, delivered first', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    await sendMany(sa, cid, 3);
    await sb.ok('message:read', { conversationId: cid, seq: 3 });
    await waitReceipt(sa, { conversationId: cid, userId: b.id, seq: 3, type: 'read' });
    await sa.barrier();
    expect(receipts(sa).map((r) => [r.type, r.seq])).toEqual([
      ['delivered', 3],
      ['read', 3],
    ]);
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'read', 'read']);
  });

  it('never moves backward: a seq at or below the marker answers ok, announces nothing and changes nothing', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    await sendMany(sa, cid, 4);
    await sb.ok('message:delivered', { conversationId: cid, seq: 3 });
    await sb.ok('message:read', { conversationId: cid, seq: 2 });
    await waitReceipt(sa, { conversationId: cid, userId: b.id, seq: 2, type: 'read' });
    await sa.barrier();
    // The read at 2 did not touch the delivered marker at 3: one receipt, read.
    expect(receipts(sa).map((r) => [r.type, r.seq])).toEqual([
      ['delivered', 3],
      ['read', 2],
    ]);

    for (const [event, seq] of [
      ['message:read', 2],
      ['message:read', 1],
      ['message:delivered', 3],
      ['message:delivered', 1],
      ['message:delivered', 2],
    ] as const) {
      const ack = await sb.call(event, { conversationId: cid, seq });
      expectShape(OkAck, ack);
    }
    await sa.barrier();
    await sb.barrier();
    expect(receipts(sa)).toHaveLength(2);
    expect(receipts(sb)).toHaveLength(2);
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'read', 'delivered', 'sent']);
    const seen = await seenBy(t.url, a, cid, (await http(t.url, 'GET', `/api/conversations/${cid}/messages`, { token: a.token })).body.messages[2].id);
    expect(ids(seen.delivered)).toEqual([b.id]);
    expect(seen.read).toEqual([]);
  });

  it('refuses a seq beyond lastSeq (validation) and moves nothing', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    for (const event of ['message:delivered', 'message:read']) {
      expectAckError(await sb.call(event, { conversationId: cid, seq: 1 }), 'validation'); // empty conversation
    }
    await sendMany(sa, cid, 2);
    for (const event of ['message:delivered', 'message:read']) {
      expectAckError(await sb.call(event, { conversationId: cid, seq: 3 }), 'validation');
      expectAckError(await sb.call(event, { conversationId: cid, seq: 1_000_000 }), 'validation');
    }
    await sa.barrier();
    expect(receipts(sa)).toEqual([]);
    expect(await historyStatuses(t.url, a, cid)).toEqual(['sent', 'sent']);
    expect((await getConversation(t.url, b, cid)).unreadCount).toBe(2);
    // The next message makes seq 3 valid.
    await sa.send(cid, 'three');
    await sb.ok('message:read', { conversationId: cid, seq: 3 });
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'read', 'read']);
  });

  it.each([
    ['seq 0', { seq: 0 }],
    ['negative seq', { seq: -1 }],
    ['fractional seq', { seq: 1.5 }],
    ['seq as a string', { seq: '1' }],
    ['missing seq', { seq: undefined }],
    ['missing conversationId', { conversationId: undefined }],
    ['numeric conversationId', { conversationId: 7 }],
  ])('refuses %s with validation', async (_name, patch) => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    await sa.send(cid, 'one');
    const payload: Record<string, unknown> = { conversationId: cid, seq: 1, ...patch };
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    for (const event of ['message:delivered', 'message:read']) expectAckError(await sb.call(event, payload), 'validation');
    for (const event of ['message:delivered', 'message:read']) {
      expectAckError(await sb.socket.timeout(10_000).emitWithAck(event), 'validation');
      expectAckError(await sb.call(event, 'not an object'), 'validation');
    }
    await sa.barrier();
    expect(receipts(sa)).toEqual([]);
  });

  it('refuses a non-member (forbidden) and an unknown conversation (not_found)', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const x = await register(t.url, 'x');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sx = await pool.connect(x);
    await sa.send(cid, 'one');
    for (const event of ['message:delivered', 'message:read']) {
      expectAckError(await sx.call(event, { conversationId: cid, seq: 1 }), 'forbidden');
      expectAckError(await sx.call(event, { conversationId: 'c99999999', seq: 1 }), 'not_found');
    }
    await sa.barrier();
    expect(receipts(sa)).toEqual([]);
  });
});

// ---- status -------------------------------------------------------------------------

describe('Message.status', () => {
  it('direct: sent → delivered → read, the same in history, join, sync and lastMessage, for both members', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    await sendMany(sa, cid, 3);
    for (const [who, s] of [[a, sa], [b, sb]] as const) expectEverywhere(await statusEverywhere(who, s, cid), ['sent', 'sent', 'sent']);

    await sb.ok('message:delivered', { conversationId: cid, seq: 2 });
    for (const [who, s] of [[a, sa], [b, sb]] as const) expectEverywhere(await statusEverywhere(who, s, cid), ['delivered', 'delivered', 'sent']);

    await sb.ok('message:read', { conversationId: cid, seq: 1 });
    for (const [who, s] of [[a, sa], [b, sb]] as const) expectEverywhere(await statusEverywhere(who, s, cid), ['read', 'delivered', 'sent']);

    await sb.ok('message:read', { conversationId: cid, seq: 3 });
    for (const [who, s] of [[a, sa], [b, sb]] as const) expectEverywhere(await statusEverywhere(who, s, cid), ['read', 'read', 'read']);
  });

  it('group: delivered once every other member has it, read once every other member read it; a read marker counts as delivery', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const c = await register(t.url, 'c');
    const cid = (await group(t.url, a, [b, c])).id;
    const [sa, sb, sc] = [await pool.connect(a), await pool.connect(b), await pool.connect(c)];
    await sa.send(cid, 'from a'); // seq 1

    await sb.ok('message:read', { conversationId: cid, seq: 1 });
    expect(await historyStatuses(t.url, c, cid), 'C has not acknowledged anything yet').toEqual(['sent']);
    await sc.ok('message:delivered', { conversationId: cid, seq: 1 });
    expect(await historyStatuses(t.url, c, cid), "B's read counts as delivery").toEqual(['delivered']);
    await sc.ok('message:read', { conversationId: cid, seq: 1 });
    expect(await historyStatuses(t.url, c, cid)).toEqual(['read']);

    // B's message (seq 2): the others are A and C; B's own markers do not count.
    await sb.send(cid, 'from b');
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'sent']);
    await sa.ok('message:delivered', { conversationId: cid, seq: 2 });
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'sent']);
    await sc.ok('message:read', { conversationId: cid, seq: 2 });
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'delivered']);
    await sa.ok('message:read', { conversationId: cid, seq: 2 });
    expectEverywhere(await statusEverywhere(b, sb, cid), ['read', 'read']);
  });

  it('the send ack carries the status of the moment; a repeated clientId answers the current one', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const first = await sa.send(cid, 'hello', { clientId: 'k1' });
    expectMessage(first);
    expect(first.status).toBe('sent');
    const [got] = await sb.waitFor('message:new', (p) => p.message.id === first.id);
    expectMessage(got.message);
    expect(got.message.status).toBe('sent');

    await sb.ok('message:delivered', { conversationId: cid, seq: 1 });
    const again = await sa.send(cid, 'hello', { clientId: 'k1' });
    expect(again).toEqual({ ...first, status: 'delivered' });
    await sb.ok('message:read', { conversationId: cid, seq: 1 });
    expect(await sa.send(cid, 'hello', { clientId: 'k1' })).toEqual({ ...first, status: 'read' });
    // A new message starts at sent, whatever the earlier ones say.
    expect((await sa.send(cid, 'next')).status).toBe('sent');
  });

  it('is sent when the sender is alone, and a member who leaves no longer counts', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const c = await register(t.url, 'c');
    const solo = (await group(t.url, a, [], 'just me')).id;
    const sa = await pool.connect(a);
    expect((await sa.send(solo, 'note to self')).status).toBe('sent');
    expect(await historyStatuses(t.url, a, solo)).toEqual(['sent']);

    const cid = (await group(t.url, a, [b, c])).id;
    const [sb, sc] = [await pool.connect(b), await pool.connect(c)];
    await sendMany(sa, cid, 2);
    await sb.ok('message:read', { conversationId: cid, seq: 2 });
    await sc.ok('message:read', { conversationId: cid, seq: 1 });
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'sent']);
    // C (holding seq 2 back) leaves: only B counts now.
    const del = await http(t.url, 'DELETE', `/api/conversations/${cid}/members/${c.id}`, { token: c.token });
    expect(del.status).toBe(204);
    expectEverywhere(await statusEverywhere(a, sa, cid), ['read', 'read']);
  });

  it('sending moves the sender\'s own markers: a member who replied has read what came before, without a receipt event', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    await sendMany(sa, cid, 2);
    const reply = await sb.send(cid, 'reply');
    expect(reply.seq).toBe(3);
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'read', 'sent']);
    expect((await getConversation(t.url, b, cid)).unreadCount).toBe(0);
    await sa.waitFor('message:new', (p) => p.message.id === reply.id);
    await sa.barrier();
    await sb.barrier();
    // docs/protocol.md: the send itself moves the markers, without a `receipt`.
    expect(receipts(sa)).toEqual([]);
    expect(receipts(sb)).toEqual([]);
  });
});

// ---- unreadCount ------------------------------------------------------------------

describe('unreadCount', () => {
  it('is lastSeq minus the read marker, ignoring the caller\'s own messages; delivery does not change it', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const cid = (await direct(t.url, a, b)).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const unread = async (who: Account) => {
      const one = (await getConversation(t.url, who, cid)).unreadCount;
      const inList = (await listed(t.url, who, cid)).unreadCount;
      expect(inList).toBe(one);
      return one;
    };
    expect([await unread(a), await unread(b)]).toEqual([0, 0]);
    await sendMany(sa, cid, 3);
    expect([await unread(a), await unread(b)]).toEqual([0, 3]);
    await sb.ok('message:read', { conversationId: cid, seq: 1 });
    expect(await unread(b)).toBe(2);
    await sb.ok('message:delivered', { conversationId: cid, seq: 3 });
    expect(await unread(b)).toBe(2);
    await sendMany(sa, cid, 2);
    expect([await unread(a), await unread(b)]).toEqual([0, 4]);
    // B answers: B's read marker moves to the reply; A now has one unread.
    await sb.send(cid, 'reply');
    expect([await unread(a), await unread(b)]).toEqual([1, 0]);
    await sa.send(cid, 'and again');
    expect([await unread(a), await unread(b)]).toEqual([0, 1]);
  });

  it('reading on one device clears the count on the user\'s other devices: they receive the receipt', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const c = await register(t.url, 'c');
    const cid = (await group(t.url, a, [b, c])).id;
    const sa = await pool.connect(a);
    const phone = await pool.connect(b);
    const laptop = await pool.connect(b, { transports: ['polling'] });
    const sc = await pool.connect(c);
    await sendMany(sa, cid, 5);
    expect((await getConversation(t.url, b, cid)).unreadCount).toBe(5);

    await phone.ok('message:read', { conversationId: cid, seq: 5 });
    const r = await waitReceipt(laptop, { conversationId: cid, userId: b.id, seq: 5, type: 'read' });
    expect(r.seq).toBe(5);
    // What the laptop shows once it refreshes; C's count is C's own.
    expect((await getConversation(t.url, b, cid)).unreadCount).toBe(0);
    expect((await getConversation(t.url, c, cid)).unreadCount).toBe(5);
    await waitReceipt(sc, { conversationId: cid, userId: b.id, seq: 5, type: 'read' });
  });
});

// ---- seen by ----------------------------------------------------------------------

describe('GET /api/conversations/:id/messages/:messageId/receipts', () => {
  it('lists the other current members whose markers reached the message, with when; never the sender', async () => {
    const [a, b, c, d] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c'), await register(t.url, 'd')];
    const cid = (await group(t.url, a, [b, c, d])).id;
    const [sa, sb, sc] = [await pool.connect(a), await pool.connect(b), await pool.connect(c)];
    const [m1, m2] = await sendMany(sa, cid, 2);

    let seen = await seenBy(t.url, a, cid, m1.id);
    expect(seen).toEqual({ delivered: [], read: [] });

    const t0 = Date.now();
    await sb.ok('message:delivered', { conversationId: cid, seq: 2 });
    await sc.ok('message:read', { conversationId: cid, seq: 1 });
    const t1 = Date.now();

    for (const viewer of [a, b, c, d]) {
      seen = await seenBy(t.url, viewer, cid, m1.id);
      expect({ delivered: ids(seen.delivered), read: ids(seen.read) }).toEqual({ delivered: sorted([b.id, c.id]), read: [c.id] });
      seen = await seenBy(t.url, viewer, cid, m2.id);
      expect({ delivered: ids(seen.delivered), read: ids(seen.read) }).toEqual({ delivered: [b.id], read: [] });
    }
    seen = await seenBy(t.url, a, cid, m1.id);
    for (const e of [...seen.delivered, ...seen.read]) {
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(t0);
      expect(Date.parse(e.at)).toBeLessThanOrEqual(t1);
    }
    // The time agrees with the receipt event that announced the move.
    const cRead = await waitReceipt(sa, { conversationId: cid, userId: c.id, seq: 1, type: 'read' });
    expect(seen.read[0]!.at).toBe(cRead.at);

    // D's message: A, B and C are "the others"; D is not listed on their own message.
    const sd = await pool.connect(d);
    const m3 = await sd.send(cid, 'from d');
    seen = await seenBy(t.url, b, cid, m3.id);
    expect(ids(seen.delivered)).not.toContain(d.id);
    expect(ids(seen.read)).not.toContain(d.id);
  });

  it('a member who replied has read the earlier messages, since the reply', async () => {
    const [a, b, c] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c')];
    const cid = (await group(t.url, a, [b, c])).id;
    const [sa, sb] = [await pool.connect(a), await pool.connect(b)];
    const fromB = await sb.send(cid, 'question');
    const before = Date.now();
    await sa.send(cid, 'answer');
    const after = Date.now();
    const seen = await seenBy(t.url, c, cid, fromB.id);
    expect(ids(seen.read)).toEqual([a.id]);
    expect(ids(seen.delivered)).toEqual([a.id]);
    const at = Date.parse(seen.read[0]!.at);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
  });

  it('a removed member is no longer listed', async () => {
    const [a, b, c] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c')];
    const cid = (await group(t.url, a, [b, c])).id;
    const [sa, sb, sc] = [await pool.connect(a), await pool.connect(b), await pool.connect(c)];
    const [m1] = await sendMany(sa, cid, 1);
    await sb.ok('message:read', { conversationId: cid, seq: 1 });
    await sc.ok('message:read', { conversationId: cid, seq: 1 });
    let seen = await seenBy(t.url, a, cid, m1.id);
    expect(ids(seen.read)).toEqual(sorted([b.id, c.id]));
    const del = await http(t.url, 'DELETE', `/api/conversations/${cid}/members/${c.id}`, { token: a.token });
    expect(del.status).toBe(204);
    seen = await seenBy(t.url, a, cid, m1.id);
    expect({ delivered: ids(seen.delivered), read: ids(seen.read) }).toEqual({ delivered: [b.id], read: [b.id] });
    // ...and the removed member may not ask any more.
    const r = await http(t.url, 'GET', `/api/conversations/${cid}/messages/${m1.id}/receipts`, { token: c.token });
    expect(r.status).toBe(403);
  });

  it('a member added later starts level (docs/protocol.md): not unread for them, status does not fall back, listed from when they joined', async () => {
    const [a, b, c] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c')];
    const cid = (await group(t.url, a, [b])).id;
    const [sa, sb] = [await pool.connect(a), await pool.connect(b)];
    const [m1] = await sendMany(sa, cid, 2);
    await sb.ok('message:read', { conversationId: cid, seq: 2 });
    const before = Date.now();
    const add = await http(t.url, 'POST', `/api/conversations/${cid}/members`, { token: a.token, body: { userId: c.id } });
    const after = Date.now();
    expect(add.status).toBe(201);
    expect(await historyStatuses(t.url, c, cid)).toEqual(['read', 'read']);
    expect((await getConversation(t.url, c, cid)).unreadCount).toBe(0);
    const seen = await seenBy(t.url, a, cid, m1.id);
    expect(ids(seen.read)).toEqual(sorted([b.id, c.id]));
    const cAt = Date.parse(seen.read.find((e) => e.userId === c.id)!.at);
    expect(cAt).toBeGreaterThanOrEqual(before);
    expect(cAt).toBeLessThanOrEqual(after);
    // A new message after the join waits for C too.
    await sa.send(cid, 'three');
    await sb.ok('message:read', { conversationId: cid, seq: 3 });
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'read', 'sent']);
    expect((await getConversation(t.url, c, cid)).unreadCount).toBe(1);
  });

  it('answers 403 to a non-member and 404 to an unknown message, a message of another conversation, an unknown conversation', async () => {
    const [a, b, x] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'x')];
    const cid = (await direct(t.url, a, b)).id;
    const other = (await group(t.url, a, [b])).id;
    const sa = await pool.connect(a);
    const m = await sa.send(cid, 'here');
    const elsewhere = await sa.send(other, 'there');
    const get = (who: Account, c: string, mid: string) =>
      http(t.url, 'GET', `/api/conversations/${c}/messages/${mid}/receipts`, { token: who.token });
    const forbidden = await get(x, cid, m.id);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
    for (const [c, mid] of [[cid, 'm99999999'], [cid, elsewhere.id], [cid, 'nonsense'], ['c99999999', m.id]]) {
      const r = await get(b, c!, mid!);
      expect(r.status, `${c} ${mid}`).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    expect((await get(b, cid, m.id)).status).toBe(200);
    const noToken = await http(t.url, 'GET', `/api/conversations/${cid}/messages/${m.id}/receipts`);
    expect(noToken.status).toBe(401);
  });
});

describe('seen-by times, with a clock the test moves', () => {
  let clock = Date.now();
  const clocked = useServer({}, { now: () => clock });
  const cpool = clocked.pool;

  it('`at` is when the marker first reached the message; moves within a second of the previous one share its record', async () => {
    const url = clocked.url;
    const [a, b] = [await register(url, 'a'), await register(url, 'b')];
    const cid = (await direct(url, a, b)).id;
    const [sa, sb] = [await cpool.connect(a), await cpool.connect(b)];
    const msgs = await sendMany(sa, cid, 5);
    const T = clock;
    const at = async (i: number, type: 'delivered' | 'read') => {
      const seen = await seenBy(url, a, cid, msgs[i]!.id);
      const e = seen[type].find((x) => x.userId === b.id);
      return e ? Date.parse(e.at) : null;
    };

    clock = T + 10_000;
    await sb.ok('message:read', { conversationId: cid, seq: 1 });
    const r1 = await waitReceipt(sa, { conversationId: cid, userId: b.id, seq: 1, type: 'read' });
    expect(Date.parse(r1.at)).toBe(T + 10_000);

    clock = T + 20_000; // well after: a record of its own
    await sb.ok('message:read', { conversationId: cid, seq: 2 });
    clock = T + 20_400; // within a second of the previous move: the same record, later time
    await sb.ok('message:read', { conversationId: cid, seq: 3 });
    clock = T + 30_000;
    await sb.ok('message:delivered', { conversationId: cid, seq: 5 });

    expect(await at(0, 'read')).toBe(T + 10_000);
    expect(await at(0, 'delivered')).toBe(T + 10_000);
    const at2 = (await at(1, 'read'))!;
    expect(at2).toBeGreaterThanOrEqual(T + 20_000);
    expect(at2).toBeLessThan(T + 21_000);
    expect(await at(2, 'read')).toBe(T + 20_400);
    expect(await at(3, 'read')).toBeNull();
    expect(await at(3, 'delivered')).toBe(T + 30_000);
    expect(await at(4, 'delivered')).toBe(T + 30_000);
    // Later moves never rewrite when an earlier message was first reached.
    clock = T + 40_000;
    await sb.ok('message:read', { conversationId: cid, seq: 5 });
    expect(await at(0, 'read')).toBe(T + 10_000);
    expect(await at(2, 'read')).toBe(T + 20_400);
    expect(await at(3, 'delivered')).toBe(T + 30_000);
    expect(await at(4, 'read')).toBe(T + 40_000);
  });
});

// ---- persistence -------------------------------------------------------------------

describe('markers after a restart on the same data dir', () => {
  it('keep status, unreadCount and seen-by', async () => {
    const dataDir = tempDir();
    let s = await startServer({ dataDir });
    const sockets: TestSocket[] = [];
    try {
      const [a, b, c] = [await register(s.url, 'a'), await register(s.url, 'b'), await register(s.url, 'c')];
      const cid = (await group(s.url, a, [b, c])).id;
      const sa = await connect(s.url, a.token);
      const sb = await connect(s.url, b.token);
      const sc = await connect(s.url, c.token);
      sockets.push(sa, sb, sc);
      const msgs: any[] = [];
      for (let i = 1; i <= 4; i++) msgs.push(await sa.send(cid, `m${i}`));
      await sb.ok('message:read', { conversationId: cid, seq: 3 });
      await sc.ok('message:delivered', { conversationId: cid, seq: 2 });
      await sc.ok('message:read', { conversationId: cid, seq: 1 });

      const snapshot = async (url: string) => ({
        statuses: await historyStatuses(url, a, cid),
        unread: [
          (await getConversation(url, a, cid)).unreadCount,
          (await getConversation(url, b, cid)).unreadCount,
          (await getConversation(url, c, cid)).unreadCount,
        ],
        seen: await Promise.all(msgs.map((m) => seenBy(url, a, cid, m.id))),
      });
      const before = await snapshot(s.url);
      expect(before.statuses).toEqual(['read', 'delivered', 'sent', 'sent']);
      expect(before.unread).toEqual([0, 1, 3]);
      expect(before.seen.map((x) => [ids(x.delivered), ids(x.read)])).toEqual([
        [sorted([b.id, c.id]), sorted([b.id, c.id])],
        [sorted([b.id, c.id]), [b.id]],
        [[b.id], [b.id]],
        [[], []],
      ]);
      for (const x of sockets.splice(0)) x.close();
      await s.close();

      s = await startServer({ dataDir });
      expect(await snapshot(s.url)).toEqual(before);
      // The markers still only move forward after the restart.
      const sb2 = await connect(s.url, b.token);
      const sa2 = await connect(s.url, a.token);
      sockets.push(sb2, sa2);
      await sb2.ok('message:read', { conversationId: cid, seq: 2 });
      await sb2.ok('message:read', { conversationId: cid, seq: 4 });
      await waitReceipt(sa2, { conversationId: cid, userId: b.id, seq: 4, type: 'read' });
      await sa2.barrier();
      expect(receipts(sa2).map((r) => [r.type, r.seq])).toEqual([
        ['delivered', 4],
        ['read', 4],
      ]);
      expect((await getConversation(s.url, b, cid)).unreadCount).toBe(0);
    } finally {
      for (const x of sockets) x.close();
      await s.close();
    }
  });
});

// ---- merged within a flush (issue 17: receipts that scale with the group) -------------

/** Resolves once `cond()` holds, checked every few ms (fails after `timeoutMs`). */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('marker moves of one user merged within a flush (docs/protocol.md)', () => {
  it('50 delivered moves and a read queued behind one flush: one stored move each, one receipt each on every socket, at the highest seq', async () => {
    const [a, b, c] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c')];
    const cid = (await group(t.url, a, [b, c])).id;
    const [sa, sb, sc, sb2] = [await pool.connect(a), await pool.connect(b), await pool.connect(c), await pool.connect(b)];
    const msgs = await sendMany(sa, cid, 50);

    // The store's marker writes, watched; the first flush is held until the test lets it go.
    const store = t.server.app.store;
    const original = store.advanceMarkers;
    const batches: { type: string; seq: number; userId: string }[][] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inFirstFlush = new Promise<void>((r) => (entered = r));
    store.advanceMarkers = async function (this: typeof store, batch) {
      batches.push(batch.map((m) => ({ type: m.type, seq: m.seq, userId: m.userId })));
      if (batches.length === 1) {
        entered();
        await held;
      }
      return original.call(this, batch);
    };
    try {
      const first = sc.ok('message:read', { conversationId: cid, seq: 1 });
      await inFirstFlush;
      // B's moves arrive while that flush is in the store: they all wait for the next one.
      const acks: Promise<any>[] = [];
      for (let seq = 1; seq <= 50; seq++) acks.push(sb.call('message:delivered', { conversationId: cid, seq }));
      acks.push(sb2.call('message:read', { conversationId: cid, seq: 30 }));
      acks.push(sb.call('message:read', { conversationId: cid, seq: 20 }));
      await until(() => t.server.app.services.receipts.pending === 52, "B's 52 moves queued");
      release();
      await first;
      for (const ack of await Promise.all(acks)) expectShape(OkAck, ack);
    } finally {
      store.advanceMarkers = original;
      release();
    }

    expect(batches).toEqual([
      [{ type: 'read', seq: 1, userId: c.id }],
      [
        { type: 'delivered', seq: 50, userId: b.id },
        { type: 'read', seq: 30, userId: b.id },
      ],
    ]);
    for (const s of [sa, sb, sb2, sc]) {
      await waitReceipt(s, { conversationId: cid, userId: b.id, seq: 30, type: 'read' });
      await s.barrier();
      expect(receipts(s, (r) => r.userId === b.id).map((r) => [r.type, r.seq])).toEqual([
        ['delivered', 50],
        ['read', 30],
      ]);
    }
    // Stored as if each move had been applied: markers, status, unread count, seen-by.
    expect((await getConversation(t.url, b, cid)).unreadCount).toBe(20);
    const statuses = await historyStatuses(t.url, a, cid);
    expect(statuses).toEqual(['read', ...Array(49).fill('sent')]);
    await sc.ok('message:delivered', { conversationId: cid, seq: 50 });
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', ...Array(49).fill('delivered')]);
    const seen = await seenBy(t.url, a, cid, msgs[29].id);
    expect({ delivered: ids(seen.delivered), read: ids(seen.read) }).toEqual({ delivered: sorted([b.id, c.id]), read: [b.id] });
    const bRead = receipts(sa, (r) => r.userId === b.id && r.type === 'read')[0];
    expect(seen.read[0]!.at).toBe(bRead.at);
  });

  it('a move past lastSeq in a merged flush is refused alone; the same user\'s other moves still apply', async () => {
    const [a, b] = [await register(t.url, 'a'), await register(t.url, 'b')];
    const cid = (await direct(t.url, a, b)).id;
    const [sa, sb] = [await pool.connect(a), await pool.connect(b)];
    await sendMany(sa, cid, 3);
    const acks = await Promise.all([
      sb.call('message:delivered', { conversationId: cid, seq: 2 }),
      sb.call('message:delivered', { conversationId: cid, seq: 9 }),
      sb.call('message:read', { conversationId: cid, seq: 1 }),
      sb.call('message:read', { conversationId: cid, seq: 4 }),
    ]);
    expectShape(OkAck, acks[0]);
    expectAckError(acks[1], 'validation');
    expectShape(OkAck, acks[2]);
    expectAckError(acks[3], 'validation');
    expect(await historyStatuses(t.url, a, cid)).toEqual(['read', 'delivered', 'sent']);
    await waitReceipt(sa, { conversationId: cid, userId: b.id, seq: 1, type: 'read' });
  });

  it('many members moving many markers at once, in whatever flushes: every socket ends on the final markers, in order, and status agrees', async () => {
    const owner = await register(t.url, 'o');
    const others = await Promise.all([1, 2, 3, 4].map(() => register(t.url, 'm')));
    const cid = (await group(t.url, owner, others)).id;
    const so = await pool.connect(owner);
    const socks = await Promise.all(others.map((m) => pool.connect(m)));
    const N = 40;
    await sendMany(so, cid, N);
    // Each member: every delivered 1..N and a read every 3rd, shuffled, none awaited before the next.
    const finalRead = [N, 30, 12, 0];
    const all: Promise<any>[] = [];
    others.forEach((_, i) => {
      const moves: [string, number][] = [];
      for (let seq = 1; seq <= N; seq++) moves.push(['message:delivered', seq]);
      for (let seq = 3; seq <= finalRead[i]!; seq += 3) moves.push(['message:read', seq]);
      if (finalRead[i]! > 0) moves.push(['message:read', finalRead[i]!]);
      for (let k = moves.length - 1; k > 0; k--) {
        const j = (k * 7919 + i * 104729) % (k + 1); // a fixed shuffle
        [moves[k], moves[j]] = [moves[j]!, moves[k]!];
      }
      for (const [event, seq] of moves) all.push(socks[i]!.call(event, { conversationId: cid, seq }));
    });
    for (const ack of await Promise.all(all)) expectShape(OkAck, ack);

    for (const s of [so, ...socks]) {
      await s.barrier();
      for (const [i, m] of others.entries()) {
        for (const type of ['delivered', 'read'] as const) {
          const seqs = receipts(s, (r) => r.userId === m.id && r.type === type && r.conversationId === cid).map((r) => r.seq);
          // Markers only move forward: each receipt further than the one before, the last at the final marker.
          expect(seqs, `${type} of member ${i}`).toEqual([...seqs].sort((x, y) => x - y));
          expect(new Set(seqs).size).toBe(seqs.length);
          expect(seqs.at(-1) ?? 0).toBe(type === 'delivered' ? N : finalRead[i]);
        }
      }
    }
    const statuses = await historyStatuses(t.url, owner, cid);
    expect(statuses).toEqual(Array.from({ length: N }, () => 'delivered'));
    for (const [i, m] of others.entries()) expect((await getConversation(t.url, m, cid)).unreadCount).toBe(N - finalRead[i]!);
  });
});
