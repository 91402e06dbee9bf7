/**
 * Presence shared by every node through Redis (Centrifugo's presence with a
 * TTL, in Parley's terms); every key starts with the deployment's prefix
 * (REDIS_PREFIX, `parley` by default):
 * - `parley:presence:{user}` is a hash: node id -> sockets of the user on that
 *   node, and `announced` -> '1' while the last announcement said online;
 * - `parley:node:{node}` exists while the node lives: set with a TTL that the
 *   node renews; `parley:nodes` lists the nodes, `parley:node-users:{node}`
 *   the users with sockets there.
 * A user is online while a living node counts a socket of theirs. Deciding
 * what to announce is one script (atomic in Redis), so each change is
 * announced once for the whole cluster, by the node whose socket event or
 * sweep made it. A node that dies stops renewing its key; within
 * NODE_TTL_MS + SWEEP_MS another node claims it (SREM answers 1 to one
 * node only), drops its counts and settles its users, who go offline unless
 * they reconnected elsewhere.
 */
import type { RedisClientType } from 'redis';
import type { PresenceRegistry } from '../domain/presence.js';
import { RedisScript } from './redis-script.js';

/** A node's key lives this long unless renewed. */
export const NODE_TTL_MS = 15_000;
/** How often a node renews its key and looks for dead nodes. */
export const SWEEP_MS = 5_000;


/** Is anyone of this hash's nodes alive with a socket? (KEYS[1] the hash, ARGV[1] the node key prefix) */
const ONLINE_LUA = `
local function online(key, prefix)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local f = fields[i]
    if f ~= 'announced' and tonumber(fields[i + 1]) > 0 and redis.call('EXISTS', prefix .. f) == 1 then return true end
  end
  return false
end
`;

const ADD_LUA = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[3]))
redis.call('SADD', KEYS[2], ARGV[2])
return n
`;

const REMOVE_LUA = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
return n
`;

/**
 * Claims a dead node (KEYS[1] its key, KEYS[2] the node list, KEYS[3] its
 * user list; ARGV[1] its id, ARGV[2] the presence key prefix): only while its
 * key is still absent, so a node that came back (it sets its key first)
 * keeps what it restores. Answers the users whose counts it dropped.
 */
const SWEEP_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {} end
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return {} end
local users = redis.call('SMEMBERS', KEYS[3])
for i = 1, #users do redis.call('HDEL', ARGV[2] .. users[i], ARGV[1]) end
redis.call('DEL', KEYS[3])
return users
`;

/** -1: nothing to announce; 1: announce online; 0: announce offline. */
const SETTLE_LUA = `${ONLINE_LUA}
local now = online(KEYS[1], ARGV[1])
local said = redis.call('HGET', KEYS[1], 'announced') == '1'
if now == said then return -1 end
if now then
  redis.call('HSET', KEYS[1], 'announced', '1')
  return 1
end
redis.call('DEL', KEYS[1])
return 0
`;

/** The user's sockets on living nodes (KEYS[1] the hash, ARGV[1] the node key prefix). */
const SOCKET_COUNT_LUA = `
local fields = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #fields, 2 do
  local f = fields[i]
  if f ~= 'announced' and redis.call('EXISTS', ARGV[1] .. f) == 1 then n = n + math.max(0, tonumber(fields[i + 1])) end
