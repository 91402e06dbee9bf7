/**
 * Parley as a cluster for the benchmarks: a throwaway PostgreSQL and Redis
 * (test/helpers/services.ts), a fresh database, and N `node dist/main.js`
 * processes on them (DATABASE_URL, REDIS_URL, REDIS_PREFIX and one
 * JWT_SECRET, as a deployment would run them), each with a pid to watch.
 *
 * PostgreSQL's data goes on the disk the SQLite scenarios use (os.tmpdir()),
 * not on /dev/shm where the test helper puts it: there an fsync costs
 * nothing, and every ack waits for the commit's. `pgData: 'tmpfs'` keeps it
 * there, to see what the disk costs.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, startPostgres, startRedis, type ThrowawayServer } from '../test/helpers/services.js';
import { startServer, type ServicePids } from './lib.js';
import { parleyNodeArgs } from './servers.js';

export interface ClusterOptions {
  nodes: number;
  /** Where PostgreSQL's data dir (and so its WAL) lives: the disk (default) or tmpfs. */
  pgData?: 'disk' | 'tmpfs';
  /** DATABASE_POOL_SIZE of each node (default: Parley's). */
  poolSize?: number;
  /** Extra node arguments for every node. */
  nodeArgs?: string[];
  /** Loads pg_stat_statements (its own cost is small, not nil): pgStatements() then reads where PostgreSQL's time went. */
  statements?: boolean;
  /** More PostgreSQL settings (`-c name=value`), to try one. */
  pgSettings?: Record<string, string>;
}

export interface Cluster {
  /** Each node's base URL, node 1 first. */
  urls: string[];
  /** Each node's pid. */
  pids: number[];
  /** PostgreSQL's postmaster and Redis, for cpuWatch(pids, services). */
  services: Required<ServicePids>;
  /** Superuser URL of the bench's database (for pg_stat_* reads). */
  adminDatabaseUrl: string;
  /** Where PostgreSQL's data is. */
  pgDataDir: string;
  /** PostgreSQL's recent log (its stderr: slow statements, autovacuum… with the --pg-set that turns them on). */
  pgLog(): string;
  stop(): Promise<void>;
}

const DISK_PREFIX = 'parley-bench-pg-';

