/**
 * The client library against a real server: optimistic sends reconciled by
 * clientId, a network loss with catch-up through sync, and messages typed
 * while offline sent exactly once when the connection is back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { http, uniqueName } from '../helpers/client.js';
import { clientUntil } from '../helpers/client-library.js';

let server: TestServer;
const clients: ParleyClient[] = [];
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.stop();
});
afterAll(() => server.close());

async function signUp(): Promise<ParleyClient> {
  const { token } = await ParleyClient.register(server.url, { username: uniqueName('cl'), password: 'password123' });
  const client = new ParleyClient({ baseUrl: server.url, token, ackTimeoutMs: 5000 });
  clients.push(client);
  await client.start();
  await clientUntil(client, () => client.connection === 'online');
  return client;
}


/** Cuts the client's connection the way a network loss does (it reconnects by itself). */
function dropConnection(client: ParleyClient): void {
  (client as unknown as { socket: { io: { engine: { close(): void } } } }).socket.io.engine.close();
}

const contents = (client: ParleyClient, id: string) => client.messages.timeline(id).messages.map((m) => m.content);

describe('ParleyClient', () => {
  it('shows a send at once, then the stored message, and the other side receives it', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    await clientUntil(bob, () => bob.conversations.has(conv.id), 'conversation:new at bob');
    const clientId = alice.send(conv.id, 'hello bob');
    expect(alice.messages.timeline(conv.id).pending.map((p) => p.clientId)).toEqual([clientId]);
    await clientUntil(alice, () => alice.messages.timeline(conv.id).pending.length === 0, 'the ack');
    expect(alice.messages.timeline(conv.id).messages).toMatchObject([{ clientId, content: 'hello bob', seq: 1 }]);
    await clientUntil(bob, () => contents(bob, conv.id).includes('hello bob'), 'message:new at bob');
    expect(bob.conversations.get(conv.id)?.unreadCount).toBe(1);
  });

  it('replies and reactions: a reply carries its quote; a reaction reaches the other side live (message:updated)', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    await clientUntil(bob, () => bob.conversations.has(conv.id), 'conversation:new at bob');
    alice.send(conv.id, 'lunch?');
    await clientUntil(bob, () => contents(bob, conv.id).includes('lunch?'), 'the question at bob');
    const question = bob.messages.timeline(conv.id).messages[0]!;
    bob.send(conv.id, 'yes', { replyToId: question.id });
    await clientUntil(alice, () => contents(alice, conv.id).includes('yes'), 'the reply at alice');
    const reply = alice.messages.timeline(conv.id).messages.find((m) => m.content === 'yes')!;
    expect(reply.replyTo).toEqual({ id: question.id, seq: 1, senderId: alice.me!.id, preview: 'lunch?', deleted: false });
    // The quote follows its target's edit (the client updates it from the target's message:updated).
    await alice.edit(question.id, 'lunch at noon?');
    const quote = () => bob.messages.timeline(conv.id).messages.find((m) => m.id === reply.id)?.replyTo?.preview;
    await clientUntil(bob, () => quote() === 'lunch at noon?', 'the quote updated at bob');
    const reacted = await alice.react(reply.id, '👍');
    expect(reacted.reactions).toEqual([{ emoji: '👍', count: 1, userIds: [alice.me!.id] }]);
    const seen = () => bob.messages.timeline(conv.id).messages.find((m) => m.id === reply.id)?.reactions ?? [];
    await clientUntil(bob, () => seen().length === 1, 'the reaction at bob');
    expect((await alice.unreact(reply.id, '👍')).reactions).toEqual([]);
    await clientUntil(bob, () => seen().length === 0, 'the removal at bob');
  });

  it('uploads a file with progress and sends it; the other side gets it with a link of its own', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    await clientUntil(bob, () => bob.conversations.has(conv.id), 'conversation:new at bob');
    const bytes = new TextEncoder().encode('minutes of the meeting');
    const progress: [number, number][] = [];
    const file = await alice.upload(conv.id, new Blob([bytes]), 'minutes.txt', { onProgress: (sent, total) => progress.push([sent, total]) });
    expect(file).toMatchObject({ name: 'minutes.txt', size: bytes.length, mime: 'application/octet-stream' });
    expect(progress.at(0)).toEqual([0, bytes.length]);
    expect(progress.at(-1)).toEqual([bytes.length, bytes.length]);
    alice.send(conv.id, '', { attachmentIds: [file.id] });
    await clientUntil(bob, () => bob.messages.timeline(conv.id).messages.some((m) => m.attachments.length > 0), 'the file at bob');
    const got = bob.messages.timeline(conv.id).messages.find((m) => m.attachments.length > 0)!.attachments[0]!;
    const res = await fetch(server.url + got.url);
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    // a cancelled upload rejects
    const ac = new AbortController();
    ac.abort();
    await expect(alice.upload(conv.id, new Blob([bytes]), 'x.txt', { signal: ac.signal })).rejects.toMatchObject({ code: 'network' });
    // the server's refusal comes back as a ParleyError
    await expect(alice.upload('c99999999', new Blob([bytes]), 'x.txt')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('notification settings: a level and a mute per conversation (the other device follows), previews, the push key and a subscription', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    // alice's second device: the same account, signed in with its own token
    const { token } = (alice as unknown as { o: { token: string } }).o;
    const laptop = new ParleyClient({ baseUrl: server.url, token, ackTimeoutMs: 5000 });
    clients.push(laptop);
    await laptop.start();
    await clientUntil(laptop, () => laptop.connection === 'online' && laptop.conversations.has(conv.id), 'the laptop online');
    const until = new Date(Date.now() + 3_600_000);
    const c = await alice.setNotifications(conv.id, { level: 'mentions', mutedUntil: until });
    expect(c.notifications).toEqual({ level: 'mentions', mutedUntil: until.toISOString() });
    await clientUntil(laptop, () => laptop.conversations.get(conv.id)?.notifications.level === 'mentions', 'the laptop follows');
    expect(await alice.notificationPreviews()).toBe(true);
    expect(await alice.setNotificationPreviews(false)).toBe(false);
    expect(Buffer.from(await alice.pushKey(), 'base64url')).toHaveLength(65);
    // An endpoint not on PUSH_ENDPOINT_HOSTS is refused, as the server's tests show in full.
    await expect(alice.subscribePush({ endpoint: 'https://push.example.invalid/x', keys: { p256dh: 'a', auth: 'b' } })).rejects.toMatchObject({ code: 'validation' });
    await expect(alice.unsubscribePush('https://push.example.invalid/x')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('logout ends the session on the server: the token is refused afterwards', async () => {
    const alice = await signUp();
    const { token } = (alice as unknown as { o: { token: string } }).o;
    await alice.logout();
    const r = await fetch(`${server.url}/api/users/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
  });

  it('after a network loss, catches up through sync: every missed message once, in order', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    await bob.open(conv.id);
    alice.send(conv.id, 'before');
    await clientUntil(bob, () => contents(bob, conv.id).includes('before'));

    dropConnection(bob);
    await clientUntil(bob, () => bob.connection !== 'online', 'bob noticing the loss');
    // While bob is away (his client reconnects by itself), alice sends more over REST-free sockets.
    for (let i = 1; i <= 5; i++) alice.send(conv.id, `while away ${i}`);
    await clientUntil(alice, () => alice.messages.timeline(conv.id).pending.length === 0);
    await clientUntil(bob, () => bob.connection === 'online' && contents(bob, conv.id).length === 6, 'bob caught up');
    expect(contents(bob, conv.id)).toEqual(['before', 'while away 1', 'while away 2', 'while away 3', 'while away 4', 'while away 5']);
    expect(bob.messages.timeline(conv.id).messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('the first connect catches up too: a message committed between the conversation list and the socket join is not missed', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    alice.send(conv.id, 'listed');
    await clientUntil(alice, () => alice.messages.timeline(conv.id).pending.length === 0);
    // Bob's second device: alice's next message is committed after its list is loaded and before its socket joins.
    const token = (bob as unknown as { o: { token: string } }).o.token;
    const device = new ParleyClient({ baseUrl: server.url, token, ackTimeoutMs: 5000 });
    clients.push(device);
    const list = device.refreshConversations.bind(device);
    let calls = 0;
    device.refreshConversations = async () => {
      await list();
      if (calls++ > 0) return;
      expect(device.conversations.get(conv.id)?.lastSeq).toBe(1);
      alice.send(conv.id, 'in the gap');
      await clientUntil(alice, () => alice.messages.timeline(conv.id).pending.length === 0, 'the ack of the gap message');
    };
    await device.start();
    await clientUntil(device, () => device.connection === 'online', 'the device online');
    expect(device.conversations.get(conv.id)).toMatchObject({ lastSeq: 2, unreadCount: 2, lastMessage: { content: 'in the gap' } });
    expect(contents(device, conv.id)).toEqual(['listed', 'in the gap']); // the list's last message, then sync's: no history loaded yet
    await device.open(conv.id);
    expect(contents(device, conv.id)).toEqual(['listed', 'in the gap']);
    // And live afterwards, once.
    alice.send(conv.id, 'live');
    await clientUntil(device, () => contents(device, conv.id).includes('live'), 'the live message');
    expect(contents(device, conv.id)).toEqual(['listed', 'in the gap', 'live']);
  });

  it('messages typed while offline are sent once the connection is back, exactly once', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    await alice.open(conv.id);
    dropConnection(alice);
    await clientUntil(alice, () => alice.connection !== 'online');
    alice.send(conv.id, 'typed offline 1');
    alice.send(conv.id, 'typed offline 2');
    await clientUntil(alice, () => alice.connection === 'online' && alice.messages.timeline(conv.id).pending.length === 0, 'the outbox flushed');
    const history = await http(server.url, 'GET', `/api/conversations/${conv.id}/messages`, { token: (bob as unknown as { o: { token: string } }).o.token });
    expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual(['typed offline 1', 'typed offline 2']);
  });

  it('a send the server refuses for good is marked failed, with its clientId kept for a retry', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    const clientId = alice.send(conv.id, 'x'.repeat(4001));
    await clientUntil(alice, () => alice.messages.timeline(conv.id).pending[0]?.state === 'failed', 'the failure');
    expect(alice.messages.timeline(conv.id).pending[0]).toMatchObject({ clientId, state: 'failed' });
  });
});

describe('ParleyClient and server restarts', () => {
  it('reconnects by itself after the server ends its connection, and catches up', async () => {
    const { tempDir } = await import('../helpers/server.js');
    const dataDir = tempDir();
    let own = await startServer({ dataDir });
    const port = Number(new URL(own.url).port);
    const { token } = await ParleyClient.register(own.url, { username: uniqueName('rs'), password: 'password123' });
    const other = await ParleyClient.register(own.url, { username: uniqueName('rs'), password: 'password123' });
    const client = new ParleyClient({ baseUrl: own.url, token, ackTimeoutMs: 5000 });
    clients.push(client);
    await client.start();
    await clientUntil(client, () => client.connection === 'online');
    const conv = await client.createDirect(other.user.id);
    await client.open(conv.id);
    await own.close(); // a graceful stop ends every socket from the server's side
    await clientUntil(client, () => client.connection !== 'online');
    own = await startServer({ dataDir, port });
    try {
      // a message sent while the client was away arrives through the catch-up
      const s = await (await import('../helpers/client.js')).connect(own.url, other.token);
      await s.send(conv.id, 'after the restart');
      s.close();
      await clientUntil(client, () => client.connection === 'online' && contents(client, conv.id).includes('after the restart'), 'reconnect and catch-up');
    } finally {
      client.stop();
      await own.close();
    }
  });

  it('says `unauthorized` when the token is refused', async () => {
    const client = new ParleyClient({ baseUrl: server.url, token: 'not-a-token' });
    clients.push(client);
    (client as unknown as { socket: { connect(): void } }).socket.connect();
    await clientUntil(client, () => client.connection === 'unauthorized');
  });
});

describe('ParleyClient paging and housekeeping', () => {
  it('loadNewer fills forward from a seq; discard forgets a failed send; presence keeps lastSeenAt', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const conv = await alice.createDirect(bob.me!.id);
    const s = await (await import('../helpers/client.js')).connect(server.url, (bob as unknown as { o: { token: string } }).o.token);
    for (let i = 1; i <= 60; i++) await s.send(conv.id, `m${i}`);
    s.close();
    alice.messages.drop(conv.id); // as if nothing had been loaded
    expect(await alice.loadNewer(conv.id, 0)).toBe(true);
    expect(alice.messages.timeline(conv.id).contiguousTo).toBe(50);
    expect(await alice.loadNewer(conv.id, 50)).toBe(false);
    expect(alice.messages.timeline(conv.id).messages.map((m) => m.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));

    const clientId = alice.send(conv.id, 'x'.repeat(4001));
    await clientUntil(alice, () => alice.messages.timeline(conv.id).pending[0]?.state === 'failed');
    alice.discard(conv.id, clientId);
    expect(alice.messages.timeline(conv.id).pending).toEqual([]);

    await clientUntil(alice, () => alice.lastSeen.get(bob.me!.id) !== undefined);
    bob.stop();
    await clientUntil(alice, () => alice.online.get(bob.me!.id) === false, 'bob offline');
    expect(alice.lastSeen.get(bob.me!.id)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});
