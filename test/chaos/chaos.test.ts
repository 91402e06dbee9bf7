/**
 * Chaos (issue #17), small sizes: clients send under load while the server
 * is killed with SIGKILL at random moments and restarted, 20 times; every
 * acknowledged message must be stored exactly once with the seq its ack gave,
 * at seqs 1..N (test/chaos/harness.ts). On one SQLite node, then on three
 * nodes on PostgreSQL + Redis killed in turn. `npm run chaos` is the long run.
 *
 * CHAOS_SEED=<n> replays a run's kill schedule (each run prints its seed).
 */
import { describe, expect, it } from 'vitest';
import { formatReport, randomSeed, runChaos, type ChaosOptions } from './harness.js';
import { postgresOrSkip, redisOrSkip } from '../helpers/services.js';

const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : randomSeed();
const pgAdmin = postgresOrSkip();
const redisUrl = redisOrSkip();

async function chaos(options: Omit<ChaosOptions, 'seed' | 'log'>): Promise<void> {
  const lines: string[] = [];
  const report = await runChaos({ ...options, seed, log: (l) => lines.push(l) }).catch((err: Error) => {
    throw new Error(`${err.message}\n${lines.join('\n')}\n(replay with CHAOS_SEED=${seed})`, { cause: err });
  });
  const summary = formatReport(report);
  console.log(summary);
  expect(report.violations, `${summary}\n${lines.join('\n')}\n(replay with CHAOS_SEED=${seed})`).toEqual([]);
  expect(report.kills).toHaveLength(options.cycles);
  // Every send was settled, and the load ran through every cycle (acks before each kill and after the last restart).
  expect(report.acked).toBe(report.sent);
  expect(report.acked).toBeGreaterThan(options.cycles * 3);
}

describe('chaos: SIGKILL at random moments under load', () => {
  it('one node on SQLite, 20 kills and restarts: every acknowledged message once, seqs 1..N', async () => {
    await chaos({ cycles: 20, seconds: 6, senders: 4, window: 4, maxDowntimeMs: 300 });
  }, 180_000);

  it.skipIf(!pgAdmin || !redisUrl)('three nodes on PostgreSQL + Redis, killed in turn: every acknowledged message once, seqs 1..N, the same on every node', async () => {
    await chaos({ cluster: { postgresAdminUrl: pgAdmin as string, redisUrl: redisUrl as string }, cycles: 12, seconds: 4, senders: 6, window: 4, maxDowntimeMs: 300 });
  }, 180_000);
});
