import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { direct, group, http, register, SocketPool, type Account, type TestSocket } from '../helpers/client.js';
import { startServer, type TestServer, useServer } from '../helpers/server.js';
import { expectConversation, expectShape, expectUser, expectAckError } from '../helpers/shapes.js';
import { PresenceEvent, TypingEvent } from '../../src/protocol/events.js';

/**
 * Typing indicators and presence, through a real t.server.
 * Contract: "Socket.IO events" (typing, conversation:join / leave, presence),
 * User.online / lastSeenAt; docs/protocol.md "Typing" and "Presence".
 */

const t = useServer(); // the default typing timeout (5 s)
const { pool } = t;

const OkAck = Type.Object({ ok: Type.Literal(true) });

/** Every `typing` a socket got, checked against the wire schema. */
function typings(s: TestSocket, pred: (p: any) => boolean = () => true): any[] {
  const got = s.all('typing', pred);
  for (const t of got) expectShape(TypingEvent, t);
  return got;
}

async function waitTyping(s: TestSocket, cid: string, userId: string, isTyping: boolean, count = 1, timeout?: number) {
  const got = await s.waitFor(
    'typing',
    (p) => p.conversationId === cid && p.userId === userId && p.isTyping === isTyping,
    count,
    timeout,
  );
  for (const t of got) expectShape(TypingEvent, t);
  return got;
}

function presences(s: TestSocket, userId: string): any[] {
  const got = s.all('presence', (p) => p.userId === userId);
  for (const p of got) expectShape(PresenceEvent, p);
  return got;
}

