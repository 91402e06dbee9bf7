/**
 * Soak: steady mixed traffic for a long time (`--minutes`, 10 for the
 * record), and the server's memory and latency over time, which must stay
 * flat: no leak from timers, presence, rooms of closed sockets or caches.
 *
 * The load (load/soak-worker.ts): 200 users (every fourth with a second
 * device) in direct conversations (4 each) and groups of 8 (2 each); devices
 * come and go all the time (online ~30 s, away ~5 s, exponentially: some
 * 7 connects a second), sync on every connect, move their delivered and
 * read markers as the shipped client does, type (and sometimes leave while
 * typing), log in again now and then and log the old token out; on top,
 * 200 messages/s on a schedule, history, searches, edits and deletions.
 *
 * Every `--interval` seconds: the server's RSS (/proc) and its live heap
 * (a full GC through the inspector first, so the figure is what is still
 * referenced, not how far the collector happens to lag), what /metrics
 * says (sockets, ref'd timers, event-loop lag), send→receive p50/p99 of the
 * interval, and the CPU. A row per interval, then the verdict over the
 * second half of the run (the first is warm-up: JIT, caches filling, the
 * database's page cache and WAL reaching their working size): the
 * least-squares growth of the live heap and of RSS over it (RSS may grow
 * while SQLite's page caches fill: `bounded`), and p99 in the last quarter
 * against the second. Anything over its threshold, or any error: exit 1.
 *
 *   npm run soak -- [--minutes 10] [--interval 30] [--rate 200] [--users 200] [--workers 1]
 *     [--online 30] [--offline 5] [--history 2] [--search 0.5] [--edits 1] [--login-share 0.2]
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { cpuWatch, freePort, machine, numberArg, printRow, round2, rssKiB, tail } from './lib.js';
import { askWorker, startTsWorker } from './load/threads.js';
import type { SoakCommand, SoakReport, SoakSetup, SoakUser } from './load/soak-worker.js';
import { createConversation, registerUsers, startParley, type BenchUser } from './servers.js';
import { VOCAB } from './text.js';

const MINUTES = numberArg('minutes', 10);
const INTERVAL_S = numberArg('interval', 30);
const RATE = numberArg('rate', 200);
const USERS = Math.max(16, numberArg('users', 200));
const WORKERS = numberArg('workers', 1);
const ONLINE_S = numberArg('online', 30);
const OFFLINE_S = numberArg('offline', 5);
const HISTORY = numberArg('history', 2);
const SEARCH = numberArg('search', 0.5);
const EDITS = numberArg('edits', 1);
const LOGIN_SHARE = numberArg('login-share', 0.2);
const GROUP = 8;

/**
 * Thresholds of the verdict, over the second half of the run. The live heap
 * is measured after a full GC, so its noise is small (tenths of a MiB: see
 * docs/performance.md, soak): 5 % of it (or 2 MiB, for a small heap) is a
 * leak of about 1 KiB for each of the ~2,000 connects, or 35 bytes for each
 * of the ~60,000 messages, of a 10-minute run's second half. RSS also holds
 * what is not JavaScript (malloc's arenas, the search threads' heaps), which
 * settles more slowly: 10 %.
 * p99 on a shared two-core machine moves by tens of percent from one
 * interval to the next: the last quarter's median p99 may be at most 1.5 ×
 * the second quarter's, plus 2 ms.
 */
const HEAP_GROWTH_MAX = 0.05;
const HEAP_GROWTH_FLOOR_MIB = 2;
const RSS_GROWTH_MAX = 0.1;
/**
 * SQLite's page caches fill as the database grows, and at 200 msgs/s they
 * fill for longer than 10 minutes: the writer's 64 MiB, and 32 MiB per
 * database (messages, index) in each search reader thread, one per core but
 * one, 1 to 4 (src/store/sqlite/sqlite-store.ts). RSS that grows in the
 * second half but stays within the start's plus these is `bounded`, not a
 * leak (with 2 MiB caches the same run's RSS is flat: docs/performance.md, soak).
 */
