/**
 * Parley processes for the chaos runs (`node dist/main.js`, what `npm start`
 * runs). Unlike test/helpers/process.ts, a node keeps its port, data dir and
 * environment across restarts, so its clients reconnect to the URL they had,
 * as they would to a real server that came back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { MAIN } from '../helpers/process.js';

const START_TIMEOUT_MS = 30_000;

/**
 * Processes started here and not killed yet: killed when this process exits,
 * so a run that is abandoned (a test timeout, an error) leaves none behind.
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});
/** How much of a node's output (all its lives) is kept for a report. */
const OUTPUT_KEPT = 20_000;

export class ParleyNode {
  readonly url: string;
  /** Times it was started; 1 after the first start. */
  lives = 0;
  /** When /health last answered after a start (Date.now()). */
  upSince = 0;
  /** Exits nobody asked for: each with the end of the node's output. */
  readonly crashes: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private out = '';

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** A node on a free port; call start(). `env` must include DATA_DIR and stays the same for every life. */
  static async create(name: string, env: Record<string, string>): Promise<ParleyNode> {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run 'npx tsc -p tsconfig.build.json' (or npm run build)`);
    return new ParleyNode(name, await portOutsideEphemeralRange(), env);
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  output(): string {
    return this.out;
  }

  /** Starts a new life on the same port and data; resolves once /health answers 200. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running`);
    // Nobody should take the port while the node is down (see
    // portOutsideEphemeralRange); should someone hold it all the same, wait.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launch();
      } catch (err) {
        if (attempt >= 20 || !/EADDRINUSE/.test(String(err))) throw err;
        await sleep(250);
      }
    }
  }

  private async launch(): Promise<void> {
    this.lives++;
    this.note(`--- ${this.name} life ${this.lives} ---\n`);
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', SCRYPT_COST: '1024', RATE_LIMITS: 'off', ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    live.add(child);
    child.stdout?.on('data', (d: Buffer) => this.note(d.toString()));
    child.stderr?.on('data', (d: Buffer) => this.note(d.toString()));
    let exitedWith: string | undefined;
    let healthy = false;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        exitedWith = signal ?? String(code);
        if (this.child === child) {
          // Nobody killed it: a crash (or a start that failed, reported by the caller below).
          this.child = undefined;
          if (healthy) this.crashes.push(`${this.name} exited by itself (${exitedWith}):\n${this.out.slice(-4000)}`);
        }
        resolve();
      }),
    );
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!healthy) {
      if (exitedWith !== undefined) throw new Error(`${this.name} exited (${exitedWith}) before answering /health:\n${this.out.slice(-4000)}`);
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.name} did not answer /health within ${START_TIMEOUT_MS} ms:\n${this.out.slice(-4000)}`);
      }
      try {
        healthy = (await fetch(this.url + '/health', { signal: AbortSignal.timeout(2000) })).status === 200;
      } catch {
        // not listening yet
      }
      if (!healthy) await sleep(25);
    }
    this.upSince = Date.now();
  }

  /** SIGKILL, and resolves once the process is gone (its port and locks released by the kernel). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill('SIGKILL');
    await this.exited;
  }

  private note(text: string): void {
    this.out = (this.out + text).slice(-OUTPUT_KEPT);
  }
}

/**
 * A free port below the kernel's ephemeral range. While a node is down its
 * port is free, and one the kernel hands out (a `listen(0)` elsewhere on the
 * machine, or the local end of an outgoing connection) could be taken by
 * someone else meanwhile; a port below that range is only ever taken on purpose.
 */
async function portOutsideEphemeralRange(): Promise<number> {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: elsewhere the range starts higher (49152), so below 32768 is below it too
  }
  const from = Math.max(1024, low - 20_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found in ${from}–${low - 1}`);
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
