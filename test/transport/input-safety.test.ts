import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodeHttp from 'node:http';
import { direct, group, http, register } from '../helpers/client.js';
import { tempDir, useServer } from '../helpers/server.js';
import { startProcess, type ServerProcess } from '../helpers/process.js';
import { MAX_IN_FLIGHT_PER_SOCKET } from '../../src/transport/socket/server.js';

// Limits on (the in-flight bound is one of them), every rate rule off: these tests send fast.
const t = useServer({ rateLimits: 'send=off,receipt=off,search=off,conversation=off,connect=off' });
const { pool } = t;

describe('text is stored exactly as acknowledged', () => {
  it('refuses lone surrogates in content and clientId (the ack could not match what is stored)', async () => {
    const a = await register(t.server.url);
    const b = await register(t.server.url);
    const conv = await direct(t.server.url, a, b);
    const sa = await pool.connect(a);
    for (const payload of [
      { conversationId: conv.id, content: 'a\ud800b' },
      { conversationId: conv.id, content: 'x\udc00' },
      { conversationId: conv.id, content: 'ok', clientId: 'id-\ud83d' },
    ]) {
      const ack = await sa.call('message:send', payload);
      expect(ack.ok).toBe(false);
      expect(ack.error.code).toBe('validation');
      expect(ack.error.message).toMatch(/well-formed/);
    }
    const fine = await sa.send(conv.id, 'pair 😀 ok', { clientId: 'id-😀' });
    const h = await http(t.server.url, 'GET', `/api/conversations/${conv.id}/messages`, { token: b.token });
    expect(h.body.messages).toEqual([fine]);
  });

  it.each([
    ['a NUL', 'bad\u0000name'],
    ['a newline', 'two\nlines'],
    ['a right-to-left override', 'admin\u202egnp.exe'],
    ['a lone surrogate', 'x\ud800'],
  ])('refuses %s in display names and group titles', async (_what, text) => {
    const a = await register(t.server.url);
    const b = await register(t.server.url);
    const me = await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: { displayName: text } });
    expect([me.status, me.body.error.code]).toEqual([400, 'validation']);
    const created = await http(t.server.url, 'POST', '/api/conversations', {
      token: a.token,
      body: { type: 'group', title: text, memberIds: [b.id] },
    });
    expect([created.status, created.body.error.code]).toEqual([400, 'validation']);
    const g = await group(t.server.url, a, [b], 'fine title');
    const renamed = await http(t.server.url, 'PATCH', `/api/conversations/${g.id}`, { token: a.token, body: { title: text } });
    expect([renamed.status, renamed.body.error.code]).toEqual([400, 'validation']);
  });

  it('accepts names in any script, with emoji and inner spaces', async () => {
    const a = await register(t.server.url);
    const r = await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: { displayName: 'Zoë 東京 🌸 עברית' } });
    expect(r.status).toBe(200);
    expect(r.body.displayName).toBe('Zoë 東京 🌸 עברית');
  });
});

describe('one connection cannot flood the server', () => {
  it(`answers rate_limited past ${MAX_IN_FLIGHT_PER_SOCKET} unanswered events, and serves it again once answers go out`, async () => {
    const a = await register(t.server.url);
    const b = await register(t.server.url);
    const conv = await direct(t.server.url, a, b);
    const sa = await pool.connect(a);
    // Hold the commit so that sends stay unanswered.
    const store = t.server.app.store;
    const append = store.appendMessages.bind(store);
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    store.appendMessages = async (batch) => {
      await opened;
      return append(batch);
    };
    try {
      const held = Array.from({ length: MAX_IN_FLIGHT_PER_SOCKET }, (_, i) =>
        sa.call('message:send', { conversationId: conv.id, content: `m${i}` }),
      );
      const over = await sa.call('message:send', { conversationId: conv.id, content: 'one too many' });
      expect(over).toMatchObject({ ok: false, error: { code: 'rate_limited', data: { retryAfter: expect.any(Number) } } });
      open();
      expect((await Promise.all(held)).every((x) => x.ok)).toBe(true);
      expect((await sa.send(conv.id, 'after')).seq).toBe(MAX_IN_FLIGHT_PER_SOCKET + 1);
    } finally {
      store.appendMessages = append;
      open();
    }
  });
});

describe('an over-limit request body', () => {
  // A server process of its own (what `npm start` runs): in the test's own
  // process, client and server share one event loop and the reset does not show.
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startProcess(tempDir());
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
  });

  /** POSTs `bytes` of body (chunked, or with a Content-Length); resolves with what the client could read. */
  function upload(bytes: number, chunked: boolean): Promise<{ status: number; body: string } | { error: string }> {
    const { port } = new URL(server.url);
    return new Promise((resolve) => {
      const headers: Record<string, string | number> = { 'content-type': 'application/json' };
      if (chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = bytes;
      const req = nodeHttp.request({ port: Number(port), host: '127.0.0.1', method: 'POST', path: '/api/auth/register', headers }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      const write = (): void => {
        while (sent < bytes) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
  }

  it('gets a 413 it can read, not a connection reset, however it is sent (the rest of the body is read and dropped)', async () => {
    for (let i = 0; i < 8; i++) {
      for (const chunked of [true, false]) {
        const r = await upload(6 * 1024 * 1024, chunked);
        expect(r, `try ${i}, ${chunked ? 'chunked' : 'content-length'}`).toMatchObject({ status: 413 });
        if ('body' in r) expect(JSON.parse(r.body).error.code).toBe('payload_too_large');
      }
    }
  });
});
