import { describe, expect, it } from 'vitest';
import { connect, direct, http, register } from '../helpers/client.js';
import { startServer, tempDir } from '../helpers/server.js';

/** A promise the test opens by hand, and one that tells when the server reached it. */
function gate() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const wasReached = new Promise<void>((r) => (reached = r));
  return { open, reached, opened, wasReached };
}

describe('graceful shutdown (close(), what SIGTERM and SIGINT call)', () => {
  it('acks only after the commit; answers every accepted send; refuses new events and handshakes; closes the store last', async () => {
    const dataDir = tempDir();
    const server = await startServer({ dataDir });
    const a = await register(server.url, 'a');
    const b = await register(server.url, 'b');
    const conv = await direct(server.url, a, b);
    const sa = await connect(server.url, a.token);

    // Hold the first commit until the test opens the gate.
    const g = gate();
    const store = server.app.store;
    const append = store.appendMessages.bind(store);
    store.appendMessages = async (batch) => {
      g.reached();
      await g.opened;
      return append(batch);
    };

    const settled: unknown[] = [];
    const sends = Array.from({ length: 5 }, (_, i) =>
      sa.call('message:send', { conversationId: conv.id, content: `in flight ${i}`, clientId: `f${i}` }).then((ack) => {
        settled.push(ack);
        return ack;
      }),
    );
    await g.wasReached;
    await sa.barrier(); // every send above has been received and queued
    expect(settled, 'no ack before the commit').toEqual([]);

    const closing = server.app.close();
    expect(await sa.call('message:send', { conversationId: conv.id, content: 'too late' })).toMatchObject({
      ok: false,
      error: { code: 'unavailable', data: { retryAfter: expect.any(Number) } },
    });
    await expect(connect(server.url, b.token)).rejects.toThrow('unavailable');

    g.open();
    const acks = await Promise.all(sends);
    expect(acks.map((x) => x.ok)).toEqual([true, true, true, true, true]);
    expect(acks.map((x) => x.message.seq)).toEqual([1, 2, 3, 4, 5]);
    await closing;
    await expect(store.ping(), 'the store closes last').rejects.toThrow();
    sa.close();

    const again = await startServer({ dataDir });
    try {
      const h = await http(again.url, 'GET', `/api/conversations/${conv.id}/messages`, { token: b.token });
      expect(h.body.messages.map((m: any) => m.clientId)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
    } finally {
      await again.close();
    }
  });

  it('lets an HTTP request in flight finish before the database closes', async () => {
    const server = await startServer();
    const accounts = server.app.services.accounts;
    const register = accounts.register.bind(accounts);
    const g = gate();
    accounts.register = async (body) => {
      g.reached();
      await g.opened;
      return register(body);
    };
    const inFlight = http(server.url, 'POST', '/api/auth/register', { body: { username: 'late_one', password: 'password123' } });
    await g.wasReached;
    const closing = server.app.close();
    g.open();
    const r = await inFlight;
    expect(r.status).toBe(201);
    await closing;
    expect(r.body.user.username).toBe('late_one');
  });
});
