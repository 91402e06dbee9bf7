/**
 * The rate-limit buckets: one contract on both implementations, the
 * in-memory one (one node) and the Redis one (every node), so the limits
 * mean the same whichever a deployment runs. Redis's own clock drives its
 * buckets, so the contract asserts bounds on waits, not exact values.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type RedisClientType } from 'redis';
import { describe, expect, it } from 'vitest';
import { MemoryBuckets, type RateBuckets } from '../../src/domain/rate-limits.js';
import { RedisBuckets } from '../../src/fanout/redis-rate-limits.js';
import { redisOrSkip } from '../helpers/services.js';

function runBucketsContract(name: string, factory: () => Promise<{ buckets: RateBuckets; cleanup: () => Promise<void> }>): void {
  describe(`RateBuckets contract: ${name}`, () => {
    const key = () => `k-${randomBytes(4).toString('hex')}`;
    const rule = { burst: 3, perMs: 3_600_000 }; // one back every 20 min: nothing refills during a test

    it('lets `burst` through at once, then refuses with the wait for one token, spending nothing', async () => {
      const { buckets, cleanup } = await factory();
      try {
        const k = key();
        for (let i = 0; i < 3; i++) expect(await buckets.take(k, rule, 1, Date.now())).toBe(0);
        for (let i = 0; i < 2; i++) {
          const wait = await buckets.take(k, rule, 1, Date.now());
          expect(wait).toBeGreaterThan(1_190_000);
          expect(wait).toBeLessThanOrEqual(1_200_000);
        }
      } finally {
        await cleanup();
      }
    });

    it('a token given back can be taken again; keys are apart', async () => {
      const { buckets, cleanup } = await factory();
      try {
        const [a, b] = [key(), key()];
        for (let i = 0; i < 3; i++) await buckets.take(a, rule, 1, Date.now());
        expect(await buckets.take(b, rule, 1, Date.now())).toBe(0);
        expect(await buckets.take(a, rule, -1, Date.now())).toBe(0);
        expect(await buckets.take(a, rule, 1, Date.now())).toBe(0);
        expect(await buckets.take(a, rule, 1, Date.now())).toBeGreaterThan(0);
      } finally {
        await cleanup();
      }
    });
  });
}

runBucketsContract('in memory (one node)', async () => {
  const buckets = new MemoryBuckets();
  return { buckets, cleanup: async () => buckets.close() };
});

const redisUrl = redisOrSkip();
describe.skipIf(!redisUrl)('Redis buckets', () => {
  runBucketsContract('Redis (every node)', async () => {
    const client = createClient({ url: redisUrl! }) as RedisClientType;
    await client.connect();
    const buckets = new RedisBuckets(client, `test-rl-${randomBytes(4).toString('hex')}`, (err) => {
      throw err;
    });
    return {
      buckets,
      cleanup: async () => {
        buckets.close();
        await client.quit();
      },
    };
  });

  it('goes on when Redis has forgotten its scripts (a restart, SCRIPT FLUSH): the script is sent again, run once', async () => {
    const client = createClient({ url: redisUrl! }) as RedisClientType;
    await client.connect();
    const errors: unknown[] = [];
    const buckets = new RedisBuckets(client, `test-rl-${randomBytes(4).toString('hex')}`, (err) => errors.push(err));
    try {
      const rule = { burst: 2, perMs: 3_600_000 };
      expect(await buckets.take('k', rule, 1, Date.now())).toBe(0);
      await client.sendCommand(['SCRIPT', 'FLUSH']);
      expect(await buckets.take('k', rule, 1, Date.now())).toBe(0);
      // Ran once, in Redis: the third is refused there (not by the node's own fallback, which has seen nothing).
      expect(await buckets.take('k', rule, 1, Date.now())).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    } finally {
      buckets.close();
      await client.quit();
    }
  });
});
