/**
 * The benchmark is not a test, but it must not rot: every scenario runs here
 * at a tiny size and must print its rows with sane values (rates above zero,
 * no errors, nothing lost or duplicated); the figures themselves are not judged.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findPostgresBin, findRedisServer, INSTALL_HINT, postgresOrSkip, redisOrSkip } from '../helpers/services.js';

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

  it('thumbnail: a photo is made into its thumbnail and timed', async () => {
    const { get } = await rows('bench/thumbnail.ts', ['--size', 'smoke']);
    const row = get('thumbnail 20 MP') as Row & { made: number; wallP50: number };
    expect(row.made).toBe(1);
    expect(row.wallP50).toBeGreaterThan(0);
  }, 120_000);

  it('search mix: chat latency with and without searches, every search answered 200', async () => {
    const { get } = await rows('bench/search-mix.ts', [
      '--size', 'smoke', '--pairs', '1', '--rate', '50', '--seconds', '1', '--warmup', '0.2', '--search-rate', '5', '--searchers', '10', '--workers', '1',
    ]);
    for (const mode of ['without', 'with']) {
      const row = get(`search mix ${mode} searches`);
      expect(row.msgsPerSec, mode).toBeGreaterThan(0);
      expect(row.recvP99, mode).toBeGreaterThan(0);
      expect([row.lost, row.errors], mode).toEqual([0, 0]);
    }
    const withRow = get('search mix with searches') as Row & { searches: number; statuses: Record<string, number> };
    expect(withRow.searches).toBeGreaterThan(0);
    expect(withRow.statuses).toEqual({ 200: withRow.searches });
    const summary = get('search mix summary') as Row & { ratio: number };
    expect(summary.ratio).toBeGreaterThan(0);
  }, 120_000);

  it('soak: rows over time and a verdict; with everyone gone the server holds no socket and no timer', async () => {
    // The verdict itself (exit 1 when something grows) is not judged at this size: a few seconds are all noise.
    const out = await run(process.execPath, ['--import', 'tsx', 'bench/soak.ts', '--minutes', '0.2', '--interval', '3', '--users', '16', '--rate', '20'], {
      cwd: root,
      timeout: 120_000,
    }).catch((err: { stdout?: string; code?: number }) => {
      if (typeof err.code === 'number' && err.code === 1 && err.stdout) return { stdout: err.stdout };
      throw err;
    });
    const all = out.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Row);
    const samples = all.filter((r) => /^soak [\d.]+ min$/.test(r.scenario));
    expect(samples.length, out.stdout).toBeGreaterThanOrEqual(2);
    for (const r of samples) {
      expect(r.msgsPerSec, r.scenario).toBeGreaterThan(0);
      expect(r.liveHeapMiB, r.scenario).toBeGreaterThan(0);
      expect(r.errors, r.scenario).toBe(0);
    }
    const after = all.find((r) => r.scenario === 'soak after all left');
    expect(after, out.stdout).toMatchObject({ sockets: 0, timers: 0 });
    const verdict = all.find((r) => r.scenario === 'soak verdict');
    expect(verdict, out.stdout).toMatchObject({ errors: 0 });
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
    const { get } = await rows('bench/fanout.ts', ['--mode', 'window', '--users', '5', '--senders', '2', '--window', '4', '--seconds', '1', '--warmup', '0.2']);
    for (const t of TARGETS) {
      const row = get(`fanout ${t}`);
      expect(row.deliveriesPerSec, t).toBeGreaterThan(0);
      expect(row.expected, t).toBeGreaterThan(0);
      expect(row.p50, t).toBeGreaterThan(0);
      expect([row.errors, row.lost, row.duplicated, row.unexpected], t).toEqual([0, 0, 0, 0]);
    }
    expect(get('fanout parley / relays').toSocketIoRelay).toBeGreaterThan(0);
  }, 120_000);

  it('fanout at an offered rate: Parley and the Socket.IO relay each print a row, and the target is judged', async () => {
    const { get } = await rows('bench/fanout.ts', ['--mode', 'rate', '--users', '5', '--rate-senders', '2', '--rate', '100', '--seconds', '1', '--warmup', '0.2']);
    for (const t of ['parley', 'bare socket.io relay']) {
      const row = get(`fanout-rate ${t}`);
      expect(row.offeredPerSec, t).toBe(200);
      expect(row.deliveriesPerSec, t).toBeGreaterThan(0);
      expect(row.expected, t).toBeGreaterThan(0);
      expect(row.msgsPerSec, t).toBeGreaterThan(0);
      // Whatever was acknowledged reached every other member exactly once (Parley may refuse sends on a busy machine: `refused`).
      expect([row.timedOut, row.lost, row.duplicated, row.unexpected], t).toEqual([0, 0, 0, 0]);
    }
    expect(get('fanout-rate parley / socket.io relay').toSocketIoRelay).toBeGreaterThan(0);
    expect(typeof get('fanout-rate target').met).toBe('boolean');
  }, 120_000);

  // bench/cluster.ts starts its own PostgreSQL and Redis (test/helpers/services.ts): it needs their binaries here.
  const clusterSkip = !(postgresOrSkip() && redisOrSkip())
    ? 'PostgreSQL or Redis is missing (see the global setup)'
    : !findPostgresBin() || !findRedisServer()
      ? `bench/cluster.ts starts its own PostgreSQL and Redis, and their binaries are not installed (${INSTALL_HINT})`
      : '';
  if (clusterSkip) console.warn(`skipping the cluster benchmark smoke run: ${clusterSkip}`);

  it.skipIf(clusterSkip !== '')('cluster: ingest on PostgreSQL, fan-out over two nodes exactly once, latency across nodes', async () => {
    const { get } = await rows('bench/cluster.ts', [
      ...['--senders', '2', '--window', '2', '--seconds', '1', '--warmup', '0'],
      ...['--fan-users', '6', '--fan-senders', '2', '--fan-window', '2', '--fan-seconds', '1', '--fan-warmup', '0.2'],
      ...['--rate', '100', '--lat-seconds', '1', '--lat-warmup', '0.2'],
    ]);
    const ingest = get('cluster ingest (postgres, 1 node)');
    expect(ingest.msgsPerSec).toBeGreaterThan(0);
    expect(ingest.ackP50).toBeGreaterThan(0);
    expect(ingest.errors).toBe(0);
    expect(ingest.pgCommitsPerSec).toBeGreaterThan(0);
    expect(typeof get('cluster ingest target').met).toBe('boolean');
    const fan = get('cluster fanout (2 nodes)');
    expect(fan.deliveriesPerSec).toBeGreaterThan(0);
    expect(fan.expected).toBeGreaterThan(0);
    expect((fan.nodeCpu as number[]).length).toBe(2);
    expect([fan.errors, fan.lost, fan.duplicated, fan.unexpected]).toEqual([0, 0, 0, 0]);
    expect(get('cluster fanout target').met).toBe(true);
    const lat = get('cluster latency (node 1 -> 2)');
    expect(lat.msgsPerSec).toBeGreaterThan(0);
    expect(lat.recvP50).toBeGreaterThan(0);
    expect([lat.errors, lat.lost, lat.duplicated]).toEqual([0, 0, 0]);
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
