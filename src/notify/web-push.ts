import { createHash } from 'node:crypto';
import type { Agent } from 'node:https';
import type { FastifyBaseLogger } from 'fastify';
import webpush, { WebPushError } from 'web-push';
import type { PresenceRegistry } from '../domain/presence.js';
import type { Metrics } from '../metrics.js';
import type { MessageRecord, NotificationJob, Store } from '../store/store.js';
import { wantsNotification } from '../domain/notification-rules.js';
import { backoff, preview, type Delivery, type NotificationSender } from './channel.js';
import type { VapidKeys } from './vapid.js';

export interface WebPushOptions {
  store: Pick<Store, 'userById' | 'conversationById' | 'membership' | 'history' | 'pushSubscriptionsOf' | 'forgetPushEndpoint'>;
  presence: PresenceRegistry;
  vapid: VapidKeys;
  log: FastifyBaseLogger;
  metrics: Metrics;
  now: () => number;
  /** The HTTPS agent pushes go through (tests: one that trusts their CA). */
  agent?: Agent;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

/** What the service worker receives (decrypted by the browser). */
export interface PushPayload {
  type: 'message';
  conversationId: string;
  /** Ready to show: the group's title, or the sender's name in a direct conversation. */
  title: string;
  /** Ready to show: the latest message (unless the recipient turned previews off), and how many there are. */
  body: string;
  /** One notification per conversation on the device: a later push replaces it. */
  tag: string;
  /** Where a click goes. */
  url: string;
  count: number;
  mentioned: boolean;
  messageId: string;
  seq: number;
}

/**
 * RFC 8291 leaves 3,993 bytes of payload in a 4,096-byte record: push
 * services refuse more.
 */
export const PUSH_PAYLOAD_MAX = 3993;
const PREVIEW_CHARS = 140;
/** The newest messages of a job read to build its push. */
const READ_BACK = 50;
/** A push older than this is not delivered to a device that was away: it would be stale. */
const PUSH_TTL_SECONDS = 24 * 3600;

/**
 * Web Push (RFC 8030/8291/8292, through `web-push`): one push per job, that
 * is per recipient and conversation however many messages it holds ("3 new
 * messages"), to each of the recipient's subscriptions. Built when sent:
 * nothing when the messages were read meanwhile (on another device), are
 * all deleted, or the recipient is online again (they see them live); the
 * text as it is now, or none when the recipient turned previews off.
 * `Topic` per conversation (a device that was offline gets the latest, not
 * a pile), `Urgency` high for direct messages and mentions, a day's TTL.
 * 404/410 forget the subscription; 429, 5xx and network errors retry the job.
 */
export class WebPushSender implements NotificationSender {
  private readonly o: Required<Omit<WebPushOptions, 'agent'>> & { agent?: Agent };

  constructor(options: WebPushOptions) {
    this.o = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000, timeoutMs: 10_000, ...options };
  }

