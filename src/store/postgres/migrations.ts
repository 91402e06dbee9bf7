/**
 * Versioned schema of the PostgreSQL store. Each step runs once, in order, in
 * its own transaction, recorded in `parley_migrations`; nodes that start at
 * once serialise on an advisory lock, so one of them migrates and the others
 * find it done. Never edit a step that has shipped: add the next one.
 *
 * Text keys that are compared by range (`username_key`, `display_key`) use
 * the "C" collation: byte order, which for UTF-8 is code point order, the
 * same as SQLite's, whatever the database's locale.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users, conversations, members, messages, marker moves, search',
    sql: `
      -- Orders what happened first where millisecond clocks tie (conversation
      -- activity, member joins) across every node: never a process's memory.
      CREATE SEQUENCE ticks AS bigint;

      CREATE TABLE users (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        username      text   NOT NULL,
        username_key  text   COLLATE "C" NOT NULL UNIQUE,   -- lower(username): unique ignoring case
        display_name  text   NOT NULL,
        display_key   text   COLLATE "C" NOT NULL,          -- lower(display_name), for prefix search
        password_hash text   NOT NULL,
        created_at    bigint NOT NULL,
        last_seen_at  bigint
      );
      CREATE INDEX users_display_key ON users (display_key);

      CREATE TABLE conversations (
        id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        type             text   NOT NULL CHECK (type IN ('direct', 'group')),
        title            text,
        owner_id         bigint REFERENCES users (id),
        direct_key       text   UNIQUE,                     -- 'lowId:highId' for direct pairs
        last_seq         bigint NOT NULL DEFAULT 0,
        last_rev         bigint NOT NULL DEFAULT 0,
        created_at       bigint NOT NULL,
        last_activity_at bigint NOT NULL,
        activity         bigint NOT NULL                    -- tick of the latest activity: orders the list
      );

      CREATE TABLE members (
        conversation_id bigint   NOT NULL REFERENCES conversations (id),
        user_id         bigint   NOT NULL REFERENCES users (id),
        joined_at       bigint   NOT NULL,
        joined_tick     bigint   NOT NULL,                  -- orders members: longest-standing first
        delivered_seq   bigint   NOT NULL DEFAULT 0,
        read_seq        bigint   NOT NULL DEFAULT 0,
        archived        smallint NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, user_id)
      );
      CREATE INDEX members_by_user ON members (user_id, archived);
      CREATE INDEX members_by_join ON members (conversation_id, joined_tick);

      CREATE TABLE messages (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_id bigint NOT NULL REFERENCES conversations (id),
        seq             bigint NOT NULL,
        rev             bigint NOT NULL,
        sender_id       bigint NOT NULL REFERENCES users (id),
        content         text   NOT NULL,
        client_id       text,
        created_at      bigint NOT NULL,
        edited_at       bigint,
        deleted_at      bigint,
        -- What search reads, written with the content (search-columns.ts):
        -- the text with case and accents folded (substrings, through the
        -- trigram index), and the first one and two characters of each word
        -- (word prefixes; each character of an unspaced script is a word).
        search_text     text   NOT NULL DEFAULT '',
        search_words    text[] NOT NULL DEFAULT '{}'
      );
      -- history: latest N, before S, after S are range scans of this index
      CREATE UNIQUE INDEX messages_seq ON messages (conversation_id, seq);
      -- sync: everything after a rev cursor
      CREATE UNIQUE INDEX messages_rev ON messages (conversation_id, rev);
      -- idempotent sends
      CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, sender_id, client_id)
        WHERE client_id IS NOT NULL;
      -- unread counts subtract the deleted messages after a marker
      CREATE INDEX messages_deleted ON messages (conversation_id, seq) WHERE deleted_at IS NOT NULL;

      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      CREATE INDEX messages_search_text ON messages USING gin (search_text gin_trgm_ops);
      CREATE INDEX messages_search_words ON messages USING gin (search_words);

      -- One row per move of a member's delivered (0) or read (1) marker; see
      -- the SQLite schema (sqlite/migrations.ts, version 2) for the rules.
      CREATE TABLE marker_moves (
        conversation_id bigint   NOT NULL,
        user_id         bigint   NOT NULL,
        type            smallint NOT NULL CHECK (type IN (0, 1)),
        seq             bigint   NOT NULL,
        opened_at       bigint   NOT NULL,
        at              bigint   NOT NULL,
        PRIMARY KEY (conversation_id, user_id, type, seq)
      );
    `,
  },
  {
    version: 2,
    name: 'sessions: one per sign-in, revocable',
    sql: `
      CREATE TABLE sessions (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id    bigint NOT NULL REFERENCES users (id),
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        revoked_at bigint
      );
      CREATE INDEX sessions_by_user ON sessions (user_id) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 3,
    name: 'sessions: pruned once expired',
    sql: `CREATE INDEX sessions_by_expiry ON sessions (expires_at);`,
  },
  {
    version: 4,
    name: 'rich messages: replies, mentions, reactions',
    sql: `
      -- reply_to_id: the message replied to (same conversation; its quote is
      -- read with the reply). mentions: JSON, the mentioned members' keys;
      -- reactions: JSON, [[emoji, [user keys]], ...]. NULL: none. A deleted
      -- message holds none of the three.
      ALTER TABLE messages ADD COLUMN reply_to_id bigint, ADD COLUMN mentions text, ADD COLUMN reactions text;
      -- One row per mentioned member of a message not deleted: unread
      -- mentions are counted here (a range of the primary key). (The
      -- references, as members' own, also let TRUNCATE ... CASCADE of
      -- users or conversations empty it.)
      CREATE TABLE message_mentions (
        user_id         bigint NOT NULL REFERENCES users (id),
        conversation_id bigint NOT NULL REFERENCES conversations (id),
        seq             bigint NOT NULL,
        PRIMARY KEY (user_id, conversation_id, seq)
      );
    `,
  },
  {
    version: 5,
    name: 'attachments: uploads, erased blobs, blob storage',
    sql: `
      -- Uploads: message_id set once sent; the bytes in blob storage under
      -- blob_key (and thumbnail_key). The references let TRUNCATE ... CASCADE
      -- of users or conversations empty it, as for members.
      CREATE TABLE attachments (
        id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_id bigint  NOT NULL REFERENCES conversations (id),
        uploader_id     bigint  NOT NULL REFERENCES users (id),
        message_id      bigint,
        name            text    NOT NULL,
        mime            text    NOT NULL,
        size            bigint  NOT NULL,
        width           integer,
        height          integer,
        blob_key        text    NOT NULL,
        thumbnail_key   text,
        thumbnail_mime  text,
        created_at      bigint  NOT NULL
      );
      -- a deleted message's attachments
      CREATE INDEX attachments_by_message ON attachments (message_id) WHERE message_id IS NOT NULL;
      -- uploads never sent, expired by age
      CREATE INDEX attachments_unsent ON attachments (created_at) WHERE message_id IS NULL;
      -- A message's attachments as it carries them (JSON, in order): read with it, never joined.
      ALTER TABLE messages ADD COLUMN attachments text;
      -- Blobs of erased attachments, written in the erasing transaction;
      -- deleted from blob storage, then from here.
      CREATE TABLE erased_blobs (key text PRIMARY KEY);
      -- The bytes of blobs when PostgreSQL holds them (src/blobs/postgres-blobs.ts).
      CREATE TABLE blob_chunks (
        key  text    NOT NULL,
        n    integer NOT NULL,
        data bytea   NOT NULL,
        PRIMARY KEY (key, n)
      );
      ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;  -- files are mostly compressed already
    `,
  },
  {
    version: 6,
    name: 'notification preferences',
    sql: `
      -- A member's own: 0 all, 1 mentions, 2 none; muted_until in ms (only mentions until then).
      ALTER TABLE members ADD COLUMN notify_level smallint NOT NULL DEFAULT 0;
      ALTER TABLE members ADD COLUMN muted_until bigint;
    `,
  },
  {
    version: 7,
    name: 'web push: subscriptions, previews, keys',
    sql: `
      -- A browser's subscription, made in one session: used only while that session is valid.
      CREATE TABLE push_subscriptions (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id    bigint NOT NULL REFERENCES users (id),
        session_id bigint NOT NULL,
        endpoint   text   NOT NULL UNIQUE,
        p256dh     text   NOT NULL,
        auth       text   NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE INDEX push_subscriptions_by_user ON push_subscriptions (user_id, created_at);
      -- The user's choice: notifications show message text (1) or not (0).
      ALTER TABLE users ADD COLUMN notification_previews smallint NOT NULL DEFAULT 1;
      -- Keys every node must share (VAPID), made once by whichever node starts first.
      CREATE TABLE server_keys (name text PRIMARY KEY, value text NOT NULL);
    `,
  },
  {
    version: 8,
    name: 'notification queue',
    sql: `
      -- Messages first_seq..last_seq of a conversation to tell a recipient through a
      -- channel (0 webhook: one message a job; 1 push: one job however many, collapsed).
      -- Claimed with FOR UPDATE SKIP LOCKED and a lease: one node sends each.
      CREATE TABLE notification_jobs (
        id              bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        recipient_id    bigint   NOT NULL,
        conversation_id bigint   NOT NULL,
        channel         smallint NOT NULL,
        first_seq       bigint   NOT NULL,
        last_seq        bigint   NOT NULL,
        attempts        integer  NOT NULL DEFAULT 0,
        due_at          bigint   NOT NULL,
        claimed_until   bigint,
        direct          smallint NOT NULL
      );
      CREATE UNIQUE INDEX notification_jobs_push ON notification_jobs (recipient_id, conversation_id) WHERE channel = 1;
      CREATE UNIQUE INDEX notification_jobs_webhook ON notification_jobs (recipient_id, conversation_id, first_seq) WHERE channel = 0;
      CREATE INDEX notification_jobs_due ON notification_jobs (direct, due_at);
    `,
  },
];
