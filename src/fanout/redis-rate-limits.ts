import type { RedisClientType } from 'redis';
import { MemoryBuckets, type RateBuckets, type RateRule } from '../domain/rate-limits.js';
import { RedisScript } from './redis-script.js';

/**
 * The GCRA step of domain/rate-limits.ts `gcra`, run inside Redis so that a
 * bucket is one for every node (and atomic: no two nodes spend the same
 * token). The clock is Redis's own (TIME), so nodes' clocks do not matter.
 * KEYS[1] the bucket; ARGV burst, perMs, cost. Answers 0 or the wait (ms).
 */
const TAKE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst, per, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local interval = per / burst
local tat = tonumber(redis.call('GET', KEYS[1]))
local base = math.max(tat or now, now)
local nxt = math.max(now, base + cost * interval)
local wait = nxt - now - per
if cost > 0 and wait > 0 then return math.ceil(wait) end
if nxt <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now))
end
return 0
`;

const TAKE = new RedisScript(TAKE_LUA);

/** How long a rate-limit answer from Redis may take before this node answers alone. */
const REDIS_TIMEOUT_MS = 250;

/**
 * Buckets in Redis (`{prefix}:rl:{rule}:{subject}`), one per key for the
 * whole deployment. While Redis cannot be reached, this node's own buckets
 * answer instead: limits hold per node for the length of the outage rather
 * than every action failing.
 */
export class RedisBuckets implements RateBuckets {
  private readonly fallback = new MemoryBuckets();

  constructor(
    private readonly client: RedisClientType,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  async take(key: string, rule: RateRule, cost: number, now: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    try {
      // A Redis that is connected but slow must not hold every send: past the
      // timeout this node answers from its own buckets.
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis took over ${REDIS_TIMEOUT_MS} ms to answer a rate limit`)), REDIS_TIMEOUT_MS);
      });
      const call = TAKE.run(this.client, [`${this.prefix}:rl:${key}`], [rule.burst, rule.perMs, cost]);
      const wait = await Promise.race([late, call]);
      return Number(wait);
    } catch (err) {
      this.onError(err);
      return this.fallback.takeNow(key, rule, cost, now);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.fallback.close();
  }
}
