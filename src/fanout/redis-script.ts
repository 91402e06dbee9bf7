import { createHash } from 'node:crypto';
import type { RedisClientType } from 'redis';

/**
 * A Lua script run in Redis by its SHA-1 (EVALSHA: each call sends 40 bytes
 * instead of the script, and Redis need not hash it again). A Redis that has
 * not cached it yet (first call, a restart, SCRIPT FLUSH) answers NOSCRIPT;
 * then it is sent whole once with EVAL, which caches it.
 */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(client: RedisClientType, keys: string[], args: (string | number)[]): Promise<unknown> {
    const rest = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await client.sendCommand(['EVALSHA', this.sha, ...rest]);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return client.sendCommand(['EVAL', this.lua, ...rest]);
    }
  }
}
