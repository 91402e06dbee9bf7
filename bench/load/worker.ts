/**
 * A load-generator worker thread: opens its share of the connections, sends
 * (ack-driven windows or a steady rate), counts what is delivered to each
 * connection, and answers the pool's commands one at a time (load/pool.ts).
 */
import { performance as perf } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { MarkerCoalescer } from '../../src/client/marker-coalescer.js';
import { nowAbs } from '../lib.js';
import { sentences } from '../text.js';
import { connect, type Ack, type BenchClient, type Delivered } from './client.js';
import { clientIdOf, parseClientId, type Acked, type ClientSpec, type CloseResult, type CollectResult, type Command, type ConnectResult, type Reply, type RunResult, type SenderSpec, type WorkerSetup } from './messages.js';

type Elu = { utilization: number };
const elu = (perf as unknown as { eventLoopUtilization(since?: Elu): Elu }).eventLoopUtilization.bind(perf);

const setup = workerData as WorkerSetup;
const port = parentPort!;
const reply = (r: Reply) => port.postMessage(r);

/** Realistic texts of ~100 bytes, made before the clock starts. */
const TEXTS = (() => {
  const next = sentences(setup.seed, { bytes: 100 });
  return Array.from({ length: 4096 }, next);
})();

// ---- what each connection received ---------------------------------------------

/** Per receiving connection: deliveries per sender tag, indexed by message number. */
class Received {
  readonly bySender = new Map<number, Uint8Array>();
  count(tag: number, n: number): number {
    return this.bySender.get(tag)?.[n] ?? 0;
  }
  add(tag: number, n: number): number {
    let a = this.bySender.get(tag);
    if (!a || a.length <= n) {
      const grown = new Uint8Array(Math.max(1024, (n + 1) * 2));
      if (a) grown.set(a);
      this.bySender.set(tag, (a = grown));
    }
    if (a[n]! < 255) a[n]!++;
    return a[n]!;
  }
}

interface Conn {
  spec: ClientSpec;
  client: BenchClient;
  received: Received;
  /** Its delivered and read markers, coalesced as the client library does (spec.markerIntervalMs). */
  markers?: MarkerCoalescer;
}

const conns: Conn[] = [];
const byTag = new Map<number, Conn>();
let latencyMs: number[] = [];
let firstAbs = Infinity;
let lastAbs = 0;
let lost = 0;
const lostSamples: string[] = [];
let receipts = 0;
let markerMovesFailed = 0;
/** Set while a collect waits: acknowledged flags per sender, and the deliveries still missing. */
let waiting: { ackedFlags: Map<number, Uint8Array>; missing: number; done: () => void } | null = null;

function delivered(conn: Conn, m: Delivered) {
  if (!conn.spec.receives || m.clientId === null) return;
  const id = parseClientId(m.clientId);
  if (!id) return;
  if (conn.markers && m.conversationId !== undefined && m.seq !== undefined && id.tag !== conn.spec.tag) {
    // As the shipped client: delivered when it arrives (the library), read as the open conversation shows it (the web client's markRead).
    conn.markers.delivered(m.conversationId, m.seq);
    conn.markers.read(m.conversationId, m.seq);
  }
  const now = nowAbs();
  latencyMs.push(now - id.sentAbs);
  if (now < firstAbs) firstAbs = now;
  lastAbs = now;
  const c = conn.received.add(id.tag, id.n);
  if (waiting && c === 1 && id.tag !== conn.spec.tag && waiting.ackedFlags.get(id.tag)?.[id.n] && --waiting.missing === 0) waiting.done();
}

function sample(list: string[], s: string) {
  if (list.length < 5 && !list.includes(s)) list.push(s);
}

// ---- commands ------------------------------------------------------------------

async function connectAll(): Promise<ConnectResult> {
  const elu0 = elu();
  const connectMs: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < setup.clients.length; i = next++) {
      const spec = setup.clients[i]!;
      const t = performance.now();
      try {
        const client = await connect(setup.proto, spec.url ?? setup.url, { token: spec.token, rooms: spec.rooms, timeoutMs: setup.connectTimeoutMs, localAddress: spec.localAddress });
        connectMs.push(performance.now() - t);
        const conn: Conn = { spec, client, received: new Received() };
        if (spec.markerIntervalMs !== undefined) {
          conn.markers = new MarkerCoalescer({
            intervalMs: () => spec.markerIntervalMs!,
            canSend: () => true,
            send: (type, conversationId, seq) =>
              client.mark(type, conversationId, seq).catch((err: unknown) => {
                markerMovesFailed++;
                throw err;
              }),
          });
        }
        client.onNew((m) => delivered(conn, m));
        client.onReceipt(() => receipts++);
        client.onLost((reason) => {
          lost++;
          sample(lostSamples, reason);
        });
        conns.push(conn);
        byTag.set(spec.tag, conn);
      } catch (err) {
        errors++;
        sample(errorSamples, err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(setup.concurrency, setup.clients.length) }, lane));
  return { type: 'connected', connectMs, errors, errorSamples, elu: elu(elu0).utilization };
}

let textIndex = 0;
let nextN = 0; // message numbers are unique per worker, hence per sender tag

