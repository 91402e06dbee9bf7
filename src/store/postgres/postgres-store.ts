/**
 * The Store on PostgreSQL, for several nodes sharing one database. Every
 * promise of store.ts holds with many writers:
 * - seq and rev come from the conversation row, locked (FOR UPDATE) by the
 *   batch's transaction; a batch locks all its conversation rows in one
 *   statement, in id order, and every other writer that locks more than one
 *   row does the same (conversations by id, members by (conversation, user)),
 *   so two nodes' transactions never wait on each other in a cycle;
 * - ids come from identity columns and ticks from a sequence, never from a
 *   process's memory;
 * - a batch of sends is one transaction of a fixed number of multi-row
 *   statements; synchronous_commit stays on: the promise resolves after COMMIT.
 */
import type pg from 'pg';
import { decodeId, encodeId } from '../ids.js';
import {
  notificationRows,
  toNotificationJob,
  type NotificationJobRow,
  toPushSubscription,
  type PushSubscriptionRow,
  notifyLevelCode,
  ATTACHMENT_COLS,
  attachmentNames,
  attachmentsJson,
  keys,
  MARKER_CODE,
  mentionsJson,
  nextMarkers,
  nextReactions,
  parseMentions,
  parseReactions,
  pickAttachments,
  reactionsJson,
  replyTargetKeys,
  resolveMentions,
  toAttachment,
  toConversation,
  toListItem,
  toMember,
  toMessage,
  toUser,
  type AttachmentRow,
  type ConversationRow,
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
  type ChangeOutcome,
  type ConversationListItem,
  type ConversationListQuery,
  type ConversationRecord,
  type HistoryPage,
  type HistoryQuery,
  type MarkerMove,
  type MarkerOutcome,
  type MarkerTimes,
  type MemberRecord,
  type NewNotification,
  type NotificationJob,
  type NotificationClaim,
  type NewPushSubscription,
  type PushSubscriptionRecord,
  type NotifyLevel,
  type MessageChange,
  type MessageRecord,
  type NewAttachment,
  type NewConversation,
  type NewMessage,
  type NewSession,
  type NewUser,
  type SearchHit,
  type SearchQuery,
  type Store,
  type UserRecord,
} from '../store.js';
import { CommitUnknown, createPool, query, transaction } from './database.js';
import { MarkerLog } from './marker-log.js';
import { MIGRATIONS } from './migrations.js';
import { conditionsFrom, sampleConditions, sampleStatement, SCOPE_SCAN_MAX, searchColumns, searchConditions, searchStatement } from './search-query.js';
import { fromDbText, toDbText } from './text.js';

/**
 * A message row as stored here (see text.ts) to its record; `targets`: the
 * messages replied to, their content already unescaped (replyTargets).
 */
const toMessageRecord = (r: MessageRow, targets?: ReadonlyMap<number, ReplyTargetRow>): MessageRecord =>
  toMessage({ ...r, content: fromDbText(r.content), client_id: fromDbText(r.client_id) }, targets);

/** An attachment row as stored here (its name escaped, see text.ts) as both stores read it. */
const readAttachmentRow = (r: AttachmentRow): AttachmentRow => ({ ...r, name: fromDbText(r.name) });

/** What reading a reply's target also tells: its conversation (a reply must be of the same one). */
type TargetRow = ReplyTargetRow & { conversation_id: number };

/** A change's outcome before its message is read out (the quotes of a batch are read at once). */
type AppliedChange = Exclude<ChangeOutcome, { message: MessageRecord }> | { kind: 'changed' | 'unchanged'; row: MessageRow };

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Most connections this node opens (default 10). */
  poolSize?: number;
  /** Told of errors of idle connections (default: stderr). */
  onError?: (err: Error) => void;
  /** Search reads the caller's messages when they hold at most this many (default SCOPE_SCAN_MAX; -1: never, tests). */
  searchScopeMax?: number;
  /** Told which side each search took and why (search-query.ts): for tests. */
  onSearch?: (s: PostgresSearchStats) => void;
}

/** What one search did on PostgreSQL. */
export interface PostgresSearchStats {
  side: 'index' | 'scope';
  /** Messages the caller's conversations hold. */
  held: number;
  /** Rows the index side would hand over, judged from the newest messages (null: not judged). */
  expected: number | null;
}

const USER_COLS = 'id, username, display_name, password_hash, created_at, last_seen_at, notification_previews';
const CONV_COLS = 'id, type, title, owner_id, last_seq, last_rev, created_at, last_activity_at, activity';
const MEMBER_COLS = 'conversation_id, user_id, joined_at, delivered_seq, read_seq, archived, notify_level, muted_until';
const MSG_COLS =
  'id, conversation_id, seq, rev, sender_id, content, client_id, created_at, edited_at, deleted_at, reply_to_id, mentions, reactions, attachments';
const M_MSG_COLS = MSG_COLS.split(', ').map((c) => `m.${c}`).join(', ');

/** The highest code point: `p || MAX` bounds every string that starts with p. */
const PREFIX_END = String.fromCodePoint(0x10ffff);
/** The advisory lock key that serialises migrations (any constant of our own). */
const MIGRATION_LOCK = 0x7061726c; // 'parl'


type Db = pg.Pool | pg.PoolClient;

export class PostgresStore implements Store {
  readonly pool: pg.Pool;
  private readonly markers = new MarkerLog();