/** Removes the on-disk PostgreSQL dirs of bench runs that died without stopping them. */
function sweepDiskDirs(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(DISK_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    try {
      const { owner } = JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8')) as { owner: number };
      try {
        process.kill(owner, 0);
        continue; // its run is alive
      } catch {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } catch {
      // being created
    }
  }
}

/** Moves a stopped PostgreSQL's data dir onto the disk, leaving a symlink where it was. */
function moveToDisk(server: ThrowawayServer): string {
  sweepDiskDirs();
  const disk = fs.mkdtempSync(path.join(os.tmpdir(), DISK_PREFIX));
  fs.writeFileSync(path.join(disk, 'owner.json'), JSON.stringify({ owner: process.pid }));
  const data = path.join(server.dir, 'data');
  const target = path.join(disk, 'data');
  const owner = fs.statSync(data); // the postgres OS user, when we are root
  fs.chownSync(disk, owner.uid, owner.gid);
  execFileSync('mv', [data, target]); // across file systems; as root it keeps the postgres user's ownership
  fs.symlinkSync(target, data);
  return disk;
}

function postmasterPid(server: ThrowawayServer): number {
  return Number(fs.readFileSync(path.join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function ownerPid(server: ThrowawayServer): number {
  return (JSON.parse(fs.readFileSync(path.join(server.dir, 'owner.json'), 'utf8')) as { pid: number }).pid;
}

/** Starts PostgreSQL, Redis, a fresh database and `nodes` Parley processes; resolves once every node answers /health. */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    // track_wal_io_timing: pg_stat_wal then times the WAL fsyncs (each commit waits for one).
    const postgres = await startPostgres({
      settings: { track_wal_io_timing: 'on', ...(o.statements ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'top' } : {}), ...o.pgSettings },
    });
    cleanups.push(() => postgres.stop());
    let pgDataDir = path.join(postgres.dir, 'data');
    if ((o.pgData ?? 'disk') === 'disk') {
      await postgres.down();
      const disk = moveToDisk(postgres);
      cleanups.push(() => fs.rmSync(disk, { recursive: true, force: true }));
      pgDataDir = path.join(disk, 'data');
      await postgres.up();
    }
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const db = await createDatabase(postgres.url);
    cleanups.push(() => db.drop());
    if (o.statements) await query(db.url, 'CREATE EXTENSION pg_stat_statements');

    const env = {
      SCRYPT_COST: '1024',
      RATE_LIMITS: 'off',
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: `bench-${process.pid}`,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ...(o.poolSize ? { DATABASE_POOL_SIZE: String(o.poolSize) } : {}),
    };
    const nodes = [];
    // One after another: the first migrates the fresh database (the others would wait on its lock anyway).
    for (let i = 0; i < o.nodes; i++) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-node-'));
      const node = await startServer(dataDir, env, parleyNodeArgs(o.nodeArgs ?? []));
      cleanups.push(async () => {
        await node.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      });
      if ((await fetch(node.url + '/health').catch(() => undefined))?.status !== 200) throw new Error(`cluster node ${i + 1} did not start`);
      nodes.push(node);
    }
    return {
      urls: nodes.map((n) => n.url),
      pids: nodes.map((n) => n.child.pid!),
      services: { postgres: postmasterPid(postgres), redis: ownerPid(redis) },
      adminDatabaseUrl: db.url,
      pgDataDir,
      pgLog: () => postgres.output(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What PostgreSQL counted so far: transactions of the database, WAL written and fsync'd. */
export interface PgCounters {
  commits: number;
  walBytes: number;
  walSyncs: number;
  walSyncMs: number;
  walWrites: number;
}

export async function pgCounters(url: string): Promise<PgCounters> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ commits: string; wal_bytes: string; wal_sync: string; wal_sync_time: number; wal_write: string }>(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
              wal_bytes, wal_sync, wal_sync_time, wal_write
       FROM pg_stat_wal`,
    );
    const r = rows[0]!;
    return { commits: Number(r.commits), walBytes: Number(r.wal_bytes), walSyncs: Number(r.wal_sync), walSyncMs: Number(r.wal_sync_time), walWrites: Number(r.wal_write) };
  } finally {
    await client.end();
  }
}

/** The difference of two readings, per second and per message. */
export function pgRates(a: PgCounters, b: PgCounters, seconds: number, messages: number) {
  const syncs = b.walSyncs - a.walSyncs;
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    pgCommitsPerSec: Math.round((b.commits - a.commits) / seconds),
    walSyncsPerSec: Math.round(syncs / seconds),
    /** Mean time of one WAL fsync, ms: what every commit (hence every ack) waits for at least once. */
    walSyncMs: syncs ? r((b.walSyncMs - a.walSyncMs) / syncs) : 0,
    /** Share of the wall time some process was in a WAL fsync. */
    walSyncBusy: r((b.walSyncMs - a.walSyncMs) / 1000 / seconds),
    walBytesPerMsg: messages ? Math.round((b.walBytes - a.walBytes) / messages) : 0,
    msgsPerWalSync: syncs ? r(messages / syncs) : 0,
  };
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Forgets what pg_stat_statements counted so far (startCluster({ statements: true })). */
export async function resetPgStatements(url: string): Promise<void> {
  await query(url, 'SELECT pg_stat_statements_reset()');
}

/** The statements that took PostgreSQL's time since the reset, most first: calls, total and mean ms, share of the total. */
export async function pgStatements(url: string, top = 8): Promise<{ query: string; calls: number; totalMs: number; meanMs: number; maxMs: number; share: number }[]> {
  const rows = await query<{ query: string; calls: string; total: number; mean: number; max: number; share: number }>(
    url,
    `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls, total_exec_time AS total, mean_exec_time AS mean, max_exec_time AS max,
            total_exec_time / NULLIF(sum(total_exec_time) OVER (), 0) AS share
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY total_exec_time DESC LIMIT ${Number(top)}`,
  );
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return rows.map((x) => ({ query: x.query.trim().slice(0, 120), calls: Number(x.calls), totalMs: r(x.total), meanMs: r(x.mean), maxMs: r(x.max), share: Math.round(x.share * 1000) / 1000 }));
}
