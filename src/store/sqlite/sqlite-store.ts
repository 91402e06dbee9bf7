import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { decodeId, encodeId } from '../ids.js';
import {
  notificationRows,
  toNotificationJob,
  type NotificationJobRow,
  toPushSubscription,
  type PushSubscriptionRow,
  notifyLevelCode,
  attachmentsJson,
  keys,
  MARKER_CODE,
  pickAttachments,
  toAttachment,
  mentionsJson,
  nextMarkers,
  nextReactions,
  parseMentions,
  parseReactions,
  reactionsJson,
  replyTargetKeys,
  resolveMentions,
  toConversation,
  toListItem,
  toMember,
  toMessage,
  toUser,
  type ConversationRow,
  type AttachmentRow,
  type ListRow,
  type MemberRow,
  type MessageRow,
  type ReplyTargetRow,
  type UserRow,
} from '../rows.js';
import {
  UniqueViolation,
  type AppendOutcome,
  type AttachmentRecord,
  type NewAttachment,
  type ConversationListItem,
  type ConversationListQuery,
  type ConversationRecord,
  type ChangeOutcome,
  type HistoryPage,
  type MessageChange,
  type SearchHit,
  type SearchQuery,
  type MarkerMove,
  type MarkerOutcome,
  type MarkerTimes,
  type HistoryQuery,
  type MemberRecord,
  type NewNotification,
  type NotificationJob,
  type NotificationClaim,
  type NewPushSubscription,
  type PushSubscriptionRecord,
  type NotifyLevel,
  type MessageRecord,
  type NewConversation,
  type NewMessage,
  type NewSession,
  type NewUser,
  type Store,
  type UserRecord,
} from '../store.js';
import { wordPrefixes } from '../../text/search-text.js';
import { DatabaseLock } from './lock.js';
import { migrate } from './migrations.js';
import { prepare } from './statements.js';
import { openSearchDatabase, searchDbPath, sourceState } from './search-index.js';
import { SearchIndexer } from './search-indexer.js';
import { ReaderPool } from './reader-pool.js';
import type { SearchAnswer, SearchPlanChoice, SearchRequest, SearchStats } from './search-plan.js';
import type { SearchReaderData } from './search-reader.js';
import { siblingModule, startWorker } from './threads.js';

export interface SqliteStoreOptions {
  /** Path of the database file (the search index goes beside it, see searchDbPath). */
  file: string;
  /** FULL (default) makes every commit durable against power loss. */
  synchronous?: 'FULL' | 'NORMAL';
  /** Told about failures of the search worker (which restarts); default: stderr. */
  onIndexError?: (message: string) => void;
  /**
   * Threads that run searches, each with its own read-only connection
   * (search-reader.ts). Default: one core fewer than the machine has (the
   * event loop keeps one), at least 1, at most 4.
   */
  searchReaders?: number;
  /** Which side a search reads (search-plan.ts); default 'auto'. For tests and benchmarks. */
  searchPlan?: SearchPlanChoice;
  /** Told what each search did (which side, how much it read): for metrics and tests. */
  onSearch?: (stats: SearchStats) => void;
  /** How long an edit or deletion waits for the index before it is answered (default 5 s). */
  changeIndexWaitMs?: number;
  /** How long a batch of sends waits for an index far behind (default 1 s). */
  indexLagWaitMs?: number;
  /** The index lag (messages sent since open) at which sends wait (default 50,000). */
  maxIndexLag?: number;
  /** Checkpoint, index and WAL rewind tuning (see search-worker.ts); the defaults suit production. */
  checkpointEveryMs?: number;
  indexDelayMs?: number;
  indexCloseBudgetMs?: number;
  walRestartFrames?: number;
}

/** Moves of one marker within this window share a log row. */
const MOVE_WINDOW_MS = 1000;
/** Log rows kept per (conversation, member, marker type); older ones are merged. */
const MOVES_KEPT = 64;
/** Page cache of each search reader, per database (main and index), KiB. */
const SEARCH_READER_CACHE_KIB = 32 * 1024;
/** An edit or deletion is acknowledged once indexed, or after this long (search reads the message itself meanwhile). */
const CHANGE_INDEX_WAIT_MS = 5000;
/** A hold of writes for a WAL rewind ends after this long at most. */
const WRITE_HOLD_MAX_MS = 500;
/**
 * Sends wait when the index is this many messages behind on what was sent
 * since the store opened, until it is half as far behind or INDEX_LAG_WAIT_MS
 * passed (then the batch goes ahead: a lag bound, not a stop).
 */
const MAX_INDEX_LAG = 50_000;
const INDEX_LAG_WAIT_MS = 1000;

/** How far the stored tick ceiling is raised at a time (see reserveTicks). */
const TICK_BLOCK = 10_000;

