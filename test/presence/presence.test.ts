/**
 * The presence registries: the contract (presence-contract.ts) on the
 * in-memory one and on the Redis one, then what only the Redis one does:
 * several nodes share it (each RedisPresence here is a node, with a client
 * of its own, on a key prefix of the test's own), each change is announced
 * once cluster-wide, dead nodes are swept, and Redis losing everything is
 * repaired by the nodes' renewals.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Presence } from '../../src/domain/presence.js';
import { RedisPresence } from '../../src/fanout/redis-presence.js';
import { findRedisServer, redisOrSkip, startRedis, type ThrowawayServer } from '../helpers/services.js';
import { runPresenceContract } from './presence-contract.js';

const redisUrl = redisOrSkip();

const id = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;

async function redisClient(url: string): Promise<RedisClientType> {
  // As cluster.ts makes presence's client: no offline queue (a command fails at once while Redis is away).
  const c = createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: () => 50 } }) as RedisClientType;
  c.on('error', () => {}); // expected while a test's own Redis is down
  await c.connect();
  return c;
}

/** Resolves when the client is (again) ready, or after `ms` at most. */
function ready(c: RedisClientType, ms: number): Promise<void> {
  if (c.isReady) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      c.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    c.once('ready', done);
  });
}

interface Node {
  id: string;
  presence: RedisPresence;
  client: RedisClientType;
  /** Every onOrphans call, in order. */
  orphans: string[][];
  errors: unknown[];
}

/** One deployment: nodes on one Redis and one key prefix (unique to it), removed by cleanup(). */
class Deployment {
  readonly prefix = id(`test-presence-${process.pid}`);
  readonly nodes: Node[] = [];
  private admin?: RedisClientType;

  constructor(private readonly url: string) {}

  /** A node registered in Redis (renew(), without start()'s timer: the tests sweep by hand). */
  async node(): Promise<Node> {
    const client = await redisClient(this.url);
    const node: Node = { id: id('node'), presence: undefined as unknown as RedisPresence, client, orphans: [], errors: [] };
    node.presence = new RedisPresence({ client, nodeId: node.id, prefix: this.prefix, onError: (e) => node.errors.push(e) });
    node.presence.onOrphans = (users) => node.orphans.push([...users].sort());
    await node.presence.renew();
    this.nodes.push(node);
    return node;
  }

  /** A client of the test's own, for inspecting and breaking Redis. */
  async redis(): Promise<RedisClientType> {
    this.admin ??= await redisClient(this.url);
    return this.admin;
  }

  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** Simulates a node that died: its key is gone, as if it had stopped renewing for NODE_TTL_MS. */
  async kill(node: Node): Promise<void> {
    await (await this.redis()).del(this.key('node', node.id));
  }

  async cleanup(): Promise<void> {
    for (const n of this.nodes.splice(0)) {
      await n.presence.close();
      await n.client.quit().catch(() => n.client.destroy());
    }
    const admin = await this.redis().catch(() => undefined);
    if (!admin) return;
    const keys: string[] = [];
    for await (const batch of admin.scanIterator({ MATCH: `${this.prefix}:*`, COUNT: 1000 })) keys.push(...batch);
    if (keys.length) await admin.del(keys);
    await admin.quit().catch(() => admin.destroy());
  }
}

runPresenceContract('in memory (one process)', async () => ({ registry: new Presence(), cleanup: async () => {} }));