const PAGE_CACHES_MIB = 64 + 64 * Math.max(1, Math.min(4, os.availableParallelism() - 1));
const P99_RATIO_MAX = 1.5;
const P99_SLACK_MS = 2;
/** Median cores used by other processes in a quarter above which the p99 trend is not judged. */
const OTHER_CPU_MAX = 0.3;

// ---- the server's inspector: a full GC and the live heap --------------------------

/** A minimal Chrome DevTools Protocol client on the server's `--inspect` port. */
class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: number; result?: unknown };
      if (m.id !== undefined) this.pending.get(m.id)?.(m.result);
      if (m.id !== undefined) this.pending.delete(m.id);
    });
  }

  static async open(port: number): Promise<Inspector> {
    const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const ws = new WebSocket(target!.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Inspector(ws);
  }

  call<T>(method: string, params: object = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (r) => resolve(r as T));
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Bytes of the main thread's heap still referenced after a full collection. */
  async liveHeap(): Promise<number> {
    await this.call('HeapProfiler.collectGarbage');
    return (await this.call<{ usedSize: number }>('Runtime.getHeapUsage')).usedSize;
  }

  close(): void {
    this.ws.close();
  }
}

// ---- /metrics -----------------------------------------------------------------------

/** The value of a Prometheus sample `name{labels}` (labels as written, e.g. `type="Timeout"`); absent: `absent`. */
function metric(text: string, name: string, labels = '', absent = NaN): number {
  const head = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(head));
  return line ? Number(line.slice(head.length)) : absent;
}

/** Ref'd timers of the server's main thread (prom-client leaves the label out when there are none). */
const timers = (text: string) => metric(text, 'parley_nodejs_active_resources', 'type="Timeout"', 0);

/** Size of the database files the server has open (the messages, the search index, their WALs): what its page caches grow towards. */
function databaseMiB(pid: number): number {
  const files = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (/\.db(-wal)?$/.test(target)) files.add(target);
    } catch {
      // closed meanwhile
    }
  }
  let bytes = 0;
  for (const f of files) bytes += fs.statSync(f, { throwIfNoEntry: false })?.size ?? 0;
  return round2(bytes / 2 ** 20);
}

// ---- workers ------------------------------------------------------------------------

const bootWorker = (setup: SoakSetup): Worker => startTsWorker(new URL('./load/soak-worker.ts', import.meta.url), setup);
const ask = <R>(w: Worker, command?: SoakCommand): Promise<R> => askWorker<R>(w, command);

/** registerUsers' password. */
const PASSWORD = 'password123';

