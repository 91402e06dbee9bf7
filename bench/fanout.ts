/**
 * Fan-out: one group of 100 members, all connected; a few of them send with
 * a window of messages in flight for a fixed time, and every member counts
 * each message that reaches it. Deliveries per second, send → receive
 * latency, and exactness: lost (acknowledged but not delivered to a member
 * within the drain wait) and duplicated deliveries. Against the bare
 * Socket.IO and ws relays (one room, no database), same machine.
 *
 *   npm run build && npx tsx bench/fanout.ts [--users 100] [--senders 4] [--window 8] [--seconds 10] [--workers 2] [--warmup 1]
 *       [--mode both|window|rate|receipts] [--rate-senders 6] [--rate 500] [--drain 30] [--marker-interval MS] [--reps 2]
 *
 * Two modes, both by default. `window`: each sender keeps `--window` sends
 * in flight (ack-driven), against Parley and both relays. `rate` (saturation):
 * `--rate-senders` senders each offer `--rate` messages a second on a
 * schedule, whatever the answers (6 × 500 = 3,000 msgs/s into the group of
 * 100: ~300,000 deliveries/s offered, more than the machine can deliver),
 * against Parley and the bare Socket.IO relay in the same run; deliveries/s
 * is every delivery of an acknowledged message over the time from the
 * start to the last one (the backlog drains after the senders stop, up to
 * `--drain` seconds). Parley may refuse sends it cannot keep up with
 * (`rate_limited`: 64 unanswered events per connection): `refused`.
 *
 * `receipts` (not in `both`): the window scenario on Parley, run `--reps`
 * times without receipts and with them, interleaved (the machine is noisy).
 * With them, every member acknowledges delivery and read of each message from
 * the others as the shipped client does: `delivered` on arrival (the client
 * library) and `read` (the web client marks the open conversation read),
 * both through the library's MarkerCoalescer, at the library's interval for
 * the group's size (1,000 ms for 100 members) or `--marker-interval` ms.
 * Each row adds the marker moves sent, the `receipt` events received by all
 * members, and socket writes per message (deliveries plus receipts, over
 * acknowledged messages) divided by the members: O(members) per message
 * keeps this flat as the group grows. Target: deliveries/s with receipts
 * at least half of without (issue 17).
 *
 * Latency is from the send (the time rides in the clientId; in rate mode the
 * scheduled time) to the delivery, on the same machine's clock, so it
 * includes the sender's own queueing.
 */
import { markerInterval } from '../src/client/marker-coalescer.js';
import { machine, numberArg, printRow, printTarget, round2, stringArg, tail } from './lib.js';
import { loadRoom } from './room.js';
import { LABELS, type Target } from './servers.js';

const USERS = numberArg('users', 100);
const SENDERS = Math.min(USERS, numberArg('senders', 4));
const WINDOW = numberArg('window', 8);
const SECONDS = numberArg('seconds', 10);
const WORKERS = numberArg('workers', 2);
/** An unmeasured run first, seconds. */
const WARMUP = numberArg('warmup', 1);
const MODE = stringArg('mode', 'both');
if (!['both', 'window', 'rate', 'receipts'].includes(MODE)) throw new Error('--mode is both, window, rate or receipts');
/** Receipts mode: the clients' interval between two marker moves of a kind, ms (default: the client library's for the group's size). */
const MARKER_INTERVAL = numberArg('marker-interval', markerInterval(USERS));
/** Receipts mode: pairs of runs (without, with), interleaved. */
const REPS = numberArg('reps', 2);
/** Rate mode: senders, each offering --rate messages a second. */
const RATE_SENDERS = Math.min(USERS, numberArg('rate-senders', 6));
const RATE = numberArg('rate', 500);
/** Rate mode: how long the backlog may take to drain after the senders stop, seconds. */
const DRAIN = numberArg('drain', 30);

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

/** Saturation: a fixed rate offered, whatever the answers. */
async function measureRate(target: Target) {
  const r = await loadRoom(
    target,
    { members: USERS, senders: RATE_SENDERS, rate: RATE, seconds: SECONDS, warmupSeconds: WARMUP, workers: WORKERS, drainMs: DRAIN * 1000 },
    'fanrate',
  );
  const lat = tail(r.got.latencyMs);
  const acked = r.run.acked.reduce((n, a) => n + a.ns.length, 0);
  const deliveriesPerSec = Math.round(r.got.received / r.deliverySeconds);
  const row = {
    members: USERS,
    offeredPerSec: RATE_SENDERS * RATE,
    /** What the load generator managed to send (its workers also receive: at saturation they may fall behind the schedule). */
    sentPerSec: Math.round(r.run.sent / SECONDS),
    sendLagP99: tail(r.run.lagMs).p99,
    msgsPerSec: Math.round(acked / SECONDS),
    refused: r.run.errors,
    timedOut: r.run.timedOut,
    deliveriesPerSec,
    deliverySeconds: round2(r.deliverySeconds),
    p50: lat.p50,
    p99: lat.p99,
    expected: r.got.expected,
    lost: r.got.lost,
    duplicated: r.got.duplicated,
    unexpected: r.got.unexpected,
    ...r.cpu,
    serverUsPerDelivery: round2((r.cpu.serverCpu * 1e6) / deliveriesPerSec),
    clientEventLoop: r.run.elu,
    bottleneck: r.bottleneck,
  };
  printRow(`fanout-rate ${LABELS[target]}`, row);
  if (r.run.errorSamples.length) console.log(`# fanout-rate ${target} refused: ${r.run.errorSamples.join('; ')}`);
  return row;
}

