import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.js';
import type { NewMessage, UserRecord } from '../../src/store/store.js';
import { runStoreContract } from './store-contract.js';
import { runDataContract } from './store-contract-data.js';
import { runRichContract } from './store-contract-rich.js';
import { runAttachmentContract } from './store-contract-attachments.js';

const T0 = 1_700_000_000_000;
const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'parley-sqlite-'));
}

/** A store on a fresh file, removed afterwards. */
async function fileStore(opts: Partial<SqliteStoreOptions> = {}) {
  const dir = tempDir();
  const store = new SqliteStore({ file: path.join(dir, 'parley.db'), ...opts });
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

runDataContract('SQLite file', () => fileStore());
runRichContract('SQLite file', () => fileStore());
runAttachmentContract('SQLite file', () => fileStore());
// A search reads the index or the caller's own messages (search-plan.ts:
// small scopes, as in these tests, the latter); both must answer the same.
runDataContract('SQLite file, search forced to the index side', () => fileStore({ searchPlan: 'index' }));
runDataContract('SQLite file, search forced to the scope side', () => fileStore({ searchPlan: 'scope' }));

runStoreContract('SQLite file', () => fileStore());

describe('SqliteStore on a file', () => {
  let dir: string;
  let file: string;
  const open: { close(): unknown }[] = [];

  /** A store, closed after the test. */
  function openStore(): SqliteStore {
    const s = new SqliteStore({ file });
    open.push(s);
    return s;
  }
  /** A second, raw connection to the same file, read-only, closed after the test. */
  function raw(): Database.Database {
    const db = new Database(file, { readonly: true });
    open.push(db);
    return db;
  }

  /** A writable raw connection, for what a test must do behind the store's back. */
  function rawWritable(): Database.Database {
    const db = new Database(file);
    open.push(db);
    return db;
  }

  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, 'nested', 'parley.db');
  });
  afterEach(async () => {
    for (const c of open.splice(0).reverse()) await c.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const newUser = (s: SqliteStore, username: string) =>
    s.createUser({ username, displayName: username, passwordHash: 'h', createdAt: T0 });
  const msg = (conversationId: string, sender: UserRecord | string, content: string): NewMessage => ({
    conversationId,
    senderId: typeof sender === 'string' ? sender : sender.id,
    content,
    clientId: null,
    createdAt: T0 + 1,
  });

  it('creates the file (and its directory) and records the schema version in PRAGMA user_version', () => {
    openStore();
    expect(fs.existsSync(file)).toBe(true);
    expect(raw().pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    const tables = raw()
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(tables).toEqual(expect.arrayContaining(['conversations', 'members', 'messages', 'users']));
  });

  it('keeps the data when the same file is opened again, without re-running migrations', async () => {
    const first = openStore();
    const alice = await newUser(first, 'alice');
    const { conversation } = await first.createConversation({
      type: 'group',
      title: 'kept',
      ownerId: alice.id,
      memberIds: [alice.id],
      createdAt: T0,
    });
    await first.appendMessages([msg(conversation.id, alice, 'still here')]);
    await first.close();

    // A migration re-run would fail (CREATE TABLE of an existing table) or wipe data.
    const second = openStore();
    expect(raw().pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    expect(await second.userByUsername('ALICE')).toEqual(alice);
    expect((await second.conversationById(conversation.id))?.lastSeq).toBe(1);
    const page = await second.history(conversation.id, { latest: true, limit: 10 });
    expect(page.messages.map((m) => m.content)).toEqual(['still here']);
    // and it still writes, continuing where it was
    const out = await second.appendMessages([msg(conversation.id, alice, 'next')]);
    expect(out[0]).toMatchObject({ kind: 'stored', message: { seq: 2 } });
  });

  it('refuses a database from a newer schema version', async () => {
    openStore();
    for (const c of open.splice(0)) await c.close();
    const db = new Database(file);
    db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    db.close();
    expect(() => openStore()).toThrow(/newer/);
  });

  it('runs in WAL mode', async () => {
    const store = openStore();
    await newUser(store, 'walter');
    // journal_mode=WAL is a property of the file: another connection sees it
    expect(raw().pragma('journal_mode', { simple: true })).toBe('wal');
    expect(fs.existsSync(`${file}-wal`)).toBe(true);
  });

  it('enforces foreign keys', async () => {
    const store = openStore();
    const alice = await newUser(store, 'alice');
    const ghost = 'u999999';
    await expect(
      store.createConversation({ type: 'group', title: 'g', ownerId: alice.id, memberIds: [alice.id, ghost], createdAt: T0 }),
    ).rejects.toThrow(/FOREIGN KEY/i);
    // the conversation row went with the failed transaction
    expect(await store.listConversations({ userId: alice.id, archived: false, limit: 10 })).toEqual([]);
    expect(raw().prepare('SELECT count(*) AS n FROM conversations').get()).toEqual({ n: 0 });
  });

  it('uses the messages_seq index for every history query: a SEARCH, no SCAN, no temp b-tree', async () => {
    const store = openStore();
    const alice = await newUser(store, 'alice');
    const { conversation } = await store.createConversation({
      type: 'group',
      title: 'g',
      ownerId: alice.id,
      memberIds: [alice.id],
      createdAt: T0,
    });
    await store.appendMessages(Array.from({ length: 50 }, (_, i) => msg(conversation.id, alice, `m${i}`)));

    // The very statements the store runs, not copies of their text.
    const statements = (store as unknown as { s: Record<string, { source: string } | undefined> }).s;
    const queries = {
      latest: { sql: statements.historyLatest?.source, params: [1, 11] },
      before: { sql: statements.historyBefore?.source, params: [1, 40, 11] },
      after: { sql: statements.historyAfter?.source, params: [1, 10, 11] },
    };
    const db = raw();
    for (const [name, { sql, params }] of Object.entries(queries)) {
      expect(sql, `the ${name} history statement`).toMatch(/FROM messages/);
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...params)
        .map((r) => (r as { detail: string }).detail);
      const text = plan.join(' | ');
      expect(plan.some((d) => /^SEARCH messages USING INDEX messages_seq \(conversation_id=\?/.test(d)), `${name}: ${text}`).toBe(
        true,
      );
      expect(text, name).not.toMatch(/SCAN/);
      expect(text, name).not.toMatch(/TEMP B-TREE/);
    }

    // and they answer correctly on this data
    expect((await store.history(conversation.id, { before: 40, limit: 10 })).messages.map((m) => m.seq)).toEqual([
      30, 31, 32, 33, 34, 35, 36, 37, 38, 39,
    ]);
  });

  it('rolls back a whole batch that fails mid-way', async () => {
    const store = openStore();
    const alice = await newUser(store, 'alice');
    const bob = await newUser(store, 'bob');
    const { conversation } = await store.createConversation({
      type: 'group',
      title: 'g',
      ownerId: alice.id,
      memberIds: [alice.id, bob.id],
      createdAt: T0,
    });
    await store.appendMessages([msg(conversation.id, alice, 'committed')]);
    const before = await store.conversationById(conversation.id);
    const membersBefore = await store.members(conversation.id);

    // The third item's insert fails (a trigger of the test's own makes it).
    const writer = rawWritable();
    writer.exec(`CREATE TRIGGER fail_on_breaks BEFORE INSERT ON messages WHEN NEW.content = 'breaks'
                BEGIN SELECT RAISE(ABORT, 'forced failure'); END`);
    await expect(
      store.appendMessages([
        msg(conversation.id, bob, 'lost 1'),
        msg(conversation.id, alice, 'lost 2'),
        msg(conversation.id, alice, 'breaks'),
        msg(conversation.id, bob, 'never reached'),
      ]),
    ).rejects.toThrow(/forced failure/);
    writer.exec('DROP TRIGGER fail_on_breaks');

    expect(await store.conversationById(conversation.id)).toEqual(before);
    expect(before?.lastSeq).toBe(1);
    expect(await store.members(conversation.id)).toEqual(membersBefore);
    const page = await store.history(conversation.id, { latest: true, limit: 10 });
    expect(page.messages.map((m) => m.content)).toEqual(['committed']);
    expect(raw().prepare('SELECT count(*) AS n FROM messages').get()).toEqual({ n: 1 });

    // the store carries on, with no gap in the seqs
    const next = await store.appendMessages([msg(conversation.id, bob, 'after')]);
    expect(next[0]).toMatchObject({ kind: 'stored', message: { seq: 2 } });
  });

  it('orders activity by ticks that only grow, across a rolled-back batch and a restart (the stored ceiling covers every stored tick)', async () => {
    const ticks = () => {
      const db = raw();
      const ceiling = (db.prepare('SELECT value FROM ticks').get() as { value: number }).value;
      const activity = (db.prepare('SELECT max(activity) AS m FROM conversations').get() as { m: number }).m;
      const joined = (db.prepare('SELECT max(joined_tick) AS m FROM members').get() as { m: number }).m;
      return { ceiling, top: Math.max(activity, joined) };
    };
    let store = openStore();
    const alice = await newUser(store, 'alice');
    const bob = await newUser(store, 'bob');
    const mk = async (s: SqliteStore, title: string) =>
      (await s.createConversation({ type: 'group', title, ownerId: alice.id, memberIds: [alice.id, bob.id], createdAt: T0 })).conversation;
    const a = await mk(store, 'a');
    await store.appendMessages([msg(a.id, alice, 'one')]);
    await store.close();
    open.splice(open.indexOf(store), 1);

    // Reopened: the first reservation raises the ceiling, in a batch that fails.
    store = openStore();
    const writer = rawWritable();
    writer.exec(`CREATE TRIGGER fail_on_breaks BEFORE INSERT ON messages WHEN NEW.content = 'breaks'
                BEGIN SELECT RAISE(ABORT, 'forced failure'); END`);
    await expect(store.appendMessages([msg(a.id, alice, 'breaks')])).rejects.toThrow(/forced failure/);
    writer.exec('DROP TRIGGER fail_on_breaks');
    const b = await mk(store, 'b');
    await store.appendMessages([msg(b.id, bob, 'two')]);
    await store.addMember(b.id, (await newUser(store, 'carol')).id, T0);
    let t = ticks();
    expect(t.ceiling).toBeGreaterThanOrEqual(t.top);
    const before = t.top;
    await store.close();
    open.splice(open.indexOf(store), 1);

    // After a restart, new activity sorts after everything before it.
    store = openStore();
    await store.appendMessages([msg(a.id, alice, 'three')]);
    const list = await store.listConversations({ userId: alice.id, archived: false, limit: 10 });
    expect(list.map((i) => i.conversation.title)).toEqual(['a', 'b']);
    expect(list[0]!.conversation.activity).toBeGreaterThan(before);
    t = ticks();
    expect(t.ceiling).toBeGreaterThanOrEqual(t.top);
  });
});

describe('SqliteStore: one process per database', () => {
  it('refuses a second store on the same file while the first is open, and allows it after close', async () => {
    const file = path.join(tempDir(), 'parley.db');
    const first = new SqliteStore({ file });
    expect(() => new SqliteStore({ file })).toThrow(/in use by another process/);
    await first.close();
    const second = new SqliteStore({ file });
    await second.ping();
    await second.close();
  });

  it('refuses a second process while the first runs, and starts after a SIGKILL (the kernel let go of the lock)', async () => {
    const file = path.join(tempDir(), 'parley.db');
    const { spawn } = await import('node:child_process');
    // Another process takes the lock the way the store does, says so, and waits to be killed.
    // (The built module, as the server runs it: npm test builds first.)
    const lockModule = new URL('../../dist/store/sqlite/lock.js', import.meta.url).href;
    const holder = spawn(
      process.execPath,
      ['--input-type=module', '-e', `import { DatabaseLock } from ${JSON.stringify(lockModule)}; DatabaseLock.acquire(process.argv[1]); console.log('locked'); setInterval(() => {}, 1000);`, file],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
        holder.once('exit', (code) => reject(new Error(`the holder exited (${code})`)));
      });
      expect(() => new SqliteStore({ file })).toThrow(/in use by another process/);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const store = new SqliteStore({ file });
    await store.ping();
    await store.close();
  });

  it("starts over a lock file of the old kind naming a live pid (a container's pid 1 after a restart)", async () => {
    const file = path.join(tempDir(), 'parley.db');
    // The old lock: a pid in text. This process is alive, as pid 1 is in a restarted container.
    fs.writeFileSync(`${file}.lock`, `${process.pid}\n`);
    const store = new SqliteStore({ file });
    await store.ping();
    expect(() => new SqliteStore({ file })).toThrow(/in use by another process/);
    await store.close();
  });
});

describe('SqliteStore: durability settings', () => {
  it('runs in WAL mode with synchronous=FULL: a commit is on disk before the ack', async () => {
    const file = path.join(tempDir(), 'parley.db');
    const store = new SqliteStore({ file });
    try {
      const db = (store as unknown as { db: Database.Database }).db;
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      await store.close();
    }
  });
});
