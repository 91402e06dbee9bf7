/**
 * Copies a SQLite deployment (the server stopped) into an empty PostgreSQL
 * database: users, conversations, members (markers, archive state, join
 * order), messages (with their search columns, replies, mentions, reactions
 * and attachments), attachments (uploads, sent or not), the mentions' index
 * (unread mentions), the marker-move log ("seen by ... at"), the list of
 * erased blobs not yet swept, and the bytes of every attachment: the files
 * of the local-disk blob storage (`attachments/` beside the SQLite file,
 * src/blobs/local-disk.ts) become rows of blob_chunks (PostgreSQL blob
 * storage, src/blobs/postgres-blobs.ts), so the ported deployment is whole.
 * Ids, seqs, revs and ticks are kept as they are, so every wire id a client
 * holds (u12, c7, m1042, a3) and every sync cursor stays valid; the identity
 * sequences and `ticks` are then set past the copied values.
 *
 * - The SQLite file is opened read-only, under its lock (lock.ts): a running
 *   server is refused, and none can start on the file during the copy.
 * - A target with rows in any Parley table, or with tables that are not
 *   Parley's, is refused before anything is written to it; the emptiness is
 *   checked again under table locks in the copy's transaction.
 * - Everything is copied in ONE transaction: a failure (or an interruption)
 *   leaves the tables empty, and the command can simply be run again.
 * - Rows are read and written in batches (multi-row INSERT ... SELECT FROM
 *   unnest), so memory does not grow with the number of messages.
 * - The search index needs no copy: PostgreSQL's search columns are computed
 *   from each message here (searchColumns), as the store does on a send.
 * - Blobs: those of the attachments' keys (file and thumbnail) are copied,
 *   a file at a time in chunks (never one in memory whole), in the same
 *   transaction; the bytes of erased blobs are not (they are only waiting to
 *   be deleted; their keys are copied, and the sweep on PostgreSQL forgets
 *   them). A blob whose file is missing from the source is reported and
 *   skipped (the deployment had already lost it); a source with attachments
 *   and no blob directory at all is refused. The local files are left as
 *   they are: remove them once the ported deployment is running.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { bytesOf } from '../blobs/blob-storage.js';
import { LocalDiskBlobs } from '../blobs/local-disk.js';
import { CHUNK_BYTES } from '../blobs/postgres-blobs.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { searchColumns } from './postgres/search-query.js';
import { parseVapidPair } from '../notify/vapid.js';
import { toDbText } from './postgres/text.js';
import { DatabaseLock } from './sqlite/lock.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from './sqlite/migrations.js';
import { attachmentNames, type AttachmentRow, type MessageRow, type PushSubscriptionRow } from './rows.js';

export interface PortOptions {
  /** The SQLite database (DATA_DIR/parley.db); its server must be stopped. */
  sqliteFile: string;
  /** postgres://user:password@host:port/database: an empty database (or one with Parley's schema and no rows). */
  postgresUrl: string;
  /** Told of progress and of the summary, a line at a time. */
  log: (line: string) => void;
  /** Most rows per INSERT statement (default 1000). */
  batchSize?: number;
  /** Least time between two progress lines of one table (default 2000 ms). */
  progressEveryMs?: number;
  /** The local-disk blob storage of the deployment (default: `attachments` beside sqliteFile, where the server keeps it). */
  blobDir?: string;
  /**
   * The deployment's Web Push keys (default: `vapid-keys.json` beside
   * sqliteFile, where the server makes them): copied so that browsers'
   * subscriptions keep working. None there: PostgreSQL makes a new pair.
   */
  vapidFile?: string;
}

/** The tables copied, in the order they are copied (references first). */
export const PORTED_TABLES = [
  'users',
  'conversations',
  'members',
  'messages',
  'attachments',
  'message_mentions',
  'marker_moves',
  'sessions',
  'push_subscriptions',
  'erased_blobs',
] as const;
export type PortedTable = (typeof PORTED_TABLES)[number];
/** Written by the copy too (the blobs' bytes), not copied as a table: must be empty as well. */
// (Pending notifications, notification_jobs, are not carried over: the port is done with the server stopped.)
const FILLED_TABLES = [...PORTED_TABLES, 'blob_chunks', 'server_keys', 'notification_jobs'] as const;

