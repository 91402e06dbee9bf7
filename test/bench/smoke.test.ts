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

  it('ingest: Parley and the two bare relays each print a row', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/ingest.ts', '--senders', '2', '--window', '2', '--seconds', '1', '--workers', '1'], {
      cwd: root,
      timeout: 120_000,
    });
    const rows = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { scenario: string; msgsPerSec?: number; errors?: number });
    for (const s of ['ingest parley (FULL)', 'ingest bare socket.io relay', 'ingest bare ws relay']) {
      const row = rows.find((r) => r.scenario === s);
      expect(row, stdout).toBeDefined();
      expect(row!.msgsPerSec).toBeGreaterThan(0);
      expect(row!.errors).toBe(0);
    }
  }, 120_000);
});
