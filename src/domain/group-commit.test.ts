import { describe, expect, it } from 'vitest';
import { GroupCommitQueue, type GroupCommitOptions } from './group-commit.js';

/** One call of the flush function, answered when the test says so. */
interface FlushCall {
  items: number[];
  resolve: (results: string[]) => void;
  reject: (err: unknown) => void;
  /** Answers every item with `r<item>`. */
  ok: () => void;
}

/** A flush function whose calls the test answers by hand, and waits for. */
function controlledFlush() {
  const calls: FlushCall[] = [];
  const waiting: { n: number; wake: () => void }[] = [];
  const flush = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({ items: [...items], resolve, reject, ok: () => resolve(items.map((i) => `r${i}`)) });
      for (const w of waiting.filter((x) => calls.length >= x.n)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.wake();
      }
    });
  /** The n-th call (0-based), once it has been made. */
  const call = async (n: number): Promise<FlushCall> => {
    if (calls.length <= n) await new Promise<void>((wake) => waiting.push({ n: n + 1, wake }));
    return calls[n]!;
  };
  return { flush, calls, call };
}

/** Lets the event loop turn a few times (no timer): enough for any scheduled flush to start. */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Settled state of a promise, readable synchronously after the fact. */
function track<T>(p: Promise<T>) {
  const state: { settled: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { settled: 'pending' };
  p.then(
    (value) => Object.assign(state, { settled: 'resolved', value }),
    (error: unknown) => Object.assign(state, { settled: 'rejected', error }),
  );
  return state;
}

class Overloaded extends Error {}

function queueWith(opts: Partial<GroupCommitOptions> = {}) {
  const f = controlledFlush();
  const q = new GroupCommitQueue<number, string>(f.flush, {
    maxBatch: 100,
    maxPending: 1000,
    overloaded: () => new Overloaded('overloaded'),
    ...opts,
  });
  return { ...f, q };
}

describe('GroupCommitQueue', () => {
  it('flushes items enqueued in the same tick as one batch, in order', async () => {
    const { q, call, calls } = queueWith();
    const results = [1, 2, 3].map((i) => q.enqueue(i));
    const first = await call(0);
    expect(first.items).toEqual([1, 2, 3]);
    first.ok();
    expect(await Promise.all(results)).toEqual(['r1', 'r2', 'r3']);
    await turns();
    expect(calls).toHaveLength(1);
  });

  it('gives each item the result at its own position', async () => {
    const { q, call } = queueWith();
    const a = q.enqueue(10);
    const b = q.enqueue(20);
    (await call(0)).resolve(['first', 'second']);
    expect(await a).toBe('first');
    expect(await b).toBe('second');
  });

  it('holds later items until the flush in progress ends, then flushes them together, keeping order', async () => {
    const { q, call, calls } = queueWith();
    const resolvedOrder: number[] = [];
    const enqueue = (i: number) => q.enqueue(i).then((r) => (resolvedOrder.push(i), r));

    const early = [enqueue(1), enqueue(2)];
    const first = await call(0);
    expect(first.items).toEqual([1, 2]);

    const late = [enqueue(3), enqueue(4)];
    await turns();
    expect(calls).toHaveLength(1); // one flush at a time
    expect(q.pending).toBe(2);

    first.ok();
    const second = await call(1);
    expect(second.items).toEqual([3, 4]);
    expect(await Promise.all(early)).toEqual(['r1', 'r2']);

    const later = [enqueue(5)];
    second.ok();
    expect(await Promise.all(late)).toEqual(['r3', 'r4']);
    (await call(2)).ok();
    expect(await Promise.all(later)).toEqual(['r5']);
    expect(resolvedOrder).toEqual([1, 2, 3, 4, 5]);
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('splits at maxBatch, in order', async () => {
    const { q, call, calls } = queueWith({ maxBatch: 2 });
    const all = [1, 2, 3, 4, 5].map((i) => q.enqueue(i));
    (await call(0)).ok();
    (await call(1)).ok();
    (await call(2)).ok();
    expect(await Promise.all(all)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects every item of a failed batch, and only that batch, and keeps working', async () => {
    const { q, call } = queueWith();
    const boom = new Error('disk on fire');
    const failed = [track(q.enqueue(1)), track(q.enqueue(2))];
    const first = await call(0);
    const next = track(q.enqueue(3));
    first.reject(boom);

    const second = await call(1);
    expect(second.items).toEqual([3]);
    for (const f of failed) {
      expect(f.settled).toBe('rejected');
      expect(f.error).toBe(boom);
    }
    expect(next.settled).toBe('pending');
    second.ok();
    await turns();
    expect(next).toMatchObject({ settled: 'resolved', value: 'r3' });

    const after = q.enqueue(4);
    (await call(2)).ok();
    expect(await after).toBe('r4');
  });

  it('rejects a batch whose flush throws synchronously, and keeps working', async () => {
    const boom = new Error('sync');
    let fail = true;
    const seen: number[][] = [];
    const q = new GroupCommitQueue<number, string>(
      (items) => {
        seen.push(items);
        if (fail) throw boom;
        return Promise.resolve(items.map(String));
      },
      { maxBatch: 10, maxPending: 10, overloaded: () => new Overloaded() },
    );
    await expect(Promise.all([q.enqueue(1), q.enqueue(2)])).rejects.toBe(boom);
    fail = false;
    expect(await q.enqueue(3)).toBe('3');
    expect(seen).toEqual([[1, 2], [3]]);
  });

  it('rejects the batch when the flush answers the wrong number of results', async () => {
    const { q, call } = queueWith();
    const items = [track(q.enqueue(1)), track(q.enqueue(2))];
    (await call(0)).resolve(['only one']);
    await turns();
    for (const i of items) {
      expect(i.settled).toBe('rejected');
      expect(String(i.error)).toMatch(/1 of 2/);
    }
  });

  it('refuses at once with the overloaded error past maxPending waiting items', async () => {
    const { q, call, calls } = queueWith({ maxPending: 2 });
    const a = q.enqueue(1);
    const b = q.enqueue(2);
    const refused = q.enqueue(3);
    await expect(refused).rejects.toBeInstanceOf(Overloaded);
    expect(calls).toHaveLength(0); // refused before any flush ran
    expect(q.pending).toBe(2);

    const first = await call(0);
    expect(first.items).toEqual([1, 2]);
    // items being flushed no longer count as waiting
    expect(q.pending).toBe(0);
    const c = q.enqueue(4);
    const d = q.enqueue(5);
    await expect(q.enqueue(6)).rejects.toBeInstanceOf(Overloaded);

    first.ok();
    (await call(1)).ok();
    expect(await Promise.all([a, b, c, d])).toEqual(['r1', 'r2', 'r4', 'r5']);
    expect(calls.map((x) => x.items)).toEqual([
      [1, 2],
      [4, 5],
    ]);
  });

  it('drain() resolves at once when idle', async () => {
    const { q, calls } = queueWith();
    const drained = track(q.drain());
    await turns(1);
    expect(drained.settled).toBe('resolved');
    expect(calls).toHaveLength(0);
  });

  it('drain() resolves only after everything enqueued has been flushed', async () => {
    const { q, call } = queueWith({ maxBatch: 2 });
    const events: string[] = [];
    const items = [1, 2, 3].map((i) => q.enqueue(i).then(() => events.push(`item ${i}`)));
    const drained = track(q.drain().then(() => events.push('drained')));

    const first = await call(0);
    await turns();
    expect(drained.settled).toBe('pending');
    first.ok();
    const second = await call(1);
    expect(second.items).toEqual([3]);
    await turns();
    expect(drained.settled).toBe('pending');

    second.ok();
    await Promise.all(items);
    await turns();
    expect(drained.settled).toBe('resolved');
    expect(events).toEqual(['item 1', 'item 2', 'item 3', 'drained']);
  });

  it('drain() waits for items enqueued while a flush runs, and resolves after a failed batch too', async () => {
    const { q, call } = queueWith();
    const first = track(q.enqueue(1));
    const flushing = await call(0);
    const drained = track(q.drain());
    const second = track(q.enqueue(2));

    flushing.reject(new Error('nope'));
    const next = await call(1);
    await turns();
    expect(first.settled).toBe('rejected');
    expect(drained.settled).toBe('pending');

    next.ok();
    await turns();
    expect(second).toMatchObject({ settled: 'resolved', value: 'r2' });
    expect(drained.settled).toBe('resolved');
  });
});