/** Polls a condition on the server until it holds (with a deadline), for state no event announces. */
async function until(cond: () => boolean, what: string, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const join = async (s: TestSocket, cid: string) => {
  const ack = await s.call('conversation:join', { conversationId: cid });
  expect(ack.ok, JSON.stringify(ack)).toBe(true);
  return ack;
};

// ---- typing ---------------------------------------------------------------------------

describe('typing', () => {
  it('is relayed to the sockets that joined the conversation, never to any socket of the typist', async () => {
    const [a, b, c, x] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c'), await register(t.url, 'x')];
    const cid = (await group(t.url, a, [b, c])).id;
    const a1 = await pool.connect(a);
    const a2 = await pool.connect(a);
    const b1 = await pool.connect(b);
    const b2 = await pool.connect(b); // a member's socket that did not join
    const c1 = await pool.connect(c, { transports: ['polling'] });
    const sx = await pool.connect(x);
    for (const s of [a1, a2, b1, c1]) await join(s, cid);
    expectAckError(await sx.call('conversation:join', { conversationId: cid }), 'forbidden');

    const ack = await a1.call('typing', { conversationId: cid, isTyping: true });
    expectShape(OkAck, ack);
    for (const s of [b1, c1]) {
      const [t] = await waitTyping(s, cid, a.id, true);
      expect(t).toEqual({ conversationId: cid, userId: a.id, isTyping: true });
    }
    for (const s of [a1, a2, b2, sx]) await s.barrier();
    for (const s of [a1, a2, b2, sx]) expect(typings(s)).toEqual([]);

    // An explicit stop is relayed the same way.
    await a1.ok('typing', { conversationId: cid, isTyping: false });
    for (const s of [b1, c1]) await waitTyping(s, cid, a.id, false);

    // B types from the socket that did not join: B's joined socket hears nothing either.
    await b2.ok('typing', { conversationId: cid, isTyping: true });
    for (const s of [a1, a2, c1]) await waitTyping(s, cid, b.id, true);
    for (const s of [b1, b2, sx]) await s.barrier();
    expect(typings(b1, (p) => p.userId === b.id)).toEqual([]);
    expect(typings(b2)).toEqual([]);
    expect(typings(sx)).toEqual([]);
    expect(typings(b1)).toHaveLength(2); // A's true and false only
  });

  it('after conversation:leave a socket hears no more typing of that conversation', async () => {
    const [a, b, c] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c')];
    const cid = (await group(t.url, a, [b, c])).id;
    const other = (await direct(t.url, a, b)).id;
    const [sa, sb, sc] = [await pool.connect(a), await pool.connect(b), await pool.connect(c)];
    await join(sb, cid);
    await join(sb, other);
    await join(sc, cid);
    await sa.ok('typing', { conversationId: cid, isTyping: true });
    await waitTyping(sb, cid, a.id, true);

    expectShape(OkAck, await sb.call('conversation:leave', { conversationId: cid }));
    await sa.ok('typing', { conversationId: cid, isTyping: false });
    await waitTyping(sc, cid, a.id, false);
    await sa.ok('typing', { conversationId: cid, isTyping: true });
    await waitTyping(sc, cid, a.id, true, 2);
    // Still joined to the other conversation: that one is still heard.
    await sa.ok('typing', { conversationId: other, isTyping: true });
    await waitTyping(sb, other, a.id, true);
    await sb.barrier();
    expect(typings(sb, (p) => p.conversationId === cid)).toEqual([{ conversationId: cid, userId: a.id, isTyping: true }]);

    // Leaving a conversation never joined is harmless; a payload without an id is not.
    expectShape(OkAck, await sc.call('conversation:leave', { conversationId: other }));
    expectAckError(await sc.call('conversation:leave', {}), 'validation');
  });

  it('a member removed from the conversation hears no more of its typing, even on a socket that had joined', async () => {
    const [a, b, c] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c')];
    const cid = (await group(t.url, a, [b, c])).id;
    const [sa, sb, sc] = [await pool.connect(a), await pool.connect(b), await pool.connect(c)];
    await join(sb, cid);
    await join(sc, cid);
    const del = await http(t.url, 'DELETE', `/api/conversations/${cid}/members/${b.id}`, { token: a.token });
    expect(del.status).toBe(204);
    await sb.waitFor('conversation:removed', (p) => p.conversationId === cid);
    await sa.ok('typing', { conversationId: cid, isTyping: true });
    await waitTyping(sc, cid, a.id, true);
    await sb.barrier();
    // Contract: "a removed member sees nothing of the conversation any more".
    expect(typings(sb)).toEqual([]);
    expectAckError(await sb.call('typing', { conversationId: cid, isTyping: true }), 'forbidden');
  });

  it('needs membership, not a join; refuses non-members, unknown conversations and bad payloads', async () => {
    const [a, b, x] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'x')];
    const cid = (await direct(t.url, a, b)).id;
    const [sa, sb, sx] = [await pool.connect(a), await pool.connect(b), await pool.connect(x)];
    await join(sb, cid);
    await join(sa, cid);

    expectAckError(await sx.call('typing', { conversationId: cid, isTyping: true }), 'forbidden');
    expectAckError(await sx.call('typing', { conversationId: 'c99999999', isTyping: true }), 'not_found');
    for (const bad of [
      { conversationId: cid },
      { conversationId: cid, isTyping: 'yes' },
      { conversationId: cid, isTyping: 1 },
      { isTyping: true },
      { conversationId: 5, isTyping: true },
      'typing',
      null,
    ]) {
      expectAckError(await sa.call('typing', bad), 'validation');
    }
    expectAckError(await sa.socket.timeout(10_000).emitWithAck('typing'), 'validation');
    await sb.barrier();
    expect(typings(sb)).toEqual([]);

    // A member who never joined may still type.
    const a2 = await pool.connect(a);
    await a2.ok('typing', { conversationId: cid, isTyping: true });
    await waitTyping(sb, cid, a.id, true);
  });

  it('isTyping:false is sent at once when the typist\'s socket disconnects, to the others only', async () => {
    const [a, b] = [await register(t.url, 'a'), await register(t.url, 'b')];
    const cid = (await direct(t.url, a, b)).id;
    const a1 = await pool.connect(a);
    const a2 = await pool.connect(a);
    const sb = await pool.connect(b);
    for (const s of [a2, sb]) await join(s, cid);
    await a1.ok('typing', { conversationId: cid, isTyping: true });
    await waitTyping(sb, cid, a.id, true);
    const closedAt = Date.now();
    a1.close();
    await waitTyping(sb, cid, a.id, false);
    // Far sooner than the 5 s timeout: the disconnect caused it.
    expect(Date.now() - closedAt).toBeLessThan(2500);
    await a2.barrier();
    expect(typings(a2)).toEqual([]);
    await sb.barrier();
    expect(typings(sb).map((t) => t.isTyping)).toEqual([true, false]);
  });
});