export interface PortSummary {
  counts: Record<PortedTable, number>;
  /** The attachments' blobs copied into blob_chunks, their bytes, and the keys whose file the source lacked. */
  blobs: BlobCopy;
  ms: number;
}

export interface BlobCopy {
  copied: number;
  bytes: number;
  missing: string[];
}

/** The port was refused before anything was written (server running, target not empty, ...). */
export class PortRefused extends Error {
  override readonly name = 'PortRefused';
}

/** Tables of Parley's PostgreSQL schema; anything else in the target means it is not ours to fill. */
const PARLEY_PG_TABLES = new Set<string>([...FILLED_TABLES, 'parley_migrations']);
/** A batch of messages also stops at about this much text (contents up to 4,000 characters). */
const BATCH_TEXT_CHARS = 4_000_000;
const DEFAULT_BATCH = 1000;

interface SqliteUser {
  id: number;
  username: string;
  username_key: string;
  display_name: string;
  display_key: string;
  password_hash: string;
  created_at: number;
  last_seen_at: number | null;
  notification_previews: number;
}
interface SqliteConversation {
  id: number;
  type: string;
  title: string | null;
  owner_id: number | null;
  direct_key: string | null;
  last_seq: number;
  last_rev: number;
  created_at: number;
  last_activity_at: number;
  activity: number;
}
interface SqliteMember {
  conversation_id: number;
  user_id: number;
  joined_at: number;
  joined_tick: number;
  delivered_seq: number;
  read_seq: number;
  archived: number;
  notify_level: number;
  muted_until: number | null;
}
/** A message row as both stores read it. */
type SqliteMessage = MessageRow;
/** An attachment row as both stores read it. */
type SqliteAttachment = AttachmentRow;
interface SqliteMention {
  user_id: number;
  conversation_id: number;
  seq: number;
}
interface SqliteMove {
  conversation_id: number;
  user_id: number;
  type: number;
  seq: number;
  opened_at: number;
  at: number;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an invalid URL)';
  }
}

