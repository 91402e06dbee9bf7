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
  /** Whether the message mentions the recipient (contract v1.1). */
  mentioned: boolean;
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
  /** Jobs waiting to retry, with their timers. */
  private readonly waiting = new Map<NodeJS.Timeout, Job>();
  /** Deliveries in flight, to abort at shutdown. */
  private readonly inFlight = new Set<AbortController>();
  private queued = 0;
  private running = 0;
  private closed = false;
  private pumpScheduled = false;
  private droppedSinceLog = 0;
  private dropLogTimer: NodeJS.Timeout | null = null;
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

  /** Queues one notification per recipient and returns at once: the work starts on a later turn. */
  notify(message: MessageRecord, recipientIds: readonly string[]): void {
    let dropped = 0;
    for (const recipientId of recipientIds) {
      if (this.closed || this.queued >= this.o.maxQueue) {
        dropped++;
        continue;
      }
      this.queued++;
      this.ready.push({ id: randomUUID(), recipientId, message, attempt: 0 });
    }
    this.o.metrics.notificationsQueued.set(this.queued);
    if (dropped) this.dropped(dropped, 'queue full');
    if (!this.pumpScheduled && this.ready.length) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  /** Counts drops, and logs them as one line per 10 s at most (a flood must not flood the log). */
  private dropped(n: number, why: string): void {
    this.o.metrics.notifications.inc({ outcome: 'dropped' }, n);
    this.droppedSinceLog += n;
    if (this.dropLogTimer) return;
    const flush = () => {
      this.dropLogTimer = null;
      if (this.droppedSinceLog === 0) return;
      this.o.log.warn({ dropped: this.droppedSinceLog, why }, 'offline notifications dropped');
      this.droppedSinceLog = 0;
    };
    flush();
    this.dropLogTimer = setTimeout(flush, 10_000);
    this.dropLogTimer.unref();
  }

  /** Resolves when nothing is queued, running or waiting to retry (for tests). */
  whenIdle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Stops: what waits (queued or between retries) is dropped at once; what is
   * in flight gets up to `graceMs` to finish, then is aborted. Every one of
   * them is counted and logged as dropped.
   */
  async close(graceMs = Math.min(this.o.timeoutMs, 3000)): Promise<void> {
    if (this.closed) return this.whenIdle();
    this.closed = true;
    const pending = this.ready.length + this.waiting.size;
    for (const t of this.waiting.keys()) clearTimeout(t);
    this.waiting.clear();
    this.ready.length = 0;
    if (pending > 0) {
      this.o.log.warn({ pending }, 'notifications not sent: shutting down');
      this.o.metrics.notifications.inc({ outcome: 'dropped' }, pending);
      for (let i = 0; i < pending; i++) this.finish();
    }
    if (this.running > 0) {
      const grace = setTimeout(() => {
        for (const c of this.inFlight) c.abort();
      }, graceMs);
      await this.whenIdle();
      clearTimeout(grace);
    }
    if (this.dropLogTimer) clearTimeout(this.dropLogTimer);
    if (this.droppedSinceLog) this.o.log.warn({ dropped: this.droppedSinceLog }, 'offline notifications dropped');
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
    const controller = new AbortController();
    this.inFlight.add(controller);
    try {
      const notification = await this.build(job);
      if (!notification) {
        // The recipient left, or the conversation or user is gone: nothing to tell.
        this.o.metrics.notifications.inc({ outcome: 'dropped' });
        this.finish();
        return;
      }
      const body = JSON.stringify(notification);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-parley-event': 'message',
        'x-parley-delivery': job.id,
      };
      if (this.o.secret) {
        // The body alone (kept for receivers of before), and the timestamp
        // with the body: a receiver that checks the second and refuses old
        // timestamps refuses replays. Each attempt has its own timestamp.
        const timestamp = String(Date.now());
        headers['x-parley-signature'] = 'sha256=' + createHmac('sha256', this.o.secret).update(body).digest('hex');
        headers['x-parley-timestamp'] = timestamp;
        headers['x-parley-signature-v2'] = 'sha256=' + createHmac('sha256', this.o.secret).update(`${timestamp}.${body}`).digest('hex');
      }
      const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.o.timeoutMs)]);
      const res = await fetch(this.o.url, { method: 'POST', headers, body, signal });
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
    } finally {
      this.inFlight.delete(controller);
    }
    if (this.closed) {
      // Shutting down: not sent, and not the receiver's fault.
      this.o.metrics.notifications.inc({ outcome: 'dropped' });
      this.o.log.warn({ delivery: job.id, recipientId: job.recipientId, why }, 'notification not sent: shutting down');
      this.finish();
      return;
    }
    if (retry && job.attempt < this.o.maxAttempts) {
      this.o.metrics.notifications.inc({ outcome: 'retried' });
      const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (job.attempt - 1)) * (0.8 + Math.random() * 0.4);
      const timer = setTimeout(() => {
        this.waiting.delete(timer);
        this.ready.push(job);
        this.pump();
      }, delay);
      timer.unref();
      this.waiting.set(timer, job);
      return;
    }
    this.o.metrics.notifications.inc({ outcome: 'failed' });
    this.o.log.error({ delivery: job.id, recipientId: job.recipientId, messageId: job.message.id, attempts: job.attempt, why }, 'notification failed');
    this.finish();
  }

  /** The body, or null when there is no one to tell any more. */
  private async build(job: Job): Promise<WebhookNotification | null> {
    const m = job.message;
    const [recipient, sender, conversation, membership] = await Promise.all([
      this.o.store.userById(job.recipientId),
      this.o.store.userById(m.senderId),
      this.o.store.conversationById(m.conversationId),
      this.o.store.membership(m.conversationId, job.recipientId),
    ]);
    if (!recipient || !conversation || !membership) return null;
    const unread = await this.o.store.unreadCounts(job.recipientId, [
      { conversationId: m.conversationId, afterSeq: membership.readSeq },
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
      mentioned: m.mentions.includes(recipient.id),
    };
  }
}
