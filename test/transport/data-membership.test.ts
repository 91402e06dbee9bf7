import { describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { direct, group, http, register, type Account, type TestSocket } from '../helpers/client.js';
import { useServer } from '../helpers/server.js';
import { expectConversation, expectMessage, expectShape, expectAckError } from '../helpers/shapes.js';

/**
 * Membership and archive, as they meet edits and deletions. What
 * test/transport/conversations.test.ts (archive, removal), typing-presence
 * (typing after removal) and search.test.ts (search after removal) already
 * cover is not repeated here.
 * Contract: "Conversations (REST)" (members, archive), "Socket.IO events"
 * (message:edit / message:delete, message:updated).
 */

const t = useServer();
const { pool } = t;

const MessageAck = Type.Object({ ok: Type.Literal(true), message: Type.Any() });

const api = (who: Account, method: string, path: string, body?: unknown) => http(t.url, method, path, { token: who.token, body });
const removeMember = async (cid: string, actor: Account, userId: string) => {
  const r = await api(actor, 'DELETE', `/api/conversations/${cid}/members/${userId}`);
  expect(r.status, JSON.stringify(r.body)).toBe(204);
};

async function edit(s: TestSocket, messageId: string, content: string) {
  const ack = await s.call('message:edit', { messageId, content });
  expectShape(MessageAck, ack);
  expectMessage(ack.message);
  return ack.message;
}
async function del(s: TestSocket, messageId: string) {
  const ack = await s.call('message:delete', { messageId });
  expectShape(MessageAck, ack);
  expectMessage(ack.message);
  return ack.message;
}

async function historyOf(who: Account, cid: string): Promise<any[]> {
  const r = await api(who, 'GET', `/api/conversations/${cid}/messages?limit=100`);
  expect(r.status).toBe(200);
  return r.body.messages;
}

const listIds = async (who: Account, query = '') => {
  const r = await api(who, 'GET', `/api/conversations${query}`);
  expect(r.status).toBe(200);
  for (const c of r.body.conversations) expectConversation(c);
  return (r.body.conversations as any[]).map((c) => c.id);
};

// ---- removed members ------------------------------------------------------------------------

describe('a removed member', () => {
  it('hears no message:updated (nor message:new) of the conversation from the moment of removal, on any socket', async () => {
    const [owner, stays, gone] = [await register(t.url, 'o'), await register(t.url, 's'), await register(t.url, 'g')];
    const g = (await group(t.url, owner, [stays, gone], 'edits')).id;
    const so = await pool.connect(owner);
    const ss = await pool.connect(stays);
    const sg1 = await pool.connect(gone);
    const sg2 = await pool.connect(gone, { transports: ['polling'] });
    const [m1, m2, m3] = [await so.send(g, 'one'), await so.send(g, 'two'), await so.send(g, 'three')];
    await edit(so, m1.id, 'one, edited while gone was in');
    for (const s of [sg1, sg2]) await s.waitFor('message:updated', (p) => p.message.id === m1.id);

    await removeMember(g, owner, gone.id);
    for (const s of [sg1, sg2]) await s.waitFor('conversation:removed', (p) => p.conversationId === g);

    await edit(so, m2.id, 'two, edited after');
    await del(so, m3.id);
    const after = await so.send(g, 'four');
    await ss.waitFor('message:updated', (p) => p.message.id === m3.id);
    await ss.waitFor('message:new', (p) => p.message.id === after.id);
    for (const s of [sg1, sg2]) {
      await s.barrier();
      expect(s.all('message:updated').map((p) => p.message.id)).toEqual([m1.id]);
      expect(s.all('message:new').map((p) => p.message.seq)).toEqual([1, 2, 3]);
    }
  });

  it('cannot edit or delete their own old messages there (not_found), which stay as they were', async () => {
    const [owner, gone] = [await register(t.url, 'o'), await register(t.url, 'g')];
    const g = (await group(t.url, owner, [gone], 'kept')).id;
    const so = await pool.connect(owner);
    const sg = await pool.connect(gone);
    const mine = await sg.send(g, 'what I said');
    const mine2 = await sg.send(g, 'and this');
    // while a member, they could
    expect((await edit(sg, mine2.id, 'and this, edited')).content).toBe('and this, edited');

    await removeMember(g, gone, gone.id); // they leave
    const before = await historyOf(owner, g);
    expectAckError(await sg.call('message:edit', { messageId: mine.id, content: 'rewritten after leaving' }), 'not_found');
    expectAckError(await sg.call('message:delete', { messageId: mine.id }), 'not_found');
    expectAckError(await sg.call('message:delete', { messageId: mine2.id }), 'not_found');
    expect(await historyOf(owner, g)).toEqual(before);
    expect((await api(owner, 'GET', `/api/conversations/${g}`)).body.lastRev).toBe(3);
    await so.barrier();
    expect(so.all('message:updated').map((p) => p.message.content)).toEqual(['and this, edited']);
  });

  it('removed by the owner, likewise; added back, may edit and delete them again', async () => {
    const [owner, gone] = [await register(t.url, 'o'), await register(t.url, 'g')];
    const g = (await group(t.url, owner, [gone], 'again')).id;
    const sg = await pool.connect(gone);
    const mine = await sg.send(g, 'mine');
    await removeMember(g, owner, gone.id);
    expectAckError(await sg.call('message:edit', { messageId: mine.id, content: 'no' }), 'not_found');
    expectAckError(await sg.call('message:delete', { messageId: mine.id }), 'not_found');
    expect((await api(owner, 'POST', `/api/conversations/${g}/members`, { userId: gone.id })).status).toBe(201);
    expect((await edit(sg, mine.id, 'mine, edited on return')).content).toBe('mine, edited on return');
    expect((await del(sg, mine.id)).deletedAt).not.toBeNull();
  });

  it('a member removed from a group cannot edit there, while their messages elsewhere stay theirs', async () => {
    const [owner, gone] = [await register(t.url, 'o'), await register(t.url, 'g')];
    const g = (await group(t.url, owner, [gone], 'one')).id;
    const d = (await direct(t.url, owner, gone)).id;
    const sg = await pool.connect(gone);
    const inGroup = await sg.send(g, 'in the group');
    const inDirect = await sg.send(d, 'in the direct');
    await removeMember(g, owner, gone.id);
    expectAckError(await sg.call('message:edit', { messageId: inGroup.id, content: 'x' }), 'not_found');
    expect((await edit(sg, inDirect.id, 'still mine')).content).toBe('still mine');
  });
});

// ---- archive meets the data work --------------------------------------------------------------

describe('archive, per user and sticky', () => {
  const archive = (cid: string, who: Account) => api(who, 'PUT', `/api/conversations/${cid}/archive`);

  it("stays archived through the archiver's own messages, edits and deletions, and the archiver still hears them all", async () => {
    const [a, b] = [await register(t.url, 'a'), await register(t.url, 'b')];
    const cid = (await direct(t.url, a, b)).id;
    const a1 = await pool.connect(a);
    const a2 = await pool.connect(a);
    const sb = await pool.connect(b);
    expect((await archive(cid, a)).body.archived).toBe(true);

    const fromB = await sb.send(cid, 'from b');
    const fromA = await a1.send(cid, 'from a, while archived');
    await edit(sb, fromB.id, 'from b, edited');
    await del(a1, fromA.id);
    await a1.waitFor('message:new', (p) => p.message.id === fromB.id);
    await a1.waitFor('message:updated', (p) => p.message.id === fromB.id);
    await a2.waitFor('message:new', (p) => p.message.id === fromA.id);
    await a2.waitFor('message:updated', (p) => p.message.id === fromA.id);

    expect(await listIds(a)).not.toContain(cid);
    expect(await listIds(a, '?archived=true')).toEqual([cid]);
    const conv = (await api(a, 'GET', `/api/conversations/${cid}`)).body;
    expect(conv).toMatchObject({ archived: true, lastSeq: 2, unreadCount: 0 });
    expect(conv.lastMessage).toMatchObject({ id: fromA.id, content: '' });
    // B's side is untouched
    expect(await listIds(b)).toEqual([cid]);
    expect(await listIds(b, '?archived=true')).toEqual([]);
  });

  it('in a group, archiving is each member\'s own: the others\' lists and counts are unaffected', async () => {
    const [a, b, c] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c')];
    const g = (await group(t.url, a, [b, c], 'per user')).id;
    const sa = await pool.connect(a);
    expect((await archive(g, b)).body.archived).toBe(true);
    await sa.send(g, 'one');
    await sa.send(g, 'two');
    expect(await listIds(b)).not.toContain(g);
    expect(await listIds(b, '?archived=true')).toEqual([g]);
    for (const who of [a, c]) {
      expect(await listIds(who)).toEqual([g]);
      expect(await listIds(who, '?archived=true')).toEqual([]);
    }
    const asB = (await api(b, 'GET', `/api/conversations?archived=true`)).body.conversations[0];
    const asC = (await api(c, 'GET', `/api/conversations/${g}`)).body;
    expect(asB).toMatchObject({ archived: true, unreadCount: 2 });
    expect(asC).toMatchObject({ archived: false, unreadCount: 2 });
    // b un-archives: only b's view changes back
    expect((await api(b, 'DELETE', `/api/conversations/${g}/archive`)).body.archived).toBe(false);
    expect(await listIds(b)).toEqual([g]);
  });

  it('?archived=true lists only archived conversations, latest activity first, paged like the main list', async () => {
    const a = await register(t.url, 'a');
    const others = [await register(t.url, 'x'), await register(t.url, 'y'), await register(t.url, 'z')];
    const ids: string[] = [];
    for (const o of others) ids.push((await direct(t.url, a, o)).id);
    const kept = (await group(t.url, a, [], 'not archived')).id;
    for (const id of ids) await archive(id, a);
    const sa = await pool.connect(a);
    await sa.send(ids[0]!, 'bump the first'); // latest activity now
    expect(await listIds(a)).toEqual([kept]);
    expect(await listIds(a, '?archived=true')).toEqual([ids[0], ids[2], ids[1]]);
    const page1 = (await api(a, 'GET', '/api/conversations?archived=true&limit=2')).body;
    expect(page1.conversations.map((c: any) => c.id)).toEqual([ids[0], ids[2]]);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = (await api(a, 'GET', `/api/conversations?archived=true&limit=2&cursor=${encodeURIComponent(page1.nextCursor)}`)).body;
    expect(page2.conversations.map((c: any) => c.id)).toEqual([ids[1]]);
    for (const c of [...page1.conversations, ...page2.conversations]) expect(c.archived).toBe(true);
  });
});

// ---- leaving and coming back ----------------------------------------------------------------

describe('leaving a group and being added back, with a clock the test moves', () => {
  let clock = Date.now();
  const clocked = useServer({}, { now: () => clock });
  const cpool = clocked.pool;

  it('a member who sent the last message, left, and is added back a minute later with nothing said in between is added (201)', async () => {
    const url = clocked.url;
    const [owner, back] = [await register(url, 'o'), await register(url, 'b')];
    const g = (await group(url, owner, [back], 'come back')).id;
    const sb = await cpool.connect(back);
    const mine = await sb.send(g, 'my last word');
    const left = await http(url, 'DELETE', `/api/conversations/${g}/members/${back.id}`, { token: back.token });
    expect(left.status).toBe(204);
    clock += 60_000;
    const added = await http(url, 'POST', `/api/conversations/${g}/members`, { token: owner.token, body: { userId: back.id } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const conv = await http(url, 'GET', `/api/conversations/${g}`, { token: back.token });
    expect(conv.status).toBe(200);
    expect(conv.body).toMatchObject({ lastSeq: 1, unreadCount: 0 });
    // and, a member again, may edit what they said
    const ack = await sb.call('message:edit', { messageId: mine.id, content: 'my last word, edited' });
    expect(ack).toMatchObject({ ok: true, message: { content: 'my last word, edited' } });
  });

  it('likewise for a member who had read up to the last message', async () => {
    const url = clocked.url;
    const [owner, back] = [await register(url, 'o'), await register(url, 'b')];
    const g = (await group(url, owner, [back], 'come back')).id;
    const so = await cpool.connect(owner);
    const sb = await cpool.connect(back);
    await so.send(g, 'hello');
    clock += 5_000;
    await sb.ok('message:read', { conversationId: g, seq: 1 });
    const removed = await http(url, 'DELETE', `/api/conversations/${g}/members/${back.id}`, { token: owner.token });
    expect(removed.status).toBe(204);
    clock += 60_000;
    const added = await http(url, 'POST', `/api/conversations/${g}/members`, { token: owner.token, body: { userId: back.id } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
  });
});