const fmt = (n: number) => n.toLocaleString('en-US');
const fmtBytes = (n: number) => (n < 1024 * 1024 ? `${fmt(Math.ceil(n / 1024))} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

/** Copies the SQLite deployment at `sqliteFile` into the empty PostgreSQL database at `postgresUrl`. */
export async function portSqliteToPostgres(opts: PortOptions): Promise<PortSummary> {
  const started = Date.now();
  const { log } = opts;
  const batchSize = Math.max(1, opts.batchSize ?? DEFAULT_BATCH);
  const file = path.resolve(opts.sqliteFile);
  const blobDir = path.resolve(opts.blobDir ?? path.join(path.dirname(file), 'attachments'));
  const target = redactUrl(opts.postgresUrl);

  const source = openSource(file);
  try {
    const { db } = source;
    // One snapshot of the source for every table (nobody writes: the lock is ours).
    db.exec('BEGIN');
    const expected = {} as Record<PortedTable, number>;
    for (const t of PORTED_TABLES) expected[t] = (db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number) ?? 0;
    log(`source ${file}: ${PORTED_TABLES.map((t) => `${fmt(expected[t])} ${t}`).join(', ')}`);
    const blobKeys = db
      .prepare('SELECT blob_key FROM attachments UNION SELECT thumbnail_key FROM attachments WHERE thumbnail_key IS NOT NULL ORDER BY 1')
      .pluck()
      .all() as string[];
    if (blobKeys.length && !fs.statSync(blobDir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new PortRefused(`${blobDir}: no such directory, and the database has ${fmt(blobKeys.length)} blobs of attachments there (their bytes are copied too)`);
    }

    await checkTargetEmpty(opts.postgresUrl, target);
    log(`target ${target}: empty; bringing its schema up to date`);
    const store = await PostgresStore.open({ url: opts.postgresUrl, poolSize: 1 });
    try {
      const client = await store.pool.connect();
      let broken: unknown;
      try {
        const vapidFile = path.resolve(opts.vapidFile ?? path.join(path.dirname(file), 'vapid-keys.json'));
        const vapid = fs.existsSync(vapidFile) ? JSON.stringify(parseVapidPair(fs.readFileSync(vapidFile, 'utf8'), vapidFile)) : null;
        const { counts, blobs } = await copyAll(client, db, expected, { log, batchSize, progressEveryMs: opts.progressEveryMs ?? 2000, target }, { dir: blobDir, keys: blobKeys }, vapid);
        // Statistics for the planner straight away (autovacuum would get there
        // later); the copy is committed: a failure here is only reported.
        await client.query(`ANALYZE ${PORTED_TABLES.join(', ')}`).catch((e: unknown) => {
          log(`committed; ANALYZE failed (autovacuum will do it): ${(e as Error).message}`);
        });
        const ms = Date.now() - started;
        log(
          `done in ${(ms / 1000).toFixed(1)} s: copied ${PORTED_TABLES.map((t) => `${fmt(counts[t])} ${t}`).join(', ')}; ` +
            `${fmt(blobs.copied)} blobs (${fmtBytes(blobs.bytes)})${blobs.missing.length ? `, ${fmt(blobs.missing.length)} missing from the source` : ''}`,
        );
        return { counts, blobs, ms };
      } catch (e) {
        broken = e;
        throw e;
      } finally {
        client.release(broken instanceof Error && !(broken instanceof PortRefused) ? broken : undefined);
      }
    } finally {
      await store.close();
    }
  } finally {
    source.close();
  }
}

/** The SQLite file, read-only, under its lock, checked to be a Parley database of the schema this build knows. */
function openSource(file: string): { db: Database.Database; close(): void } {
  if (!fs.existsSync(file)) throw new PortRefused(`${file}: no such file`);
  let lock: DatabaseLock;
  try {
    lock = DatabaseLock.acquire(file);
  } catch (e) {
    throw new PortRefused(`the Parley server must be stopped before its database is copied: ${(e as Error).message}`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]?.version ?? 0;
    const hasUsers = db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'users'`).get() !== undefined;
    if (version === 0 || !hasUsers) throw new PortRefused(`${file} is not a Parley database`);
    if (version > latest) throw new PortRefused(`${file} has schema version ${version}, newer than this build knows (${latest}): port with the newer build`);
    if (version < latest) {
      throw new PortRefused(
        `${file} has schema version ${version}, older than this build's (${latest}): start this version's server on it once (it migrates at start), stop it, then port`,
      );
    }
    const opened = db;
    return {
      db: opened,
      close() {
        if (opened.open) opened.close();
        lock.release();
      },
    };
  } catch (e) {
    if (db?.open) db.close();
    lock.release();
    if (e instanceof PortRefused) throw e;
    throw new PortRefused(`${file}: cannot be read as a SQLite database: ${(e as Error).message}`);
  }
}

/**
 * Refuses a target with rows in a Parley table, or with tables that are not
 * Parley's, before anything is written to it (migrations included).
 */
async function checkTargetEmpty(url: string, target: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'parley-port-db' });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1`,
    );
    const foreign = rows.map((r) => r.name).filter((n) => !PARLEY_PG_TABLES.has(n));
    if (foreign.length) {
      throw new PortRefused(`the target ${target} is not empty: it has tables that are not Parley's (${foreign.join(', ')}); port into a new, empty database`);
    }
    const present = new Set(rows.map((r) => r.name));
    const filled: string[] = [];
    for (const t of FILLED_TABLES) {
      if (present.has(t) && (await client.query(`SELECT 1 FROM ${t} LIMIT 1`)).rowCount) filled.push(t);
    }
    if (filled.length) refuseFilled(target, filled);
  } finally {
    await client.end();
  }
}

function refuseFilled(target: string, filled: readonly string[]): never {
  throw new PortRefused(`the target ${target} is not empty: ${filled.join(', ')} ha${filled.length === 1 ? 's' : 've'} rows; port into a new, empty database (nothing was written)`);
}

interface CopyContext {
  log: (line: string) => void;
  batchSize: number;
  progressEveryMs: number;
  target: string;
}

