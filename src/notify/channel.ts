import type { NotificationJob } from '../store/store.js';

/** What became of a job: done through a seq (the rest, if any, waits), or tried again later from a seq. */
export type Delivery = { kind: 'done'; through: number } | { kind: 'retry'; from: number; delayMs: number };

/** A way of telling a recipient of the messages of a job (the webhook, Web Push). */
export interface NotificationSender {
  /** `signal` aborts what is in flight (shutdown). */
  deliver(job: NotificationJob, signal: AbortSignal): Promise<Delivery>;
}

/** Exponential backoff from `baseMs`, doubling per attempt, at most `maxMs`, ±20 % jitter. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  // (Whole milliseconds: due times are stored as integers.)
  return Math.round(Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1)) * (0.8 + Math.random() * 0.4));
}

/** The first `n` code points of `text`, with an ellipsis when cut. */
export function preview(text: string, n: number): string {
  const chars = [...text];
  return chars.length > n ? chars.slice(0, n - 1).join('') + '…' : text;
}
