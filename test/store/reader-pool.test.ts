/**
 * The pool of threads that runs searches off the event loop
 * (src/store/sqlite/reader-pool.ts), with a stand-in thread
 * (fixtures/pool-worker.ts) that the test can hold, crash or make fail.
 * Holding a thread blocks that thread (Atomics.wait), never the test's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReaderPool } from '../../src/store/sqlite/reader-pool.js';
import { startWorker } from '../../src/store/sqlite/threads.js';
import { StoreUnavailable } from '../../src/store/store.js';
import type { FixtureRequest } from './fixtures/pool-worker.js';

const fixture = new URL('./fixtures/pool-worker.ts', import.meta.url);
const pools: ReaderPool<FixtureRequest, number>[] = [];
const cells: Int32Array[] = [];

function pool(opts: { size?: number; maxQueued?: number; queueTimeoutMs?: number; failFirstStarts?: number } = {}) {
  const errors: string[] = [];
  let starts = 0;
  const p = new ReaderPool<FixtureRequest, number>({
    size: opts.size ?? 2,
    maxQueued: opts.maxQueued,
    queueTimeoutMs: opts.queueTimeoutMs,
    spawn: () => startWorker(fixture, { failAtStart: starts++ < (opts.failFirstStarts ?? 0) }),
    onError: (m) => errors.push(m),
  });
  pools.push(p);
  return { p, errors, starts: () => starts };
}

/** A request that holds its thread until release(). */
function hold(value: number) {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  cells.push(cell);
  return {
    request: { op: 'hold', cell, value } as FixtureRequest,
    release: () => {
      Atomics.store(cell, 0, 1);
      Atomics.notify(cell, 0);
    },
  };
}

/** Waits for a state of the pool (checked every 10 ms, up to 10 s). */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

afterEach(async () => {
  for (const c of cells.splice(0)) {
    Atomics.store(c, 0, 1);
    Atomics.notify(c, 0);
  }
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('the search reader pool', () => {
  it('runs requests on its threads, one at a time each, while the event loop stays free; the rest wait their turn', async () => {
    const { p } = pool({ size: 2 });
    const a = hold(1);
    const b = hold(2);
    const first = p.run(a.request);
    const second = p.run(b.request);
    const third = p.run({ op: 'echo', value: 3 });
    await until(() => p.busy === 2, 'both threads busy');
    expect(p.queued).toBe(1);
    // Both threads are blocked; this thread is not.
    let ticks = 0;
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1)).then(() => ticks++);
    expect(ticks).toBe(5);
    a.release();
    await expect(first).resolves.toBe(1);
    await expect(third).resolves.toBe(3);
    b.release();
    await expect(second).resolves.toBe(2);
  });

  it('a thread that dies fails only the request it ran (StoreUnavailable), and another takes its place', async () => {
    const { p, errors } = pool({ size: 2 });
    const b = hold(2);
    const held = p.run(b.request);
    await until(() => p.busy === 1, 'one thread busy');
    const crashed = await p.run({ op: 'crash' }).catch((e: unknown) => e);
    expect(crashed).toBeInstanceOf(StoreUnavailable);
    expect(String((crashed as Error).message)).toMatch(/exit code 3/);
    expect(errors.join('\n')).toMatch(/exited \(code 3\)/);
    await until(() => p.size === 2, 'a replacement thread');
    await expect(p.run({ op: 'echo', value: 5 })).resolves.toBe(5);
    // the other thread's request was never disturbed
    b.release();
    await expect(held).resolves.toBe(2);
  });

  it('a request that fails answers its error as StoreUnavailable (the transports say `unavailable`); the thread carries on', async () => {
    const { p } = pool({ size: 1 });
    const failed = p.run({ op: 'throw' });
    await expect(failed).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(failed.catch((e: StoreUnavailable) => String((e.cause as Error).message))).resolves.toMatch(/it threw/);
    expect(p.size).toBe(1);
    await expect(p.run({ op: 'echo', value: 7 })).resolves.toBe(7);
  });

  it('refuses a request past the queue bound at once, and one that waited past its time, with StoreUnavailable', async () => {
    const { p } = pool({ size: 1, maxQueued: 1, queueTimeoutMs: 100 });
    // (The time bound counts from the request: the thread must be up first.)
    await until(() => p.ready === 1, 'the thread started');
    const a = hold(1);
    const running = p.run(a.request);
    await until(() => p.busy === 1, 'the thread busy');
    const waiting = p.run({ op: 'echo', value: 2 });
    await expect(p.run({ op: 'echo', value: 3 })).rejects.toBeInstanceOf(StoreUnavailable);
    // the thread stays held: the waiting one runs out of time
    await expect(waiting).rejects.toThrow(/no search reader was free in time/);
    expect(p.queued).toBe(0);
    a.release();
    await expect(running).resolves.toBe(1);
  });

  it('close refuses what waits, lets what runs finish, then ends every thread', async () => {
    const { p } = pool({ size: 1 });
    const a = hold(1);
    const running = p.run(a.request);
    await until(() => p.busy === 1, 'the thread busy');
    const waiting = p.run({ op: 'echo', value: 2 });
    let closed = false;
    const closing = p.close().then(() => (closed = true));
    await expect(waiting).rejects.toBeInstanceOf(StoreUnavailable);
    // still running: close waits for it
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    a.release();
    await expect(running).resolves.toBe(1);
    await closing;
    expect(p.size).toBe(0);
    await expect(p.run({ op: 'echo', value: 3 })).rejects.toBeInstanceOf(StoreUnavailable);
  });

  it('a thread that cannot start is started again after a back-off, and requests wait for it', async () => {
    const { p, errors, starts } = pool({ size: 1, failFirstStarts: 1 });
    await expect(p.run({ op: 'echo', value: 4 })).resolves.toBe(4);
    expect(starts()).toBe(2);
    expect(errors.join('\n')).toMatch(/starting another in 1000 ms/);
  });
});