describe('typing with a short timeout (typingTimeoutMs: 400)', () => {
  const TIMEOUT = 400;
  // The gap is measured on the receiving side, from arrival to arrival; two
  // deliveries of one in-process round trip may differ by a few ms.
  const JITTER = 25;
  let fast: TestServer;
  const fpool = new SocketPool(() => fast.url);
  beforeAll(async () => {
    fast = await startServer({}, { typingTimeoutMs: TIMEOUT });
  });
  afterEach(() => fpool.closeAll());
  afterAll(() => fast.close());

  /** Records when each `typing` arrives. */
  function stamp(s: TestSocket): { p: any; t: number }[] {
    const arrivals: { p: any; t: number }[] = [];
    s.socket.on('typing', (p: any) => arrivals.push({ p, t: Date.now() }));
    return arrivals;
  }

  it('sends isTyping:false by itself at least the timeout after the last true, once', async () => {
    const [a, b] = [await register(fast.url, 'a'), await register(fast.url, 'b')];
    const cid = (await direct(fast.url, a, b)).id;
    const sa = await fpool.connect(a);
    const sb = await fpool.connect(b);
    await join(sb, cid);
    const arrivals = stamp(sb);

    await sa.ok('typing', { conversationId: cid, isTyping: true });
    await waitTyping(sb, cid, a.id, true);
    // Keep typing: a second true half-way through restarts the timeout.
    await new Promise((r) => setTimeout(r, TIMEOUT / 2));
    await sa.ok('typing', { conversationId: cid, isTyping: true });
    await waitTyping(sb, cid, a.id, true, 2);
    await waitTyping(sb, cid, a.id, false, 1, 5000);

    const trues = arrivals.filter((x) => x.p.isTyping === true);
    const stop = arrivals.find((x) => x.p.isTyping === false)!;
    expect(trues).toHaveLength(2);
    const gap = stop.t - trues[1]!.t;
    expect(gap, 'from the last true the receiver got').toBeGreaterThanOrEqual(TIMEOUT - JITTER);
    expect(gap).toBeLessThan(TIMEOUT + 1500);
    expect(stop.t - trues[0]!.t, 'the second true restarted the timeout').toBeGreaterThanOrEqual(TIMEOUT + TIMEOUT / 2 - JITTER);

    // Only one false: wait past another timeout (another conversation's automatic stop), then check.
    const other = (await group(fast.url, a, [b])).id;
    await join(sb, other);
    await sa.ok('typing', { conversationId: other, isTyping: true });
    await waitTyping(sb, other, a.id, false, 1, 5000);
    await sb.barrier();
    expect(typings(sb, (p) => p.conversationId === cid).map((t) => t.isTyping)).toEqual([true, true, false]);
  });

  it('an explicit false cancels the automatic one', async () => {
    const [a, b] = [await register(fast.url, 'a'), await register(fast.url, 'b')];
    const cid = (await direct(fast.url, a, b)).id;
    const later = (await group(fast.url, a, [b])).id;
    const sa = await fpool.connect(a);
    const sb = await fpool.connect(b);
    await join(sb, cid);
    await join(sb, later);
    await sa.ok('typing', { conversationId: cid, isTyping: true });
    await sa.ok('typing', { conversationId: cid, isTyping: false });
    // A timer started after the cancelled one fires after it would have.
    await sa.ok('typing', { conversationId: later, isTyping: true });
    await waitTyping(sb, later, a.id, false, 1, 5000);
    await sb.barrier();
    expect(typings(sb, (p) => p.conversationId === cid).map((t) => t.isTyping)).toEqual([true, false]);
  });
});

// ---- presence ----------------------------------------------------------------------------