/** The whole copy, in one transaction on `client`; answers the rows copied per table and the blobs copied. */
async function copyAll(
  client: pg.PoolClient,
  db: Database.Database,
  expected: Record<PortedTable, number>,
  ctx: CopyContext,
  blobSource: { dir: string; keys: readonly string[] },
  vapid: string | null,
): Promise<{ counts: Record<PortedTable, number>; blobs: BlobCopy }> {
  await client.query('SET statement_timeout = 0');
  await client.query('BEGIN');
  try {
    // No node writes while the copy runs (reads may go on); then the tables
    // are checked again: a node may have written since the first check.
    await client.query(`SET LOCAL lock_timeout = '10s'`);
    await client.query(`LOCK TABLE ${FILLED_TABLES.join(', ')} IN EXCLUSIVE MODE`);
    const filled: string[] = [];
    for (const t of FILLED_TABLES) if ((await client.query(`SELECT 1 FROM ${t} LIMIT 1`)).rowCount) filled.push(t);
    if (filled.length) refuseFilled(ctx.target, filled);

    const counts = {} as Record<PortedTable, number>;
    counts.users = await copyTable(ctx, 'users', expected.users, db.prepare('SELECT * FROM users ORDER BY id').iterate() as Iterable<SqliteUser>, (rows) =>
      client.query(
        `INSERT INTO users (id, username, username_key, display_name, display_key, password_hash, created_at, last_seen_at, notification_previews)
         OVERRIDING SYSTEM VALUE
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::smallint[])`,
        [
          rows.map((r) => r.id),
          rows.map((r) => r.username),
          rows.map((r) => r.username_key),
          rows.map((r) => r.display_name),
          rows.map((r) => r.display_key),
          rows.map((r) => r.password_hash),
          rows.map((r) => r.created_at),
          rows.map((r) => r.last_seen_at),
          rows.map((r) => r.notification_previews),
        ],
      ),
    );
    counts.conversations = await copyTable(
      ctx,
      'conversations',
      expected.conversations,
      db.prepare('SELECT * FROM conversations ORDER BY id').iterate() as Iterable<SqliteConversation>,
      (rows) =>
        client.query(
          `INSERT INTO conversations (id, type, title, owner_id, direct_key, last_seq, last_rev, created_at, last_activity_at, activity)
           OVERRIDING SYSTEM VALUE
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])`,
          [
            rows.map((r) => r.id),
            rows.map((r) => r.type),
            rows.map((r) => r.title),
            rows.map((r) => r.owner_id),
            rows.map((r) => r.direct_key),
            rows.map((r) => r.last_seq),
            rows.map((r) => r.last_rev),
            rows.map((r) => r.created_at),
            rows.map((r) => r.last_activity_at),
            rows.map((r) => r.activity),
          ],
        ),
    );
    counts.members = await copyTable(
      ctx,
      'members',
      expected.members,
      db.prepare('SELECT * FROM members ORDER BY conversation_id, user_id').iterate() as Iterable<SqliteMember>,
      (rows) =>
        client.query(
          `INSERT INTO members (conversation_id, user_id, joined_at, joined_tick, delivered_seq, read_seq, archived, notify_level, muted_until)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::smallint[],
                                $8::smallint[], $9::bigint[])`,
          [
            rows.map((r) => r.conversation_id),
            rows.map((r) => r.user_id),
            rows.map((r) => r.joined_at),
            rows.map((r) => r.joined_tick),
            rows.map((r) => r.delivered_seq),
            rows.map((r) => r.read_seq),
            rows.map((r) => (r.archived ? 1 : 0)),
            rows.map((r) => r.notify_level),
            rows.map((r) => r.muted_until),
          ],
        ),
    );
    // The messages' secondary indexes (search's GIN ones above all) are built
    // once, after the rows are in, instead of row by row: several times
    // faster. Their definitions are read from the schema, so they stay
    // whatever the migrations made them; rebuilt in this transaction.
    const { rows: indexes } = await client.query<{ name: string; def: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
       WHERE i.indrelid = 'messages'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
       ORDER BY 1`,
    );
    for (const ix of indexes) await client.query(`DROP INDEX ${ix.name}`);
    counts.messages = await copyTable(
      ctx,
      'messages',
      expected.messages,
      db.prepare('SELECT * FROM messages ORDER BY id').iterate() as Iterable<SqliteMessage>,
      (rows) => {
        // What search reads, as the store writes it: from the text of a live
        // message; nothing for a deleted one (its text was erased).
        const search = rows.map((r) => (r.deleted_at === null ? searchColumns(r.content, attachmentNames(r.attachments)) : { text: '', words: [] as string[] }));
        return client.query(
          `INSERT INTO messages (id, conversation_id, seq, rev, sender_id, content, client_id, created_at, edited_at, deleted_at, search_text, search_words,
                                 reply_to_id, mentions, reactions, attachments)
           OVERRIDING SYSTEM VALUE
           SELECT id, c, q, r, s, body, cid, t, e, d, st, (SELECT coalesce(array_agg(w), '{}') FROM jsonb_array_elements_text(sw) AS w), rt, mn, rx, att
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::bigint[],
                       $10::bigint[], $11::text[], $12::jsonb[], $13::bigint[], $14::text[], $15::text[], $16::text[])
             AS v(id, c, q, r, s, body, cid, t, e, d, st, sw, rt, mn, rx, att)`,
          [
            rows.map((r) => r.id),
            rows.map((r) => r.conversation_id),
            rows.map((r) => r.seq),
            rows.map((r) => r.rev),
            rows.map((r) => r.sender_id),
            rows.map((r) => toDbText(r.content)),
            rows.map((r) => toDbText(r.client_id)),
            rows.map((r) => r.created_at),
            rows.map((r) => r.edited_at),
            rows.map((r) => r.deleted_at),
            search.map((s) => s.text),
            search.map((s) => JSON.stringify(s.words)),
            rows.map((r) => r.reply_to_id),
            rows.map((r) => r.mentions),
            rows.map((r) => r.reactions),
            rows.map((r) => r.attachments),
          ],
        );
      },
      (r) => r.content.length + (r.client_id?.length ?? 0) + (r.mentions?.length ?? 0) + (r.reactions?.length ?? 0) + (r.attachments?.length ?? 0),
    );
    if (indexes.length) {
      ctx.log(`messages: building ${indexes.length} indexes`);
      await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
      for (const ix of indexes) await client.query(ix.def);
    }
    // Uploads, sent (message_id) or not yet (the sweep expires them on PostgreSQL as on SQLite).
    counts.attachments = await copyTable(
      ctx,
      'attachments',
      expected.attachments,
      db.prepare('SELECT * FROM attachments ORDER BY id').iterate() as Iterable<SqliteAttachment>,
      (rows) =>
        client.query(
          `INSERT INTO attachments (id, conversation_id, uploader_id, message_id, name, mime, size, width, height, blob_key, thumbnail_key, thumbnail_mime,
                                    created_at)
           OVERRIDING SYSTEM VALUE
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::integer[], $9::integer[],
                                $10::text[], $11::text[], $12::text[], $13::bigint[])`,
          [
            rows.map((r) => r.id),
            rows.map((r) => r.conversation_id),
            rows.map((r) => r.uploader_id),
            rows.map((r) => r.message_id),
            rows.map((r) => toDbText(r.name)),
            rows.map((r) => r.mime),
            rows.map((r) => r.size),
            rows.map((r) => r.width),
            rows.map((r) => r.height),
            rows.map((r) => r.blob_key),
            rows.map((r) => r.thumbnail_key),
            rows.map((r) => r.thumbnail_mime),
            rows.map((r) => r.created_at),
          ],
        ),
    );
    counts.message_mentions = await copyTable(
      ctx,
      'message_mentions',
      expected.message_mentions,
      db.prepare('SELECT user_id, conversation_id, seq FROM message_mentions ORDER BY user_id, conversation_id, seq').iterate() as Iterable<SqliteMention>,
      (rows) =>
        client.query(
          `INSERT INTO message_mentions (user_id, conversation_id, seq)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])`,
          [rows.map((r) => r.user_id), rows.map((r) => r.conversation_id), rows.map((r) => r.seq)],
        ),
    );
    counts.marker_moves = await copyTable(
      ctx,
      'marker_moves',
      expected.marker_moves,
      db.prepare('SELECT * FROM marker_moves ORDER BY conversation_id, user_id, type, seq').iterate() as Iterable<SqliteMove>,
      (rows) =>
        client.query(
          `INSERT INTO marker_moves (conversation_id, user_id, type, seq, opened_at, at)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bigint[], $5::bigint[], $6::bigint[])`,
          [
            rows.map((r) => r.conversation_id),
            rows.map((r) => r.user_id),
            rows.map((r) => r.type),
            rows.map((r) => r.seq),
            rows.map((r) => r.opened_at),
            rows.map((r) => r.at),
          ],
        ),
    );

    // Sessions: the tokens issued on SQLite keep working (with the same JWT_SECRET), and revoked ones stay revoked.
    counts.sessions = await copyTable(
      ctx,
      'sessions',
      expected.sessions,
      db.prepare('SELECT * FROM sessions ORDER BY id').iterate() as Iterable<{ id: number; user_id: number; created_at: number; expires_at: number; revoked_at: number | null }>,
      (rows) =>
        client.query(
          `INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) OVERRIDING SYSTEM VALUE
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])`,
          [rows.map((r) => r.id), rows.map((r) => r.user_id), rows.map((r) => r.created_at), rows.map((r) => r.expires_at), rows.map((r) => r.revoked_at)],
        ),
    );

    // Browsers' push subscriptions, with the sessions they were made in.
    counts.push_subscriptions = await copyTable(
      ctx,
      'push_subscriptions',
      expected.push_subscriptions,
      db.prepare('SELECT * FROM push_subscriptions ORDER BY id').iterate() as Iterable<PushSubscriptionRow>,
      (rows) =>
        client.query(
          `INSERT INTO push_subscriptions (id, user_id, session_id, endpoint, p256dh, auth, created_at) OVERRIDING SYSTEM VALUE
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[])`,
          [
            rows.map((r) => r.id),
            rows.map((r) => r.user_id),
            rows.map((r) => r.session_id),
            rows.map((r) => r.endpoint),
            rows.map((r) => r.p256dh),
            rows.map((r) => r.auth),
            rows.map((r) => r.created_at),
          ],
        ),
    );

    // Blobs erased on SQLite and not swept yet: the sweep on PostgreSQL deletes
    // them (from blob_chunks, where they are not: unknown keys are fine) and
    // forgets them. Their bytes are not copied.
    counts.erased_blobs = await copyTable(
      ctx,
      'erased_blobs',
      expected.erased_blobs,
      db.prepare('SELECT key FROM erased_blobs ORDER BY key').iterate() as Iterable<{ key: string }>,
      (rows) => client.query('INSERT INTO erased_blobs (key) SELECT * FROM unnest($1::text[])', [rows.map((r) => r.key)]),
    );

    const blobs = await copyBlobs(client, blobSource.dir, blobSource.keys, ctx);
    if (vapid !== null) await client.query(`INSERT INTO server_keys (name, value) VALUES ('vapid', $1)`, [vapid]);

    // New rows continue after the copied ones: ids from the identity
    // sequences, activity and join order from `ticks`.
    for (const t of ['users', 'conversations', 'messages', 'attachments', 'sessions', 'push_subscriptions'] as const) {
      await client.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), coalesce(max(id), 0) + 1, false) FROM ${t}`);
    }
    await client.query(
      `SELECT setval('ticks', greatest((SELECT max(activity) FROM conversations), (SELECT max(joined_tick) FROM members), 0) + 1, false)`,
    );

    // What is in the target is what was in the source, or nothing is.
    const { rows } = await client.query<Record<PortedTable, number>>(`SELECT ${PORTED_TABLES.map((t) => `(SELECT count(*) FROM ${t})::bigint AS ${t}`).join(', ')}`);
    const inTarget = rows[0] as Record<PortedTable, number>;
    for (const t of PORTED_TABLES) {
      if (inTarget[t] !== expected[t] || counts[t] !== expected[t]) {
        throw new Error(`${t}: the source has ${expected[t]} rows, ${counts[t]} were copied and the target holds ${inTarget[t]}: nothing was committed`);
      }
    }
    ctx.log('committing');
    await client.query('COMMIT');
    return { counts, blobs };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/**
 * The attachments' blobs (`keys`, from the local-disk storage at `dir`) into
 * blob_chunks, in the caller's transaction, as PostgresBlobs stores them:
 * rows of CHUNK_BYTES, numbered from 0; an empty blob is one empty row. A
 * file is read as a stream and inserted a chunk at a time (one buffer,
 * reused once the server has answered).
 */
