/**
 * Group commit: items enqueued during one turn of the event loop are flushed
 * together (one transaction, one fsync), in arrival order. One flush runs at a
 * time, so a later batch never overtakes an earlier one. The queue is
 * bounded: past `maxPending` waiting items, enqueue rejects at once with the
 * `overloaded` error instead of letting memory grow.
 */
export interface GroupCommitOptions {
  /** Most items in one flush. */
  maxBatch: number;
  /** Most items waiting (not yet flushing) before enqueue refuses. */
  maxPending: number;
  overloaded: () => Error;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitQueue<I, O> {
  private queue: Pending<I, O>[] = [];
  private scheduled = false;
  private flushing = false;
  private idleWaiters: (() => void)[] = [];

  /** `flush` gets a batch and answers one result per item, in order, or throws for the whole batch. */
  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly opts: GroupCommitOptions,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  enqueue(item: I): Promise<O> {
    if (this.queue.length >= this.opts.maxPending) return Promise.reject(this.opts.overloaded());
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every item enqueued so far has been flushed. */
  drain(): Promise<void> {
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    this.flushing = true;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    try {
      const results = await this.flush(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`flush answered ${results.length} of ${batch.length}`);
      batch.forEach((p, i) => p.resolve(results[i] as O));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
      else for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
