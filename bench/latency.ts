/**
 * Latency at a steady rate: two users in a direct conversation, one sends
 * 1,000 messages per second on a schedule (message i is due at t0 + i/rate,
 * whatever the answers do), the other receives. Ack and send → receive
 * latency are measured from the scheduled time, so a stall is counted
 * against every message it delays (no coordinated omission); `sendLagP99`
 * is how late the sender's own timer was. Against the bare Socket.IO and ws
 * relays too, same machine.
 *
 *   npm run build && npx tsx bench/latency.ts [--rate 1000] [--seconds 10] [--workers 2] [--warmup 5]
 */
import { machine, numberArg, printRow, printTarget, tail } from './lib.js';
import { loadRoom } from './room.js';
import { LABELS, type Target } from './servers.js';

const RATE = numberArg('rate', 1000);
const SECONDS = numberArg('seconds', 10);
const WORKERS = numberArg('workers', 2);
/**
 * An unmeasured run first, seconds: long enough for the JIT to settle and the
 * database's WAL to reach its working size (a cold server's first seconds
 * are slower; `--warmup 1` shows by how much).
 */
const WARMUP = numberArg('warmup', 5);

async function measure(target: Target) {
  // Two members; the sender and the receiver sit in different worker threads.
  const r = await loadRoom(target, { members: 2, senders: 1, rate: RATE, seconds: SECONDS, warmupSeconds: WARMUP, workers: WORKERS }, 'latency');
  const ack = tail(r.run.ackMs);
  const recv = tail(r.got.latencyMs);
  const lag = tail(r.run.lagMs);
  // The same acks timed from the actual send: what the sender's own lateness adds.
  const ackFromSend = tail(r.run.ackFromSendMs);
  const acked = r.run.acked.reduce((n, a) => n + a.ns.length, 0);
  const row = {
    rate: RATE,
    msgsPerSec: Math.round(acked / (SECONDS || 1)),
    ackP50: ack.p50,
    ackP99: ack.p99,
    ackP999: ack.p999,
    recvP50: recv.p50,
    recvP99: recv.p99,
    recvP999: recv.p999,
    recvMax: recv.max,
    sendLagP99: lag.p99,
    ackFromSendP99: ackFromSend.p99,
    lost: r.got.lost,
    duplicated: r.got.duplicated,
    errors: r.run.errors + r.run.timedOut,
    ...r.cpu,
    clientEventLoop: r.run.elu,
    bottleneck: r.bottleneck,
  };
  printRow(`latency ${LABELS[target]}`, row);
  if (r.run.errorSamples.length) console.log(`# latency ${target} errors: ${r.run.errorSamples.join('; ')}`);
  return row;
}

async function main() {
  console.log(`# latency on ${machine()}: ${RATE} msgs/s for ${SECONDS} s, sender and receiver in ${WORKERS} client workers`);
  const p = await measure('parley');
  printTarget('latency', `p99 <= 5 ms at ${RATE} msgs/s (send to receive, and ack)`, Math.max(p.recvP99, p.ackP99), Math.max(p.recvP99, p.ackP99) <= 5);
  await measure('socketio-relay');
  await measure('ws-relay');
}

await main();
process.exit(0);
