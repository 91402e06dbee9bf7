/**
 * Search never stalls chat (issue #17): send → receive latency at a steady
 * 1,000 msgs/s (latency.ts's room: one sender, one receiver, timed from the
 * schedule) on the seeded 1,000,000-message database (seed.ts), without
 * and with 20 searches a second of the 20 most common words, each by one
 * of 200 users in small conversations (bench2..bench201: a direct
 * conversation with bench0 and two others, 1,350-1,800 messages each;
 * bench1 is left out: its direct conversation with bench0 is the big one,
 * 100,000 messages). The searches are open-loop too: due at t0 + i/rate
 * whatever the answers do.
 *
 * Runs alternate, A (without) and B (with), in the order ABBA ABBA... on
 * one server, each on a fresh two-member room, so that a drift of the
 * machine falls on both. Target: the median p99 with searches at most
 * twice the median without.
 *
 *   npm run build && npx tsx bench/search-mix.ts [--size full|smoke] [--keep DIR] [--pairs 3]
 *     [--rate 1000] [--seconds 10] [--warmup 5] [--search-rate 20] [--searchers 200] [--workers 2]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { machine, numberArg, printRow, printTarget, startServer, stringArg, summarize, tail } from './lib.js';
import { loadRoomOn } from './room.js';
import { seed, SEED_PASSWORD, SIZES } from './seed.js';
import { VOCAB } from './text.js';

const size = SIZES[stringArg('size', 'full') as keyof typeof SIZES] ?? SIZES.full;
const keep = process.argv.includes('--keep') ? stringArg('keep', '') : undefined;
const PAIRS = numberArg('pairs', 3);
const RATE = numberArg('rate', 1000);
const SECONDS = numberArg('seconds', 10);
const WARMUP = numberArg('warmup', 5);
const SEARCH_RATE = numberArg('search-rate', 20);
const SEARCHERS = Math.min(numberArg('searchers', 200), size.users - 2);
const WORKERS = numberArg('workers', 2);
/** The most common words of the seeded text. */
const WORDS = VOCAB.slice(0, 20);

/** A keep-alive HTTP client (Node's fetch adds milliseconds of its own at the tail). */
function client(url: string) {
  const base = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return (method: string, p: string, token?: string, body?: unknown) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          path: p,
          method,
          agent,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(data ? { 'content-type': 'application/json' } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

/**
 * Searches at `rate` a second until stopped, round-robin over the users
 * and the words, each sent when due whatever the earlier ones are doing.
 */
function startSearches(call: ReturnType<typeof client>, tokens: string[], rate: number) {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  let sent = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const i = sent;
      const started = performance.now();
      const p = call('GET', `/api/search?q=${encodeURIComponent(WORDS[i % WORDS.length]!)}&limit=20`, tokens[i % tokens.length])
        .then(
          (r) => statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1),
          () => statuses.set(0, (statuses.get(0) ?? 0) + 1),
        )
        .then(() => {
          latencies.push(performance.now() - started);
          inFlight.delete(p);
        });
      inFlight.add(p);
    }
    setTimeout(tick, 5);
  };
  tick();
  return async () => {
    stopped = true;
    await Promise.all(inFlight);
    const s = summarize(latencies);
    const seconds = (performance.now() - t0) / 1000;
    return { searches: latencies.length, searchesPerSec: Math.round((latencies.length / seconds) * 10) / 10, searchP50: s.p50, searchP99: s.p99, searchMax: s.max, statuses: Object.fromEntries(statuses) };
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  const dataDir = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-mix-'));
  const seeded = fs.existsSync(path.join(dataDir, 'parley.db'));
  console.log(`# search mix on ${machine()}: ${RATE} msgs/s for ${SECONDS} s (warm-up ${WARMUP} s), ${PAIRS} pairs of runs, with ${SEARCH_RATE} searches/s by ${SEARCHERS} users`);
  console.log(`# data dir ${dataDir}${seeded ? ' (reused)' : ''}`);
  if (!seeded) {
    const s = await seed(dataDir, size);
    printRow('seed', { messages: size.total, seconds: Math.round(s.seconds), indexLagAtEnd: s.lag, indexCatchUpSeconds: Math.round(s.indexCatchUp) });
  }
  // The seed leaves dirty pages: written out before anything is measured.
  execFileSync('sync');
  const server = await startServer(dataDir, { SCRYPT_COST: '1024', RATE_LIMITS: 'off' });
  try {
    const call = client(server.url);
    const tokens: string[] = [];
    for (let i = 2; i < 2 + SEARCHERS; i++) {
      const r = await call('POST', '/api/auth/login', undefined, { username: `bench${i}`, password: SEED_PASSWORD });
      if (r.status !== 200) throw new Error(`login bench${i}: ${r.status} ${JSON.stringify(r.body)}`);
      tokens.push(r.body.token as string);
    }
    // The search paths warmed up (JIT, page cache) before the first run, as on a server that has been running.
    {
      const stop = startSearches(call, tokens, SEARCH_RATE);
      await new Promise((r) => setTimeout(r, 3000));
      printRow('search mix warm-up', await stop());
    }
    const p99: Record<'without' | 'with', number[]> = { without: [], with: [] };
    const tag = Date.now().toString(36);
    let run = 0;
    for (let pair = 0; pair < PAIRS; pair++) {
      for (const withSearches of pair % 2 === 0 ? [false, true] : [true, false]) {
        const mode = withSearches ? 'with' : 'without';
        const stop = withSearches ? startSearches(call, tokens, SEARCH_RATE) : null;
        const r = await loadRoomOn(
          { urls: [server.url], pids: [server.child.pid!], parley: true, proto: 'socketio', label: 'parley' },
          { members: 2, senders: 1, rate: RATE, seconds: SECONDS, warmupSeconds: WARMUP, workers: WORKERS },
          `mix${tag}r${run++}u`,
        );
        const searches = stop ? await stop() : null;
        const recv = tail(r.got.latencyMs);
        const ack = tail(r.run.ackMs);
        p99[mode].push(recv.p99);
        printRow(`search mix ${mode} searches`, {
          pair,
          msgsPerSec: Math.round(r.run.acked.reduce((n, a) => n + a.ns.length, 0) / SECONDS),
          recvP50: recv.p50,
          recvP99: recv.p99,
          recvP999: recv.p999,
          recvMax: recv.max,
          ackP99: ack.p99,
          sendLagP99: tail(r.run.lagMs).p99,
          lost: r.got.lost,
          errors: r.run.errors + r.run.timedOut,
          ...(searches ?? {}),
          ...r.cpu,
          bottleneck: r.bottleneck,
        });
      }
    }
    const without = median(p99.without);
    const withS = median(p99.with);
    const ratio = Math.round((withS / without) * 100) / 100;
    printRow('search mix summary', { p99Without: p99.without, p99With: p99.with, medianWithout: without, medianWith: withS, ratio });
    printTarget('search mix', `send→receive p99 with ${SEARCH_RATE} searches/s <= 2 × without (medians of ${PAIRS} runs each)`, ratio, ratio <= 2);
  } finally {
    await server.stop();
    if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
