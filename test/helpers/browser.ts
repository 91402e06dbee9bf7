import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
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

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core's WCAG 2.1 A/AA rules on the page as it is now: no serious or critical violation. */
export async function audit(page: Page, what: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  // Colours mid-transition (a theme switch, a hover) are not the page's: let them finish.
  await page.evaluate(() => Promise.all(document.getAnimations().filter((an) => !(an instanceof CSSAnimation)).map((an) => an.finished)));
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: unknown) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] }[] }> } }).axe;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => `${JSON.stringify(n.target)} ${n.failureSummary ?? ''}`) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.filter((v) => !bad.includes(v));
  if (minor.length > 0) console.warn(`axe on ${what}, minor or moderate:`, minor.map((v) => `${v.id} (${v.impact}): ${v.targets.join(', ')}`));
  expect(bad.map((v) => `${v.id} (${v.impact}) ${v.help}: ${v.targets.join(', ')}`), `axe on ${what}`).toEqual([]);
}
