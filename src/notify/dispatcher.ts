import type { FastifyBaseLogger } from 'fastify';
import type { OfflineNotifier } from '../domain/notifier.js';
import { wantsNotification } from '../domain/notification-rules.js';
import type { PresenceRegistry } from '../domain/presence.js';
import type { Metrics } from '../metrics.js';
import type { MessageRecord, NewNotification, NotificationJob, NotifyChannel, Store } from '../store/store.js';
import type { NotificationSender } from './channel.js';

/** A job whose sending throws (not the receiver's answer: the store, a bug) is tried this often. */
const JOB_ERROR_ATTEMPTS = 5;

export interface DispatcherOptions {
  store: Store;
  /** Who has a socket on some node: they are not notified. */
  presence: PresenceRegistry;
  log: FastifyBaseLogger;
  metrics: Metrics;
  now: () => number;
  /** The channels there are (the webhook only with NOTIFY_WEBHOOK_URL). */
  senders: Partial<Record<NotifyChannel, NotificationSender>>;
  /** How long a push waits (read meanwhile: not pushed; more messages: one push). */
  pushDelayMs: number;
  /** Jobs the queue holds at most, deployment-wide; past it new ones are dropped (logged, counted). */
  maxBacklog?: number;
  /** Jobs sent at once by this node. */
  concurrency?: number;
  /** How long a claimed job is this node's: past it (a crash), another node takes it. */
  leaseMs?: number;
  /** How often the queue is looked at for jobs that other nodes queued, or that came due. */
  pollMs?: number;
}

/**
 * Offline notifications through a durable queue in the store (issue #19):
 * a message queues, for each recipient the preferences let through, a job
 * per channel (extending the one waiting: collapsing), which a node claims
 * when due and hands to the channel's sender. Jobs live in the database, so
 * they survive a restart, and every node serves them, each job to one node
 * at a time (a lease). Direct conversations go first, with a share kept for
 * groups, so a big group's volume never starves them.
 */
export class NotificationDispatcher implements OfflineNotifier {
  private readonly o: Required<DispatcherOptions>;
  private running = 0;
  private closed = false;
  private scheduled: NodeJS.Timeout | null = null;
  private scheduledAt = Infinity;
  private ticking = false;
  private again = false;
  private backlog = 0;
  private readonly poller: NodeJS.Timeout;
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Messages whose recipients are being worked out and queued. */
  private readonly enqueuing = new Set<Promise<void>>();
  private droppedSinceLog = 0;

  constructor(options: DispatcherOptions) {
    this.o = { maxBacklog: 100_000, concurrency: 4, leaseMs: 60_000, pollMs: 1000, ...options };
    this.poller = setInterval(() => void this.poll(), this.o.pollMs);
    this.poller.unref();
    void this.poll();
  }

  notify(message: MessageRecord, memberIds: readonly string[], direct: boolean): void {
    if (this.closed || memberIds.length === 0) return;
    const queued = this.enqueue(message, memberIds, direct)
      .catch((err: unknown) => this.o.log.error({ err }, 'offline notification skipped'))
      .finally(() => this.enqueuing.delete(queued));
    this.enqueuing.add(queued);
  }

  /**
   * Who hears of the message: the members with no socket on any node whose
   * preferences let it through (a mute lets only mentions through,
   * `mentions` only those, `none` nothing), judged now; queued per channel.
   */
  private async enqueue(message: MessageRecord, memberIds: readonly string[], direct: boolean): Promise<void> {
    const { senders, store } = this.o;
    // Delays count from the message, however long working out its recipients took.
    const at = message.createdAt;
    const online = await this.o.presence.onlineAmong(memberIds);
    const offline = memberIds.filter((userId) => !online.has(userId));
    if (offline.length === 0) return;
    // Only members who changed the defaults are read (usually none).
    const quiet = new Map((await store.quietMembers(message.conversationId)).map((m) => [m.userId, m]));
    const recipientIds =
      quiet.size === 0
        ? offline
        : offline.filter((userId) => {
            const prefs = quiet.get(userId);
            return !prefs || wantsNotification(prefs, message.mentions.includes(userId), message.createdAt);
          });
    if (recipientIds.length === 0) return;
    const entries: NewNotification[] = [];
    const base = { conversationId: message.conversationId, seq: message.seq, direct };
    if (senders.webhook) for (const r of recipientIds) entries.push({ ...base, recipientId: r, channel: 'webhook', dueAt: at });
    if (senders.push) {
      // Only those with a browser to push to (most have none: no job for them).
      const subscribed = new Set((await store.pushSubscriptionsOf(recipientIds, at)).map((s) => s.userId));
      for (const r of recipientIds) if (subscribed.has(r)) entries.push({ ...base, recipientId: r, channel: 'push', dueAt: at + this.o.pushDelayMs });
    }
    if (entries.length === 0) return;
    // Past the bound, groups' are dropped; direct conversations' only past twice the bound.
    if (this.backlog >= this.o.maxBacklog && (!direct || this.backlog >= 2 * this.o.maxBacklog)) {
      this.drop(entries);
      return;
    }
    await store.enqueueNotifications(entries);
    this.backlog += entries.length;
    for (const e of entries) this.wakeAt(e.dueAt);
  }

