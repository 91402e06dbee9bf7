/**
 * The load generator's main-thread side: worker threads (load/worker.ts),
 * each with its share of the connections, driven through phases
 * (connect, run, collect, close) whose answers are merged here.
 */
import type { Worker } from 'node:worker_threads';
import os from 'node:os';
import { round2, type CpuUse } from '../lib.js';
import type { Proto } from '../servers.js';
import { askWorker, startTsWorker } from './threads.js';
import type { Acked, ClientSpec, CloseResult, CollectResult, Command, ConnectResult, Reply, RunResult, SenderSpec, WorkerSetup } from './messages.js';

export interface PoolOptions {
  proto: Proto;
  /** Where connections go unless their ClientSpec names a url of its own (the nodes of a cluster). */
  url: string;
  clients: ClientSpec[];
  workers: number;
  /** Handshakes in flight at once, per worker (default 50). */
  concurrency?: number;
  connectTimeoutMs?: number;
}

export interface ConnectSummary {
  connectMs: number[];
  errors: number;
  errorSamples: string[];
  seconds: number;
  elu: number[];
}

export interface RunSummary {
  acked: Acked[];
  sent: number;
  errors: number;
  timedOut: number;
  errorSamples: string[];
  ackMs: number[];
  ackFromSendMs: number[];
  lagMs: number[];
  /** Event-loop utilisation of each worker over the run. */
  elu: number[];
  seconds: number;
  startAbs: number;
}

const bootWorker = (setup: WorkerSetup): Worker => startTsWorker(new URL('./worker.ts', import.meta.url), setup);
const ask = <R extends Reply>(w: Worker, command?: Command): Promise<R> => askWorker<R>(w, command);

export class Pool {
  private constructor(
    private readonly workers: Worker[],
    /** Which worker holds each connection tag. */
    private readonly home: Map<number, number>,
  ) {}

  /** Boots the workers (connections are opened by connect()). Client `i` goes to worker `i mod workers`. */
  static async start(o: PoolOptions): Promise<Pool> {
    const n = Math.max(1, Math.min(o.workers, o.clients.length));
    const home = new Map<number, number>();
    const shares: ClientSpec[][] = Array.from({ length: n }, () => []);
    o.clients.forEach((c, i) => {
      shares[i % n]!.push(c);
      home.set(c.tag, i % n);
    });
    const workers = shares.map((clients, w) =>
      bootWorker({ proto: o.proto, url: o.url, clients, seed: 1000 + w, concurrency: o.concurrency ?? 50, connectTimeoutMs: o.connectTimeoutMs ?? 60_000 }),
    );
    await Promise.all(workers.map((w) => ask(w)));
    return new Pool(workers, home);
  }

  get size(): number {
    return this.workers.length;
  }

  async connect(): Promise<ConnectSummary> {
    const t = performance.now();
    const rs = await Promise.all(this.workers.map((w) => ask<ConnectResult>(w, { cmd: 'connect' })));
    return {
      connectMs: rs.flatMap((r) => r.connectMs),
      errors: rs.reduce((n, r) => n + r.errors, 0),
      errorSamples: [...new Set(rs.flatMap((r) => r.errorSamples))],
      seconds: (performance.now() - t) / 1000,
      elu: rs.map((r) => round2(r.elu)),
    };
  }

  /** Every worker runs for `durationMs`; each sender runs in the worker that holds its connection. */
  async run(senders: SenderSpec[], durationMs: number, ackTimeoutMs = 30_000): Promise<RunSummary> {
    const t0 = performance.now();
    const startAbs = performance.timeOrigin + t0;
    const rs = await Promise.all(
      this.workers.map((w, i) => ask<RunResult>(w, { cmd: 'run', senders: senders.filter((s) => this.home.get(s.tag) === i), durationMs, ackTimeoutMs })),
    );
    const seconds = (performance.now() - t0) / 1000;
    const acked = rs.flatMap((r) => r.acked);
    const errors = rs.reduce((n, r) => n + r.errors, 0);
    const timedOut = rs.reduce((n, r) => n + r.timedOut, 0);
    return {
      acked,
      sent: acked.reduce((n, a) => n + a.ns.length, 0) + errors + timedOut,
      errors,
      timedOut,
      errorSamples: [...new Set(rs.flatMap((r) => r.errorSamples))],
      ackMs: rs.flatMap((r) => r.ackMs),
      ackFromSendMs: rs.flatMap((r) => r.ackFromSendMs),
      lagMs: rs.flatMap((r) => r.lagMs),
      elu: rs.map((r) => round2(r.elu)),
      seconds,
      startAbs,
    };
  }

  /** Waits (up to `timeoutMs`) until every acknowledged message reached every receiving connection but its sender's; counts what did. */
  async collect(acked: Acked[], timeoutMs = 10_000): Promise<Omit<CollectResult, 'type'>> {
    const rs = await Promise.all(this.workers.map((w) => ask<CollectResult>(w, { cmd: 'collect', acked, timeoutMs })));
    const sum = (k: 'expected' | 'received' | 'lost' | 'duplicated' | 'unexpected' | 'receipts' | 'markerMoves' | 'markerMovesFailed') =>
      rs.reduce((n, r) => n + r[k], 0);
    return {
      receipts: sum('receipts'),
      markerMoves: sum('markerMoves'),
      markerMovesFailed: sum('markerMovesFailed'),
      expected: sum('expected'),
      received: sum('received'),
      lost: sum('lost'),
      duplicated: sum('duplicated'),
      unexpected: sum('unexpected'),
      latencyMs: rs.flatMap((r) => r.latencyMs),
      firstAbs: Math.min(...rs.map((r) => r.firstAbs)),
      lastAbs: Math.max(...rs.map((r) => r.lastAbs)),
    };
  }

  /** Closes every connection and stops the workers; counts connections that had closed on their own. */
  async close(): Promise<{ lost: number; lostSamples: string[] }> {
    const rs = await Promise.all(this.workers.map((w) => ask<CloseResult>(w, { cmd: 'close' })));
    await Promise.all(this.workers.map((w) => w.terminate()));
    return { lost: rs.reduce((n, r) => n + r.lost, 0), lostSamples: [...new Set(rs.flatMap((r) => r.lostSamples))] };
  }
}

/**
 * What most likely limited a run, from where the CPU went: a client worker's
 * event loop (the load generator), the server's one event loop (several
 * nodes: any one of them), Redis's one thread, or the machine's cores,
 * shared by the server, PostgreSQL, Redis and the clients; `none` when
 * nothing was near its limit (a fixed rate, or waiting on the disk).
 */
export function bottleneck(cpu: CpuUse, elu: number[]): string {
  const found: string[] = [];
  if (elu.some((u) => u > 0.9)) found.push('client');
  if ((cpu.nodeCpu ?? [cpu.serverCpu]).some((c) => c >= 0.9)) found.push('server');
  if ((cpu.redisCpu ?? 0) >= 0.9) found.push('redis');
  const total = cpu.serverCpu + cpu.clientCpu + cpu.otherCpu + (cpu.postgresCpu ?? 0) + (cpu.redisCpu ?? 0);
  if (total >= 0.85 * os.cpus().length) found.push('machine');
  return found.join('+') || 'none';
}