/** The window scenario on Parley, its members acknowledging delivery and read (or not). */
async function measureReceipts(withReceipts: boolean) {
  const r = await loadRoom(
    'parley',
    {
      members: USERS,
      senders: SENDERS,
      window: WINDOW,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      workers: WORKERS,
      ...(withReceipts ? { markerIntervalMs: MARKER_INTERVAL } : {}),
    },
    withReceipts ? 'fanrcpt' : 'fannorc',
  );
  const lat = tail(r.got.latencyMs);
  const acked = r.run.acked.reduce((n, a) => n + a.ns.length, 0);
  const deliveriesPerSec = Math.round(r.got.received / r.deliverySeconds);
  const row = {
    members: USERS,
    receipts: withReceipts,
    msgsPerSec: Math.round(acked / r.run.seconds),
    deliveriesPerSec,
    p50: lat.p50,
    p99: lat.p99,
    markerMovesPerSec: Math.round(r.got.markerMoves / r.deliverySeconds),
    markerMovesFailed: r.got.markerMovesFailed,
    receiptEventsPerSec: Math.round(r.got.receipts / r.deliverySeconds),
    receiptEventsPerMessage: round2(r.got.receipts / Math.max(1, acked)),
    /** Every event written to a member's socket for a message (its deliveries and the receipts), per member. */
    writesPerMessagePerMember: round2((r.got.received + r.got.receipts) / Math.max(1, acked) / USERS),
    lost: r.got.lost,
    duplicated: r.got.duplicated,
    errors: r.run.errors + r.run.timedOut,
    ...r.cpu,
    serverUsPerDelivery: round2((r.cpu.serverCpu * 1e6) / deliveriesPerSec),
    clientEventLoop: r.run.elu,
    bottleneck: r.bottleneck,
  };
  printRow(`fanout-receipts ${withReceipts ? 'with' : 'without'}`, row);
  if (r.run.errorSamples.length) console.log(`# fanout-receipts errors: ${r.run.errorSamples.join('; ')}`);
  return row;
}

async function main() {
  if (MODE === 'receipts') {
    console.log(
      `# fanout-receipts on ${machine()}: ${USERS} members, ${SENDERS} senders × window ${WINDOW}, ${SECONDS} s, ${WORKERS} client workers; ` +
        `markers every ${MARKER_INTERVAL} ms; ${REPS} interleaved pairs`,
    );
    const ratios: number[] = [];
    let clean = true;
    for (let i = 0; i < REPS; i++) {
      // Alternate which goes first: a machine that slows down during a pair favours neither.
      const order = i % 2 === 0 ? [false, true] : [true, false];
      const rows = new Map<boolean, Awaited<ReturnType<typeof measureReceipts>>>();
      for (const w of order) rows.set(w, await measureReceipts(w));
      const without = rows.get(false)!;
      const withR = rows.get(true)!;
      ratios.push(round2(withR.deliveriesPerSec / without.deliveriesPerSec));
      clean &&= [without, withR].every((r) => r.lost === 0 && r.duplicated === 0);
    }
    const median = [...ratios].sort((a, b) => a - b)[Math.floor((ratios.length - 1) / 2)]!;
    printRow('fanout-receipts with / without', { ratios, median });
    printTarget('fanout-receipts', 'deliveries/s with receipts >= 0.5 x without (lower median of the pairs), none lost', median, median >= 0.5 && clean);
    return;
  }
  if (MODE !== 'rate') {
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
  if (MODE !== 'window') {
    const offered = RATE_SENDERS * RATE;
    console.log(`# fanout-rate on ${machine()}: ${USERS} members, ${RATE_SENDERS} senders × ${RATE} msgs/s = ${offered} msgs/s offered, ${SECONDS} s, ${WORKERS} client workers`);
    const p = await measureRate('parley');
    const s = await measureRate('socketio-relay');
    const ratio = round2(p.deliveriesPerSec / s.deliveriesPerSec);
    printRow('fanout-rate parley / socket.io relay', {
      toSocketIoRelay: ratio,
      serverCpuPerDeliveryToSocketIoRelay: round2(p.serverUsPerDelivery / s.serverUsPerDelivery),
    });
    printTarget('fanout-rate', `deliveries/s >= 0.8 x the socket.io relay at ${offered.toLocaleString('en')} msgs/s offered`, ratio, ratio >= 0.8 && p.lost === 0 && p.duplicated === 0);
  }
}

await main();
process.exit(0);
