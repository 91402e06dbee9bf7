/** Small helpers shared by the benchmark scenarios. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), p99: r(percentile(s, 99)), max: r(s[s.length - 1] ?? NaN) };
}

/** Times `fn` `n` times, one after another; milliseconds. */
export async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

/**
 * Calls `fn` one call after another for at least `ms` milliseconds and `n`
 * calls: a path is measured once the JIT (the server's and the client's)
 * has compiled it, as on a server that has been running for a while.
 */
export async function warmUp(ms: number, n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  const until = performance.now() + ms;
  for (let i = 0; i < n || performance.now() < until; i++) await fn(i);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the built server (`node dist/main.js`) on a data dir; resolves once /health answers. */
export async function startServer(
  dataDir: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist', 'main.js')], {
    // Load generators send as no person does: limits off (RATE_LIMITS), unless a scenario says otherwise.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', RATE_LIMITS: 'off', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url + '/health')).status === 200) break;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A deterministic pseudo-random generator (mulberry32), so runs compare. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A target from the performance issue, and whether this run met it. */
export function printTarget(scenario: string, target: string, got: number, met: boolean): void {
  printRow(`${scenario} target`, { target, got, met });
}

export function printRow(scenario: string, metrics: object): void {
  const cells = Object.entries(metrics).map(([k, v]) => `${k}=${typeof v === 'number' ? v : JSON.stringify(v)}`);
  console.log(`| ${scenario.padEnd(28)} | ${cells.join('  ')}`);
  console.log(JSON.stringify({ scenario, ...metrics }));
}

/** `--name value` from the command line as a number, or the fallback. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

/** `--name value` from the command line as a string, or the fallback. */
export function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

/** CPU time (ms) a process has used so far, from /proc (utime + stime, in ticks of 1/100 s). */
export function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Resident memory of a process in KiB, from /proc/<pid>/status VmRSS. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Milliseconds since the epoch with sub-millisecond precision, comparable across worker threads. */
export const nowAbs = (): number => performance.timeOrigin + performance.now();

export const round2 = (x: number): number => Math.round(x * 100) / 100;

/** p50 / p99 / p99.9 / max of latency samples (ms), rounded to 0.01. */
export function tail(samples: ArrayLike<number>): { n: number; p50: number; p99: number; p999: number; max: number } {
  const s = Float64Array.from(samples).sort();
  const at = (p: number) => percentile(s, p);
  return { n: s.length, p50: round2(at(50)), p99: round2(at(99)), p999: round2(at(99.9)), max: round2(s[s.length - 1] ?? NaN) };
}

/** CPU time (ms) the whole machine has been busy so far, all cores, from /proc/stat. */
export function machineBusyMs(): number {
  const [, user, nice, system, , , irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10;
}

export interface CpuUse {
  /** Cores the server used (several nodes: all of them together). */
  serverCpu: number;
  /** Cores this (client) process used, all its threads. */
  clientCpu: number;
  /** Cores everything else on the machine used: another benchmark or build running at the same time disturbs the figures. */
  otherCpu: number;
  /** Several nodes: the cores of each. */
  nodeCpu?: number[];
  /** Cores the PostgreSQL server used: the postmaster and every backend and helper process under it. */
  postgresCpu?: number;
  /** Cores the Redis server used. */
  redisCpu?: number;
}

/** Every process now, by pid: its command name, parent, and CPU time so far (ms). */
function processTable(): Map<number, { name: string; ppid: number; ms: number }> {
  const out = new Map<number, { name: string; ppid: number; ms: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(Number(entry), { name, ppid: Number(fields[1]), ms: (Number(fields[11]) + Number(fields[12])) * 10 });
    } catch {
      // gone
    }
  }
  return out;
}

/** The pids of a process tree now: the root and its live descendants. */
function treePids(root: number, table = processTable()): number[] {
  const under = (pid: number): boolean => {
    for (let p = pid, depth = 0; p > 1 && depth < 16; depth++) {
      if (p === root) return true;
      p = table.get(p)?.ppid ?? 0;
    }
    return false;
  };
  return [...table.keys()].filter(under);
}

/**
 * CPU time (ms) of a process tree so far: the process itself, its children
 * that have exited and been waited for (cutime + cstime), and its live
 * descendants (a PostgreSQL postmaster's backends, walwriter, checkpointer…).
 */
export function treeCpuMs(root: number): number {
  const table = processTable();
  let ms = 0;
  for (const pid of treePids(root, table)) ms += table.get(pid)!.ms;
  try {
    const f = fs.readFileSync(`/proc/${root}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ms += (Number(f[13]) + Number(f[14])) * 10; // cutime + cstime
  } catch {
    // gone
  }
  return ms;
}

/** Process trees to watch beside the server: PostgreSQL's postmaster, Redis. */
export interface ServicePids {
  postgres?: number;
  redis?: number;
}

/**
 * Starts watching CPU use; the returned function gives the use since, in
 * cores. `server` is the server's pid, or each node's; `services` are
 * process trees counted apart from the "other" CPU (they share the cores).
 */
export function cpuWatch(server: number | number[], services: ServicePids = {}): () => CpuUse {
  const nodes = Array.isArray(server) ? server : [server];
  const nodes0 = nodes.map(cpuMs);
  const svc = Object.entries(services).filter((e): e is [keyof ServicePids, number] => e[1] !== undefined);
  const svc0 = svc.map(([, pid]) => treeCpuMs(pid));
  const client0 = process.cpuUsage();
  const busy0 = machineBusyMs();
  const procs0 = processTable();
  const t0 = performance.now();
  return () => {
    const ms = performance.now() - t0;
    const perNode = nodes.map((pid, i) => (cpuMs(pid) - nodes0[i]!) / ms);
    const server = perNode.reduce((a, b) => a + b, 0);
    const perService = svc.map(([, pid], i) => (treeCpuMs(pid) - svc0[i]!) / ms);
    const services = perService.reduce((a, b) => a + b, 0);
    const c = process.cpuUsage(client0);
    const client = (c.user + c.system) / 1000 / ms;
    const all = (machineBusyMs() - busy0) / ms;
    const use: CpuUse = { serverCpu: round2(server), clientCpu: round2(client), otherCpu: round2(Math.max(0, all - server - client - services)) };
    if (nodes.length > 1) use.nodeCpu = perNode.map(round2);
    svc.forEach(([name], i) => (use[`${name}Cpu`] = round2(perService[i]!)));
    if (use.otherCpu > 0.2 && ms >= 1000) {
      // Name the disturbance: the busiest other processes over the measurement.
      const now = processTable();
      const mine = new Set([...nodes, process.pid, ...svc.flatMap(([, pid]) => treePids(pid, now))]);
      const busiest = [...now]
        .filter(([pid]) => !mine.has(pid))
        .map(([pid, p]) => ({ pid, name: p.name, cores: (p.ms - (procs0.get(pid)?.ms ?? 0)) / ms }))
        .filter((p) => p.cores >= 0.05)
        .sort((a, b) => b.cores - a.cores)
        .slice(0, 3);
      const who = busiest.map((p) => `${p.name}[${p.pid}] ${round2(p.cores)}`).join(', ');
      console.log(`# disturbed: other work used ${use.otherCpu} cores during this measurement${who ? ` (${who})` : ' (kernel, or processes that have since exited)'}`);
    }
    return use;
  };
}
