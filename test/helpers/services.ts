import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { freePort } from './process.js';

/**
 * Throwaway PostgreSQL and Redis servers for tests: each on a free loopback
 * port, with its data in a temp dir that stop() removes. test/global-setup.ts
 * starts one of each for the whole run and provides their URLs; a test that
 * takes a server down (fault tests) starts its own, never the shared ones.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's PostgreSQL (database `postgres`); pass it to createDatabase(). */
    postgresUrl?: string;
    /** URL of the run's Redis; test files share it: prefix keys and channels, never FLUSHALL. */
    redisUrl?: string;
  }
}

export const INSTALL_HINT = 'apt-get install -y postgresql redis-server';

/** The run's PostgreSQL URL, or undefined when tests needing it skip: `describe.skipIf(!url)` (the global setup printed why). */
export function postgresOrSkip(): string | undefined {
  return provided(inject('postgresUrl'), 'PostgreSQL');
}

/** The run's Redis URL, or undefined when tests needing it skip: `describe.skipIf(!url)` (the global setup printed why). */
export function redisOrSkip(): string | undefined {
  return provided(inject('redisUrl'), 'Redis');
}

function provided(url: string | undefined, what: string): string | undefined {
  // In CI the global setup fails the run instead; this catches a config that lost it.
  if (!url && process.env.CI === 'true') throw new Error(`no ${what} URL was provided (test/global-setup.ts) and CI=true: nothing may skip`);
  return url;
}

export interface ThrowawayServer {
  /** PostgreSQL: the superuser `parley` (trust auth) on database `postgres`. */
  readonly url: string;
  readonly port: number;
  /** Temp dir (on /dev/shm when it has room) with the data and PostgreSQL's socket; stop() removes it. */
  readonly dir: string;
  /** False between down() and up(), and after stop(). */
  readonly running: boolean;
  /** The server's recent stdout and stderr. */
  output(): string;
  /**
   * Takes it down abruptly, keeping port and data: PostgreSQL by an immediate
   * shutdown (up() runs crash recovery), Redis by SIGKILL (it keeps no data).
   */
  down(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  up(): Promise<void>;
  /** Kills it and removes its dir; safe to call twice. */
  stop(): Promise<void>;
}

/** Debian's newest /usr/lib/postgresql/N/bin, else the dir of an initdb on PATH. */
export function findPostgresBin(): string | undefined {
  const debian = '/usr/lib/postgresql';
  const versions = fs.existsSync(debian) ? fs.readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (fs.existsSync(path.join(debian, v, 'bin', 'initdb'))) return path.join(debian, v, 'bin');
  const onPath = which('initdb');
  return onPath && path.dirname(onPath);
}

export function findRedisServer(): string | undefined {
  return which('redis-server');
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir || '.', name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` OS user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(`running as root, PostgreSQL needs the 'postgres' OS user (${INSTALL_HINT} creates it)`);
  }
}

/** Starts a throwaway PostgreSQL cluster (a fresh initdb's copy in a temp dir, listening on 127.0.0.1 only). */
export async function startPostgres(opts: { settings?: Record<string, string> } = {}): Promise<ThrowawayServer> {
  const bin = findPostgresBin();
  if (!bin) throw new Error(`PostgreSQL is not installed (${INSTALL_HINT})`);
  const user = postgresUser();
  const dir = makeDir('pg');
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const spawnOpts: SpawnOptions = { cwd: dir, ...user };
  try {
    await initdb(bin, data, spawnOpts);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const settings = { listen_addresses: '127.0.0.1', max_connections: '300', shared_buffers: '128MB', ...opts.settings };
  const args = (port: number) => ['-D', data, '-p', String(port), '-k', dir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  return manage({
    dir,
    url: (port) => `postgres://parley@127.0.0.1:${port}/postgres`,
    launch: (port) => launch(path.join(bin, 'postgres'), args(port), spawnOpts, /database system is ready to accept connections/),
    // SIGQUIT is an immediate shutdown: the postmaster stops its children and releases shared memory.
    signal: 'SIGQUIT',
  });
}

