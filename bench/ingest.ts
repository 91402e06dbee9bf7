/**
 * Ingest: many senders, each with a window of sends in flight, for a fixed
 * time; counts persisted-and-acknowledged messages per second and the ack
 * latency. Parley (synchronous=FULL: every ack after an fsync'd group
 * commit) against a bare Socket.IO relay with no database, same machine.
 *
 *   npm run build && npx tsx bench/ingest.ts [--senders 20] [--window 10] [--seconds 10] [--workers 2] [--profile DIR]
 *
 * Each sender writes into a conversation of its own (no fan-out: that is
 * the fanout scenario's), so this measures receive + validate + commit + ack.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { freePort, machine, printRow, ROOT, startServer, summarize } from './lib.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const SENDERS = arg('senders', 20);
const WINDOW = arg('window', 10);
const SECONDS = arg('seconds', 10);
const WORKERS = arg('workers', 2);
const CONTENT = 'x'.repeat(100);

/** CPU time (ms) a process has used so far, from /proc. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 1/100 s
}

async function run(label: string, url: string, pid: number, senders: { token: string; conversationId: string }[]) {
  const share = Array.from({ length: WORKERS }, (_, w) => senders.filter((_, i) => i % WORKERS === w));
  // Workers load the TypeScript worker through tsx's loader, registered in the worker itself.
  const entry = new URL('./ingest-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  const workers = share.map(
    (s) =>
      new Worker(boot, {
        eval: true,
        workerData: { url, senders: s, window: WINDOW, durationMs: SECONDS * 1000, content: CONTENT },
      }),
  );
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  const results = await Promise.all(
    workers.map((w) => {
      const done = new Promise<{ acked: number; errors: number; latencies: number[]; elu: number }>((resolve) => w.once('message', resolve));
      w.postMessage('go');
      return done;
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = (cpuMs(pid) - cpu0) / 1000 / seconds;
  await Promise.all(workers.map((w) => w.terminate()));
  const acked = results.reduce((n, r) => n + r.acked, 0);
  const lat = summarize(results.flatMap((r) => r.latencies));
  const row = {
    msgsPerSec: Math.round(acked / seconds),
    ackP50: lat.p50,
    ackP99: lat.p99,
    ackP999: Math.round(summarize(results.flatMap((r) => r.latencies)).max * 100) / 100,
    errors: results.reduce((n, r) => n + r.errors, 0),
    serverCpu: Math.round(serverCpu * 100) / 100,
    clientEventLoop: results.map((r) => Math.round(r.elu * 100) / 100),
  };
  const sorted = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  row.ackP999 = Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.999) - 1)] ?? NaN) * 100) / 100;
  printRow(`ingest ${label}`, row);
  return row;
}

async function main() {
  console.log(`# ingest on ${machine()}: ${SENDERS} senders × window ${WINDOW}, ${SECONDS} s, ${WORKERS} client workers`);

  // Parley
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-ingest-'));
  // --profile DIR: the server writes a V8 CPU profile there when it stops.
  const profile = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : undefined;
  const parley = await startServer(dataDir, { SCRYPT_COST: '1024' }, profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []);
  const senders: { token: string; conversationId: string }[] = [];
  for (let i = 0; i < SENDERS; i++) {
    const post = async (p: string, body: unknown, token?: string) =>
      (await fetch(parley.url + p, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) })).json() as Promise<any>;
    const { token } = await post('/api/auth/register', { username: `ingest${i}`, password: 'password123' });
    const conversation = await post('/api/conversations', { type: 'group', title: `ingest ${i}`, memberIds: [] }, token);
    senders.push({ token, conversationId: conversation.id });
  }
  const p = await run('parley (FULL)', parley.url, parley.child.pid!, senders);
  await parley.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });

  // The bare Socket.IO relay
  const port = await freePort();
  const relay: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/baselines/socketio-relay.ts')], {
    env: { ...process.env, PORT: String(port) },
    stdio: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const b = await run('bare socket.io relay', url, relay.pid!, senders.map((_, i) => ({ token: '', conversationId: `c${i}` })));
  relay.kill('SIGTERM');
  printRow('ingest parley / relay', { ratio: Math.round((p.msgsPerSec / b.msgsPerSec) * 100) / 100 });
}

await main();
process.exit(0);