async function copyBlobs(client: pg.PoolClient, dir: string, keys: readonly string[], ctx: CopyContext): Promise<BlobCopy> {
  const out: BlobCopy = { copied: 0, bytes: 0, missing: [] };
  if (keys.length === 0) {
    ctx.log('blobs: none to copy');
    return out;
  }
  // (open() also removes temporary files a crashed server left there: the server is stopped, the lock is ours.)
  const source = await LocalDiskBlobs.open(dir);
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let lastReport = Date.now();
  for (const key of keys) {
    const blob = await source.get(key);
    if (!blob) {
      out.missing.push(key);
      ctx.log(`blobs: ${key} is missing from ${dir}: not copied (the source had lost it already)`);
      continue;
    }
    let fill = 0;
    let n = 0;
    const flush = async () => {
      await client.query('INSERT INTO blob_chunks (key, n, data) VALUES ($1, $2, $3)', [key, n, buf.subarray(0, fill)]);
      n++;
      fill = 0;
    };
    try {
      for await (const chunk of bytesOf(blob.stream)) {
        out.bytes += chunk.byteLength;
        for (let at = 0; at < chunk.byteLength; ) {
          const take = Math.min(chunk.byteLength - at, CHUNK_BYTES - fill);
          buf.set(chunk.subarray(at, at + take), fill);
          fill += take;
          at += take;
          if (fill === CHUNK_BYTES) await flush();
        }
      }
      if (fill > 0 || n === 0) await flush();
    } finally {
      (blob.stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    }
    out.copied++;
    if (Date.now() - lastReport >= ctx.progressEveryMs && out.copied < keys.length) {
      lastReport = Date.now();
      ctx.log(`blobs: ${fmt(out.copied)} / ${fmt(keys.length)} (${fmtBytes(out.bytes)})`);
    }
  }
  await source.close();
  ctx.log(`blobs: ${fmt(out.copied)} copied (${fmtBytes(out.bytes)})${out.missing.length ? `, ${fmt(out.missing.length)} missing` : ''}`);
  return out;
}

/**
 * Reads `rows` in batches (of at most batchSize rows, or about BATCH_TEXT_CHARS
 * of text) and inserts each; the next batch is read and prepared while the
 * database takes in the previous one (two batches in memory at most).
 */
async function copyTable<R>(
  ctx: CopyContext,
  table: PortedTable,
  total: number,
  rows: Iterable<R>,
  insert: (batch: R[]) => Promise<unknown>,
  size?: (row: R) => number,
): Promise<number> {
  let copied = 0;
  let lastReport = Date.now();
  let batch: R[] = [];
  let chars = 0;
  let previous: { done: Promise<unknown>; rows: number } | undefined;
  const settle = async () => {
    if (!previous) return;
    await previous.done;
    copied += previous.rows;
    previous = undefined;
    if (Date.now() - lastReport >= ctx.progressEveryMs && copied < total) {
      lastReport = Date.now();
      ctx.log(`${table}: ${fmt(copied)} / ${fmt(total)} (${Math.floor((copied / Math.max(total, 1)) * 100)}%)`);
    }
  };
  const flush = async () => {
    if (batch.length === 0) return;
    // Prepared and queued on the connection now; its outcome is awaited
    // after the next batch is read (a failure is thrown there).
    const done = insert(batch);
    done.catch(() => undefined);
    await settle();
    previous = { done, rows: batch.length };
    batch = [];
    chars = 0;
  };
  // (A better-sqlite3 iterator may stay open across awaits: nothing else uses the connection meanwhile.)
  for (const row of rows) {
    batch.push(row);
    if (size) chars += size(row);
    if (batch.length >= ctx.batchSize || chars >= BATCH_TEXT_CHARS) await flush();
  }
  await flush();
  await settle();
  ctx.log(`${table}: ${fmt(copied)} copied`);
  return copied;
}
