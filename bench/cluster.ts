/**
 * Several nodes: Parley on PostgreSQL + Redis (bench/cluster-servers.ts: a
 * throwaway PostgreSQL with its data on the disk, a throwaway Redis, a fresh
 * database, `node dist/main.js` processes with DATABASE_URL, REDIS_URL,
 * REDIS_PREFIX and one JWT_SECRET), on the same machine as the load generator.
 *
 *   npm run build && npx tsx bench/cluster.ts [--scenarios ingest,fanout,latency]
 *       ingest, one node:   [--senders 20] [--window 10] [--seconds 10] [--warmup 2]
 *       fanout, two nodes:  [--fan-users 100] [--fan-senders 4] [--fan-window 8] [--fan-seconds 10] [--fan-warmup 1]
 *       latency, two nodes: [--rate 1000] [--lat-seconds 10] [--lat-warmup 5]
 *       [--workers 2] [--pg-data disk|tmpfs] [--pool-size N] [--no-pg-statements] [--pg-set name=value[,name=value]] [--pg-log]
 *
 * PostgreSQL runs with pg_stat_statements (its cost was within the spread:
 * 5,742 msgs/s without, 5,777 with); after the ingest the statements that
 * took its time are printed (`# pg statement` lines), and the row has the
 * group commit's batches: how many messages each, one every how many ms,
 * and how long PostgreSQL spent executing a batch's statements.
 *
 * - ingest: like ingest.ts (each sender a conversation of its own, a window
 *   of sends in flight), on one node: acked msgs/s, ack latency, where the
 *   CPU went (the node, PostgreSQL's processes, Redis, the load generator)
 *   and what PostgreSQL did meanwhile (transactions, WAL fsyncs and their
 *   mean time: every ack waits for its batch's commit, hence for an fsync).
 * - fanout: one group of `--fan-users`, members alternating between the two
 *   nodes (so half of each message's deliveries cross Redis), senders on
 *   both; every member counts each message: lost and duplicated.
 * - latency: a direct conversation, the sender on node 1 and the receiver on
 *   node 2, a steady rate timed from the schedule (like latency.ts).
 */
import { cpuWatch, machine, numberArg, printRow, printTarget, round2, stringArg, tail } from './lib.js';
import { pgCounters, pgRates, pgStatements, resetPgStatements, startCluster, type Cluster, type ClusterOptions } from './cluster-servers.js';
import { bottleneck, Pool } from './load/pool.js';
import { loadRoomOn } from './room.js';
import { createConversation, registerUsers } from './servers.js';

