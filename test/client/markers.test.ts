/**
 * The client library's delivered and read markers against a real server
 * (issue 17, receipts that scale with the group): coalesced to one move of a
 * kind per conversation per interval, always ending on the highest seq; a
 * read made while offline is sent once the connection is back, and pending
 * moves leave before stop() disconnects; and in a group whose members
 * acknowledge as the shipped client does, the events written to the members'
 * sockets per message grow with the members, not with their square.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { ParleyClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, http, uniqueName, type TestSocket } from '../helpers/client.js';
import { clientUntil } from '../helpers/client-library.js';

let server: TestServer;
const clients: ParleyClient[] = [];
const sockets: TestSocket[] = [];
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.stop();
  for (const s of sockets.splice(0)) s.close();
});
afterAll(() => server.close());

interface Member {
  client: ParleyClient;
  token: string;
  id: string;
}

async function signUp(opts: { markerIntervalMs?: number } = {}): Promise<Member> {
  const { token, user } = await ParleyClient.register(server.url, { username: uniqueName('mk'), password: 'password123' });
  const client = new ParleyClient({ baseUrl: server.url, token, ackTimeoutMs: 5000, ...opts });
  clients.push(client);
  await client.start();
  await clientUntil(client, () => client.connection === 'online');
  return { client, token, id: user.id };
}

/** A plain socket of the same user, to watch what the server sends. */
async function watch(m: Member): Promise<TestSocket> {
  const s = await connect(server.url, m.token);
  sockets.push(s);
  return s;
}

const socketOf = (client: ParleyClient) => (client as unknown as { socket: Socket }).socket;

/** Every marker move the client puts on the wire, with when. */
function recordMarkerEmits(client: ParleyClient): { event: string; seq: number; at: number }[] {
  const s = socketOf(client);
  const got: { event: string; seq: number; at: number }[] = [];
  const emit = s.emit.bind(s);
  (s as unknown as { emit: (...a: unknown[]) => unknown }).emit = (event: unknown, ...rest: unknown[]) => {
    if (event === 'message:delivered' || event === 'message:read') got.push({ event, seq: (rest[0] as { seq: number }).seq, at: Date.now() });
    return (emit as (...a: unknown[]) => unknown)(event, ...rest);
  };
  return got;
}

/** Marks the conversation read whenever a newer message from someone else is held: what the web client does with an open conversation in view. */
function readLikeTheWebClient(m: Member, conversationId: string): void {
  let readUpTo = 0;
  m.client.subscribe(() => {
    const last = m.client.messages.timeline(conversationId).messages.at(-1);
    if (!last || last.seq <= readUpTo || last.senderId === m.id) return;
    readUpTo = last.seq;
    void m.client.markRead(conversationId, last.seq);
  });
}

const dropConnection = (client: ParleyClient) => (socketOf(client) as unknown as { io: { engine: { close(): void } } }).io.engine.close();

