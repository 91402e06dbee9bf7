import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type Parley } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { tempDir, useServer } from '../helpers/server.js';
import { SocketPool, direct, group, http, register, type Account, type HttpResult } from '../helpers/client.js';
import { expectError, expectMessage, expectConversation } from '../helpers/shapes.js';

/** REST conversations through a real t.server. Contract: "Conversations (REST)". */

const t = useServer();
const { pool } = t;

// ---- helpers ------------------------------------------------------------------

const api = (method: string, path: string, token?: string, body?: unknown) =>
  http(t.server.url, method, path, { token, body });
const user = (prefix = 'u') => register(t.server.url, prefix);
const users = async (n: number, prefix = 'u') => {
  const out: Account[] = [];
  for (let i = 0; i < n; i++) out.push(await user(prefix));
  return out;
};
const getConversation = (id: string, who: Account) => api('GET', `/api/conversations/${id}`, who.token);
const list = (who: Account, query = '') => api('GET', `/api/conversations${query ? `?${query}` : ''}`, who.token);
const listIds = async (who: Account, query = '') => {
  const r = await list(who, query);
  expect(r.status).toBe(200);
  return (r.body.conversations as any[]).map((c) => c.id);
};
const history = (id: string, who: Account, query = '') =>
  api('GET', `/api/conversations/${id}/messages${query ? `?${query}` : ''}`, who.token);
const memberIds = (c: any) => (c.members as any[]).map((m) => m.id).sort();
const sorted = (ids: string[]) => [...ids].sort();

/** Sends `n` messages from `who` and answers them in order. */
async function sendMany(conversationId: string, who: Account, n: number, text = 'm'): Promise<any[]> {
  const s = await pool.connect(who);
  const out = [];
  for (let i = 1; i <= n; i++) out.push(await s.send(conversationId, `${text} ${i}`));
  return out;
}

// ---- creating -------------------------------------------------------------------

describe('POST /api/conversations {type:"direct"}', () => {
  it('creates once: 201, then 200 with the same conversation', async () => {
    const [a, b] = await users(2);
    const first = await api('POST', '/api/conversations', a!.token, { type: 'direct', memberIds: [b!.id] });
    expect(first.status).toBe(201);
    expectConversation(first.body);
    expect(first.body).toMatchObject({ type: 'direct', title: null, ownerId: null, lastMessage: null, lastSeq: 0, archived: false });
    expect(memberIds(first.body)).toEqual(sorted([a!.id, b!.id]));

    const again = await api('POST', '/api/conversations', a!.token, { type: 'direct', memberIds: [b!.id] });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
  });

  it('is the same conversation when the other side creates it', async () => {
    const [a, b] = await users(2);
    const first = await api('POST', '/api/conversations', a!.token, { type: 'direct', memberIds: [b!.id] });
    const fromB = await api('POST', '/api/conversations', b!.token, { type: 'direct', memberIds: [a!.id] });
    expect(first.status).toBe(201);
    expect(fromB.status).toBe(200);
    expect(fromB.body.id).toBe(first.body.id);
    expect(await listIds(a!)).toEqual([first.body.id]);
  });

  it('different pairs get different conversations', async () => {
    const [a, b, c] = await users(3);
    const ab = await direct(t.server.url, a!, b!);
    const ac = await direct(t.server.url, a!, c!);
    expect(ab.id).not.toBe(ac.id);
  });

  it('refuses a direct conversation with oneself (400)', async () => {
    const a = await user();
    expectError(await api('POST', '/api/conversations', a.token, { type: 'direct', memberIds: [a.id] }), 400, 'validation');
  });

  it('refuses zero or two memberIds (400)', async () => {
    const [a, b, c] = await users(3);
    expectError(await api('POST', '/api/conversations', a!.token, { type: 'direct', memberIds: [] }), 400, 'validation');
    expectError(await api('POST', '/api/conversations', a!.token, { type: 'direct', memberIds: [b!.id, c!.id] }), 400, 'validation');
    expect(await listIds(a!)).toEqual([]);
  });

  it('refuses an unknown member id with 404 not_found', async () => {
    const a = await user();
    expectError(await api('POST', '/api/conversations', a.token, { type: 'direct', memberIds: ['u99999999'] }), 404, 'not_found');
    expectError(await api('POST', '/api/conversations', a.token, { type: 'direct', memberIds: ['nope'] }), 404, 'not_found');
    expect(await listIds(a)).toEqual([]);
  });

  it('rejects a malformed body (400)', async () => {
    const [a, b] = await users(2);
    const bad = [
      { type: 'direct' },
      { type: 'triad', memberIds: [b!.id] },
      { type: 'direct', memberIds: b!.id },
      { type: 'direct', memberIds: [42] },
      { memberIds: [b!.id] },
    ];
    for (const body of bad) expectError(await api('POST', '/api/conversations', a!.token, body), 400, 'validation');
  });

  it('needs a token (401)', async () => {
    const b = await user();
    expectError(await api('POST', '/api/conversations', undefined, { type: 'direct', memberIds: [b.id] }), 401, 'unauthorized');
  });
});