end
return n
`;

const ONLINE_AMONG_LUA = `${ONLINE_LUA}
local out = {}
for i = 1, #KEYS do out[i] = online(KEYS[i], ARGV[1]) and 1 or 0 end
return out
`;

const SCRIPTS = {
  ADD: new RedisScript(ADD_LUA),
  REMOVE: new RedisScript(REMOVE_LUA),
  SWEEP: new RedisScript(SWEEP_LUA),
  SETTLE: new RedisScript(SETTLE_LUA),
  SOCKET_COUNT: new RedisScript(SOCKET_COUNT_LUA),
  ONLINE_AMONG: new RedisScript(ONLINE_AMONG_LUA),
};

export interface RedisPresenceOptions {
  /** A client for presence alone, with its offline queue disabled: a command fails at once while Redis is down. */
  client: RedisClientType;
  nodeId: string;
  /** Starts every key (several deployments may share one Redis). */
  prefix: string;
  onError: (err: unknown) => void;
}

export class RedisPresence implements PresenceRegistry {
  /** This node's sockets per user: what it restores into Redis after Redis lost it. */
  private readonly local = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  onOrphans?: (userIds: readonly string[]) => void;
  private readonly presenceKey: (userId: string) => string;
  private readonly nodeKeyPrefix: string;
  private readonly nodeUsersKey: (nodeId: string) => string;
  private readonly nodes: string;

  constructor(private readonly o: RedisPresenceOptions) {
    const p = `${o.prefix}:`;
    this.presenceKey = (userId) => `${p}presence:${userId}`;
    this.nodeKeyPrefix = `${p}node:`;
    this.nodeUsersKey = (nodeId) => `${p}node-users:${nodeId}`;
    this.nodes = `${p}nodes`;
  }

  private run(script: RedisScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    return script.run(this.o.client, keys, args);
  }

  /** Registers the node and starts renewing it and sweeping dead ones. */
  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => {
      this.renew()
        .then(() => this.sweep())
        .catch(this.o.onError);
    }, SWEEP_MS);
    this.timer.unref();
  }

  /**
   * Keeps the node's key alive. If the node had been taken for dead (Redis
   * restarted empty, or this process stalled past the TTL and was swept),
   * its state is written back (restore).
   */
  async renew(): Promise<void> {
    const { client, nodeId } = this.o;
    await client.set(this.nodeKeyPrefix + nodeId, '1', { PX: NODE_TTL_MS });
    if ((await client.sAdd(this.nodes, nodeId)) === 1 && this.local.size > 0) await this.restore();
  }

  /**
   * Writes this node's whole state into Redis: after Redis lost it, or after
   * a time in which this node's socket counts could not reach Redis (sockets
   * came and went during an outage). Every user it touches is settled.
   */
  async restore(): Promise<void> {
    const { client, nodeId } = this.o;
    await client.set(this.nodeKeyPrefix + nodeId, '1', { PX: NODE_TTL_MS });
    await client.sAdd(this.nodes, nodeId);
    const listed = await client.sMembers(this.nodeUsersKey(nodeId));
    const touched = [...new Set([...listed, ...this.local.keys()])];
    await Promise.all(
      touched.map((userId) => {
        const n = this.local.get(userId);
        return n
          ? Promise.all([client.hSet(this.presenceKey(userId), nodeId, String(n)), client.sAdd(this.nodeUsersKey(nodeId), userId)])
          : Promise.all([client.hDel(this.presenceKey(userId), nodeId), client.sRem(this.nodeUsersKey(nodeId), userId)]);
      }),
    );
    if (touched.length) this.onOrphans?.(touched);
  }

  /** Claims the nodes whose key expired, drops their counts, and settles their users. */
  async sweep(): Promise<void> {
    const { client, nodeId } = this.o;
    for (const other of await client.sMembers(this.nodes)) {
      if (other === nodeId || (await client.exists(this.nodeKeyPrefix + other)) === 1) continue;
      const users = (await this.run(SCRIPTS.SWEEP, [this.nodeKeyPrefix + other, this.nodes, this.nodeUsersKey(other)], [other, this.presenceKey('')])) as string[];
      if (users.length) this.onOrphans?.(users);
    }
  }

  async add(userId: string): Promise<boolean> {
    const n = (this.local.get(userId) ?? 0) + 1;
    this.local.set(userId, n);
    await this.run(SCRIPTS.ADD, [this.presenceKey(userId), this.nodeUsersKey(this.o.nodeId)], [this.o.nodeId, userId, 1]);
    return n === 1;
  }

  async remove(userId: string): Promise<boolean> {
    const n = (this.local.get(userId) ?? 0) - 1;
    if (n > 0) this.local.set(userId, n);
    else this.local.delete(userId);
    await this.run(SCRIPTS.REMOVE, [this.presenceKey(userId), this.nodeUsersKey(this.o.nodeId)], [this.o.nodeId, userId]);
    return n <= 0;
  }

  async settle(userId: string): Promise<boolean | null> {
    const r = Number(await this.run(SCRIPTS.SETTLE, [this.presenceKey(userId)], [this.nodeKeyPrefix]));
    return r === -1 ? null : r === 1;
  }

  async socketCount(userId: string): Promise<number> {
    try {
      return Number(await this.run(SCRIPTS.SOCKET_COUNT, [this.presenceKey(userId)], [this.nodeKeyPrefix]));
    } catch (err) {
      this.o.onError(err);
      return this.local.get(userId) ?? 0;
    }
  }

  async onlineAmong(userIds: Iterable<string>): Promise<Set<string>> {
    const ids = [...new Set(userIds)];
    if (ids.length === 0) return new Set();
    let flags: number[];
    try {
      flags = (await this.run(SCRIPTS.ONLINE_AMONG, ids.map(this.presenceKey), [this.nodeKeyPrefix])) as number[];
    } catch (err) {
      // Redis is unreachable: answer what this node knows (its own sockets)
      // rather than fail every read that shows presence (sync, conversation
      // lists, accounts) for the length of the outage.
      this.o.onError(err);
      return new Set(ids.filter((id) => this.local.has(id)));
    }
    return new Set(ids.filter((_, i) => Number(flags[i]) === 1));
  }

  /** Stops renewing; the node's sockets are gone, so its counts go too (a graceful stop). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const { client, nodeId } = this.o;
    await client.del(this.nodeKeyPrefix + nodeId).catch(() => undefined);
  }
}
