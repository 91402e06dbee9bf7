/**
 * Three server processes (`node dist/main.js`, what `npm start` runs) on one
 * PostgreSQL database and one Redis: clients on different nodes chat and see
 * each other's typing, receipts and presence; seqs stay 1..N whatever node a
 * send goes through; a membership change holds on every node at once; and a
 * node killed with SIGKILL loses nothing that was acknowledged.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClient } from '../../src/client/index.js';
import { connect, group, http, register, type Account, type TestSocket } from '../helpers/client.js';
import { startProcess, type ServerProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/server.js';
import { createDatabase, postgresOrSkip, redisOrSkip } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { clientUntil } from '../helpers/client-library.js';
import { PushService } from '../helpers/push-service.js';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const pgAdmin = postgresOrSkip();
const redisUrl = redisOrSkip();

describe.skipIf(!pgAdmin || !redisUrl)('a cluster of three nodes on PostgreSQL and Redis', () => {
  const nodes: ServerProcess[] = [];
  let drop: () => Promise<void> = async () => {};
  const sockets: TestSocket[] = [];
  const clients: ParleyClient[] = [];
  const url = (i: number) => (nodes[i] as ServerProcess).url;
  /** What every node's offline notifications POST (NOTIFY_WEBHOOK_URL). */
  const hooks: { recipient: { id: string }; message: { id: string } }[] = [];
  let hookWaiters: (() => void)[] = [];
  const receiver: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      hooks.push(JSON.parse(raw));
      res.statusCode = 204;
      res.end();
      for (const w of hookWaiters.splice(0)) w();
    });
  });
  const hooked = async (pred: (h: (typeof hooks)[number]) => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!hooks.some(pred)) {
      if (Date.now() > deadline) throw new Error(`no such notification among ${JSON.stringify(hooks)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        hookWaiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  };
  const port = (i: number) => Number(new URL(url(i)).port);
  /** A Web Push service over TLS: the nodes trust its CA through NODE_EXTRA_CA_CERTS, as an operator's proxy CA would be. */
  let pushService: PushService;
  let databaseUrl = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    pushService = await PushService.start();
    const caFile = path.join(tempDir(), 'push-ca.pem');
    fs.writeFileSync(caFile, pushService.ca);
    const db = await createDatabase(pgAdmin as string);
    drop = db.drop;
    databaseUrl = db.url;
    const env = {
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '5',
      REDIS_URL: redisUrl as string,
      REDIS_PREFIX: `cluster-${process.pid}-${Date.now()}`,
      JWT_SECRET: randomBytes(24).toString('hex'),
      NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      NODE_EXTRA_CA_CERTS: caFile,
      PUSH_ENDPOINT_HOSTS: '127.0.0.1',
      PUSH_DELAY_MS: '200',
    };
    // The first node migrates the empty database; the others start at once and wait for it.
    nodes.push(...(await Promise.all([0, 1, 2].map(() => startProcess(tempDir(), env)))));
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    for (const c of clients.splice(0)) c.stop();
  });
  afterAll(async () => {
    for (const n of nodes) n.child.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    await drop();
    hookWaiters = [];
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
    await pushService?.close();
  });

  async function on(i: number, who: Account): Promise<TestSocket> {
    const s = await connect(url(i), who.token);
    sockets.push(s);
    return s;
  }

  it('clients on different nodes chat, and see each other typing, receipts and presence', async () => {
    const a = await register(url(0), 'ca');
    const b = await register(url(1), 'cb');
    const g = await group(url(2), a, [b], 'across nodes');
    const sa = await on(0, a);
    await sa.ok('conversation:join', { conversationId: g.id });

    // presence: b's first socket, on another node, is announced to a once
    const sb = await on(1, b);
    await sa.waitFor('presence', (p) => p.userId === b.id && p.online === true);
    await sb.ok('conversation:join', { conversationId: g.id });
    const view = await http(url(2), 'GET', `/api/conversations/${g.id}`, { token: a.token });
    expect(view.body.members.find((m: { id: string }) => m.id === b.id).online).toBe(true);

    // typing goes to the joined sockets of other nodes
    await sa.ok('typing', { conversationId: g.id, isTyping: true });
    await sb.waitFor('typing', (p) => p.userId === a.id && p.isTyping === true);

    // a message crosses nodes once, and its receipt comes back
    const m = await sa.send(g.id, 'hello from node 0');
    const [got] = await sb.waitFor('message:new', (p) => p.message.id === m.id);
    expect(got.message).toMatchObject({ seq: m.seq, content: 'hello from node 0' });
    await sb.ok('message:read', { conversationId: g.id, seq: m.seq });
    await sa.waitFor('receipt', (p) => p.userId === b.id && p.type === 'read' && p.seq === m.seq);

    // b's last socket goes: offline, announced once
    sb.close();
    await sa.waitFor('presence', (p) => p.userId === b.id && p.online === false);
    await sa.barrier();
    expect(sa.all('presence', (p) => p.userId === b.id).map((p) => p.online)).toEqual([true, false]);
    expect(sa.all('message:new'), 'no echo of its own message, on any node').toEqual([]);
  });

  it('carries edits, deletions and every conversation event to the members on other nodes', async () => {
    const owner = await register(url(0), 'eo');
    const member = await register(url(0), 'em');
    const newcomer = await register(url(0), 'en');
    const g = await group(url(0), owner, [member], 'events');
    const so = await on(0, owner);
    const sm = await on(1, member);
    const sn = await on(2, newcomer);

    const m = await so.send(g.id, 'first draft');
    await sm.waitFor('message:new', (p) => p.message.id === m.id);
    await so.ok('message:edit', { messageId: m.id, content: 'final text' });
    await sm.waitFor('message:updated', (p) => p.message.id === m.id && p.message.content === 'final text');
    await so.ok('message:delete', { messageId: m.id });
    await sm.waitFor('message:updated', (p) => p.message.id === m.id && p.message.deletedAt !== null && p.message.content === '');

    // Through node 1: the title; through node 2: a newcomer, then their removal.
    expect((await http(url(1), 'PATCH', `/api/conversations/${g.id}`, { token: owner.token, body: { title: 'renamed' } })).status).toBe(200);
    await so.waitFor('conversation:updated', (p) => p.conversation.title === 'renamed');
    await sm.waitFor('conversation:updated', (p) => p.conversation.title === 'renamed');
    const added = await http(url(2), 'POST', `/api/conversations/${g.id}/members`, { token: owner.token, body: { userId: newcomer.id } });
    expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
    await sn.waitFor('conversation:new', (p) => p.conversation.id === g.id);
    await sm.waitFor('conversation:updated', (p) => p.conversation.members.some((u: { id: string }) => u.id === newcomer.id));
    const later = await sm.send(g.id, 'welcome');
    await sn.waitFor('message:new', (p) => p.message.id === later.id);
    expect((await http(url(0), 'DELETE', `/api/conversations/${g.id}/members/${newcomer.id}`, { token: owner.token })).status).toBe(204);
    await sn.waitFor('conversation:removed', (p) => p.conversationId === g.id);
    const after = await so.send(g.id, 'after the removal');
    await sm.waitFor('message:new', (p) => p.message.id === after.id);
    await sn.barrier();
    expect(sn.all('message:new').map((p) => p.message.id), 'nothing after the removal, on any node').toEqual([later.id]);
  });

  it('reactions and attachments across nodes: toggles through every node leave an exact count and gap-free revs; a file uploaded through one node is served by the others and erased everywhere with its message', async () => {
    const users = await Promise.all(Array.from({ length: 12 }, (_, i) => register(url(i % 3), `rx${i}`)));
    const g = await group(url(0), users[0]!, users.slice(1), 'reactions');
    const socks = await Promise.all(users.map((u, i) => on(i % 3, u)));
    const m = await socks[0]!.send(g.id, 'react here');
    // Everyone adds at once, through three nodes; then the even ones remove again.
    const added = await Promise.all(socks.map((s) => s.ok('reaction:add', { messageId: m.id, emoji: '🔥' })));
    const removed = await Promise.all(socks.filter((_, i) => i % 2 === 0).map((s) => s.ok('reaction:remove', { messageId: m.id, emoji: '🔥' })));
    const revs = [...added, ...removed].map((a) => a.message.rev).sort((x, y) => x - y);
    expect(revs).toEqual(Array.from({ length: 18 }, (_, i) => m.rev + 1 + i));
    const final = (await fullHistory(url(1), users[1]!, g.id)).find((x) => x.id === m.id);
    expect(final.rev).toBe(m.rev + 18);
    expect(final.reactions).toHaveLength(1);
    expect(final.reactions[0].count).toBe(6);
    expect([...final.reactions[0].userIds].sort()).toEqual(users.filter((_, i) => i % 2 === 1).map((u) => u.id).sort());
    // The last change reaches a member on another node live.
    await socks[1]!.waitFor('message:updated', (p) => p.message.id === m.id && p.message.rev === m.rev + 18);

    // A file through node 0, sent through node 1, downloaded through node 2.
    const form = new FormData();
    form.append('file', new Blob([new TextEncoder().encode('shared notes')]), 'notes.txt');
    const up = await fetch(`${url(0)}/api/conversations/${g.id}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${users[1]!.token}` }, body: form });
    const file = await up.json();
    expect(up.status, JSON.stringify(file)).toBe(201);
    const sent = await socks[3]!.call('message:send', { conversationId: g.id, content: 'not mine', attachmentIds: [file.id] });
    expect(sent.ok).toBe(false); // users[3] (node 0) did not upload it
    const withFile = (await socks[1]!.ok('message:send', { conversationId: g.id, content: '', attachmentIds: [file.id] })).message;
    const [heard] = await socks[2]!.waitFor('message:new', (p) => p.message.id === withFile.id);
    const link = heard.message.attachments[0].url as string;
    const got = await fetch(url(2) + link);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('shared notes');
    await socks[1]!.ok('message:delete', { messageId: withFile.id });
    for (const i of [0, 1, 2]) expect((await fetch(url(i) + link)).status, `node ${i}`).toBe(404);
  });

  it('keeps seqs 1..N, each sender in its own order, under concurrent sends through every node', async () => {
    const users = await Promise.all([0, 1, 2].map((i) => register(url(i), 'cs')));
    const g = await group(url(0), users[0] as Account, users.slice(1), 'seqs');
    const perNode = await Promise.all(users.map((u, i) => on(i, u)));
    const N = 40;
    const acks = await Promise.all(
      perNode.map((s, i) =>
        Promise.all(Array.from({ length: N }, (_, k) => s.send(g.id, `node ${i} message ${k}`, { clientId: `${i}-${k}` }))),
      ),
    );
    const seqs = acks.flat().map((m) => m.seq as number);
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 3 * N }, (_, i) => i + 1));
    for (const own of acks) {
      const mine = own.map((m) => m.seq as number);
      expect(mine).toEqual([...mine].sort((x, y) => x - y));
    }
    const history = await http(url(1), 'GET', `/api/conversations/${g.id}/messages?limit=100`, { token: (users[1] as Account).token });
    const older = await http(url(2), 'GET', `/api/conversations/${g.id}/messages?limit=100&before=${history.body.messages[0].seq}`, {
      token: (users[2] as Account).token,
    });
    const all = [...older.body.messages, ...history.body.messages];
    expect(all.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 3 * N }, (_, i) => i + 1));
    // every member's socket heard every message of the others, whatever node it is on
    for (const [i, s] of perNode.entries()) {
      const heard = await s.waitFor('message:new', () => true, 2 * N, 15_000);
      expect(heard.every((p) => p.message.senderId !== (users[i] as Account).id)).toBe(true);
    }
  });

  it('tells a member with no socket on any node of a message once, and a member online on another node not at all', async () => {
    const sender = await register(url(0), 'ns');
    const away = await register(url(0), 'na');
    const elsewhere = await register(url(0), 'ne');
    const g = await group(url(0), sender, [away, elsewhere], 'notifications');
    const s = await on(0, sender);
    const e = await on(1, elsewhere);
    await s.waitFor('presence', (p) => p.userId === elsewhere.id && p.online === true);
    const first = await s.send(g.id, 'are you there?');
    await e.waitFor('message:new', (p) => p.message.id === first.id);
    await hooked((h) => h.message.id === first.id);
    // A later message's notification comes after: by then any second copy of the first would be in too.
    const second = await s.send(g.id, 'still there?');
    await hooked((h) => h.message.id === second.id);
    const about = (id: string) => hooks.filter((h) => h.message.id === id).map((h) => h.recipient.id);
    expect(about(first.id)).toEqual([away.id]);
    expect(about(second.id)).toEqual([away.id]);
  });

  it('pushes each message once to an offline member, whichever node stored it and whichever nodes serve the queue; every node signs with the same VAPID key', async () => {
    const sender = await register(url(0), 'ps');
    const away = await register(url(1), 'pa');
    const d = (await http(url(2), 'POST', '/api/conversations', { token: sender.token, body: { type: 'direct', memberIds: [away.id] } })).body;
    const keys = await Promise.all([0, 1, 2].map(async (i) => (await http(url(i), 'GET', '/api/push/key', { token: away.token })).body.publicKey));
    expect(new Set(keys).size).toBe(1);
    const sub = pushService.subscribe({ applicationServerKey: keys[0] });
    expect((await http(url(1), 'POST', '/api/push/subscriptions', { token: away.token, body: sub })).status).toBe(201);
    const sent: string[] = [];
    for (const i of [0, 1, 2, 0]) {
      const s = await on(i, sender);
      sent.push((await s.send(d.id, `through node ${i}`)).id);
      await pushService.waitFor(sent.length);
    }
    // Once the queue is empty every push there will be is in: one per message.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await expect.poll(async () => Number((await client.query('SELECT count(*) AS n FROM notification_jobs WHERE channel = 1')).rows[0].n), { timeout: 10_000 }).toBe(0);
    } finally {
      await client.end();
    }
    expect(pushService.receivedFor(sub).map((p) => (p.payload as { messageId: string }).messageId)).toEqual(sent);
    expect(pushService.errors).toEqual([]);
  });

  it('a logout through one node disconnects the token\'s sockets on the others within a second, and every node refuses it', async () => {
    const a = await register(url(0), 'sl');
    const elsewhere = await on(2, a);
    const gone = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('still connected 1 s after the logout')), 1000);
      elsewhere.socket.once('disconnect', () => (clearTimeout(timer), resolve()));
    });
    expect((await http(url(1), 'POST', '/api/auth/logout', { token: a.token })).status).toBe(204);
    await gone;
    for (const i of [0, 1, 2]) expect((await http(url(i), 'GET', '/api/users/me', { token: a.token })).status, `node ${i}`).toBe(401);
  });

  it('a member removed through one node is refused at once on every other node', async () => {
    const owner = await register(url(0), 'co');
    const gone = await register(url(0), 'cg');
    const g = await group(url(0), owner, [gone], 'removal');
    // every node reads (and caches) the membership first
    for (const i of [0, 1, 2]) expect((await http(url(i), 'GET', `/api/conversations/${g.id}/messages`, { token: gone.token })).status).toBe(200);
    const removed = await http(url(1), 'DELETE', `/api/conversations/${g.id}/members/${gone.id}`, { token: owner.token });
    expect(removed.status).toBe(204);
    for (const i of [0, 1, 2]) {
      const r = await http(url(i), 'GET', `/api/conversations/${g.id}/messages`, { token: gone.token });
      expect(r.status, `node ${i}`).toBe(403);
    }
  });

  it('a node killed with SIGKILL: its clients reconnect elsewhere, retry with the same clientId, and everyone ends with every acknowledged message once', async () => {
    // Clients come in through a balancer that prefers node 2 while it lives.
    const proxy = new TcpProxy(() => [port(2), port(0), port(1)]);
    const via = await proxy.listen();
    try {
      const x = await register(url(0), 'kx');
      const y = await register(url(0), 'ky');
      const z = await register(url(0), 'kz');
      const w = await register(url(0), 'kw');
      const g = await group(url(0), z, [x, y, w], 'killed');
      const observer = await on(0, z);
      // w is only ever on node 2, with no reconnection: it must go offline when node 2 dies.
      const lonely = await connect(url(2), w.token);
      sockets.push(lonely);
      await observer.waitFor('presence', (p) => p.userId === w.id && p.online === true);

      const senders = [x, y].map((u) => {
        const c = new ParleyClient({ baseUrl: via, token: u.token, ackTimeoutMs: 3000 });
        clients.push(c);
        return c;
      });
      for (const c of senders) await c.start();
      for (const c of senders) await clientUntil(c, () => c.connection === 'online', 'online');

      const N = 60;
      const acked = () => senders.map((c) => c.messages.timeline(g.id).messages.filter((m) => m.senderId === c.me?.id).length);
      // Sends keep going while node 2 dies under them.
      let killed = false;
      const sending = (async () => {
        for (let k = 0; k < N; k++) {
          for (const [i, c] of senders.entries()) c.send(g.id, `client ${i} message ${k}`);
          if (k === 15) {
            await clientUntil(senders[0] as ParleyClient, () => (acked()[0] ?? 0) >= 5, 'some acks before the kill');
            nodes[2]?.child.kill('SIGKILL');
            killed = true;
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      await sending;
      expect(killed).toBe(true);
      for (const c of senders) {
        await clientUntil(c, () => c.connection === 'online' && c.messages.timeline(g.id).pending.length === 0, 'every send acknowledged', 30_000);
      }

      // Everything acknowledged is stored once, in one order, readable on any node.
      const stored = await fullHistory(url(1), z, g.id);
      expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 2 * N }, (_, i) => i + 1));
      const ids = stored.map((m) => m.clientId);
      expect(new Set(ids).size, 'no clientId twice').toBe(2 * N);
      for (const [i] of senders.entries()) {
        expect(stored.filter((m) => m.content.startsWith(`client ${i} `)).map((m) => m.content)).toEqual(
          Array.from({ length: N }, (_, k) => `client ${i} message ${k}`),
        );
      }
      // Each client, caught up, holds each message once (keyed by seq, matching the store).
      for (const c of senders) {
        await clientUntil(c, () => c.messages.timeline(g.id).messages.length === 2 * N, 'the client holds everything', 15_000);
        expect(c.messages.timeline(g.id).messages.map((m) => m.id)).toEqual(stored.map((m) => m.id));
      }
      // A plain client that syncs from nothing gets each exactly once.
      const synced: { id: string }[] = [];
      let cursor = 0;
      for (;;) {
        const ack = await observer.ok('sync', { cursors: { [g.id]: cursor }, limit: 50 });
        synced.push(...ack.messages);
        for (const m of ack.messages) cursor = Math.max(cursor, m.rev);
        if (!ack.hasMore) break;
      }
      expect(synced.map((m) => m.id).sort()).toEqual(stored.map((m) => m.id).sort());

      // The dead node's users go offline within 30 s, announced once.
      const [offline] = await observer.waitFor('presence', (p) => p.userId === w.id && p.online === false, 1, 30_000);
      expect(offline.online).toBe(false);
      // x and y reconnected elsewhere: never announced offline.
      await observer.barrier();
      expect(observer.all('presence', (p) => (p.userId === x.id || p.userId === y.id) && p.online === false)).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 90_000);
});

/** The whole history of a conversation, oldest first, through REST pages. */
async function fullHistory(base: string, who: Account, conversationId: string): Promise<any[]> {
  const out: any[] = [];
  let after = 0;
  for (;;) {
    const r = await http(base, 'GET', `/api/conversations/${conversationId}/messages?after=${after}&limit=100`, { token: who.token });
    out.push(...r.body.messages);
    if (!r.body.hasMore) return out;
    after = out[out.length - 1].seq;
  }
}

