/**
 * Fan-out: one group of 100 members, all connected; a few of them send with
 * a window of messages in flight for a fixed time, and every member counts
 * each message that reaches it. Deliveries per second, send → receive
 * latency, and exactness: lost (acknowledged but not delivered to a member
 * within the drain wait) and duplicated deliveries. Against the bare
 * Socket.IO and ws relays (one room, no database), same machine.
 *
 *   npm run build && npx tsx bench/fanout.ts [--users 100] [--senders 4] [--window 8] [--seconds 10] [--workers 2] [--warmup 1]
 *
 * Latency is from the send (the time rides in the clientId) to the delivery,
 * on the same machine's clock, so it includes the sender's own queueing.
 */
import { machine, numberArg, printRow, printTarget, round2, tail } from './lib.js';
import { loadRoom } from './room.js';
import { LABELS, type Target } from './servers.js';

const USERS = numberArg('users', 100);
const SENDERS = Math.min(USERS, numberArg('senders', 4));
const WINDOW = numberArg('window', 8);
const SECONDS = numberArg('seconds', 10);
const WORKERS = numberArg('workers', 2);
/** An unmeasured run first, seconds. */
const WARMUP = numberArg('warmup', 1);

async function measure(target: Target) {
  const r = await loadRoom(target, { members: USERS, senders: SENDERS, window: WINDOW, seconds: SECONDS, warmupSeconds: WARMUP, workers: WORKERS }, 'fanout');
  const lat = tail(r.got.latencyMs);
  const ack = tail(r.run.ackMs);
  const row = {
    members: USERS,
    msgsPerSec: Math.round(r.run.acked.reduce((n, a) => n + a.ns.length, 0) / r.run.seconds),
    deliveriesPerSec: Math.round(r.got.received / r.deliverySeconds),
    p50: lat.p50,
    p99: lat.p99,
    ackP50: ack.p50,
    ackP99: ack.p99,
    expected: r.got.expected,
    lost: r.got.lost,
    duplicated: r.got.duplicated,
    unexpected: r.got.unexpected,
    errors: r.run.errors + r.run.timedOut,
    ...r.cpu,
    /** Server CPU per delivery: what the ratio would be if the clients did not share the machine's cores. */
    serverUsPerDelivery: round2((r.cpu.serverCpu * 1e6) / (r.got.received / r.deliverySeconds)),
    clientEventLoop: r.run.elu,
    bottleneck: r.bottleneck,
  };
  printRow(`fanout ${LABELS[target]}`, row);
  if (r.run.errorSamples.length) console.log(`# fanout ${target} errors: ${r.run.errorSamples.join('; ')}`);
  return row;
}

async function main() {
  console.log(`# fanout on ${machine()}: ${USERS} members, ${SENDERS} senders × window ${WINDOW}, ${SECONDS} s, ${WORKERS} client workers`);
  const p = await measure('parley');
  const s = await measure('socketio-relay');
  const w = await measure('ws-relay');
  const ratio = round2(p.deliveriesPerSec / s.deliveriesPerSec);
  printRow('fanout parley / relays', {
    toSocketIoRelay: ratio,
    toWsRelay: round2(p.deliveriesPerSec / w.deliveriesPerSec),
    serverCpuPerDeliveryToSocketIoRelay: round2(p.serverUsPerDelivery / s.serverUsPerDelivery),
  });
  printTarget('fanout', 'deliveries/s >= 0.8 x the socket.io relay, none lost', ratio, ratio >= 0.8 && p.lost === 0);
}

await main();
process.exit(0);
