import fs from 'node:fs';
import pg from 'pg';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { createDatabase, findPostgresBin, findRedisServer, postgresOrSkip, redisOrSkip, startPostgres, startRedis } from './services.js';

const postgresUrl = postgresOrSkip();
const redisUrl = redisOrSkip();

async function select1(url: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 AS one')).rows[0].one;
  } finally {
    await client.end();
  }
}

async function ping(url: string): Promise<string> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 2_000 } });
  client.on('error', () => {}); // the rejected connect() reports it
  await client.connect();
  try {
    return await client.ping();
  } finally {
    client.destroy();
  }
}

describe.skipIf(!postgresUrl)("the run's PostgreSQL", () => {
  it('creates a fresh database that answers SELECT 1, and drops it', async () => {
    const db = await createDatabase(postgresUrl!);
    expect(await select1(db.url)).toBe(1);
    await db.drop();
    await expect(select1(db.url)).rejects.toThrow(/does not exist/);
  });
});

describe.skipIf(!redisUrl)("the run's Redis", () => {
  it('answers PING', async () => {
    expect(await ping(redisUrl!)).toBe('PONG');
  });
});

describe.skipIf(!findRedisServer())('a throwaway Redis taken down and up again', () => {
  it('comes back on the same port, and a client reconnects by itself', async () => {
    const redis = await startRedis();
    const client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 50 } });
    client.on('error', () => {}); // expected while it is down
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      const port = redis.port;

      await redis.down();
      expect(redis.running).toBe(false);
      await expect(ping(redis.url)).rejects.toThrow(/ECONNREFUSED/);

      await redis.up();
      expect(redis.port).toBe(port);
      expect(await ping(redis.url)).toBe('PONG');
      expect(await client.ping()).toBe('PONG'); // queued until the client reconnected
    } finally {
      client.destroy();
      await redis.stop();
    }
    expect(fs.existsSync(redis.dir)).toBe(false);
  });
});

describe.skipIf(!findPostgresBin())('a throwaway PostgreSQL taken down and up again', () => {
  it('comes back on the same port with its committed data', async () => {
    const server = await startPostgres();
    try {
      const before = new pg.Client({ connectionString: server.url });
      before.on('error', () => {}); // the shutdown ends its connection
      await before.connect();
      await before.query('CREATE TABLE t (x int); INSERT INTO t VALUES (42)');

      await server.down();
      await expect(before.query('SELECT 1')).rejects.toThrow();
      await expect(select1(server.url)).rejects.toThrow(/ECONNREFUSED/);

      await server.up();
      const after = new pg.Client({ connectionString: server.url });
      await after.connect();
      expect((await after.query('SELECT x FROM t')).rows).toEqual([{ x: 42 }]);
      await after.end();
    } finally {
      await server.stop();
    }
    expect(fs.existsSync(server.dir)).toBe(false);
  });
});
