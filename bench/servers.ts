/**
 * The servers a scenario measures: Parley (`node dist/main.js` on a fresh data
 * dir) and the two bare relays, each a separate process with a pid to watch;
 * plus the few REST calls the scenarios need to set Parley up.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ROOT, startServer } from './lib.js';

export type Target = 'parley' | 'socketio-relay' | 'ws-relay';
/** How the load generator speaks to a target. */
export type Proto = 'socketio' | 'ws';

export interface Running {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export const LABELS: Record<Target, string> = {
  parley: 'parley',
  'socketio-relay': 'bare socket.io relay',
  'ws-relay': 'bare ws relay',
};

export const protoOf = (t: Target): Proto => (t === 'ws-relay' ? 'ws' : 'socketio');

/** Node arguments of a Parley process: the given ones, a CPU profile with BENCH_PROFILE=DIR, and BENCH_NODE_ARGS. */
export function parleyNodeArgs(nodeArgs: string[]): string[] {
  const profile = process.env.BENCH_PROFILE;
  return [...(profile && !nodeArgs.includes('--cpu-prof') ? [...nodeArgs, '--cpu-prof', `--cpu-prof-dir=${profile}`] : nodeArgs), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
}

/**
 * Parley on a fresh data dir, with cheap password hashing; the dir goes when
 * it stops. With BENCH_PROFILE=DIR in the environment, any scenario's Parley
 * writes V8 CPU profiles (one per thread) there when it stops.
 */
export async function startParley(nodeArgs: string[] = []): Promise<Running> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  const server = await startServer(dataDir, { SCRYPT_COST: '1024' }, parleyNodeArgs(nodeArgs));
  return {
    url: server.url,
    pid: server.child.pid!,
    stop: async () => {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A bare relay (bench/baselines/*-relay.ts); resolves once it answers HTTP. */
export async function startRelay(kind: 'socketio' | 'ws'): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, `bench/baselines/${kind}-relay.ts`)], {
    env: { ...process.env, PORT: String(port) },
    stdio: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      if (i > 300) throw new Error(`${kind} relay did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export function start(target: Target, nodeArgs: string[] = []): Promise<Running> {
  return target === 'parley' ? startParley(nodeArgs) : startRelay(protoOf(target));
}

async function call<T>(url: string, method: string, p: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url + p, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${p} -> ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export interface BenchUser {
  id: string;
  token: string;
}

/** Registers `n` users named `${prefix}${i}`, a few at a time. */
export async function registerUsers(url: string, prefix: string, n: number, concurrency = 8): Promise<BenchUser[]> {
  const users: BenchUser[] = new Array(n);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < n; i = next++) {
      const r = await call<{ user: { id: string }; token: string }>(url, 'POST', '/api/auth/register', { username: `${prefix}${i}`, password: 'password123' });
      users[i] = { id: r.user.id, token: r.token };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return users;
}

/** Creates a conversation as `owner`; returns its id. */
export async function createConversation(
  url: string,
  owner: BenchUser,
  body: { type: 'direct'; memberIds: [string] } | { type: 'group'; title: string; memberIds: string[] },
): Promise<string> {
  return (await call<{ id: string }>(url, 'POST', '/api/conversations', body, owner.token)).id;
}
