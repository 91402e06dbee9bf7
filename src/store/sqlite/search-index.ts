/**
 * The full-text index lives in a database file of its own, written by one
 * worker thread (search-worker.ts), so that indexing never runs on the
 * event loop nor holds the main database's write lock (decisions.md §17).
 *
 * The index follows the main database, which stays the only source of truth:
 * - new messages: every message with an id above `indexed_id` (ids grow in
 *   commit order: one writer);
 * - edits and deletions: rows of the main database's `search_outbox`, written
 *   in the same transaction as the change, above `outbox_id`.
 * Both marks are stored with the index entries in one transaction, so after
 * any crash the worker resumes exactly where the index stands.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { searchableText, wordPrefixes } from '../../text/search-text.js';
import { attachmentNames } from '../rows.js';

/** The index file beside the database: parley.db -> parley.search.db (other names: NAME-search.db). */
export function searchDbPath(dbFile: string): string {
  return dbFile.endsWith('.db') ? `${dbFile.slice(0, -3)}.search.db` : `${dbFile}-search.db`;
}

/** What the main database holds, for the index's consistency check. */
export interface SourceState {
  maxMessageId: number;
  /** The last outbox id ever handed out (AUTOINCREMENT: never reused). */
  maxOutboxId: number;
  /** Every outbox entry up to here has been pruned (applied by some index). */
  prunedThrough: number;
}

/** Reads SourceState from a connection to the main database. */
export function sourceState(main: Database.Database): SourceState {
  return main
    .prepare(
      `SELECT (SELECT coalesce(max(id), 0) FROM messages) AS maxMessageId,
              (SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'search_outbox'), 0)) AS maxOutboxId,
              (SELECT coalesce((SELECT min(id) - 1 FROM search_outbox),
                               (SELECT seq FROM sqlite_sequence WHERE name = 'search_outbox'), 0)) AS prunedThrough`,
    )
    .get() as SourceState;
}

/** Progress of the index through the main database. */
export interface IndexMarks {
  /** Every message with an id up to this one has been indexed. */
  indexedId: number;
  /** Every outbox entry up to this one (edits, deletions) has been applied. */
  outboxId: number;
}

// 2: attachment names indexed with the content (an index of version 1 is rebuilt).
const SEARCH_SCHEMA_VERSION = 2;
/** The index's FTS5 tables (SEARCH_SCHEMA). */
const FTS_TABLES = ['message_trigrams', 'message_words'] as const;
const SEARCH_SCHEMA = `
  -- Substrings of 3+ characters, case and accents folded (trigram), and the
  -- first two characters of each word (unicode61 over parley_word_prefixes),
  -- where each character of an unspaced script (CJK, Thai...) is a word, so
  -- two-character words are found as phrases. Contentless: the text lives in
  -- the main database; a deletion removes the row (contentless_delete) and
  -- its entries (secure-delete).
  CREATE VIRTUAL TABLE message_trigrams USING fts5(
    content, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
  CREATE VIRTUAL TABLE message_words USING fts5(
    content, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
  INSERT INTO message_trigrams (message_trigrams, rank) VALUES ('secure-delete', 1);
  INSERT INTO message_words (message_words, rank) VALUES ('secure-delete', 1);
  CREATE TABLE index_marks (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_id INTEGER NOT NULL,
    outbox_id  INTEGER NOT NULL
  );
  INSERT INTO index_marks (id, indexed_id, outbox_id) VALUES (1, 0, 0);
`;

function configure(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  // NORMAL: a step that only adds messages does not fsync (the disk is the
  // main database's first); after a power loss the index and its marks fall
  // back together and the lost tail is indexed again. Steps that apply edits
  // or deletions switch to FULL (see IndexStep.run).
  db.pragma('synchronous = NORMAL');
  db.pragma('secure_delete = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_size_limit = 67108864');
}

/**
 * Opens (creating if needed) the index database, and rebuilds it from the
 * start (it is derived data) when it cannot be trusted:
 * - not a database, or of a schema this build does not know;
 * - marks beyond what the main database holds (a database restored from a
 *   backup beside a newer index);
 * - marks below outbox entries already pruned (an older index beside a newer
 *   database): changes it never applied would be lost.
 * A rebuild happens in place (one transaction), so that a connection that
 * has the file attached sees the new tables, not a deleted file.
 */
export function openSearchDatabase(file: string, main: SourceState): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file);
    configure(db);
    db.pragma('user_version', { simple: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'SQLITE_NOTADB' && code !== 'SQLITE_CORRUPT') throw e;
    // Unreadable: nothing in it is worth keeping.
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
    db = new Database(file);
    configure(db);
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  const marks = version === SEARCH_SCHEMA_VERSION ? readMarks(db) : null;
  const trusted =
    marks !== null && marks.indexedId <= main.maxMessageId && marks.outboxId <= main.maxOutboxId && marks.outboxId >= main.prunedThrough;
  if (!trusted) {
    db.transaction(() => {
      for (const t of [...FTS_TABLES, 'index_marks']) db.exec(`DROP TABLE IF EXISTS ${t}`);
      db.exec(SEARCH_SCHEMA);
      db.pragma(`user_version = ${SEARCH_SCHEMA_VERSION}`);
    }).immediate();
  }
  tune(db);
  return db;
}

