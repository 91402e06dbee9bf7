/**
 * The benchmark is not a test, but it must not rot: every scenario runs here
 * at a tiny size and must print its rows with sane values (rates above zero,
 * no errors, nothing lost or duplicated); the figures themselves are not judged.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

type Row = { scenario: string } & Record<string, unknown>;

/** Runs a bench script and returns its JSON rows by scenario name. */
async function rows(script: string, args: string[]): Promise<{ stdout: string; get: (scenario: string) => Row }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, timeout: 120_000 });
  const all = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Row);
  return {
    stdout,
    get: (scenario) => {
      const row = all.find((r) => r.scenario === scenario);
      expect(row, `${scenario} in:\n${stdout}`).toBeDefined();
      return row!;
    },
  };
}

const TARGETS = ['parley', 'bare socket.io relay', 'bare ws relay'];

describe('benchmark smoke run', () => {
  it('data: every scenario prints a JSON line', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/data.ts', '--size', 'smoke'], { cwd: root, timeout: 120_000 });
    const rows = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { scenario: string; p50?: number });
    const scenarios = rows.map((r) => r.scenario);
    for (const s of ['seed', 'REST round trip (/health)', 'history latest 50 (REST)', 'history middle page (REST)', 'conversation:join latest 50', 'conversation list (200 of 1000)', 'search: all kinds']) {
      expect(scenarios, stdout).toContain(s);
    }
    for (const r of rows.filter((x) => x.scenario !== 'seed' && !x.scenario.endsWith(' target'))) expect(r.p50, r.scenario).toBeGreaterThan(0);
    // The two history targets are judged (met or not, at this tiny size).
    const targets = rows.filter((r) => r.scenario.endsWith(' target')) as unknown as { scenario: string; met: boolean }[];
    expect(targets.map((t) => t.scenario)).toEqual(['history (REST) target', 'history (conversation:join) target']);
    for (const t of targets) expect(typeof t.met).toBe('boolean');
  }, 120_000);

  it('ingest: Parley and the two bare relays each print a row', async () => {
    const { get } = await rows('bench/ingest.ts', ['--senders', '2', '--window', '2', '--seconds', '1', '--workers', '1']);
    for (const s of ['ingest parley (FULL)', 'ingest bare socket.io relay', 'ingest bare ws relay']) {
      const row = get(s);
      expect(row.msgsPerSec, s).toBeGreaterThan(0);
      expect(row.errors, s).toBe(0);
    }
    expect(get('ingest parley / relays').toSocketIoRelay).toBeGreaterThan(0);
  }, 120_000);

  it('fanout: every message reaches every other member exactly once', async () => {
    const { get } = await rows('bench/fanout.ts', ['--users', '5', '--senders', '2', '--window', '4', '--seconds', '1', '--warmup', '0.2']);
    for (const t of TARGETS) {
      const row = get(`fanout ${t}`);
      expect(row.deliveriesPerSec, t).toBeGreaterThan(0);
      expect(row.expected, t).toBeGreaterThan(0);
      expect(row.p50, t).toBeGreaterThan(0);
      expect([row.errors, row.lost, row.duplicated, row.unexpected], t).toEqual([0, 0, 0, 0]);
    }
    expect(get('fanout parley / relays').toSocketIoRelay).toBeGreaterThan(0);
  }, 120_000);

  it('latency: a steady rate is acknowledged and delivered', async () => {
    const { get } = await rows('bench/latency.ts', ['--rate', '200', '--seconds', '1', '--warmup', '0.2']);
    for (const t of TARGETS) {
      const row = get(`latency ${t}`);
      expect(row.msgsPerSec, t).toBeGreaterThan(0);
      expect(row.ackP50, t).toBeGreaterThan(0);
      expect(row.recvP50, t).toBeGreaterThan(0);
      expect([row.errors, row.lost, row.duplicated], t).toEqual([0, 0, 0]);
    }
  }, 120_000);

  it('connections: every socket connects and stays connected', async () => {
    const { get } = await rows('bench/connections.ts', ['--connections', '50', '--users', '5', '--hold', '1']);
    for (const t of TARGETS) {
      const row = get(`connections ${t}`);
      expect(row.connections, t).toBe(50);
      expect(row.connectP50, t).toBeGreaterThan(0);
      expect(row.errors, t).toBe(0);
    }
  }, 120_000);

  it('catchup: sync recovers exactly the missed messages', async () => {
    const { get } = await rows('bench/catchup.ts', ['--messages', '150', '--reps', '2', '--limits', '1000,100']);
    for (const limit of [1000, 100]) {
      const row = get(`catchup parley (sync limit ${limit})`);
      expect(row.recoverP50).toBeGreaterThan(0);
      expect(row.recovered).toBe(300);
      expect([row.missing, row.duplicated, row.extra]).toEqual([0, 0, 0]);
    }
    expect(get('catchup parley (sync limit 100)').syncCallsPerRep).toBeGreaterThan(1);
  }, 120_000);
});
