/**
 * One conversation under load, the shape the fanout and latency scenarios
 * share: `members` connections in one conversation (Parley: a group, or a
 * direct conversation for two; the relays: one room), the first `senders` of
 * them sending, every member counting what reaches it.
 */
import { cpuWatch, type CpuUse, type ServicePids } from './lib.js';
import { bottleneck, Pool, type RunSummary } from './load/pool.js';
import type { CollectResult } from './load/messages.js';
import { createConversation, protoOf, registerUsers, start, type Proto, type Target } from './servers.js';

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
  /** Parley: every member acknowledges delivery and read as the shipped client does, one move of a kind per this many ms. */
  markerIntervalMs?: number;
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

/** Where a room's load goes: one server, or the nodes of a cluster (member `i` connects to `urls[i mod urls.length]`). */
export interface RoomServers {
  urls: string[];
  /** The server's pid, or each node's. */
  pids: number[];
  /** PostgreSQL and Redis, watched apart (cpuWatch). */
  services?: ServicePids;
  /** Parley (users, a conversation) or a bare relay (a room). */
  parley: boolean;
  proto: Proto;
  /** For error messages. */
  label: string;
  /** Called after the warm-up, right before the measured run (e.g. to reset the database's statistics). */
  beforeMeasure?: () => Promise<void>;
}

/** Sets up the conversation on `target`, connects, runs the load and counts the deliveries. */
export async function loadRoom(target: Target, load: RoomLoad, prefix: string): Promise<RoomResult> {
  const server = await start(target);
  try {
    return await loadRoomOn({ urls: [server.url], pids: [server.pid], parley: target === 'parley', proto: protoOf(target), label: target }, load, prefix);
  } finally {
    await server.stop();
  }
}

/** The same on servers already running: the conversation, the connections, the load and the count. */
export async function loadRoomOn(servers: RoomServers, load: RoomLoad, prefix: string): Promise<RoomResult> {
  const { urls, label } = servers;
  const url = urls[0]!;
  let conversationId = 'room';
  let tokens: (string | undefined)[] = Array.from({ length: load.members }, () => undefined);
  if (servers.parley) {
    const users = await registerUsers(url, prefix, load.members);
    const [owner, ...others] = users;
    conversationId =
      load.members === 2
        ? await createConversation(url, owner!, { type: 'direct', memberIds: [others[0]!.id] })
        : await createConversation(url, owner!, { type: 'group', title: prefix, memberIds: others.map((u) => u.id) });
    tokens = users.map((u) => u.token);
  }
  const pool = await Pool.start({
    proto: servers.proto,
    url,
    workers: load.workers,
    clients: tokens.map((token, tag) => ({
      tag,
      token,
      rooms: [conversationId],
      receives: true,
      url: urls[tag % urls.length],
      ...(servers.parley && load.markerIntervalMs !== undefined ? { markerIntervalMs: load.markerIntervalMs } : {}),
    })),
  });
  const c = await pool.connect();
  if (c.errors) throw new Error(`${prefix} ${label}: ${c.errors} connections failed: ${c.errorSamples.join('; ')}`);
  const senders = Array.from({ length: load.senders }, (_, tag) => ({ tag, conversationId, window: load.window, rate: load.rate }));
  const drainMs = load.drainMs ?? 10_000;

  const warmup = load.warmupSeconds ?? 1;
  if (warmup > 0) await pool.collect((await pool.run(senders, warmup * 1000)).acked, drainMs);

  await servers.beforeMeasure?.();
  const watch = cpuWatch(servers.pids, servers.services);
  const run = await pool.run(senders, load.seconds * 1000);
  const cpu = watch();
  const got = await pool.collect(run.acked, drainMs);
  const closed = await pool.close();
  if (closed.lost) throw new Error(`${prefix} ${label}: ${closed.lost} connections dropped: ${closed.lostSamples.join('; ')}`);
  return { run, got, deliverySeconds: (got.lastAbs - run.startAbs) / 1000, cpu, bottleneck: bottleneck(cpu, run.elu) };
}