describe('ParleyClient marker moves', () => {
  it('N incoming messages: at most one move of a kind per interval, far fewer than N, and the last seq always sent', async () => {
    const alice = await signUp();
    const interval = 300;
    const bob = await signUp({ markerIntervalMs: interval });
    const conv = await alice.client.createDirect(bob.id);
    await clientUntil(bob.client, () => bob.client.conversations.has(conv.id));
    const watcher = await watch(alice);
    const emits = recordMarkerEmits(bob.client);
    readLikeTheWebClient(bob, conv.id);

    const N = 30;
    const t0 = Date.now();
    for (let i = 1; i <= N; i++) alice.client.send(conv.id, `m${i}`);
    await watcher.waitFor('receipt', (r) => r.userId === bob.id && r.type === 'read' && r.seq === N);
    const elapsed = Date.now() - t0;

    // Reading implies delivery: the reads stand for the delivered moves too.
    const reads = emits.filter((e) => e.event === 'message:read');
    expect(emits.filter((e) => e.event === 'message:delivered' && e.seq > Math.max(0, ...reads.map((r) => r.seq)))).toEqual([]);
    expect(reads.at(-1)!.seq).toBe(N);
    for (let i = 1; i < reads.length; i++) {
      expect(reads[i]!.at - reads[i - 1]!.at, 'the interval between two reads').toBeGreaterThanOrEqual(interval - 2);
      expect(reads[i]!.seq).toBeGreaterThan(reads[i - 1]!.seq);
    }
    expect(reads.length).toBeLessThanOrEqual(2 + Math.floor(elapsed / interval));
    expect(emits.length).toBeLessThan(N);
    // The server holds the last seq: alice's messages all read, bob has nothing unread.
    const listed = await http(server.url, 'GET', `/api/conversations/${conv.id}`, { token: bob.token });
    expect(listed.body.unreadCount).toBe(0);
    await clientUntil(alice.client, () => alice.client.messages.timeline(conv.id).messages.every((m) => m.status === 'read'), 'read ticks at alice');
  });

  it('a read marked while offline is sent once the connection is back', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.client.createDirect(bob.id);
    const watcher = await watch(alice);
    for (let i = 1; i <= 3; i++) alice.client.send(conv.id, `m${i}`);
    await clientUntil(bob.client, () => bob.client.messages.timeline(conv.id).messages.length === 3, 'messages at bob');
    await watcher.waitFor('receipt', (r) => r.userId === bob.id && r.type === 'delivered' && r.seq === 3);

    dropConnection(bob.client);
    expect(bob.client.connection).not.toBe('online');
    const read = bob.client.markRead(conv.id, 3);
    await clientUntil(bob.client, () => bob.client.connection === 'online', 'bob back online');
    await read;
    await watcher.waitFor('receipt', (r) => r.userId === bob.id && r.type === 'read' && r.seq === 3);
  });

  it('stop() sends the moves still waiting for their interval before it disconnects', async () => {
    const alice = await signUp();
    const bob = await signUp({ markerIntervalMs: 60_000 });
    const conv = await alice.client.createDirect(bob.id);
    const watcher = await watch(alice);
    alice.client.send(conv.id, 'one');
    // The first move after a quiet time leaves at once...
    await watcher.waitFor('receipt', (r) => r.userId === bob.id && r.type === 'delivered' && r.seq === 1);
    alice.client.send(conv.id, 'two');
    await clientUntil(bob.client, () => bob.client.messages.timeline(conv.id).messages.length === 2, 'two at bob');
    void bob.client.markRead(conv.id, 2);
    // ...the next waits a minute, unless the client stops.
    bob.client.stop();
    await watcher.waitFor('receipt', (r) => r.userId === bob.id && r.type === 'read' && r.seq === 2);
  });
});

describe('socket writes per message in a group whose members acknowledge as the shipped client does', () => {
  it('are O(members): K messages to M members cost at most 2·M·K events over every member socket, all ticks ending on read', async () => {
    const M = 8;
    const K = 40;
    // One move per conversation per interval: a long one, so the count does not depend on the machine's speed; flushMarkers ends it.
    const members = await Promise.all(Array.from({ length: M }, () => signUp({ markerIntervalMs: 60_000 })));
    const [owner, ...others] = members;
    const g = await owner!.client.createGroup('big', others.map((m) => m.id));
    for (const m of others) await clientUntil(m.client, () => m.client.conversations.has(g.id), 'the group');
    for (const m of others) readLikeTheWebClient(m, g.id);
    const events = new Map<string, number>();
    for (const m of members) socketOf(m.client).onAny((name: string) => events.set(name, (events.get(name) ?? 0) + 1));

    for (let i = 1; i <= K; i++) owner!.client.send(g.id, `m${i}`);
    for (const m of others) await clientUntil(m.client, () => m.client.messages.timeline(g.id).messages.length === K, 'every message');
    for (const m of others) m.client.flushMarkers();
    // Every member has read everything: the owner's ticks all turn to read. (The readers' receipts may
    // overtake the acks of the owner's last sends: the library then takes those ticks from the markers it saw.)
    await clientUntil(owner!.client, () => {
      const ms = owner!.client.messages.timeline(g.id).messages;
      return ms.length === K && ms.every((x) => x.status === 'read');
    }, 'read ticks at the owner', 20_000);
    // Nothing else is on its way: every socket has had every reader's final receipt.
    for (const m of members) {
      await socketOf(m.client).timeout(10_000).emitWithAck('test:barrier');
    }
    const newMessages = events.get('message:new') ?? 0;
    const receipts = events.get('receipt') ?? 0;
    expect(newMessages).toBe(K * (M - 1));
    // Each reader: one move when the first message came, one at the flush; a read that moves both markers is two receipts, to M sockets.
    expect(receipts).toBeLessThanOrEqual((M - 1) * 2 * 2 * M);
    expect(newMessages + receipts).toBeLessThanOrEqual(2 * M * K);
    // What acknowledging each message (a delivered and a read each) would have cost, for scale.
    expect(K * (M - 1) * 2 * M).toBeGreaterThan(5 * (newMessages + receipts));
    const seen = await http(server.url, 'GET', `/api/conversations/${g.id}`, { token: others[0]!.token });
    expect(seen.body.unreadCount).toBe(0);
  });
});
