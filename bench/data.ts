/**
 * Read paths on a big database, end to end through the real server:
 * history of a 100,000-message conversation, the conversation list of a user
 * in 1,000 conversations (with last messages and unread counts), and search
 * over 1,000,000 messages.
 *
 *   npm run build && npx tsx bench/data.ts [--size full|smoke] [--keep DIR]
 *
 * The database is seeded through the Store (setup, not measured); every
 * figure after that is a client's view over HTTP or Socket.IO.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { io } from 'socket.io-client';
import { machine, printRow, printTarget, startServer, summarize, timeEach, warmUp } from './lib.js';
import { seed, SEED_PASSWORD, SIZES } from './seed.js';
import { VOCAB } from './text.js';

const args = process.argv.slice(2);
const size = SIZES[(args[args.indexOf('--size') + 1] as keyof typeof SIZES) ?? 'full'] ?? SIZES.full;
const keep = args.includes('--keep') ? args[args.indexOf('--keep') + 1] : undefined;

// ---- measuring ------------------------------------------------------------------
async function main() {
  const dataDir = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-data-'));
  const seeded = fs.existsSync(path.join(dataDir, 'parley.db'));
  console.log(`# data scenarios on ${machine()}`);
  console.log(`# data dir ${dataDir}${seeded ? ' (reused)' : ''}`);
  let big: string;
  if (!seeded) {
    const s = await seed(dataDir, size);
    big = s.big;
    printRow('seed', {
      messages: size.total,
      seconds: Math.round(s.seconds),
      msgsPerSec: Math.round(size.total / s.seconds),
      bigSeq: s.bigSeq,
      indexLagAtEnd: s.lag,
      indexCatchUpSeconds: Math.round(s.indexCatchUp),
      indexedPerSec: s.indexedPerSec,
    });
  } else {
    big = 'c1';
  }
  // The seed leaves a gigabyte of dirty pages: flush them first, so that the
  // kernel's writeback does not land in the middle of the measurements.
  execFileSync('sync');
  const server = await startServer(dataDir);
  try {
    const login = async (username: string) =>
      ((await (await fetch(server.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: SEED_PASSWORD }) })).json()) as { token: string }).token;
    const token = await login('bench0');
    // A keep-alive node:http client: Node's fetch adds ~0.3 ms at p50 and
    // 2–3 ms at p99 of its own on this machine, which would hide the server's.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const base = new URL(server.url);
    const get = (p: string) =>
      new Promise<any>((resolve, reject) => {
        const req = http.get({ host: base.hostname, port: base.port, path: p, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) reject(new Error(`${p} -> ${res.statusCode} ${body}`));
            else resolve(JSON.parse(body));
          });
          res.on('error', reject);
        });
        req.on('error', reject);
      });
    const n = size.samples;
    const bigLast = (await get(`/api/conversations/${big}`)).lastSeq as number;

    // Each measured path is first called for a few seconds: the caches and
    // the JIT (the server's and this client's) then are as on a server that
    // has been running. A path measured after only a few hundred calls had a
    // p99 2-3 times higher, and so had a trivial request (/health).
    const full = size === SIZES.full;
    const warmMs = full ? 3000 : 0;
    const warmCalls = full ? 300 : 5;
    const latest = () => get(`/api/conversations/${big}/messages?limit=50`);
    const mid = Math.floor(bigLast / 2);
    const middle = (i: number) => get(`/api/conversations/${big}/messages?before=${Math.max(1, mid - (i % 100) * Math.floor(mid / 100))}&limit=50`);
    await warmUp(warmMs, warmCalls, async (i) => {
      await get('/health');
      await latest();
      await middle(i);
    });

    // History has a p99 target: enough samples for the tail to mean something.
    const nHistory = full ? 3000 : n;
    // What a trivial request costs on this machine: the floor under the rest.
    printRow('REST round trip (/health)', await timeEach(nHistory, () => get('/health')));
    const rest = await timeEach(nHistory, latest);
    printRow('history latest 50 (REST)', rest);
    printTarget('history (REST)', 'latest 50 of the big conversation: p99 <= 3 ms end to end', rest.p99, rest.p99 <= 3);
    printRow('history middle page (REST)', await timeEach(nHistory, middle));

    const socket = io(server.url, { auth: { token }, transports: ['websocket'] });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const join = () => socket.emitWithAck('conversation:join', { conversationId: big, limit: 50 });
    await warmUp(warmMs, warmCalls, join);
    const joined = await timeEach(nHistory, join);
    printRow('conversation:join latest 50', joined);
    printTarget('history (conversation:join)', 'latest 50 of the big conversation: p99 <= 3 ms end to end', joined.p99, joined.p99 <= 3);
    socket.disconnect();

    printRow('conversation list (200 of 1000)', await timeEach(Math.max(10, n / 3), () => get('/api/conversations?limit=200')));
    printRow(
      'conversation list, all pages',
      await timeEach(Math.max(5, n / 10), async () => {
        let cursor: string | null = null;
        do {
          const page: { nextCursor: string | null } = await get(`/api/conversations?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
          cursor = page.nextCursor;
        } while (cursor);
      }),
    );

    // Search: words across the frequency range, substrings, CJK, phrases.
    const queries: Record<string, string[]> = {
      'rare word': VOCAB.slice(15_000, 15_000 + n),
      'mid word': VOCAB.slice(100, 100 + n),
      'common word': VOCAB.slice(0, 20),
      'substring (4 chars)': VOCAB.slice(200, 200 + n).map((w) => w.slice(1, 5)),
      'two words': VOCAB.slice(300, 300 + n).map((w, i) => `${w} ${VOCAB[i + 1]}`),
      'CJK two chars': ['東京', '京都', '会議', '明日', '新し'],
      'URL part': ['example.com/docs', 'guide.html'],
    };
    const all: number[] = [];
    for (const [kind, qs] of Object.entries(queries)) {
      const samples = Math.min(n, Math.max(qs.length, 20));
      const s = await timeEach(samples, async (i) => {
        const t = performance.now();
        await get(`/api/search?q=${encodeURIComponent(qs[i % qs.length]!)}&limit=20`);
        all.push(performance.now() - t);
      });
      printRow(`search: ${kind}`, s);
    }
    printRow('search: all kinds', summarize(all));
  } finally {
    await server.stop();
    if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