async function login(url: string, username: string): Promise<string> {
  const res = await fetch(url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
  if (res.status !== 200) throw new Error(`login ${username} -> ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/** The users, their devices and conversations: directs with the next and the third next user, groups of 8 by blocks and by strides. */
async function population(url: string): Promise<SoakUser[]> {
  const users = await registerUsers(url, 'soak', USERS);
  const convs: SoakUser['conversations'][] = users.map(() => []);
  const direct = async (a: number, b: number) => {
    const id = await createConversation(url, users[a]!, { type: 'direct', memberIds: [users[b]!.id] });
    convs[a]!.push({ id, members: 2 });
    convs[b]!.push({ id, members: 2 });
  };
  const group = async (members: number[]) => {
    const [owner, ...rest] = members;
    const id = await createConversation(url, users[owner!]!, { type: 'group', title: `soak ${owner}`, memberIds: rest.map((m) => users[m]!.id) });
    for (const m of members) convs[m]!.push({ id, members: members.length });
  };
  for (let i = 0; i < USERS; i++) {
    await direct(i, (i + 1) % USERS);
    await direct(i, (i + 3) % USERS);
  }
  const blocks = Math.floor(USERS / GROUP);
  for (let b = 0; b < blocks; b++) {
    await group(Array.from({ length: GROUP }, (_, k) => b * GROUP + k));
    await group(Array.from({ length: GROUP }, (_, k) => k * blocks + b));
  }
  // Every fourth user has a second device, logged in on its own.
  const tokens = await Promise.all(users.map(async (u: BenchUser, i) => (i % 4 === 0 ? [u.token, await login(url, `soak${i}`)] : [u.token])));
  return users.map((u, i) => ({ id: u.id, username: `soak${i}`, password: PASSWORD, tokens: tokens[i]!, conversations: convs[i]! }));
}

// ---- samples and the verdict ----------------------------------------------------------

interface Sample {
  minute: number;
  rssMiB: number;
  liveHeapMiB: number;
  p99: number;
  /** Cores other processes used in the interval: a busy machine moves the p99 by itself. */
  otherCpu: number;
}

/** Least-squares growth of `v` over the points' time span, and their mean. */
function growth(points: { t: number; v: number }[]): { growth: number; mean: number } {
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  const slope = sxx === 0 ? 0 : points.reduce((a, p) => a + (p.t - mt) * (p.v - mv), 0) / sxx;
  return { growth: slope * (points[n - 1]!.t - points[0]!.t), mean: mv };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

/** Fewer samples than this leave a quarter empty: nothing can be judged, and the verdict says so (not flat). */
const MIN_SAMPLES = 4;

function verdict(samples: Sample[], rssStartMiB: number, errors: number): boolean {
  const n = samples.length;
  if (n < MIN_SAMPLES) {
    printRow('soak verdict', { samples: n, errors, verdict: `TOO SHORT: at least ${MIN_SAMPLES} intervals are needed to judge (--minutes, --interval)` });
    return false;
  }
  const second = samples.slice(Math.floor(n / 2));
  const heap = growth(second.map((s) => ({ t: s.minute, v: s.liveHeapMiB })));
  const rss = growth(second.map((s) => ({ t: s.minute, v: s.rssMiB })));
  const quarter2 = samples.slice(Math.floor(n / 4), Math.floor(n / 2));
  const quarter4 = samples.slice(Math.floor((3 * n) / 4));
  const p99Second = median(quarter2.map((s) => s.p99));
  const p99Last = median(quarter4.map((s) => s.p99));
  const heapLimit = Math.max(HEAP_GROWTH_MAX * heap.mean, HEAP_GROWTH_FLOOR_MIB);
  const heapFlat = heap.growth <= heapLimit;
  const rssFlat = rss.growth <= RSS_GROWTH_MAX * rss.mean;
  const rssEnd = samples[n - 1]!.rssMiB;
  const rssBounded = rssFlat || rssEnd <= (1 + RSS_GROWTH_MAX) * (rssStartMiB + PAGE_CACHES_MIB);
  // When other processes took the cores, a p99 says more about them than about the server: not judged.
  const otherCpu = Math.max(median(quarter2.map((s) => s.otherCpu)), median(quarter4.map((s) => s.otherCpu)));
  const p99Judged = otherCpu <= OTHER_CPU_MAX;
  const p99Flat = !p99Judged || p99Last <= P99_RATIO_MAX * p99Second + P99_SLACK_MS;
  const flat = heapFlat && rssBounded && p99Flat && errors === 0;
  printRow('soak verdict', {
    secondHalfFrom: second[0]?.minute,
    liveHeapMiB: round2(heap.mean),
    liveHeapGrowthMiB: round2(heap.growth),
    liveHeapLimitMiB: round2(heapLimit),
    rssMiB: round2(rss.mean),
    rssGrowthMiB: round2(rss.growth),
    rssLimitMiB: round2(RSS_GROWTH_MAX * rss.mean),
    rssEndMiB: rssEnd,
    rssBoundMiB: round2((1 + RSS_GROWTH_MAX) * (rssStartMiB + PAGE_CACHES_MIB)),
    p99SecondQuarter: round2(p99Second),
    p99LastQuarter: round2(p99Last),
    p99Limit: round2(P99_RATIO_MAX * p99Second + P99_SLACK_MS),
    errors,
    heap: heapFlat ? 'flat' : 'GROWING',
    rss: rssFlat ? 'flat' : rssBounded ? 'bounded: growing, within the page caches' : 'GROWING',
    p99: !p99Judged ? `not judged: other processes used ${round2(otherCpu)} cores` : p99Flat ? 'flat' : 'GROWING',
    verdict: flat ? 'flat' : errors > 0 && heapFlat && rssBounded && p99Flat ? 'ERRORS' : 'GROWING',
  });
  return flat;
}

// ---- main -------------------------------------------------------------------------------

async function main(): Promise<number> {
  const [load1] = fs.readFileSync('/proc/loadavg', 'utf8').split(' ');
  console.log(
    `# soak on ${machine()}: ${MINUTES} min, a row every ${INTERVAL_S} s; ${RATE} msgs/s, ${USERS} users, devices online ~${ONLINE_S} s / away ~${OFFLINE_S} s, ` +
      `history ${HISTORY}/s, search ${SEARCH}/s, edits ${EDITS}/s, ${WORKERS} client worker(s); load average before: ${load1}`,
  );
  const inspectPort = await freePort();
  // The inspector only on loopback, only for the bench: a full GC before each sample.
  const server = await startParley([`--inspect=127.0.0.1:${inspectPort}`]);
  let inspector: Inspector | undefined;
  const workers: Worker[] = [];
  try {
    inspector = await Inspector.open(inspectPort);
    const users = await population(server.url);
    const share = (x: number) => x / WORKERS;
    for (let w = 0; w < WORKERS; w++) {
      workers.push(
        bootWorker({
          url: server.url,
          index: w,
          users: users.filter((_, i) => i % WORKERS === w),
          rates: { messages: share(RATE), history: share(HISTORY), search: share(SEARCH), edits: share(EDITS) },
          onlineMeanMs: ONLINE_S * 1000,
          offlineMeanMs: OFFLINE_S * 1000,
          loginShare: LOGIN_SHARE,
          typingShare: 0.3,
          // Common words (the Zipf head) and rarer ones.
          searchWords: [...VOCAB.slice(0, 20), ...VOCAB.slice(500, 520)],
        }),
      );
    }
    await Promise.all(workers.map((w) => ask(w)));
    const heap0 = await inspector.liveHeap();
    const rss0 = rssKiB(server.pid);
    printRow('soak start', { rssMiB: round2(rss0 / 1024), liveHeapMiB: round2(heap0 / 2 ** 20), users: USERS });
    await Promise.all(workers.map((w) => ask(w, { cmd: 'start' })));

    const samples: Sample[] = [];
    let errors = 0;
    const intervals = Math.max(2, Math.round((MINUTES * 60) / INTERVAL_S));
    const t0 = performance.now();
    for (let i = 1; i <= intervals; i++) {
      let watch = cpuWatch(server.pid);
      await new Promise((r) => setTimeout(r, t0 + i * INTERVAL_S * 1000 - performance.now()));
      const cpu = watch();
      const reports = await Promise.all(workers.map((w) => ask<SoakReport>(w, { cmd: 'report' })));
      const metrics = await (await fetch(server.url + '/metrics')).text();
      const liveHeap = await inspector.liveHeap();
      const rss = rssKiB(server.pid);
      watch = cpuWatch(server.pid);
      const sum = (k: string) => reports.reduce((n, r) => n + (r.counts[k] ?? 0), 0);
      const errs: Record<string, number> = {};
      for (const r of reports) for (const [k, v] of Object.entries(r.errors)) errs[k] = (errs[k] ?? 0) + v;
      const nErrors = Object.values(errs).reduce((a, b) => a + b, 0);
      errors += nErrors;
      const lat = tail(reports.flatMap((r) => r.latencyMs));
      const ack = tail(reports.flatMap((r) => r.ackMs));
      const lag = tail(reports.flatMap((r) => r.lagMs));
      const minute = round2((performance.now() - t0) / 60_000);
      const sample: Sample = { minute, rssMiB: round2(rss / 1024), liveHeapMiB: round2(liveHeap / 2 ** 20), p99: lat.p99, otherCpu: cpu.otherCpu };
      samples.push(sample);
      const sent = sum('sent');
      printRow(`soak ${minute.toFixed(1)} min`, {
        minute,
        rssMiB: sample.rssMiB,
        liveHeapMiB: sample.liveHeapMiB,
        p99: lat.p99,
        dbMiB: databaseMiB(server.pid),
        heapUsedMiB: round2(metric(metrics, 'parley_nodejs_heap_size_used_bytes') / 2 ** 20),
        // What V8 holds from the system (the main thread's), and memory outside its heap that JavaScript objects own (Buffers).
        heapTotalMiB: round2(metric(metrics, 'parley_nodejs_heap_size_total_bytes') / 2 ** 20),
        externalMiB: round2(metric(metrics, 'parley_nodejs_external_memory_bytes') / 2 ** 20),
        sockets: metric(metrics, 'parley_sockets_connected'),
        online: reports.reduce((n, r) => n + r.online, 0),
        timers: timers(metrics),
        msgsPerSec: round2(sent / INTERVAL_S),
        deliveriesPerSec: round2(sum('deliveries') / INTERVAL_S),
        receiptsPerSec: round2(sum('receipts') / INTERVAL_S),
        p50: lat.p50,
        p999: lat.p999,
        ackP99: ack.p99,
        sendLagP99: lag.p99,
        loopLagP99: round2(metric(metrics, 'parley_nodejs_eventloop_lag_p99_seconds') * 1000),
        connects: sum('connects'),
        disconnects: sum('disconnects'),
        logins: sum('logins'),
        syncs: sum('syncs'),
        histories: sum('joins') + sum('restHistories'),
        searches: sum('searches'),
        edits: sum('edits') + sum('deletes'),
        markerMoves: sum('markerMoves'),
        errors: nErrors,
        serverCpu: cpu.serverCpu,
        // Server CPU per message sent (everything included: deliveries, receipts, syncs, searches…), µs.
        serverCpuPerMsgUs: Math.round((cpu.serverCpu * INTERVAL_S * 1e6) / Math.max(1, sent)),
        clientCpu: cpu.clientCpu,
        otherCpu: cpu.otherCpu,
        clientEventLoop: reports.map((r) => round2(r.elu)),
      });
      if (nErrors) console.log(`# errors: ${JSON.stringify(errs)}`);
    }

    // Everyone gone: what the server still holds with no one connected.
    const final = await Promise.all(workers.map((w) => ask<SoakReport>(w, { cmd: 'stop' })));
    for (const r of final) errors += Object.values(r.errors).reduce((a, b) => a + b, 0);
    await new Promise((r) => setTimeout(r, 6000)); // past the typing timeout (5 s): its timers should be gone too
    const metrics = await (await fetch(server.url + '/metrics')).text();
    printRow('soak after all left', {
      rssMiB: round2(rssKiB(server.pid) / 1024),
      liveHeapMiB: round2((await inspector.liveHeap()) / 2 ** 20),
      sockets: metric(metrics, 'parley_sockets_connected'),
      timers: timers(metrics),
    });
    return verdict(samples, rss0 / 1024, errors) ? 0 : 1;
  } finally {
    inspector?.close();
    await Promise.all(workers.map((w) => w.terminate()));
    await server.stop();
  }
}

process.exit(await main());
