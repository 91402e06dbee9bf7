import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/config.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createApp, type AppOptions, type Parley } from '../../src/app.js';
import { SocketPool } from './client.js';
import { createDatabase, postgresOrSkip, redisOrSkip } from './services.js';

export interface TestServer {
  url: string;
  app: Parley;
  config: Config;
  dataDir: string;
  close(): Promise<void>;
}

export function tempDir(prefix = 'parley-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Which store the transport tests run on: SQLite (a real file in a temp dir)
 * by default; with PARLEY_TEST_STORE=postgres, a fresh PostgreSQL database
 * and the run's Redis (a key prefix of its own), as a node of a cluster.
 */
export const TEST_STORE: 'sqlite' | 'postgres' = process.env.PARLEY_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

let servers = 0;
/** With PARLEY_TEST_STORE=postgres, a data dir given by a test (a restart) keeps its database. */
const databases = new Map<string, string>();

/** A real server on an ephemeral port with a real store (TEST_STORE). */
export async function startServer(overrides: Partial<Config> = {}, options: AppOptions = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? tempDir();
  let drop = async () => {};
  const cluster: Partial<Config> = {};
  if (TEST_STORE === 'postgres' && overrides.databaseUrl === undefined) {
    const admin = postgresOrSkip();
    const redisUrl = redisOrSkip();
    if (!admin || !redisUrl) throw new Error('PARLEY_TEST_STORE=postgres needs PostgreSQL and Redis (test/global-setup.ts)');
    let databaseUrl = overrides.dataDir ? databases.get(overrides.dataDir) : undefined;
    if (!databaseUrl) {
      const db = await createDatabase(admin);
      databaseUrl = db.url;
      // A test that restarts on its data dir gets the same database back; it lasts the run.
      if (overrides.dataDir) databases.set(overrides.dataDir, databaseUrl);
      else drop = db.drop;
    }
    Object.assign(cluster, {
      databaseUrl,
      redisUrl,
      redisPrefix: `test-${process.pid}-${++servers}-${Date.now()}`,
      // Every node of a cluster shares one (config refuses REDIS_URL without it).
      jwtSecret: 'the-test-cluster-secret-0123456789abcdef',
    });
  }
  // Limits are off unless a test turns them on (test/transport/rate-limits.test.ts): tests send far faster than people.
  const config = loadConfig({}, { port: 0, logLevel: 'silent', scryptCost: 1024, rateLimits: 'off', ...cluster, ...overrides, dataDir });
  const app = await createApp(config, options).catch(async (e: unknown) => {
    await drop();
    throw e;
  });
  const url = await app.listen();
  return {
    url,
    app,
    config,
    dataDir,
    close: async () => {
      await app.close();
      await drop();
    },
  };
}

/**
 * One real server for a test file: started before its tests, closed after
 * them, with a pool of sockets closed after each test. Read `server` and
 * `url` inside tests (they are set once the server is up).
 */
export function useServer(overrides: Partial<Config> = {}, options: AppOptions = {}): { server: TestServer; url: string; pool: SocketPool } {
  const ctx: { server: TestServer; url: string; pool: SocketPool } = {
    server: undefined as unknown as TestServer,
    url: '',
    pool: new SocketPool(() => ctx.url),
  };
  beforeAll(async () => {
    ctx.server = await startServer(overrides, options);
    ctx.url = ctx.server.url;
  });
  afterEach(() => ctx.pool.closeAll());
  afterAll(() => ctx.server?.close());
  return ctx;
}
