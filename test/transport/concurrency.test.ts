import { describe, expect, it } from 'vitest';
import { group, http, register } from '../helpers/client.js';
import { useServer } from '../helpers/server.js';

const t = useServer();
const { pool } = t;

describe('many clients sending into one group at once', () => {
  it('gives seqs exactly 1..N, each socket its own in send order, and history matches every ack', async () => {
    const base = t.server.url;
    const CLIENTS = 20;
    const EACH = 25;
    const users = await Promise.all(Array.from({ length: CLIENTS }, () => register(base, 'c')));
    const [owner, ...rest] = users;
    const g = await group(base, owner!, rest, 'busy room');
    const sockets = await Promise.all(users.map((u) => pool.connect(u)));

    // Every send goes out before any ack comes back.
    const perSocket = await Promise.all(
      sockets.map((s, i) =>
        Promise.all(
          Array.from({ length: EACH }, (_, k) =>
            s.ok('message:send', { conversationId: g.id, content: `client ${i} message ${k}`, clientId: `${i}-${k}` }),
          ),
        ),
      ),
    );
    const acks = perSocket.flat().map((a) => a.message);
    const N = CLIENTS * EACH;
    expect(acks).toHaveLength(N);
    expect(acks.map((m) => m.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(new Set(acks.map((m) => m.id)).size).toBe(N);
    for (const [i, socketAcks] of perSocket.entries()) {
      const seqs = socketAcks.map((a) => a.message.seq);
      expect(seqs, `client ${i} seqs follow its send order`).toEqual([...seqs].sort((x, y) => x - y));
      socketAcks.forEach((a, k) => expect(a.message.content).toBe(`client ${i} message ${k}`));
    }

    const stored: any[] = [];
    for (let after = 0; ; ) {
      const page = await http(base, 'GET', `/api/conversations/${g.id}/messages?after=${after}&limit=100`, { token: owner!.token });
      stored.push(...page.body.messages);
      if (!page.body.hasMore) break;
      after = page.body.messages.at(-1).seq;
    }
    const bySeq = [...acks].sort((x, y) => x.seq - y.seq);
    expect(stored.map((m) => [m.id, m.seq, m.content, m.senderId])).toEqual(bySeq.map((m) => [m.id, m.seq, m.content, m.senderId]));

    // Every member socket heard every message it did not send, once.
    for (const [i, s] of sockets.entries()) {
      await s.waitFor('message:new', () => true, N - EACH);
      await s.barrier();
      const heard = s.all('message:new').map((p) => p.message.seq);
      expect(heard, `socket ${i}`).toHaveLength(N - EACH);
      expect(new Set(heard).size).toBe(N - EACH);
      expect(heard, `socket ${i} hears messages in seq order`).toEqual([...heard].sort((x, y) => x - y));
    }
  });
});