  private drop(entries: NewNotification[]): void {
    const webhook = entries.filter((e) => e.channel === 'webhook').length;
    if (webhook) this.o.metrics.notifications.inc({ outcome: 'dropped' }, webhook);
    if (entries.length - webhook) this.o.metrics.pushes.inc({ outcome: 'dropped' }, entries.length - webhook);
    if (this.droppedSinceLog === 0) {
      setTimeout(() => {
        this.o.log.warn({ dropped: this.droppedSinceLog, backlog: this.backlog }, 'notifications dropped: the queue is full');
        this.droppedSinceLog = 0;
      }, 10_000).unref();
    }
    this.droppedSinceLog += entries.length;
  }

  /** Looks at the queue no later than `at`. */
  private wakeAt(at: number): void {
    if (this.closed || at >= this.scheduledAt) return;
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduledAt = at;
    this.scheduled = setTimeout(() => {
      this.scheduled = null;
      this.scheduledAt = Infinity;
      void this.tick();
    }, Math.max(0, at - this.o.now()));
    this.scheduled.unref();
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    try {
      this.backlog = await this.o.store.notificationBacklog();
      this.o.metrics.notificationsQueued.set(this.backlog);
    } catch (err) {
      this.o.log.warn({ err }, 'the notification queue could not be read');
      return;
    }
    if (this.backlog > 0) await this.tick();
  }

  /** Claims what this node has room for and sends it; again while jobs come. */
  private async tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.again = false;
        while (!this.closed && this.running < this.o.concurrency) {
          const jobs = await this.o.store.claimNotifications(this.o.now(), this.o.concurrency - this.running, this.o.leaseMs);
          if (jobs.length === 0) break;
          for (const job of jobs) this.start(job);
        }
      } while (this.again && !this.closed);
    } catch (err) {
      this.o.log.warn({ err }, 'notification jobs could not be claimed');
    } finally {
      this.ticking = false;
    }
  }

  private start(job: NotificationJob): void {
    this.running++;
    const run = this.run(job).finally(() => {
      this.running--;
      this.inFlight.delete(run);
      if (!this.closed) void this.tick();
    });
    this.inFlight.add(run);
  }

  private async run(job: NotificationJob): Promise<void> {
    const sender = this.o.senders[job.channel];
    const now = this.o.now;
    try {
      if (!sender) {
        // A channel this node does not have (the webhook unset since): nothing to do with it.
        await this.o.store.finishNotification(job, job.lastSeq, now());
        return;
      }
      const d = await sender.deliver(job, this.abort.signal);
      if (d.kind === 'done') {
        // Messages that came meanwhile wait like new ones (a push: its delay again).
        await this.o.store.finishNotification(job, d.through, now() + (job.channel === 'push' ? this.o.pushDelayMs : 0));
        this.backlog = Math.max(0, this.backlog - 1);
        if (job.channel === 'webhook' || d.through < job.lastSeq) this.wakeAt(now() + (job.channel === 'push' ? this.o.pushDelayMs : 0));
      } else {
        await this.o.store.retryNotification(job, d.from, Math.ceil(now() + d.delayMs));
        this.wakeAt(now() + d.delayMs);
      }
    } catch (err) {
      if (this.abort.signal.aborted) {
        // Shutting down mid-send: the job is released for the next start (or another node).
        await this.o.store.retryNotification(job, job.firstSeq, now()).catch(() => undefined);
        return;
      }
      // Not the receiver's answer: the store or a bug. Tried again a few times, then given up (counted).
      const counter = job.channel === 'push' ? this.o.metrics.pushes : this.o.metrics.notifications;
      if (job.attempts + 1 < JOB_ERROR_ATTEMPTS) {
        this.o.log.error({ err, channel: job.channel, recipientId: job.recipientId }, 'notification job failed; retried later');
        counter.inc({ outcome: 'retried' });
        await this.o.store.retryNotification(job, job.firstSeq, now() + 5000 * 2 ** job.attempts).catch(() => undefined);
      } else {
        this.o.log.error({ err, channel: job.channel, recipientId: job.recipientId }, 'notification job failed; given up');
        counter.inc({ outcome: 'failed' });
        await this.o.store.finishNotification(job, job.lastSeq, now()).catch(() => undefined);
      }
    }
  }

  /** Resolves once every message notified so far has its jobs queued (or none). */
  async settled(): Promise<void> {
    while (this.enqueuing.size > 0) await Promise.all([...this.enqueuing]);
  }

  /** Looks at the queue now (tests: after moving their clock past a push's delay). */
  async poke(): Promise<void> {
    await this.tick();
  }

  /** Resolves once no job is waiting, due later or being sent (for tests and benchmarks). */
  async whenIdle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await Promise.all([...this.enqueuing]);
      if (this.running === 0 && this.enqueuing.size === 0 && (await this.o.store.notificationBacklog()) === 0) return;
      if (Date.now() > deadline) throw new Error('notifications still queued');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Stops claiming; sends in flight get `graceMs` to finish, then are
   * aborted and released. Nothing is lost: what is queued stays queued.
   */
  async close(graceMs = 3000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poller);
    if (this.scheduled) clearTimeout(this.scheduled);
    // What is being queued is queued (the store closes after this).
    await Promise.all([...this.enqueuing]);
    if (this.inFlight.size > 0) {
      const grace = setTimeout(() => this.abort.abort(), graceMs);
      await Promise.allSettled([...this.inFlight]);
      clearTimeout(grace);
    }
  }
}