  private constructor(private readonly opts: PostgresStoreOptions) {
    this.pool = createPool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      onError: opts.onError ?? ((err) => process.stderr.write(`postgres: ${err.message}\n`)),
    });
  }

  /** Connects and brings the schema up to date (waiting for another node that migrates). */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(opts);
    try {
      await store.migrate();
    } catch (e) {
      await store.pool.end();
      throw e;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        `CREATE TABLE IF NOT EXISTS parley_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM parley_migrations');
      const current = rows[0]?.v ?? 0;
      const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
      if (current > latest) throw new Error(`database schema version ${current} is newer than this build knows (${latest})`);
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO parley_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK');
          throw e;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      client.release();
    }
  }

  private tx<T>(body: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return transaction(this.pool, body);
  }

  /**
   * A statement's rows. Through the pool (no transaction), a read, or a
   * write that may be repeated (`repeatable`), is tried again on a transient
   * failure; other writes are not (their first try may have been applied).
   */
  private async rows<R extends pg.QueryResultRow>(db: Db, sql: string, params: unknown[] = [], repeatable = false): Promise<R[]> {
    if (db === this.pool && (repeatable || /^\s*(SELECT|WITH)\b/i.test(sql))) return (await query<R>(this.pool, sql, params)).rows;
    return (await db.query<R>(sql, params)).rows;
  }

  private async row<R extends pg.QueryResultRow>(db: Db, sql: string, params: unknown[] = [], repeatable = false): Promise<R | undefined> {
    return (await this.rows<R>(db, sql, params, repeatable))[0];
  }

  /**
   * The messages with these keys, as a reply quotes them (content
   * unescaped), with their conversation: one statement, none for no keys.
   */
  private async replyTargets(db: Db, ks: readonly number[]): Promise<Map<number, TargetRow>> {
    if (ks.length === 0) return new Map();
    const rows = await this.rows<TargetRow>(
      db,
      'SELECT id, conversation_id, seq, sender_id, content, deleted_at FROM messages WHERE id = ANY($1::bigint[])',
      [ks],
    );
    return new Map(rows.map((r) => [r.id, { ...r, content: fromDbText(r.content) }]));
  }

  /** Message rows to records, the replies quoting their targets as they are now: one more statement at most. */
  private async toRecords(db: Db, rows: readonly MessageRow[]): Promise<MessageRecord[]> {
    const targets = await this.replyTargets(db, replyTargetKeys(rows));
    return rows.map((r) => toMessageRecord(r, targets));
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** Search reads the table itself: nothing is ever waiting to be indexed. */
  indexLag(): number {
    return 0;
  }

  // ---- users ----------------------------------------------------------------
  async createUser(u: NewUser): Promise<UserRecord> {
    try {
      const row = await this.row<UserRow>(
        this.pool,
        `INSERT INTO users (username, username_key, display_name, display_key, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${USER_COLS}`,
        [u.username, u.username.toLowerCase(), u.displayName, u.displayName.toLowerCase(), u.passwordHash, u.createdAt],
      );
      return toUser(row as UserRow);
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new UniqueViolation('username');
      throw e;
    }
  }

  async userById(id: string): Promise<UserRecord | null> {
    const k = decodeId('u', id);
    if (k === null) return null;
    const row = await this.row<UserRow>(this.pool, `SELECT ${USER_COLS} FROM users WHERE id = $1`, [k]);
    return row ? toUser(row) : null;
  }

  async usersByIds(ids: readonly string[]): Promise<UserRecord[]> {
    const ks = keys('u', ids);
    if (ks.length === 0) return [];
    return (await this.rows<UserRow>(this.pool, `SELECT ${USER_COLS} FROM users WHERE id = ANY($1::bigint[])`, [ks])).map(toUser);
  }

  async userByUsername(username: string): Promise<UserRecord | null> {
    // (No name holds U+0000, which PostgreSQL's text cannot even compare.)
    if (username.includes('\u0000')) return null;
    const row = await this.row<UserRow>(this.pool, `SELECT ${USER_COLS} FROM users WHERE username_key = $1`, [username.toLowerCase()]);
    return row ? toUser(row) : null;
  }

  async searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    const p = prefix.toLowerCase();
    if (p.includes('\u0000')) return [];
    const rows = await this.rows<UserRow>(
      this.pool,
      `SELECT ${USER_COLS} FROM users WHERE id IN (
         SELECT id FROM users WHERE username_key >= $1 AND username_key < $2
         UNION SELECT id FROM users WHERE display_key >= $1 AND display_key < $2)
       ORDER BY username_key LIMIT $3`,
      [p, p + PREFIX_END, limit],
    );
    return rows.map(toUser);
  }

  async setNotificationPreviews(id: string, previews: boolean): Promise<UserRecord | null> {
    const k = decodeId('u', id);
    if (k === null) return null;
    const row = await this.row<UserRow>(this.pool, `UPDATE users SET notification_previews = $1 WHERE id = $2 RETURNING ${USER_COLS}`, [previews ? 1 : 0, k]);
    return row ? toUser(row) : null;
  }

  /**
   * A key every node must share (VAPID), made once: the first node to ask
   * stores what `make` gives; every node, then and later, reads that one.
   */
  async sharedKey(name: string, make: () => string): Promise<string> {
    await query(this.pool, 'INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, make()]);
    const row = await this.row<{ value: string }>(this.pool, 'SELECT value FROM server_keys WHERE name = $1', [name]);
    if (!row) throw new Error(`server key ${name} is missing`);
    return row.value;
  }

  // ---- notification queue -----------------------------------------------------
  async enqueueNotifications(entries: readonly NewNotification[]): Promise<void> {
    const rows = notificationRows(entries);
    if (rows.length === 0) return;
    const insert = (part: typeof rows, conflict: string) =>
      part.length === 0
        ? Promise.resolve()
        : query(
            this.pool,
            `INSERT INTO notification_jobs (recipient_id, conversation_id, channel, first_seq, last_seq, due_at, direct)
             SELECT r, c, ch, seq, seq, due, d FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bigint[], $5::bigint[], $6::smallint[]) AS v(r, c, ch, seq, due, d)
             ${conflict}`,
            [part.map((r) => r.r), part.map((r) => r.c), part.map((r) => r.ch), part.map((r) => r.seq), part.map((r) => r.due), part.map((r) => r.direct)],
          );
    // (One row per key: ON CONFLICT cannot touch a row twice in one statement.)
    await insert(
      rows.filter((r) => r.ch === 1),
      `ON CONFLICT (recipient_id, conversation_id) WHERE channel = 1
       DO UPDATE SET last_seq = greatest(notification_jobs.last_seq, excluded.last_seq), first_seq = least(notification_jobs.first_seq, excluded.first_seq)`,
    );
    await insert(
      rows.filter((r) => r.ch === 0),
      'ON CONFLICT (recipient_id, conversation_id, first_seq) WHERE channel = 0 DO NOTHING',
    );
  }

  async claimNotifications(now: number, limit: number, leaseMs: number): Promise<NotificationJob[]> {
    const claimed: NotificationJobRow[] = [];
    // Each claim locks its rows (SKIP LOCKED: nodes claiming at once take different jobs) and leases them.
    const take = async (direct: number, n: number) => {
      if (n <= 0) return;
      const rows = await this.rows<NotificationJobRow>(
        this.pool,
        `UPDATE notification_jobs j SET claimed_until = $1
         FROM (SELECT id FROM notification_jobs
               WHERE direct = $2 AND due_at <= $3 AND (claimed_until IS NULL OR claimed_until < $3)
               ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) k
         WHERE j.id = k.id
         RETURNING j.*`,
        [now + leaseMs, direct, now, n],
      );
      claimed.push(...rows);
    };
    // Direct conversations first, a quarter kept for groups, then groups fill the rest.
    await take(1, limit - Math.floor(limit / 4));
    await take(0, limit - claimed.length);
    return claimed.map(toNotificationJob);
  }

  async finishNotification(claim: NotificationClaim, throughSeq: number, nextDueAt: number): Promise<void> {
    const id = decodeId('n', claim.id);
    if (id === null) return;
    await this.tx(async (db) => {
      const gone = await db.query('DELETE FROM notification_jobs WHERE id = $1 AND claimed_until = $2 AND last_seq <= $3', [id, claim.claimedUntil, throughSeq]);
      if (gone.rowCount === 0) {
        await db.query(
          `UPDATE notification_jobs SET first_seq = $3 + 1, due_at = $4, claimed_until = NULL, attempts = 0
           WHERE id = $1 AND claimed_until = $2`,
          [id, claim.claimedUntil, throughSeq, nextDueAt],
        );
      }
    });
  }

  async retryNotification(claim: NotificationClaim, fromSeq: number, dueAt: number): Promise<void> {
    const id = decodeId('n', claim.id);
    if (id === null) return;
    await query(
      this.pool,
      `UPDATE notification_jobs SET first_seq = $3, due_at = $4, claimed_until = NULL, attempts = attempts + 1
       WHERE id = $1 AND claimed_until = $2`,
      [id, claim.claimedUntil, fromSeq, dueAt],
    );
  }

  async notificationBacklog(): Promise<number> {
    const row = await this.row<{ n: number }>(this.pool, 'SELECT count(*)::bigint AS n FROM notification_jobs', []);
    return Number(row?.n ?? 0);
  }

  // ---- push subscriptions -----------------------------------------------------
  async savePushSubscription(s: NewPushSubscription, maxPerUser: number): Promise<PushSubscriptionRecord> {
    const uk = decodeId('u', s.userId);
    const sk = decodeId('s', s.sessionId);
    if (uk === null || sk === null) throw new Error('savePushSubscription: not a user or session id');
    return this.tx(async (db) => {
      const row = await this.row<PushSubscriptionRow>(
        db,
        `INSERT INTO push_subscriptions (user_id, session_id, endpoint, p256dh, auth, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, session_id = excluded.session_id, p256dh = excluded.p256dh,
                                              auth = excluded.auth, created_at = excluded.created_at
         RETURNING *`,
        [uk, sk, s.endpoint, s.p256dh, s.auth, s.createdAt],
      );
      await db.query(
        `DELETE FROM push_subscriptions WHERE user_id = $1 AND id NOT IN (
           SELECT id FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2)`,
        [uk, maxPerUser],
      );
      return toPushSubscription(row as PushSubscriptionRow);
    });
  }

  async deletePushSubscription(userId: string, endpoint: string): Promise<boolean> {
    const uk = decodeId('u', userId);
    if (uk === null) return false;
    const r = await query(this.pool, 'DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2', [uk, endpoint]);
    return r.rowCount === 1;
  }

  async forgetPushEndpoint(endpoint: string): Promise<boolean> {
    const r = await query(this.pool, 'DELETE FROM push_subscriptions WHERE endpoint = $1', [endpoint]);
    return r.rowCount === 1;
  }

  async pushSubscriptionsOf(userIds: readonly string[], now: number): Promise<PushSubscriptionRecord[]> {
    const keys = userIds.map((id) => decodeId('u', id)).filter((k): k is number => k !== null);
    if (keys.length === 0) return [];
    const rows = await this.rows<PushSubscriptionRow>(
      this.pool,
      `SELECT p.* FROM push_subscriptions p JOIN sessions s ON s.id = p.session_id
       WHERE p.user_id = ANY($1::bigint[]) AND s.revoked_at IS NULL AND s.expires_at > $2
       ORDER BY p.user_id, p.id`,
      [keys, now],
    );
    return rows.map(toPushSubscription);
  }

  async updateDisplayName(id: string, displayName: string): Promise<UserRecord | null> {
    const k = decodeId('u', id);
    if (k === null) return null;
    const row = await this.row<UserRow>(
      this.pool,
      `UPDATE users SET display_name = $1, display_key = $2 WHERE id = $3 RETURNING ${USER_COLS}`,
      [displayName, displayName.toLowerCase(), k],
    );
    return row ? toUser(row) : null;
  }

  // ---- sessions ---------------------------------------------------------------
  async createSession(s: NewSession): Promise<string> {
    const uk = decodeId('u', s.userId);
    if (uk === null) throw new Error('createSession: invalid user id');
    // FOR SHARE on the user's row: a password change (which updates that row,
    // then revokes the other sessions) is ordered entirely before or after
    // this insert, never around it, so a login checked against the old
    // password either sees the new hash afterwards or is revoked by the change.
    const row = await this.row<{ id: number }>(
      this.pool,
      `WITH u AS (SELECT id FROM users WHERE id = $1 FOR SHARE)
       INSERT INTO sessions (user_id, created_at, expires_at) SELECT u.id, $2, $3 FROM u RETURNING id`,
      [uk, s.createdAt, s.expiresAt],
    );
    if (!row) throw new Error('createSession: no such user');
    return encodeId('s', row.id);
  }

  async sessionUser(sessionId: string): Promise<UserRecord | null> {
    const k = decodeId('s', sessionId);
    if (k === null) return null;
    const row = await this.row<UserRow>(
      this.pool,
      `SELECT ${USER_COLS.split(', ').map((c) => `u.${c}`).join(', ')} FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE s.id = $1 AND s.revoked_at IS NULL`,
      [k],
    );
    return row ? toUser(row) : null;
  }

  async revokeSession(sessionId: string, at: number): Promise<boolean> {
    const k = decodeId('s', sessionId);
    if (k === null) return false;
    const r = await query(this.pool, 'UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, k]);
    return r.rowCount === 1;
  }

  /** Identity ids are never reused, so any expired row may go. */
  async pruneSessions(expiredBefore: number): Promise<number> {
    const r = await query(this.pool, 'DELETE FROM sessions WHERE expires_at < $1', [expiredBefore]);
    return r.rowCount ?? 0;
  }

  async changePassword(userId: string, passwordHash: string, keepSessionId: string, at: number): Promise<string[]> {
    const uk = decodeId('u', userId);
    if (uk === null) return [];
    const keep = decodeId('s', keepSessionId) ?? 0;
    return this.tx(async (db) => {
      await db.query('UPDATE users SET password_hash = $1 WHERE id = $2', [passwordHash, uk]);
      const revoked = await this.rows<{ id: number }>(
        db,
        'UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL RETURNING id',
        [at, uk, keep],
      );
      return revoked.map((r) => encodeId('s', r.id));
    });
  }

  async setLastSeen(entries: readonly { userId: string; at: number }[]): Promise<void> {
    const byUser = new Map<number, number>();
    for (const { userId, at } of entries) {
      const k = decodeId('u', userId);
      if (k !== null) byUser.set(k, at);
    }
    if (byUser.size === 0) return;
    // One statement; rows in id order (the lock order of users).
    const ks = [...byUser.keys()].sort((a, b) => a - b);
    await query(
      this.pool,
      `UPDATE users SET last_seen_at = v.at FROM unnest($1::bigint[], $2::bigint[]) AS v(id, at) WHERE users.id = v.id`,
      [ks, ks.map((k) => byUser.get(k))],
    );
  }

  // ---- conversations --------------------------------------------------------
  async createConversation(c: NewConversation): Promise<{ conversation: ConversationRecord; created: boolean }> {
    const memberKeys = keys('u', c.memberIds);
    if (memberKeys.length !== c.memberIds.length) throw new Error('createConversation: invalid member id');
    const ownerKey = c.ownerId === null ? null : decodeId('u', c.ownerId);
    const directKey = c.type === 'direct' ? [...memberKeys].sort((a, b) => a - b).join(':') : null;
    return this.tx(async (db) => {
      // Ticks: one for the conversation's activity, then one per member in list order.
      const ticks = await this.ticks(db, 1 + memberKeys.length);
      const row = await this.row<ConversationRow>(
        db,
        `INSERT INTO conversations (type, title, owner_id, direct_key, created_at, last_activity_at, activity)
         VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (direct_key) DO NOTHING RETURNING ${CONV_COLS}`,
        [c.type, c.title, ownerKey, directKey, c.createdAt, ticks[0]],
      );
      if (!row) {
        // The pair's conversation exists (perhaps committed by another node a moment ago).
        const existing = await this.row<ConversationRow>(db, `SELECT ${CONV_COLS} FROM conversations WHERE direct_key = $1`, [directKey]);
        return { conversation: toConversation(existing as ConversationRow), created: false };
      }
      await db.query(
        `INSERT INTO members (conversation_id, user_id, joined_at, joined_tick)
         SELECT $1, u, $2, t FROM unnest($3::bigint[], $4::bigint[]) AS v(u, t)`,
        [row.id, c.createdAt, memberKeys, ticks.slice(1)],
      );
      return { conversation: toConversation(row), created: true };
    });
  }

  /** n ticks from the shared sequence, ascending. */
  private async ticks(db: Db, n: number): Promise<number[]> {
    const rows = await this.rows<{ t: number }>(db, `SELECT nextval('ticks') AS t FROM generate_series(1, $1)`, [n]);
    return rows.map((r) => r.t).sort((a, b) => a - b);
  }

  async conversationById(id: string): Promise<ConversationRecord | null> {
    const k = decodeId('c', id);
    if (k === null) return null;
    const row = await this.row<ConversationRow>(this.pool, `SELECT ${CONV_COLS} FROM conversations WHERE id = $1`, [k]);
    return row ? toConversation(row) : null;
  }

  async conversationsByIds(ids: readonly string[]): Promise<ConversationRecord[]> {
    const ks = keys('c', ids);
    if (ks.length === 0) return [];
    const rows = await this.rows<ConversationRow>(this.pool, `SELECT ${CONV_COLS} FROM conversations WHERE id = ANY($1::bigint[])`, [ks]);
    return rows.map(toConversation);
  }

  async members(conversationId: string): Promise<MemberRecord[]> {
    const k = decodeId('c', conversationId);
    if (k === null) return [];
    const rows = await this.rows<MemberRow>(this.pool, `SELECT ${MEMBER_COLS} FROM members WHERE conversation_id = $1 ORDER BY joined_tick`, [k]);
    return rows.map(toMember);
  }

  async membersOf(conversationIds: readonly string[]): Promise<MemberRecord[]> {
    const ks = keys('c', conversationIds);
    if (ks.length === 0) return [];
    const rows = await this.rows<MemberRow>(
      this.pool,
      `SELECT ${MEMBER_COLS} FROM members WHERE conversation_id = ANY($1::bigint[]) ORDER BY conversation_id, joined_tick`,
      [ks],
    );
    return rows.map(toMember);
  }

  async membership(conversationId: string, userId: string): Promise<MemberRecord | null> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return null;
    const row = await this.row<MemberRow>(this.pool, `SELECT ${MEMBER_COLS} FROM members WHERE conversation_id = $1 AND user_id = $2`, [ck, uk]);
    return row ? toMember(row) : null;
  }

  async listConversations(q: ConversationListQuery): Promise<ConversationListItem[]> {
    const uk = decodeId('u', q.userId);
    if (uk === null) return [];
    const rows = await this.rows<ListRow>(
      this.pool,
      `SELECT c.id, c.type, c.title, c.owner_id, c.last_seq, c.last_rev, c.created_at, c.last_activity_at, c.activity,
              m.joined_at AS m_joined_at, m.delivered_seq AS m_delivered_seq, m.read_seq AS m_read_seq, m.archived AS m_archived,
              m.notify_level AS m_notify_level, m.muted_until AS m_muted_until
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = $1 AND m.archived = $2 AND c.activity < $3
       ORDER BY c.activity DESC LIMIT $4`,
      [uk, q.archived ? 1 : 0, q.before ?? Number.MAX_SAFE_INTEGER, q.limit],
    );
    return rows.map((r) => toListItem(r, q.userId));
  }

  async updateTitle(conversationId: string, title: string): Promise<ConversationRecord | null> {
    const k = decodeId('c', conversationId);
    if (k === null) return null;
    const row = await this.row<ConversationRow>(this.pool, `UPDATE conversations SET title = $1 WHERE id = $2 RETURNING ${CONV_COLS}`, [title, k], true);
    return row ? toConversation(row) : null;
  }

  /** Locks a conversation's row for the transaction (membership writes and sends serialise on it). */
  private lockConversation(db: Db, ck: number): Promise<ConversationRow | undefined> {
    return this.row<ConversationRow>(db, `SELECT ${CONV_COLS} FROM conversations WHERE id = $1 FOR UPDATE`, [ck]);
  }

  async addMember(conversationId: string, userId: string, at: number): Promise<boolean> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return false;
    return this.tx(async (db) => {
      const conversation = await this.lockConversation(db, ck);
      if (!conversation || !(await this.row(db, 'SELECT 1 FROM users WHERE id = $1', [uk]))) return false;
      const [tick] = await this.ticks(db, 1);
      // A newcomer starts level: the history before they joined is not unread
      // for them, and its status does not fall back for everyone else.
      const seq = conversation.last_seq;
      const inserted = await db.query(
        `INSERT INTO members (conversation_id, user_id, joined_at, joined_tick, delivered_seq, read_seq)
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`,
        [ck, uk, at, tick, seq],
      );
      if (inserted.rowCount !== 1) return false;
      if (seq > 0) {
        await this.markers.log(db, ck, uk, 0, seq, at);
        await this.markers.log(db, ck, uk, 1, seq, at);
      }
      return true;
    });
  }

  async removeMember(conversationId: string, userId: string): Promise<boolean> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return false;
    return this.tx(async (db) => {
      // After this lock no send of the conversation is between its membership
      // check and its commit: the removed member receives nothing sent after.
      if (!(await this.lockConversation(db, ck))) return false;
      const deleted = await db.query('DELETE FROM members WHERE conversation_id = $1 AND user_id = $2', [ck, uk]);
      if (deleted.rowCount !== 1) return false;
      await db.query('DELETE FROM marker_moves WHERE conversation_id = $1 AND user_id = $2', [ck, uk]);
      // The longest-standing remaining member inherits the group (or nobody).
      await db.query(
        `UPDATE conversations SET owner_id = (
           SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY joined_tick LIMIT 1)
         WHERE id = $1 AND owner_id = $2`,
        [ck, uk],
      );
      return true;
    });
  }

  async setArchived(conversationId: string, userId: string, archived: boolean): Promise<boolean> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return false;
    const r = await query(this.pool, 'UPDATE members SET archived = $1 WHERE conversation_id = $2 AND user_id = $3', [archived ? 1 : 0, ck, uk]);
    return r.rowCount === 1;
  }

  async setNotifications(conversationId: string, userId: string, level: NotifyLevel, mutedUntil: number | null): Promise<boolean> {
    const ck = decodeId('c', conversationId);
    const uk = decodeId('u', userId);
    if (ck === null || uk === null) return false;
    const r = await query(this.pool, 'UPDATE members SET notify_level = $1, muted_until = $2 WHERE conversation_id = $3 AND user_id = $4', [
      notifyLevelCode(level),
      mutedUntil,
      ck,
      uk,
    ]);
    return r.rowCount === 1;
  }

  async quietMembers(conversationId: string): Promise<MemberRecord[]> {
    const ck = decodeId('c', conversationId);
    if (ck === null) return [];
    const rows = await this.rows<MemberRow>(
      this.pool,
      `SELECT ${MEMBER_COLS} FROM members WHERE conversation_id = $1 AND (notify_level <> 0 OR muted_until IS NOT NULL)`,
      [ck],
    );
    return rows.map(toMember);
  }

  async contactsOf(userId: string): Promise<string[]> {
    const uk = decodeId('u', userId);
    if (uk === null) return [];
    const rows = await this.rows<{ user_id: number }>(
      this.pool,
      `SELECT DISTINCT other.user_id FROM members mine JOIN members other ON other.conversation_id = mine.conversation_id
       WHERE mine.user_id = $1 AND other.user_id <> $1`,
      [uk],
    );
    return rows.map((r) => encodeId('u', r.user_id));
  }

  async conversationRevs(userId: string): Promise<{ conversationId: string; lastRev: number }[]> {
    const uk = decodeId('u', userId);
    if (uk === null) return [];
    const rows = await this.rows<{ id: number; last_rev: number }>(
      this.pool,
      'SELECT c.id, c.last_rev FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = $1',
      [uk],
    );
    return rows.map((r) => ({ conversationId: encodeId('c', r.id), lastRev: r.last_rev }));
  }

  // ---- markers --------------------------------------------------------------
  async advanceMarkers(batch: readonly MarkerMove[]): Promise<MarkerOutcome[]> {
    if (batch.length === 0) return [];
    const parsed = batch.map((m) => ({ m, ck: decodeId('c', m.conversationId), uk: decodeId('u', m.userId) }));
    const pairs = parsed.filter((p): p is typeof p & { ck: number; uk: number } => p.ck !== null && p.uk !== null);
    return this.tx(async (db) => {
      // Every member row of the batch, locked in one statement in key order.
      const rows = pairs.length
        ? await this.rows<{ conversation_id: number; user_id: number; delivered_seq: number; read_seq: number; last_seq: number }>(
            db,
            `SELECT m.conversation_id, m.user_id, m.delivered_seq, m.read_seq, c.last_seq
             FROM members m JOIN conversations c ON c.id = m.conversation_id
             WHERE (m.conversation_id, m.user_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))
             ORDER BY m.conversation_id, m.user_id FOR UPDATE OF m`,
            [pairs.map((p) => p.ck), pairs.map((p) => p.uk)],
          )
        : [];
      const state = new Map(rows.map((r) => [`${r.conversation_id}:${r.user_id}`, { ...r }]));
      const outcomes: MarkerOutcome[] = [];
      for (const { m, ck, uk } of parsed) {
        const member = ck === null || uk === null ? undefined : state.get(`${ck}:${uk}`);
        if (!member || ck === null || uk === null) {
          outcomes.push({ kind: 'not_member' });
          continue;
        }
        const outcome = nextMarkers(member, m);
        outcomes.push(outcome);
        if (outcome.kind !== 'moved') continue;
        const { deliveredSeq, readSeq, moved } = outcome;
        await db.query('UPDATE members SET delivered_seq = $1, read_seq = $2 WHERE conversation_id = $3 AND user_id = $4', [
          deliveredSeq,
          readSeq,
          ck,
          uk,
        ]);
        member.delivered_seq = deliveredSeq;
        member.read_seq = readSeq;
        for (const mv of moved) await this.markers.log(db, ck, uk, MARKER_CODE[mv.type], mv.seq, m.at);
      }
      return outcomes;
    });
  }

  async markerTimes(conversationId: string, seq: number, userIds: readonly string[]): Promise<MarkerTimes> {
    const out: MarkerTimes = { delivered: [], read: [] };
    const ck = decodeId('c', conversationId);
    if (ck === null) return out;
    const wanted = userIds.map((id) => ({ id, uk: decodeId('u', id) })).filter((u): u is { id: string; uk: number } => u.uk !== null);
    if (wanted.length === 0) return out;
    // Per member and marker: the first logged move reaching seq, and the
    // member's first own message at or after seq up to that move (sending
    // moves one's markers too); the earlier of the two.
    const rows = await this.rows<{ user_id: number; type: number; at: number | null }>(
      this.pool,
      `SELECT mb.user_id, t.type,
              LEAST(mv.at, (SELECT created_at FROM messages
                             WHERE conversation_id = $1 AND sender_id = mb.user_id AND seq >= $2
                               AND seq <= coalesce(mv.seq, 9007199254740991)
                             ORDER BY seq LIMIT 1)) AS at
       FROM members mb
       CROSS JOIN (VALUES (0::smallint), (1::smallint)) AS t(type)
       LEFT JOIN LATERAL (SELECT seq, at FROM marker_moves
                          WHERE conversation_id = $1 AND user_id = mb.user_id AND type = t.type AND seq >= $2
                          ORDER BY seq LIMIT 1) mv ON true
       WHERE mb.conversation_id = $1 AND mb.user_id = ANY($3::bigint[])
         AND (CASE WHEN t.type = 1 THEN mb.read_seq ELSE mb.delivered_seq END) >= $2`,
      [ck, seq, wanted.map((u) => u.uk)],
    );
    const at = new Map(rows.filter((r) => r.at !== null).map((r) => [`${r.type}:${r.user_id}`, r.at as number]));
    for (const { id, uk } of wanted) {
      for (const type of ['delivered', 'read'] as const) {
        const t = at.get(`${MARKER_CODE[type]}:${uk}`);
        if (t !== undefined) out[type].push({ userId: id, at: t });
      }
    }
    return out;
  }

  // ---- messages -------------------------------------------------------------
  async appendMessages(batch: readonly NewMessage[]): Promise<AppendOutcome[]> {
    if (batch.length === 0) return [];
    try {
      return await this.tx((db) => this.applyAppend(db, batch));
    } catch (err) {
      if (!(err instanceof CommitUnknown)) throw err;
      // COMMIT's answer was lost. The batch was applied if its first stored
      // message is there (one transaction: all or nothing); answer then as
      // if the commit had answered; otherwise nothing was applied and the
      // error goes to the senders (who may retry).
      const outcomes = err.result as AppendOutcome[] | undefined;
      const first = outcomes?.find((o) => o.kind === 'stored');
      // (If the check cannot be made either, the outcome stays unknown: `internal`, never "not applied".)
      const applied = first?.kind === 'stored' && (await this.messageById(first.message.id).catch(() => null)) !== null;
      if (applied) return outcomes as AppendOutcome[];
      throw err;
    }
  }

  /** One batch, in its transaction: a fixed number of statements whatever its size. */
  private async applyAppend(db: pg.PoolClient, batch: readonly NewMessage[]): Promise<AppendOutcome[]> {
    const items = batch.map((m) => ({ m, ck: decodeId('c', m.conversationId), uk: decodeId('u', m.senderId) }));
    const convKeys = [...new Set(items.flatMap((i) => (i.ck === null || i.uk === null ? [] : [i.ck])))].sort((a, b) => a - b);
    // 1. The conversations' rows, locked in id order; 2. their members, read
    // after the locks (so after any membership change that committed first).
    const counters = new Map<number, { seq: number; rev: number }>();
    // `names`: lower-cased username → key, read only when an item may mention someone.
    const members = new Map<number, { keys: Set<number>; ids: string[]; names: Map<string, number> }>();
    const withNames = batch.some((m) => m.mentionNames?.length);
    if (convKeys.length) {
      const locked = await this.rows<{ id: number; last_seq: number; last_rev: number }>(
        db,
        'SELECT id, last_seq, last_rev FROM conversations WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE',
        [convKeys],
      );
      for (const r of locked) {
        counters.set(r.id, { seq: r.last_seq, rev: r.last_rev });
        members.set(r.id, { keys: new Set(), ids: [], names: new Map() });
      }
      const memberRows = await this.rows<{ conversation_id: number; user_id: number; username_key?: string }>(
        db,
        withNames
          ? `SELECT mb.conversation_id, mb.user_id, u.username_key FROM members mb JOIN users u ON u.id = mb.user_id
             WHERE mb.conversation_id = ANY($1::bigint[]) ORDER BY mb.conversation_id, mb.joined_tick`
          : 'SELECT conversation_id, user_id FROM members WHERE conversation_id = ANY($1::bigint[]) ORDER BY conversation_id, joined_tick',
        [convKeys],
      );
      for (const r of memberRows) {
        const entry = members.get(r.conversation_id);
        entry?.keys.add(r.user_id);
        entry?.ids.push(encodeId('u', r.user_id));
        if (r.username_key !== undefined) entry?.names.set(r.username_key, r.user_id);
      }
    }
    // 3. Messages stored before with the same clientIds (none can be added
    // meanwhile: their conversations are locked).
    const withClientId = items.filter((i) => i.ck !== null && i.uk !== null && i.m.clientId !== null);
    const earlierRows = withClientId.length
      ? await this.rows<MessageRow>(
          db,
          `SELECT ${M_MSG_COLS} FROM messages m
           JOIN unnest($1::bigint[], $2::bigint[], $3::text[]) AS k(c, s, cid)
             ON m.conversation_id = k.c AND m.sender_id = k.s AND m.client_id = k.cid`,
          [withClientId.map((i) => i.ck), withClientId.map((i) => i.uk), withClientId.map((i) => toDbText(i.m.clientId))],
        )
      : [];
    // 3b. In one statement: the messages the items reply to (checked below to
    // be of the item's conversation), and those the earlier messages quote.
    const replyKey = (m: NewMessage): number | null | undefined =>
      m.replyToId === undefined || m.replyToId === null ? undefined : decodeId('m', m.replyToId);
    const targets = await this.replyTargets(db, [
      ...new Set([
        ...items.flatMap((i) => {
          const k = i.ck === null || i.uk === null ? null : replyKey(i.m);
          return k === null || k === undefined ? [] : [k];
        }),
        ...replyTargetKeys(earlierRows),
      ]),
    ]);
    const earlier = new Map<string, MessageRecord>();
    for (const r of earlierRows) earlier.set(`${r.conversation_id}\u0000${r.sender_id}\u0000${fromDbText(r.client_id)}`, toMessageRecord(r, targets));
    // 3c. The uploads the items name, in one statement, locked (in id order,
    // as every writer of attachment rows that locks several does): two
    // batches cannot both take one upload, and one expired meanwhile is gone.
    const wantedFiles = [
      ...new Set(
        items.flatMap((i) =>
          i.ck === null || i.uk === null || !i.m.attachmentIds?.length
            ? []
            : i.m.attachmentIds.flatMap((id) => {
                const k = decodeId('a', id);
                return k === null ? [] : [k];
              }),
        ),
      ),
    ].sort((a, b) => a - b);
    const fileRows = wantedFiles.length
      ? new Map(
          (
            await this.rows<AttachmentRow>(db, `SELECT ${ATTACHMENT_COLS} FROM attachments WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`, [
              wantedFiles,
            ])
          ).map((r) => [r.id, readAttachmentRow(r)]),
        )
      : new Map<number, AttachmentRow>();
    // uploads taken by earlier items of this batch
    const taken = new Set<number>();
    // 4. Outcomes in order, seqs and revs counted from the locked rows.
    const ticks = await this.ticks(db, batch.length);
    const outcomes: AppendOutcome[] = [];
    const inserts: {
      index: number;
      ck: number;
      uk: number;
      seq: number;
      rev: number;
      m: NewMessage;
      replyTo: number | null;
      mentions: number[];
      files: AttachmentRow[];
    }[] = [];
    const bumped = new Map<number, { seq: number; rev: number; at: number; tick: number }>();
    const senderMarks = new Map<string, { ck: number; uk: number; seq: number }>();
    items.forEach(({ m, ck, uk }, index) => {
      const counter = ck === null ? undefined : counters.get(ck);
      if (ck === null || uk === null || !counter) {
        outcomes.push({ kind: 'no_conversation' });
        return;
      }
      const inConversation = members.get(ck) as { keys: Set<number>; ids: string[]; names: Map<string, number> };
      if (!inConversation.keys.has(uk)) {
        outcomes.push({ kind: 'not_member' });
        return;
      }
      if (m.clientId !== null) {
        const key = `${ck}\u0000${uk}\u0000${m.clientId}`;
        const found = earlier.get(key);
        if (found) {
          outcomes.push({ kind: 'duplicate', message: found });
          return;
        }
      }
      // A reply: to a message of this conversation (deleted or not), else nothing is stored.
      const rk = replyKey(m);
      let replyTo: number | null = null;
      if (rk !== undefined) {
        const target = rk === null ? undefined : targets.get(rk);
        if (!target || target.conversation_id !== ck) {
          outcomes.push({ kind: 'no_reply_target' });
          return;
        }
        replyTo = target.id;
      }
      // Its files: unsent uploads of the sender to this conversation, not taken by an earlier item.
      let files: AttachmentRow[] = [];
      if (m.attachmentIds?.length) {
        const picked = pickAttachments(m.attachmentIds, fileRows, ck, uk, taken);
        if (!picked) {
          outcomes.push({ kind: 'bad_attachments' });
          return;
        }
        files = picked;
      }
      const mentions = resolveMentions(m.mentionNames, inConversation.names);
      counter.seq++;
      counter.rev++;
      const message = toMessage(
        {
          id: 0, // set from the insert below
          conversation_id: ck,
          seq: counter.seq,
          rev: counter.rev,
          sender_id: uk,
          content: m.content,
          client_id: m.clientId,
          created_at: m.createdAt,
          edited_at: null,
          deleted_at: null,
          reply_to_id: replyTo,
          mentions: mentionsJson(mentions),
          reactions: null,
          attachments: attachmentsJson(files),
        },
        targets,
      );
      if (m.clientId !== null) earlier.set(`${ck}\u0000${uk}\u0000${m.clientId}`, message);
      inserts.push({ index, ck, uk, seq: counter.seq, rev: counter.rev, m, replyTo, mentions, files });
      bumped.set(ck, { seq: counter.seq, rev: counter.rev, at: m.createdAt, tick: ticks[index] as number });
      senderMarks.set(`${ck}:${uk}`, { ck, uk, seq: counter.seq });
      outcomes.push({ kind: 'stored', message, members: inConversation.ids });
    });
    if (inserts.length === 0) return outcomes;
    // 5. One insert for the batch (and one of its mentions, one binding its
    // files), one update of the counters, one of the senders' markers.
    const search = inserts.map((i) => searchColumns(i.m.content, i.files.map((f) => f.name)));
    const ids = await this.rows<{ id: number; conversation_id: number; seq: number }>(
      db,
      `INSERT INTO messages (conversation_id, seq, rev, sender_id, content, client_id, created_at, search_text, search_words, reply_to_id, mentions,
                             attachments)
       SELECT c, q, r, s, body, cid, t, st, (SELECT coalesce(array_agg(w), '{}') FROM jsonb_array_elements_text(sw) AS w), rt, mn, att
       FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::jsonb[],
                   $10::bigint[], $11::text[], $12::text[])
         AS v(c, q, r, s, body, cid, t, st, sw, rt, mn, att)
       RETURNING id, conversation_id, seq`,
      [
        inserts.map((i) => i.ck),
        inserts.map((i) => i.seq),
        inserts.map((i) => i.rev),
        inserts.map((i) => i.uk),
        inserts.map((i) => toDbText(i.m.content)),
        inserts.map((i) => toDbText(i.m.clientId)),
        inserts.map((i) => i.m.createdAt),
        search.map((s) => s.text),
        search.map((s) => JSON.stringify(s.words)),
        inserts.map((i) => i.replyTo),
        inserts.map((i) => mentionsJson(i.mentions)),
        inserts.map((i) => attachmentsJson(i.files)),
      ],
    );
    const idOf = new Map(ids.map((r) => [`${r.conversation_id}:${r.seq}`, r.id]));
    const bound: { file: number; message: number }[] = [];
    for (const i of inserts) {
      const o = outcomes[i.index] as { message: MessageRecord };
      const mk = idOf.get(`${i.ck}:${i.seq}`) as number;
      o.message.id = encodeId('m', mk);
      for (const f of i.files) bound.push({ file: f.id, message: mk });
    }
    if (bound.length) {
      // (The rows were locked above.)
      await db.query('UPDATE attachments a SET message_id = v.m FROM unnest($1::bigint[], $2::bigint[]) AS v(id, m) WHERE a.id = v.id', [
        bound.map((b) => b.file),
        bound.map((b) => b.message),
      ]);
    }
    const mentioned = inserts.flatMap((i) => i.mentions.map((u) => ({ u, c: i.ck, q: i.seq })));
    if (mentioned.length) await this.insertMentions(db, mentioned);
    const b = [...bumped.entries()];
    await db.query(
      `UPDATE conversations c SET last_seq = v.q, last_rev = v.r, last_activity_at = v.at, activity = v.tick
       FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS v(id, q, r, at, tick)
       WHERE c.id = v.id`,
      [b.map(([k]) => k), b.map(([, v]) => v.seq), b.map(([, v]) => v.rev), b.map(([, v]) => v.at), b.map(([, v]) => v.tick)],
    );
    // Sending moves the sender's own read and delivered markers to its seq.
    // Their rows are locked first, in key order, as every writer of member
    // rows does (an UPDATE alone locks in whatever order its plan reads).
    const marks = [...senderMarks.values()].sort((x, y) => x.ck - y.ck || x.uk - y.uk);
    await db.query(
      `WITH v AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v(c, u, q)),
       locked AS (
         SELECT m.conversation_id, m.user_id FROM members m JOIN v ON m.conversation_id = v.c AND m.user_id = v.u
         ORDER BY m.conversation_id, m.user_id FOR UPDATE OF m)
       UPDATE members mb SET read_seq = GREATEST(mb.read_seq, v.q), delivered_seq = GREATEST(mb.delivered_seq, v.q)
       FROM v JOIN locked l ON l.conversation_id = v.c AND l.user_id = v.u
       WHERE mb.conversation_id = v.c AND mb.user_id = v.u`,
      [marks.map((s) => s.ck), marks.map((s) => s.uk), marks.map((s) => s.seq)],
    );
    return outcomes;
  }

  /** Rows of message_mentions: user `u` mentioned by the message at seq `q` of conversation `c`. */
  private async insertMentions(db: pg.PoolClient, rows: readonly { u: number; c: number; q: number }[]): Promise<void> {
    await db.query(
      `INSERT INTO message_mentions (user_id, conversation_id, seq)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING`,
      [rows.map((r) => r.u), rows.map((r) => r.c), rows.map((r) => r.q)],
    );
  }

  /** Removes the message_mentions rows of a message (`mentions`: its row's column, the users it mentions). */
  private async clearMentions(db: pg.PoolClient, row: MessageRow): Promise<void> {
    const users = parseMentions(row.mentions);
    if (users.length === 0) return;
    await db.query('DELETE FROM message_mentions WHERE user_id = ANY($1::bigint[]) AND conversation_id = $2 AND seq = $3', [
      users,
      row.conversation_id,
      row.seq,
    ]);
  }

  async changeMessages(batch: readonly MessageChange[]): Promise<ChangeOutcome[]> {
    if (batch.length === 0) return [];
    return this.tx(async (db) => {
      const mks = batch.map((c) => decodeId('m', c.messageId)).filter((k): k is number => k !== null);
      // The conversations of the batch's messages, locked in id order: the
      // changes of a message (reactions of many users too) serialise on it.
      if (mks.length) {
        await db.query(
          `SELECT id FROM conversations WHERE id IN (SELECT conversation_id FROM messages WHERE id = ANY($1::bigint[]))
           ORDER BY id FOR UPDATE`,
          [mks],
        );
      }
      const applied: AppliedChange[] = [];
      for (const c of batch) applied.push(await this.applyChange(db, c));
      // The messages as the batch leaves them, their quotes read at once.
      const withRows = applied.flatMap((a) => ('row' in a ? [a.row] : []));
      const records = await this.toRecords(db, withRows);
      let next = 0;
      return applied.map((a): ChangeOutcome => ('row' in a ? { kind: a.kind, message: records[next++] as MessageRecord } : a));
    });
  }

  private async applyChange(db: pg.PoolClient, c: MessageChange): Promise<AppliedChange> {
    const mk = decodeId('m', c.messageId);
    const uk = decodeId('u', c.userId);
    if (mk === null || uk === null) return { kind: 'not_found' };
    const row = await this.row<MessageRow>(db, `SELECT ${MSG_COLS} FROM messages WHERE id = $1`, [mk]);
    if (!row) return { kind: 'not_found' };
    if (!(await this.row(db, 'SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2', [row.conversation_id, uk]))) {
      // A reaction tells a non-member so; an edit or a deletion finds nothing.
      return { kind: c.kind === 'react' ? 'not_member' : 'not_found' };
    }
    if (c.kind === 'react') {
      if (row.deleted_at !== null) return { kind: 'deleted' };
      const r = nextReactions(parseReactions(row.reactions), c.emoji, uk, c.add);
      if (r === 'too_many') return { kind: 'too_many_reactions' };
      if (r.next === null) return { kind: 'unchanged', row };
      // The next rev, and nothing else: no editedAt, not activity, the search columns as they are.
      const rev = await this.nextRev(db, row.conversation_id);
      const updated = await this.row<MessageRow>(db, `UPDATE messages SET reactions = $1, rev = $2 WHERE id = $3 RETURNING ${MSG_COLS}`, [
        reactionsJson(r.next),
        rev,
        mk,
      ]);
      return { kind: 'changed', row: updated as MessageRow };
    }
    if (row.sender_id !== uk) return { kind: 'not_sender' };
    if (row.deleted_at !== null) return c.kind === 'delete' ? { kind: 'unchanged', row } : { kind: 'deleted' };
    let updated: MessageRow | undefined;
    if (c.kind === 'edit') {
      // Mentions are resolved again, against the members now.
      let mentions: number[] = [];
      if (c.mentionNames?.length) {
        const names = await this.rows<{ user_id: number; username_key: string }>(
          db,
          'SELECT mb.user_id, u.username_key FROM members mb JOIN users u ON u.id = mb.user_id WHERE mb.conversation_id = $1',
          [row.conversation_id],
        );
        mentions = resolveMentions(c.mentionNames, new Map(names.map((n) => [n.username_key, n.user_id])));
      }
      const rev = await this.nextRev(db, row.conversation_id);
      const s = searchColumns(c.content, attachmentNames(row.attachments));
      updated = await this.row<MessageRow>(
        db,
        `UPDATE messages SET content = $1, edited_at = $2, rev = $3, search_text = $4, search_words = $5, mentions = $6
         WHERE id = $7 RETURNING ${MSG_COLS}`,
        [toDbText(c.content), c.at, rev, s.text, s.words, mentionsJson(mentions), mk],
      );
      await this.clearMentions(db, row);
      if (mentions.length) await this.insertMentions(db, mentions.map((u) => ({ u, c: row.conversation_id, q: row.seq })));
    } else {
      // The text is erased from the row and from what search reads, not
      // hidden; so are its reply's target, mentions, reactions and files
      // (their rows go, their blobs listed for the sweep: AttachmentService).
      const rev = await this.nextRev(db, row.conversation_id);
      updated = await this.row<MessageRow>(
        db,
        `UPDATE messages SET content = '', deleted_at = $1, rev = $2, search_text = '', search_words = '{}',
                reply_to_id = NULL, mentions = NULL, reactions = NULL, attachments = NULL
         WHERE id = $3 RETURNING ${MSG_COLS}`,
        [c.at, rev, mk],
      );
      await this.clearMentions(db, row);
      await db.query(
        `WITH gone AS (DELETE FROM attachments WHERE message_id = $1 RETURNING blob_key, thumbnail_key)
         INSERT INTO erased_blobs (key)
         SELECT blob_key FROM gone UNION ALL SELECT thumbnail_key FROM gone WHERE thumbnail_key IS NOT NULL
         ON CONFLICT DO NOTHING`,
        [mk],
      );
    }
    return { kind: 'changed', row: updated as MessageRow };
  }

  /** The conversation's next rev (its row is locked by the caller's transaction). */
  private async nextRev(db: pg.PoolClient, ck: number): Promise<number> {
    const bumped = await this.row<{ last_rev: number }>(db, 'UPDATE conversations SET last_rev = last_rev + 1 WHERE id = $1 RETURNING last_rev', [ck]);
    return (bumped as { last_rev: number }).last_rev;
  }

  // ---- attachments ------------------------------------------------------------
  async createAttachment(a: NewAttachment): Promise<AttachmentRecord> {
    const ck = decodeId('c', a.conversationId);
    const uk = decodeId('u', a.uploaderId);
    if (ck === null || uk === null) throw new Error('createAttachment: invalid conversation or user id');
    const row = await this.row<AttachmentRow>(
      this.pool,
      `INSERT INTO attachments (conversation_id, uploader_id, name, mime, size, width, height, blob_key, thumbnail_key, thumbnail_mime, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${ATTACHMENT_COLS}`,
      [ck, uk, toDbText(a.name), a.mime, a.size, a.width, a.height, a.blobKey, a.thumbnailKey, a.thumbnailMime, a.createdAt],
    );
    return toAttachment(readAttachmentRow(row as AttachmentRow));
  }

  async attachmentById(id: string): Promise<AttachmentRecord | null> {
    const k = decodeId('a', id);
    if (k === null) return null;
    const row = await this.row<AttachmentRow>(this.pool, `SELECT ${ATTACHMENT_COLS} FROM attachments WHERE id = $1`, [k]);
    return row ? toAttachment(readAttachmentRow(row)) : null;
  }

  async expireUploads(createdBefore: number): Promise<number> {
    // One statement in its transaction: the rows go and their blobs are listed
    // together. (A send that locked one of them first takes it, and it stays.)
    return this.tx(async (db) => {
      const r = await this.row<{ n: number }>(
        db,
        `WITH gone AS (DELETE FROM attachments WHERE message_id IS NULL AND created_at < $1 RETURNING blob_key, thumbnail_key),
         listed AS (
           INSERT INTO erased_blobs (key)
           SELECT blob_key FROM gone UNION ALL SELECT thumbnail_key FROM gone WHERE thumbnail_key IS NOT NULL
           ON CONFLICT DO NOTHING)
         SELECT count(*)::int AS n FROM gone`,
        [createdBefore],
      );
      return r?.n ?? 0;
    });
  }

  async erasedBlobs(limit: number): Promise<string[]> {
    const rows = await this.rows<{ key: string }>(this.pool, 'SELECT key FROM erased_blobs LIMIT $1', [limit]);
    return rows.map((r) => r.key);
  }

  async forgetErasedBlobs(blobKeys: readonly string[]): Promise<void> {
    if (blobKeys.length === 0) return;
    await query(this.pool, 'DELETE FROM erased_blobs WHERE key = ANY($1::text[])', [blobKeys]);
  }

  async search(q: SearchQuery): Promise<SearchHit[]> {
    const uk = decodeId('u', q.userId);
    const ck = q.conversationId === undefined ? undefined : decodeId('c', q.conversationId);
    if (uk === null || ck === null) return [];
    if (!searchConditions(q.terms, 1)) return [];
    // What the caller's conversations hold decides the side (search-query.ts).
    const scope = await this.row<{ held: number; ids: string[] | null }>(
      this.pool,
      `SELECT coalesce(sum(c.last_seq), 0)::float8 AS held, array_agg(c.id) AS ids
       FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = $1 AND ($2::bigint IS NULL OR m.conversation_id = $2)`,
      [uk, ck ?? null],
    );
    if (!scope?.ids?.length || scope.held === 0) return [];
    let side: 'index' | 'scope' = 'index';
    let expected: number | null = null;
    const scopeMax = this.opts.searchScopeMax ?? SCOPE_SCAN_MAX;
    if (scope.held <= scopeMax) side = 'scope';
    else if (scopeMax >= 0) {
      // Above it: whichever side reads fewer rows (search-query.ts).
      const sample = sampleConditions(q.terms, 1);
      expected = (await this.row<{ expected: number }>(this.pool, sampleStatement(sample), sample.params))!.expected;
      if (expected > scope.held) side = 'scope';
    }
    this.opts.onSearch?.({ side, held: scope.held, expected });
    const conditions = searchConditions(q.terms, conditionsFrom(side))!;
    const rows = await this.rows<MessageRow & { score: number }>(
      this.pool,
      searchStatement(conditions, side, ck !== undefined, M_MSG_COLS),
      [uk, ck ?? null, q.limit, conditions.needles, ...(side === 'scope' ? [scope.ids] : []), ...conditions.params],
    );
    const messages = await this.toRecords(this.pool, rows);
    return rows.map((r, i) => ({ message: messages[i] as MessageRecord, score: r.score }));
  }

  async history(conversationId: string, q: HistoryQuery): Promise<HistoryPage> {
    const ck = decodeId('c', conversationId);
    if (ck === null) return { messages: [], hasMore: false };
    // One row more than asked tells whether there is more.
    const n = q.limit + 1;
    if ('after' in q) {
      const rows = await this.rows<MessageRow>(
        this.pool,
        `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3`,
        [ck, q.after, n],
      );
      return { messages: await this.toRecords(this.pool, rows.slice(0, q.limit)), hasMore: rows.length > q.limit };
    }
    const rows =
      'before' in q
        ? await this.rows<MessageRow>(
            this.pool,
            `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
            [ck, q.before, n],
          )
        : await this.rows<MessageRow>(this.pool, `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2`, [ck, n]);
    return { messages: await this.toRecords(this.pool, rows.slice(0, q.limit).reverse()), hasMore: rows.length > q.limit };
  }

  async messageById(id: string): Promise<MessageRecord | null> {
    const k = decodeId('m', id);
    if (k === null) return null;
    const row = await this.row<MessageRow>(this.pool, `SELECT ${MSG_COLS} FROM messages WHERE id = $1`, [k]);
    return row ? ((await this.toRecords(this.pool, [row]))[0] as MessageRecord) : null;
  }

  async changesSince(conversationId: string, afterRev: number, limit: number): Promise<MessageRecord[]> {
    const ck = decodeId('c', conversationId);
    if (ck === null) return [];
    const rows = await this.rows<MessageRow>(
      this.pool,
      `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = $1 AND rev > $2 ORDER BY rev LIMIT $3`,
      [ck, afterRev, limit],
    );
    return this.toRecords(this.pool, rows);
  }

  async unreadCounts(userId: string, markers: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>> {
    const { out, wanted } = markerQuery(userId, markers);
    if (wanted.length === 0) return out;
    // lastSeq − marker − deleted after the marker: own messages are never
    // after one's read marker (sending moves it), so no per-message scan.
    const rows = await this.rows<{ id: number; n: number }>(
      this.pool,
      `SELECT c.id, GREATEST(0, c.last_seq - v.after - (
         SELECT count(*) FROM messages WHERE conversation_id = c.id AND seq > v.after AND deleted_at IS NOT NULL)) AS n
       FROM unnest($1::bigint[], $2::bigint[]) AS v(id, after) JOIN conversations c ON c.id = v.id`,
      [wanted.map((w) => w.ck), wanted.map((w) => w.after)],
    );
    const byKey = new Map(rows.map((r) => [r.id, r.n]));
    for (const w of wanted) out.set(w.id, byKey.get(w.ck) ?? 0);
    return out;
  }

  async unreadMentions(userId: string, markers: readonly { conversationId: string; afterSeq: number }[]): Promise<Map<string, number>> {
    const { out, uk, wanted } = markerQuery(userId, markers);
    if (wanted.length === 0) return out;
    // A range of message_mentions' primary key per conversation (deleted messages have no rows there).
    const rows = await this.rows<{ id: number; n: number }>(
      this.pool,
      `SELECT v.id, (SELECT count(*) FROM message_mentions mm WHERE mm.user_id = $1 AND mm.conversation_id = v.id AND mm.seq > v.after) AS n
       FROM unnest($2::bigint[], $3::bigint[]) AS v(id, after)`,
      [uk, wanted.map((w) => w.ck), wanted.map((w) => w.after)],
    );
    const byKey = new Map(rows.map((r) => [r.id, r.n]));
    for (const w of wanted) out.set(w.id, byKey.get(w.ck) ?? 0);
    return out;
  }

  async lastMessages(conversations: readonly ConversationRecord[]): Promise<Map<string, MessageRecord>> {
    const out = new Map<string, MessageRecord>();
    const wanted = conversations.filter((c) => c.lastSeq > 0);
    if (wanted.length === 0) return out;
    const rows = await this.rows<MessageRow>(
      this.pool,
      `SELECT ${M_MSG_COLS} FROM unnest($1::bigint[], $2::bigint[]) AS v(c, q)
       JOIN messages m ON m.conversation_id = v.c AND m.seq = v.q`,
      [wanted.map((c) => decodeId('c', c.id)), wanted.map((c) => c.lastSeq)],
    );
    for (const message of await this.toRecords(this.pool, rows)) out.set(message.conversationId, message);
    return out;
  }
}

/** Per-conversation counts' common start: 0 for every conversation asked about, and the markers whose ids decode. */
function markerQuery(userId: string, markers: readonly { conversationId: string; afterSeq: number }[]) {
  const out = new Map<string, number>();
  const uk = decodeId('u', userId);
  const wanted: { id: string; ck: number; after: number }[] = [];
  for (const { conversationId, afterSeq } of markers) {
    out.set(conversationId, 0);
    const ck = decodeId('c', conversationId);
    if (uk !== null && ck !== null) wanted.push({ id: conversationId, ck, after: afterSeq });
  }
  return { out, uk, wanted };
}
