import { createHash, createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics.js';
import type { MessageRecord, NotificationJob, Store } from '../store/store.js';
import { iso } from '../domain/views.js';
import { backoff, preview, type Delivery, type NotificationSender } from './channel.js';

export interface WebhookOptions {
  url: string;
  /** Signs each body: `X-Parley-Signature: sha256=<hex HMAC of the body>`. */
  secret?: string;
  store: Pick<Store, 'userById' | 'conversationById' | 'membership' | 'unreadCounts' | 'history'>;
  log: FastifyBaseLogger;
  metrics: Metrics;
  /** Attempts of one message before it is given up (logged, counted). */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt (with jitter), at most maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

const PREVIEW_CHARS = 140;
/** Messages of one job read (and sent) per claim; the rest on the next. */
const MESSAGES_PER_JOB = 50;

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
 * The offline-notification webhook (contract v1.1): one POST per message
 * and recipient, in order, fed from the durable queue. The body is built
 * when it is sent, from the message as it is then: an edit shows, a deleted
 * message is not sent at all. Network errors, timeouts, 429 and 5xx are
 * retried with exponential backoff (the job waits in the queue, so a retry
 * survives a restart); another 4xx, or the last attempt, gives that message
 * up (logged, counted) and goes on with the next.
 */
export class WebhookSender implements NotificationSender {
  private readonly o: Required<Omit<WebhookOptions, 'secret'>> & { secret?: string };

  constructor(options: WebhookOptions) {
    this.o = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000, timeoutMs: 5000, ...options };
  }

  async deliver(job: NotificationJob, signal: AbortSignal): Promise<Delivery> {
    const { store } = this.o;
    const [recipient, conversation, membership] = await Promise.all([
      store.userById(job.recipientId),
      store.conversationById(job.conversationId),
      store.membership(job.conversationId, job.recipientId),
    ]);
    if (!recipient || !conversation || !membership) {
      // The recipient left, or the conversation or user is gone: nothing to tell.
      this.o.metrics.notifications.inc({ outcome: 'dropped' });
      return { kind: 'done', through: job.lastSeq };
    }
    const page = await store.history(job.conversationId, { after: job.firstSeq - 1, limit: MESSAGES_PER_JOB });
    const messages = page.messages.filter((m) => m.seq <= job.lastSeq);
    const through = messages.length ? messages[messages.length - 1]!.seq : job.lastSeq;
    for (const m of messages) {
      // Deleted since: not told at all. The recipient's own (another device): nothing to tell.
      if (m.deletedAt !== null || m.senderId === job.recipientId) continue;
      const outcome = await this.post(m, job, recipient, conversation, membership.readSeq, signal);
      if (outcome === 'sent') continue;
      if (outcome === 'retry' && job.attempts + 1 < this.o.maxAttempts) {
        this.o.metrics.notifications.inc({ outcome: 'retried' });
        return { kind: 'retry', from: m.seq, delayMs: backoff(job.attempts + 1, this.o.baseDelayMs, this.o.maxDelayMs) };
      }
      this.o.metrics.notifications.inc({ outcome: 'failed' });
      this.o.log.error({ recipientId: job.recipientId, messageId: m.id, attempts: job.attempts + 1 }, 'notification failed');
      // Given up: the next messages, if any, start afresh.
      return { kind: 'done', through: m.seq };
    }
    return { kind: 'done', through: messages.length < MESSAGES_PER_JOB ? job.lastSeq : through };
  }

  private async post(
    m: MessageRecord,
    job: NotificationJob,
    recipient: { id: string; username: string; displayName: string },
    conversation: { id: string; type: 'direct' | 'group'; title: string | null },
    readSeq: number,
    signal: AbortSignal,
  ): Promise<'sent' | 'retry' | 'failed'> {
    const { store } = this.o;
    const [sender, unread] = await Promise.all([store.userById(m.senderId), store.unreadCounts(job.recipientId, [{ conversationId: m.conversationId, afterSeq: readSeq }])]);
    const id = deliveryId(job.recipientId, m.id);
    const notification: WebhookNotification = {
      type: 'message',
      id,
      recipient: { id: recipient.id, username: recipient.username, displayName: recipient.displayName },
      conversation: { id: conversation.id, type: conversation.type, title: conversation.title },
      sender: sender ? { id: sender.id, username: sender.username, displayName: sender.displayName } : null,
      message: { id: m.id, seq: m.seq, createdAt: iso(m.createdAt) },
      preview: preview(m.content, PREVIEW_CHARS),
      unreadCount: unread.get(m.conversationId) ?? 0,
      mentioned: m.mentions.includes(recipient.id),
    };
    const body = JSON.stringify(notification);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-parley-event': 'message', 'x-parley-delivery': id };
    if (this.o.secret) {
      // The body alone (kept for receivers of before), and the timestamp
      // with the body: a receiver that checks the second and refuses old
      // timestamps refuses replays. Each attempt has its own timestamp.
      const timestamp = String(Date.now());
      headers['x-parley-signature'] = 'sha256=' + createHmac('sha256', this.o.secret).update(body).digest('hex');
      headers['x-parley-timestamp'] = timestamp;
      headers['x-parley-signature-v2'] = 'sha256=' + createHmac('sha256', this.o.secret).update(`${timestamp}.${body}`).digest('hex');
    }
    try {
      const res = await fetch(this.o.url, { method: 'POST', headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(this.o.timeoutMs)]) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        this.o.metrics.notifications.inc({ outcome: 'sent' });
        return 'sent';
      }
      this.o.log.warn({ delivery: id, status: res.status }, 'webhook answered an error');
      return res.status === 429 || res.status >= 500 ? 'retry' : 'failed';
    } catch (err) {
      if (signal.aborted) throw err;
      this.o.log.warn({ delivery: id, why: (err as Error).message }, 'webhook not reached');
      return 'retry';
    }
  }
}

/** The same for every attempt, on every node: a receiver deduplicates by it. UUID-shaped. */
export function deliveryId(recipientId: string, messageId: string): string {
  const h = createHash('sha256').update(`${recipientId}/${messageId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
