import { describe, expect, it } from 'vitest';
import { connect, direct, group, http, register, type Account } from '../helpers/client.js';
import { useServer } from '../helpers/server.js';
import { expectMessage } from '../helpers/shapes.js';

const t = useServer();
const { pool } = t;

/** Checks a message against the wire schema; returns it. */
function wire(m: unknown) {
  expectMessage(m);
  return m as any;
}

async function pair(): Promise<[Account, Account, string]> {
  const a = await register(t.url, 'a');
  const b = await register(t.url, 'b');
  return [a, b, (await direct(t.url, a, b)).id];
}

const history = async (who: Account, cid: string, query = '') =>
  (await http(t.url, 'GET', `/api/conversations/${cid}/messages${query}`, { token: who.token })).body;

describe('socket authentication', () => {
  it('refuses a connection without a token, or with a bad or tampered one, with "unauthorized"', async () => {
    const a = await register(t.url);
    for (const transports of [['websocket'], ['polling']] as const) {
      await expect(connect(t.url, undefined, { transports: [...transports] })).rejects.toThrow('unauthorized');
    }
    await expect(connect(t.url, 'garbage.token.value')).rejects.toThrow('unauthorized');
    await expect(connect(t.url, 'garbage', { via: 'query' })).rejects.toThrow('unauthorized');
    await expect(connect(t.url, a.token.slice(0, -3) + 'xyz')).rejects.toThrow('unauthorized');
  });

  it('accepts the token in the handshake auth or as a query parameter', async () => {
    const [a, , cid] = await pair();
    const viaQuery = await pool.connect(a, { via: 'query' });
    expect((await viaQuery.send(cid, 'hello')).seq).toBe(1);
  });
});

