/**
 * The benchmark is not a test, but it must not rot: every scenario runs here
 * at a tiny size and must print its rows (the figures themselves are not judged).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

describe('benchmark smoke run', () => {
  it('data: every scenario prints a JSON line', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/data.ts', '--size', 'smoke'], { cwd: root, timeout: 120_000 });
    const rows = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { scenario: string; p50?: number });
    const scenarios = rows.map((r) => r.scenario);
    for (const s of ['seed', 'history latest 50 (REST)', 'history middle page (REST)', 'conversation:join latest 50', 'conversation list (200 of 1000)', 'search: all kinds']) {
      expect(scenarios, stdout).toContain(s);
    }
    for (const r of rows.filter((x) => x.scenario !== 'seed')) expect(r.p50, r.scenario).toBeGreaterThan(0);
  }, 120_000);
});
