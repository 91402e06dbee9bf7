import webpush from 'web-push';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDiskBlobs } from '../../src/blobs/local-disk.js';
import { PostgresBlobs } from '../../src/blobs/postgres-blobs.js';
import { decodeId } from '../../src/store/ids.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { fromDbText } from '../../src/store/postgres/text.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AttachmentRecord, ConversationRecord, MarkerMove, MessageRecord, NewMessage, Store, UserRecord } from '../../src/store/store.js';
import { portSqliteToPostgres, PortRefused, redactUrl, type PortSummary } from '../../src/store/port-sqlite-to-postgres.js';
import { createDatabase, postgresOrSkip } from '../helpers/services.js';
import { DatabaseLock } from '../../src/store/sqlite/lock.js';

/**
 * The SQLite → PostgreSQL port (src/store/port-sqlite-to-postgres.ts): a
 * deployment built through the SqliteStore API, ported, then read through
 * both stores, which must answer the same; new writes on PostgreSQL continue
 * the ids, seqs, revs and ticks; a non-empty target and a running server are
 * refused; and the CLI once end to end.
 */

const adminUrl = postgresOrSkip();
const ROOT = path.resolve(import.meta.dirname, '../..');
const BUILT_CLI = path.join(ROOT, 'dist', 'tools', 'port-db.js');
const T0 = 1_700_000_000_000;
const VAPID = webpush.generateVAPIDKeys();

interface Deployment {
  users: UserRecord[];
  conversations: ConversationRecord[];
  /** Uploads as made (before they were sent); the last one is the deleted message's. */
  uploads: AttachmentRecord[];
}

/** The local-disk blob storage beside a SQLite file (where the server keeps it). */
const blobDirOf = (file: string) => path.join(path.dirname(file), 'attachments');

