import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LIMITS } from '../../src/protocol/limits.js';
import { direct, register, TestSocket, type Transport } from '../helpers/client.js';
import { freePort } from '../helpers/process.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { createDatabase, postgresOrSkip, redisOrSkip } from '../helpers/services.js';

/**
 * deploy/nginx/parley.conf: `nginx -t` accepts it, it matches the server's
 * limits, and, run in front of two nodes sharing PostgreSQL and Redis, it
 * carries WebSocket and long-polling Socket.IO connections to both (a
 * polling session is a series of requests: with no affinity they would
 * land on the wrong node and fail).
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const CONF = path.join(ROOT, 'deploy', 'nginx', 'parley.conf');
const HINT = 'apt-get install -y nginx-light';

function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const file = path.join(dir || '.', 'nginx');
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const NGINX = findNginx();
if (!NGINX) {
  if (process.env.CI === 'true') throw new Error(`nginx is not installed (${HINT}): .ci/run must install it`);
  console.warn(`skipping the nginx tests: nginx is not installed (${HINT})`);
}

const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;

/** A main nginx.conf around `include`, with everything nginx writes (pid, logs, temp files) in `dir`. */
function mainConfig(dir: string, include: string, foreground = false): string {
  const p = (name: string) => quote(path.join(dir, name));
  return [
    `pid ${p('nginx.pid')};`,
    `error_log ${p('error.log')} notice;`,
    'worker_processes 1;',
    ...(foreground ? ['daemon off;'] : []),
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${p(t)};`),
    `  include ${quote(include)};`,
    '}',
    '',
  ].join('\n');
}

/**
 * The repo's file with its port and (optionally) its example nodes replaced.
 * Each replacement must apply, so a change of the file's layout fails here
 * instead of testing something else.
 */
function rewrite(conf: string, o: { listen: string; nodes?: string[] }): string {
  expect(conf.match(/^\s*listen\s+80;$/gm), 'one `listen 80;` line').toHaveLength(1);
  let out = conf.replace(/^(\s*)listen\s+80;$/m, `$1listen ${o.listen};`);
  if (o.nodes) {
    const servers = [...out.matchAll(/^(\s*)server\s+\d+\.\d+\.\d+\.\d+:\d+(\s[^;]*)?;$/gm)];
    expect(servers.length, 'the upstream lists several example nodes').toBeGreaterThanOrEqual(2);
    const [first] = servers;
    const lines = o.nodes.map((n) => `${first?.[1] ?? ''}server ${n}${first?.[2] ?? ''};`).join('\n');
    let i = 0;
    out = out.replace(/^(\s*)server\s+\d+\.\d+\.\d+\.\d+:\d+(\s[^;]*)?;\n/gm, () => (i++ === 0 ? `${lines}\n` : ''));
  }
  return out;
}

/** `nginx -t` on a main config that includes `include`. */
function nginxTest(dir: string, include: string): { status: number | null; output: string } {
  const main = path.join(dir, 'nginx.conf');
  fs.writeFileSync(main, mainConfig(dir, include));
  const r = spawnSync(NGINX as string, ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', main], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!NGINX)('deploy/nginx/parley.conf', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('passes `nginx -t`', async () => {
    const dir = tempDir('parley-nginx-t-');
    dirs.push(dir);
    // `nginx -t` binds the listening ports: port 80 needs root. Otherwise the
    // same file with its port moved to a free one on loopback.
    let include = CONF;
    if (process.getuid?.() !== 0) {
      include = path.join(dir, 'parley.conf');
      fs.writeFileSync(include, rewrite(fs.readFileSync(CONF, 'utf8'), { listen: `127.0.0.1:${await freePort()}` }));
    }
    const { status, output } = nginxTest(dir, include);
    expect(output).toContain('syntax is ok');
    expect(status, output).toBe(0);
  });

  it("matches the server's limits", () => {
    const conf = fs.readFileSync(CONF, 'utf8');
    // client_max_body_size: the nodes' body limit (REST bodies and Socket.IO's maxHttpBufferSize).
    const size = /^\s*client_max_body_size\s+(\d+)([kKmMgG]?);/m.exec(conf);
    expect(size, 'client_max_body_size is set').not.toBeNull();
    const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(size?.[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
    expect(Number(size?.[1]) * unit).toBe(LIMITS.bodyBytesMax);
    // /socket.io/ outlasts Engine.IO's heartbeat (pingInterval 25 s + pingTimeout 20 s).
    const socketIo = /location \/socket\.io\/ \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    for (const d of ['proxy_read_timeout', 'proxy_send_timeout']) {
      const s = new RegExp(`${d}\\s+(\\d+)s;`).exec(socketIo);
      expect(Number(s?.[1]), d).toBeGreaterThan(45);
    }
  });
});

const adminUrl = postgresOrSkip();
const redisUrl = redisOrSkip();

describe.skipIf(!NGINX || !adminUrl || !redisUrl)('nginx in front of two nodes (PostgreSQL + Redis)', () => {
  let nodes: TestServer[] = [];
  let dropDatabase = async () => {};
  let nginx: ChildProcess | undefined;
  let nginxExited: Promise<unknown> = Promise.resolve();
  let dir = '';
  let base = '';
  const sockets: TestSocket[] = [];
  const agents: http.Agent[] = [];

  beforeAll(async () => {
    const db = await createDatabase(adminUrl as string);
    dropDatabase = db.drop;
    // Identical nodes: one database, one Redis prefix, one token secret.
    const shared = {
      databaseUrl: db.url,
      redisUrl,
      redisPrefix: `nginx-test-${process.pid}-${Date.now()}`,
      jwtSecret: randomBytes(32).toString('base64url'),
    };
    nodes = await Promise.all([startServer(shared), startServer(shared)]);

    dir = tempDir('parley-nginx-');
    fs.chmodSync(dir, 0o755); // nginx's workers (nobody, when started as root) use its temp dirs
    const port = await freePort();
    const conf = rewrite(fs.readFileSync(CONF, 'utf8'), { listen: `127.0.0.1:${port}`, nodes: nodes.map((n) => new URL(n.url).host) });
    fs.writeFileSync(path.join(dir, 'parley.conf'), conf);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), mainConfig(dir, path.join(dir, 'parley.conf'), true));
    let output = '';
    const child = spawn(NGINX as string, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    nginx = child;
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    let exited: number | string | undefined;
    nginxExited = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exited = code ?? signal ?? -1))));
    base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 5000;
    for (;;) {
      const log = () => `${output}${fs.readFileSync(path.join(dir, 'error.log'), { encoding: 'utf8', flag: 'a+' })}`;
      if (exited !== undefined) throw new Error(`nginx exited (${exited}):\n${log()}`);
      const ok = await fetch(`${base}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`nginx did not answer /health within 5 s:\n${log()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const a of agents) a.destroy();
    if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
      nginx.kill('SIGTERM');
      await nginxExited;
    }
    await Promise.all(nodes.map((n) => n.close()));
    await dropDatabase();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Which node holds an Engine.IO session. */
  const nodeOf = (sid: string): number =>
    nodes.findIndex((n) => sid in (n.app.io.engine as unknown as { clients: Record<string, unknown> }).clients);

  /** One HTTP request through nginx from a loopback address of our choice (all of 127/8 is this machine). */
  function request(from: string, method: string, pathAndQuery: string, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${base}${pathAndQuery}`, { method, localAddress: from, headers: body ? { 'content-type': 'text/plain' } : {} }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Client addresses that nginx sends to node 0 and to node 1 (found by Engine.IO handshakes). */
  const addressOn: string[] = [];

  it('sends each client address to one node, and different addresses to both', async () => {
    const seen = new Set<number>();
    for (let i = 2; i < 100 && (seen.size < 2 || i < 12); i++) {
      const from = `127.0.0.${i}`;
      // The handshake carries no sid; the node that answers it holds the session...
      const hello = await request(from, 'GET', '/socket.io/?EIO=4&transport=polling');
      expect(hello.status, hello.body).toBe(200);
      const sid = (JSON.parse(hello.body.slice(1)) as { sid: string }).sid;
      const node = nodeOf(sid);
      expect(node).toBeGreaterThanOrEqual(0);
      // ...and every later request of the session must reach it (elsewhere: 400 "Session ID unknown").
      for (let n = 0; n < 3; n++) {
        const ping = await request(from, 'POST', `/socket.io/?EIO=4&transport=polling&sid=${sid}`, '3');
        expect(ping, `request ${n + 2} of ${from}'s session`).toEqual({ status: 200, body: 'ok' });
      }
      const bye = await request(from, 'POST', `/socket.io/?EIO=4&transport=polling&sid=${sid}`, '1');
      expect(bye).toEqual({ status: 200, body: 'ok' });
      seen.add(node);
      addressOn[node] ??= from;
    }
    expect([...seen].sort()).toEqual([0, 1]);
  });

  /** A socket.io-client connection through nginx from a given loopback address. */
  async function connectFrom(from: string, token: string, transports: Transport[]): Promise<TestSocket> {
    const agent = new http.Agent({ keepAlive: true, localAddress: from });
    agents.push(agent);
    // engine.io-client hands `agent` to its polling requests and `localAddress` to its WebSocket (types say less).
    const opts = { transports, reconnection: false, forceNew: true, auth: { token }, agent, localAddress: from };
    const socket = io(base, opts as unknown as Partial<ManagerOptions & SocketOptions>);
    const ts = new TestSocket(socket);
    sockets.push(ts);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect from ${from} timed out`)), 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('connect_error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    return ts;
  }

  /** The node holding a Socket.IO connection, and its transport there. */
  function placed(s: TestSocket): { node: number; transport: string } {
    const node = nodes.findIndex((n) => n.app.io.of('/').sockets.has(s.id));
    return { node, transport: nodes[node]?.app.io.of('/').sockets.get(s.id)?.conn.transport.name ?? '' };
  }

  it('carries a WebSocket and a long-polling connection on different nodes, and an upgrade', async () => {
    expect(addressOn[0] && addressOn[1], 'an address for each node').toBeTruthy();
    const [on0, on1] = addressOn as [string, string];
    // REST through nginx; a token from either node works on both (one JWT_SECRET).
    const alice = await register(base, 'alice');
    const bob = await register(base, 'bob');
    const chat = await direct(base, alice, bob);

    const a = await connectFrom(on0, alice.token, ['websocket']);
    const b = await connectFrom(on1, bob.token, ['polling']);
    expect(placed(a)).toEqual({ node: 0, transport: 'websocket' });
    expect(placed(b)).toEqual({ node: 1, transport: 'polling' });

    // Polling first, then the upgrade request (it carries the sid: the same node must take it).
    const b2 = await connectFrom(on1, bob.token, ['polling', 'websocket']);
    if (b2.socket.io.engine.transport.name !== 'websocket') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no upgrade to WebSocket within 5 s')), 5000);
        b2.socket.io.engine.once('upgrade', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // (The node switches a moment after the client.)
    await vi.waitFor(() => expect(placed(b2)).toEqual({ node: 1, transport: 'websocket' }), { timeout: 2000 });

    // Across nodes (Redis), both ways, the polling client sending and receiving.
    const hello = await a.send(chat.id, 'hello through nginx', { clientId: randomUUID() });
    await b.waitFor('message:new', (p) => p.message.id === hello.id, 1, 5000);
    await b2.waitFor('message:new', (p) => p.message.id === hello.id, 1, 5000);
    const back = await b.send(chat.id, 'and back, by polling', { clientId: randomUUID() });
    await a.waitFor('message:new', (p) => p.message.id === back.id, 1, 5000);
  });
});
