/**
 * Rate limits (contract v1.1 "Rate limits", issue #17): failed logins per
 * username (10, whoever sends them), per-address logins and registrations
 * (behind a declared proxy), per-user sends, receipts and searches,
 * connections per user; a refusal is `rate_limited` with `retryAfter` (and
 * `Retry-After` on REST), did nothing, and every socket event gets its ack.
 * On PostgreSQL + Redis (the postgres project) the buckets are Redis's, and
 * one test checks that two nodes share them.
 */
import { describe, expect, it } from 'vitest';
import { connect, direct, http, register, type HttpResult } from '../helpers/client.js';
import { startServer, TEST_STORE, useServer } from '../helpers/server.js';
import { expectAckError } from '../helpers/shapes.js';

const t = useServer({
  // Refills of hours: exact counts do not depend on how fast the machine runs the burst.
  rateLimits: 'send=50/1h,receipt=20/1h,search=3/1h,login-address=5/1h,register-address=3/1h,conversation=off,sockets=3',
  // Requests carrying X-Forwarded-For from this machine are a proxy's: the header names the client.
  trustProxy: '127.0.0.1',
});

const login = (username: string, password: string, from?: string) =>
  http(t.url, 'POST', '/api/auth/login', { body: { username, password }, headers: from ? { 'x-forwarded-for': from } : {} });

/** A 429 as the contract has it: code, an integer retryAfter > 0, and Retry-After in whole seconds. */
function expect429(r: HttpResult): number {
  expect(r.status, JSON.stringify(r.body)).toBe(429);
  expect(r.body.error.code).toBe('rate_limited');
  const retryAfter = r.body.error.data?.retryAfter;
  expect(Number.isInteger(retryAfter) && retryAfter > 0, `retryAfter ${retryAfter}`).toBe(true);
  expect(r.headers.get('retry-after')).toBe(String(Math.ceil(retryAfter / 1000)));
  return retryAfter as number;
}