describe('message:send', () => {
  it('acks with the stored message, seq 1, 2, 3, and history returns the same', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sent = [];
    for (const text of ['one', 'two', 'three']) sent.push(wire(await sa.send(cid, text)));
    expect(sent.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(sent.map((m) => m.rev)).toEqual([1, 2, 3]);
    for (const m of sent) {
      expect(m).toMatchObject({ conversationId: cid, senderId: a.id, clientId: null, editedAt: null, deletedAt: null, status: 'sent' });
    }
    const h = await history(b, cid);
    expect(h.messages).toEqual(sent);
    expect(h.hasMore).toBe(false);
    const conv = (await http(t.url, 'GET', `/api/conversations/${cid}`, { token: b.token })).body;
    expect(conv).toMatchObject({ lastSeq: 3, lastRev: 3 });
    expect(conv.lastMessage.id).toBe(sent[2].id);
  });

  it('the plain `message` event is an alias of message:send', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const ack = await sa.ok('message', { conversationId: cid, content: 'via send()' });
    expect(wire(ack.message).seq).toBe(1);
    await sb.waitFor('message:new', (p) => p.message.id === ack.message.id);
    // and socket.send() itself, which emits `message`
    const viaSend = await sa.socket.timeout(10_000).emitWithAck('message', { conversationId: cid, content: 'x' });
    expect(viaSend.message.seq).toBe(2);
  });

  it('sends message:new to every socket of every member but the sending socket', async () => {
    const [a, b, cid] = await pair();
    const outsider = await register(t.url, 'x');
    const a1 = await pool.connect(a);
    const a2 = await pool.connect(a);
    const b1 = await pool.connect(b);
    const b2 = await pool.connect(b, { transports: ['polling'] });
    const x = await pool.connect(outsider);
    const m = await a1.send(cid, 'fan out');
    for (const s of [a2, b1, b2]) {
      const [got] = await s.waitFor('message:new', (p) => p.message.id === m.id);
      expect(wire(got.message)).toEqual(m);
    }
    for (const s of [a1, a2, b1, b2, x]) await s.barrier();
    expect(a1.all('message:new')).toHaveLength(0);
    expect(x.all('message:new')).toHaveLength(0);
    for (const s of [a2, b1, b2]) expect(s.all('message:new', (p) => p.message.id === m.id)).toHaveLength(1);
  });

  it('keeps content exactly: emoji, CJK, RTL, combining marks, markup, newlines, 4000 code points', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const samples = [
      'emoji 😀🎉👍🏽 family 👨‍👩‍👧‍👦',
      '中文消息，日本語のメッセージ、한국어',
      'עברית ועربية',
      'e\u0301 a\u0308 ﬁ 𝔘𝔫𝔦',
      '"quotes" \\ <b>tags</b> &amp;',
      'line one\nline two\n\ttabbed',
      '😀'.repeat(4000),
    ];
    for (const text of samples) {
      const m = await sa.send(cid, text);
      expect(m.content).toBe(text);
      const [got] = await sb.waitFor('message:new', (p) => p.message.id === m.id);
      expect(got.message.content).toBe(text);
    }
    expect((await history(b, cid)).messages.map((m: any) => m.content)).toEqual(samples);
  });

  it.each([
    ['missing conversationId', { content: 'hi' }],
    ['numeric conversationId', { conversationId: 42, content: 'hi' }],
    ['missing content', { conversationId: 'CONV' }],
    ['empty content', { conversationId: 'CONV', content: '' }],
    ['blank content', { conversationId: 'CONV', content: ' \n\t ' }],
    ['4001 code points', { conversationId: 'CONV', content: 'x'.repeat(4001) }],
    ['number content', { conversationId: 'CONV', content: 123 }],
    ['null content', { conversationId: 'CONV', content: null }],
    ['array content', { conversationId: 'CONV', content: ['a'] }],
    ['object content', { conversationId: 'CONV', content: { text: 'a' } }],
    ['numeric clientId', { conversationId: 'CONV', content: 'a', clientId: 5 }],
    ['string payload', 'just a string'],
    ['number payload', 42],
    ['array payload', ['CONV', 'hi']],
    ['null payload', null],
  ])('refuses %s with a validation error that names the problem, and stores nothing', async (_name, payload) => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    const p = payload && typeof payload === 'object' && !Array.isArray(payload)
      ? Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, v === 'CONV' ? cid : v]))
      : payload;
    for (const event of ['message:send', 'message']) {
      const ack = await sa.call(event, p);
      expect(ack.ok).toBe(false);
      expect(ack.error.code).toBe('validation');
      expect(ack.error.message).toMatch(/\S/);
    }
    expect((await sa.send(cid, 'valid')).seq).toBe(1);
  });

  it('answers validation when the payload is missing altogether', async () => {
    const a = await register(t.url);
    const sa = await pool.connect(a);
    const ack = await sa.socket.timeout(10_000).emitWithAck('message:send');
    expect(ack).toMatchObject({ ok: false, error: { code: 'validation' } });
  });

  it('names the field that is wrong', async () => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    expect((await sa.call('message:send', { conversationId: cid })).error.message).toMatch(/content/);
    expect((await sa.call('message:send', { content: 'x' })).error.message).toMatch(/conversationId/);
    expect((await sa.call('message:send', { conversationId: cid, content: '  ' })).error.message).toMatch(/content.*blank/);
  });

  it('refuses a non-member (forbidden) and an unknown conversation (not_found)', async () => {
    const [, b, cid] = await pair();
    const outsider = await register(t.url, 'x');
    const sx = await pool.connect(outsider);
    expect((await sx.call('message:send', { conversationId: cid, content: 'let me in' })).error.code).toBe('forbidden');
    for (const id of ['missing-123', 'c999999', b.id]) {
      expect((await sx.call('message:send', { conversationId: id, content: 'hi' })).error.code).toBe('not_found');
    }
    expect((await history(b, cid)).messages).toEqual([]);
  });

  it('a repeated clientId returns the original, stores nothing, uses no seq and broadcasts nothing', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const first = await sa.send(cid, 'once', { clientId: 'c-1' });
    expect(first.clientId).toBe('c-1');
    await sb.waitFor('message:new', (p) => p.message.id === first.id);
    const again = await sa.send(cid, 'different content', { clientId: 'c-1' });
    expect(again).toEqual(first);
    const fromOtherSocket = await (await pool.connect(a)).send(cid, 'once', { clientId: 'c-1' });
    expect(fromOtherSocket.id).toBe(first.id);
    const next = await sa.send(cid, 'next', { clientId: 'c-2' });
    expect(next.seq).toBe(2);
    const theirs = await sb.send(cid, 'once', { clientId: 'c-1' });
    expect(theirs.id).not.toBe(first.id);
    expect(theirs.seq).toBe(3);
    await sb.barrier();
    expect(sb.all('message:new', (p) => p.message.clientId === 'c-1')).toHaveLength(1);
    expect((await history(a, cid)).messages.map((m: any) => m.seq)).toEqual([1, 2, 3]);
  });

  it('duplicates sent in the same turn (one batch) resolve to one message', async () => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    const acks = await Promise.all(
      Array.from({ length: 5 }, () => sa.ok('message:send', { conversationId: cid, content: 'dup', clientId: 'same' })),
    );
    expect(new Set(acks.map((x) => x.message.id)).size).toBe(1);
    expect((await history(a, cid)).messages).toHaveLength(1);
  });
});

