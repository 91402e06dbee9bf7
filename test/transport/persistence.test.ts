import { afterEach, describe, expect, it } from 'vitest';
import { connect, direct, group, http, register, type Account, type TestSocket } from '../helpers/client.js';
import { startServer, tempDir } from '../helpers/server.js';
import { startProcess, type ServerProcess } from '../helpers/process.js';

const running: ServerProcess[] = [];
const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

async function allMessages(base: string, who: Account, cid: string) {
  const out: any[] = [];
  for (let after = 0; ; ) {
    const page = await http(base, 'GET', `/api/conversations/${cid}/messages?after=${after}&limit=100`, { token: who.token });
    expect(page.status).toBe(200);
    out.push(...page.body.messages);
    if (!page.body.hasMore) return out;
    after = page.body.messages.at(-1).seq;
  }
}

describe('a restart on the same DATA_DIR', () => {
  it('keeps accounts, tokens, conversations, messages, seq and clientId idempotency (in-process)', async () => {
    const dataDir = tempDir();
    let server = await startServer({ dataDir });
    const a = await register(server.url, 'pa');
    const b = await register(server.url, 'pb');
    const conv = await direct(server.url, a, b);
    const g = await group(server.url, a, [b], 'kept group');
    const sa = await connect(server.url, a.token);
    const sent = [];
    for (let i = 1; i <= 3; i++) sent.push(await sa.send(conv.id, `before ${i}`, { clientId: `keep-${i}` }));
    sa.close();
    await server.close();

    server = await startServer({ dataDir });
    try {
      const login = await http(server.url, 'POST', '/api/auth/login', { body: { username: a.username, password: a.password } });
      expect(login.status).toBe(200);
      expect(login.body.user.id).toBe(a.id);
      const me = await http(server.url, 'GET', '/api/users/me', { token: a.token });
      expect(me.status, 'a token issued before the restart still works').toBe(200);
      const list = await http(server.url, 'GET', '/api/conversations', { token: b.token });
      expect(list.body.conversations.map((c: any) => c.id).sort()).toEqual([conv.id, g.id].sort());
      expect(await allMessages(server.url, b, conv.id)).toEqual(sent);
      const sa2 = await connect(server.url, a.token);
      sockets.push(sa2);
      expect((await sa2.send(conv.id, 'after')).seq).toBe(4);
      expect((await sa2.send(conv.id, 'again', { clientId: 'keep-1' })).id).toBe(sent[0].id);
    } finally {
      await server.close();
    }
  });
});

describe('the real process (node dist/main.js)', () => {
  it('on SIGTERM finishes in-flight sends, acknowledges them, exits 0, and loses nothing acknowledged', async () => {
    const dataDir = tempDir();
    const p1 = await startProcess(dataDir);
    running.push(p1);
    const a = await register(p1.url, 'ta');
    const b = await register(p1.url, 'tb');
    const conv = await direct(p1.url, a, b);
    const sa = await connect(p1.url, a.token);
    sockets.push(sa);

    // A burst of sends (within the per-connection limit of unanswered
    // events), then SIGTERM while they are in flight. The in-flight window is
    // made certain in shutdown.test.ts; this is the real process end to end.
    const TOTAL = 60;
    const calls = Array.from({ length: TOTAL }, (_, i) =>
      sa.call('message:send', { conversationId: conv.id, content: `m${i}`, clientId: `k${i}` }).catch((e: Error) => ({ lost: e.message })),
    );
    await calls[0]; // the server is busy with the burst now
    p1.child.kill('SIGTERM');
    const answers = await Promise.all(calls);
    expect(await p1.exited).toBe(0);

    const acked = answers.filter((x: any) => x.ok === true).map((x: any) => x.message);
    const refused = answers.filter((x: any) => x.ok === false);
    // A send is acknowledged, refused as `unavailable` (retry), or its frame
    // arrived after the socket closed (the client sees the disconnect).
    for (const r of refused) expect(r.error.code).toBe('unavailable');
    expect(acked.length, 'the first send was acknowledged').toBeGreaterThan(0);

    const p2 = await startProcess(dataDir);
    running.push(p2);
    const stored = await allMessages(p2.url, b, conv.id);
    expect(stored.map((m) => m.seq), 'seqs are gap-free').toEqual(stored.map((_, i) => i + 1));
    const storedIds = new Set(stored.map((m) => m.id));
    for (const m of acked) expect(storedIds.has(m.id), `acknowledged ${m.clientId} survived`).toBe(true);
    expect(new Set(stored.map((m) => m.clientId)).size, 'no duplicates').toBe(stored.length);
    p2.child.kill('SIGTERM');
    expect(await p2.exited).toBe(0);
  });

  it('after SIGKILL, every acknowledged message is still there (durable before the ack)', async () => {
    const dataDir = tempDir();
    const p1 = await startProcess(dataDir);
    running.push(p1);
    const a = await register(p1.url, 'ka');
    const b = await register(p1.url, 'kb');
    const conv = await direct(p1.url, a, b);
    const sa = await connect(p1.url, a.token);
    sockets.push(sa);
    const acked = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sa.send(conv.id, `durable ${i}`, { clientId: `d${i}` })),
    );
    p1.child.kill('SIGKILL');
    expect(await p1.exited).toBe('SIGKILL');

    const p2 = await startProcess(dataDir);
    running.push(p2);
    const stored = await allMessages(p2.url, b, conv.id);
    expect(stored.map((m) => m.id).sort()).toEqual(acked.map((m) => m.id).sort());
    const sa2 = await connect(p2.url, a.token);
    sockets.push(sa2);
    expect((await sa2.send(conv.id, 'next')).seq).toBe(51);
    p2.child.kill('SIGTERM');
    expect(await p2.exited).toBe(0);
  });
});
