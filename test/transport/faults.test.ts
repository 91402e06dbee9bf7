/**
 * Faults of the dependencies of a cluster: PostgreSQL and Redis taken down
 * and brought back (their own throwaway servers, started here, so nobody
 * else's tests see it), and connections reset under a running transaction.
 * Two servers on them are two nodes of one deployment. Everything waits for
 * events or polls with a deadline; nothing sleeps to synchronise.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClient } from '../../src/client/index.js';
import { clientUntil } from '../helpers/client-library.js';
import { connect, direct, http, register, type Account, type TestSocket } from '../helpers/client.js';
import type { Config } from '../../src/config/config.js';
import { startServer, TEST_STORE, type TestServer } from '../helpers/server.js';
import { createDatabase, findPostgresBin, findRedisServer, startPostgres, startRedis, type ThrowawayServer } from '../helpers/services.js';

const installed = Boolean(findPostgresBin() && findRedisServer());

/** Polls `check` until it answers true, or fails after `timeout`. */
async function until(what: string, check: () => Promise<boolean>, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`waited ${timeout} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls /health until it answers `status`; resolves with that answer. */
async function health(base: string, status: number, timeout = 15_000): Promise<any> {
  let last: { status: number; body: any } | undefined;
  await until(`/health to answer ${status} at ${base}`, async () => {
    last = await http(base, 'GET', '/health');
    return last.status === status;
  }, timeout);
  return last!.body;
}

// Its own PostgreSQL and Redis, so it runs once (in the sqlite project), whatever TEST_STORE says.
describe.skipIf(!installed || TEST_STORE !== 'sqlite')('faults of PostgreSQL and Redis under two nodes', () => {
  let pgServer: ThrowawayServer;
  let redis: ThrowawayServer;
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let cluster: Partial<Config>;
  let a: TestServer;
  let b: TestServer;
  /** Clients of our own on the servers' database (adminClient()); ended after each test. */
  const admins: pg.Client[] = [];
  const sockets: TestSocket[] = [];
  /** Errors nobody handled while a test ran: in production each would have crashed the node. */
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => void uncaught.push(err);

  beforeAll(async () => {
    [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
    db = await createDatabase(pgServer.url);
    cluster = {
      databaseUrl: db.url,
      databasePoolSize: 4,
      redisUrl: redis.url,
      redisPrefix: `faults-${process.pid}`,
      // One secret: a token from one node opens a socket on the other.
      jwtSecret: randomBytes(24).toString('hex'),
    };
    a = await startServer(cluster);
    b = await startServer(cluster);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
  });
  afterEach(async () => {
    const errors = uncaught.splice(0).map(String);
    for (const s of sockets.splice(0)) s.close();
    await Promise.all(admins.splice(0).map((c) => c.end().catch(() => undefined)));
    // A test that failed half-way leaves nothing down for the next.
    await Promise.all([pgServer?.up(), redis?.up()]);
    expect(errors, 'uncaught errors (each would have crashed a node)').toEqual([]);
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await Promise.allSettled([a?.close(), b?.close()]);
    await Promise.allSettled([pgServer?.stop(), redis?.stop()]);
  });

  async function on(server: TestServer, who: Account): Promise<TestSocket> {
    const s = await connect(server.url, who.token);
    sockets.push(s);
    return s;
  }

  /** A client of our own on the servers' database (not named 'parley': it is never terminated). */
  async function adminClient(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: db.url, application_name: 'faults-test' });
    c.on('error', () => {}); // expected when PostgreSQL goes down under it
    admins.push(c);
    await c.connect();
    return c;
  }

  /** Every stored message of a conversation, through the HTTP API. */
  async function history(server: TestServer, who: Account, conversationId: string): Promise<any[]> {
    const out: any[] = [];
    for (let after = 0; ; ) {
      const page = await http(server.url, 'GET', `/api/conversations/${conversationId}/messages?after=${after}&limit=100`, { token: who.token });
      expect(page.status).toBe(200);
      out.push(...page.body.messages);
      if (!page.body.hasMore) return out;
      after = page.body.messages.at(-1).seq;
    }
  }

  /** Waits until a connection of the servers ('parley') waits for a lock, running `query`; answers its pid. */
  async function blockedBackend(query: RegExp): Promise<number> {
    // Asked outside any transaction: pg_stat_activity is a snapshot taken once per transaction.
    const monitor = await adminClient();
    let pid = 0;
    await until(`a parley connection waiting for a lock in ${query}`, async () => {
      const { rows } = await monitor.query<{ pid: number; query: string }>(
        `SELECT pid, query FROM pg_stat_activity WHERE application_name = 'parley' AND datname = $1 AND wait_event_type = 'Lock'`,
        [db.name],
      );
      pid = rows.find((r) => query.test(r.query))?.pid ?? 0;
      return pid !== 0;
    });
    return pid;
  }

  it('/health answers 503 while PostgreSQL or Redis is unreachable and 200 again by itself when they return', async () => {
    await health(a.url, 200);
    await health(b.url, 200);

    await redis.down();
    for (const s of [a, b]) expect((await health(s.url, 503)).error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/redis/) });
    await redis.up();
    await health(a.url, 200);
    await health(b.url, 200);

    await pgServer.down();
    for (const s of [a, b]) expect((await health(s.url, 503)).error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/database/) });
    await pgServer.up();
    await health(a.url, 200);
    await health(b.url, 200);
  });

  it('while Redis is down, sends are still stored and acknowledged; clients catch up by sync; nothing is lost', async () => {
    const alice = await register(a.url, 'fa');
    const bob = await register(b.url, 'fb');
    const conv = await direct(a.url, alice, bob);
    const sa = await on(a, alice);
    const sb = await on(b, bob);
    // bob's second device is on alice's node: it keeps hearing her live through the outage.
    const sameNode = await on(a, bob);
    // bob's third device runs the client library on the other node, and is left to itself.
    const app = new ParleyClient({ baseUrl: b.url, token: bob.token, ackTimeoutMs: 3000 });
    await app.start();
    await clientUntil(app, () => app.connection === 'online', 'the client online');

    // Live across nodes first; bob's cursor is the last rev he applied.
    const first = await sa.send(conv.id, 'before the outage');
    await sb.waitFor('message:new', (p) => p.message.id === first.id);
    const cursor = first.rev as number;

    await redis.down();
    await health(a.url, 503);
    const N = 20;
    const sent = await Promise.all(
      Array.from({ length: N }, (_, i) => sa.send(conv.id, `during the outage ${i}`, { clientId: `outage-${i}` })),
    );
    expect(new Set(sent.map((m) => m.id)).size).toBe(N);
    await sameNode.waitFor('message:new', (p) => p.message.content.startsWith('during the outage'), N, 5000);

    // Bob, on the other node, catches up by sync: every one of them, once.
    const got: any[] = [];
    const cursors: Record<string, number> = { [conv.id]: cursor };
    for (let calls = 0; ; calls++) {
      expect(calls).toBeLessThan(10);
      const ack = await sb.call('sync', { cursors, limit: 7 });
      expect(ack, JSON.stringify(ack)).toMatchObject({ ok: true });
      got.push(...ack.messages);
      for (const m of ack.messages) cursors[m.conversationId] = Math.max(cursors[m.conversationId] ?? 0, m.rev);
      if (!ack.hasMore) break;
    }
    expect(got.map((m) => m.id).sort()).toEqual(sent.map((m) => m.id).sort());
    expect(new Set(got.map((m) => m.id)).size).toBe(N);
    // And both nodes' history has them all, in send order after the first.
    for (const s of [a, b]) {
      const stored = await history(s, bob, conv.id);
      expect(stored.map((m) => m.content)).toEqual(['before the outage', ...sent.map((m) => m.content)]);
    }

    // Redis back: every node closes its sockets' connections (spread over
    // a few seconds), so clients that stayed connected reconnect and sync.
    await redis.up();
    await health(a.url, 200);
    await health(b.url, 200);
    try {
      await clientUntil(
        app,
        () => app.connection === 'online' && sent.every((m) => app.messages.timeline(conv.id).messages.some((x) => x.id === m.id)),
        'the client library caught up by itself',
        15_000,
      );
      expect(app.messages.timeline(conv.id).messages.map((m) => m.content)).toEqual(['before the outage', ...sent.map((m) => m.content)]);
    } finally {
      app.stop();
    }
    await Promise.all([sa, sb, sameNode].map((s) => closed(s)));

    // Live events cross nodes again, both ways.
    const [sa2, sb2] = [await on(a, alice), await on(b, bob)];
    const after = await sa2.send(conv.id, 'after the outage, from a');
    await sb2.waitFor('message:new', (p) => p.message.id === after.id);
    const reply = await sb2.send(conv.id, 'after the outage, from b');
    await sa2.waitFor('message:new', (p) => p.message.id === reply.id);
    await sb2.barrier();
    expect(sb2.all('message:new').map((p) => p.message.id)).toEqual([after.id]);
  });

  it('a connection reset under a running transaction: the send is retried and succeeds, once', async () => {
    const alice = await register(a.url, 'ra');
    const bob = await register(a.url, 'rb');
    const conv = await direct(a.url, alice, bob);
    const sa = await on(a, alice);
    await sa.send(conv.id, 'warm-up');
    const admin = await adminClient();

    // Hold the conversations' rows: the send's transaction waits for them in its first statement.
    await admin.query('BEGIN');
    await admin.query('SELECT id FROM conversations FOR UPDATE');
    const clientId = randomUUID();
    const pending = sa.call('message:send', { conversationId: conv.id, content: 'through a reset', clientId });
    await blockedBackend(/FOR UPDATE/);
    // Every connection of both nodes is reset, the waiting one among them.
    const { rows } = await (await adminClient()).query(
      `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = 'parley' AND datname = $1`,
      [db.name],
    );
    expect(rows.length).toBeGreaterThan(0);
    await admin.query('ROLLBACK');

    const ack = await pending;
    expect(ack, JSON.stringify(ack)).toMatchObject({ ok: true, message: { content: 'through a reset', clientId } });
    // Stored once; and the nodes' pools work on.
    const stored = await history(b, bob, conv.id);
    expect(stored.filter((m) => m.content === 'through a reset').map((m) => m.id)).toEqual([ack.message.id]);
    const next = await sa.send(conv.id, 'after the reset');
    expect(next.seq).toBe(ack.message.seq + 1);
    await health(a.url, 200);
    await health(b.url, 200);
  });

  it('a connection lost during COMMIT: answered internal with nothing applied, and a retry stores it once', async () => {
    const alice = await register(a.url, 'ca');
    const bob = await register(a.url, 'cb');
    const conv = await direct(a.url, alice, bob);
    const sa = await on(a, alice);
    const admin = await adminClient();

    // A deferred trigger runs at COMMIT and waits for a lock we hold: the send stops inside COMMIT.
    const LOCK = 771_001;
    await admin.query(`
      CREATE FUNCTION test_hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.content = 'held at commit' THEN PERFORM pg_advisory_xact_lock(${LOCK}); END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER test_hold_commit AFTER INSERT ON messages
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_hold_commit();`);
    try {
      await admin.query('SELECT pg_advisory_lock($1)', [LOCK]);
      const clientId = randomUUID();
      const pending = sa.call('message:send', { conversationId: conv.id, content: 'held at commit', clientId });
      const pid = await blockedBackend(/^COMMIT/);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const ack = await pending;
      // COMMIT's answer was lost and the message is not there: nothing applied, answered as an error.
      expect(ack, JSON.stringify(ack)).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^(internal|unavailable)$/) } });
      expect((await history(a, alice, conv.id)).filter((m) => m.content === 'held at commit')).toEqual([]);
      await admin.query('SELECT pg_advisory_unlock($1)', [LOCK]);

      // The client retries with the same clientId: stored once.
      const retried = await sa.send(conv.id, 'held at commit', { clientId });
      const again = await sa.send(conv.id, 'held at commit', { clientId });
      expect(again.id).toBe(retried.id);
      expect((await history(b, bob, conv.id)).filter((m) => m.content === 'held at commit').map((m) => m.id)).toEqual([retried.id]);
    } finally {
      await admin.query('DROP TRIGGER IF EXISTS test_hold_commit ON messages; DROP FUNCTION IF EXISTS test_hold_commit()');
    }
  });

  it('PostgreSQL going down under a send in flight: ok and stored once, or an error and nothing stored; a retry stores it once', async () => {
    const alice = await register(a.url, 'pa');
    const bob = await register(a.url, 'pb');
    const conv = await direct(a.url, alice, bob);
    const sa = await on(a, alice);
    await sa.send(conv.id, 'warm-up');
    const admin = await adminClient();

    // The send is in its transaction (waiting for the rows we hold) when PostgreSQL goes down.
    await admin.query('BEGIN');
    await admin.query('SELECT id FROM conversations FOR UPDATE');
    const clientId = randomUUID();
    const pending = sa.call('message:send', { conversationId: conv.id, content: 'across a restart', clientId });
    await blockedBackend(/FOR UPDATE/);
    await pgServer.down();
    // Back at once: the retries may or may not reach it within their budget.
    await pgServer.up();
    const ack = await pending;
    await health(a.url, 200);

    const stored = (await history(a, alice, conv.id)).filter((m) => m.content === 'across a restart');
    if (ack.ok) {
      expect(stored.map((m) => m.id)).toEqual([ack.message.id]);
    } else if (ack.error.code === 'unavailable') {
      expect(stored, 'unavailable: nothing was applied').toEqual([]);
    } else {
      // internal: a COMMIT whose answer was lost and could not be checked may have been applied; at most once.
      expect(ack.error.code, JSON.stringify(ack)).toBe('internal');
      expect(stored.length).toBeLessThanOrEqual(1);
    }
    const retried = await sa.send(conv.id, 'across a restart', { clientId });
    if (ack.ok) expect(retried.id).toBe(ack.message.id);
    else if (stored.length === 1) expect(retried.id, 'the retry finds what the lost COMMIT stored').toBe(stored[0].id);
    expect((await history(b, bob, conv.id)).filter((m) => m.content === 'across a restart').map((m) => m.id)).toEqual([retried.id]);
  });

  it('a node closed the moment it started leaves nothing unanswered behind (the adapter had not subscribed yet)', async () => {
    for (let i = 0; i < 8; i++) await (await startServer(cluster)).close();
    // (afterEach asserts that nothing went unhandled)
  });

  // Last: a node closed while Redis is away cannot say so, and the others wait for it until its heartbeat times out.
  it('a node that shuts down is forgotten by the others at once; it shuts down promptly while Redis is away or reconnecting', async () => {
    const alice = await register(a.url, 'sa');
    for (const phase of ['redis up', 'redis down', 'redis reconnecting'] as const) {
      const c = await startServer(cluster);
      const carol = await register(c.url, 'sd');
      await on(c, carol);
      if (phase !== 'redis up') {
        await redis.down();
        await health(c.url, 503);
        if (phase === 'redis reconnecting') await redis.up();
      }
      const started = Date.now();
      await c.close();
      expect(Date.now() - started, phase).toBeLessThan(4000);
      if (phase === 'redis up') {
        // A membership change waits for every node the adapter knows: not for one that said it left.
        const t = Date.now();
        await direct(a.url, alice, carol);
        expect(Date.now() - t, 'a membership change after a node left').toBeLessThan(2000);
      }
      await redis.up();
      await health(a.url, 200);
    }
  });
});

/** Resolves when the server has closed the socket's connection (10 s at most). */
function closed(s: TestSocket): Promise<void> {
  if (!s.socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the socket was not closed')), 10_000);
    s.socket.once('disconnect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
