/**
 * The main thread's handle on the search worker: wakes it after commits,
 * knows how far the index has come, lets callers wait for it, and restarts
 * the worker if it fails. Nothing here touches a database.
 */
import type { Worker } from 'node:worker_threads';
import type { IndexMarks } from './search-index.js';
import { siblingModule, startWorker } from './threads.js';
import type { SearchWorkerData, SearchWorkerReply, SearchWorkerRequest } from './search-worker.js';

export interface SearchIndexerOptions {
  dbFile: string;
  searchFile: string;
  checkpointEveryMs?: number;
  /**
   * Index committed messages within this many ms, unless someone waits
   * (default 1000): a trickle of messages makes a few larger index steps (an
   * FTS5 transaction costs less per row the more rows it has), and the
   * writer's thread is not woken by the indexer's ~50 times a second.
   */
  delayMs?: number;
  /** Whether something was committed that the index has not taken in yet (checked after each step). */
  behind?: () => boolean;
  /** Called with a description when the worker fails (it is restarted). */
  onError?: (message: string) => void;
  /** Rewind the WAL once it holds this many frames (default 16384: 64 MiB of 4 KiB pages). */
  walRestartFrames?: number;
  /** At close, index what is left for at most this long (default 2 s); the next start resumes from the marks. */
  closeBudgetMs?: number;
  /**
   * Hold the group-committed writes (messages, changes, markers, last-seen),
   * for the WAL's rewind (see search-worker.ts); `resumeWrites` undoes it.
   * Called between transactions: none is running when the worker is told
   * they are held. Other writes may slip in; that only delays the rewind.
   */
  pauseWrites: () => void;
  resumeWrites: () => void;
  /** The worker opened the index (true) or stopped (false): while it is down, nobody checkpoints for the writer. */
  onRunning?: (running: boolean) => void;
}

interface Waiter {
  indexedId: number;
  outboxId: number;
  resolve: (caughtUp: boolean) => void;
  timer: NodeJS.Timeout;
}

/** A failed worker is started again after this long, doubling up to the maximum while it keeps failing. */
const RESTART_DELAY_MS = 1000;
const RESTART_DELAY_MAX_MS = 30_000;

const describe = (e: unknown): string => {
  const err = e as { stack?: string; message?: string; code?: string } | null;
  return String(err?.stack ?? err?.message ?? err?.code ?? e);
};

export class SearchIndexer {
  private worker: Worker | null = null;
  private marksNow: IndexMarks = { indexedId: 0, outboxId: 0 };
  private waiters: Waiter[] = [];
  private closed = false;
  private readonly opened: Promise<void>;
  private markOpened!: () => void;
  private restartTimer: NodeJS.Timeout | null = null;
  private restartDelay = RESTART_DELAY_MS;
  /** A 'wake' was posted and no step has reported since: later commits need not post another. */
  private wakePosted = false;

  constructor(private readonly opts: SearchIndexerOptions) {
    this.opened = new Promise((resolve) => (this.markOpened = resolve));
    this.start();
  }

  /**
   * Resolves once a worker has opened the index (the index file exists and
   * can be attached); never rejects: a worker that fails is restarted.
   */
  ready(): Promise<void> {
    return this.opened;
  }

  /**
   * Worth waiting for: a worker has the index open or is starting (not
   * failed and waiting to restart, nor closed).
   */
  get available(): boolean {
    return this.worker !== null && !this.closed;
  }

  get marks(): IndexMarks {
    return this.marksNow;
  }

  /**
   * Something was committed: the worker indexes it shortly, with whatever
   * follows. One message per step, not one per commit: after each step's
   * report, `behind` says whether to wake the worker again.
   */
  wake(): void {
    if (this.wakePosted || !this.worker) return;
    this.wakePosted = true;
    this.post('wake');
  }

  private post(m: SearchWorkerRequest): void {
    this.worker?.postMessage(m);
  }

  /**
   * Resolves true once the index covers messages up to `indexedId` and
   * outbox entries up to `outboxId`; false if that takes longer than
   * `timeoutMs` (or the indexer closes).
   */
  caughtUp(indexedId: number, outboxId: number, timeoutMs: number): Promise<boolean> {
    if (this.covers(indexedId, outboxId)) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        indexedId,
        outboxId,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.push(waiter);
      this.post('now');
    });
  }

  /** Lets the worker index everything committed so far, then stops it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (worker) {
      await new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('close' satisfies SearchWorkerRequest);
      });
    }
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(this.covers(w.indexedId, w.outboxId));
    }
    this.waiters = [];
  }

  private covers(indexedId: number, outboxId: number): boolean {
    return this.marksNow.indexedId >= indexedId && this.marksNow.outboxId >= outboxId;
  }

  private start(): void {
    const data: SearchWorkerData = {
      dbFile: this.opts.dbFile,
      searchFile: this.opts.searchFile,
      checkpointEveryMs: this.opts.checkpointEveryMs ?? 1000,
      delayMs: this.opts.delayMs ?? 1000,
      walRestartFrames: this.opts.walRestartFrames ?? 16384,
      closeBudgetMs: this.opts.closeBudgetMs ?? 2000,
    };
    const worker = spawn(data);
    this.worker = worker;
    this.wakePosted = false;
    let opened = false;
    worker.on('message', (m: SearchWorkerReply) => {
      if (m === 'closed') return; // 'exit' follows
      if (m === 'pause-writes') {
        this.opts.pauseWrites();
        worker.postMessage('writes-paused' satisfies SearchWorkerRequest);
        return;
      }
      if (m === 'resume-writes') {
        this.opts.resumeWrites();
        return;
      }
      if ('error' in m) {
        this.opts.onError?.(m.error);
        return;
      }
      this.marksNow = m.marks;
      // A step ended (the worker reports after each): what was committed
      // after its snapshot needs a new wake (also after a restart).
      this.wakePosted = false;
      if (!opened) {
        opened = true;
        this.restartDelay = RESTART_DELAY_MS;
        this.opts.onRunning?.(true);
        this.markOpened();
        if (this.waiters.length > 0) this.post('now');
      }
      this.settle();
      if (this.opts.behind?.()) this.wake();
    });
    worker.on('error', (e) => this.opts.onError?.(describe(e)));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      if (opened) this.opts.onRunning?.(false);
      this.opts.resumeWrites();
      if (this.closed) return;
      this.opts.onError?.(`search worker exited (code ${code}); restarting in ${this.restartDelay} ms`);
      // It resumes from the index's marks.
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.closed) this.start();
      }, this.restartDelay);
      this.restartDelay = Math.min(this.restartDelay * 2, RESTART_DELAY_MAX_MS);
    });
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.covers(w.indexedId, w.outboxId)) {
        clearTimeout(w.timer);
        w.resolve(true);
      } else still.push(w);
    }
    this.waiters = still;
  }
}

/** The worker runs the compiled file; under tsx or Vitest (TypeScript sources) through tsx's loader. */
function spawn(workerData: SearchWorkerData): Worker {
  return startWorker(siblingModule(import.meta.url, 'search-worker'), workerData);
}
