/**
 * Ingest: many senders, each with a window of sends in flight, for a fixed
 * time; counts persisted-and-acknowledged messages per second and the ack
 * latency. Parley (synchronous=FULL: every ack after an fsync'd group
 * commit) against the bare Socket.IO and ws relays (no database), same machine.
 *
 *   npm run build && npx tsx bench/ingest.ts [--senders 20] [--window 10] [--seconds 10] [--workers 2] [--profile DIR]
 *
 * Each sender writes into a conversation of its own (no fan-out: that is
 * the fanout scenario's), so this measures receive + validate + commit + ack.
 * Texts are ~100-byte sentences from a Zipf vocabulary (bench/text.ts).
 */
import { cpuWatch, machine, numberArg, printRow, round2, stringArg, tail } from './lib.js';
import { bottleneck, Pool } from './load/pool.js';
import { createConversation, LABELS, protoOf, registerUsers, start, type Target } from './servers.js';

const SENDERS = numberArg('senders', 20);
const WINDOW = numberArg('window', 10);
const SECONDS = numberArg('seconds', 10);
const WORKERS = numberArg('workers', 2);
// --profile DIR: Parley writes a V8 CPU profile there when it stops.
const PROFILE = stringArg('profile', '');

async function measure(target: Target) {
  const server = await start(target, target === 'parley' && PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []);
  try {
    let senders: { token?: string; conversationId: string }[];
    if (target === 'parley') {
      const users = await registerUsers(server.url, 'ingest', SENDERS);
      senders = await Promise.all(users.map(async (u, i) => ({ token: u.token, conversationId: await createConversation(server.url, u, { type: 'group', title: `ingest ${i}`, memberIds: [] }) })));
    } else senders = Array.from({ length: SENDERS }, (_, i) => ({ conversationId: `c${i}` }));

    const pool = await Pool.start({ proto: protoOf(target), url: server.url, workers: WORKERS, clients: senders.map((s, tag) => ({ tag, token: s.token })) });
    const c = await pool.connect();
    if (c.errors) throw new Error(`ingest ${target}: ${c.errors} connections failed: ${c.errorSamples.join('; ')}`);
    const watch = cpuWatch(server.pid);
    const r = await pool.run(
      senders.map((s, tag) => ({ tag, conversationId: s.conversationId, window: WINDOW })),
      SECONDS * 1000,
    );
    const cpu = watch();
    await pool.close();
    const lat = tail(r.ackMs);
    const row = {
      msgsPerSec: Math.round((r.sent - r.errors - r.timedOut) / r.seconds),
      ackP50: lat.p50,
      ackP99: lat.p99,
      ackP999: lat.p999,
      errors: r.errors + r.timedOut,
      ...cpu,
      serverUsPerMsg: round2((cpu.serverCpu * 1e6 * r.seconds) / Math.max(1, r.sent - r.errors - r.timedOut)),
      clientEventLoop: r.elu,
      bottleneck: bottleneck(cpu, r.elu),
    };
    printRow(`ingest ${target === 'parley' ? 'parley (FULL)' : LABELS[target]}`, row);
    if (r.errorSamples.length) console.log(`# ingest ${target} errors: ${r.errorSamples.join('; ')}`);
    return row;
  } finally {
    await server.stop();
  }
}

async function main() {
  console.log(`# ingest on ${machine()}: ${SENDERS} senders × window ${WINDOW}, ${SECONDS} s, ${WORKERS} client workers`);
  const p = await measure('parley');
  const s = await measure('socketio-relay');
  const w = await measure('ws-relay');
  printRow('ingest parley / relays', { toSocketIoRelay: round2(p.msgsPerSec / s.msgsPerSec), toWsRelay: round2(p.msgsPerSec / w.msgsPerSec) });
}

await main();
process.exit(0);
