/**
 * Several nodes: the Redis wiring. The Socket.IO Redis Streams adapter
 * carries every emit to the other nodes (and resumes after a Redis
 * reconnect without losing packets); presence lives in Redis
 * (redis-presence.ts); membership invalidations go to every node, which
 * answer before the write that caused them is answered.
 */
import { randomUUID } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient, type RedisClientType } from 'redis';
import type { MembershipCache } from '../domain/membership.js';
import type { ParleyServer } from './fanout.js';
import { RedisPresence } from './redis-presence.js';
import { RedisBuckets } from './redis-rate-limits.js';

/**
 * After an outage, a node closes its sockets spread over this long (clients
 * reconnect and sync; not all at the same moment).
 */
const RESYNC_SPREAD_MS = 3000;
/** Another node's resync request within this long of this node's last resync is the same outage. */
const RESYNC_DEDUPE_MS = RESYNC_SPREAD_MS;

/** How long a node waits for Redis at start before giving up. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface RedisLink {
  nodeId: string;
  presence: RedisPresence;
  /** Rate-limit buckets shared by every node. */
  buckets: RedisBuckets;
  /** Resolves when Redis answers; rejects at once while it is unreachable. */
  ping(): Promise<void>;
  /** Plugs the adapter into the Socket.IO server, and the membership invalidations into the cache. */
  attach(io: ParleyServer, membership: MembershipCache): void;
  close(): Promise<void>;
}

export interface RedisLinkOptions {
  url: string;
  /** Starts every Redis key and channel of this deployment. */
  prefix: string;
  onError: (err: unknown, what: string) => void;
  /** Redis is back after an outage (what was missed meanwhile must be reread). */
  onReconnect: () => void;
}

function client(url: string, offlineQueue: boolean, onError: (err: unknown) => void): RedisClientType {
  const c = createClient({
    url,
    disableOfflineQueue: !offlineQueue,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) },
  }) as RedisClientType;
  c.on('error', onError);
  return c;
}

/**
 * The client the adapter publishes with. The adapter awaits each XADD before
 * it delivers the packet to this node's own sockets, so while Redis is away
 * a queued XADD would hold local delivery until Redis is back: publishing
 * fails at once instead (this node's sockets get the packet now; other nodes
 * miss it and their clients catch up by sync). Everything else, `duplicate()`
 * above all (the adapter's readers, which should wait for Redis rather than
 * spin), is the client itself, offline queue included.
 */
