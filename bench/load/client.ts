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
}

export interface BenchClient {
  /** Sends a message; `onAck` is called once with the answer (never, if the connection dies). */
  send(conversationId: string, content: string, clientId: string, onAck: (ack: Ack) => void): void;
  /** Called with the `clientId` of every message delivered to this connection. */
  onNew(fn: (clientId: string | null) => void): void;
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
        onNew: (fn) => socket.on('message:new', (p: { message: { clientId: string | null } }) => fn(p.message.clientId)),
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
    });
    const acks = new Map<string, (ack: Ack) => void>();
    let onNew: (clientId: string | null) => void = () => {};
    let closing = false;
    ws.once('error', reject);
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: 'ack'; id: string; ok: boolean } | { type: 'new'; message: { clientId: string | null } };
      if (f.type === 'new') onNew(f.message.clientId);
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