describe('POST /api/conversations {type:"group"}', () => {
  it('creates a group owned by its creator, who is a member once', async () => {
    const [a, b, c] = await users(3);
    const r = await api('POST', '/api/conversations', a!.token, { type: 'group', title: 'Team', memberIds: [b!.id, a!.id, c!.id, b!.id] });
    expect(r.status).toBe(201);
    expectConversation(r.body);
    expect(r.body).toMatchObject({ type: 'group', title: 'Team', ownerId: a!.id, lastMessage: null, lastSeq: 0, lastRev: 0, unreadCount: 0 });
    expect(memberIds(r.body)).toEqual(sorted([a!.id, b!.id, c!.id]));
  });

  it('the creator is a member even when memberIds leaves them out', async () => {
    const [a, b] = await users(2);
    const g = await group(t.server.url, a!, [b!], 'no creator listed');
    expect(memberIds(g)).toContain(a!.id);
    expect((await getConversation(g.id, a!)).status).toBe(200);
  });

  it('two groups with the same members are two conversations', async () => {
    const [a, b] = await users(2);
    const g1 = await group(t.server.url, a!, [b!], 'same');
    const g2 = await group(t.server.url, a!, [b!], 'same');
    expect(g1.id).not.toBe(g2.id);
  });

  it.each([
    ['missing', {}],
    ['null', { title: null }],
    ['empty', { title: '' }],
    ['blank', { title: '   ' }],
    ['too long', { title: 't'.repeat(201) }],
    ['a number', { title: 5 }],
  ])('refuses a title that is %s (400)', async (_what, extra) => {
    const [a, b] = await users(2);
    expectError(await api('POST', '/api/conversations', a!.token, { type: 'group', memberIds: [b!.id], ...extra }), 400, 'validation');
    expect(await listIds(a!)).toEqual([]);
  });

  it('refuses an unknown member with 404 and creates nothing', async () => {
    const [a, b] = await users(2);
    const r = await api('POST', '/api/conversations', a!.token, { type: 'group', title: 'x', memberIds: [b!.id, 'u99999999'] });
    expectError(r, 404, 'not_found');
    expect(await listIds(a!)).toEqual([]);
    expect(await listIds(b!)).toEqual([]);
  });

  it('every member is told with conversation:new', async () => {
    const [a, b] = await users(2);
    const sb = await pool.connect(b!);
    const g = await group(t.server.url, a!, [b!], 'hello');
    const [event] = await sb.waitFor('conversation:new', (p) => p.conversation?.id === g.id);
    expectConversation(event.conversation);
    expect(event.conversation.title).toBe('hello');
  });
});

// ---- reading one ----------------------------------------------------------------

describe('GET /api/conversations/:id', () => {
  let a: Account, b: Account, outsider: Account;
  let g: any;
  beforeAll(async () => {
    [a, b, outsider] = (await users(3)) as [Account, Account, Account];
    g = await group(t.server.url, a, [b], 'readers');
  });

  it('answers the Conversation to every member', async () => {
    for (const who of [a, b]) {
      const r = await getConversation(g.id, who);
      expect(r.status).toBe(200);
      expectConversation(r.body);
      expect(r.body).toMatchObject({ id: g.id, type: 'group', title: 'readers', ownerId: a.id });
      expect(memberIds(r.body)).toEqual(sorted([a.id, b.id]));
    }
  });

  it('is 403 forbidden for a non-member', async () => {
    expectError(await getConversation(g.id, outsider), 403, 'forbidden');
  });

  it.each(['nope-123', 'c999999', 'c0', 'x'])('is 404 not_found for the unknown id %s', async (id) => {
    expectError(await getConversation(id, a), 404, 'not_found');
  });

  it('is 404 for a user id used as a conversation id', async () => {
    expectError(await getConversation(a.id, a), 404, 'not_found');
  });

  it('is 401 without a token', async () => {
    expectError(await api('GET', `/api/conversations/${g.id}`), 401, 'unauthorized');
  });

  it('shows lastMessage, lastSeq, lastRev and each viewer\'s unreadCount', async () => {
    const [x, y] = await users(2);
    const c = await direct(t.server.url, x!, y!);
    const sent = await sendMany(c.id, x!, 2);
    const forX = (await getConversation(c.id, x!)).body;
    const forY = (await getConversation(c.id, y!)).body;
    for (const view of [forX, forY]) {
      expect(view.lastSeq).toBe(2);
      expect(view.lastRev).toBe(2);
      expect(view.lastMessage).toMatchObject({ id: sent[1].id, seq: 2, content: 'm 2', senderId: x!.id });
    }
    expect(forX.unreadCount).toBe(0);
    expect(forY.unreadCount).toBe(2);
  });
});

// ---- listing ----------------------------------------------------------------------

