/**
 * `npm run chaos`: the long chaos run (issue #17; test/chaos/harness.ts).
 * Clients send under load while Parley is killed with SIGKILL at random
 * moments and restarted; afterwards every acknowledged message must be in
 * the history exactly once, with the seq its ack gave, at seqs 1..N.
 * Prints a line per kill and a summary (and a JSON line), and exits 1 on any
 * violation.
 *
 *   npm run chaos -- [--cycles 50] [--seconds 300] [--senders 8] [--window 8]
 *                    [--max-downtime-ms 1000] [--replay-rate 0.05]
 *                    [--cluster | --both] [--seed N] [--keep]
 *
 * --cluster runs three nodes on PostgreSQL + Redis (throwaway servers, or
 * PARLEY_TEST_DATABASE_URL (a superuser URL) and PARLEY_TEST_REDIS_URL),
 * killed in turn; --both runs the single node, then the cluster.
 * --seed replays a run's kill schedule; --keep keeps the data dirs and database.
 */
import { parseArgs } from 'node:util';
import { formatReport, randomSeed, runChaos, type ChaosOptions, type ClusterServices } from '../test/chaos/harness.js';
import { startPostgres, startRedis, type ThrowawayServer } from '../test/helpers/services.js';

const { values: args } = parseArgs({
  options: {
    cycles: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '300' },
    senders: { type: 'string', default: '8' },
    window: { type: 'string', default: '8' },
    'max-downtime-ms': { type: 'string', default: '1000' },
    'replay-rate': { type: 'string', default: '0.05' },
    seed: { type: 'string' },
    cluster: { type: 'boolean', default: false },
    both: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});

function num(name: keyof typeof args): number {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number ≥ 0, not ${String(args[name])}`);
  return v;
}

/** PostgreSQL and Redis for the cluster run: the given ones, or throwaway servers that stop() removes. */
async function clusterServices(): Promise<{ services: ClusterServices; stop(): Promise<void> }> {
  const given = { postgresAdminUrl: process.env.PARLEY_TEST_DATABASE_URL, redisUrl: process.env.PARLEY_TEST_REDIS_URL };
  const started: ThrowawayServer[] = [];
  const stop = async () => void (await Promise.all(started.map((s) => s.stop())));
  try {
    if (!given.postgresAdminUrl) started.push(await startPostgres());
    const postgresAdminUrl = given.postgresAdminUrl ?? (started.at(-1) as ThrowawayServer).url;
    if (!given.redisUrl) started.push(await startRedis());
    const redisUrl = given.redisUrl ?? (started.at(-1) as ThrowawayServer).url;
    return { services: { postgresAdminUrl, redisUrl }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// Ctrl-C: exit through 'exit', whose hooks kill the nodes, PostgreSQL and Redis.
process.once('SIGINT', () => process.exit(130));

async function main(): Promise<number> {
  const seed = args.seed === undefined ? randomSeed() : num('seed');
  const base: ChaosOptions = {
    cycles: num('cycles'),
    seconds: num('seconds'),
    senders: num('senders'),
    window: num('window'),
    maxDowntimeMs: num('max-downtime-ms'),
    replayRate: num('replay-rate'),
    seed,
    keep: args.keep,
    log: (line) => console.log(line),
  };
  const runs: ('single' | 'cluster')[] = args.both ? ['single', 'cluster'] : args.cluster ? ['cluster'] : ['single'];
  let failed = false;
  for (const run of runs) {
    const services = run === 'cluster' ? await clusterServices() : undefined;
    try {
      const report = await runChaos({ ...base, ...(services ? { cluster: services.services } : {}) });
      console.log(formatReport(report));
      const { kills, counters, ...rest } = report;
      console.log(JSON.stringify({ scenario: `chaos ${run}`, ...rest, counters, restartMs: kills.map((k) => k.restartMs) }));
      failed ||= report.violations.length > 0;
    } finally {
      await services?.stop();
    }
  }
  if (failed) console.log(`FAILED: replay the schedule with --seed ${seed}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
