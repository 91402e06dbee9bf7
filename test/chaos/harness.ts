/**
 * The chaos harness (issue #17): clients send under load while Parley is
 * killed with SIGKILL at random moments and restarted, cycle after cycle;
 * unacknowledged sends are retried with the same clientId. Afterwards every
 * conversation's history must hold each acknowledged message exactly once,
 * with the seq and id its ack gave, at seqs 1..N (test/chaos/verify.ts).
 *
 * Two topologies: one node on SQLite, restarted on its data dir and port;
 * or three nodes on PostgreSQL + Redis, killed in turn, their clients
 * reconnecting to another node meanwhile. The kill moments and downtimes
 * come from a seeded generator: the seed replays the schedule (not the exact
 * interleaving of sends and kills, which the machine decides).
 *
 * Used by test/chaos/chaos.test.ts (small sizes) and bench/chaos.ts
 * (`npm run chaos`, the long run).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { direct, group, register, type Account } from '../helpers/client.js';
import { createDatabase } from '../helpers/services.js';
import { Ledger } from './ledger.js';
import { ParleyNode, sleep } from './nodes.js';
import { newCounters, Sender, type Counters } from './sender.js';
import { verifyHistories, type Readable } from './verify.js';
// The benches' seeded generator (mulberry32): a seed replays a schedule.
import { rng } from '../../bench/lib.js';

export interface ClusterServices {
  /** Superuser URL of a PostgreSQL server (a fresh database is created on it). */
  postgresAdminUrl: string;
  redisUrl: string;
}

export interface ChaosOptions {
  /** Where Parley runs: one SQLite node, or three nodes on these services. */
  cluster?: ClusterServices;
  /** Kills (each followed by a restart of the killed node). */
  cycles: number;
  /** Sending time the kills are spread over: each kill comes a random 0–2× (seconds / cycles) after the previous restart. */
  seconds: number;
  senders: number;
  /** Sends each sender keeps in flight. */
  window: number;
  seed: number;
  /** A killed node stays down a random 0–this many ms before it is started again. */
  maxDowntimeMs?: number;
  /** Share of sends that replay an already acknowledged message (default 0.05). */
  replayRate?: number;
  /** Keep the data dirs (and the database) afterwards, to look into a failure. */
  keep?: boolean;
  /** Progress lines (a line per cycle); default: none. */
  log?: (line: string) => void;
}

export interface KillRecord {
  node: string;
  /** How long the node had been up (answering /health) when it was killed. */
  upMs: number;
  /** Sends on the wire to the killed node, waiting for their ack, at the kill. */
  inFlight: number;
  downMs: number;
  /** From the restart to /health answering. */
  restartMs: number;
}

export interface ChaosReport {
  seed: number;
  topology: 'single node (SQLite)' | 'three nodes (PostgreSQL + Redis)';
  kills: KillRecord[];
  durationMs: number;
  /** Distinct messages sent, and acknowledged. */
  sent: number;
  acked: number;
  /** Retried messages the server had stored before the retry: an earlier ack was lost with its connection. */
  lostAcks: number;
  /** Messages in each conversation's history at the end. */
  stored: Record<string, number>;
  counters: Counters;
  /** Everything that broke the rules; empty when the run passed. */
  violations: string[];
  /** Where the data was kept (keep: true). */
  kept?: string[];
}

const NODES_IN_CLUSTER = 3;
/** Acks through the node to kill next that must come before its kill: the load is on it. */
const ACKS_PER_CYCLE = 3;
const ACK_WAIT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 60_000;