/** A SQLite deployment's file and its blobs, copied to `to`. */
function copyDeployment(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  fs.cpSync(blobDirOf(from), blobDirOf(to), { recursive: true });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** A deployment with a bit of everything the port must carry, built on `file` through the store's API. */
async function buildDeployment(file: string): Promise<Deployment> {
  const store = new SqliteStore({ file });
  const blobs = await LocalDiskBlobs.open(blobDirOf(file));
  try {
    const user = (name: string, at = T0) => store.createUser({ username: name, displayName: `${name[0]!.toUpperCase()}${name.slice(1)}`, passwordHash: `scrypt:${name}`, createdAt: at });
    const [alice, bob, carol, dave, erin, frank, grace] = [
      await user('alice'),
      await user('Bob', T0 + 1),
      await user('carol', T0 + 2),
      await user('dave', T0 + 3),
      await user('erin', T0 + 4),
      await user('frank', T0 + 5),
      await user('grace', T0 + 6), // in no conversation
    ] as [UserRecord, UserRecord, UserRecord, UserRecord, UserRecord, UserRecord, UserRecord];
    await store.updateDisplayName(bob.id, 'Bobby Tables');
    // Sessions: live ones keep their tokens working after the port, revoked ones stay revoked.
    for (const u of [alice, bob, alice]) await store.createSession({ userId: u.id, createdAt: T0, expiresAt: T0 + 86_400_000 });
    await store.revokeSession(await store.createSession({ userId: carol.id, createdAt: T0, expiresAt: T0 + 86_400_000 }), T0 + 5);
    await store.setLastSeen([
      { userId: alice.id, at: T0 + 90_000 },
      { userId: carol.id, at: T0 + 80_000 },
    ]);
    const conv = async (type: 'direct' | 'group', members: UserRecord[], title: string | null, at: number) =>
      (
        await store.createConversation({ type, title, ownerId: type === 'group' ? members[0]!.id : null, memberIds: members.map((m) => m.id), createdAt: at })
      ).conversation;
    const ab = await conv('direct', [alice, bob], null, T0 + 100);
    const ac = await conv('direct', [carol, alice], null, T0 + 100); // same millisecond: ticks order them
    const team = await conv('group', [alice, bob, carol, dave, erin], 'Team', T0 + 200);
    const book = await conv('group', [carol, alice, erin], 'Book club 📚', T0 + 300);
    const quiet = await conv('group', [dave, frank], 'Nothing said yet', T0 + 400);

    let at = T0 + 1000;
    const send = async (c: ConversationRecord, from: UserRecord, content: string, clientId: string | null = null, rich: Partial<NewMessage> = {}): Promise<MessageRecord> => {
      at += 700;
      const [o] = await store.appendMessages([{ conversationId: c.id, senderId: from.id, content, clientId, createdAt: at, ...rich }]);
      if (o?.kind !== 'stored') throw new Error(`not stored: ${JSON.stringify(o)}`);
      return o.message;
    };
    // Uploads: bytes in the local-disk blob storage, then the row (as AttachmentService does).
    const uploads: AttachmentRecord[] = [];
    const upload = async (c: ConversationRecord, by: UserRecord, name: string, size: number, thumbnail: boolean): Promise<AttachmentRecord> => {
      const blobKey = randomUUID();
      await blobs.put(blobKey, [randomBytes(size)], size);
      if (thumbnail) await blobs.put(`${blobKey}-thumb`, [randomBytes(700)], 700);
      const a = await store.createAttachment({
        conversationId: c.id,
        uploaderId: by.id,
        name,
        mime: thumbnail ? 'image/png' : 'application/pdf',
        size,
        width: thumbnail ? 1024 : null,
        height: thumbnail ? 768 : null,
        blobKey,
        thumbnailKey: thumbnail ? `${blobKey}-thumb` : null,
        thumbnailMime: thumbnail ? 'image/webp' : null,
        createdAt: (at += 10),
      });
      uploads.push(a);
      return a;
    };
    const hello = await send(ab, alice, 'hello Bob', 'cid-1');
    await send(ab, bob, 'hello Alice, café later?', 'cid-\u0000-nul');
    // A photo of more than two chunks of blob_chunks, and a document, sent with a message.
    const photo = await upload(ab, alice, 'Tōkyō \u0000 tower.png', 600_000, true);
    const doc = await upload(ab, alice, 'plan.pdf', 3000, false);
    await send(ab, alice, '東京タワーで会いましょう 你好世界', null, { attachmentIds: [photo.id, doc.id] });
    await send(ab, bob, 'a NUL \u0000 inside, and \uffff too');
    // An upload never sent (expired later by the sweep).
    await upload(ac, carol, 'draft.pdf', 500, false);
    // Deleted below: its upload is erased (its blobs listed in erased_blobs).
    const doomed = await upload(ab, alice, 'secret.png', 2000, true);
    const secret = await send(ab, alice, 'a secret to be deleted', null, { attachmentIds: [doomed.id] });
    const unicode = await send(ac, carol, 'Ünïcödé naïve façade');
    // A reply that mentions, with reactions below.
    const reply = await send(ac, alice, 'emoji 😀 grinning @carol', null, { replyToId: unicode.id, mentionNames: ['carol'] });
    if (reply.mentions.length !== 1 || !reply.replyTo) throw new Error('reply not as expected');
    // A batch of several conversations at once.
    const batch: NewMessage[] = [];
    for (let i = 1; i <= 30; i++) {
      const from = [alice, bob, carol, dave, erin][i % 5]!;
      batch.push({ conversationId: team.id, senderId: from.id, content: `team message ${i} about the roadmap`, clientId: i % 3 === 0 ? `team-${i}` : null, createdAt: (at += 10) });
      if (i % 10 === 0) batch.push({ conversationId: book.id, senderId: carol.id, content: `chapter ${i / 10} thoughts`, clientId: null, createdAt: (at += 10) });
    }
    const outcomes = await store.appendMessages(batch);
    if (!outcomes.every((o) => o.kind === 'stored')) throw new Error('batch not stored');
    const teamMsgs = outcomes.flatMap((o) => (o.kind === 'stored' && o.message.conversationId === team.id ? [o.message] : []));
    // A long read for the book club, in batches of ten.
    for (let page = 0; page < 70; page += 10) {
      const pages = Array.from({ length: 10 }, (_, i) => ({ conversationId: book.id, senderId: carol.id, content: `page ${page + i + 1} of the book`, clientId: null, createdAt: (at += 5) }));
      await store.appendMessages(pages);
    }

    const changed = await store.changeMessages([
      { kind: 'edit', messageId: hello.id, userId: alice.id, content: 'hello Bob (edited) 東京', at: (at += 100) },
      { kind: 'delete', messageId: secret.id, userId: alice.id, at: (at += 100) },
      { kind: 'edit', messageId: teamMsgs[4]!.id, userId: teamMsgs[4]!.senderId, content: 'team message five, rewritten', at: (at += 100) },
      { kind: 'delete', messageId: teamMsgs[7]!.id, userId: teamMsgs[7]!.senderId, at: (at += 100) },
      { kind: 'react', messageId: reply.id, userId: carol.id, emoji: '👍🏽', add: true, at: (at += 100) },
      { kind: 'react', messageId: reply.id, userId: alice.id, emoji: '👍🏽', add: true, at: (at += 100) },
      { kind: 'react', messageId: unicode.id, userId: alice.id, emoji: '🇫🇷', add: true, at: (at += 100) },
    ]);
    if (!changed.every((o) => o.kind === 'changed')) throw new Error('changes not applied');

    // Receipts: some within a second of each other (one log row), some apart.
    const moves: MarkerMove[] = [
      { conversationId: ab.id, userId: bob.id, type: 'delivered', seq: 3, at: (at += 50) },
      { conversationId: ab.id, userId: bob.id, type: 'delivered', seq: 5, at: (at += 200) },
      { conversationId: ab.id, userId: alice.id, type: 'read', seq: 4, at: (at += 3000) },
      { conversationId: team.id, userId: carol.id, type: 'read', seq: 10, at: (at += 3000) },
      { conversationId: team.id, userId: carol.id, type: 'read', seq: 20, at: (at += 3000) },
      { conversationId: team.id, userId: dave.id, type: 'delivered', seq: 30, at: (at += 100) },
      { conversationId: team.id, userId: erin.id, type: 'read', seq: 15, at: (at += 2000) },
      { conversationId: book.id, userId: alice.id, type: 'read', seq: 2, at: (at += 2000) },
    ];
    await store.advanceMarkers(moves);
    for (let seq = 3; seq <= 73; seq++) {
      // More moves than the log keeps per member (64): it compacts.
      await store.advanceMarkers([{ conversationId: book.id, userId: alice.id, type: 'read', seq, at: (at += 1500 + (seq % 7) * 100) }]);
    }
    // Membership: a newcomer (markers logged at the join), a member removed,
    // an owner who leaves (the group passes on).
    await store.addMember(team.id, frank.id, (at += 1000));
    await store.removeMember(team.id, erin.id);
    await store.removeMember(book.id, carol.id);
    await store.setArchived(ab.id, bob.id, true);
    await store.setArchived(team.id, dave.id, true);
    await store.setArchived(quiet.id, frank.id, true);
    await store.setArchived(quiet.id, frank.id, false);
    // Notification preferences (v1.1): kept as they are.
    await store.setNotifications(team.id, dave.id, 'mentions', T0 + 86_400_000);
    await store.setNotifications(ab.id, bob.id, 'none', null);
    await send(team, frank, 'hi all, frank here');
    await send(book, alice, 'still reading');
    await store.updateTitle(team.id, 'Team (renamed)');
    // Joins last: the highest ticks are join ticks, not activities.
    await store.addMember(quiet.id, carol.id, (at += 1000));
    await store.addMember(quiet.id, erin.id, (at += 1000));

    const users = await store.usersByIds([alice, bob, carol, dave, erin, frank, grace].map((u) => u.id));
    const conversations = await store.conversationsByIds([ab, ac, team, book, quiet].map((c) => c.id));
    return { users: users.sort(byKey('u')), conversations: conversations.sort(byKey('c')), uploads };
  } finally {
    await blobs.close();
    await store.close();
  }
}

const byKey =
  (kind: 'u' | 'c' | 'm') =>
  (a: { id: string }, b: { id: string }): number =>
    (decodeId(kind, a.id) ?? 0) - (decodeId(kind, b.id) ?? 0);

/** Every page of a conversation's history, newest first, and then oldest first. */
async function allHistory(store: Store, c: string): Promise<unknown[]> {
  const pages: unknown[] = [];
  let page = await store.history(c, { latest: true, limit: 4 });
  pages.push(page);
  while (page.hasMore) {
    page = await store.history(c, { before: page.messages[0]!.seq, limit: 4 });
    pages.push(page);
  }
  let after = 0;
  for (;;) {
    page = await store.history(c, { after, limit: 7 });
    pages.push(page);
    if (!page.hasMore) break;
    after = page.messages[page.messages.length - 1]!.seq;
  }
  return pages;
}

async function maxIds(pool: PostgresStore['pool']): Promise<Record<string, unknown>> {
  const { rows } = await pool.query(
    `SELECT (SELECT max(id) FROM users) AS u, (SELECT max(id) FROM conversations) AS c, (SELECT max(id) FROM messages) AS m,
            (SELECT max(activity) FROM conversations) AS activity, (SELECT max(joined_tick) FROM members) AS joined_tick`,
  );
  return rows[0] as Record<string, unknown>;
}

/** Everything in the ported tables, as one digest per table: "nothing changed" is the same digests. */
async function snapshot(pool: PostgresStore['pool']): Promise<Record<string, unknown>> {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM users t) AS users,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM conversations t) AS conversations,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.conversation_id, t.user_id), '')) FROM members t) AS members,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM messages t) AS messages,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.conversation_id, t.user_id, t.type, t.seq), '')) FROM marker_moves t) AS marker_moves,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM sessions t) AS sessions,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM attachments t) AS attachments,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.key), '')) FROM erased_blobs t) AS erased_blobs,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t.key || ':' || t.n || ':' || md5(t.data), ',' ORDER BY t.key, t.n), '')) FROM blob_chunks t)
              AS blob_chunks`,
  );
  return rows[0] as Record<string, unknown>;
}

/** One statement's rows, on a connection of its own. */
async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(sql);
    return (Array.isArray(result) ? result.at(-1) : result).rows;
  } finally {
    await client.end();
  }
}

/** Runs the CLI: the built one when `npm run build` made it, else the source through tsx. */
function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = fs.existsSync(BUILT_CLI) ? [BUILT_CLI, ...args] : ['--import', 'tsx', path.join(ROOT, 'src', 'tools', 'port-db.ts'), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, DATABASE_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!adminUrl)('port from SQLite to PostgreSQL', () => {
  let dir: string;
  /** The deployment's file, opened by `sqlite` during the tests (its lock held). */
  let file: string;
  /** A copy of it, with no server on it, for the ports run by the tests. */
  let copy: string;
  let deployment: Deployment;
  const databases: Awaited<ReturnType<typeof createDatabase>>[] = [];
  let target: Awaited<ReturnType<typeof createDatabase>>;
  let sqlite: SqliteStore;
  let pgs: PostgresStore;
  let summary: PortSummary;
  const log: string[] = [];

  const newDatabase = async () => {
    const db = await createDatabase(adminUrl as string);
    databases.push(db);
    return db;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-port-'));
    file = path.join(dir, 'parley.db');
    copy = path.join(dir, 'copy', 'parley.db');
    deployment = await buildDeployment(file);
    // The deployment's Web Push keys, as the server makes them beside its database.
    fs.writeFileSync(path.join(dir, 'vapid-keys.json'), JSON.stringify(VAPID) + '\n', { mode: 0o600 });
    copyDeployment(file, copy);
    target = await newDatabase();
    // Small batches and every progress line: the batching is exercised too.
    summary = await portSqliteToPostgres({ sqliteFile: file, postgresUrl: target.url, log: (l) => log.push(l), batchSize: 4, progressEveryMs: 0 });
    expect(summary.counts.users).toBe(7);
    expect(summary.counts.conversations).toBe(5);
    expect(summary.counts.messages).toBe(7 + 30 + 3 + 70 + 2);
    expect(summary.counts.members).toBe(2 + 2 + 5 + 3 + 2 + 1 - 2 + 2);
    expect(summary.counts.marker_moves).toBeGreaterThan(64 * 2);
    expect(summary.counts.attachments).toBe(3);
    expect(summary.counts.erased_blobs).toBe(2);
    expect(summary.blobs).toEqual({ copied: 4, bytes: 600_000 + 700 + 3000 + 500, missing: [] });
    expect(() => DatabaseLock.acquire(file).release(), 'the lock was let go').not.toThrow();
    sqlite = new SqliteStore({ file });
    pgs = await PostgresStore.open({ url: target.url });
  }, 120_000);

  afterAll(async () => {
    await sqlite?.close();
    await pgs?.close();
    for (const db of databases) await db.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Both stores answer `query` the same (and the answer is asserted non-trivial by the caller when it matters). */
  async function same<T>(query: (s: Store) => Promise<T>): Promise<T> {
    const expected = await query(sqlite);
    expect(await query(pgs)).toEqual(expected);
    return expected;
  }

  it('reports progress and a summary with the counts per table', () => {
    expect(log.some((l) => /^messages: \d+ \/ 112 \(\d+%\)$/.test(l))).toBe(true);
    expect(log).toContain('messages: 112 copied');
    expect(log).toContain('blobs: 4 copied (591 KiB)');
    expect(log.at(-1)).toMatch(
      /^done in [\d.]+ s: copied 7 users, 5 conversations, 15 members, 112 messages, 3 attachments, \d+ message_mentions, \d+ marker_moves, \d+ sessions, 0 push_subscriptions, 2 erased_blobs; 4 blobs \(591 KiB\)$/,
    );
  });

  it('copies every row as it is (text unescaped, search columns aside)', async () => {
    const source = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const tables: [string, string, string][] = [
        ['users', '*', 'id'],
        ['conversations', '*', 'id'],
        ['members', '*', 'conversation_id, user_id'],
        [
          'messages',
          'id, conversation_id, seq, rev, sender_id, content, client_id, created_at, edited_at, deleted_at, reply_to_id, mentions, reactions, attachments',
          'id',
        ],
        ['attachments', '*', 'id'],
        ['message_mentions', '*', 'user_id, conversation_id, seq'],
        ['marker_moves', '*', 'conversation_id, user_id, type, seq'],
        ['sessions', '*', 'id'],
        ['erased_blobs', '*', 'key'],
      ];
      for (const [table, cols, order] of tables) {
        const expected = source.prepare(`SELECT ${cols} FROM ${table} ORDER BY ${order}`).all() as Record<string, unknown>[];
        const { rows } = await pgs.pool.query<Record<string, unknown>>(`SELECT ${cols} FROM ${table} ORDER BY ${order}`);
        const actual =
          table === 'messages'
            ? rows.map((r) => ({ ...r, content: fromDbText(r.content as string), client_id: fromDbText(r.client_id as string | null) }))
            : table === 'attachments'
              ? rows.map((r) => ({ ...r, name: fromDbText(r.name as string) }))
              : rows;
        expect(actual, table).toEqual(expected);
        expect(actual.length, table).toBeGreaterThan(0);
      }
      expect(
        (source.prepare('SELECT attachments FROM messages WHERE attachments IS NOT NULL').pluck().all() as string[]).map((j) => JSON.parse(j).length),
        'one message carries two files',
      ).toEqual([2]);
    } finally {
      source.close();
    }
  });

  it("keeps every attachment, and copies its blobs' bytes (not those of erased ones)", async () => {
    const uploads = deployment.uploads;
    const doomed = uploads.at(-1)!;
    let sent = 0;
    for (const a of uploads) {
      const now = await same((s) => s.attachmentById(a.id));
      if (a === doomed) expect(now).toBeNull();
      else expect(now).toEqual({ ...a, messageId: now!.messageId });
      if (now?.messageId) sent++;
    }
    expect(sent).toBe(2);
    expect((await same((s) => s.erasedBlobs(100).then((k) => k.sort()))).length).toBe(2);
    const local = await LocalDiskBlobs.open(blobDirOf(file));
    const remote = new PostgresBlobs(pgs.pool);
    for (const a of uploads) {
      for (const key of [a.blobKey, a.thumbnailKey]) {
        if (key === null) continue;
        const there = await remote.get(key);
        if (a === doomed) {
          expect(there, 'an erased blob is not copied').toBeNull();
          continue;
        }
        const here = (await local.get(key))!;
        expect(there!.size).toBe(here.size);
        expect((await readAll(there!.stream)).equals(await readAll(here.stream))).toBe(true);
      }
    }
    // The photo is three rows of blob_chunks.
    expect((await pgs.pool.query('SELECT n FROM blob_chunks WHERE key = $1 ORDER BY n', [uploads[0]!.blobKey])).rows.map((r) => r.n)).toEqual([0, 1, 2]);
  });

  it('keeps every user, with the same ids', async () => {
    for (const u of deployment.users) {
      expect(await pgs.userById(u.id)).toEqual(u);
      await same((s) => s.userByUsername(u.username.toUpperCase()));
    }
    await same((s) => s.usersByIds(deployment.users.map((u) => u.id)).then((us) => us.sort(byKey('u'))));
    expect((await same((s) => s.searchUsers('b', 10))).map((u) => u.displayName)).toEqual(['Bobby Tables']);
    await same((s) => s.searchUsers('', 50));
    await same((s) => s.searchUsers('ca', 50));
  });

  it("keeps the deployment's Web Push keys, so browsers' subscriptions keep working", async () => {
    expect(JSON.parse(await pgs.sharedKey('vapid', () => 'not this'))).toEqual(VAPID);
  });

  it('keeps notification preferences', async () => {
    const quiet = (await Promise.all(deployment.conversations.map((c) => pgs.quietMembers(c.id)))).flat();
    expect(quiet.map((m) => [m.notifyLevel, m.mutedUntil]).sort()).toEqual([['mentions', T0 + 86_400_000], ['none', null]].sort());
  });

  it("keeps every conversation's full history, changes and members", async () => {
    for (const c of deployment.conversations) {
      expect(await pgs.conversationById(c.id)).toEqual(c);
      const pages = await same((s) => allHistory(s, c.id));
      expect(pages.length).toBeGreaterThan(1);
      const changes = await same((s) => s.changesSince(c.id, 0, 1000));
      expect(changes.length).toBe(c.lastSeq);
      await same((s) => s.changesSince(c.id, Math.floor(c.lastRev / 2), 5));
      const members = await same((s) => s.members(c.id));
      expect(members.length).toBeGreaterThan(0);
      await same((s) => s.quietMembers(c.id));
      for (const m of members) await same((s) => s.membership(c.id, m.userId));
      await same((s) => s.lastMessages([c]).then((m) => [...m]));
      for (const m of changes) expect(await pgs.messageById(m.id)).toEqual(m);
    }
    await same((s) => s.membersOf(deployment.conversations.map((c) => c.id)));
    // The text that PostgreSQL stores escaped comes back as it was.
    const all = (await Promise.all(deployment.conversations.map((c) => pgs.changesSince(c.id, 0, 1000)))).flat();
    expect(all.some((m) => m.content.includes('\u0000') && m.content.includes('\uffff'))).toBe(true);
    expect(all.some((m) => m.clientId === 'cid-\u0000-nul')).toBe(true);
    expect(all.some((m) => m.content.startsWith('東京タワー'))).toBe(true);
    expect(all.filter((m) => m.deletedAt !== null && m.content === '')).toHaveLength(2);
    expect(all.filter((m) => m.editedAt !== null)).toHaveLength(2);
  });

  it("keeps every user's conversation lists (archived or not), unread counts, contacts and revs", async () => {
    let unread = 0;
    let archived = 0;
    for (const u of deployment.users) {
      const lists = await same(async (s) => [
        await s.listConversations({ userId: u.id, archived: false, limit: 100 }),
        await s.listConversations({ userId: u.id, archived: true, limit: 100 }),
      ]);
      const items = lists.flat();
      archived += lists[1]!.length;
      // Paging by activity gives the same pages too.
      const first = lists[0]![0];
      if (first) await same((s) => s.listConversations({ userId: u.id, archived: false, limit: 1, before: first.conversation.activity }));
      const counts = await same(async (s) => [
        ...(await s.unreadCounts(
          u.id,
          items.map((i) => ({ conversationId: i.conversation.id, afterSeq: i.membership.readSeq })),
        )),
      ]);
      unread += counts.reduce((n, [, k]) => n + k, 0);
      await same(async (s) => [...(await s.unreadCounts(u.id, items.map((i) => ({ conversationId: i.conversation.id, afterSeq: 0 }))))]);
      await same(async (s) => (await s.contactsOf(u.id)).sort());
      await same(async (s) => (await s.conversationRevs(u.id)).sort((a, b) => a.conversationId.localeCompare(b.conversationId)));
    }
    expect(unread).toBeGreaterThan(0);
    expect(archived).toBe(2);
  });

  it('keeps when each marker reached each seq ("seen by ... at")', async () => {
    const everyone = deployment.users.map((u) => u.id);
    let times = 0;
    for (const c of deployment.conversations) {
      for (let seq = 1; seq <= c.lastSeq; seq++) {
        const t = await same((s) => s.markerTimes(c.id, seq, everyone));
        times += t.read.length + t.delivered.length;
      }
    }
    expect(times).toBeGreaterThan(50);
  });

  it('finds the same messages by search (the index is rebuilt from the text, not copied)', async () => {
    const queries = [['hello'], ['東京'], ['你好'], ['caf'], ['cafe'], ['he'], ['team', 'roadmap'], ['rewritten'], ['secret'], ['naive'], ['nul'], ['😀'], ['chapter']];
    let found = 0;
    for (const u of deployment.users) {
      for (const terms of queries) {
        const ids = await same(async (s) => (await s.search({ userId: u.id, terms, limit: 100 })).map((h) => h.message.id).sort());
        found += ids.length;
      }
      const team = deployment.conversations.find((c) => c.title === 'Team (renamed)')!;
      await same(async (s) => (await s.search({ userId: u.id, terms: ['message'], conversationId: team.id, limit: 100 })).map((h) => h.message.id).sort());
    }
    expect(found).toBeGreaterThan(20);
    expect(await pgs.search({ userId: deployment.users[0]!.id, terms: ['secret'], limit: 10 })).toEqual([]);
  });

  it("refuses a running server's database, before touching the target", async () => {
    const other = await newDatabase();
    // `sqlite` holds the deployment's lock, as a running server does.
    const err = await portSqliteToPostgres({ sqliteFile: file, postgresUrl: other.url, log: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortRefused);
    expect((err as Error).message).toMatch(/server must be stopped.*in use by another process/);
    expect(await query(other.url, `SELECT to_regclass('parley_migrations') AS t, to_regclass('users') AS u`)).toEqual([{ t: null, u: null }]);
  });

  it('refuses a non-empty target and changes nothing in it', async () => {
    const before = await snapshot(pgs.pool);
    const ids = await maxIds(pgs.pool);
    const err = await portSqliteToPostgres({ sqliteFile: copy, postgresUrl: target.url, log: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortRefused);
    expect((err as Error).message).toMatch(
      /is not empty: users, conversations, members, messages, attachments, (message_mentions, )?marker_moves, sessions, (push_subscriptions, )?erased_blobs, blob_chunks(, server_keys)?(, notification_jobs)? have rows/,
    );
    expect(await snapshot(pgs.pool)).toEqual(before);
    expect(await maxIds(pgs.pool)).toEqual(ids);
    expect(() => DatabaseLock.acquire(copy).release(), 'the lock was let go').not.toThrow();

    // A database with tables of something else is not written to at all (not even the schema).
    const foreign = await newDatabase();
    await query(foreign.url, 'CREATE TABLE notes (x int); INSERT INTO notes VALUES (1)');
    const err2 = await portSqliteToPostgres({ sqliteFile: copy, postgresUrl: foreign.url, log: () => undefined }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(PortRefused);
    expect((err2 as Error).message).toMatch(/tables that are not Parley's \(notes\)/);
    expect(await query(foreign.url, `SELECT to_regclass('parley_migrations') AS t, to_regclass('users') AS u`)).toEqual([{ t: null, u: null }]);
  });

  it('commits nothing when the copy fails midway, and can be run again', async () => {
    // A source PostgreSQL refuses at its last message (a sender that does
    // not exist: SQLite let it in with its foreign keys off).
    const broken = path.join(dir, 'broken', 'parley.db');
    copyDeployment(copy, broken);
    const raw = new Database(broken);
    raw.pragma('foreign_keys = OFF');
    raw.prepare(`INSERT INTO messages (conversation_id, seq, rev, sender_id, content, created_at) VALUES (1, 1000, 1000, 999, 'orphan', 1)`).run();
    raw.close();
    const other = await newDatabase();
    const lines: string[] = [];
    const err = await portSqliteToPostgres({ sqliteFile: broken, postgresUrl: other.url, log: (l) => lines.push(l), batchSize: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PortRefused);
    expect((err as Error).message).toMatch(/foreign key/);
    expect(lines).toContain('members: 15 copied');
    expect(() => DatabaseLock.acquire(broken).release(), 'the lock was let go').not.toThrow();
    // The schema is there (migrated before the copy), with no row and every index.
    expect(await query(other.url, 'SELECT (SELECT count(*) FROM users)::int + (SELECT count(*) FROM messages)::int AS n')).toEqual([{ n: 0 }]);
    expect(await query(other.url, `SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'messages'`)).toEqual([{ n: 7 }]);
    // Fixed, the same target takes it.
    const fix = new Database(broken);
    fix.prepare('DELETE FROM messages WHERE sender_id = 999').run();
    fix.close();
    const summary = await portSqliteToPostgres({ sqliteFile: broken, postgresUrl: other.url, log: () => undefined });
    expect(summary.counts.messages).toBe(112);
  });

  it('reports and skips a blob the source lost; refuses a source whose blob directory is missing', async () => {
    const lost = path.join(dir, 'lost', 'parley.db');
    copyDeployment(copy, lost);
    const doc = deployment.uploads[1]!;
    fs.rmSync(path.join(blobDirOf(lost), doc.blobKey.slice(0, 2), doc.blobKey));
    const lines: string[] = [];
    const s = await portSqliteToPostgres({ sqliteFile: lost, postgresUrl: (await newDatabase()).url, log: (l) => lines.push(l) });
    expect(s.blobs).toMatchObject({ copied: 3, missing: [doc.blobKey] });
    expect(s.counts.attachments).toBe(3);
    expect(lines.at(-1)).toMatch(/; 3 blobs \(\d+ KiB\), 1 missing from the source$/);

    fs.rmSync(blobDirOf(lost), { recursive: true });
    const other = await newDatabase();
    const err = await portSqliteToPostgres({ sqliteFile: lost, postgresUrl: other.url, log: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortRefused);
    expect((err as Error).message).toMatch(/attachments: no such directory, and the database has 4 blobs/);
    expect(await query(other.url, `SELECT to_regclass('users') AS u`)).toEqual([{ u: null }]);
  });

  it('never prints a password', () => {
    expect(redactUrl('postgres://parley:s3cret@db.example:5432/parley')).toBe('postgres://parley:***@db.example:5432/parley');
    expect(redactUrl('postgres://parley@db.example/parley')).toBe('postgres://parley@db.example/parley');
  });

  it('new writes on PostgreSQL continue the ids, seqs, revs and ticks', async () => {
    const [alice, bob] = deployment.users as [UserRecord, UserRecord];
    const maxKey = (kind: 'u' | 'c', xs: { id: string }[]) => Math.max(...xs.map((x) => decodeId(kind, x.id) ?? 0));
    const team = (await pgs.conversationById(deployment.conversations.find((c) => c.title === 'Team (renamed)')!.id))!;
    const allMessages = (await Promise.all(deployment.conversations.map((c) => pgs.changesSince(c.id, 0, 1000)))).flat();
    const maxMessage = Math.max(...allMessages.map((m) => decodeId('m', m.id) ?? 0));
    const maxActivity = Math.max(...deployment.conversations.map((c) => c.activity));

    const newbie = await pgs.createUser({ username: 'newbie', displayName: 'Newbie', passwordHash: 'x', createdAt: T0 + 10_000_000 });
    expect(newbie.id).toBe(`u${maxKey('u', deployment.users) + 1}`);
    // The first tick after the move is past every join, not only every activity.
    const quiet = deployment.conversations.find((c) => c.title === 'Nothing said yet')!;
    expect(await pgs.addMember(quiet.id, newbie.id, T0 + 10_000_000)).toBe(true);
    expect((await pgs.members(quiet.id)).map((m) => m.userId).at(-1)).toBe(newbie.id);
    const { conversation: fresh } = await pgs.createConversation({
      type: 'group',
      title: 'After the move',
      ownerId: alice.id,
      memberIds: [alice.id, newbie.id],
      createdAt: T0 + 10_000_001,
    });
    expect(fresh.id).toBe(`c${maxKey('c', deployment.conversations) + 1}`);
    expect(fresh.activity).toBeGreaterThan(maxActivity);
    expect((await pgs.listConversations({ userId: alice.id, archived: false, limit: 1 }))[0]!.conversation.id).toBe(fresh.id);

    // (Past the highest id in the table: the deleted message's upload, the last one made, is gone.)
    const maxAttachment = Math.max(...deployment.uploads.slice(0, -1).map((a) => decodeId('a', a.id) ?? 0));
    const file = await pgs.createAttachment({ ...deployment.uploads[1]!, conversationId: team.id, uploaderId: bob.id, blobKey: randomUUID(), createdAt: T0 + 10_000_002 });
    expect(file.id).toBe(`a${maxAttachment + 1}`);
    const [sent] = await pgs.appendMessages([
      { conversationId: team.id, senderId: bob.id, content: 'first on PostgreSQL', clientId: 'pg-1', createdAt: T0 + 10_000_002, attachmentIds: [file.id] },
    ]);
    expect(sent).toMatchObject({ kind: 'stored', message: { id: `m${maxMessage + 1}`, seq: team.lastSeq + 1, rev: team.lastRev + 1, attachments: [{ id: file.id }] } });
    const after = (await pgs.conversationById(team.id))!;
    expect(after.activity).toBeGreaterThan(fresh.activity);
    // A clientId sent before the move is still known: the retry gets the original.
    const ab = deployment.conversations.find((c) => c.type === 'direct' && c.lastSeq === 5)!;
    const original = (await sqlite.changesSince(ab.id, 0, 100)).find((m) => m.clientId === 'cid-\u0000-nul')!;
    const [dup] = await pgs.appendMessages([{ conversationId: ab.id, senderId: bob.id, content: 'again', clientId: 'cid-\u0000-nul', createdAt: T0 + 10_000_003 }]);
    expect(dup).toEqual({ kind: 'duplicate', message: original });
    // Joining continues the join order; an edit takes the next rev.
    expect(await pgs.addMember(team.id, newbie.id, T0 + 10_000_004)).toBe(true);
    expect((await pgs.members(team.id)).at(-1)!.userId).toBe(newbie.id);
    const older = allMessages.find((m) => m.conversationId === team.id && m.senderId === bob.id && m.deletedAt === null)!;
    const [edited] = await pgs.changeMessages([{ kind: 'edit', messageId: older.id, userId: bob.id, content: 'edited after the move', at: T0 + 10_000_005 }]);
    expect(edited).toMatchObject({ kind: 'changed', message: { rev: team.lastRev + 2 } });
    expect((await pgs.search({ userId: bob.id, terms: ['after the move'], limit: 5 })).map((h) => h.message.id)).toEqual([older.id]);
  });

  it('runs from the command line: exit 0 with a summary; 1 on a non-empty target; 2 on bad usage', async () => {
    const cliTarget = await newDatabase();
    const ok = await runCli(['--from', copy, '--to', cliTarget.url]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/done in [\d.]+ s: copied 7 users, 5 conversations, 15 members, 112 messages/);
    const ported = await PostgresStore.open({ url: cliTarget.url });
    try {
      for (const c of deployment.conversations) expect(await ported.changesSince(c.id, 0, 1000)).toEqual(await sqlite.changesSince(c.id, 0, 1000));
    } finally {
      await ported.close();
    }

    // --to from DATABASE_URL; the target is now full.
    const again = await runCli(['--from', copy], { DATABASE_URL: cliTarget.url });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^refused: the target .* is not empty/);

    const usage = await runCli(['--to', cliTarget.url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--from is required');
  }, 60_000);
});