describe.skipIf(!redisUrl)('RedisPresence', () => {
  runPresenceContract('Redis (a node of its own deployment)', async () => {
    const d = new Deployment(redisUrl!);
    const n = await d.node();
    return { registry: n.presence, cleanup: () => d.cleanup() };
  });

  describe('several nodes', () => {
    let d: Deployment;
    const user = () => id('u');
    afterEach(async () => {
      const errors = d.nodes.flatMap((n) => n.errors);
      await d.cleanup();
      expect(errors).toEqual([]);
    });

    it('a user online on two nodes stays online when one node loses its socket, and goes offline with the last', async () => {
      d = new Deployment(redisUrl!);
      const [a, b] = [await d.node(), await d.node()];
      const u = user();
      expect(await a.presence.add(u)).toBe(true);
      expect(await b.presence.add(u)).toBe(true); // the first here, though not the first anywhere
      expect(await a.presence.settle(u)).toBe(true);
      expect(await b.presence.settle(u)).toBeNull(); // announced once, whichever node settles

      expect(await a.presence.remove(u)).toBe(true); // a's last...
      expect(await a.presence.settle(u)).toBeNull(); // ...but b still has one
      expect(await a.presence.onlineAmong([u])).toEqual(new Set([u]));
      expect(await b.presence.onlineAmong([u])).toEqual(new Set([u]));

      expect(await b.presence.remove(u)).toBe(true);
      expect(await a.presence.onlineAmong([u])).toEqual(new Set());
      expect(await b.presence.settle(u)).toBe(false);
      expect(await a.presence.settle(u)).toBeNull();
    });

    it('restore() repairs what a Redis outage kept from Redis: a socket gone meanwhile goes offline, one come meanwhile shows online', async () => {
      d = new Deployment(redisUrl!);
      const a = await d.node();
      const [left, came, stays] = [user(), user(), user()];
      for (const u of [left, stays]) {
        await a.presence.add(u);
        expect(await a.presence.settle(u)).toBe(true);
      }
      // The outage, as Redis saw it: `left`'s socket went and `came`'s arrived, neither written.
      await a.presence.remove(left);
      await a.presence.add(came);
      const admin = await d.redis();
      await admin.hSet(d.key('presence', left), a.id, '1');
      await admin.sAdd(d.key('node-users', a.id), left);
      await admin.hDel(d.key('presence', came), a.id);
      await admin.sRem(d.key('node-users', a.id), came);
      expect(await a.presence.onlineAmong([left, came, stays])).toEqual(new Set([left, stays]));

      await a.presence.restore();
      expect(await a.presence.onlineAmong([left, came, stays])).toEqual(new Set([came, stays]));
      expect(a.orphans.at(-1)).toEqual([left, came, stays].sort());
      // Settling the users it reported announces exactly the two changes.
      expect(await a.presence.settle(left)).toBe(false);
      expect(await a.presence.settle(came)).toBe(true);
      expect(await a.presence.settle(stays)).toBeNull();
    });

    it('a node that comes back before its sweep keeps what it restores (the sweep claims only a node whose key is absent)', async () => {
      d = new Deployment(redisUrl!);
      const [a, b] = [await d.node(), await d.node()];
      const u = user();
      await a.presence.add(u);
      await d.kill(a);
      await a.presence.renew(); // back: its key is set again first
      await b.presence.sweep();
      expect(b.orphans).toEqual([]);
      expect(await b.presence.onlineAmong([u])).toEqual(new Set([u]));
    });

    it('each transition is announced once cluster-wide when two nodes race to settle it', async () => {
      d = new Deployment(redisUrl!);
      const [a, b] = [await d.node(), await d.node()];
      const users = Array.from({ length: 25 }, user);
      const settleBoth = (u: string) => Promise.all([a.presence.settle(u), b.presence.settle(u)]);

      // Both nodes get a first socket at once, and both settle.
      await Promise.all(users.flatMap((u) => [a.presence.add(u), b.presence.add(u)]));
      const online = await Promise.all(users.map(settleBoth));
      for (const answers of online) expect(answers.filter((x) => x !== null)).toEqual([true]);

      // Both lose their last at once, and both settle.
      await Promise.all(users.flatMap((u) => [a.presence.remove(u), b.presence.remove(u)]));
      const offline = await Promise.all(users.map(settleBoth));
      for (const answers of offline) expect(answers.filter((x) => x !== null)).toEqual([false]);

      // A user flapping on one node while both settle after each flip: the announcements alternate, once each.
      const u = user();
      const said: boolean[] = [];
      for (let i = 0; i < 10; i++) {
        await (i % 2 === 0 ? a.presence.add(u) : a.presence.remove(u));
        for (const x of await settleBoth(u)) if (x !== null) said.push(x);
      }
      expect(said).toEqual(Array.from({ length: 10 }, (_, i) => i % 2 === 0));
    });

    it("a node that dies leaves its users offline after a sweep, reported once through onOrphans; a stalled node's renewal brings them back", async () => {
      d = new Deployment(redisUrl!);
      const [dead, b, c] = [await d.node(), await d.node(), await d.node()];
      const [onlyDead, both, onlyB] = [user(), user(), user()];
      await dead.presence.add(onlyDead);
      await dead.presence.add(both);
      await b.presence.add(both);
      await b.presence.add(onlyB);
      for (const u of [onlyDead, both, onlyB]) expect(await b.presence.settle(u)).toBe(true);

      await d.kill(dead);
      // Its sockets count for nothing once its key is gone, even before a sweep.
      expect(await c.presence.onlineAmong([onlyDead, both, onlyB])).toEqual(new Set([both, onlyB]));

      // Two nodes sweep at once: one claims the dead node and reports its users, once.
      await Promise.all([b.presence.sweep(), c.presence.sweep()]);
      const reports = [...b.orphans, ...c.orphans];
      expect(reports).toEqual([[both, onlyDead].sort()]);
      // Sweeping again reports nothing, from any living node.
      await b.presence.sweep();
      await c.presence.sweep();
      expect([...b.orphans, ...c.orphans]).toEqual(reports);
      expect(dead.orphans).toEqual([]);

      // Settling the reported users: the dead node's only user goes offline, once; the other stays online.
      const [reporter] = b.orphans.length ? [b] : [c];
      expect(await reporter.presence.settle(onlyDead)).toBe(false);
      expect(await reporter.presence.settle(both)).toBeNull();
      expect(await b.presence.settle(onlyDead)).toBeNull();
      expect(await c.presence.settle(onlyDead)).toBeNull();
      // Its counts are gone from Redis.
      const redis = await d.redis();
      expect(await redis.hGetAll(d.key('presence', both))).not.toHaveProperty(dead.id);
      expect(await redis.exists(d.key('node-users', dead.id))).toBe(0);

      // The "dead" node was only stalled: its next renewal writes its counts back and reports its users.
      await dead.presence.renew();
      expect(dead.orphans).toEqual([[both, onlyDead].sort()]);
      expect(await c.presence.onlineAmong([onlyDead, both, onlyB])).toEqual(new Set([onlyDead, both, onlyB]));
      expect(await dead.presence.settle(onlyDead)).toBe(true);
      expect(await dead.presence.settle(both)).toBeNull();
      // And its sockets count as before.
      expect(await dead.presence.remove(both)).toBe(true);
      expect(await dead.presence.remove(onlyDead)).toBe(true);
      expect(await b.presence.onlineAmong([onlyDead, both])).toEqual(new Set([both]));
      expect(await c.presence.settle(onlyDead)).toBe(false);
    });

    it('a node that closes: its users are offline at once, and a sweep elsewhere reports them', async () => {
      d = new Deployment(redisUrl!);
      const [a, b] = [await d.node(), await d.node()];
      const u = user();
      await a.presence.add(u);
      expect(await a.presence.settle(u)).toBe(true);
      await a.presence.close();
      expect(await b.presence.onlineAmong([u])).toEqual(new Set());
      await b.presence.sweep();
      expect(b.orphans).toEqual([[u]]);
      expect(await b.presence.settle(u)).toBe(false);
    });
  });

  describe.skipIf(!findRedisServer())('on a Redis of its own that loses everything', () => {
    let server: ThrowawayServer;
    let d: Deployment;
    beforeAll(async () => {
      server = await startRedis();
    });
    afterEach(() => d?.cleanup());
    afterAll(() => server?.stop());

    it("renew() after FLUSHALL writes the node's counts back and reports its users", async () => {
      d = new Deployment(server.url);
      const [a, b] = [await d.node(), await d.node()];
      const [u, v, w] = ['u1', 'u2', 'u3'];
      await a.presence.add(u);
      await a.presence.add(u);
      await a.presence.add(v);
      await b.presence.add(w);
      for (const x of [u, v, w]) expect(await a.presence.settle(x)).toBe(true);

      await (await d.redis()).flushAll();
      expect(await b.presence.onlineAmong([u, v, w])).toEqual(new Set());

      await a.presence.renew();
      expect(a.orphans).toEqual([[u, v]]);
      await b.presence.renew();
      expect(b.orphans).toEqual([[w]]);
      expect(await b.presence.onlineAmong([u, v, w])).toEqual(new Set([u, v, w]));
      // Settling the reported users never says offline (saying online again is all Redis's loss may cost).
      for (const x of [u, v, w]) expect(await a.presence.settle(x)).not.toBe(false);
      for (const x of [u, v, w]) expect(await a.presence.settle(x)).toBeNull();

      // The counts written back are the node's real ones: u had two sockets.
      expect(await a.presence.remove(u)).toBe(false);
      expect(await b.presence.onlineAmong([u])).toEqual(new Set([u]));
      expect(await a.presence.remove(u)).toBe(true);
      expect(await b.presence.onlineAmong([u])).toEqual(new Set());
      expect(await b.presence.settle(u)).toBe(false);
      // And a renewal with nothing lost reports nothing.
      await a.presence.renew();
      expect(a.orphans).toHaveLength(1);
    });

    it('a Redis restarted empty: commands fail at once while it is away, onlineAmong answers what the node knows, and renew() restores what was counted meanwhile', async () => {
      d = new Deployment(server.url);
      const [a, b] = [await d.node(), await d.node()];
      const [u, v, w] = ['u1', 'u2', 'u3'];
      await a.presence.add(u);
      await b.presence.add(w);
      expect(await a.presence.settle(u)).toBe(true);

      await server.down();
      const started = Date.now();
      await expect(a.presence.add(v)).rejects.toThrow();
      await expect(a.presence.settle(v)).rejects.toThrow();
      // Reads that show presence do not fail with Redis: this node's own sockets, and the error reported.
      expect(await a.presence.onlineAmong([u, v, w])).toEqual(new Set([u, v]));
      expect(a.errors.length).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(1000);
      await server.up();

      // The client reconnects by itself; then the renewal (cluster.ts runs it on 'ready') repairs Redis.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await a.presence.renew();
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await ready(a.client, 250);
        }
      }
      expect(a.orphans).toEqual([[u, v]]);
      for (const until = Date.now() + 10_000; !b.client.isReady; ) {
        if (Date.now() > until) throw new Error('the second node did not reconnect');
        await ready(b.client, 250);
      }
      expect(await b.presence.onlineAmong([u, v, w])).toEqual(new Set([u, v])); // b has not renewed yet
      expect(await a.presence.remove(v)).toBe(true);
      expect(await b.presence.onlineAmong([u, v])).toEqual(new Set([u]));
    });
  });
});