export function randomSeed(): number {
  return randomBytes(4).readUInt32BE(0);
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  if (o.cycles < 1) throw new Error('at least 1 cycle');
  if (o.senders < 2) throw new Error('at least 2 senders (a direct conversation needs two)');
  if (o.window < 1 || o.window > 60) throw new Error('window 1–60 (the server answers at most 64 unanswered events per connection)');
  const log = o.log ?? (() => {});
  const random = rng(o.seed);
  const started = Date.now();
  const ledger = new Ledger();
  const counters = newCounters();
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const kept: string[] = [];
  const nodes: ParleyNode[] = [];
  const senders: Sender[] = [];
  const topology = o.cluster ? 'three nodes (PostgreSQL + Redis)' : 'single node (SQLite)';
  log(`chaos: ${topology}, seed ${o.seed}, ${o.cycles} cycles over ~${o.seconds} s, ${o.senders} senders × ${o.window} in flight`);

  const dataDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-chaos-'));
    if (o.keep) kept.push(dir);
    else cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  try {
    if (o.cluster) {
      const db = await createDatabase(o.cluster.postgresAdminUrl);
      if (o.keep) kept.push(db.url);
      else cleanups.push(() => db.drop());
      const shared = {
        DATABASE_URL: db.url,
        DATABASE_POOL_SIZE: '5',
        REDIS_URL: o.cluster.redisUrl,
        REDIS_PREFIX: `chaos-${process.pid}-${Date.now()}`,
        JWT_SECRET: randomBytes(24).toString('hex'),
      };
      for (let i = 0; i < NODES_IN_CLUSTER; i++) nodes.push(await ParleyNode.create(`node ${i}`, { ...shared, DATA_DIR: dataDir() }));
    } else {
      nodes.push(await ParleyNode.create('node', { DATA_DIR: dataDir() }));
    }
    // Cleanups run in order: senders closed, then nodes killed, then their data removed.
    cleanups.unshift(() => Promise.all(nodes.map((n) => n.kill())));
    // The first cluster node migrates the empty database; the others wait for it.
    await Promise.all(nodes.map((n) => n.start()));
    const urls = nodes.map((n) => n.url);

    const { accounts, conversations, readable } = await setUp(urls[0] as string, o.senders);
    const tag = `chaos${o.seed.toString(36)}`;
    for (const [i, user] of accounts.entries()) {
      // Home node first, then the others in turn: clients spread over the nodes and come home when they can.
      const order = urls.map((_, k) => urls[(i + k) % urls.length] as string);
      const identity = { index: i, userId: user.id, token: user.token, conversations: conversations[i] as string[] };
      const options = { window: o.window, ackTimeoutMs: 5000, replayRate: o.replayRate ?? 0.05, offlineLimitMs: 60_000 };
      senders.push(new Sender(identity, order, tag, options, ledger, counters, rng(o.seed ^ Math.imul(i + 1, 0x9e3779b9))));
    }
    cleanups.unshift(() => senders.forEach((s) => s.close()));
    const running = senders.map((s) => s.run());
    // A sender that gives up (no node to connect to for a minute) ends the run.
    const senderFailed = new Promise<never>((_, reject) => running.forEach((r) => r.catch(reject)));
    senderFailed.catch(() => {}); // observed below; never an unhandled rejection

    const kills = await Promise.race([killCycles(o, nodes, senders, ledger, random, log), senderFailed]);

    // One last stretch of load after the last restart, then every send must settle.
    const lastKilled = nodes[(o.cycles - 1) % nodes.length] as ParleyNode;
    await Promise.race([underLoad(lastKilled, senders, ledger, 'after the last restart'), senderFailed]);
    for (const s of senders) s.stop();
    let drainTimer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all(running).then(() => true),
      senderFailed,
      new Promise<false>((resolve) => (drainTimer = setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS))),
    ]);
    clearTimeout(drainTimer);
    if (!drained) {
      const left = senders.flatMap((s) => s.unsettled());
      ledger.violation('unsettled', `${left.length} sends still unacknowledged ${DRAIN_TIMEOUT_MS} ms after the load stopped: ${left.slice(0, 5).map((m) => m.clientId).join(', ')}`);
    }
    for (const n of nodes) for (const c of n.crashes) ledger.violation('crash', c);

    const stored = await verifyHistories(urls, readable, ledger);
    const report: ChaosReport = {
      seed: o.seed,
      topology,
      kills,
      durationMs: Date.now() - started,
      sent: ledger.sent.size,
      acked: ledger.acked,
      lostAcks: ledger.lostAcks,
      stored,
      counters,
      violations: ledger.violations(),
      ...(o.keep ? { kept } : {}),
    };
    if (report.violations.length > 0) for (const n of nodes) log(`${n.name}'s output (end):\n${n.output().slice(-3000)}`);
    return report;
  } finally {
    for (const c of cleanups) await c();
  }
}

