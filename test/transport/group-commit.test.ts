/**
 * Group commit through the real server: concurrent senders share one
 * transaction; each gets its own ack and seq; and when that transaction
 * fails, every ack of the batch fails — no partial success reported as
 * success, nothing announced, no seq burned.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { group, http, register, SocketPool, type Account } from '../helpers/client.js';
import { failInsertsOf } from '../helpers/faults.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
let pool: SocketPool | undefined;
afterEach(async () => {
  pool?.closeAll();
  await server?.close();
  server = undefined;
});

describe('group commit', () => {
  it('fails every ack of a batch whose transaction fails, announces none of it, and the senders retry into fresh seqs', async () => {
    server = await startServer();
    pool = new SocketPool(() => server!.url);
    const users: Account[] = [];
    for (let i = 0; i < 5; i++) users.push(await register(server.url, 'gc'));
    const g = await group(server.url, users[0]!, users.slice(1), 'batch');
    const sockets = await Promise.all(users.map((u) => pool!.connect(u)));
    const listener = await pool.connect(users[0]!); // a second device: hears every message:new

    // Hold the first commit, so that everything sent meanwhile queues into the next batch.
    const store = server.app.store;
    const append = store.appendMessages.bind(store);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const wasReached = new Promise<void>((r) => (reached = r));
    let calls = 0;
    store.appendMessages = async (batch) => {
      if (calls++ === 0) {
        reached();
        await held;
      }
      return append(batch);
    };
    const first = sockets[0]!.call('message:send', { conversationId: g.id, content: 'first', clientId: 'first' });
    await wasReached;

    // 5 senders × 4 messages wait in the queue; one of them will make the transaction fail.
    const texts = (i: number) => Array.from({ length: 4 }, (_, k) => (i === 2 && k === 1 ? 'breaks' : `sender ${i} message ${k}`));
    const queued = sockets.map((s, i) => texts(i).map((content, k) => s.call('message:send', { conversationId: g.id, content, clientId: `${i}-${k}` })));
    await Promise.all(sockets.map((s) => s.barrier()));

    // A real failure inside the database (not a mock): the insert of 'breaks' aborts the transaction.
    const lift = await failInsertsOf(server, 'breaks');
    release();

    expect(await first).toMatchObject({ ok: true, message: { seq: 1 } });
    const failed = await Promise.all(queued.flat());
    expect(calls, 'the queued sends were one batch').toBe(2);
    for (const ack of failed) expect(ack).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(failed).toHaveLength(20);

    const history = await http(server.url, 'GET', `/api/conversations/${g.id}/messages`, { token: users[1]!.token });
    expect(history.body.messages.map((m: { content: string }) => m.content)).toEqual(['first']);
    await listener.barrier();
    expect(listener.all('message:new').map((p) => p.message.content), 'nothing of the failed batch was announced').toEqual(['first']);

    // The same sends again (same clientIds: the failure kept none of them), concurrently.
    await lift();
    const retried = await Promise.all(
      sockets.map((s, i) => Promise.all(texts(i).map((content, k) => s.call('message:send', { conversationId: g.id, content, clientId: `${i}-${k}` })))),
    );
    const acks = retried.flat().map((a) => {
      expect(a.ok).toBe(true);
      return a.message as { seq: number; content: string; id: string };
    });
    expect(acks.map((m) => m.seq).sort((a, b) => a - b), 'no seq was burned by the failed batch').toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    retried.forEach((socketAcks, i) => {
      expect(socketAcks.map((a) => a.message.content)).toEqual(texts(i));
      const seqs = socketAcks.map((a) => a.message.seq);
      expect(seqs, `sender ${i}: its own order`).toEqual([...seqs].sort((a, b) => a - b));
    });
    await listener.waitFor('message:new', () => true, 21);
    await listener.barrier();
    expect(listener.all('message:new')).toHaveLength(21);
  });
});