const INITDB_ARGS = ['-A', 'trust', '-U', 'parley', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions'];

/**
 * initdb runs once per machine (per binaries and user) and leaves a template
 * beside the clusters' dirs; each cluster starts as a copy of it (a tenth of the time).
 */
async function initdb(bin: string, data: string, opts: SpawnOptions): Promise<void> {
  const initdbFile = path.join(bin, 'initdb');
  // The binary's mtime changes when it is upgraded in place.
  const key = createHash('sha256').update(JSON.stringify([initdbFile, fs.statSync(initdbFile).mtimeMs, INITDB_ARGS, opts.uid])).digest('hex').slice(0, 12);
  const template = path.join(baseDir(), `parley-pg-template-${key}`);
  if (fs.existsSync(path.join(template, 'PG_VERSION'))) return run('cp', ['-a', template, data], {});
  await run(initdbFile, ['-D', data, ...INITDB_ARGS], opts);
  // Copied inside this cluster's dir (swept if we are killed), then renamed into place whole.
  const copy = path.join(path.dirname(data), 'template');
  await run('cp', ['-a', data, copy], {});
  // A template is renamed into place whole, so one without PG_VERSION is stale (a temp cleaner ate it).
  if (fs.existsSync(template) && !fs.existsSync(path.join(template, 'PG_VERSION'))) fs.rmSync(template, { recursive: true, force: true });
  try {
    fs.renameSync(copy, template);
  } catch {
    fs.rmSync(copy, { recursive: true, force: true }); // another run put its template there first
  }
}

/** Starts a throwaway Redis (no persistence, 127.0.0.1 only). */
export async function startRedis(): Promise<ThrowawayServer> {
  const bin = findRedisServer();
  if (!bin) throw new Error(`redis-server is not installed (${INSTALL_HINT})`);
  const dir = makeDir('redis');
  return manage({
    dir,
    url: (port) => `redis://127.0.0.1:${port}`,
    launch: (port) =>
      launch(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { cwd: dir }, /Ready to accept connections/),
    signal: 'SIGKILL',
  });
}

/** Creates a uniquely named database on the cluster at adminUrl; drop() removes it (closing its connections). */
export async function createDatabase(adminUrl: string): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `parley_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

// ---- processes ----

interface Running {
  child: ChildProcess;
  exited: Promise<unknown>;
  output(): string;
}

const PREFIX = 'parley-svc-';
const live = new Set<{ killNow(): void }>();
let exitHookInstalled = false;

/**
 * Where the servers' dirs go: tmpfs when it has room (initdb and copies take
 * a tenth of the time there, and fsync costs nothing), else the temp dir.
 */
function baseDir(): string {
  try {
    const shm = fs.statfsSync('/dev/shm');
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    if (shm.bavail * shm.bsize >= 2 ** 30) return '/dev/shm';
  } catch {
    // no /dev/shm here
  }
  return os.tmpdir();
}

/** A temp dir named for its owner, so a later run can clean up after one that was killed. */
function makeDir(kind: string): string {
  sweepOrphans();
  const dir = fs.mkdtempSync(path.join(baseDir(), `${PREFIX}${kind}-`));
  fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ owner: process.pid }));
  return dir;
}

function manage(spec: { dir: string; url(port: number): string; launch(port: number): Promise<Running>; signal: NodeJS.Signals }): Promise<ThrowawayServer> {
  const { dir } = spec;
  let port = 0;
  let current: Running | undefined;
  let lastOutput = '';
  const record = (r: Running) => {
    current = r;
    fs.writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ owner: process.pid, pid: r.child.pid, port }));
  };
  const halt = async () => {
    const r = current;
    if (!r) return;
    current = undefined;
    lastOutput = r.output();
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill(spec.signal);
      const timer = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
      await r.exited;
      clearTimeout(timer);
    }
  };
  const entry = {
    killNow() {
      current?.child.kill(spec.signal);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const server: ThrowawayServer = {
    get url() {
      return spec.url(port);
    },
    get port() {
      return port;
    },
    dir,
    get running() {
      return current !== undefined;
    },
    output: () => current?.output() ?? lastOutput,
    down: halt,
    async up() {
      if (current) return;
      record(await spec.launch(port));
    },
    async stop() {
      live.delete(entry);
      await halt();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return (async () => {
    // A free port can be taken between the probe and the bind: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        record(await spec.launch(port));
        break;
      } catch (err) {
        if (attempt < 3 && /address already in use/i.test(String(err))) continue;
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
    live.add(entry);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const e of live) e.killNow();
      });
    }
    return server;
  })();
}

/** Spawns a server and resolves once its output matches `ready`; its output is kept drained. */
function launch(file: string, args: string[], opts: SpawnOptions, ready: RegExp, timeoutMs = 30_000): Promise<Running> {
  const child = spawn(file, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const running: Running = { child, exited, output: () => out };
  let settled = false;
  return new Promise<Running>((resolve, reject) => {
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(file)} ${why}:\n${out.slice(-4000)}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-20_000);
      if (!settled && ready.test(out)) {
        settled = true;
        clearTimeout(timer);
        resolve(running);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => fail(`failed to start: ${err.message}`));
    void exited.then((code) => fail(`exited (${code ?? child.signalCode}) before it was ready`));
  });
}

/** Runs a command to completion; rejects with its output on failure. */
function run(file: string, args: string[], opts: SpawnOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(file)} failed (${code}):\n${out.slice(-4000)}`))));
  });
}

/**
 * Removes the dirs (and stops the servers) of owners that died without
 * stopping them (a killed run). A server is signalled only if its command
 * line still names its own dir or port, so a reused pid is left alone.
 */
function sweepOrphans(): void {
  const tmp = baseDir();
  for (const name of fs.readdirSync(tmp)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = path.join(tmp, name);
    try {
      const { owner, pid, port } = JSON.parse(fs.readFileSync(path.join(dir, 'owner.json'), 'utf8')) as { owner: number; pid?: number; port?: number };
      if (alive(owner)) continue;
      if (pid && alive(pid)) {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes(`${name}/data`)) process.kill(pid, 'SIGQUIT');
        else if (new RegExp(`redis-server \\S+:${port}(\\0|$)`).test(cmd)) process.kill(pid, 'SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // being created, or already swept by someone else
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
