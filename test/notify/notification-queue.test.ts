/**
 * The notification queue with the webhook sender, without the server: a
 * real store, a real HTTP receiver on loopback, and a recording logger.
 */
import fs from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Presence } from '../../src/domain/presence.js';
import { createMetrics } from '../../src/metrics.js';
import { NotificationDispatcher, type DispatcherOptions } from '../../src/notify/dispatcher.js';
import { WebhookSender, type WebhookOptions } from '../../src/notify/webhook.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { MessageRecord } from '../../src/store/store.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** answer(n) decides how the n-th request (from 0) is answered: a status, 'hang' or 'reset'. */
async function receiver(answer: (n: number) => number | 'hang' | 'reset') {
  const arrivals: number[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const n = arrivals.length;
    arrivals.push(performance.now());
    req.resume();
    req.on('end', () => {
      const a = answer(n);
      if (a === 'hang') return;
      if (a === 'reset') return req.socket.destroy();
      res.statusCode = a;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r(undefined)));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, arrivals };
}

function recordingLog() {
  const lines: { level: string; obj: unknown; msg: string }[] = [];
  const log = {} as Record<string, unknown>;
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) {
    log[level] = (obj: unknown, msg: string) => lines.push({ level, obj, msg });
  }
  log.child = () => log;
  return { log: log as unknown as FastifyBaseLogger, lines };
}

async function setup(url: string, options: Partial<WebhookOptions> = {}, queue: Partial<DispatcherOptions> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-notify-'));
  const store = new SqliteStore({ file: path.join(dir, 'p.db') });
  cleanups.push(() => store.close());
  const [a, b] = await Promise.all(['a', 'b'].map((u) => store.createUser({ username: u, displayName: u, passwordHash: 'x', createdAt: 1 })));
  const { conversation } = await store.createConversation({ type: 'group', title: 'g', ownerId: a!.id, memberIds: [a!.id, b!.id], createdAt: 1 });
  const [outcome] = await store.appendMessages([{ conversationId: conversation.id, senderId: a!.id, content: 'hello', clientId: null, createdAt: 2 }]);
  const message = (outcome as { message: MessageRecord }).message;
  const { metrics, registry } = createMetrics(store);
  const { log, lines } = recordingLog();
  const webhook = new WebhookSender({ url, store, log, metrics, baseDelayMs: 40, maxDelayMs: 1000, timeoutMs: 2000, ...options });
  const notifier = new NotificationDispatcher({ store, presence: new Presence(), log, metrics, now: Date.now, pushDelayMs: 0, pollMs: 50, senders: { webhook }, ...queue });
  cleanups.push(() => notifier.close(10));
  const count = async (outcome: string) =>
    (await registry.getSingleMetric('parley_notifications_total')!.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  const queued = async () => (await registry.getSingleMetric('parley_notifications_queued')!.get()).values[0]?.value;
  return { store, notifier, message, a: a!, b: b!, conversation, lines, count, queued };
}

describe('the notification queue, with the webhook', () => {
  it('backs off exponentially between retries', async () => {
    const r = await receiver((n) => (n < 4 ? 503 : 204));
    const { notifier, message, b, count } = await setup(r.url);
    notifier.notify(message, [b.id], false);
    await notifier.whenIdle();
    expect(r.arrivals).toHaveLength(5);
    const gaps = r.arrivals.slice(1).map((t, i) => t - r.arrivals[i]!);
    // delays of 40, 80, 160, 320 ms, each −20 % at worst (a timer never fires early)
    gaps.forEach((gap, i) => expect(gap, `gaps ${gaps.map(Math.round)}`).toBeGreaterThanOrEqual(40 * 2 ** i * 0.8 - 1));
    expect(await count('sent')).toBe(1);
    expect(await count('retried')).toBe(4);
  });

  it('retries network errors (a reset connection, nothing listening), then logs and counts the failure', async () => {
    const r = await receiver(() => 'reset');
    const { notifier, message, b, count, lines } = await setup(r.url, { maxAttempts: 3 });
    notifier.notify(message, [b.id], false);
    await notifier.whenIdle();
    expect(r.arrivals).toHaveLength(3);
    expect(await count('failed')).toBe(1);
    const failure = lines.find((l) => l.level === 'error' && l.msg === 'notification failed');
    expect(failure?.obj).toMatchObject({ recipientId: b.id, messageId: message.id, attempts: 3 });

    const closed = await setup('http://127.0.0.1:9/', { maxAttempts: 2 });
    closed.notifier.notify(closed.message, [closed.b.id], false);
    await closed.notifier.whenIdle();
    expect(await closed.count('failed')).toBe(1);
    expect(await closed.count('retried')).toBe(1);
  });

  it('drops, without retrying, a notification whose recipient left the conversation', async () => {
    const r = await receiver(() => 204);
    const { notifier, message, b, conversation, store, count } = await setup(r.url);
    await store.removeMember(conversation.id, b.id);
    notifier.notify(message, [b.id], false);
    await notifier.whenIdle();
    expect(r.arrivals).toHaveLength(0);
    expect(await count('dropped')).toBe(1);
    expect(await count('retried')).toBe(0);
  });

  it('close() aborts what hangs after the grace and loses nothing: the job stays queued for the next start', async () => {
    const r = await receiver((n) => (n === 0 ? 'hang' : 204));
    const { notifier, message, b, store, lines } = await setup(r.url, { timeoutMs: 60_000 }, { concurrency: 1 });
    notifier.notify(message, [b.id], false);
    // wait until it is in flight
    while (r.arrivals.length === 0) await new Promise((res) => setTimeout(res, 5));
    const started = performance.now();
    await notifier.close(100);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(await store.notificationBacklog()).toBe(1);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    // The next start (here: another dispatcher on the same store) sends it.
    const { metrics } = createMetrics(store);
    const next = new NotificationDispatcher({ store, presence: new Presence(), log: recordingLog().log, metrics, now: Date.now, pushDelayMs: 0, pollMs: 50, senders: { webhook: new WebhookSender({ url: r.url, store, log: recordingLog().log, metrics }) } });
    cleanups.push(() => next.close(10));
    await next.whenIdle();
    expect(r.arrivals).toHaveLength(2);
    // after close, the first dispatcher queues nothing
    notifier.notify(message, [b.id], false);
    expect(await store.notificationBacklog()).toBe(0);
  });

  it('a full queue drops the excess, counted, with one log line for many drops', async () => {
    const r = await receiver(() => 204);
    const { notifier, store, conversation, a, b, count, lines } = await setup(r.url, {}, { maxBacklog: 0 });
    const [o] = await store.appendMessages([{ conversationId: conversation.id, senderId: a.id, content: 'more', clientId: null, createdAt: 3 }]);
    for (let i = 0; i < 5; i++) notifier.notify((o as { message: MessageRecord }).message, [b.id], false);
    await expect.poll(() => count('dropped')).toBe(5);
    expect(await store.notificationBacklog()).toBe(0);
    expect(r.arrivals).toHaveLength(0);
    void lines;
  });
});