/** The highest code point: `p || MAX` bounds every string that starts with p. */
const PREFIX_END = String.fromCodePoint(0x10ffff);

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly s;
  private readonly appendTx;
  private readonly markersTx;
  private readonly changesTx;
  private readonly lock: DatabaseLock;
  private readonly indexer: SearchIndexer;
  /** Searches run on these threads, never on the event loop. */
  private readonly readers: ReaderPool<SearchRequest, SearchAnswer>;
  /** The newest message and outbox entry committed: what the index must reach. */
  private lastMessageId: number;
  private lastOutboxId: number;
  /** The newest message when the store opened: lag behind it is a rebuild's, not backpressure's business. */
  private readonly idAtOpen: number;
  /** The message / outbox id the running transaction inserted last (used only once it commits). */
  private messageInTx = 0;
  private outboxInTx = 0;
  /** Whether the running changes transaction changed a text (an edit or deletion: the index must follow). */
  private changedText = false;
  /** Set while group-committed writes are held for a WAL rewind (search-worker.ts). */
  private writesHeld: { released: Promise<void>; release: () => void; timer: NodeJS.Timeout } | null = null;
  /** The last tick handed out (see reserveTicks). */
  private lastTick: number;

  constructor(private readonly opts: SqliteStoreOptions) {
    if (opts.file === ':memory:') throw new Error('SqliteStore needs a file: its search index is kept by another thread');
    fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    this.lock = DatabaseLock.acquire(opts.file);
    try {
      this.db = new Database(opts.file);
    } catch (e) {
      this.lock.release();
      throw e;
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
    // Checkpoints run on the search worker's thread, never in a commit here;
    // until it runs (and whenever it is down), SQLite's automatic one does.
    this.db.pragma('wal_autocheckpoint = 1000');
    this.db.pragma('journal_size_limit = 134217728');
    this.db.pragma('foreign_keys = ON');
    // Deleted text is overwritten in the file, not left in free space.
    this.db.pragma('secure_delete = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('temp_store = MEMORY');
    this.db.pragma('cache_size = -65536');
    // The word index's view of a text (migration 3 uses it).
    this.db.function('parley_word_prefixes', { deterministic: true }, (text: unknown) => wordPrefixes(String(text ?? '')));
    migrate(this.db);
    this.s = prepare(this.db);
    this.lastTick = (this.s.tickCeiling.get() as { value: number }).value;
    this.appendTx = this.db.transaction((batch: readonly NewMessage[]) => this.applyAppend(batch));
    this.markersTx = this.db.transaction((batch: readonly MarkerMove[]) => batch.map((m) => this.applyMarkerMove(m)));
    this.changesTx = this.db.transaction((batch: readonly MessageChange[]) => {
      // (A rolled-back transaction's ids must not count as committed.)
      this.outboxInTx = 0;
      // Outbox entries the index has applied are no longer needed.
      this.s.pruneOutbox.run(this.indexer.marks.outboxId);
      return batch.map((c) => this.applyChange(c));
    });
    const source = sourceState(this.db);
    this.lastMessageId = source.maxMessageId;
    this.lastOutboxId = source.maxOutboxId;
    this.idAtOpen = source.maxMessageId;
    // The index file exists, checked (rebuilt if it cannot be trusted), before
    // the worker starts: searches can attach it at any time.
    const searchFile = searchDbPath(opts.file);
    openSearchDatabase(searchFile, source).close();
    this.indexer = new SearchIndexer({
      dbFile: opts.file,
      searchFile,
      onError: opts.onIndexError ?? ((m) => process.stderr.write(`search index: ${m}\n`)),
      checkpointEveryMs: opts.checkpointEveryMs,
      delayMs: opts.indexDelayMs,
      closeBudgetMs: opts.indexCloseBudgetMs,
      walRestartFrames: opts.walRestartFrames,
      behind: () => this.lastMessageId > this.indexer.marks.indexedId || this.lastOutboxId > this.indexer.marks.outboxId,
      pauseWrites: () => this.holdWrites(),
      resumeWrites: () => this.releaseWrites(),
      onRunning: (running) => {
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${running ? 0 : 1000}`);
      },
    });
    const readerData: SearchReaderData = { dbFile: opts.file, searchFile, cacheKiB: SEARCH_READER_CACHE_KIB };
    this.readers = new ReaderPool({
      size: opts.searchReaders ?? Math.max(1, Math.min(4, os.availableParallelism() - 1)),
      spawn: () => startWorker(siblingModule(import.meta.url, 'search-reader'), readerData),
      onError: opts.onIndexError ?? ((m) => process.stderr.write(`search reader: ${m}\n`)),
      // Once the indexer runs (or at the first search): threads starting
      // together would slow each other's start, the indexer's included.
      lazy: true,
    });
    void this.indexer.ready().then(() => this.readers.warm());
  }

  private holdWrites(): void {
    if (this.writesHeld) return;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    // Never held for long, whatever happens to the worker.
    const timer = setTimeout(() => this.releaseWrites(), WRITE_HOLD_MAX_MS);
    this.writesHeld = { released, release, timer };
  }

  private releaseWrites(): void {
    const held = this.writesHeld;
    if (!held) return;
    this.writesHeld = null;
    clearTimeout(held.timer);
    held.release();
  }

  /** Resolves when writes are not held (at once, nearly always). */
  private async writable(): Promise<void> {
    while (this.writesHeld) await this.writesHeld.released;
  }

  async ping(): Promise<void> {
    this.s.ping.get();
  }

  async close(): Promise<void> {
    // The search readers first (running searches finish), so that the
    // indexer's connection is the index's last and checkpoints it away (no
    // -wal left with old pages); the index takes in what was committed
    // (within a budget), then the database closes.
    await this.readers.close();
    await this.indexer.close();
    if (this.db.open) this.db.close();
    this.lock.release();
  }

  /** How far the search index is behind the messages (for metrics). */
  indexLag(): number {
    return Math.max(0, this.lastMessageId - this.indexer.marks.indexedId);
  }

  // ---- users ----------------------------------------------------------------
  async createUser(u: NewUser): Promise<UserRecord> {
    try {
      const row = this.s.insertUser.get(
        u.username,
        u.username.toLowerCase(),
        u.displayName,
        u.displayName.toLowerCase(),
        u.passwordHash,
        u.createdAt,
      ) as UserRow;
      return toUser(row);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new UniqueViolation('username');
      throw e;
    }
  }

  async userById(id: string): Promise<UserRecord | null> {
    const k = decodeId('u', id);
    if (k === null) return null;
    const row = this.s.userById.get(k) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async usersByIds(ids: readonly string[]): Promise<UserRecord[]> {
    const ks = keys('u', ids);
    if (ks.length === 0) return [];
    return (this.s.usersByIds.all(JSON.stringify(ks)) as UserRow[]).map(toUser);
  }

  async userByUsername(username: string): Promise<UserRecord | null> {
    const row = this.s.userByUsername.get(username.toLowerCase()) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    const p = prefix.toLowerCase();
    return (this.s.searchUsers.all({ lo: p, hi: p + PREFIX_END, limit }) as UserRow[]).map(toUser);
  }

  async updateDisplayName(id: string, displayName: string): Promise<UserRecord | null> {
    const k = decodeId('u', id);
    if (k === null) return null;
    const row = this.s.updateDisplayName.get(displayName, displayName.toLowerCase(), k) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async setNotificationPreviews(id: string, previews: boolean): Promise<UserRecord | null> {
    const k = decodeId('u', id);
    if (k === null) return null;
    if (this.writesHeld) await this.writable();
    const row = this.s.setNotificationPreviews.get(previews ? 1 : 0, k) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  // ---- notification queue -----------------------------------------------------
  async enqueueNotifications(entries: readonly NewNotification[]): Promise<void> {
    const rows = notificationRows(entries);
    if (rows.length === 0) return;
    if (this.writesHeld) await this.writable();
    this.db.transaction(() => {
      for (const r of rows) (r.ch === 1 ? this.s.enqueuePush : this.s.enqueueWebhook).run(r);
    }).immediate();
  }

  async claimNotifications(now: number, limit: number, leaseMs: number): Promise<NotificationJob[]> {
    if (this.writesHeld) await this.writable();
    return this.db.transaction(() => {
      const claimed: NotificationJobRow[] = [];
      const take = (direct: number, n: number) => {
        if (n <= 0) return;
        for (const row of this.s.dueNotifications.all({ direct, now, limit: n }) as NotificationJobRow[]) {
          this.s.claimNotification.run({ until: now + leaseMs, id: row.id });
          claimed.push({ ...row, claimed_until: now + leaseMs });
        }
      };
      // Direct conversations first, a quarter kept for groups, then groups fill the rest.
      take(1, limit - Math.floor(limit / 4));
      take(0, limit - claimed.length);
      return claimed.map(toNotificationJob);
    }).immediate();
  }

  async finishNotification(claim: NotificationClaim, throughSeq: number, nextDueAt: number): Promise<void> {
    const id = decodeId('n', claim.id);
    if (id === null) return;
    if (this.writesHeld) await this.writable();
    const k = { id, claim: claim.claimedUntil };
    this.db.transaction(() => {
      if (this.s.finishNotification.run({ ...k, through: throughSeq }).changes === 0) this.s.continueNotification.run({ ...k, through: throughSeq, due: nextDueAt });
    }).immediate();
  }

  async retryNotification(claim: NotificationClaim, fromSeq: number, dueAt: number): Promise<void> {
    const id = decodeId('n', claim.id);
    if (id === null) return;
    if (this.writesHeld) await this.writable();
    this.s.retryNotification.run({ id, claim: claim.claimedUntil, from: fromSeq, due: dueAt });
  }

  async notificationBacklog(): Promise<number> {
    return this.s.notificationBacklog.get() as number;
  }

  // ---- push subscriptions -----------------------------------------------------
  async savePushSubscription(s: NewPushSubscription, maxPerUser: number): Promise<PushSubscriptionRecord> {
    const uk = decodeId('u', s.userId);
    const sk = decodeId('s', s.sessionId);
    if (uk === null || sk === null) throw new Error('savePushSubscription: not a user or session id');
    if (this.writesHeld) await this.writable();
    return this.db.transaction(() => {
      const row = this.s.savePushSubscription.get({ user: uk, session: sk, endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth, at: s.createdAt }) as PushSubscriptionRow;
      this.s.trimPushSubscriptions.run({ user: uk, keep: maxPerUser });
      return toPushSubscription(row);
    }).immediate();
  }

  async deletePushSubscription(userId: string, endpoint: string): Promise<boolean> {
    const uk = decodeId('u', userId);
    if (uk === null) return false;
    if (this.writesHeld) await this.writable();
    return this.s.deletePushSubscription.run(uk, endpoint).changes === 1;
  }

  async forgetPushEndpoint(endpoint: string): Promise<boolean> {
    if (this.writesHeld) await this.writable();
    return this.s.forgetPushEndpoint.run(endpoint).changes === 1;
  }

  async pushSubscriptionsOf(userIds: readonly string[], now: number): Promise<PushSubscriptionRecord[]> {
    const keys = userIds.map((id) => decodeId('u', id)).filter((k): k is number => k !== null);
    if (keys.length === 0) return [];
    return (this.s.pushSubscriptionsOf.all(JSON.stringify(keys), now) as PushSubscriptionRow[]).map(toPushSubscription);
  }

  // ---- sessions ---------------------------------------------------------------
  async createSession(s: NewSession): Promise<string> {
    const uk = decodeId('u', s.userId);
    if (uk === null) throw new Error('createSession: invalid user id');
    if (this.writesHeld) await this.writable();
    return encodeId('s', this.s.insertSession.run(uk, s.createdAt, s.expiresAt).lastInsertRowid);
  }

  async sessionUser(sessionId: string): Promise<UserRecord | null> {
    const k = decodeId('s', sessionId);
    if (k === null) return null;
    const row = this.s.sessionUser.get(k) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async revokeSession(sessionId: string, at: number): Promise<boolean> {
    const k = decodeId('s', sessionId);
    if (k === null) return false;
    if (this.writesHeld) await this.writable();
    return this.s.revokeSession.run(at, k).changes === 1;
  }

  async pruneSessions(expiredBefore: number): Promise<number> {
    if (this.writesHeld) await this.writable();
    return this.s.pruneSessions.run(expiredBefore).changes;
  }

  async changePassword(userId: string, passwordHash: string, keepSessionId: string, at: number): Promise<string[]> {
    const uk = decodeId('u', userId);
    if (uk === null) return [];
    const keep = decodeId('s', keepSessionId) ?? 0;
    if (this.writesHeld) await this.writable();
    return this.db.transaction(() => {
      this.s.setPasswordHash.run(passwordHash, uk);
      return (this.s.revokeOtherSessions.all({ at, u: uk, keep }) as { id: number }[]).map((r) => encodeId('s', r.id));
    }).immediate();
  }

  async setLastSeen(entries: readonly { userId: string; at: number }[]): Promise<void> {
    if (entries.length === 0) return;
    if (this.writesHeld) await this.writable();
    this.db.transaction(() => {
      for (const { userId, at } of entries) {
        const k = decodeId('u', userId);
        if (k !== null) this.s.setLastSeen.run(at, k);
      }
    }).immediate();
  }

  // ---- conversations --------------------------------------------------------
  async createConversation(c: NewConversation): Promise<{ conversation: ConversationRecord; created: boolean }> {
    const memberKeys = keys('u', c.memberIds);
    if (memberKeys.length !== c.memberIds.length) throw new Error('createConversation: invalid member id');
    const ownerKey = c.ownerId === null ? null : decodeId('u', c.ownerId);
    const directKey = c.type === 'direct' ? [...memberKeys].sort((a, b) => a - b).join(':') : null;
    return this.db.transaction(() => {
      if (directKey !== null) {
        const existing = this.s.conversationByDirectKey.get(directKey) as ConversationRow | undefined;
        if (existing) return { conversation: toConversation(existing), created: false };
      }
      // Ticks: one for the conversation's activity, then one per member in list order.
      const last = this.reserveTicks(1 + memberKeys.length);
      const first = last - memberKeys.length;
      const row = this.s.insertConversation.get(c.type, c.title, ownerKey, directKey, c.createdAt, c.createdAt, first) as ConversationRow;
      memberKeys.forEach((uk, i) => this.s.insertMember.run(row.id, uk, c.createdAt, first + 1 + i));
      return { conversation: toConversation(row), created: true };
    }).immediate();
  }

  /**
   * Reserves n ticks; answers the last of them. Runs inside a write
   * transaction. The stored counter is a ceiling, raised TICK_BLOCK at a time:
   * every tick a transaction stores is at most the ceiling that transaction
   * commits, so after a restart (which starts from the ceiling) ticks still
   * only grow. Reading the ceiling each time keeps a rolled-back raise from
   * being trusted. Most commits then read the counter's page instead of
   * writing it (one WAL page less per single send).
   */
  private reserveTicks(n: number): number {
    const last = this.lastTick + n;
    if ((this.s.tickCeiling.get() as { value: number }).value < last) this.s.raiseTickCeiling.run(last + TICK_BLOCK);
    this.lastTick = last;
    return last;
  }

  async conversationById(id: string): Promise<ConversationRecord | null> {
    const k = decodeId('c', id);
    if (k === null) return null;
    const row = this.s.conversationById.get(k) as ConversationRow | undefined;
    return row ? toConversation(row) : null;
  }

  async conversationsByIds(ids: readonly string[]): Promise<ConversationRecord[]> {
    const ks = keys('c', ids);
    if (ks.length === 0) return [];
    return (this.s.conversationsByIds.all(JSON.stringify(ks)) as ConversationRow[]).map(toConversation);
  }

  async members(conversationId: string): Promise<MemberRecord[]> {
    const k = decodeId('c', conversationId);
    if (k === null) return [];
    return (this.s.members.all(k) as MemberRow[]).map(toMember);
  }

  async membersOf(conversationIds: readonly string[]): Promise<MemberRecord[]> {
    const ks = keys('c', conversationIds);
    if (ks.length === 0) return [];
    return (this.s.membersOf.all(JSON.stringify(ks)) as MemberRow[]).map(toMember);
  }

  async membership(conversationId: string, userId: string): Promise<MemberRecord | null> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return null;
    const row = this.s.membership.get(ck, uk) as MemberRow | undefined;
    return row ? toMember(row) : null;
  }

  async listConversations(q: ConversationListQuery): Promise<ConversationListItem[]> {
    const uk = decodeId('u', q.userId);
    if (uk === null) return [];
    const rows = this.s.listConversations.all({
      user: uk,
      archived: q.archived ? 1 : 0,
      before: q.before ?? Number.MAX_SAFE_INTEGER,
      limit: q.limit,
    }) as ListRow[];
    return rows.map((r) => toListItem(r, q.userId));
  }

  async updateTitle(conversationId: string, title: string): Promise<ConversationRecord | null> {
    const k = decodeId('c', conversationId);
    if (k === null) return null;
    const row = this.s.updateTitle.get(title, k) as ConversationRow | undefined;
    return row ? toConversation(row) : null;
  }

  async addMember(conversationId: string, userId: string, at: number): Promise<boolean> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return false;
    return this.db.transaction(() => {
      const conversation = this.s.conversationById.get(ck) as ConversationRow | undefined;
      if (!conversation || !this.s.userById.get(uk)) return false;
      const tick = this.reserveTicks(1);
      // A newcomer starts level: the history before they joined is not unread
      // for them, and its status does not fall back for everyone else.
      const seq = conversation.last_seq;
      if (this.s.insertMemberIfAbsent.run(ck, uk, at, tick, seq, seq).changes !== 1) return false;
      if (seq > 0) {
        this.logMove(ck, uk, 0, seq, at);
        this.logMove(ck, uk, 1, seq, at);
      }
      return true;
    }).immediate();
  }

  async removeMember(conversationId: string, userId: string): Promise<boolean> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return false;
    return this.db.transaction(() => {
      if (this.s.deleteMember.run(ck, uk).changes !== 1) return false;
      this.s.forgetMoves.run(ck, uk);
      // The longest-standing remaining member inherits the group (or nobody).
      this.s.passOwnership.run({ c: ck, u: uk });
      return true;
    }).immediate();
  }

  async setArchived(conversationId: string, userId: string, archived: boolean): Promise<boolean> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return false;
    return this.s.setArchived.run(archived ? 1 : 0, ck, uk).changes === 1;
  }

  async setNotifications(conversationId: string, userId: string, level: NotifyLevel, mutedUntil: number | null): Promise<boolean> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return false;
    return this.s.setNotifications.run(notifyLevelCode(level), mutedUntil, ck, uk).changes === 1;
  }

  async quietMembers(conversationId: string): Promise<MemberRecord[]> {
    const ck = decodeId('c', conversationId);
    if (ck === null) return [];
    return (this.s.quietMembers.all(ck) as MemberRow[]).map(toMember);
  }

  // ---- messages -------------------------------------------------------------
  async appendMessages(batch: readonly NewMessage[]): Promise<AppendOutcome[]> {
    if (batch.length === 0) return [];
    // Backpressure: an index far behind on what was sent since the store
    // opened holds sends back (up to a second per batch) instead of letting
    // the lag grow. Not for a rebuild of what was there before, and not while
    // the worker is down (it restarts; sends do not depend on it).
    const lag = this.lastMessageId - Math.max(this.indexer.marks.indexedId, this.idAtOpen);
    const maxLag = this.opts.maxIndexLag ?? MAX_INDEX_LAG;
    if (lag > maxLag && this.indexer.available) {
      await this.indexer.caughtUp(this.lastMessageId - Math.floor(maxLag / 2), 0, this.opts.indexLagWaitMs ?? INDEX_LAG_WAIT_MS);
    }
    if (this.writesHeld) await this.writable();
    const outcomes = this.appendTx.immediate(batch);
    this.lastMessageId = Math.max(this.lastMessageId, this.messageInTx);
    this.indexer.wake();
    return outcomes;
  }

  /** Runs inside the batch's transaction. */
  private applyAppend(batch: readonly NewMessage[]): AppendOutcome[] {
    // (A rolled-back transaction's ids must not count as committed.)
    this.messageInTx = 0;
    const outcomes: AppendOutcome[] = [];
    // (conversation, sender, clientId) -> message stored earlier in this batch
    const inBatch = new Map<string, MessageRecord>();
    // (conversation, sender) -> highest seq this batch gave the sender
    const senderMarks = new Map<string, { ck: number; uk: number; seq: number }>();
    // conversation -> its members (user keys and wire ids), read once per batch
    const members = new Map<number, { keys: Set<number>; ids: readonly string[] }>();
    // conversation -> its members by lower-cased username (for mentions), read once per batch when needed
    const names = new Map<number, ReadonlyMap<string, number>>();
    // uploads taken by earlier items of this batch
    const taken = new Set<number>();
    // One tick per item, reserved up front (ticks may have gaps; they only order).
    let tick = this.reserveTicks(batch.length) - batch.length;
    for (const m of batch) {
      tick++;
      const ck = decodeId('c', m.conversationId);
      const uk = decodeId('u', m.senderId);
      if (ck === null || uk === null) {
        outcomes.push({ kind: 'no_conversation' });
        continue;
      }
      // Checked in the transaction (a removal may have committed since the
      // domain's cached check), from the members read once per conversation
      // in a batch: they are also the message's recipients.
      let inConversation = members.get(ck);
      if (!inConversation) {
        const rows = this.s.memberKeys.all(ck) as number[];
        members.set(ck, (inConversation = { keys: new Set(rows), ids: rows.map((k) => encodeId('u', k)) }));
      }
      if (!inConversation.keys.has(uk)) {
        outcomes.push(this.s.conversationById.get(ck) ? { kind: 'not_member' } : { kind: 'no_conversation' });
        continue;
      }
      if (m.clientId !== null) {
        const key = `${ck}\u0000${uk}\u0000${m.clientId}`;
        const earlier = inBatch.get(key);
        if (earlier) {
          outcomes.push({ kind: 'duplicate', message: earlier });
          continue;
        }
        const stored = this.s.messageByClientId.get(ck, uk, m.clientId) as MessageRow | undefined;
        if (stored) {
          outcomes.push({ kind: 'duplicate', message: this.record(stored) });
          continue;
        }
      }
      // A reply: to a message of this conversation (deleted or not), read as it is now.
      let target: ReplyTargetRow | undefined;
      if (m.replyToId !== undefined && m.replyToId !== null) {
        const tk = decodeId('m', m.replyToId);
        target = tk === null ? undefined : (this.s.replyTarget.get(tk, ck) as ReplyTargetRow | undefined);
        if (!target) {
          outcomes.push({ kind: 'no_reply_target' });
          continue;
        }
      }
      // Its files: unsent uploads of the sender to this conversation.
      let files: AttachmentRow[] = [];
      if (m.attachmentIds?.length) {
        const wanted = m.attachmentIds.flatMap((id) => {
          const k = decodeId('a', id);
          return k === null ? [] : [k];
        });
        const rows = new Map((this.s.attachmentsByIds.all(JSON.stringify(wanted)) as AttachmentRow[]).map((r) => [r.id, r]));
        const picked = pickAttachments(m.attachmentIds, rows, ck, uk, taken);
        if (!picked) {
          outcomes.push({ kind: 'bad_attachments' });
          continue;
        }
        files = picked;
      }
      const mentioned = m.mentionNames?.length ? resolveMentions(m.mentionNames, this.memberNames(ck, names)) : [];
      const counters = this.s.bumpCounters.get(m.createdAt, tick, ck) as { last_seq: number; last_rev: number } | undefined;
      if (!counters) {
        outcomes.push({ kind: 'no_conversation' });
        continue;
      }
      const row: MessageRow = {
        id: 0,
        conversation_id: ck,
        seq: counters.last_seq,
        rev: counters.last_rev,
        sender_id: uk,
        content: m.content,
        client_id: m.clientId,
        created_at: m.createdAt,
        edited_at: null,
        deleted_at: null,
        reply_to_id: target?.id ?? null,
        mentions: mentionsJson(mentioned),
        reactions: null,
        attachments: attachmentsJson(files),
      };
      const info = this.s.insertMessage.run(ck, row.seq, row.rev, uk, m.content, m.clientId, m.createdAt, row.reply_to_id, row.mentions, row.attachments);
      row.id = this.messageInTx = Number(info.lastInsertRowid);
      for (const f of files) this.s.bindAttachment.run(row.id, f.id);
      for (const k of mentioned) this.s.insertMention.run(k, ck, row.seq);
      const message = toMessage(row, target ? new Map([[target.id, target]]) : undefined);
      if (m.clientId !== null) inBatch.set(`${ck}\u0000${uk}\u0000${m.clientId}`, message);
      senderMarks.set(`${ck}:${uk}`, { ck, uk, seq: counters.last_seq });
      outcomes.push({ kind: 'stored', message, members: inConversation.ids });
    }
    // Sending moves the sender's own read and delivered markers to its seq.
    // (Not logged: when a sender's marker reached a seq by sending is the
    // time of their first message at or after it; markerTimes looks there.)
    for (const { ck, uk, seq } of senderMarks.values()) this.s.advanceOwnMarkers.run(seq, seq, ck, uk);
    return outcomes;
  }

  /** Logs a marker move: into the latest row if its window is still open, else a new row. */
  private logMove(ck: number, uk: number, type: 0 | 1, seq: number, at: number): void {
    const last = this.s.lastMove.get(ck, uk, type) as { seq: number; opened_at: number } | undefined;
    if (last && at - last.opened_at < MOVE_WINDOW_MS) {
      this.s.extendMove.run(seq, at, ck, uk, type, last.seq);
      return;
    }
    this.s.insertMove.run(ck, uk, type, seq, at, at);
    if ((this.s.countMoves.get(ck, uk, type) as number) > MOVES_KEPT) this.compactMoves(ck, uk, type);
  }

  /**
   * Keeps the log at MOVES_KEPT rows by merging the two neighbouring rows
   * closest in time (the later one absorbs the earlier): the error this adds
   * to `at` is that smallest gap, so recent and dense moves stay exact and old
   * ones lose precision in proportion to their age, not all at once.
   */
  private compactMoves(ck: number, uk: number, type: 0 | 1): void {
    const rows = this.s.allMoves.all(ck, uk, type) as { seq: number; at: number; opened_at: number }[];
    let best = 0;
    for (let i = 1; i < rows.length - 1; i++) {
      if (rows[i + 1]!.at - rows[i]!.at < rows[best + 1]!.at - rows[best]!.at) best = i;
    }
    const [earlier, later] = [rows[best]!, rows[best + 1]!];
    this.s.deleteMove.run(ck, uk, type, earlier.seq);
    this.s.setMoveOpened.run(earlier.opened_at, ck, uk, type, later.seq);
  }

  /** Runs inside the markers transaction. */
  private applyMarkerMove(m: MarkerMove): MarkerOutcome {
    const ck = decodeId('c', m.conversationId);
    const uk = decodeId('u', m.userId);
    if (ck === null || uk === null) return { kind: 'not_member' };
    const member = this.s.memberMarkers.get(ck, uk) as { delivered_seq: number; read_seq: number; last_seq: number } | undefined;
    if (!member) return { kind: 'not_member' };
    const outcome = nextMarkers(member, m);
    if (outcome.kind !== 'moved') return outcome;
    this.s.setMarkers.run(outcome.deliveredSeq, outcome.readSeq, ck, uk);
    for (const mv of outcome.moved) this.logMove(ck, uk, MARKER_CODE[mv.type], mv.seq, m.at);
    return outcome;
  }

  async advanceMarkers(batch: readonly MarkerMove[]): Promise<MarkerOutcome[]> {
    if (batch.length === 0) return [];
    if (this.writesHeld) await this.writable();
    return this.markersTx.immediate(batch);
  }

  async markerTimes(conversationId: string, seq: number, userIds: readonly string[]): Promise<MarkerTimes> {
    const out: MarkerTimes = { delivered: [], read: [] };
    const ck = decodeId('c', conversationId);
    if (ck === null) return out;
    for (const userId of userIds) {
      const uk = decodeId('u', userId);
      if (uk === null) continue;
      const member = this.s.memberMarkers.get(ck, uk) as { delivered_seq: number; read_seq: number } | undefined;
      if (!member) continue;
      for (const type of ['delivered', 'read'] as const) {
        if ((type === 'read' ? member.read_seq : member.delivered_seq) < seq) continue;
        // Reached by a receipt (the log), or by sending a later message: the
        // earlier of the two. A message sent after the logged move cannot
        // count (the marker was already past), so only seqs up to it are looked at.
        const row = this.s.moveReaching.get(ck, uk, MARKER_CODE[type], seq) as { seq: number; at: number } | undefined;
        const own = this.s.ownMessageReaching.get({ c: ck, u: uk, from: seq, to: row?.seq ?? Number.MAX_SAFE_INTEGER }) as
          | { created_at: number }
          | undefined;
        const at = Math.min(row?.at ?? Infinity, own?.created_at ?? Infinity);
        if (at !== Infinity) out[type].push({ userId, at });
      }
    }
    return out;
  }

  async contactsOf(userId: string): Promise<string[]> {
    const uk = decodeId('u', userId);
    if (uk === null) return [];
    return (this.s.contactsOf.all(uk, uk) as { user_id: number }[]).map((r) => encodeId('u', r.user_id));
  }

  async conversationRevs(userId: string): Promise<{ conversationId: string; lastRev: number }[]> {
    const uk = decodeId('u', userId);
    if (uk === null) return [];
    return (this.s.conversationRevs.all(uk) as { id: number; last_rev: number }[]).map((r) => ({
      conversationId: encodeId('c', r.id),
      lastRev: r.last_rev,
    }));
  }

  async messageById(id: string): Promise<MessageRecord | null> {
    const k = decodeId('m', id);
    if (k === null) return null;
    const row = this.s.messageById.get(k) as MessageRow | undefined;
    return row ? this.record(row) : null;
  }

  /** Message rows to records, with their replies' quotes read as they are now (one query). */
  private records(rows: readonly MessageRow[]): MessageRecord[] {
    const wanted = replyTargetKeys(rows);
    if (wanted.length === 0) return rows.map((r) => toMessage(r));
    const targets = new Map((this.s.replyTargets.all(JSON.stringify(wanted)) as ReplyTargetRow[]).map((t) => [t.id, t]));
    return rows.map((r) => toMessage(r, targets));
  }

  private record(row: MessageRow): MessageRecord {
    return this.records([row])[0]!;
  }

  async changesSince(conversationId: string, afterRev: number, limit: number): Promise<MessageRecord[]> {
    const ck = decodeId('c', conversationId);
    if (ck === null) return [];
    return this.records(this.s.changesSince.all(ck, afterRev, limit) as MessageRow[]);
  }

  async changeMessages(batch: readonly MessageChange[]): Promise<ChangeOutcome[]> {
    if (batch.length === 0) return [];
    if (this.writesHeld) await this.writable();
    this.changedText = false;
    const outcomes = this.changesTx.immediate(batch);
    // Reactions change no text: only edits and deletions wait for the index.
    if (this.changedText) {
      this.lastOutboxId = Math.max(this.lastOutboxId, this.outboxInTx);
      // Answered once the index forgot the old text; meanwhile (and while
      // the worker is down, when this does not wait) search passes over its
      // postings and reads the message itself (search-plan.ts).
      if (this.indexer.available) await this.indexer.caughtUp(0, this.lastOutboxId, this.opts.changeIndexWaitMs ?? CHANGE_INDEX_WAIT_MS);
    }
    return outcomes;
  }

  /** A conversation's members by lower-cased username, read once per transaction (`cache`). */
  private memberNames(ck: number, cache: Map<number, ReadonlyMap<string, number>>): ReadonlyMap<string, number> {
    let names = cache.get(ck);
    if (!names) {
      const rows = this.s.memberNames.all(ck) as { id: number; username_key: string }[];
      cache.set(ck, (names = new Map(rows.map((r) => [r.username_key, r.id]))));
    }
    return names;
  }

  /** Runs inside the changes transaction. */
  private applyChange(c: MessageChange): ChangeOutcome {
    const mk = decodeId('m', c.messageId);
    const uk = decodeId('u', c.userId);
    if (mk === null || uk === null) return { kind: 'not_found' };
    const row = this.s.messageById.get(mk) as MessageRow | undefined;
    if (!row) return { kind: 'not_found' };
    const member = !!this.s.isMember.get(row.conversation_id, uk);
    if (c.kind === 'react') return member ? this.applyReaction(row, uk, c) : { kind: 'not_member' };
    if (!member) return { kind: 'not_found' };
    if (row.sender_id !== uk) return { kind: 'not_sender' };
    if (row.deleted_at !== null) return c.kind === 'delete' ? { kind: 'unchanged', message: this.record(row) } : { kind: 'deleted' };
    const rev = (this.s.bumpRev.get(row.conversation_id) as { last_rev: number }).last_rev;
    this.outboxInTx = Number(this.s.addToOutbox.run(mk).lastInsertRowid);
    this.changedText = true;
    let updated: MessageRow;
    // Its mentions: gone with a deletion, resolved again at an edit.
    this.s.clearMentions.run(row.conversation_id, row.seq, JSON.stringify(parseMentions(row.mentions)));
    if (c.kind === 'edit') {
      const mentioned = c.mentionNames?.length ? resolveMentions(c.mentionNames, this.memberNames(row.conversation_id, new Map())) : [];
      this.s.setMentions.run(mentionsJson(mentioned), mk);
      for (const k of mentioned) this.s.insertMention.run(k, row.conversation_id, row.seq);
      updated = this.s.editMessage.get(c.content, c.at, rev, mk) as MessageRow;
    } else {
      // The text is erased from the row, not hidden (the index drops it via the outbox);
      // its files go, their blobs listed for the sweep (AttachmentService).
      this.s.eraseAttachmentsOf.run({ m: mk });
      this.s.deleteAttachmentsOf.run(mk);
      updated = this.s.eraseMessage.get(c.at, rev, mk) as MessageRow;
    }
    return { kind: 'changed', message: this.record(updated) };
  }

  /** A reaction added or removed (rows.ts nextReactions): a rev, nothing for the search index. */
  private applyReaction(row: MessageRow, uk: number, c: Extract<MessageChange, { kind: 'react' }>): ChangeOutcome {
    if (row.deleted_at !== null) return { kind: 'deleted' };
    const next = nextReactions(parseReactions(row.reactions), c.emoji, uk, c.add);
    if (next === 'too_many') return { kind: 'too_many_reactions' };
    if (next.next === null) return { kind: 'unchanged', message: this.record(row) };
    const rev = (this.s.bumpRev.get(row.conversation_id) as { last_rev: number }).last_rev;
    return { kind: 'changed', message: this.record(this.s.setReactions.get(reactionsJson(next.next), rev, row.id) as MessageRow) };
  }

  async search(q: SearchQuery): Promise<SearchHit[]> {
    const uk = decodeId('u', q.userId);
    const ck = q.conversationId === undefined ? undefined : decodeId('c', q.conversationId);
    if (uk === null || ck === null) return [];
    // Terms of 3+ characters match substrings, shorter ones word prefixes;
    // a short term with no letter or digit is left out (search-plan.ts).
    if (!q.terms.some((t) => [...t].length >= 3 || /[\p{L}\p{N}]/u.test(t))) return [];
    // On a reader thread: the event loop only waits. It reads what the
    // index has not taken in yet from the messages (search-plan.ts), so it
    // sees every message committed before it without waiting for the indexer.
    const { rows, stats } = await this.readers.run({ user: uk, conversation: ck ?? null, terms: q.terms, limit: q.limit, plan: this.opts.searchPlan });
    this.opts.onSearch?.(stats);
    const messages = this.records(rows);
    return rows.map((r, i) => ({ message: messages[i]!, score: r.score }));
  }

  async history(conversationId: string, q: HistoryQuery): Promise<HistoryPage> {
    const ck = decodeId('c', conversationId);
    if (ck === null) return { messages: [], hasMore: false };
    // One row more than asked tells whether there is more.
    const n = q.limit + 1;
    let rows: MessageRow[];
    if ('after' in q) {
      rows = this.s.historyAfter.all(ck, q.after, n) as MessageRow[];
      const hasMore = rows.length > q.limit;
      return { messages: this.records(rows.slice(0, q.limit)), hasMore };
    }
    rows = ('before' in q ? this.s.historyBefore.all(ck, q.before, n) : this.s.historyLatest.all(ck, n)) as MessageRow[];
    const hasMore = rows.length > q.limit;
    return { messages: this.records(rows.slice(0, q.limit).reverse()), hasMore };
  }

  async unreadCounts(
    userId: string,
    markers: readonly { conversationId: string; afterSeq: number }[],
  ): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const uk = decodeId('u', userId);
    for (const { conversationId, afterSeq } of markers) {
      const ck = decodeId('c', conversationId);
      const row = uk === null || ck === null ? undefined : (this.s.unreadCount.get({ c: ck, after: afterSeq }) as { n: number } | undefined);
      const n = row?.n ?? 0;
      out.set(conversationId, n);
    }
    return out;
  }

  async createAttachment(a: NewAttachment): Promise<AttachmentRecord> {
    if (this.writesHeld) await this.writable();
    const row = this.s.insertAttachment.get({
      conversation_id: decodeId('c', a.conversationId),
      uploader_id: decodeId('u', a.uploaderId),
      name: a.name,
      mime: a.mime,
      size: a.size,
      width: a.width,
      height: a.height,
      blob_key: a.blobKey,
      thumbnail_key: a.thumbnailKey,
      thumbnail_mime: a.thumbnailMime,
      created_at: a.createdAt,
    }) as AttachmentRow;
    return toAttachment(row);
  }

  async attachmentById(id: string): Promise<AttachmentRecord | null> {
    const k = decodeId('a', id);
    const row = k === null ? undefined : (this.s.attachmentById.get(k) as AttachmentRow | undefined);
    return row ? toAttachment(row) : null;
  }

  async expireUploads(createdBefore: number): Promise<number> {
    if (this.writesHeld) await this.writable();
    return this.db.transaction(() => {
      this.s.eraseUnsent.run({ before: createdBefore });
      return this.s.deleteUnsent.run(createdBefore).changes;
    }).immediate();
  }

  async erasedBlobs(limit: number): Promise<string[]> {
    return this.s.erasedBlobs.all(limit) as string[];
  }

  async forgetErasedBlobs(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    if (this.writesHeld) await this.writable();
    this.s.forgetErased.run(JSON.stringify(keys));
  }

  async unreadMentions(userId: string, markers: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const uk = decodeId('u', userId);
    for (const { conversationId, afterSeq } of markers) {
      const ck = decodeId('c', conversationId);
      out.set(conversationId, uk === null || ck === null ? 0 : (this.s.unreadMentions.pluck().get(uk, ck, afterSeq) as number));
    }
    return out;
  }

  async lastMessages(conversations: readonly ConversationRecord[]): Promise<Map<string, MessageRecord>> {
    const out = new Map<string, MessageRecord>();
    for (const c of conversations) {
      if (c.lastSeq === 0) continue;
      const row = this.s.messageBySeq.get(decodeId('c', c.id), c.lastSeq) as MessageRow | undefined;
      if (row) out.set(c.id, this.record(row));
    }
    return out;
  }
}