describe('rate limits', () => {
  it('failed logins of one username: 401 ten times, then 429 whoever sends them, the right password too; other names are untouched', async () => {
    const a = await register(t.url, 'fl');
    for (let i = 0; i < 10; i++) expect((await login(a.username, 'wrong', i % 2 ? '203.0.113.7' : undefined)).status).toBe(401);
    const refused = await login(a.username, 'wrong', '198.51.100.9');
    expect(expect429(refused)).toBeGreaterThan(60_000);
    expect429(await login(a.username, a.password));
    // The account's own tokens still work, and another account signs in.
    expect((await http(t.url, 'GET', '/api/users/me', { token: a.token })).status).toBe(200);
    const b = await register(t.url, 'fl');
    expect((await login(b.username, b.password)).status).toBe(200);
  });

  it('a successful login does not count: many in a row never lock the account', async () => {
    const a = await register(t.url, 'ok');
    for (let i = 0; i < 12; i++) expect((await login(a.username, a.password)).status).toBe(200);
    expect((await login(a.username, 'wrong')).status).toBe(401);
  });

  it('an unknown username is answered exactly as a known one: 401, then 429 after ten', async () => {
    const known = await register(t.url, 'kn');
    const unknown = `${known.username}_nobody`;
    const answers = async (username: string) => {
      const out: [number, string][] = [];
      for (let i = 0; i < 11; i++) {
        const r = await login(username, 'wrong');
        out.push([r.status, r.body.error.message]);
      }
      return out;
    };
    expect(await answers(unknown)).toEqual(await answers(known.username));
  });

  it('logins and registrations per address (the client named by a declared proxy), not per proxy', async () => {
    const a = await register(t.url, 'ad');
    for (let i = 0; i < 5; i++) expect((await login(a.username, a.password, '192.0.2.10')).status).toBe(200);
    expect429(await login(a.username, a.password, '192.0.2.10'));
    expect((await login(a.username, a.password, '192.0.2.11')).status).toBe(200);
    // This machine, not behind the proxy: not limited by address.
    expect((await login(a.username, a.password)).status).toBe(200);

    const reg = (from: string) =>
      http(t.url, 'POST', '/api/auth/register', {
        body: { username: `r${Math.random().toString(36).slice(2, 10)}`, password: 'a long password' },
        headers: { 'x-forwarded-for': from },
      });
    for (let i = 0; i < 3; i++) expect((await reg('192.0.2.20')).status).toBe(201);
    expect429(await reg('192.0.2.20'));
    expect((await reg('192.0.2.21')).status).toBe(201);
  });

  it('a burst of 200 sends from one socket: 200 acks, each ok or rate_limited; history holds exactly the ok ones', async () => {
    const [a, b] = [await register(t.url, 'bs'), await register(t.url, 'bs')];
    const cid = (await direct(t.url, a, b)).id;
    const sa = await t.pool.connect(a);
    const sb = await t.pool.connect(b);
    const acks = await Promise.all(
      Array.from({ length: 200 }, (_, i) => sa.call('message:send', { conversationId: cid, content: `m${i}`, clientId: `c${i}` })),
    );
    const ok = acks.filter((x) => x.ok === true);
    const refused = acks.filter((x) => x.ok !== true);
    expect(ok).toHaveLength(50);
    for (const r of refused) {
      expectAckError(r, 'rate_limited');
      expect(Number.isInteger(r.error.data.retryAfter) && r.error.data.retryAfter > 0).toBe(true);
    }
    // A refused send stored and broadcast nothing.
    await sb.waitFor('message:new', () => true, 50);
    await sb.barrier();
    expect(sb.all('message:new')).toHaveLength(50);
    const history = await http(t.url, 'GET', `/api/conversations/${cid}/messages?limit=100`, { token: a.token });
    expect(history.body.messages.map((m: { clientId: string }) => m.clientId)).toEqual(ok.map((x) => x.message.clientId));
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual(ok.map((x) => x.message.seq));
  });

  it('a wrong current password in a password change counts as a failed login of the account', async () => {
    const a = await register(t.url, 'pc');
    const change = (currentPassword: string) =>
      http(t.url, 'POST', '/api/auth/password', { token: a.token, body: { currentPassword, newPassword: 'another long password' } });
    for (let i = 0; i < 10; i++) expect((await change('wrong')).status).toBe(403);
    expect429(await change('wrong'));
    expect429(await login(a.username, a.password));
  });

  it('the limit is per user over every socket; another user is not slowed', async () => {
    const [a, b] = [await register(t.url, 'pu'), await register(t.url, 'pu')];
    const cid = (await direct(t.url, a, b)).id;
    const [s1, s2] = [await t.pool.connect(a), await t.pool.connect(a)];
    const sb = await t.pool.connect(b);
    const send = (s: typeof s1, i: number) => s.call('message:send', { conversationId: cid, content: `x${i}` });
    const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => send(i % 2 ? s1 : s2, i)));
    expect(acks.filter((x) => x.ok).length).toBe(50);
    expect((await send(sb, 0)).ok).toBe(true);
  });

  it('receipts per user: over the limit the marker ack is rate_limited and the marker does not move', async () => {
    const [a, b] = [await register(t.url, 'rc'), await register(t.url, 'rc')];
    const cid = (await direct(t.url, a, b)).id;
    const sa = await t.pool.connect(a);
    const sb = await t.pool.connect(b);
    for (let i = 0; i < 25; i++) await sa.send(cid, `r${i}`);
    const acks = [];
    for (let seq = 1; seq <= 25; seq++) acks.push(await sb.call('message:delivered', { conversationId: cid, seq }));
    expect(acks.filter((x) => x.ok)).toHaveLength(20);
    for (const x of acks.slice(20)) expectAckError(x, 'rate_limited');
    const list = await http(t.url, 'GET', `/api/conversations/${cid}/messages?limit=100`, { token: a.token });
    const statuses = list.body.messages.map((m: { status: string }) => m.status);
    expect(statuses.slice(0, 20).every((s: string) => s === 'delivered')).toBe(true);
    expect(statuses.slice(20).every((s: string) => s === 'sent')).toBe(true);
  });

  it('searches per user: 429 with Retry-After over the limit, messages and users alike', async () => {
    const a = await register(t.url, 'se');
    for (let i = 0; i < 2; i++) expect((await http(t.url, 'GET', '/api/search?q=hello', { token: a.token })).status).toBe(200);
    expect((await http(t.url, 'GET', '/api/users?q=se', { token: a.token })).status).toBe(200);
    expect429(await http(t.url, 'GET', '/api/users?q=se', { token: a.token }));
    expect429(await http(t.url, 'GET', '/api/search?q=hello', { token: a.token }));
  });

  it('connections per user: past the bound the handshake is refused with rate_limited and a retryAfter; closing one makes room', async () => {
    const a = await register(t.url, 'so');
    const open = [await t.pool.connect(a), await t.pool.connect(a), await t.pool.connect(a)];
    const err = await connect(t.url, a.token).then(
      () => null,
      (e: Error & { data?: { code: string; retryAfter: number } }) => e,
    );
    expect(err?.message).toBe('rate_limited');
    expect(err?.data?.code).toBe('rate_limited');
    expect(err?.data?.retryAfter).toBeGreaterThan(0);
    open[0]!.close();
    const deadline = Date.now() + 5000;
    for (;;) {
      const s = await connect(t.url, a.token).catch(() => null);
      if (s) {
        s.close();
        break;
      }
      if (Date.now() > deadline) throw new Error('no room after a socket closed');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('typing is coalesced, never refused: a flood of 300 gets 300 ok acks and the others hear a few events', async () => {
    const [a, b] = [await register(t.url, 'ty'), await register(t.url, 'ty')];
    const cid = (await direct(t.url, a, b)).id;
    const sa = await t.pool.connect(a);
    const sb = await t.pool.connect(b);
    await sb.ok('conversation:join', { conversationId: cid });
    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => sa.call('typing', { conversationId: cid, isTyping: i % 3 !== 2 })));
    expect(acks.every((x) => x.ok === true)).toBe(true);
    await sa.ok('typing', { conversationId: cid, isTyping: false });
    await sb.waitFor('typing', (p) => p.isTyping === false);
    await sb.barrier();
    expect(sb.all('typing').length).toBeLessThanOrEqual(4);
    expect(sb.all('typing').at(-1).isTyping).toBe(false);
  });

  it.runIf(TEST_STORE === 'postgres')('two nodes share the buckets (Redis): failed logins on either count together', async () => {
    const c = t.server.config;
    const other = await startServer({
      databaseUrl: c.databaseUrl,
      redisUrl: c.redisUrl,
      redisPrefix: c.redisPrefix,
      jwtSecret: c.jwtSecret,
      rateLimits: c.rateLimits,
      trustProxy: c.trustProxy,
    });
    try {
      const a = await register(t.url, 'cl');
      for (let i = 0; i < 10; i++) {
        const base = i % 2 ? other.url : t.url;
        expect((await http(base, 'POST', '/api/auth/login', { body: { username: a.username, password: 'wrong' } })).status).toBe(401);
      }
      expect429(await http(other.url, 'POST', '/api/auth/login', { body: { username: a.username, password: a.password } }));
      expect429(await login(a.username, a.password));
    } finally {
      await other.close();
    }
  });
});

