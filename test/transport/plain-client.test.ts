/**
 * A client in another language's style: the plain `socket.io-client` and
 * `fetch`, using only what contract.md says. Nothing from the project is
 * imported except the function that starts a server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

async function post(path: string, body: unknown, token?: string) {
  const res = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function account(name: string) {
  const username = `${name}_${Math.random().toString(36).slice(2, 8)}`;
  const r = await post('/api/auth/register', { username, password: 'correct horse battery' });
  expect(r.status).toBe(201);
  return { id: r.body.user.id as string, token: r.body.token as string };
}

function open(token: string, transports: ('websocket' | 'polling')[]): Promise<Socket> {
  const socket = io(server.url, { auth: { token }, transports, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

function next(socket: Socket, event: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within 10 s`)), 10_000);
    socket.once(event, (payload: unknown) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

describe.each([[['websocket']], [['polling']]] as const)('plain socket.io-client over %j', (transports) => {
  it('registers, creates a conversation, sends, receives, and reads history', async () => {
    const alice = await account('alice');
    const bob = await account('bob');
    const conv = await post('/api/conversations', { type: 'direct', memberIds: [bob.id] }, alice.token);
    expect(conv.status).toBe(201);
    const a = await open(alice.token, [...transports]);
    const b = await open(bob.token, [...transports]);
    try {
      const incoming = next(b, 'message:new');
      const ack = await a.timeout(10_000).emitWithAck('message:send', { conversationId: conv.body.id, content: 'hi bob', clientId: 'x1' });
      expect(ack.ok).toBe(true);
      expect(ack.message).toMatchObject({ seq: 1, content: 'hi bob', senderId: alice.id, clientId: 'x1' });
      expect((await incoming).message).toEqual(ack.message);

      const back = next(a, 'message:new');
      b.send({ conversationId: conv.body.id, content: 'hi alice' }, (reply: any) => expect(reply.ok).toBe(true));
      expect((await back).message).toMatchObject({ seq: 2, content: 'hi alice', senderId: bob.id });

      const joined = await b.timeout(10_000).emitWithAck('conversation:join', { conversationId: conv.body.id });
      expect(joined).toMatchObject({ ok: true, lastSeq: 2, hasMore: false });
      expect(joined.messages.map((m: any) => m.content)).toEqual(['hi bob', 'hi alice']);

      const bad = await a.timeout(10_000).emitWithAck('message:send', { conversationId: conv.body.id, content: '' });
      expect(bad).toMatchObject({ ok: false, error: { code: 'validation' } });
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});
