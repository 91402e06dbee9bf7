/**
 * One load-generator connection, spoken either as a Socket.IO client (Parley
 * and the Socket.IO relay: the wire contract's `message:send` and
 * `message:new`) or as a raw `ws` client (the ws relay's JSON frames).
 */
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { Proto } from '../servers.js';

export interface Ack {
  ok: boolean;
  error?: { code: string; message: string };
}

export interface ClientOptions {
  token?: string;
  rooms?: string[];
  timeoutMs: number;
  /** Source address of the connection (ClientSpec.localAddress). */
  localAddress?: string;
}

/** What a receiver reads of a delivered message (the ws relay knows only the clientId). */
export interface Delivered {
  clientId: string | null;
  conversationId?: string;
  seq?: number;
}

export interface BenchClient {
  /** Sends a message; `onAck` is called once with the answer (never, if the connection dies). */
  send(conversationId: string, content: string, clientId: string, onAck: (ack: Ack) => void): void;
  /** Called with every message delivered to this connection. */
  onNew(fn: (m: Delivered) => void): void;
  /** Parley: moves this user's delivered or read marker; resolves on `ok`, rejects with the error otherwise. */
  mark(type: 'delivered' | 'read', conversationId: string, seq: number): Promise<void>;
  /** Called for every `receipt` event (Parley). */
  onReceipt(fn: () => void): void;
  /** Called if the connection closes without close() being called. */
  onLost(fn: (reason: string) => void): void;
  close(): void;
}

function connectSocketIo(url: string, o: ClientOptions): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = io(url, {
      auth: { token: o.token, rooms: (o.rooms ?? []).join(',') },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      // engine.io-client hands `localAddress` to the ws client it opens in Node; its options type does not declare it.
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      timeout: o.timeoutMs,
    });
    let closing = false;
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
    socket.once('connect', () =>
      resolve({
        send: (conversationId, content, clientId, onAck) => socket.emit('message:send', { conversationId, content, clientId }, onAck),
        onNew: (fn) => socket.on('message:new', (p: { message: Delivered }) => fn(p.message)),
        mark: (type, conversationId, seq) =>
          new Promise((resolve, reject) => {
            if (!socket.connected) return reject({ code: 'network', retryable: true });
            socket.timeout(30_000).emit(type === 'read' ? 'message:read' : 'message:delivered', { conversationId, seq }, (err: Error | null, ack: Ack & { error?: { data?: unknown } }) => {
              if (err) reject({ code: 'timeout', retryable: true });
              else if (ack.ok) resolve();
              else reject({ ...ack.error, retryable: ['rate_limited', 'unavailable', 'internal'].includes(ack.error?.code ?? '') });
            });
          }),
        onReceipt: (fn) => socket.on('receipt', () => fn()),
        onLost: (fn) => socket.on('disconnect', (reason) => closing || fn(reason)),
        close: () => {
          closing = true;
          socket.close();
        },
      }),
    );
  });
}

function connectWs(url: string, o: ClientOptions): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/?rooms=${encodeURIComponent((o.rooms ?? []).join(','))}`, {
      handshakeTimeout: o.timeoutMs,
      perMessageDeflate: false,
      localAddress: o.localAddress,
    });
    const acks = new Map<string, (ack: Ack) => void>();
    let onNew: (m: Delivered) => void = () => {};
    let closing = false;
    ws.once('error', reject);
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: 'ack'; id: string; ok: boolean } | { type: 'new'; message: { clientId: string | null } };
      if (f.type === 'new') onNew({ clientId: f.message.clientId });
      else {
        const cb = acks.get(f.id);
        acks.delete(f.id);
        cb?.(f);
      }
    });
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {}); // reported through 'close'
      resolve({
        send: (conversationId, content, id, onAck) => {
          acks.set(id, onAck);
          ws.send(JSON.stringify({ type: 'send', id, conversationId, content }));
        },
        onNew: (fn) => {
          onNew = fn;
        },
        mark: () => Promise.resolve(),
        onReceipt: () => {},
        onLost: (fn) => ws.on('close', (code) => closing || fn(`closed ${code}`)),
        close: () => {
          closing = true;
          ws.close();
        },
      });
    });
  });
}

export function connect(proto: Proto, url: string, o: ClientOptions): Promise<BenchClient> {
  return proto === 'ws' ? connectWs(url, o) : connectSocketIo(url, o);
}
