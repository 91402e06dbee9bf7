import { io, type Socket } from 'socket.io-client';
import { randomBytes } from 'node:crypto';

/** Test clients that speak only the wire contract: fetch and socket.io-client. */

export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function http<T = any>(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] ??= 'application/json';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

let counter = 0;
export const uniqueName = (prefix = 'u') => `${prefix}_${randomBytes(3).toString('hex')}${++counter}`;

export interface Account {
  id: string;
  username: string;
  password: string;
  token: string;
  user: any;
}

export async function register(base: string, prefix = 'u', extra: Record<string, unknown> = {}): Promise<Account> {
  const username = uniqueName(prefix);
  const password = 'pw-' + randomBytes(6).toString('hex');
  const r = await http(base, 'POST', '/api/auth/register', { body: { username, password, ...extra } });
  if (r.status !== 201) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.user.id, username, password, token: r.body.token, user: r.body.user };
}

export async function direct(base: string, a: Account, b: Account): Promise<any> {
  const r = await http(base, 'POST', '/api/conversations', { token: a.token, body: { type: 'direct', memberIds: [b.id] } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`direct failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function group(base: string, owner: Account, others: Account[], title = 'a group'): Promise<any> {
  const r = await http(base, 'POST', '/api/conversations', {
    token: owner.token,
    body: { type: 'group', title, memberIds: others.map((o) => o.id) },
  });
  if (r.status !== 201) throw new Error(`group failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A connected socket that records every event it receives. */
export class TestSocket {
  readonly events: { name: string; payload: any }[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    socket.onAny((name: string, payload: unknown) => {
      this.events.push({ name, payload });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get id(): string {
    return this.socket.id ?? '';
  }

  /** Emits with an ack and resolves with the ack's answer (fails after `timeout`). */
  call(event: string, ...args: unknown[]): Promise<any> {
    return this.socket.timeout(10_000).emitWithAck(event, ...args);
  }

  async ok(event: string, payload: unknown): Promise<any> {
    const ack = await this.call(event, payload);
    if (ack?.ok !== true) throw new Error(`${event} not ok: ${JSON.stringify(ack)}`);
    return ack;
  }

  async send(conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<any> {
    return (await this.ok('message:send', { conversationId, content, ...extra })).message;
  }

  /**
   * One acknowledged round trip. The server writes a socket's packets in
   * order, so once this resolves, every event the server had emitted to this
   * socket before it has arrived: "nothing came" can be asserted without a sleep.
   */
  async barrier(): Promise<void> {
    await this.call('test:barrier');
  }

  all(name: string, pred: (p: any) => boolean = () => true): any[] {
    return this.events.filter((e) => e.name === name && pred(e.payload)).map((e) => e.payload);
  }

  /** Waits until `count` matching events have arrived. */
  async waitFor(name: string, pred: (p: any) => boolean = () => true, count = 1, timeout = 10_000): Promise<any[]> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const hits = this.all(name, pred);
      if (hits.length >= count) return hits;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`waited ${timeout} ms for ${count} '${name}', got ${hits.length}: ${JSON.stringify(this.events.slice(-5))}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.disconnect();
  }
}

export type Transport = 'websocket' | 'polling';

/** Connects with the token in the handshake; rejects with the connect_error message. */
export function connect(
  base: string,
  token: string | undefined,
  opts: { transports?: Transport[]; via?: 'auth' | 'query' } = {},
): Promise<TestSocket> {
  const via = opts.via ?? 'auth';
  const socket = io(base, {
    transports: opts.transports ?? ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: via === 'auth' && token !== undefined ? { token } : undefined,
    query: via === 'query' && token !== undefined ? { token } : undefined,
  });
  const ts = new TestSocket(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(ts);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.disconnect();
      reject(err);
    });
  });
}

/** Closes every socket opened through it; use in afterEach. */
export class SocketPool {
  private readonly open: TestSocket[] = [];
  constructor(private readonly base: () => string) {}

  async connect(account: Account, opts: Parameters<typeof connect>[2] = {}): Promise<TestSocket> {
    const s = await connect(this.base(), account.token, opts);
    this.open.push(s);
    return s;
  }

  closeAll(): void {
    for (const s of this.open.splice(0)) s.close();
  }
}