const SCENARIOS = stringArg('scenarios', 'ingest,fanout,latency').split(',');
const WORKERS = numberArg('workers', 2);
const PG_DATA = stringArg('pg-data', 'disk');
if (PG_DATA !== 'disk' && PG_DATA !== 'tmpfs') throw new Error('--pg-data is disk or tmpfs');
const POOL_SIZE = numberArg('pool-size', 0);
const PG_STATEMENTS = !process.argv.includes('--no-pg-statements');
/** Print PostgreSQL's log when a cluster stops (with e.g. `--pg-set log_min_duration_statement=20`). */
const PG_LOG = process.argv.includes('--pg-log');
/** PostgreSQL settings to try, e.g. `--pg-set gin_pending_list_limit=64`. */
const PG_SET = Object.fromEntries(
  stringArg('pg-set', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

const SENDERS = numberArg('senders', 20);
const WINDOW = numberArg('window', 10);
const SECONDS = numberArg('seconds', 10);
const WARMUP = numberArg('warmup', 2);

const FAN_USERS = numberArg('fan-users', 100);
const FAN_SENDERS = Math.min(FAN_USERS, numberArg('fan-senders', 4));
const FAN_WINDOW = numberArg('fan-window', 8);
const FAN_SECONDS = numberArg('fan-seconds', 10);
const FAN_WARMUP = numberArg('fan-warmup', 1);

const RATE = numberArg('rate', 1000);
const LAT_SECONDS = numberArg('lat-seconds', 10);
const LAT_WARMUP = numberArg('lat-warmup', 5);

const INGEST_TARGET = 5000;

async function cluster(nodes: number): Promise<Cluster> {
  const o: ClusterOptions = { nodes, pgData: PG_DATA as 'disk' | 'tmpfs' };
  if (POOL_SIZE) o.poolSize = POOL_SIZE;
  if (PG_STATEMENTS) o.statements = true;
  if (Object.keys(PG_SET).length) o.pgSettings = PG_SET;
  const c = await startCluster(o);
  if (!PG_LOG) return c;
  return {
    ...c,
    stop: async () => {
      for (const line of c.pgLog().split('\n').filter(Boolean).slice(-200)) console.log(`# pg log: ${line}`);
      await c.stop();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where PostgreSQL's execution time went over the measured run, statement by statement. */
function printStatements(scenario: string, statements: Awaited<ReturnType<typeof pgStatements>>, messages: number) {
  for (const st of statements.slice(0, 5)) {
    const perMsg = round2((st.totalMs * 1000) / Math.max(1, messages));
    console.log(`# ${scenario} pg statement: ${(st.share * 100).toFixed(1)} % of the time, ${st.calls} calls, mean ${st.meanMs} ms, max ${st.maxMs} ms, ${perMsg} µs a message: ${st.query}`);
  }
}

/** The room scenarios' servers: the cluster's nodes, PostgreSQL's statistics reset after the warm-up. */
function roomServers(c: Cluster) {
  return {
    urls: c.urls,
    pids: c.pids,
    services: c.services,
    parley: true,
    proto: 'socketio' as const,
    label: 'cluster',
    beforeMeasure: PG_STATEMENTS ? () => resetPgStatements(c.adminDatabaseUrl) : undefined,
  };
}

async function ingest() {
  const c = await cluster(1);
  try {
    const url = c.urls[0]!;
    const users = await registerUsers(url, 'cingest', SENDERS);
    const senders = await Promise.all(users.map(async (u, i) => ({ token: u.token, conversationId: await createConversation(url, u, { type: 'group', title: `ingest ${i}`, memberIds: [] }) })));
    const pool = await Pool.start({ proto: 'socketio', url, workers: WORKERS, clients: senders.map((s, tag) => ({ tag, token: s.token })) });
    const conn = await pool.connect();
    if (conn.errors) throw new Error(`cluster ingest: ${conn.errors} connections failed: ${conn.errorSamples.join('; ')}`);
    const specs = senders.map((s, tag) => ({ tag, conversationId: s.conversationId, window: WINDOW }));
    if (WARMUP > 0) await pool.run(specs, WARMUP * 1000);
    // PostgreSQL publishes its counters at most once a second: let the warm-up's settle first.
    await sleep(1200);
    if (PG_STATEMENTS) await resetPgStatements(c.adminDatabaseUrl);
    const pg0 = await pgCounters(c.adminDatabaseUrl);
    const watch = cpuWatch(c.pids, c.services);
    const r = await pool.run(specs, SECONDS * 1000);
    const cpu = watch();
    await pool.close();
    await sleep(1200);
    const pg1 = await pgCounters(c.adminDatabaseUrl);
    const acked = r.sent - r.errors - r.timedOut;
    const lat = tail(r.ackMs);
    const pgr = pgRates(pg0, pg1, r.seconds, acked);
    const statements = PG_STATEMENTS ? await pgStatements(c.adminDatabaseUrl, 50) : [];
    // The group commit runs one batch at a time, each one transaction with one INSERT INTO messages.
    const inserts = statements.find((st) => /^INSERT INTO messages\b/.test(st.query))?.calls ?? 0;
    const batches = inserts
      ? {
          batches: inserts,
          msgsPerBatch: round2(acked / inserts),
          /** Wall time per batch: the whole cycle (statements, round trips, the node's own work on it). */
          batchEveryMs: round2((r.seconds * 1000) / inserts),
          /** PostgreSQL's execution time of a batch's statements (all the run's statements, over the batches). */
          pgExecMsPerBatch: round2(statements.reduce((n, st) => n + st.totalMs, 0) / inserts),
        }
      : {};
    const row = {
      msgsPerSec: Math.round(acked / r.seconds),
      ackP50: lat.p50,
      ackP99: lat.p99,
      ackP999: lat.p999,
      errors: r.errors + r.timedOut,
      ...cpu,
      nodeUsPerMsg: round2((cpu.serverCpu * 1e6 * r.seconds) / Math.max(1, acked)),
      postgresUsPerMsg: round2(((cpu.postgresCpu ?? 0) * 1e6 * r.seconds) / Math.max(1, acked)),
      ...pgr,
      ...batches,
      clientEventLoop: r.elu,
      bottleneck: bottleneck(cpu, r.elu),
    };
    printRow('cluster ingest (postgres, 1 node)', row);
    if (r.errorSamples.length) console.log(`# cluster ingest errors: ${r.errorSamples.join('; ')}`);
    printStatements('cluster ingest', statements, acked);
    printTarget('cluster ingest', `>= ${INGEST_TARGET.toLocaleString('en')} acked msgs/s on PostgreSQL`, row.msgsPerSec, row.msgsPerSec >= INGEST_TARGET && row.errors === 0);
  } finally {
    await c.stop();
  }
}

async function fanout(c: Cluster) {
  const r = await loadRoomOn(
    roomServers(c),
    { members: FAN_USERS, senders: FAN_SENDERS, window: FAN_WINDOW, seconds: FAN_SECONDS, warmupSeconds: FAN_WARMUP, workers: WORKERS },
    'cfanout',
  );
  const lat = tail(r.got.latencyMs);
  const ack = tail(r.run.ackMs);
  const deliveriesPerSec = Math.round(r.got.received / r.deliverySeconds);
  const row = {
    members: FAN_USERS,
    nodes: c.urls.length,
    msgsPerSec: Math.round(r.run.acked.reduce((n, a) => n + a.ns.length, 0) / r.run.seconds),
    deliveriesPerSec,
    p50: lat.p50,
    p99: lat.p99,
    ackP50: ack.p50,
    ackP99: ack.p99,
    expected: r.got.expected,
    lost: r.got.lost,
    duplicated: r.got.duplicated,
    unexpected: r.got.unexpected,
    errors: r.run.errors + r.run.timedOut,
    ...r.cpu,
    serverUsPerDelivery: round2((r.cpu.serverCpu * 1e6) / deliveriesPerSec),
    clientEventLoop: r.run.elu,
    bottleneck: r.bottleneck,
  };
  printRow('cluster fanout (2 nodes)', row);
  if (r.run.errorSamples.length) console.log(`# cluster fanout errors: ${r.run.errorSamples.join('; ')}`);
  if (PG_STATEMENTS) printStatements('cluster fanout', await pgStatements(c.adminDatabaseUrl), row.msgsPerSec * FAN_SECONDS);
  const exact = row.lost === 0 && row.duplicated === 0 && row.unexpected === 0 && row.errors === 0 && row.expected > 0;
  printTarget('cluster fanout', 'members over two nodes: none lost, none doubled', row.lost + row.duplicated, exact);
}

async function latency(c: Cluster) {
  // Two members: tag 0 (the sender) connects to node 1, tag 1 (the receiver) to node 2.
  const r = await loadRoomOn(
    roomServers(c),
    { members: 2, senders: 1, rate: RATE, seconds: LAT_SECONDS, warmupSeconds: LAT_WARMUP, workers: WORKERS },
    'clatency',
  );
  const ack = tail(r.run.ackMs);
  const recv = tail(r.got.latencyMs);
  const row = {
    rate: RATE,
    msgsPerSec: Math.round(r.run.acked.reduce((n, a) => n + a.ns.length, 0) / (LAT_SECONDS || 1)),
    ackP50: ack.p50,
    ackP99: ack.p99,
    ackP999: ack.p999,
    recvP50: recv.p50,
    recvP99: recv.p99,
    recvP999: recv.p999,
    recvMax: recv.max,
    sendLagP99: tail(r.run.lagMs).p99,
    ackFromSendP99: tail(r.run.ackFromSendMs).p99,
    lost: r.got.lost,
    duplicated: r.got.duplicated,
    errors: r.run.errors + r.run.timedOut,
    ...r.cpu,
    clientEventLoop: r.run.elu,
    bottleneck: r.bottleneck,
  };
  printRow('cluster latency (node 1 -> 2)', row);
  if (r.run.errorSamples.length) console.log(`# cluster latency errors: ${r.run.errorSamples.join('; ')}`);
  if (PG_STATEMENTS) printStatements('cluster latency', await pgStatements(c.adminDatabaseUrl), row.msgsPerSec * LAT_SECONDS);
}

async function main() {
  const set = Object.entries(PG_SET).map(([k, v]) => `${k}=${v}`).join(', ');
  console.log(`# cluster on ${machine()}: PostgreSQL data on ${PG_DATA}${set ? ` (${set})` : ''}, ${WORKERS} client workers`);
  if (SCENARIOS.includes('ingest')) {
    console.log(`# cluster ingest: 1 node, ${SENDERS} senders × window ${WINDOW}, ${SECONDS} s after ${WARMUP} s of warm-up`);
    await ingest();
  }
  if (SCENARIOS.includes('fanout') || SCENARIOS.includes('latency')) {
    const c = await cluster(2);
    try {
      if (SCENARIOS.includes('fanout')) {
        console.log(`# cluster fanout: 2 nodes, ${FAN_USERS} members alternating between them, ${FAN_SENDERS} senders × window ${FAN_WINDOW}, ${FAN_SECONDS} s`);
        await fanout(c);
      }
      if (SCENARIOS.includes('latency')) {
        console.log(`# cluster latency: sender on node 1, receiver on node 2, ${RATE} msgs/s for ${LAT_SECONDS} s after ${LAT_WARMUP} s of warm-up`);
        await latency(c);
      }
    } finally {
      await c.stop();
    }
  }
}

await main();
process.exit(0);
