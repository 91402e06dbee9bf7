/**
 * Catch-up: user B is offline while user A sends 1,000 messages into their
 * direct conversation (each acknowledged, so durable); B reconnects and
 * recovers them with `sync` from its cursor, calling again while `hasMore`.
 * Time from B's socket being connected to having all of them, over
 * repetitions, for the largest page (`limit` 1000) and the default (100);
 * and exactness: the seqs B recovers are exactly the ones A's acks named,
 * none missing, none twice.
 *
 *   npm run build && npx tsx bench/catchup.ts [--messages 1000] [--reps 20] [--limits 1000,100]
 */
import { io, type Socket } from 'socket.io-client';
import { cpuWatch, machine, numberArg, printRow, printTarget, round2, stringArg, tail } from './lib.js';
import { createConversation, registerUsers, startParley } from './servers.js';
import { sentences } from './text.js';

const MESSAGES = numberArg('messages', 1000);
const REPS = numberArg('reps', 20);
const PAGE_LIMITS = stringArg('limits', '1000,100').split(',').map(Number);
/** Sends in flight while A writes the backlog (the server allows 64 per socket). */
const WINDOW = 32;

interface Message {
  conversationId: string;
  seq: number;
  rev: number;
}
type Ack<T> = ({ ok: true } & T) | { ok: false; error: { code: string; message: string } };

function connectAs(url: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** A sends `n` messages, `WINDOW` in flight; resolves with the seqs the acks name. */
function sendBacklog(socket: Socket, conversationId: string, n: number, text: () => string, tag: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const seqs: number[] = [];
    let issued = 0;
    const next = () => {
      if (issued === n) return;
      const clientId = `${tag}-${issued++}`;
      socket.timeout(30_000).emit('message:send', { conversationId, content: text(), clientId }, (err: Error | null, ack: Ack<{ message: Message }>) => {
        if (err) return reject(err);
        if (!ack.ok) return reject(new Error(`message:send: ${ack.error.code} ${ack.error.message}`));
        seqs.push(ack.message.seq);
        if (seqs.length === n) resolve(seqs);
        else next();
      });
    };
    for (let i = 0; i < Math.min(WINDOW, n); i++) next();
  });
}

async function main() {
  console.log(`# catchup on ${machine()}: ${MESSAGES} messages missed, ${REPS} repetitions per page limit (${PAGE_LIMITS.join(', ')})`);
  const server = await startParley();
  try {
    const [a, b] = await registerUsers(server.url, 'catchup', 2);
    const conversationId = await createConversation(server.url, a!, { type: 'direct', memberIds: [b!.id] });
    const sender = await connectAs(server.url, a!.token);
    const text = sentences(7, { bytes: 100 });
    let cursor = 0; // the highest rev B has applied
    let tag = 0;

    for (const limit of PAGE_LIMITS) {
      const recoverMs: number[] = [];
      const connectMs: number[] = [];
      let calls = 0;
      let missing = 0;
      let duplicated = 0;
      let extra = 0;
      let recovered = 0;
      const watch = cpuWatch(server.pid);
      for (let rep = 0; rep < REPS; rep++) {
        // B is offline: A writes the backlog.
        const sent = await sendBacklog(sender, conversationId, MESSAGES, text, `r${tag++}`);
        // B comes back and syncs from its cursor until nothing more.
        const t0 = performance.now();
        const socket = await connectAs(server.url, b!.token);
        const t1 = performance.now();
        const got: number[] = [];
        for (;;) {
          const ack = (await socket.timeout(30_000).emitWithAck('sync', { cursors: { [conversationId]: cursor }, limit })) as Ack<{ messages: Message[]; hasMore: boolean }>;
          calls++;
          if (!ack.ok) throw new Error(`sync: ${ack.error.code} ${ack.error.message}`);
          for (const m of ack.messages) {
            if (m.conversationId !== conversationId) continue;
            got.push(m.seq);
            if (m.rev > cursor) cursor = m.rev;
          }
          if (!ack.hasMore) break;
        }
        recoverMs.push(performance.now() - t1);
        connectMs.push(t1 - t0);
        socket.disconnect();
        // Exactly the acknowledged seqs, each once.
        const expected = new Set(sent);
        const seen = new Set<number>();
        for (const seq of got) {
          if (seen.has(seq)) duplicated++;
          else if (!expected.has(seq)) extra++;
          seen.add(seq);
        }
        for (const seq of expected) if (!seen.has(seq)) missing++;
        recovered += seen.size;
      }
      const cpu = watch();
      const r = tail(recoverMs);
      const c = tail(connectMs);
      printRow(`catchup parley (sync limit ${limit})`, {
        messages: MESSAGES,
        reps: REPS,
        recoverP50: r.p50,
        recoverP99: r.p99,
        recoverMax: r.max,
        connectP50: c.p50,
        syncCallsPerRep: round2(calls / REPS),
        recovered,
        missing,
        duplicated,
        extra,
        otherCpu: cpu.otherCpu,
      });
      printTarget(`catchup (sync limit ${limit})`, `all ${MESSAGES} recovered in <= 100 ms (p99), exactly`, r.p99, r.p99 <= 100 && missing + duplicated + extra === 0);
    }
    sender.disconnect();
  } finally {
    await server.stop();
  }
}

await main();
process.exit(0);