/** Kills a node at a random moment, cycle after cycle (the nodes of a cluster in turn), and starts it again. */
async function killCycles(o: ChaosOptions, nodes: ParleyNode[], senders: Sender[], ledger: Ledger, random: () => number, log: (line: string) => void): Promise<KillRecord[]> {
  const meanGapMs = (o.seconds * 1000) / o.cycles;
  const maxDownMs = o.maxDowntimeMs ?? 500;
  const kills: KillRecord[] = [];
  let lastRestart = Date.now();
  for (let c = 0; c < o.cycles; c++) {
    const node = nodes[c % nodes.length] as ParleyNode;
    // Drawn first, so a replayed seed gets the same schedule whatever happens in between.
    const gapMs = Math.round(random() * 2 * meanGapMs);
    const downMs = Math.round(random() * maxDownMs);
    await underLoad(node, senders, ledger, `cycle ${c + 1}`);
    await sleep(Math.max(0, gapMs - (Date.now() - lastRestart)));
    const inFlight = senders.reduce((n, s) => n + s.inFlightOn(node.url), 0);
    const livedMs = Date.now() - node.upSince;
    await node.kill();
    await sleep(downMs);
    const restarting = Date.now();
    await node.start();
    lastRestart = node.upSince;
    const kill: KillRecord = { node: node.name, upMs: livedMs, inFlight, downMs, restartMs: node.upSince - restarting };
    kills.push(kill);
    log(`cycle ${c + 1}/${o.cycles}: ${kill.node} killed after ${kill.upMs} ms up with ${inFlight} sends in flight, down ${downMs} ms, answering again ${kill.restartMs} ms after its start (${ledger.acked} acked so far)`);
  }
  return kills;
}

/**
 * Resolves once the node answers sends of its own clients again. Clients that
 * went elsewhere while it was down are sent home first (and again while this
 * waits, should one have missed it: a connection that failed meanwhile).
 */
async function underLoad(node: ParleyNode, senders: Sender[], ledger: Ledger, what: string): Promise<void> {
  const target = ledger.count(node.url) + ACKS_PER_CYCLE;
  const deadline = Date.now() + ACK_WAIT_MS;
  for (;;) {
    for (const s of senders) s.goHome();
    try {
      return await ledger.reach(target, Math.max(0, Math.min(1000, deadline - Date.now())), node.url);
    } catch (err) {
      if (Date.now() >= deadline) throw new Error(`${what}: ${node.name} is not under load: ${(err as Error).message}`);
    }
  }
}

/** Accounts, a group of everyone and a ring of direct conversations; each sender's conversations. */
async function setUp(url: string, count: number): Promise<{ accounts: Account[]; conversations: string[][]; readable: Readable[] }> {
  const accounts: Account[] = [];
  for (let i = 0; i < count; i++) accounts.push(await register(url, `chaos${i}`));
  const [owner, ...others] = accounts as [Account, ...Account[]];
  const everyone = await group(url, owner, others, 'chaos');
  const conversations: string[][] = accounts.map(() => [everyone.id]);
  const readable: Readable[] = [{ id: everyone.id, token: owner.token }];
  // Two senders share one direct conversation; three or more make a ring of them.
  const pairs = count === 2 ? [[0, 1]] : accounts.map((_, i) => [i, (i + 1) % count]);
  for (const [a, b] of pairs as [number, number][]) {
    const d = await direct(url, accounts[a] as Account, accounts[b] as Account);
    conversations[a]?.push(d.id);
    conversations[b]?.push(d.id);
    readable.push({ id: d.id, token: (accounts[a] as Account).token });
  }
  return { accounts, conversations, readable };
}

/** The report in a few lines, for a terminal or a test's failure message. */
export function formatReport(r: ChaosReport): string {
  const ms = r.kills.map((k) => k.restartMs).sort((a, b) => a - b);
  const retries = Object.entries(r.counters.retries).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const lines = [
    `${r.topology}: seed ${r.seed}, ${r.kills.length} kills in ${(r.durationMs / 1000).toFixed(1)} s`,
    `  sent ${r.sent} messages, acknowledged ${r.acked}, stored ${Object.values(r.stored).reduce((a, b) => a + b, 0)} (${Object.entries(r.stored).map(([c, n]) => `${c}: ${n}`).join(', ')})`,
    `  ${r.counters.emits} emits, retries: ${retries}; ${r.lostAcks} retries found their message already stored (an earlier ack lost with its connection); ${r.counters.replays} replays of acknowledged messages; ${r.counters.connects} connections`,
    `  sends in flight at the kills: ${r.kills.map((k) => k.inFlight).join(' ')}`,
    `  restart to /health: median ${ms[Math.floor(ms.length / 2)] ?? 0} ms, max ${ms.at(-1) ?? 0} ms`,
    r.violations.length === 0 ? '  no violation' : `  ${r.violations.length} VIOLATION line(s):\n    ${r.violations.join('\n    ')}`,
  ];
  if (r.kept) lines.push(`  data kept in: ${r.kept.join(' ')}`);
  return lines.join('\n');
}