function failFastPublisher(c: RedisClientType): RedisClientType {
  const unavailable = () => Promise.reject(new Error('redis is not connected: not published'));
  return new Proxy(c, {
    get(target, prop) {
      if ((prop === 'xAdd' || prop === 'publish' || prop === 'sPublish') && !target.isReady) return unavailable;
      if (prop === 'duplicate') return (...args: unknown[]) => quietSubscriber((target.duplicate as (...a: unknown[]) => RedisClientType)(...args));
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** How long a closing node lets a client's QUIT (and the commands queued before it) go out. */
const QUIT_TIMEOUT_MS = 2000;

/**
 * Closes a client without waiting on an unreachable Redis: QUIT is only
 * written once connected, and quitting stops the reconnecting, so a client
 * that is not ready (Redis away, or between reconnects) would wait forever.
 */
async function shut(c: RedisClientType): Promise<void> {
  if (!c.isReady) return void c.destroy();
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      c.destroy();
      resolve();
    }, QUIT_TIMEOUT_MS);
  });
  try {
    await Promise.race([c.quit().then(() => undefined, () => undefined), gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The adapter subscribes without awaiting the answer; a node closed before
 * Redis answered would reject that promise with nobody to hear it (an
 * unhandled rejection ends a Node process). Its subscriptions get a handler.
 */
function quietSubscriber(c: RedisClientType): RedisClientType {
  return new Proxy(c, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'subscribe' && prop !== 'sSubscribe') return bound;
      return (...args: unknown[]) => {
        const answer = bound(...args) as Promise<unknown>;
        answer.catch(() => undefined);
        return answer;
      };
    },
  });
}

async function connect(c: RedisClientType, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis at ${url} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([c.connect(), timeout]);
  } catch (e) {
    c.destroy();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

export async function connectRedis(o: RedisLinkOptions): Promise<RedisLink> {
  const nodeId = randomUUID();
  // The adapter reads through clients that wait for Redis while it is away,
  // and publishes through one that fails at once then (failFastPublisher).
  // Presence and health checks use another client, which fails at once too.
  const stream = client(o.url, true, (e) => o.onError(e, 'redis (fan-out)'));
  const commands = client(o.url, false, (e) => o.onError(e, 'redis (presence)'));
  await connect(stream, o.url);
  try {
    await connect(commands, o.url);
  } catch (e) {
    stream.destroy();
    throw e;
  }
  const presence = new RedisPresence({ client: commands, nodeId, prefix: o.prefix, onError: (e) => o.onError(e, 'presence') });
  await presence.start();
  let connectedOnce = false;
  commands.on('ready', () => {
    if (!connectedOnce) return void (connectedOnce = true);
    // Sockets may have come and gone while Redis was away: write this node's
    // presence back whole, and settle everyone it touched.
    presence.restore().catch((e: unknown) => o.onError(e, 'presence'));
    o.onReconnect();
  });
  connectedOnce = true;
  let attached: ParleyServer | undefined;
  let resyncedAt = -Infinity;
  /**
   * Events published while Redis was away reached no other node, so every
   * client of the cluster may have missed some. Each node closes its
   * sockets' connections (as a restart would; not a Socket.IO disconnect,
   * after which clients would not come back by themselves): clients
   * reconnect and run `sync`, which the contract asks of them.
   */
  const resync = (fromAnotherNode: boolean) => {
    if (!attached || (fromAnotherNode && Date.now() - resyncedAt < RESYNC_DEDUPE_MS)) return;
    resyncedAt = Date.now();
    for (const socket of attached.of('/').sockets.values()) {
      setTimeout(() => socket.conn.close(), Math.random() * RESYNC_SPREAD_MS).unref();
    }
  };
  let streamWasReady = true;
  stream.on('ready', () => {
    if (streamWasReady) return;
    streamWasReady = true;
    attached?.serverSideEmit('parley:resync');
    resync(false);
  });
  stream.on('end', () => (streamWasReady = false));
  stream.on('reconnecting', () => (streamWasReady = false));

  const buckets = new RedisBuckets(commands, o.prefix, (e) => o.onError(e, 'rate limits'));
  return {
    nodeId,
    presence,
    buckets,
    async ping() {
      await commands.ping();
    },
    attach(io, membership) {
      attached = io;
      io.adapter(createAdapter(failFastPublisher(stream), { streamName: `${o.prefix}:stream`, channelPrefix: `${o.prefix}:sio`, maxLen: 100_000 }));
      io.on('parley:membership', (conversationId, done) => {
        membership.forget(conversationId);
        done(true);
      });
      io.on('parley:resync', () => resync(true));
    },
    async close() {
      // The adapter says this node is gone (else the others wait for its
      // answers until its heartbeat times out) and stops its own clients.
      await attached?.of('/').adapter.close();
      await presence.close();
      buckets.close();
      await Promise.allSettled([shut(stream), shut(commands)]);
    },
  };
}

/** The broadcast of a membership invalidation (MembershipCacheOptions.broadcast) over the adapter. */
export function broadcastInvalidation(io: ParleyServer, onError: (err: unknown) => void): (conversationId: string) => Promise<void> {
  return async (conversationId) => {
    // The adapter waits up to 5 s for the answers of the nodes it knows.
    try {
      await io.serverSideEmitWithAck('parley:membership', conversationId);
    } catch (err) {
      // A node that does not answer in time is dead or cut off from Redis:
      // it rereads memberships within the cache's maxAge.
      onError(err);
    }
  };
}
