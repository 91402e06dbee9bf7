/**
 * Search never stalls chat (issue #17): searches run on reader threads, not
 * on the event loop, and cost what the caller's own conversations hold, not
 * what the whole index holds for the term. The cost is counted, not timed:
 * the store reports what each search read (SqliteStoreOptions.onSearch).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMainThread, threadId, type Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENSITY_PROBE, DIRECT_SCAN_MAX, DRIVE_CANDIDATES, DRIVE_PROBE, INDEX_POSTINGS_PER_MESSAGE, SEARCH_CANDIDATES, type SearchStats } from '../../src/store/sqlite/search-plan.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { NewMessage, UserRecord } from '../../src/store/store.js';

let dir: string;
let store: SqliteStore;
const stats: SearchStats[] = [];
/** What the store reported of failing threads. */
const failures: string[] = [];
let me: UserRecord;
let other: UserRecord;
let mine: string;
/** My messages with "common" in them (ids, sorted). */
let myCommon: string[];

const SMALL = 400;
const BIG = 10_000;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-readers-'));
  store = new SqliteStore({ file: path.join(dir, 'parley.db'), searchReaders: 2, onSearch: (s) => stats.push(s), onIndexError: (m) => failures.push(m) });
  const user = (name: string) => store.createUser({ username: name, displayName: name, passwordHash: 'x', createdAt: 1 });
  me = await user('me');
  other = await user('other');
  const third = await user('third');
  const group = async (members: UserRecord[]) =>
    (await store.createConversation({ type: 'group', title: 'g', ownerId: members[0]!.id, memberIds: members.map((m) => m.id), createdAt: 1 })).conversation.id;
  mine = await group([me, other]);
  const theirs = await group([other, third]);
  const msg = (conversationId: string, senderId: string, content: string): NewMessage => ({ conversationId, senderId, content, clientId: null, createdAt: 2 });
  // My small conversation first (the older messages): 5 of its 400 say "common".
  const out = await store.appendMessages(
    Array.from({ length: SMALL }, (_, i) => msg(mine, me.id, i % 80 === 0 ? `a common word ${i}` : `filler ${i}`)),
  );
  myCommon = out.flatMap((o) => (o.kind === 'stored' && o.message.content.includes('common') ? [o.message.id] : [])).sort();
  // Then a big conversation I am not in, every message with the word: the newest postings are all theirs.
  for (let i = 0; i < BIG; i += 2000) {
    await store.appendMessages(Array.from({ length: 2000 }, (_, k) => msg(theirs, other.id, `common word ${i + k} and more`)));
  }
  // Searches do not wait for the index (they read what it lacks from the messages): these tests are about an index that has it all.
  const deadline = Date.now() + 30_000;
  while (store.indexLag() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(store.indexLag()).toBe(0);
}, 60_000);

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The ids found (in id order: the ranking is the contract suite's business) and what the search read. */
async function search(user: UserRecord, q: string, conversationId?: string) {
  const hits = await store.search({ userId: user.id, terms: q.split(' '), conversationId, limit: 100 });
  return { ids: hits.map((h) => h.message.id).sort(), stats: stats[stats.length - 1]! };
}

describe('search readers', () => {
  it('run every search on a reader thread: the event loop only waits for the answer', async () => {
    const { stats: s } = await search(me, 'filler');
    expect(isMainThread).toBe(true);
    expect(s.threadId).not.toBe(threadId);
    expect(s.threadId).toBeGreaterThan(0);
  });

  it('a common term, a caller in one small conversation: the index side stops at its budget and the caller\'s messages are read instead', async () => {
    const { ids, stats: s } = await search(me, 'common');
    expect(ids).toEqual(myCommon);
    expect(s.scopeMessages).toBe(SMALL);
    expect(s.plan).toBe('scope');
    // The term has 10,005 postings. The index side may read 2 per message in scope (800), but
    // after 256 it sees they cover the newest 256 ids: about 10,400 in all, so it stops there.
    expect(s.postingsRead).toBe(DENSITY_PROBE);
    expect(s.postingsRead).toBeLessThanOrEqual(INDEX_POSTINGS_PER_MESSAGE * SMALL);
    expect(s.messagesRead).toBe(SMALL);
    expect(s.postingsRead + s.messagesRead).toBeLessThanOrEqual((INDEX_POSTINGS_PER_MESSAGE + 1) * SMALL);
    // the same within the one conversation
    const one = await search(me, 'common', mine);
    expect(one.ids).toEqual(myCommon);
    expect([one.stats.plan, one.stats.messagesRead]).toEqual(['scope', SMALL]);
  });

  it('the same term, a caller who holds its postings: the index side answers, reading only the newest matches', async () => {
    const { ids, stats: s } = await search(other, 'common');
    expect(ids).toHaveLength(100);
    expect(s.plan).toBe('index');
    expect(s.candidates).toBe(SEARCH_CANDIDATES);
    expect(s.postingsRead).toBe(SEARCH_CANDIDATES);
    expect(s.messagesRead).toBe(0);
  });

  it('a rarer term: the index side reads its postings and nothing else', async () => {
    const { ids, stats: s } = await search(me, 'filler');
    expect(ids).toHaveLength(100);
    expect(s.plan).toBe('index');
    expect(s.postingsRead).toBe(SMALL - myCommon.length);
    expect(s.messagesRead).toBe(0);
  });

  it('short terms alone (a word-prefix query merges all its postings first): a scope that holds little of the index is read directly', async () => {
    const { ids, stats: s } = await search(me, 'co');
    expect(ids).toEqual(myCommon);
    expect(s.plan).toBe('scope');
    expect(s.postingsRead).toBe(0);
    expect(s.messagesRead).toBe(SMALL);
  });

  it(`a scope of at most ${DIRECT_SCAN_MAX} messages is read directly`, async () => {
    const small = await store.createConversation({ type: 'direct', title: null, ownerId: null, memberIds: [me.id, (await store.createUser({ username: 'solo', displayName: 'solo', passwordHash: 'x', createdAt: 1 })).id], createdAt: 1 });
    const [stored] = await store.appendMessages([{ conversationId: small.conversation.id, senderId: me.id, content: 'zebra crossing', clientId: null, createdAt: 3 }]);
    const { ids, stats: s } = await search(me, 'zebra', small.conversation.id);
    expect(ids).toEqual([stored!.kind === 'stored' ? stored!.message.id : '']);
    expect([s.plan, s.postingsRead, s.messagesRead]).toEqual(['scope', 0, 1]);
  });

  it("an index further behind than the caller's conversations hold (rebuilding, or its thread down): the scope side answers, with what the index lacks", async () => {
    const file = path.join(dir, 'behind.db');
    const seen: SearchStats[] = [];
    const s = new SqliteStore({ file, onSearch: (x) => seen.push(x) });
    try {
      const u = await s.createUser({ username: 'u', displayName: 'u', passwordHash: 'x', createdAt: 1 });
      const v = await s.createUser({ username: 'v', displayName: 'v', passwordHash: 'x', createdAt: 1 });
      const mk = async (members: UserRecord[]) =>
        (await s.createConversation({ type: 'group', title: 'g', ownerId: members[0]!.id, memberIds: members.map((m) => m.id), createdAt: 1 })).conversation.id;
      const [mineToo, notMine] = [await mk([u]), await mk([v])];
      const at = (c: string, who: UserRecord, text: string): NewMessage => ({ conversationId: c, senderId: who.id, content: text, clientId: null, createdAt: 2 });
      await s.appendMessages(Array.from({ length: 300 }, (_, i) => at(mineToo, u, i === 7 ? 'a rare okapi' : `plain ${i}`)));
      const indexer = (s as unknown as { indexer: { close(): Promise<void> } }).indexer;
      await indexer.close(); // the index stays where it is
      await s.appendMessages(Array.from({ length: 400 }, (_, i) => at(notMine, v, `elsewhere ${i}`)));
      const [late] = await s.appendMessages([at(mineToo, u, 'another okapi, after')]);
      const hits = await s.search({ userId: u.id, terms: ['okapi'], limit: 10 });
      expect(hits.map((h) => h.message.content).sort()).toEqual(['a rare okapi', 'another okapi, after']);
      expect(late!.kind).toBe('stored');
      expect(seen.at(-1)).toMatchObject({ plan: 'scope', postingsRead: 0, messagesRead: 301 });
    } finally {
      await s.close();
    }
  });

  /** A store of its own: `u` alone in a conversation of `mine`, `v` alone in one of `theirs`; returns once all is indexed. */
  async function ownStore(name: string, mine: (i: number) => string, mineCount: number, theirs: (i: number) => string, theirsCount: number) {
    const seen: SearchStats[] = [];
    const s = new SqliteStore({ file: path.join(dir, `${name}.db`), onSearch: (x) => seen.push(x) });
    const u = await s.createUser({ username: 'u', displayName: 'u', passwordHash: 'x', createdAt: 1 });
    const v = await s.createUser({ username: 'v', displayName: 'v', passwordHash: 'x', createdAt: 1 });
    const mk = async (who: UserRecord) => (await s.createConversation({ type: 'group', title: 'g', ownerId: who.id, memberIds: [who.id], createdAt: 1 })).conversation.id;
    const [mineId, theirsId] = [await mk(u), await mk(v)];
    const at = (c: string, who: UserRecord, content: string): NewMessage => ({ conversationId: c, senderId: who.id, content, clientId: null, createdAt: 2 });
    const mineOut = await s.appendMessages(Array.from({ length: mineCount }, (_, i) => at(mineId, u, mine(i))));
    const theirsOut = await s.appendMessages(Array.from({ length: theirsCount }, (_, i) => at(theirsId, v, theirs(i))));
    const ids = (o: typeof mineOut) => o.map((x) => (x.kind === 'stored' ? x.message.id : ''));
    const deadline = Date.now() + 30_000;
    while (s.indexLag() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(s.indexLag()).toBe(0);
    const find = async (q: string) => {
      const hits = await s.search({ userId: u.id, terms: q.split(' '), limit: 100 });
      return { contents: hits.map((h) => h.message.content).sort(), stats: seen.at(-1)! };
    };
    return { s, u, v, mine: ids(mineOut), theirs: ids(theirsOut), find };
  }

  it('terms each common but rarely together (two words; a phrase of common trigrams): the index side drives by one token, so every posting FTS5 reads is counted and the budget holds', async () => {
    // Theirs: "alpha the N" and "beta het eth N" in turn: alpha, beta and the trigrams the, het, eth
    // each in ~2,000 messages, but never alpha with beta, nor "thethethe". Mine: 300, one of each.
    const o = await ownStore('together', (i) => (i === 5 ? 'alpha beta' : i === 9 ? 'xthethethex' : `plain ${i}`), 300, (i) => (i % 2 ? `alpha the ${i}` : `beta het eth ${i}`), 4000);
    try {
      for (const [q, want] of [['alpha beta', ['alpha beta']], ['thethethe', ['xthethethex']]] as const) {
        const { contents, stats: st } = await o.find(q);
        expect(contents, q).toEqual(want);
        // As two phrases or a phrase of three trigrams, FTS5 would match them inside the MATCH,
        // walking ~4,000 postings to return one row: counted 1, the index side would answer.
        expect(st.plan, q).toBe('scope');
        expect(st.drive, q).toMatch(/^"[^"]+"\*?$/);
        expect(st.postingsRead, q).toBe(DENSITY_PROBE);
        expect(st.probeRead, q).toBeLessThanOrEqual(DRIVE_CANDIDATES * DRIVE_PROBE);
        expect(st.messagesRead, q).toBe(300);
      }
      // The rarest of the terms' trigrams drives: "alpha beta" with a rare word drives by the rare one.
      const { contents, stats: st } = await o.find('alpha plain');
      expect(contents).toEqual([]);
      expect(st.plan).toBe('index');
      expect(['"pla"', '"lai"', '"ain"']).toContain(st.drive);
      expect(st.postingsRead).toBe(298);
    } finally {
      await o.s.close();
    }
  });

  it('changes the index has not applied, more than the caller holds (a mass deletion during an index rebuild): the scope side answers', async () => {
    const o = await ownStore('outbox', (i) => (i === 7 ? 'a rare okapi' : `plain ${i}`), 300, (i) => `elsewhere ${i}`, 400);
    try {
      await (o.s as unknown as { indexer: { close(): Promise<void> } }).indexer.close(); // the index stays where it is
      const [edited] = await o.s.changeMessages([{ kind: 'edit', messageId: o.mine[7]!, userId: o.u.id, content: 'an okapi, edited', at: 3 }]);
      expect(edited!.kind).toBe('changed');
      const small = await o.find('okapi');
      expect(small.contents).toEqual(['an okapi, edited']);
      expect(small.stats).toMatchObject({ plan: 'index', unindexedRead: 1 });
      // 400 deletions in a conversation the caller is not in: reading them all would cost more than the caller's 300 messages.
      await o.s.changeMessages(o.theirs.map((id) => ({ kind: 'delete' as const, messageId: id, userId: o.v.id, at: 4 })));
      const big = await o.find('okapi');
      expect(big.contents).toEqual(['an okapi, edited']);
      expect(big.stats).toMatchObject({ plan: 'scope', postingsRead: 0, unindexedRead: 0, messagesRead: 300 });
    } finally {
      await o.s.close();
    }
  });

  it('a reader thread that dies is replaced; searches go on', async () => {
    const readers = (store as unknown as { readers: { slots: Set<{ worker: Worker; ready: boolean }>; size: number; ready: number } }).readers;
    const [first] = [...readers.slots];
    await first!.worker.terminate();
    const { ids } = await search(me, 'common');
    expect(ids).toEqual(myCommon);
    const deadline = Date.now() + 10_000;
    while (readers.ready < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(readers.ready).toBe(2);
    expect([...readers.slots].map((s) => s.worker)).not.toContain(first!.worker);
    expect(failures.join('\n')).toMatch(/search reader exited/);
  });

  it('close ends the reader threads, and later searches are refused (unavailable)', async () => {
    const file = path.join(dir, 'closing.db');
    const s = new SqliteStore({ file, searchReaders: 2 });
    const u = await s.createUser({ username: 'u', displayName: 'u', passwordHash: 'x', createdAt: 1 });
    await s.search({ userId: u.id, terms: ['anything'], limit: 10 });
    const readers = (s as unknown as { readers: { size: number } }).readers;
    expect(readers.size).toBe(2);
    await s.close();
    expect(readers.size).toBe(0);
    await expect(s.search({ userId: u.id, terms: ['anything'], limit: 10 })).rejects.toThrow(/closed/);
  });
});