describe('waiting retryAfter', () => {
  const slow = useServer({ rateLimits: 'send=2/4s' });
  it('a refused send is retried with the same clientId after the wait it names: stored once, next in order', async () => {
    const [a, b] = [await register(slow.url, 'ra'), await register(slow.url, 'ra')];
    const cid = (await direct(slow.url, a, b)).id;
    const sa = await slow.pool.connect(a);
    const acks = await Promise.all([0, 1, 2].map((i) => sa.call('message:send', { conversationId: cid, content: `m${i}`, clientId: `c${i}` })));
    const refused = acks.findIndex((x) => x.ok !== true);
    expectAckError(acks[refused], 'rate_limited');
    await new Promise((r) => setTimeout(r, acks[refused].error.data.retryAfter + 50));
    const retried = await sa.call('message:send', { conversationId: cid, content: `m${refused}`, clientId: `c${refused}` });
    expect(retried.ok).toBe(true);
    const history = await http(slow.url, 'GET', `/api/conversations/${cid}/messages`, { token: a.token });
    expect(history.body.messages.map((m: { clientId: string }) => m.clientId).sort()).toEqual(['c0', 'c1', 'c2']);
    expect(retried.message.seq).toBe(3);
  });
});

describe('RATE_LIMITS=off', () => {
  const off = useServer({ rateLimits: 'off' });
  it('turns every limit off: 300 sends of one user in a burst are all stored, 30 failed logins are all 401', async () => {
    const [a, b] = [await register(off.url, 'of'), await register(off.url, 'of')];
    const cid = (await direct(off.url, a, b)).id;
    const sa = await off.pool.connect(a);
    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => sa.call('message:send', { conversationId: cid, content: `m${i}` })));
    expect(acks.every((x) => x.ok === true)).toBe(true);
    for (let i = 0; i < 30; i++) {
      const r = await http(off.url, 'POST', '/api/auth/login', { body: { username: a.username, password: 'wrong' } });
      expect(r.status).toBe(401);
    }
  });
});
