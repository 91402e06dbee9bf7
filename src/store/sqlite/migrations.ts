/**
 * Versioned schema. Each step runs once, in order, in its own transaction,
 * and PRAGMA user_version records the last one applied. Never edit a step
 * that has shipped: add the next one.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users, conversations, members, messages',
    sql: `
      -- One strictly increasing counter for "what happened first" where
      -- millisecond clocks tie: conversation activity and member joins.
      CREATE TABLE ticks (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
      INSERT INTO ticks (id, value) VALUES (1, 0);

      CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        username      TEXT    NOT NULL,
        username_key  TEXT    NOT NULL UNIQUE,   -- lower(username): unique ignoring case
        display_name  TEXT    NOT NULL,
        display_key   TEXT    NOT NULL,          -- lower(display_name), for prefix search
        password_hash TEXT    NOT NULL,
        created_at    INTEGER NOT NULL,
        last_seen_at  INTEGER
      );
      CREATE INDEX users_display_key ON users(display_key);

      CREATE TABLE conversations (
        id               INTEGER PRIMARY KEY,
        type             TEXT    NOT NULL CHECK (type IN ('direct', 'group')),
        title            TEXT,
        owner_id         INTEGER REFERENCES users(id),
        direct_key       TEXT    UNIQUE,          -- 'lowId:highId' for direct pairs
        last_seq         INTEGER NOT NULL DEFAULT 0,
        last_rev         INTEGER NOT NULL DEFAULT 0,
        created_at       INTEGER NOT NULL,
        last_activity_at INTEGER NOT NULL,
        activity         INTEGER NOT NULL        -- tick of the latest activity: orders the list
      );

      CREATE TABLE members (
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        user_id         INTEGER NOT NULL REFERENCES users(id),
        joined_at       INTEGER NOT NULL,
        joined_tick     INTEGER NOT NULL,        -- orders members: longest-standing first
        delivered_seq   INTEGER NOT NULL DEFAULT 0,
        read_seq        INTEGER NOT NULL DEFAULT 0,
        archived        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX members_by_user ON members(user_id, archived);
      CREATE INDEX members_by_join ON members(conversation_id, joined_tick);

      CREATE TABLE messages (
        id              INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        seq             INTEGER NOT NULL,
        rev             INTEGER NOT NULL,
        sender_id       INTEGER NOT NULL REFERENCES users(id),
        content         TEXT    NOT NULL,
        client_id       TEXT,
        created_at      INTEGER NOT NULL,
        edited_at       INTEGER,
        deleted_at      INTEGER
      );
      -- history: latest N, before S, after S are range scans of this index
      CREATE UNIQUE INDEX messages_seq ON messages(conversation_id, seq);
      -- sync: everything after a rev cursor
      CREATE UNIQUE INDEX messages_rev ON messages(conversation_id, rev);
      -- idempotent sends
      CREATE UNIQUE INDEX messages_client_id ON messages(conversation_id, sender_id, client_id)
        WHERE client_id IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'marker moves, for "seen by ... at"',
    sql: `
      -- One row per move of a member's delivered (0) or read (1) marker. Moves
      -- within a second of the previous one update it instead, and only the
      -- latest moves are kept per member, so storage grows with members and
      -- time, not with members × messages.
      CREATE TABLE marker_moves (
        conversation_id INTEGER NOT NULL,
        user_id         INTEGER NOT NULL,
        type            INTEGER NOT NULL CHECK (type IN (0, 1)),
        seq             INTEGER NOT NULL,
        opened_at       INTEGER NOT NULL,        -- first move of this row's one-second window
        at              INTEGER NOT NULL,        -- latest move: when the marker reached seq
        PRIMARY KEY (conversation_id, user_id, type, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'search indexes; deleted messages index',
    sql: `
      -- Substrings of 3+ characters, case and accents folded (trigram), and
      -- the first two characters of each word (unicode61 over
      -- parley_word_prefixes), where each character of an unspaced script
      -- (CJK, Thai...) is a word, so two-character words are found as
      -- phrases. Contentless: the text lives in messages; a deletion removes
      -- the row (contentless_delete) and its entries (secure-delete).
      CREATE VIRTUAL TABLE message_trigrams USING fts5(
        content, content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
      CREATE VIRTUAL TABLE message_words USING fts5(
        content, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
      -- A deletion removes the entries from the index itself, not only marks them.
      INSERT INTO message_trigrams (message_trigrams, rank) VALUES ('secure-delete', 1);
      INSERT INTO message_words (message_words, rank) VALUES ('secure-delete', 1);
      INSERT INTO message_trigrams (rowid, content) SELECT id, content FROM messages WHERE deleted_at IS NULL;
      INSERT INTO message_words (rowid, content) SELECT id, parley_word_prefixes(content) FROM messages WHERE deleted_at IS NULL;

      -- Unread counts subtract the deleted messages after a marker: a small
      -- index, holding only deleted messages.
      CREATE INDEX messages_deleted ON messages(conversation_id, seq, deleted_at) WHERE deleted_at IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'search index moved to its own file; outbox of changes to index',
    sql: `
      -- The full-text index now lives in DB.search.db, kept by a worker thread
      -- (search-index.ts); it is rebuilt there from the messages.
      DROP TABLE message_trigrams;
      DROP TABLE message_words;
      -- Edits and deletions, for the indexer: written in the change's
      -- transaction, pruned once the index has applied them. AUTOINCREMENT:
      -- ids are never reused, so the index's mark stays meaningful.
      CREATE TABLE search_outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'sessions: one per sign-in, revocable',
    sql: `
      CREATE TABLE sessions (
        id         INTEGER PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE INDEX sessions_by_user ON sessions(user_id) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 6,
    name: 'sessions: pruned once expired',
    sql: `CREATE INDEX sessions_by_expiry ON sessions(expires_at);`,
  },
  {
    version: 7,
    name: 'rich messages: replies, mentions, reactions',
    sql: `
      -- The message replied to (same conversation); its quote is read with the reply.
      ALTER TABLE messages ADD COLUMN reply_to_id INTEGER;
      -- JSON: the mentioned members' keys; reactions as [[emoji, [user keys]], ...]. NULL: none.
      ALTER TABLE messages ADD COLUMN mentions TEXT;
      ALTER TABLE messages ADD COLUMN reactions TEXT;
      -- One row per mentioned member of a message not deleted: unread mentions are counted here.
      CREATE TABLE message_mentions (
        user_id         INTEGER NOT NULL,
        conversation_id INTEGER NOT NULL,
        seq             INTEGER NOT NULL,
        PRIMARY KEY (user_id, conversation_id, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 8,
    name: 'attachments',
    sql: `
      -- Uploads: message_id set once sent; the bytes in blob storage under blob_key.
      -- AUTOINCREMENT: an erased attachment's id is never reused (an old link names no other file).
      CREATE TABLE attachments (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL,
        uploader_id     INTEGER NOT NULL,
        message_id      INTEGER,
        name            TEXT    NOT NULL,
        mime            TEXT    NOT NULL,
        size            INTEGER NOT NULL,
        width           INTEGER,
        height          INTEGER,
        blob_key        TEXT    NOT NULL,
        thumbnail_key   TEXT,
        thumbnail_mime  TEXT,
        created_at      INTEGER NOT NULL
      );
      CREATE INDEX attachments_by_message ON attachments(message_id) WHERE message_id IS NOT NULL;
      CREATE INDEX attachments_unsent ON attachments(created_at) WHERE message_id IS NULL;
      -- A message's attachments as it carries them (JSON, in order): read with it, never joined.
      ALTER TABLE messages ADD COLUMN attachments TEXT;
      -- Blobs of erased attachments, written in the erasing transaction; deleted from storage, then from here.
      CREATE TABLE erased_blobs (key TEXT PRIMARY KEY) WITHOUT ROWID;
    `,
  },
  {
    version: 9,
    name: 'notification preferences',
    sql: `
      -- A member's own: 0 all, 1 mentions, 2 none; muted_until in ms (only mentions until then).
      ALTER TABLE members ADD COLUMN notify_level INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE members ADD COLUMN muted_until INTEGER;
    `,
  },
  {
    version: 10,
    name: 'web push: subscriptions, previews',
    sql: `
      -- A browser's subscription, made in one session: used only while that session is valid.
      CREATE TABLE push_subscriptions (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id    INTEGER NOT NULL,
        session_id INTEGER NOT NULL,
        endpoint   TEXT    NOT NULL UNIQUE,
        p256dh     TEXT    NOT NULL,
        auth       TEXT    NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id, created_at);
      -- The user's choice: notifications show message text (1) or not (0).
      ALTER TABLE users ADD COLUMN notification_previews INTEGER NOT NULL DEFAULT 1;
    `,
  },
  {
    version: 11,
    name: 'notification queue',
    sql: `
      -- Messages first_seq..last_seq of a conversation to tell a recipient through a
      -- channel (0 webhook: one message a job; 1 push: one job however many, collapsed).
      CREATE TABLE notification_jobs (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        recipient_id    INTEGER NOT NULL,
        conversation_id INTEGER NOT NULL,
        channel         INTEGER NOT NULL,
        first_seq       INTEGER NOT NULL,
        last_seq        INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        due_at          INTEGER NOT NULL,
        claimed_until   INTEGER,
        direct          INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX notification_jobs_push ON notification_jobs(recipient_id, conversation_id) WHERE channel = 1;
      CREATE UNIQUE INDEX notification_jobs_webhook ON notification_jobs(recipient_id, conversation_id, first_seq) WHERE channel = 0;
      CREATE INDEX notification_jobs_due ON notification_jobs(direct, due_at);
    `,
  },
];

/** Brings the schema up to date: each missing step in its own transaction. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this build knows (${latest})`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