function run(senders: SenderSpec[], durationMs: number, ackTimeoutMs: number): Promise<RunResult> {
  const elu0 = elu();
  const result: RunResult = { type: 'ran', acked: [], errors: 0, timedOut: 0, errorSamples: [], ackMs: [], ackFromSendMs: [], lagMs: [], elu: 0 };
  const deadline = performance.now() + durationMs;
  let issuing = senders.length;
  let outstanding = 0;
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(giveUp);
      result.timedOut = outstanding;
      result.elu = elu(elu0).utilization;
      resolve(result);
    };
    const maybeDone = () => {
      if (issuing === 0 && outstanding === 0 && performance.now() >= deadline) finish();
    };
    const giveUp = setTimeout(finish, durationMs + ackTimeoutMs);
    // Receivers only: the run is the duration (timers may fire a little early by performance.now()).
    const atDeadline = () => (performance.now() >= deadline ? maybeDone() : setTimeout(atDeadline, deadline - performance.now() + 1));
    setTimeout(atDeadline, durationMs);

    for (const s of senders) {
      const conn = byTag.get(s.tag);
      const acked: Acked = { tag: s.tag, ns: [] };
      result.acked.push(acked);
      if (!conn) {
        issuing--;
        result.errors++;
        sample(result.errorSamples, `sender ${s.tag} is not connected`);
        continue;
      }
      /** Sends message `n`, timed from `fromPerf` (performance.now() time). */
      const send = (fromPerf: number, then: () => void) => {
        const n = nextN++;
        outstanding++;
        const sentAt = performance.now();
        conn.client.send(s.conversationId, TEXTS[textIndex++ % TEXTS.length]!, clientIdOf(s.tag, n, performance.timeOrigin + fromPerf), (ack: Ack) => {
          outstanding--;
          if (ack.ok) {
            acked.ns.push(n);
            const now = performance.now();
            result.ackMs.push(now - fromPerf);
            result.ackFromSendMs.push(now - sentAt);
          } else {
            result.errors++;
            sample(result.errorSamples, ack.error?.code ?? 'error');
          }
          then();
          maybeDone();
        });
      };
      if (s.rate) {
        // Time-driven: message i is due at t0 + i / rate whatever the answers do; latency counts from then.
        const period = 1000 / s.rate;
        const total = Math.floor(durationMs / period);
        const t0 = performance.now() + 5;
        let i = 0;
        const tick = () => {
          const now = performance.now();
          for (; i < total && t0 + i * period <= now; i++) {
            const due = t0 + i * period;
            result.lagMs.push(now - due);
            send(due, () => {});
          }
          if (i < total) setTimeout(tick, Math.max(0, t0 + i * period - performance.now()));
          else {
            issuing--;
            maybeDone();
          }
        };
        setTimeout(tick, 5);
      } else {
        // Ack-driven: `window` lanes, each sends its next message when the previous is answered.
        let lanes = s.window ?? 1;
        const lane = () => {
          if (performance.now() >= deadline) {
            if (--lanes === 0) issuing--;
            return;
          }
          send(performance.now(), lane);
        };
        for (let l = 0, w = lanes; l < w; l++) lane();
      }
    }
  });
}

function collect(ackedLists: Acked[], timeoutMs: number): Promise<CollectResult> {
  const ackedFlags = new Map<number, Uint8Array>();
  for (const a of ackedLists) {
    let max = 0;
    for (const n of a.ns) if (n > max) max = n;
    const flags = new Uint8Array(max + 1);
    for (const n of a.ns) flags[n] = 1;
    ackedFlags.set(a.tag, flags);
  }
  const receivers = conns.filter((c) => c.spec.receives);
  let expected = 0;
  let missing = 0;
  for (const c of receivers) {
    for (const a of ackedLists) {
      if (a.tag === c.spec.tag) continue;
      expected += a.ns.length;
      for (const n of a.ns) if (c.received.count(a.tag, n) === 0) missing++;
    }
  }
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      waiting = null;
      let received = 0;
      let duplicated = 0;
      let unexpected = 0;
      for (const c of receivers) {
        for (const [tag, counts] of c.received.bySender) {
          const flags = ackedFlags.get(tag);
          for (let n = 0; n < counts.length; n++) {
            const k = counts[n]!;
            if (k === 0) continue;
            if (tag !== c.spec.tag && flags?.[n]) {
              received++;
              duplicated += k - 1;
            } else unexpected += k;
          }
        }
        c.received.bySender.clear();
      }
      let markerMoves = 0;
      for (const c of conns) {
        if (!c.markers) continue;
        markerMoves += c.markers.sent.delivered + c.markers.sent.read;
        c.markers.sent.delivered = c.markers.sent.read = 0;
      }
      const r: CollectResult = {
        type: 'collected',
        expected,
        received,
        lost: expected - received,
        duplicated,
        unexpected,
        latencyMs,
        firstAbs,
        lastAbs,
        receipts,
        markerMoves,
        markerMovesFailed,
      };
      receipts = 0;
      markerMovesFailed = 0;
      latencyMs = [];
      firstAbs = Infinity;
      lastAbs = 0;
      resolve(r);
    };
    const timer = setTimeout(done, timeoutMs);
    if (missing === 0) return done();
    waiting = { ackedFlags, missing, done };
  });
}

function closeAll(): CloseResult {
  for (const c of conns) {
    c.markers?.stop();
    c.client.close();
  }
  return { type: 'closed', lost, lostSamples };
}

port.on('message', (c: Command) => {
  const answer = async (): Promise<Reply> => {
    switch (c.cmd) {
      case 'connect':
        return connectAll();
      case 'run':
        return run(c.senders, c.durationMs, c.ackTimeoutMs);
      case 'collect':
        return collect(c.acked, c.timeoutMs);
      case 'close':
        return closeAll();
    }
  };
  // A failure is an unhandled rejection: it ends the worker, and the pool's pending ask() rejects.
  void answer().then(reply);
});
reply({ type: 'ready' });
