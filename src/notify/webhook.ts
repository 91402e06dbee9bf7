import { createHmac, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { OfflineNotifier } from '../domain/notifier.js';
import type { Metrics } from '../metrics.js';
import type { MessageRecord, Store } from '../store/store.js';
import { iso } from '../domain/views.js';

export interface WebhookOptions {
  url: string;
  /** Signs each body: `X-Parley-Signature: sha256=<hex HMAC of the body>`. */
  secret?: string;
  store: Pick<Store, 'userById' | 'conversationById' | 'membership' | 'unreadCounts'>;
  log: FastifyBaseLogger;
  metrics: Metrics;
  /** Most notifications waiting or being retried; past it new ones are dropped (logged, counted). */
  maxQueue?: number;
  concurrency?: number;
  maxAttempts?: number;
  /** First retry delay; doubles each attempt (with jitter), at most maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

interface Job {
  id: string;
  recipientId: string;
  message: MessageRecord;
  attempt: number;
}

const PREVIEW_CHARS = 140;

/** The JSON body POSTed for one message to one offline recipient. */
export interface WebhookNotification {
  type: 'message';
  id: string;
  recipient: { id: string; username: string; displayName: string };
  conversation: { id: string; type: 'direct' | 'group'; title: string | null };
  sender: { id: string; username: string; displayName: string } | null;
  message: { id: string; seq: number; createdAt: string };
  preview: string;
  unreadCount: number;
}

/**
 * Offline notifications as webhook POSTs, the way a push gateway is fed:
 * a bounded in-memory queue, a few concurrent deliveries, retries with
 * exponential backoff on network errors, timeouts, 429 and 5xx. Nothing is
 * lost silently: a drop, a final failure or a shutdown with work pending is
 * logged and counted.
 */
export class WebhookNotifier implements OfflineNotifier {
  private readonly ready: Job[] = [];
  private readonly waiting = new Set<NodeJS.Timeout>();
  private queued = 0;
  private running = 0;
  private closed = false;
  private readonly idle: (() => void)[] = [];
  private readonly o: Required<Omit<WebhookOptions, 'secret'>> & { secret?: string };

  constructor(options: WebhookOptions) {
    this.o = {
      maxQueue: 10_000,
      concurrency: 4,
      maxAttempts: 6,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      timeoutMs: 5000,
      ...options,
    };
  }

  notify(message: MessageRecord, recipientIds: readonly string[]): void {
    for (const recipientId of recipientIds) {
      if (this.closed || this.queued >= this.o.maxQueue) {
        this.o.metrics.notifications.inc({ outcome: 'dropped' });
        this.o.log.warn({ recipientId, messageId: message.id }, 'notification dropped: queue full or shutting down');
        continue;
      }
      this.queued++;
      this.o.metrics.notificationsQueued.set(this.queued);
      this.ready.push({ id: randomUUID(), recipientId, message, attempt: 0 });
    }
    this.pump();
  }

  /** Resolves when nothing is queued, running or waiting to retry (for tests). */
  whenIdle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.waiting) clearTimeout(t);
    this.waiting.clear();
    const pending = this.queued - this.running;
    if (pending > 0) {
      this.o.metrics.notifications.inc({ outcome: 'dropped' }, pending);
      this.o.log.warn({ pending }, 'notifications not sent: shutting down');
    }
    this.ready.length = 0;
  }

  private pump(): void {
    while (!this.closed && this.running < this.o.concurrency && this.ready.length > 0) {
      const job = this.ready.shift() as Job;
      this.running++;
      void this.attempt(job).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private finish(): void {
    this.queued--;
    this.o.metrics.notificationsQueued.set(this.queued);
    if (this.queued === 0) for (const w of this.idle.splice(0)) w();
  }

  private async attempt(job: Job): Promise<void> {
    job.attempt++;
    let retry: boolean;
    let why: string;
    try {
      const body = JSON.stringify(await this.build(job));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-parley-event': 'message',
        'x-parley-delivery': job.id,
      };
      if (this.o.secret) headers['x-parley-signature'] = 'sha256=' + createHmac('sha256', this.o.secret).update(body).digest('hex');
      const res = await fetch(this.o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.o.timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        this.o.metrics.notifications.inc({ outcome: 'sent' });
        this.finish();
        return;
      }
      retry = res.status === 429 || res.status >= 500;
      why = `HTTP ${res.status}`;
    } catch (err) {
      retry = true;
      why = (err as Error).message;
    }
    if (retry && job.attempt < this.o.maxAttempts && !this.closed) {
      this.o.metrics.notifications.inc({ outcome: 'retried' });
      const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (job.attempt - 1)) * (0.8 + Math.random() * 0.4);
      const timer = setTimeout(() => {
        this.waiting.delete(timer);
        this.ready.push(job);
        this.pump();
      }, delay);
      timer.unref();
      this.waiting.add(timer);
      return;
    }
    this.o.metrics.notifications.inc({ outcome: 'failed' });
    this.o.log.error({ delivery: job.id, recipientId: job.recipientId, messageId: job.message.id, attempts: job.attempt, why }, 'notification failed');
    this.finish();
  }

  private async build(job: Job): Promise<WebhookNotification> {
    const m = job.message;
    const [recipient, sender, conversation, membership] = await Promise.all([
      this.o.store.userById(job.recipientId),
      this.o.store.userById(m.senderId),
      this.o.store.conversationById(m.conversationId),
      this.o.store.membership(m.conversationId, job.recipientId),
    ]);
    if (!recipient || !conversation) throw new Error('recipient or conversation is gone');
    const unread = await this.o.store.unreadCounts(job.recipientId, [
      { conversationId: m.conversationId, afterSeq: membership?.readSeq ?? 0 },
    ]);
    const chars = [...m.content];
    return {
      type: 'message',
      id: job.id,
      recipient: { id: recipient.id, username: recipient.username, displayName: recipient.displayName },
      conversation: { id: conversation.id, type: conversation.type, title: conversation.title },
      sender: sender ? { id: sender.id, username: sender.username, displayName: sender.displayName } : null,
      message: { id: m.id, seq: m.seq, createdAt: iso(m.createdAt) },
      preview: chars.length > PREVIEW_CHARS ? chars.slice(0, PREVIEW_CHARS - 1).join('') + '…' : m.content,
      unreadCount: unread.get(m.conversationId) ?? 0,
    };
  }
}
