import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, group, http, register, type TestSocket } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** A real HTTP receiver on loopback that records what it gets and answers as told. */
class Receiver {
  readonly received: { headers: IncomingMessage['headers']; raw: string; body: any }[] = [];
  /** Status to answer, per request, in order; then 204. */
  answers: number[] = [];
  private waiters: (() => void)[] = [];
  private server: Server;
  url = '';

  constructor() {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        this.received.push({ headers: req.headers, raw, body: JSON.parse(raw) });
        res.statusCode = this.answers.shift() ?? 204;
        res.end();
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  async waitFor(n: number, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver got ${this.received.length} of ${n} requests`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(secret = '', webhook = {}) {
  const receiver = await new Receiver().start();
  const server: TestServer = await startServer(
    { notifyWebhookUrl: receiver.url, notifyWebhookSecret: secret },
    { webhook: { baseDelayMs: 20, maxDelayMs: 200, ...webhook } },
  );
  cleanup.push(() => receiver.close(), () => server.close());
  const sockets: TestSocket[] = [];
  cleanup.push(() => sockets.forEach((s) => s.close()));
  const open = async (token: string) => {
    const s = await connect(server.url, token);
    sockets.push(s);
    return s;
  };
  return { receiver, server, open };
}

const metric = async (server: TestServer, outcome: string) => {
  const text = (await http(server.url, 'GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`parley_notifications_total{outcome="${outcome}"}`));
  return line ? Number(line.split(' ')[1]) : 0;
};

describe('offline notifications (NOTIFY_WEBHOOK_URL)', () => {
  it('POST one notification per offline member, none for online members or the sender', async () => {
    const { receiver, server, open } = await setup('s3cret');
    const alice = await register(server.url, 'alice');
    const bob = await register(server.url, 'bob'); // offline
    const carol = await register(server.url, 'carol'); // online
    const g = await group(server.url, alice, [bob, carol], 'Trip ✈️');
    const sa = await open(alice.token);
    const sc = await open(carol.token);
    const long = 'x'.repeat(150);
    const m = await sa.send(g.id, long);
    await sc.waitFor('message:new', (p) => p.message.id === m.id);
    await server.app.notifier!.whenIdle();
    await receiver.waitFor(1);
    expect(receiver.received).toHaveLength(1);
    const { body, raw, headers } = receiver.received[0]!;
    expect(body).toEqual({
      type: 'message',
      id: headers['x-parley-delivery'],
      recipient: { id: bob.id, username: bob.username, displayName: bob.username },
      conversation: { id: g.id, type: 'group', title: 'Trip ✈️' },
      sender: { id: alice.id, username: alice.username, displayName: alice.username },
      message: { id: m.id, seq: 1, createdAt: m.createdAt },
      preview: 'x'.repeat(139) + '…',
      unreadCount: 1,
      mentioned: false,
    });
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-parley-event']).toBe('message');
    expect(headers['x-parley-signature']).toBe('sha256=' + createHmac('sha256', 's3cret').update(raw).digest('hex'));
    // The timestamped signature: replays can be refused by their age.
    const ts = String(headers['x-parley-timestamp']);
    expect(Math.abs(Date.now() - Number(ts))).toBeLessThan(60_000);
    expect(headers['x-parley-signature-v2']).toBe('sha256=' + createHmac('sha256', 's3cret').update(`${ts}.${raw}`).digest('hex'));
    expect(await metric(server, 'sent')).toBe(1);
  });

  it('says mentioned: true to the offline member the message mentions, false to the others', async () => {
    const { receiver, server, open } = await setup();
    const alice = await register(server.url, 'alice');
    const bob = await register(server.url, 'bob');
    const dave = await register(server.url, 'dave');
    const g = await group(server.url, alice, [bob, dave]);
    const sa = await open(alice.token);
    await sa.send(g.id, `look @${bob.username}!`);
    await receiver.waitFor(2);
    await server.app.notifier!.whenIdle();
    const byRecipient = new Map(receiver.received.map((r) => [r.body.recipient.id, r.body.mentioned]));
    expect(byRecipient).toEqual(new Map([[bob.id, true], [dave.id, false]]));
  });

  it("follows each recipient's preferences: a mute lets only mentions through, mentions hears only those, none hears nothing", async () => {
    const { receiver, server, open } = await setup();
    const alice = await register(server.url, 'alice');
    const [all, muted, expired, mentionsOnly, none] = [
      await register(server.url, 'all'),
      await register(server.url, 'muted'),
      await register(server.url, 'expired'),
      await register(server.url, 'monly'),
      await register(server.url, 'none'),
    ];
    const g = await group(server.url, alice, [all, muted, expired, mentionsOnly, none]);
    const prefs = async (who: typeof alice, body: unknown) =>
      expect((await http(server.url, 'PUT', `/api/conversations/${g.id}/notifications`, { token: who.token, body })).status).toBe(200);
    await prefs(muted, { level: 'all', mutedUntil: new Date(Date.now() + 3_600_000).toISOString() });
    await prefs(expired, { level: 'all', mutedUntil: new Date(Date.now() - 1000).toISOString() });
    await prefs(mentionsOnly, { level: 'mentions' });
    await prefs(none, { level: 'none' });
    const sa = await open(alice.token);
    const plain = await sa.send(g.id, 'lunch?');
    const named = await sa.send(g.id, `@${muted.username} @${mentionsOnly.username} @${none.username} lunch?`);
    await receiver.waitFor(5);
    await server.app.notifier!.whenIdle();
    const got = (messageId: string) => receiver.received.filter((r) => r.body.message.id === messageId).map((r) => r.body.recipient.id).sort();
    expect(got(plain.id)).toEqual([all.id, expired.id].sort());
    expect(got(named.id)).toEqual([all.id, expired.id, muted.id, mentionsOnly.id].sort());
    expect(receiver.received).toHaveLength(6);
  });

  it('builds each POST when it is made: a retry after an edit carries the new text; a message deleted before its retry is not sent again', async () => {
    // The server's clock moves past the retry's backoff when the test says so: nothing depends on timing.
    let offset = 0;
    const receiver = await new Receiver().start();
    const server = await startServer({ notifyWebhookUrl: receiver.url }, { webhook: { baseDelayMs: 60_000, maxDelayMs: 60_000 }, now: () => Date.now() + offset });
    cleanup.push(() => receiver.close(), () => server.close());
    const open = async (token: string) => {
      const s = await connect(server.url, token);
      cleanup.push(() => s.close());
      return s;
    };
    receiver.answers = [500, 500];
    const alice = await register(server.url, 'alice');
    const bob = await register(server.url, 'bob');
    const g = await group(server.url, alice, [bob]);
    const sa = await open(alice.token);
    const edited = await sa.send(g.id, 'first draft');
    const deleted = await sa.send(g.id, 'wrong chat');
    await receiver.waitFor(2); // each refused once
    await sa.ok('message:edit', { messageId: edited.id, content: 'final text' });
    await sa.ok('message:delete', { messageId: deleted.id });
    offset += 120_000;
    await server.app.notifier.poke();
    await server.app.notifier.whenIdle();
    const about = (id: string) => receiver.received.filter((r) => r.body.message.id === id).map((r) => r.body.preview);
    expect(about(edited.id)).toEqual(['first draft', 'final text']);
    expect(about(deleted.id)).toEqual(['wrong chat']);
  });

  it('retries with backoff when the receiver fails, with the same delivery id, until it succeeds', async () => {
    const { receiver, server, open } = await setup();
    receiver.answers = [500, 503, 429];
    const alice = await register(server.url, 'alice');
    const bob = await register(server.url, 'bob');
    const g = await group(server.url, alice, [bob]);
    const sa = await open(alice.token);
    await sa.send(g.id, 'are you there?');
    await receiver.waitFor(4);
    await server.app.notifier!.whenIdle();
    expect(receiver.received).toHaveLength(4);
    const ids = new Set(receiver.received.map((r) => r.headers['x-parley-delivery']));
    expect(ids.size).toBe(1);
    expect(receiver.received.every((r) => r.body.preview === 'are you there?')).toBe(true);
    expect(await metric(server, 'retried')).toBe(3);
    expect(await metric(server, 'sent')).toBe(1);
  });

  it('gives up after maxAttempts and counts the failure; a 4xx is not retried', async () => {
    const { receiver, server, open } = await setup('', { maxAttempts: 3 });
    receiver.answers = [500, 500, 500, 400];
    const alice = await register(server.url, 'alice');
    const bob = await register(server.url, 'bob');
    const g = await group(server.url, alice, [bob]);
    const sa = await open(alice.token);
    await sa.send(g.id, 'one');
    await receiver.waitFor(3);
    await server.app.notifier!.whenIdle();
    expect(await metric(server, 'failed')).toBe(1);
    await sa.send(g.id, 'two');
    await receiver.waitFor(4);
    await server.app.notifier!.whenIdle();
    expect(receiver.received).toHaveLength(4);
    expect(await metric(server, 'failed')).toBe(2);
    expect(await metric(server, 'retried')).toBe(2);
  });

  it('never slows delivery: sends are acked while the receiver hangs; each message waits in the queue (a job each)', async () => {
    // A receiver that never answers: every delivery waits for its timeout.
    const hang = createServer(() => undefined);
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => {
      hang.closeAllConnections();
      return new Promise((r) => hang.close(r));
    });
    const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`;
    const server = await startServer({ notifyWebhookUrl: url }, { webhook: { timeoutMs: 60_000 }, notifications: { concurrency: 1 } });
    cleanup.push(() => server.close());
    const alice = await register(server.url, 'alice');
    const bob = await register(server.url, 'bob');
    const g = await group(server.url, alice, [bob]);
    const sa = await connect(server.url, alice.token);
    cleanup.push(() => sa.close());
    const acks = [];
    for (let i = 0; i < 10; i++) acks.push(await sa.send(g.id, `m${i}`));
    expect(acks.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // One POST per message (the contract): ten jobs, all waiting, none lost.
    await expect.poll(() => server.app.store.notificationBacklog(), { timeout: 10_000 }).toBe(10);
  });

  it('queues nothing for the webhook when NOTIFY_WEBHOOK_URL is not set', async () => {
    const server = await startServer();
    cleanup.push(() => server.close());
    const alice = await register(server.url, 'alice');
    const bob = await register(server.url, 'bob');
    const g = await group(server.url, alice, [bob]);
    const sa = await connect(server.url, alice.token);
    cleanup.push(() => sa.close());
    await sa.send(g.id, 'hi');
    await server.app.notifier.whenIdle();
    expect(await server.app.store.notificationBacklog()).toBe(0);
  });
});
