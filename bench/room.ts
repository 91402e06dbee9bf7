/**
 * One conversation under load, the shape the fanout and latency scenarios
 * share: `members` connections in one conversation (Parley: a group, or a
 * direct conversation for two; the relays: one room), the first `senders` of
 * them sending, every member counting what reaches it.
 */
import { cpuWatch, type CpuUse } from './lib.js';
import { bottleneck, Pool, type RunSummary } from './load/pool.js';
import type { CollectResult } from './load/messages.js';
import { createConversation, protoOf, registerUsers, start, type Target } from './servers.js';

export interface RoomLoad {
  members: number;
  senders: number;
  /** Ack-driven: messages in flight per sender. */
  window?: number;
  /** Time-driven: messages per second per sender. */
  rate?: number;
  seconds: number;
  /** An unmeasured run first (JIT, caches); default 1 s. */
  warmupSeconds?: number;
  workers: number;
  /** How long to wait for the last deliveries after the last ack (default 10 s). */
  drainMs?: number;
}

export interface RoomResult {
  run: RunSummary;
  got: Omit<CollectResult, 'type'>;
  /** From the start of the run to the last delivery. */
  deliverySeconds: number;
  cpu: CpuUse;
  /** What most likely limited the run (load/pool.ts bottleneck()). */
  bottleneck: string;
}

/** Sets up the conversation on `target`, connects, runs the load and counts the deliveries. */
export async function loadRoom(target: Target, load: RoomLoad, prefix: string): Promise<RoomResult> {
  const server = await start(target);
  try {
    let conversationId = 'room';
    let tokens: (string | undefined)[] = Array.from({ length: load.members }, () => undefined);
    if (target === 'parley') {
      const users = await registerUsers(server.url, prefix, load.members);
      const [owner, ...others] = users;
      conversationId =
        load.members === 2
          ? await createConversation(server.url, owner!, { type: 'direct', memberIds: [others[0]!.id] })
          : await createConversation(server.url, owner!, { type: 'group', title: prefix, memberIds: others.map((u) => u.id) });
      tokens = users.map((u) => u.token);
    }
    const pool = await Pool.start({
      proto: protoOf(target),
      url: server.url,
      workers: load.workers,
      clients: tokens.map((token, tag) => ({ tag, token, rooms: [conversationId], receives: true })),
    });
    const c = await pool.connect();
    if (c.errors) throw new Error(`${prefix} ${target}: ${c.errors} connections failed: ${c.errorSamples.join('; ')}`);
    const senders = Array.from({ length: load.senders }, (_, tag) => ({ tag, conversationId, window: load.window, rate: load.rate }));
    const drainMs = load.drainMs ?? 10_000;

    const warmup = load.warmupSeconds ?? 1;
    if (warmup > 0) await pool.collect((await pool.run(senders, warmup * 1000)).acked, drainMs);

    const watch = cpuWatch(server.pid);
    const run = await pool.run(senders, load.seconds * 1000);
    const cpu = watch();
    const got = await pool.collect(run.acked, drainMs);
    const closed = await pool.close();
    if (closed.lost) throw new Error(`${prefix} ${target}: ${closed.lost} connections dropped: ${closed.lostSamples.join('; ')}`);
    return { run, got, deliverySeconds: (got.lastAbs - run.startAbs) / 1000, cpu, bottleneck: bottleneck(cpu, run.elu) };
  } finally {
    await server.stop();
  }
}