describe('presence', () => {
  const userNamed = async (viewer: Account, who: Account) => {
    const r = await http(t.url, 'GET', `/api/users?q=${encodeURIComponent(who.username)}`, { token: viewer.token });
    expect(r.status).toBe(200);
    const u = (r.body.users as any[]).find((x) => x.id === who.id);
    expectUser(u);
    return u;
  };
  const memberIn = async (viewer: Account, cid: string, who: Account) => {
    const r = await http(t.url, 'GET', `/api/conversations/${cid}`, { token: viewer.token });
    expect(r.status).toBe(200);
    expectConversation(r.body);
    return (r.body.members as any[]).find((m) => m.id === who.id);
  };

  it('is shown on user lookups only to those who share a conversation, and to the user: a stranger sees offline, never seen', async () => {
    const [a, b, stranger] = [await register(t.url, 'pa'), await register(t.url, 'pb'), await register(t.url, 'ps')];
    await direct(t.url, a, b);
    const sa = await pool.connect(a);
    await sa.barrier();
    // (b's lookup answers online once a's first socket is counted)
    for (let i = 0; i < 100 && !(await userNamed(b, a)).online; i++) await sa.barrier();
    expect(await userNamed(b, a)).toMatchObject({ online: true, lastSeenAt: expect.any(String) });
    expect(await userNamed(a, a)).toMatchObject({ online: true, lastSeenAt: expect.any(String) });
    expect(await userNamed(stranger, a)).toMatchObject({ online: false, lastSeenAt: null });
  });

  it('goes to users who share a conversation, on the first connect and the last disconnect only, never to strangers', async () => {
    const [a, b, c, x] = [await register(t.url, 'a'), await register(t.url, 'b'), await register(t.url, 'c'), await register(t.url, 'x')];
    const dm = (await direct(t.url, a, b)).id;
    const g = (await group(t.url, a, [b, c])).id; // B shares two conversations with A: still one event
    const [sb, sc, sx] = [await pool.connect(b), await pool.connect(c), await pool.connect(x)];

    // Never connected: offline, never seen.
    expect(await userNamed(b, a)).toMatchObject({ online: false, lastSeenAt: null });

    const t0 = Date.now();
    const a1 = await pool.connect(a);
    const [on] = await sb.waitFor('presence', (p) => p.userId === a.id);
    expectShape(PresenceEvent, on);
    expect(on.online).toBe(true);
    expect(Date.parse(on.lastSeenAt)).toBeGreaterThanOrEqual(t0);
    await sc.waitFor('presence', (p) => p.userId === a.id && p.online === true);
    await sx.barrier();
    expect(presences(sx, a.id)).toEqual([]);

    // REST agrees while A is online.
    expect(await userNamed(b, a)).toMatchObject({ online: true, lastSeenAt: on.lastSeenAt });
    expect(await memberIn(c, g, a)).toMatchObject({ online: true, lastSeenAt: on.lastSeenAt });

    // A second device, then the first one goes: A is still online, nothing is announced.
    const a2 = await pool.connect(a);
    const firstId = a1.id;
    a1.close();
    await until(() => !t.server.app.io.of('/').sockets.has(firstId), "the server to drop A's first socket");
    await sb.barrier();
    await sc.barrier();
    expect(presences(sb, a.id)).toHaveLength(1);
    expect(presences(sc, a.id)).toHaveLength(1);
    expect((await userNamed(b, a)).online).toBe(true);

    // The last one goes: offline, to the same users.
    a2.close();
    const [off] = await sb.waitFor('presence', (p) => p.userId === a.id && p.online === false);
    expectShape(PresenceEvent, off);
    expect(Date.parse(off.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(on.lastSeenAt));
    await sc.waitFor('presence', (p) => p.userId === a.id && p.online === false);
    await sb.barrier();
    await sx.barrier();
    expect(presences(sb, a.id).map((p) => p.online)).toEqual([true, false]);
    expect(presences(sc, a.id).map((p) => p.online)).toEqual([true, false]);
    expect(presences(sx, a.id)).toEqual([]);

    expect(await userNamed(b, a)).toMatchObject({ online: false, lastSeenAt: off.lastSeenAt });
    expect(await memberIn(b, dm, a)).toMatchObject({ online: false, lastSeenAt: off.lastSeenAt });
    expect(await memberIn(c, g, a)).toMatchObject({ online: false, lastSeenAt: off.lastSeenAt });
    // A stranger learns nothing of it through search (issue #17: presence is for contacts).
    expect(await userNamed(x, a)).toMatchObject({ online: false, lastSeenAt: null });
  });

  it('a user coming back online is announced again, and GET /api/users/me shows the caller online', async () => {
    const [a, b] = [await register(t.url, 'a'), await register(t.url, 'b')];
    await direct(t.url, a, b);
    const sb = await pool.connect(b);
    const a1 = await pool.connect(a);
    await sb.waitFor('presence', (p) => p.userId === a.id && p.online);
    const me = await http(t.url, 'GET', '/api/users/me', { token: a.token });
    expectUser(me.body);
    expect(me.body.online).toBe(true);
    a1.close();
    await sb.waitFor('presence', (p) => p.userId === a.id && !p.online);
    await pool.connect(a);
    const back = await sb.waitFor('presence', (p) => p.userId === a.id && p.online, 2);
    expect(presences(sb, a.id).map((p) => p.online)).toEqual([true, false, true]);
    expect((await userNamed(b, a)).lastSeenAt).toBe(back[1].lastSeenAt);
  });
});