describe('conversation:join and conversation:leave', () => {
  async function filled(n: number) {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sent = [];
    for (let i = 1; i <= n; i++) sent.push(await sa.send(cid, `m${i}`));
    return { a, b, cid, sent };
  }
  const seqs = (ack: any) => ack.messages.map((m: any) => m.seq);

  it('returns the latest page, or everything after afterSeq, with lastSeq and hasMore', async () => {
    const { b, cid, sent } = await filled(5);
    const sb = await pool.connect(b);
    let ack = await sb.ok('conversation:join', { conversationId: cid });
    expect([seqs(ack), ack.lastSeq, ack.hasMore]).toEqual([[1, 2, 3, 4, 5], 5, false]);
    expect(ack.messages).toEqual(sent);
    ack = await sb.ok('conversation:join', { conversationId: cid, limit: 2 });
    expect([seqs(ack), ack.hasMore]).toEqual([[4, 5], true]);
    ack = await sb.ok('conversation:join', { conversationId: cid, afterSeq: 2 });
    expect([seqs(ack), ack.hasMore]).toEqual([[3, 4, 5], false]);
    ack = await sb.ok('conversation:join', { conversationId: cid, afterSeq: 0, limit: 2 });
    expect([seqs(ack), ack.hasMore]).toEqual([[1, 2], true]);
    ack = await sb.ok('conversation:join', { conversationId: cid, afterSeq: 5 });
    expect([seqs(ack), ack.lastSeq, ack.hasMore]).toEqual([[], 5, false]);
  });

  it('refuses outsiders, unknown conversations and malformed payloads', async () => {
    const { cid } = await filled(1);
    const sx = await pool.connect(await register(t.url, 'x'));
    expect((await sx.call('conversation:join', { conversationId: cid })).error.code).toBe('forbidden');
    expect((await sx.call('conversation:join', { conversationId: 'missing-1' })).error.code).toBe('not_found');
    for (const bad of [{}, 'nope', { conversationId: cid, limit: 0 }, { conversationId: cid, limit: 101 }, { conversationId: cid, afterSeq: -1 }]) {
      expect((await sx.call('conversation:join', bad)).error.code).toBe('validation');
    }
    expect((await sx.call('conversation:leave', 7)).error.code).toBe('validation');
  });

  it('leave answers ok', async () => {
    const { a, cid } = await filled(1);
    const sa = await pool.connect(a);
    await sa.ok('conversation:join', { conversationId: cid });
    expect(await sa.call('conversation:leave', { conversationId: cid })).toEqual({ ok: true });
  });
});

describe('REST history', () => {
  it('pages backwards and forwards by seq', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    for (let i = 1; i <= 7; i++) await sa.send(cid, `m${i}`);
    const page = async (q: string) => {
      const h = await history(b, cid, q);
      return [h.messages.map((m: any) => m.seq), h.hasMore];
    };
    expect(await page('?limit=3')).toEqual([[5, 6, 7], true]);
    expect(await page('?before=5&limit=3')).toEqual([[2, 3, 4], true]);
    expect(await page('?before=2&limit=3')).toEqual([[1], false]);
    expect(await page('?after=4&limit=2')).toEqual([[5, 6], true]);
    expect(await page('?after=6&limit=2')).toEqual([[7], false]);
    expect(await page('?after=7')).toEqual([[], false]);
    const both = await http(t.url, 'GET', `/api/conversations/${cid}/messages?before=3&after=1`, { token: b.token });
    expect(both.status).toBe(400);
    expect(both.body.error.code).toBe('validation');
  });
});

describe('events the server does not know', () => {
  it('answers validation ("unknown event") when an ack is asked for, and ignores them otherwise', async () => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    const ack = await sa.call('no:such:event', { x: 1 });
    expect(ack).toMatchObject({ ok: false, error: { code: 'validation' } });
    expect(ack.error.message).toMatch(/unknown event/);
    sa.socket.emit('no:such:event', { x: 1 });
    sa.socket.emit('message:send', { conversationId: cid, content: 'no ack asked' });
    expect((await sa.send(cid, 'still alive')).seq).toBe(2);
  });
});

describe('a handler that throws', () => {
  it('answers internal, logs, and the server goes on', async () => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    const messages = t.server.app.services.messages;
    const original = messages.send.bind(messages);
    messages.send = async () => {
      throw new Error('boom');
    };
    try {
      const ack = await sa.call('message:send', { conversationId: cid, content: 'x' });
      expect(ack).toEqual({ ok: false, error: { code: 'internal', message: expect.any(String) } });
      expect(ack.error.message).not.toMatch(/boom/);
    } finally {
      messages.send = original;
    }
    expect((await sa.send(cid, 'after the failure')).seq).toBe(1);
  });
});

describe('group fan-out', () => {
  it('reaches every member of a group, once', async () => {
    const owner = await register(t.url, 'o');
    const others = [await register(t.url, 'm'), await register(t.url, 'm'), await register(t.url, 'm')];
    const g = await group(t.url, owner, others);
    const so = await pool.connect(owner);
    const sockets = await Promise.all(others.map((o) => pool.connect(o)));
    const m = await so.send(g.id, 'hello all');
    for (const s of sockets) await s.waitFor('message:new', (p) => p.message.id === m.id);
    for (const s of sockets) {
      await s.barrier();
      expect(s.all('message:new')).toHaveLength(1);
    }
  });
});