  async deliver(job: NotificationJob, signal: AbortSignal): Promise<Delivery> {
    const { store, metrics } = this.o;
    const done: Delivery = { kind: 'done', through: job.lastSeq };
    const [membership, online] = await Promise.all([store.membership(job.conversationId, job.recipientId), this.o.presence.onlineAmong([job.recipientId])]);
    if (!membership) return this.count('skipped', done);
    if (online.has(job.recipientId)) return this.count('skipped', done);
    // Read meanwhile, on another device: not pushed at all.
    if (membership.readSeq >= job.lastSeq) return this.count('cancelled', done);
    const from = Math.max(job.firstSeq, membership.readSeq + 1);
    const page = await store.history(job.conversationId, { before: job.lastSeq + 1, limit: READ_BACK });
    // The messages the member is due to hear of, by their preferences now (a
    // mute or level set after a message was queued counts): a job may span
    // messages queued for other reasons (a mention among unmentioned ones).
    const live = page.messages.filter(
      (m) => m.seq >= from && m.deletedAt === null && m.senderId !== job.recipientId && wantsNotification(membership, m.mentions.includes(job.recipientId), this.o.now()),
    );
    if (live.length === 0) return this.count('skipped', done);
    const subscriptions = await store.pushSubscriptionsOf([job.recipientId], this.o.now());
    if (subscriptions.length === 0) return this.count('skipped', done);

    // Messages older than those read back are counted by their seqs (deleted ones among them too).
    const count = live.length + Math.max(0, (page.messages[0]?.seq ?? from) - from);
    const payload = await this.payload(job, live, count);
    const body = JSON.stringify(payload);
    const options = {
      vapidDetails: this.o.vapid,
      TTL: PUSH_TTL_SECONDS,
      urgency: job.direct || payload.mentioned ? ('high' as const) : ('normal' as const),
      topic: topicOf(job.conversationId),
      timeout: this.o.timeoutMs,
      ...(this.o.agent ? { agent: this.o.agent } : {}),
    };
    let retry = false;
    await Promise.all(
      subscriptions.map(async (s) => {
        if (signal.aborted) return;
        try {
          await webpush.sendNotification({ endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } }, body, options);
          metrics.pushes.inc({ outcome: 'sent' });
        } catch (err) {
          const status = err instanceof WebPushError ? err.statusCode : 0;
          if (status === 404 || status === 410) {
            // The browser unsubscribed, or the subscription expired: forgotten.
            await store.forgetPushEndpoint(s.endpoint);
            metrics.pushes.inc({ outcome: 'gone' });
          } else if (status === 0 || status === 429 || status >= 500) {
            retry = true;
          } else {
            metrics.pushes.inc({ outcome: 'failed' });
            this.o.log.warn({ status, recipientId: job.recipientId }, 'push refused');
          }
        }
      }),
    );
    // Shutting down in the middle: released, to be sent by the next start or another node.
    if (signal.aborted) throw new Error('aborted');
    if (retry) {
      // Again later, to every subscription: one that got it now gets the same
      // notification again, under the same topic and tag (the device shows one).
      if (job.attempts + 1 < this.o.maxAttempts) return this.count('retried', { kind: 'retry', from: job.firstSeq, delayMs: backoff(job.attempts + 1, this.o.baseDelayMs, this.o.maxDelayMs) });
      this.o.log.warn({ recipientId: job.recipientId, attempts: job.attempts + 1 }, 'push failed');
      return this.count('failed', done);
    }
    return done;
  }

  private count(outcome: string, d: Delivery): Delivery {
    this.o.metrics.pushes.inc({ outcome });
    return d;
  }

  private async payload(job: NotificationJob, live: MessageRecord[], count: number): Promise<PushPayload> {
    const latest = live[live.length - 1]!;
    const [recipient, sender, conversation] = await Promise.all([
      this.o.store.userById(job.recipientId),
      this.o.store.userById(latest.senderId),
      this.o.store.conversationById(job.conversationId),
    ]);
    const mentioned = live.some((m) => m.mentions.includes(job.recipientId));
    const senderName = sender?.displayName ?? 'Someone';
    const title = conversation?.type === 'group' ? (conversation.title ?? 'Group') : senderName;
    const showText = recipient?.notificationPreviews ?? false;
    const text = showText ? preview(latest.content || (latest.attachments.length ? `📎 ${latest.attachments.map((a) => a.name).join(', ')}` : ''), PREVIEW_CHARS) : '';
    const lead = count > 1 ? `${count} new messages` : mentioned ? 'Mentioned you' : 'New message';
    let body: string;
    if (!showText) {
      const from = conversation?.type === 'group' ? ` from ${senderName}` : '';
      body = count > 1 ? (mentioned ? `${lead} (you were mentioned)` : lead) : mentioned ? `${senderName} mentioned you` : `New message${from}`;
    }
    else if (conversation?.type === 'group') body = count > 1 ? `${lead} · ${senderName}: ${text}` : `${senderName}: ${text}`;
    else body = count > 1 ? `${lead} · ${text}` : text;
    const payload: PushPayload = {
      type: 'message',
      conversationId: job.conversationId,
      title: preview(title, 100),
      body,
      tag: `conversation:${job.conversationId}`,
      url: `/messages/?c=${encodeURIComponent(job.conversationId)}`,
      count,
      mentioned,
      messageId: latest.id,
      seq: latest.seq,
    };
    // Within what a push can carry: the text is shortened until it fits.
    while (Buffer.byteLength(JSON.stringify(payload)) > PUSH_PAYLOAD_MAX && payload.body.length > 1) {
      payload.body = preview(payload.body, Math.floor([...payload.body].length / 2));
    }
    return payload;
  }
}

/** A push Topic (RFC 8030 §5.4: at most 32 URL-safe base64 characters) per conversation. */
export function topicOf(conversationId: string): string {
  return createHash('sha256').update(conversationId).digest('base64url').slice(0, 32);
}