describe('GET /api/conversations', () => {
  it('answers {conversations:[Conversation], nextCursor} with only the caller\'s', async () => {
    const [a, b, c] = await users(3);
    const ab = await direct(t.server.url, a!, b!);
    await direct(t.server.url, b!, c!);
    const r = await list(a!);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['conversations', 'nextCursor']);
    expect(r.body.nextCursor).toBeNull();
    expect(r.body.conversations.map((x: any) => x.id)).toEqual([ab.id]);
    r.body.conversations.forEach(expectConversation);
  });

  it('lists the latest activity first', async () => {
    const a = await user();
    const others = await users(3);
    const created = [];
    for (const o of others) created.push(await direct(t.server.url, a, o));
    expect(await listIds(a)).toEqual(created.map((c) => c.id).reverse());
  });

  it('a new message bumps a conversation to the top', async () => {
    const a = await user();
    const others = await users(3);
    const [c1, c2, c3] = [await direct(t.server.url, a, others[0]!), await direct(t.server.url, a, others[1]!), await direct(t.server.url, a, others[2]!)];
    expect(await listIds(a)).toEqual([c3.id, c2.id, c1.id]);

    const s = await pool.connect(others[0]!);
    const m = await s.send(c1.id, 'wake up');
    const r = await list(a);
    expect(r.body.conversations.map((x: any) => x.id)).toEqual([c1.id, c3.id, c2.id]);
    expect(r.body.conversations[0].lastMessage).toMatchObject({ id: m.id, content: 'wake up' });
  });

  it('needs a token (401)', async () => {
    expectError(await api('GET', '/api/conversations'), 401, 'unauthorized');
  });

  describe('cursor pagination', () => {
    let a: Account;
    let all: string[];
    beforeAll(async () => {
      a = await user('pager');
      const b = await user();
      // created back to back: many share a millisecond, so the cursor must break ties
      for (let i = 0; i < 7; i++) await group(t.server.url, a, [b], `g${i}`);
      all = await listIds(a, 'limit=500');
      expect(all).toHaveLength(7);
    });

    async function walk(limit: number): Promise<{ pages: string[][]; lastCursor: unknown }> {
      const pages: string[][] = [];
      let cursor: string | null = null;
      for (let guard = 0; guard < 20; guard++) {
        const r: HttpResult = await list(a, `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(r.status).toBe(200);
        const page = (r.body.conversations as any[]).map((c) => c.id);
        expect(page.length).toBeLessThanOrEqual(limit);
        pages.push(page);
        cursor = r.body.nextCursor;
        if (cursor === null) return { pages, lastCursor: cursor };
        expect(typeof cursor).toBe('string');
      }
      throw new Error('pagination did not end');
    }

    it('walks every conversation once, in order, ending with nextCursor null', async () => {
      const { pages } = await walk(3);
      expect(pages.slice(0, 3).map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(all);
    });

    it('walks every conversation once with limit=1', async () => {
      const { pages } = await walk(1);
      expect(pages.flat()).toEqual(all);
      expect(new Set(pages.flat()).size).toBe(7);
    });

    it('walks every conversation once when the limit divides the count', async () => {
      // The contract does not say whether the full last page already has nextCursor null;
      // a page after the last conversation, if any, must be empty and end the walk.
      const { pages } = await walk(7);
      expect(pages.flat()).toEqual(all);
      expect(pages[0]).toEqual(all);
      for (const extra of pages.slice(1)) expect(extra).toEqual([]);
    });

    it('answers the first page with a cursor when there is more', async () => {
      const r = await list(a, 'limit=2');
      expect(r.body.conversations.map((c: any) => c.id)).toEqual(all.slice(0, 2));
      expect(typeof r.body.nextCursor).toBe('string');
    });

    it('defaults to everything up to 200 with nextCursor null', async () => {
      const r = await list(a);
      expect(r.body.conversations.map((c: any) => c.id)).toEqual(all);
      expect(r.body.nextCursor).toBeNull();
    });

    it.each([
      ['garbage', 'garbage'],
      ['base64 of something else', Buffer.from('{"a":1}').toString('base64url')],
      ['base64 of a wrong tuple', Buffer.from('["x", 1]').toString('base64url')],
      ['too long', 'x'.repeat(500)],
    ])('rejects a bad cursor (%s) with 400', async (_what, cursor) => {
      expectError(await list(a, `cursor=${encodeURIComponent(cursor)}`), 400, 'validation');
    });

    it.each(['0', '501', '-3', 'abc'])('rejects limit=%s with 400', async (limit) => {
      expectError(await list(a, `limit=${limit}`), 400, 'validation');
    });

    it('accepts limit=1 and limit=500', async () => {
      expect((await list(a, 'limit=1')).status).toBe(200);
      expect((await list(a, 'limit=500')).status).toBe(200);
    });
  });
});

// ---- title -----------------------------------------------------------------------

describe('PATCH /api/conversations/:id {title}', () => {
  it('any member may rename a group, and the change sticks', async () => {
    const [owner, member] = await users(2);
    const g = await group(t.server.url, owner!, [member!], 'old');
    const r = await api('PATCH', `/api/conversations/${g.id}`, member!.token, { title: 'new' });
    expect(r.status).toBe(200);
    expectConversation(r.body);
    expect(r.body.title).toBe('new');
    expect((await getConversation(g.id, owner!)).body.title).toBe('new');
  });

  it('sends conversation:updated to the other members\' sockets', async () => {
    const [owner, member, third] = await users(3);
    const g = await group(t.server.url, owner!, [member!, third!], 'before');
    const so = await pool.connect(owner!);
    const st = await pool.connect(third!);
    await api('PATCH', `/api/conversations/${g.id}`, member!.token, { title: 'after' });
    for (const s of [so, st]) {
      const [event] = await s.waitFor('conversation:updated', (p) => p.conversation?.id === g.id);
      expectConversation(event.conversation);
      expect(event.conversation.title).toBe('after');
    }
  });

  it('a direct conversation has no title (400)', async () => {
    const [a, b] = await users(2);
    const d = await direct(t.server.url, a!, b!);
    expectError(await api('PATCH', `/api/conversations/${d.id}`, a!.token, { title: 'x' }), 400, 'validation');
    expect((await getConversation(d.id, a!)).body.title).toBeNull();
  });

  it('an outsider may not rename (403)', async () => {
    const [owner, member, outsider] = await users(3);
    const g = await group(t.server.url, owner!, [member!], 'keep');
    expectError(await api('PATCH', `/api/conversations/${g.id}`, outsider!.token, { title: 'hijack' }), 403, 'forbidden');
    expect((await getConversation(g.id, owner!)).body.title).toBe('keep');
  });

  it('an unknown conversation is 404', async () => {
    const a = await user();
    expectError(await api('PATCH', '/api/conversations/c999999', a.token, { title: 'x' }), 404, 'not_found');
  });

  it.each([['missing', {}], ['blank', { title: '  ' }], ['too long', { title: 't'.repeat(201) }]])(
    'refuses a title that is %s (400)',
    async (_what, body) => {
      const [owner, member] = await users(2);
      const g = await group(t.server.url, owner!, [member!], 'keep');
      expectError(await api('PATCH', `/api/conversations/${g.id}`, owner!.token, body), 400, 'validation');
      expect((await getConversation(g.id, owner!)).body.title).toBe('keep');
    },
  );
});

// ---- members ------------------------------------------------------------------------

describe('POST /api/conversations/:id/members', () => {
  const add = (id: string, actor: Account, userId: string) => api('POST', `/api/conversations/${id}/members`, actor.token, { userId });

  it('adds a member (201) who can then read the conversation', async () => {
    const [owner, member, newcomer] = await users(3);
    const g = await group(t.server.url, owner!, [member!], 'grow');
    const r = await add(g.id, owner!, newcomer!.id);
    expect(r.status).toBe(201);
    expectConversation(r.body);
    expect(memberIds(r.body)).toEqual(sorted([owner!.id, member!.id, newcomer!.id]));
    expect((await getConversation(g.id, newcomer!)).status).toBe(200);
    expect(await listIds(newcomer!)).toEqual([g.id]);
  });

  it('any member may add, not only the owner', async () => {
    const [owner, member, newcomer] = await users(3);
    const g = await group(t.server.url, owner!, [member!], 'grow');
    expect((await add(g.id, member!, newcomer!.id)).status).toBe(201);
    expect(memberIds((await getConversation(g.id, owner!)).body)).toContain(newcomer!.id);
  });

  it('adding someone already in is a 200 no-op', async () => {
    const [owner, member] = await users(2);
    const g = await group(t.server.url, owner!, [member!], 'same');
    const r = await add(g.id, owner!, member!.id);
    expect(r.status).toBe(200);
    expect(memberIds(r.body)).toEqual(sorted([owner!.id, member!.id]));
    const self = await add(g.id, member!, member!.id);
    expect(self.status).toBe(200);
    expect(memberIds(self.body)).toEqual(sorted([owner!.id, member!.id]));
  });

  it('a new member sees the whole history', async () => {
    const [owner, member, newcomer] = await users(3);
    const g = await group(t.server.url, owner!, [member!], 'history');
    const sent = await sendMany(g.id, owner!, 3, 'before');
    expect((await add(g.id, member!, newcomer!.id)).status).toBe(201);
    const h = await history(g.id, newcomer!);
    expect(h.status).toBe(200);
    expect(h.body.messages.map((m: any) => m.id)).toEqual(sent.map((m) => m.id));
    expect(h.body.messages.map((m: any) => m.content)).toEqual(['before 1', 'before 2', 'before 3']);
  });

  it('a direct conversation takes no third member (4xx) and keeps its two', async () => {
    const [a, b, c] = await users(3);
    const d = await direct(t.server.url, a!, b!);
    const r = await add(d.id, a!, c!.id);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(memberIds((await getConversation(d.id, a!)).body)).toEqual(sorted([a!.id, b!.id]));
    expect((await getConversation(d.id, c!)).status).toBe(403);
  });

  it('an outsider may not add (403), not even themself', async () => {
    const [owner, member, outsider] = await users(3);
    const g = await group(t.server.url, owner!, [member!], 'closed');
    expectError(await add(g.id, outsider!, outsider!.id), 403, 'forbidden');
    expect(memberIds((await getConversation(g.id, owner!)).body)).toEqual(sorted([owner!.id, member!.id]));
  });

  it('an unknown user is 404 and an unknown conversation is 404', async () => {
    const [owner, member] = await users(2);
    const g = await group(t.server.url, owner!, [member!], 'x');
    expectError(await add(g.id, owner!, 'u99999999'), 404, 'not_found');
    expectError(await add('c999999', owner!, member!.id), 404, 'not_found');
  });

  it('a missing userId is 400', async () => {
    const [owner, member] = await users(2);
    const g = await group(t.server.url, owner!, [member!], 'x');
    expectError(await api('POST', `/api/conversations/${g.id}/members`, owner!.token, {}), 400, 'validation');
  });

  it('conversation:new reaches every socket of the added member', async () => {
    const [owner, member, newcomer] = await users(3);
    const g = await group(t.server.url, owner!, [member!], 'welcome');
    const s1 = await pool.connect(newcomer!);
    const s2 = await pool.connect(newcomer!);
    await add(g.id, owner!, newcomer!.id);
    for (const s of [s1, s2]) {
      const [event] = await s.waitFor('conversation:new', (p) => p.conversation?.id === g.id);
      expectConversation(event.conversation);
      expect(memberIds(event.conversation)).toContain(newcomer!.id);
    }
  });

  it('the members already in hear conversation:updated with the new member list', async () => {
    const [owner, member, newcomer] = await users(3);
    const g = await group(t.server.url, owner!, [member!], 'welcome');
    const sm = await pool.connect(member!);
    await add(g.id, owner!, newcomer!.id);
    await sm.waitFor('conversation:updated', (p) => p.conversation?.id === g.id && memberIds(p.conversation).includes(newcomer!.id));
  });

  it('a no-op add announces nothing', async () => {
    const [owner, member] = await users(2);
    const g = await group(t.server.url, owner!, [member!], 'quiet');
    const sm = await pool.connect(member!);
    await sm.barrier();
    expect((await add(g.id, owner!, member!.id)).status).toBe(200);
    await sm.barrier();
    expect(sm.all('conversation:new', (p) => p.conversation?.id === g.id)).toEqual([]);
    expect(sm.all('conversation:updated', (p) => p.conversation?.id === g.id)).toEqual([]);
  });
});

describe('DELETE /api/conversations/:id/members/:userId', () => {
  const remove = (id: string, actor: Account, userId: string) => api('DELETE', `/api/conversations/${id}/members/${userId}`, actor.token);

  it('a member may remove themself (204)', async () => {
    const [owner, member] = await users(2);
    const g = await group(t.server.url, owner!, [member!], 'leave');
    const r = await remove(g.id, member!, member!.id);
    expect(r.status).toBe(204);
    expect(memberIds((await getConversation(g.id, owner!)).body)).toEqual([owner!.id]);
    expect(await listIds(member!)).toEqual([]);
  });

  it('the owner may remove anyone (204)', async () => {
    const [owner, m1, m2] = await users(3);
    const g = await group(t.server.url, owner!, [m1!, m2!], 'kick');
    expect((await remove(g.id, owner!, m1!.id)).status).toBe(204);
    expect(memberIds((await getConversation(g.id, owner!)).body)).toEqual(sorted([owner!.id, m2!.id]));
  });

  it('a member who is not the owner may not remove another (403)', async () => {
    const [owner, m1, m2] = await users(3);
    const g = await group(t.server.url, owner!, [m1!, m2!], 'no coup');
    expectError(await remove(g.id, m1!, m2!.id), 403, 'forbidden');
    expectError(await remove(g.id, m1!, owner!.id), 403, 'forbidden');
    expect(memberIds((await getConversation(g.id, owner!)).body)).toEqual(sorted([owner!.id, m1!.id, m2!.id]));
  });

  it('an outsider may not remove anyone (403)', async () => {
    const [owner, m1, outsider] = await users(3);
    const g = await group(t.server.url, owner!, [m1!], 'x');
    expectError(await remove(g.id, outsider!, m1!.id), 403, 'forbidden');
    expect(memberIds((await getConversation(g.id, owner!)).body)).toEqual(sorted([owner!.id, m1!.id]));
  });

  it('an unknown conversation is 404', async () => {
    const a = await user();
    expectError(await remove('c999999', a, a.id), 404, 'not_found');
  });

  it('nobody leaves a direct conversation (4xx) and it keeps both members', async () => {
    const [a, b] = await users(2);
    const d = await direct(t.server.url, a!, b!);
    const r = await remove(d.id, a!, a!.id);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(memberIds((await getConversation(d.id, b!)).body)).toEqual(sorted([a!.id, b!.id]));
  });

  describe('a removed member sees nothing of the conversation any more', () => {
    it('gets 403 on the conversation and its history', async () => {
      const [owner, gone] = await users(2);
      const g = await group(t.server.url, owner!, [gone!], 'secret');
      await sendMany(g.id, owner!, 1);
      expect((await history(g.id, gone!)).status).toBe(200);
      expect((await remove(g.id, owner!, gone!.id)).status).toBe(204);
      expectError(await getConversation(g.id, gone!), 403, 'forbidden');
      expectError(await history(g.id, gone!), 403, 'forbidden');
      expectError(await api('PATCH', `/api/conversations/${g.id}`, gone!.token, { title: 'x' }), 403, 'forbidden');
      expect(await listIds(gone!)).toEqual([]);
    });

    it('cannot send (ack forbidden)', async () => {
      const [owner, gone] = await users(2);
      const g = await group(t.server.url, owner!, [gone!], 'secret');
      const s = await pool.connect(gone!);
      await s.send(g.id, 'still in');
      expect((await remove(g.id, owner!, gone!.id)).status).toBe(204);
      const ack = await s.call('message:send', { conversationId: g.id, content: 'let me back' });
      expect(ack).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect((await getConversation(g.id, owner!)).body.lastSeq).toBe(1);
    });

    it('gets conversation:removed and no more message:new', async () => {
      const [owner, stays, gone] = await users(3);
      const g = await group(t.server.url, owner!, [stays!, gone!], 'secret');
      const sg = await pool.connect(gone!);
      const ss = await pool.connect(stays!);
      const so = await pool.connect(owner!);
      await so.send(g.id, 'before');
      await sg.waitFor('message:new', (p) => p.message?.conversationId === g.id);

      expect((await remove(g.id, owner!, gone!.id)).status).toBe(204);
      await sg.waitFor('conversation:removed', (p) => p.conversationId === g.id);

      await so.send(g.id, 'after');
      await ss.waitFor('message:new', (p) => p.message?.content === 'after');
      await sg.barrier();
      expect(sg.all('message:new', (p) => p.message?.conversationId === g.id).map((p) => p.message.content)).toEqual(['before']);
    });

    it('one who leaves also gets conversation:removed, and the rest conversation:updated', async () => {
      const [owner, gone] = await users(2);
      const g = await group(t.server.url, owner!, [gone!], 'bye');
      const sg = await pool.connect(gone!);
      const so = await pool.connect(owner!);
      expect((await remove(g.id, gone!, gone!.id)).status).toBe(204);
      await sg.waitFor('conversation:removed', (p) => p.conversationId === g.id);
      await so.waitFor('conversation:updated', (p) => p.conversation?.id === g.id && !memberIds(p.conversation).includes(gone!.id));
    });

    it('can be added back and then reads again', async () => {
      const [owner, back] = await users(2);
      const g = await group(t.server.url, owner!, [back!], 'again');
      await remove(g.id, back!, back!.id);
      expect((await api('POST', `/api/conversations/${g.id}/members`, owner!.token, { userId: back!.id })).status).toBe(201);
      expect((await getConversation(g.id, back!)).status).toBe(200);
    });
  });

  describe('ownership', () => {
    it('when the owner leaves, the longest-standing remaining member becomes owner', async () => {
      // `late` registers before `early` so its user id sorts first: only the join time may decide.
      const owner = await user('own');
      const late = await user('late');
      const early = await user('early');
      const g = await group(t.server.url, owner, [early], 'succession');
      expect((await api('POST', `/api/conversations/${g.id}/members`, owner.token, { userId: late.id })).status).toBe(201);

      expect((await remove(g.id, owner, owner.id)).status).toBe(204);
      const after = (await getConversation(g.id, early)).body;
      expect(after.ownerId).toBe(early.id);
      expect(memberIds(after)).toEqual(sorted([early.id, late.id]));

      // the new owner has the owner's powers
      expect((await remove(g.id, early, late.id)).status).toBe(204);
    });

    it('ownership passes on again when the next owner leaves', async () => {
      const [owner, second, third] = await users(3);
      const g = await group(t.server.url, owner!, [second!], 'chain');
      await api('POST', `/api/conversations/${g.id}/members`, owner!.token, { userId: third!.id });
      await remove(g.id, owner!, owner!.id);
      await remove(g.id, second!, second!.id);
      expect((await getConversation(g.id, third!)).body.ownerId).toBe(third!.id);
    });

    it('a member leaving does not change the owner', async () => {
      const [owner, m1, m2] = await users(3);
      const g = await group(t.server.url, owner!, [m1!, m2!], 'stable');
      await remove(g.id, m1!, m1!.id);
      expect((await getConversation(g.id, m2!)).body.ownerId).toBe(owner!.id);
    });
  });
});

// ---- archive ------------------------------------------------------------------------

describe('PUT/DELETE /api/conversations/:id/archive', () => {
  const archive = (id: string, who: Account) => api('PUT', `/api/conversations/${id}/archive`, who.token);
  const unarchive = (id: string, who: Account) => api('DELETE', `/api/conversations/${id}/archive`, who.token);

  it('PUT archives for the caller: hidden from the default list, listed by ?archived=true', async () => {
    const [a, b, c] = await users(3);
    const ab = await direct(t.server.url, a!, b!);
    const ac = await direct(t.server.url, a!, c!);
    const r = await archive(ab.id, a!);
    expect(r.status).toBe(200);
    expectConversation(r.body);
    expect(r.body.archived).toBe(true);
    expect(await listIds(a!)).toEqual([ac.id]);
    expect(await listIds(a!, 'archived=true')).toEqual([ab.id]);
    expect((await list(a!, 'archived=true')).body.conversations[0].archived).toBe(true);
    expect((await getConversation(ab.id, a!)).body.archived).toBe(true);
  });

  it('?archived=false is the default list', async () => {
    const [a, b, c] = await users(3);
    const ab = await direct(t.server.url, a!, b!);
    const ac = await direct(t.server.url, a!, c!);
    await archive(ab.id, a!);
    expect(await listIds(a!, 'archived=false')).toEqual([ac.id]);
  });

  it('hides nothing from the other member', async () => {
    const [a, b] = await users(2);
    const ab = await direct(t.server.url, a!, b!);
    await archive(ab.id, a!);
    expect(await listIds(b!)).toEqual([ab.id]);
    expect(await listIds(b!, 'archived=true')).toEqual([]);
    expect((await getConversation(ab.id, b!)).body.archived).toBe(false);
  });

  it('is sticky: a new message does not un-archive', async () => {
    const [a, b] = await users(2);
    const ab = await direct(t.server.url, a!, b!);
    await archive(ab.id, a!);
    const s = await pool.connect(b!);
    await s.send(ab.id, 'are you there?');
    expect(await listIds(a!)).toEqual([]);
    const archived = (await list(a!, 'archived=true')).body.conversations;
    expect(archived.map((c: any) => c.id)).toEqual([ab.id]);
    expect(archived[0]).toMatchObject({ archived: true, lastSeq: 1, unreadCount: 1 });
  });

  it('DELETE un-archives', async () => {
    const [a, b] = await users(2);
    const ab = await direct(t.server.url, a!, b!);
    await archive(ab.id, a!);
    const r = await unarchive(ab.id, a!);
    expect(r.status).toBe(200);
    expect(r.body.archived).toBe(false);
    expect(await listIds(a!)).toEqual([ab.id]);
    expect(await listIds(a!, 'archived=true')).toEqual([]);
  });

  it('archiving twice and un-archiving what is not archived are harmless', async () => {
    const [a, b] = await users(2);
    const ab = await direct(t.server.url, a!, b!);
    expect((await unarchive(ab.id, a!)).body.archived).toBe(false);
    await archive(ab.id, a!);
    expect((await archive(ab.id, a!)).body.archived).toBe(true);
    expect(await listIds(a!, 'archived=true')).toEqual([ab.id]);
  });

  it('an outsider gets 403 and an unknown conversation 404', async () => {
    const [a, b, outsider] = await users(3);
    const ab = await direct(t.server.url, a!, b!);
    expectError(await archive(ab.id, outsider!), 403, 'forbidden');
    expectError(await unarchive(ab.id, outsider!), 403, 'forbidden');
    expectError(await archive('c999999', a!), 404, 'not_found');
    expectError(await unarchive('nope-123', a!), 404, 'not_found');
  });

  it('rejects a malformed archived filter (400)', async () => {
    const a = await user();
    expectError(await list(a, 'archived=maybe'), 400, 'validation');
  });
});

// ---- history ------------------------------------------------------------------------

describe('GET /api/conversations/:id/messages', () => {
  let a: Account, b: Account, outsider: Account;
  let c: any;
  let sent: any[];
  const seqs = (r: HttpResult) => (r.body.messages as any[]).map((m) => m.seq);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  beforeAll(async () => {
    [a, b, outsider] = (await users(3)) as [Account, Account, Account];
    c = await direct(t.server.url, a, b);
    sent = await sendMany(c.id, a, 60, 'hist');
    pool.closeAll();
  });

  it('answers {messages:[Message], hasMore}, ascending by seq', async () => {
    const r = await history(c.id, b, 'limit=3');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['hasMore', 'messages']);
    r.body.messages.forEach(expectMessage);
    expect(r.body.messages[2]).toMatchObject({ id: sent[59].id, conversationId: c.id, seq: 60, senderId: a.id, content: 'hist 60' });
  });

  it('answers the latest 50 by default, with hasMore', async () => {
    const r = await history(c.id, b);
    expect(seqs(r)).toEqual(range(11, 60));
    expect(r.body.hasMore).toBe(true);
  });

  it('answers the latest `limit`', async () => {
    const r = await history(c.id, a, 'limit=10');
    expect(seqs(r)).toEqual(range(51, 60));
    expect(r.body.hasMore).toBe(true);
  });

  it('everything fits: hasMore false', async () => {
    const r = await history(c.id, a, 'limit=100');
    expect(seqs(r)).toEqual(range(1, 60));
    expect(r.body.hasMore).toBe(false);
  });

  it('before=S answers the `limit` messages just before S', async () => {
    const r = await history(c.id, a, 'before=51&limit=10');
    expect(seqs(r)).toEqual(range(41, 50));
    expect(r.body.hasMore).toBe(true);
  });

  it('before=S reaching the start: hasMore false', async () => {
    const r = await history(c.id, a, 'before=6&limit=10');
    expect(seqs(r)).toEqual(range(1, 5));
    expect(r.body.hasMore).toBe(false);
    const empty = await history(c.id, a, 'before=1');
    expect(empty.body).toEqual({ messages: [], hasMore: false });
  });

  it('after=S answers the `limit` messages just after S', async () => {
    const r = await history(c.id, a, 'after=0&limit=10');
    expect(seqs(r)).toEqual(range(1, 10));
    expect(r.body.hasMore).toBe(true);
    const mid = await history(c.id, a, 'after=20&limit=5');
    expect(seqs(mid)).toEqual(range(21, 25));
    expect(mid.body.hasMore).toBe(true);
  });

  it('after=S reaching the end: hasMore false', async () => {
    const r = await history(c.id, a, 'after=55&limit=10');
    expect(seqs(r)).toEqual(range(56, 60));
    expect(r.body.hasMore).toBe(false);
    expect((await history(c.id, a, 'after=60')).body).toEqual({ messages: [], hasMore: false });
  });

  it('paging back with before walks every message once', async () => {
    const seen: number[] = [];
    let before: number | null = null;
    for (let guard = 0; guard < 20; guard++) {
      const r: HttpResult = await history(c.id, a, `limit=7${before ? `&before=${before}` : ''}`);
      seen.unshift(...seqs(r));
      if (!r.body.hasMore) break;
      before = r.body.messages[0].seq;
    }
    expect(seen).toEqual(range(1, 60));
  });

  it('an empty conversation answers no messages and hasMore false', async () => {
    const [x, y] = await users(2);
    const d = await direct(t.server.url, x!, y!);
    expect((await history(d.id, x!)).body).toEqual({ messages: [], hasMore: false });
  });

  it('both cursors at once is 400', async () => {
    expectError(await history(c.id, a, 'before=30&after=10'), 400, 'validation');
  });

  it.each(['0', '101', 'abc', '-1'])('rejects limit=%s with 400', async (limit) => {
    expectError(await history(c.id, a, `limit=${limit}`), 400, 'validation');
  });

  it.each(['before=abc', 'after=-1', 'before=0', 'after=x'])('rejects %s with 400', async (q) => {
    expectError(await history(c.id, a, q), 400, 'validation');
  });

  it('accepts limit=1 and limit=100', async () => {
    expect(seqs(await history(c.id, a, 'limit=1'))).toEqual([60]);
    expect((await history(c.id, a, 'limit=100')).status).toBe(200);
  });

  it('is 403 for an outsider, 404 for an unknown conversation, 401 without a token', async () => {
    expectError(await history(c.id, outsider), 403, 'forbidden');
    expectError(await history('c999999', a), 404, 'not_found');
    expectError(await api('GET', `/api/conversations/${c.id}/messages`), 401, 'unauthorized');
  });
});

// ---- clock resolution ---------------------------------------------------------------

/**
 * Everything above steps past the millisecond before a write whose order
 * matters. On a fast machine a client does not: here the server's clock
 * stands still, so every write lands in the same millisecond, and the order
 * must still follow what happened.
 */
describe('order within one millisecond', () => {
  let frozen: Parley;
  let url: string;
  const frozenPool = new SocketPool(() => url);

  beforeAll(async () => {
    const dataDir = tempDir();
    const config = loadConfig({}, { port: 0, logLevel: 'silent', scryptCost: 1024, dataDir });
    const t = Date.now();
    frozen = await createApp(config, { now: () => t });
    url = await frozen.listen();
  });
  afterEach(() => frozenPool.closeAll());
  afterAll(async () => {
    await frozen?.close();
  });

  it('a new message bumps a conversation above one created earlier in the same millisecond', async () => {
    const [a, b, c] = [await register(url), await register(url), await register(url)];
    const ab = await direct(url, a, b);
    const ac = await direct(url, a, c);
    const s = await frozenPool.connect(b);
    await s.send(ab.id, 'bump');
    const r = await http(url, 'GET', '/api/conversations', { token: a.token });
    expect(r.body.conversations.map((x: any) => x.id)).toEqual([ab.id, ac.id]);
  });

  it('a member added in the same millisecond the group was created is not the longest-standing', async () => {
    const owner = await register(url, 'own');
    const late = await register(url, 'late'); // the lower user id
    const early = await register(url, 'early');
    const g = await group(url, owner, [early], 'same ms');
    await http(url, 'POST', `/api/conversations/${g.id}/members`, { token: owner.token, body: { userId: late.id } });
    await http(url, 'DELETE', `/api/conversations/${g.id}/members/${owner.id}`, { token: owner.token });
    const after = await http(url, 'GET', `/api/conversations/${g.id}`, { token: early.token });
    expect(after.body.ownerId).toBe(early.id);
  });
});
