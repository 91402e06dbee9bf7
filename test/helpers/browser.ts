import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startServer, type TestServer } from './server.js';

/** Debian's chromium (installed by .ci/run; never downloaded). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Whether browser tests can run here. Outside CI a missing chromium skips
 * them with the command that installs it; with CI=true it fails the run.
 */
export function browserAvailable(): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run must install chromium (apt-get install -y chromium)`);
  console.warn(`skipping browser tests: ${CHROMIUM} not found (apt-get install -y chromium fonts-noto-color-emoji fonts-noto-cjk)`);
  return false;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Where browser tests put their screenshots (not committed). */
export const SHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');

/**
 * For a browser test file: whether it can run here, and (when it can) a real
 * server and a browser, started before its tests and closed after them.
 */
export function useBrowser(): { run: boolean; server: TestServer; browser: Browser } {
  const ctx = { run: browserAvailable(), server: undefined as unknown as TestServer, browser: undefined as unknown as Browser };
  beforeAll(async () => {
    if (!ctx.run) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    ctx.server = await startServer();
    ctx.browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await ctx.browser?.close();
    await ctx.server?.close();
  });
  return ctx;
}
