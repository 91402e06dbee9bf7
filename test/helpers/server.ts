import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/config.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createApp, type AppOptions, type Parley } from '../../src/app.js';
import { SocketPool } from './client.js';

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

/** A real server on an ephemeral port with a real SQLite file in a temp dir. */
export async function startServer(overrides: Partial<Config> = {}, options: AppOptions = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? tempDir();
  const config = loadConfig({}, { port: 0, logLevel: 'silent', scryptCost: 1024, ...overrides, dataDir });
  const app = await createApp(config, options);
  const url = await app.listen();
  return { url, app, config, dataDir, close: () => app.close() };
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
