/**
 * The search index is kept by a worker thread in a file of its own
 * (decisions.md §17). What that must not cost: a search sees every message
 * committed before it; an edit or deletion is never found by its old text
 * once answered, even while the indexer is down; a worker that dies resumes
 * where the index stands; a lost or stale index file is rebuilt; the main
 * database's WAL is still checkpointed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { automergeOf, INDEX_AUTOMERGE, INDEX_BATCH, IndexStep, openSearchDatabase, readMarks, searchDbPath, sourceState } from '../../src/store/sqlite/search-index.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.js';
import type { ConversationRecord, MessageRecord, UserRecord } from '../../src/store/store.js';

interface Internals {
  indexer: {
    close(): Promise<void>;
    ready(): Promise<void>;
    caughtUp(indexedId: number, outboxId: number, timeoutMs: number): Promise<boolean>;
    worker: Worker | null;
    available: boolean;
    marks: { indexedId: number; outboxId: number };
  };
}

/** Waits for a condition, checking every 20 ms, failing after 10 s. */
async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const internals = (s: SqliteStore) => s as unknown as Internals;

let dir: string;
let file: string;
const open: SqliteStore[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-index-'));
  file = path.join(dir, 'parley.db');
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function openStore(opts: Partial<SqliteStoreOptions> = {}): SqliteStore {
  const s = new SqliteStore({ file, ...opts });
  open.push(s);
  return s;
}
async function closeStore(s: SqliteStore): Promise<void> {
  open.splice(open.indexOf(s), 1);
  await s.close();
}

async function seed(store: SqliteStore): Promise<{ user: UserRecord; conversation: ConversationRecord }> {
  const user = await store.createUser({ username: 'ann', displayName: 'Ann', passwordHash: 'x', createdAt: 1 });
  const { conversation } = await store.createConversation({ type: 'group', title: 'g', ownerId: user.id, memberIds: [user.id], createdAt: 1 });
  return { user, conversation };
}

async function send(store: SqliteStore, conversationId: string, senderId: string, texts: string[]): Promise<MessageRecord[]> {
  const outcomes = await store.appendMessages(texts.map((content) => ({ conversationId, senderId, content, clientId: null, createdAt: 2 })));
  return outcomes.map((o) => {
    if (o.kind !== 'stored') throw new Error(`not stored: ${o.kind}`);
    return o.message;
  });
}

const found = async (store: SqliteStore, userId: string, term: string) =>
  (await store.search({ userId, terms: [term], limit: 100 })).map((h) => h.message.id).sort();

describe('the search index, kept by a worker thread', () => {
  it('takes in every commit by itself, however the commits fall between its steps, and is woken once per step, not per commit', async () => {
    const store = openStore({ indexDelayMs: 5 });
    const { user, conversation } = await seed(store);
    const indexer = internals(store).indexer;
    await indexer.ready();
    // Commits at uneven gaps: some land while a step runs, after its
    // snapshot; nobody searches, so only wakes bring them into the index.
    const sent: MessageRecord[] = [];
    for (let i = 0; i < 60; i++) {
      sent.push(...(await send(store, conversation.id, user.id, [`trickle ${i}`])));
      await new Promise((r) => setTimeout(r, (i * 7) % 13));
    }
    const last = Number(sent.at(-1)!.id.slice(1));
    await until(() => indexer.marks.indexedId >= last, 'the index to take in every commit');
    expect(store.indexLag()).toBe(0);
    // A commit after a step's snapshot whose report the main thread has not
    // read yet: its own wake is not posted (one is outstanding), so only the
    // check after that report brings it in. The step's commit is watched in
    // the index file without yielding, so the report stays unread.
    const big = await send(store, conversation.id, user.id, Array.from({ length: 1500 }, (_, i) => `long step ${i}`));
    const bigLast = Number(big.at(-1)!.id.slice(1));
    const index = new Database(searchDbPath(file), { readonly: true });
    const deadline = Date.now() + 10_000;
    while (readMarks(index)!.indexedId < bigLast) if (Date.now() > deadline) throw new Error('the step did not commit');
    index.close();
    const late = send(store, conversation.id, user.id, ['late']); // committed before this line returns
    const lateId = Number((await late)[0]!.id.slice(1));
    await until(() => indexer.marks.indexedId >= lateId, 'the index to take in the late commit');
    // A burst of commits within one delay: one wake, whatever their number.
    const slow = openStore({ file: path.join(dir, 'burst.db'), indexDelayMs: 600_000 });
    const b = await seed(slow);
    const slowIndexer = internals(slow).indexer;
    await slowIndexer.ready();
    let burstWakes = 0;
    const worker = slowIndexer.worker!;
    const post = worker.postMessage.bind(worker);
    worker.postMessage = (m: unknown) => {
      if (m === 'wake') burstWakes++;
      post(m);
    };
    let lastBurst = 0;
    for (let i = 0; i < 40; i++) lastBurst = Number((await send(slow, b.conversation.id, b.user.id, [`burst ${i}`]))[0]!.id.slice(1));
    expect(burstWakes).toBe(1);
    // Someone who waits for the index (an edit's ack) runs a step at once ('now'); its report finds nothing more to wake for.
    expect(await slowIndexer.caughtUp(lastBurst, 0, 10_000)).toBe(true);
    expect(await found(slow, b.user.id, 'burst')).toHaveLength(40);
    expect(slow.indexLag()).toBe(0);
    expect(burstWakes).toBe(1);
  });

  it('a search sees every message committed before it, however many', async () => {
    const store = openStore();
    const { user, conversation } = await seed(store);
    const sent: MessageRecord[] = [];
    // More than one indexer step (INDEX_BATCH rows), sent in batches like group commits.
    for (let b = 0; b < 6; b++) sent.push(...(await send(store, conversation.id, user.id, Array.from({ length: 500 }, (_, i) => `bulk zebra ${b}-${i}`))));
    // Without waiting for the indexer: what it has not taken in yet is read from the messages.
    expect(await found(store, user.id, 'zebra')).toHaveLength(100);
    const last = sent[sent.length - 1]!;
    expect(await found(store, user.id, 'zebra 5-499')).toEqual([last.id]);
  });

  it.each(['index', 'scope'] as const)('resumes after its worker dies: nothing committed meanwhile is missing (%s side)', async (plan) => {
    const store = openStore({ searchPlan: plan });
    const { user, conversation } = await seed(store);
    const [first] = await send(store, conversation.id, user.id, ['before the crash: walrus']);
    expect(await found(store, user.id, 'walrus')).toEqual([first!.id]);
    const worker = internals(store).indexer.worker!;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    await worker.terminate();
    await exited;
    const during = await send(store, conversation.id, user.id, ['during the outage: walrus', 'also walrus']);
    // An edit while it is down is answered without waiting (its outbox entry waits).
    expect((await store.changeMessages([{ kind: 'edit', messageId: first!.id, userId: user.id, content: 'before the crash: walrus, edited', at: 3 }]))[0]!.kind).toBe('changed');
    // While it is down, a search does not wait for it, and still sees
    // everything: the messages the index lacks, and the edit it has not
    // applied, are read from the messages themselves.
    expect(await found(store, user.id, 'walrus')).toEqual([first!.id, ...during.map((m) => m.id)].sort());
    expect(await found(store, user.id, 'edited')).toEqual([first!.id]);
    // The restarted worker (after a short delay) indexes from where the index
    // stood, messages and changes, by itself: no send or search wakes it.
    await until(() => internals(store).indexer.available);
    const lastDuring = Number(during.at(-1)!.id.slice(1));
    await until(() => internals(store).indexer.marks.indexedId >= lastDuring && internals(store).indexer.marks.outboxId >= 1, 'the restarted worker to catch up');
    expect(await found(store, user.id, 'walrus')).toEqual([first!.id, ...during.map((m) => m.id)].sort());
    expect(internals(store).indexer.worker).not.toBe(worker);
  }, 30_000);

  // (Both sides of a search: the index's, which must pass over its stale postings, and the messages'.)
  it.each(['index', 'scope'] as const)('while the indexer is down, an edited message is found by its new text only, a deleted one not at all; both settle after a restart (%s side)', async (plan) => {
    const store = openStore({ searchPlan: plan });
    const { user, conversation } = await seed(store);
    const [edited, deleted, kept] = await send(store, conversation.id, user.id, ['old ocelot text', 'ocelot to delete', 'ocelot stays']);
    expect(await found(store, user.id, 'ocelot')).toEqual([edited!.id, deleted!.id, kept!.id].sort());

    await internals(store).indexer.close(); // the index now stays as it is
    const outcomes = await store.changeMessages([
      { kind: 'edit', messageId: edited!.id, userId: user.id, content: 'new heron text', at: 3 },
      { kind: 'delete', messageId: deleted!.id, userId: user.id, at: 3 },
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(['changed', 'changed']);
    // The index still holds the old words: its postings for messages with a
    // change it has not applied are passed over, and their text read as it is now.
    expect(await found(store, user.id, 'ocelot')).toEqual([kept!.id]);
    expect(await found(store, user.id, 'heron')).toEqual([edited!.id]);
    // A later change batch prunes only what the index applied: the first changes stay pending.
    await store.changeMessages([{ kind: 'edit', messageId: kept!.id, userId: user.id, content: 'ocelot stays, edited', at: 4 }]);
    expect(await found(store, user.id, 'ocelot')).toEqual([kept!.id]);
    expect(await found(store, user.id, 'heron')).toEqual([edited!.id]);
    expect(await found(store, user.id, 'delete')).toEqual([]);

    await closeStore(store);
    const again = openStore({ searchPlan: plan });
    expect(await found(again, user.id, 'ocelot')).toEqual([kept!.id]);
    expect(await found(again, user.id, 'heron')).toEqual([edited!.id]);
    expect(await found(again, user.id, 'edited')).toEqual([kept!.id]);
  });

  it('an edit answered with the indexer running is already in the index (no filtering needed)', async () => {
    const store = openStore();
    const { user, conversation } = await seed(store);
    const [m] = await send(store, conversation.id, user.id, ['first draft with a typo']);
    await found(store, user.id, 'draft');
    await store.changeMessages([{ kind: 'edit', messageId: m!.id, userId: user.id, content: 'final version', at: 3 }]);
    // The ack waited for the worker: its marks already cover the outbox entry.
    const index = new Database(searchDbPath(file), { readonly: true });
    try {
      const terms = (q: string) => (index.prepare('SELECT rowid FROM message_trigrams WHERE message_trigrams MATCH ?').all(q) as unknown[]).length;
      expect(terms('"draft"')).toBe(0);
      expect(terms('"final"')).toBe(1);
    } finally {
      index.close();
    }
  });

  it('rebuilds a lost index file from the messages, and an index that claims more than the database holds', async () => {
    let store = openStore();
    const { user, conversation } = await seed(store);
    const [m] = await send(store, conversation.id, user.id, ['the lynx was here']);
    expect(await found(store, user.id, 'lynx')).toEqual([m!.id]);
    await closeStore(store);

    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(searchDbPath(file) + suffix, { force: true });
    store = openStore();
    expect(await found(store, user.id, 'lynx')).toEqual([m!.id]);
    await closeStore(store);

    // An index from the future (say, the database was restored from an older backup).
    const index = new Database(searchDbPath(file));
    index.prepare('UPDATE index_marks SET indexed_id = indexed_id + 1000').run();
    index.close();
    store = openStore();
    expect(await found(store, user.id, 'lynx')).toEqual([m!.id]);
    await until(() => store.indexLag() === 0 && internals(store).indexer.available, 'the rebuilt index');
    const marks = new Database(searchDbPath(file), { readonly: true });
    try {
      expect(marks.prepare('SELECT indexed_id FROM index_marks').get()).toEqual({ indexed_id: Number(m!.id.slice(1)) });
    } finally {
      marks.close();
    }
  });

  it('checkpoints the main database from its thread: the WAL is copied back without a checkpoint in any commit', async () => {
    const store = openStore();
    const { user, conversation } = await seed(store);
    const before = fs.statSync(file).size;
    for (let b = 0; b < 5; b++) await send(store, conversation.id, user.id, Array.from({ length: 400 }, (_, i) => `page filler ${b} ${i} `.repeat(8)));
    // Nothing in this thread checkpoints (wal_autocheckpoint=0 on the writer): the file grows only by the worker's checkpoints.
    const deadline = Date.now() + 10_000;
    while (fs.statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fs.statSync(file).size).toBeGreaterThan(before);
    const writer = (store as unknown as { db: Database.Database }).db;
    expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
  });

  it('keeps the WAL bounded under a steady stream of commits: writes pause briefly while it rewinds', async () => {
    // Small numbers, so that the test writes many times the WAL's bound.
    const store = openStore({ checkpointEveryMs: 20, walRestartFrames: 200 });
    const { user, conversation } = await seed(store);
    let largest = 0;
    const text = 'steady stream of commits '.repeat(10);
    // ~4,000 commits back to back: no pause in the stream lets a checkpoint finish on its own.
    for (let i = 0; i < 4000; i++) {
      // One commit per turn of the event loop, as a server under load does.
      await new Promise((resolve) => setImmediate(resolve));
      await send(store, conversation.id, user.id, [`${i} ${text}`]);
      if (i % 100 === 0) largest = Math.max(largest, fs.statSync(`${file}-wal`).size);
    }
    // Each commit appends at least 3 pages (message, its indexes, the
    // conversation row): 4,000 commits are more than 48 MB of WAL. Without
    // the rewinds the file reaches all of that (measured: ~100 MB); with them
    // it stays a fraction of it (the file keeps its largest size, up to
    // journal_size_limit, so this is the peak, not the live part).
    expect(largest).toBeLessThan(30 * 2 ** 20);
    expect(await found(store, user.id, '3999 steady')).toHaveLength(1);
  }, 60_000);

  it('rebuilds an index file that is not a database at all, without failing the store', async () => {
    let store = openStore();
    const { user, conversation } = await seed(store);
    const [m] = await send(store, conversation.id, user.id, ['the ibex was here']);
    await closeStore(store);
    for (const suffix of ['-wal', '-shm']) fs.rmSync(searchDbPath(file) + suffix, { force: true });
    fs.writeFileSync(searchDbPath(file), 'this is not a database, it is a postcard '.repeat(200));
    const errors: string[] = [];
    store = openStore({ onIndexError: (e) => errors.push(e) });
    expect(await found(store, user.id, 'ibex')).toEqual([m!.id]);
    expect(errors).toEqual([]);
  });

  it('rebuilds an index older than the database (restored beside it) instead of serving text an edit replaced', async () => {
    let store = openStore();
    const { user, conversation } = await seed(store);
    const [m, other] = await send(store, conversation.id, user.id, ['secret ocelot plan', 'another message']);
    expect(await found(store, user.id, 'ocelot')).toEqual([m!.id]);
    await closeStore(store);
    const saved = fs.readFileSync(searchDbPath(file)); // a clean close leaves no -wal

    store = openStore();
    await store.changeMessages([{ kind: 'edit', messageId: m!.id, userId: user.id, content: 'harmless heron', at: 3 }]);
    // a second change prunes the first's outbox entry (the index applied it)
    await store.changeMessages([{ kind: 'edit', messageId: other!.id, userId: user.id, content: 'another one', at: 4 }]);
    await closeStore(store);

    fs.writeFileSync(searchDbPath(file), saved);
    store = openStore();
    expect(await found(store, user.id, 'ocelot')).toEqual([]);
    expect(await found(store, user.id, 'heron')).toEqual([m!.id]);
  });

  it('merges FTS5 segments 8 at a time: a new index, an index made before that setting, and a rebuilt one', async () => {
    const automerge = () => {
      const db = new Database(searchDbPath(file), { readonly: true });
      try {
        return automergeOf(db);
      } finally {
        db.close();
      }
    };
    const withIndex = (sql: string) => {
      const db = new Database(searchDbPath(file));
      db.exec(sql);
      db.close();
    };
    let store = openStore();
    const { user, conversation } = await seed(store);
    const [m] = await send(store, conversation.id, user.id, ['a quokka smiles']);
    await closeStore(store);
    expect(automerge()).toEqual([INDEX_AUTOMERGE, INDEX_AUTOMERGE]);
    // An index from before the setting: FTS5's default, 4.
    withIndex("INSERT INTO message_trigrams (message_trigrams, rank) VALUES ('automerge', 4); INSERT INTO message_words (message_words, rank) VALUES ('automerge', 4)");
    expect(automerge()).toEqual([4, 4]);
    store = openStore();
    expect(await found(store, user.id, 'quokka')).toEqual([m!.id]);
    await closeStore(store);
    expect(automerge()).toEqual([INDEX_AUTOMERGE, INDEX_AUTOMERGE]);
    // An index of an unknown schema version is rebuilt: the new tables get it too.
    withIndex('PRAGMA user_version = 0');
    store = openStore();
    expect(await found(store, user.id, 'quokka')).toEqual([m!.id]);
    await closeStore(store);
    expect(automerge()).toEqual([INDEX_AUTOMERGE, INDEX_AUTOMERGE]);
  });

  it('a hold of writes (for the WAL rewind) delays group-committed writes until released, and never for long', async () => {
    const store = openStore();
    const { user, conversation } = await seed(store);
    const hold = store as unknown as { holdWrites(): void; releaseWrites(): void };
    hold.holdWrites();
    let done = false;
    const sending = send(store, conversation.id, user.id, ['held back']).then((m) => {
      done = true;
      return m;
    });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(done, 'no commit while writes are held').toBe(false);
    hold.releaseWrites();
    expect((await sending)[0]!.seq).toBe(1);

    // A hold nobody releases (a worker that died mid-way) ends by itself.
    hold.holdWrites();
    const [late] = await send(store, conversation.id, user.id, ['after an abandoned hold']);
    expect(late!.seq).toBe(2);
  });

  it('an index step is fsync\'d (synchronous=FULL) exactly when it applies edits or deletions', async () => {
    const store = openStore();
    const { user, conversation } = await seed(store);
    const [m] = await send(store, conversation.id, user.id, ['to be edited']);
    await closeStore(store);

    const main = new Database(file);
    const indexFile = path.join(dir, 'step.search.db');
    const index = openSearchDatabase(indexFile, sourceState(main));
    const pragmas: string[] = [];
    const pragma = index.pragma.bind(index);
    index.pragma = ((source: string, options?: Database.PragmaOptions) => {
      pragmas.push(source);
      return pragma(source, options);
    }) as typeof index.pragma;
    try {
      const step = new IndexStep(main, index);
      // Only new messages: no fsync of the index.
      let r = step.run({ indexedId: 0, outboxId: 0 });
      expect(r.marks.indexedId).toBe(Number(m!.id.slice(1)));
      expect(pragmas).toEqual([]);
      // An edit in the outbox: FULL for that step, NORMAL again after.
      main.prepare('INSERT INTO search_outbox (message_id) VALUES (?)').run(Number(m!.id.slice(1)));
      r = step.run(r.marks);
      expect(r.marks.outboxId).toBe(1);
      expect(pragmas).toEqual(['synchronous = FULL', 'synchronous = NORMAL']);
    } finally {
      index.close();
      main.close();
    }
  });

  it('a rolled-back batch leaves nothing for the index to wait for', async () => {
    const store = openStore();
    const { user, conversation } = await seed(store);
    const [kept] = await store.appendMessages([{ conversationId: conversation.id, senderId: user.id, content: 'kept', clientId: 'k1', createdAt: 2 }]);
    // A real failure inside SQLite, after an insert of the same batch succeeded.
    const other = new Database(file);
    other.exec(`CREATE TRIGGER fail_on_breaks BEFORE INSERT ON messages WHEN NEW.content = 'breaks'
                BEGIN SELECT RAISE(ABORT, 'forced failure'); END`);
    await expect(
      store.appendMessages([
        { conversationId: conversation.id, senderId: user.id, content: 'rolled back', clientId: 'k2', createdAt: 2 },
        { conversationId: conversation.id, senderId: user.id, content: 'breaks', clientId: 'k3', createdAt: 2 },
      ]),
    ).rejects.toThrow(/forced failure/);
    other.exec('DROP TRIGGER fail_on_breaks');
    other.close();
    // A batch that stores nothing new (a repeated clientId) after it.
    const [again] = await store.appendMessages([{ conversationId: conversation.id, senderId: user.id, content: 'kept', clientId: 'k1', createdAt: 3 }]);
    expect(again!.kind).toBe('duplicate');
    expect(kept!.kind).toBe('stored');
    expect(await found(store, user.id, 'kept')).toHaveLength(1);
    // The index reaches what was committed: a rolled-back id is not waited for.
    await until(() => store.indexLag() === 0, 'the index to reach the last commit');
  });

  it('at shutdown indexes what is left only within its budget, and the next start resumes from there by itself', async () => {
    const FILLER = 'the otters of the northern river keep their winter stores under the old mill, far from the herons';
    // No step before the close (a long delay, no bound on the lag), a 200 ms budget at it.
    const store = openStore({ indexDelayMs: 600_000, maxIndexLag: 1e9, indexCloseBudgetMs: 200 });
    const { user, conversation } = await seed(store);
    let last = 0;
    for (let b = 0; b < 50; b++) {
      const sent = await send(store, conversation.id, user.id, Array.from({ length: 2000 }, (_, i) => `backlog quokka ${b}-${i}: ${FILLER}`));
      last = Number(sent.at(-1)!.id.slice(1));
    }
    await closeStore(store);
    const index = new Database(searchDbPath(file), { readonly: true });
    const marks = readMarks(index)!;
    index.close();
    // 100,000 messages of ~130 characters are 50 steps of 2,000 (~25-35 ms
    // each here, ~1.5 s in all): within 200 ms it ran more than one step,
    // and stopped well before the end (on a machine up to ~5x faster too).
    expect(marks.indexedId).toBeGreaterThan(INDEX_BATCH);
    expect(marks.indexedId).toBeLessThan(last);
    // Reopened, with no send and no search to wake it, it catches up from its marks.
    const again = openStore({ indexDelayMs: 5 });
    await until(() => again.indexLag() === 0 && internals(again).indexer.marks.indexedId >= last, 'the index to catch up after a restart');
    expect(await found(again, user.id, 'quokka')).toHaveLength(100);
  });

  it('holds a batch of sends back while the index is further behind than its bound', async () => {
    const store = openStore({ maxIndexLag: 10, indexLagWaitMs: 20_000 });
    const { user, conversation } = await seed(store);
    const first = await send(store, conversation.id, user.id, Array.from({ length: 100 }, (_, i) => `burst ${i}`));
    const lastOfFirst = Number(first.at(-1)!.id.slice(1));
    // 100 behind > 10: this batch waits until the index is within 5 of the first batch's end.
    await send(store, conversation.id, user.id, ['after the burst']);
    expect(internals(store).indexer.marks.indexedId).toBeGreaterThanOrEqual(lastOfFirst - 5);
  });
});
