/**
 * A few worker threads that each run one request at a time (the search
 * readers: search-reader.ts), fed from one bounded queue.
 *
 * - Requests wait in the queue (at most `maxQueued`, each at most
 *   `queueTimeoutMs`) for an idle thread; past either bound they are
 *   refused with StoreUnavailable (the transports answer `unavailable`,
 *   retry later), so overload shows as answers, not as memory.
 * - A thread that dies (a crash, an exit, an error at start) fails the
 *   request it was running with StoreUnavailable and is replaced: at once
 *   if it had been running, after a back-off (1 s doubling to 30 s) if it
 *   died before it was ready. The process goes on.
 * - close() refuses what waits, lets what runs finish, then ends the threads.
 */
import type { Worker } from 'node:worker_threads';
import { StoreUnavailable } from '../store.js';

/** To a thread: a request, or 'close'. */
export type PoolRequest<Req> = { id: number; request: Req } | 'close';
/** From a thread: 'ready' once, then one answer per request. */
export type PoolReply<Res> = 'ready' | { id: number; result: Res } | { id: number; error: string };

export interface ReaderPoolOptions {
  /** Threads (default 2). */
  size?: number;
  /** Starts one thread. */
  spawn: () => Worker;
  /** Requests waiting for a thread at most (default 256). */
  maxQueued?: number;
  /** How long a request waits for a thread at most (default 10 s). */
  queueTimeoutMs?: number;
  /** Told about threads that fail (they are replaced). */
  onError?: (message: string) => void;
  /** Start the threads only at warm() or the first request (default: at once). */
  lazy?: boolean;
}

interface Task<Req, Res> {
  id: number;
  request: Req;
  resolve: (r: Res) => void;
  reject: (e: unknown) => void;
  timer?: NodeJS.Timeout;
}

interface Slot<Req, Res> {
  worker: Worker;
  ready: boolean;
  task: Task<Req, Res> | null;
}

const RESTART_DELAY_MS = 1000;
const RESTART_DELAY_MAX_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5000;

const unavailable = (why: string) => new StoreUnavailable(new Error(why));

export class ReaderPool<Req, Res> {
  private readonly slots = new Set<Slot<Req, Res>>();
  private readonly queue: Task<Req, Res>[] = [];
  private nextId = 1;
  private closed = false;
  private restartDelay = RESTART_DELAY_MS;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];
  private warmed = false;

  constructor(private readonly opts: ReaderPoolOptions) {
    if (!opts.lazy) this.warm();
  }

  /** Starts the threads (once). */
  warm(): void {
    if (this.warmed || this.closed) return;
    this.warmed = true;
    for (let i = 0; i < (this.opts.size ?? 2); i++) this.start();
  }

  /** Threads running now (ready or starting). */
  get size(): number {
    return this.slots.size;
  }

  /** Threads ready for requests (idle or busy). */
  get ready(): number {
    let n = 0;
    for (const s of this.slots) if (s.ready) n++;
    return n;
  }

  /** Threads running requests now. */
  get busy(): number {
    let n = 0;
    for (const s of this.slots) if (s.task) n++;
    return n;
  }

  /** Requests waiting for a thread. */
  get queued(): number {
    return this.queue.length;
  }

  /** Runs a request on the first idle thread. */
  run(request: Req): Promise<Res> {
    if (this.closed) return Promise.reject(unavailable('the search readers are closed'));
    if (this.queue.length >= (this.opts.maxQueued ?? 256)) return Promise.reject(unavailable('too many searches waiting'));
    this.warm();
    return new Promise<Res>((resolve, reject) => {
      const task: Task<Req, Res> = { id: this.nextId++, request, resolve, reject };
      task.timer = setTimeout(() => {
        const at = this.queue.indexOf(task);
        if (at === -1) return;
        this.queue.splice(at, 1);
        reject(unavailable('no search reader was free in time'));
      }, this.opts.queueTimeoutMs ?? 10_000);
      this.queue.push(task);
      this.dispatch();
    });
  }

  /** Refuses what waits, lets running requests finish, ends every thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.restartTimers) clearTimeout(t);
    for (const task of this.queue.splice(0)) {
      clearTimeout(task.timer);
      task.reject(unavailable('the search readers are closed'));
    }
    while (this.busy > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await Promise.all(
      [...this.slots].map(
        (slot) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void slot.worker.terminate(), CLOSE_TIMEOUT_MS);
            slot.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            slot.worker.postMessage('close' satisfies PoolRequest<Req>);
          }),
      ),
    );
  }

  private start(): void {
    const worker = this.opts.spawn();
    const slot: Slot<Req, Res> = { worker, ready: false, task: null };
    this.slots.add(slot);
    worker.on('message', (m: PoolReply<Res>) => {
      if (m === 'ready') {
        slot.ready = true;
        this.restartDelay = RESTART_DELAY_MS;
        this.dispatch();
        return;
      }
      const task = slot.task;
      if (!task || task.id !== m.id) return;
      slot.task = null;
      // A statement that failed in the thread (busy past its timeout, an I/O error...): the database did not answer.
      if ('error' in m) task.reject(unavailable(`search reader: ${m.error}`));
      else task.resolve(m.result);
      this.settled();
    });
    worker.on('error', (e) => this.opts.onError?.(String((e as Error)?.stack ?? e)));
    worker.on('exit', (code) => {
      this.slots.delete(slot);
      const task = slot.task;
      slot.task = null;
      if (task) task.reject(unavailable(`the search reader running it stopped (exit code ${code})`));
      this.settled();
      if (this.closed) return;
      this.opts.onError?.(`search reader exited (code ${code}); starting another${slot.ready ? '' : ` in ${this.restartDelay} ms`}`);
      if (slot.ready) {
        this.start();
        return;
      }
      // It never got ready: wait before trying again, longer each time.
      const timer = setTimeout(() => {
        this.restartTimers.delete(timer);
        if (!this.closed) this.start();
      }, this.restartDelay);
      this.restartTimers.add(timer);
      this.restartDelay = Math.min(this.restartDelay * 2, RESTART_DELAY_MAX_MS);
    });
  }

  /** A request ended: wake close() if nothing runs, and hand out the next. */
  private settled(): void {
    if (this.busy === 0) for (const w of this.idleWaiters.splice(0)) w();
    this.dispatch();
  }

  private dispatch(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.task) continue;
      const task = this.queue.shift()!;
      clearTimeout(task.timer);
      slot.task = task;
      slot.worker.postMessage({ id: task.id, request: task.request } satisfies PoolRequest<Req>);
    }
  }
}