/**
 * FTS5 merges a level's segments, a little at each write, once it has this
 * many (default 4). At 8, indexing costs ~25 % less CPU (decisions.md §17).
 * Not 16: that is FTS5's `crisismerge`, at which a full level is merged in
 * one go, and the levels above with it: steps of seconds, one of 26 s
 * measured. Set at open when it differs, so that an older index takes it too.
 */
export const INDEX_AUTOMERGE = 8;
function tune(db: Database.Database): void {
  if (automergeOf(db).every((v) => v === INDEX_AUTOMERGE)) return;
  db.transaction(() => {
    // (A literal: FTS5 wants an integer, and a bound JS number is a real.)
    for (const t of FTS_TABLES) db.exec(`INSERT INTO ${t} (${t}, rank) VALUES ('automerge', ${INDEX_AUTOMERGE})`);
  }).immediate();
}

/** Each FTS5 table's `automerge`, in FTS_TABLES order (undefined: never set, FTS5's default 4). */
export function automergeOf(db: Database.Database): (number | undefined)[] {
  return FTS_TABLES.map((t) => (db.prepare(`SELECT v FROM ${t}_config WHERE k = 'automerge'`).get() as { v: number } | undefined)?.v);
}

export function readMarks(db: Database.Database): IndexMarks | null {
  const row = db.prepare('SELECT indexed_id AS indexedId, outbox_id AS outboxId FROM index_marks WHERE id = 1').get() as IndexMarks | undefined;
  return row ?? null;
}

/** Rows read per step: one step is one transaction of the index. */
export const INDEX_BATCH = 2000;

interface SourceRow {
  id: number;
  content: string;
  attachments: string | null;
  deleted_at: number | null;
}

/**
 * One step of the indexer: reads what the main database has beyond the
 * marks (one read snapshot), applies it to the index and advances the marks
 * (one transaction). Returns the new marks and whether there may be more.
 */
export class IndexStep {
  private readonly readSource;
  private readonly write;

  constructor(
    main: Database.Database,
    private readonly index: Database.Database,
  ) {
    const newMessages = main.prepare(`SELECT id, content, attachments, deleted_at FROM messages WHERE id > ? ORDER BY id LIMIT ${INDEX_BATCH}`);
    const outbox = main.prepare(`SELECT id, message_id FROM search_outbox WHERE id > ? ORDER BY id LIMIT ${INDEX_BATCH}`);
    const messageById = main.prepare('SELECT id, content, attachments, deleted_at FROM messages WHERE id = ?');
    // One read snapshot of the main database for both queries.
    this.readSource = main.transaction((marks: IndexMarks) => {
      const messages = newMessages.all(marks.indexedId) as SourceRow[];
      const indexedId = messages.length > 0 ? messages[messages.length - 1]!.id : marks.indexedId;
      // Changes to messages at or below indexedId are re-indexed from their
      // current row; those above it are indexed, current, by a later step.
      const changes = (outbox.all(marks.outboxId) as { id: number; message_id: number }[]).map((o) => ({
        outboxId: o.id,
        row: o.message_id <= indexedId ? ((messageById.get(o.message_id) as SourceRow | undefined) ?? null) : null,
        messageId: o.message_id,
      }));
      return { messages, changes, indexedId };
    });

    index.function('parley_word_prefixes', { deterministic: true }, (text: unknown) => wordPrefixes(String(text ?? '')));
    const insertTrigrams = index.prepare('INSERT INTO message_trigrams (rowid, content) VALUES (?, ?)');
    const insertWords = index.prepare('INSERT INTO message_words (rowid, content) VALUES (?, parley_word_prefixes(?))');
    const removeTrigrams = index.prepare('DELETE FROM message_trigrams WHERE rowid = ?');
    const removeWords = index.prepare('DELETE FROM message_words WHERE rowid = ?');
    const setMarks = index.prepare('UPDATE index_marks SET indexed_id = ?, outbox_id = ? WHERE id = 1');
    const add = (r: SourceRow) => {
      if (r.deleted_at !== null) return;
      const text = searchableText(r.content, attachmentNames(r.attachments));
      insertTrigrams.run(r.id, text);
      insertWords.run(r.id, text);
    };
    this.write = index.transaction((source: ReturnType<typeof this.readSource>, marks: IndexMarks): IndexMarks => {
      for (const m of source.messages) add(m);
      let outboxId = marks.outboxId;
      for (const c of source.changes) {
        outboxId = c.outboxId;
        if (c.messageId > source.indexedId) continue;
        removeTrigrams.run(c.messageId);
        removeWords.run(c.messageId);
        if (c.row) add(c.row);
      }
      const next = { indexedId: source.indexedId, outboxId };
      setMarks.run(next.indexedId, next.outboxId);
      return next;
    });
  }

  run(marks: IndexMarks): { marks: IndexMarks; more: boolean } {
    const source = this.readSource(marks);
    if (source.messages.length === 0 && source.changes.length === 0) return { marks, more: false };
    // The main thread prunes outbox entries once the marks pass them, so a
    // step that applies changes must be durable before it reports: an entry a
    // deletion removed must not come back with a power loss. (Syncing the WAL
    // makes the earlier NORMAL commits durable too.)
    const durable = source.changes.length > 0;
    if (durable) this.index.pragma('synchronous = FULL');
    let next: IndexMarks;
    try {
      next = this.write.immediate(source, marks);
    } finally {
      if (durable) this.index.pragma('synchronous = NORMAL');
    }
    return { marks: next, more: source.messages.length === INDEX_BATCH || source.changes.length === INDEX_BATCH };
  }
}
