import fs from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Type } from 'typebox';
import { direct, group, http, register, SocketPool, type Account, type TestSocket } from '../helpers/client.js';
import { startServer, TEST_STORE, useServer } from '../helpers/server.js';
import { searchDbPath } from '../../src/store/sqlite/search-index.js';
import { expectConversation, expectMessage, expectShape, expectAckError } from '../helpers/shapes.js';
import { MessageEvent } from '../../src/protocol/events.js';

/**
 * Editing and deleting messages, through a real t.server.
 * Contract: "Socket.IO events" (message:edit, message:delete, message:updated,
 * sync), "Common shapes" (rev, unreadCount), "Conversations (REST)" (history,
 * lastMessage).
 */

const t = useServer();
const { pool } = t;
const dbs: Database.Database[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

// ---- helpers ------------------------------------------------------------------------

const MessageAck = Type.Object({ ok: Type.Literal(true), message: Type.Any() });

/** Checks a message against the wire schema; returns it. */
function wire(m: unknown): any {
  expectMessage(m);
  return m;
}

async function edit(s: TestSocket, messageId: string, content: string): Promise<any> {
  const ack = await s.call('message:edit', { messageId, content });
  expectShape(MessageAck, ack);
  return wire(ack.message);
}

async function del(s: TestSocket, messageId: string): Promise<any> {
  const ack = await s.call('message:delete', { messageId });
  expectShape(MessageAck, ack);
  return wire(ack.message);
}

const api = (who: Account, method: string, path: string, body?: unknown) => http(t.url, method, path, { token: who.token, body });

async function conversation(who: Account, cid: string): Promise<any> {
  const r = await api(who, 'GET', `/api/conversations/${cid}`);
  expect(r.status).toBe(200);
  expectConversation(r.body);
  return r.body;
}

async function history(who: Account, cid: string, query = ''): Promise<{ messages: any[]; hasMore: boolean }> {
  const r = await api(who, 'GET', `/api/conversations/${cid}/messages${query}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  for (const m of r.body.messages) expectMessage(m);
  return r.body;
}

/** The message with this id in the conversation's history (the latest 100). */
async function inHistory(who: Account, cid: string, id: string): Promise<any> {
  return (await history(who, cid, '?limit=100')).messages.find((m) => m.id === id);
}

async function pair(): Promise<[Account, Account, string]> {
  const a = await register(t.url, 'a');
  const b = await register(t.url, 'b');
  return [a, b, (await direct(t.url, a, b)).id];
}

async function sendMany(s: TestSocket, cid: string, n: number, text = 'm'): Promise<any[]> {
  const out = [];
  for (let i = 1; i <= n; i++) out.push(await s.send(cid, `${text} ${i}`));
  return out;
}

/** The server's database, read-only, closed after the test. */
function database(): Database.Database {
  const db = new Database(t.server.config.dbPath, { readonly: true });
  dbs.push(db);
  return db;
}

/** The search index's own file (kept by the indexer thread), read-only. */
function searchIndex(): Database.Database {
  const db = new Database(searchDbPath(t.server.config.dbPath), { readonly: true });
  dbs.push(db);
  return db;
}

const isTime = (t: unknown) => typeof t === 'string' && !Number.isNaN(Date.parse(t));

// ---- message:edit ------------------------------------------------------------------

describe('message:edit', () => {
  it('the sender edits: new content and editedAt, same id, seq and createdAt, the conversation\'s next rev', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const [m1, m2] = await sendMany(sa, cid, 2);
    expect([m1.rev, m2.rev]).toEqual([1, 2]);

    const edited = await edit(sa, m1.id, 'first, corrected ✏️');
    expect(edited).toEqual({
      ...m1,
      content: 'first, corrected ✏️',
      rev: 3,
      editedAt: expect.any(String),
      status: expect.any(String),
    });
    expect(isTime(edited.editedAt)).toBe(true);
    expect(Date.parse(edited.editedAt)).toBeGreaterThanOrEqual(Date.parse(m1.createdAt));
    expect(edited.deletedAt).toBeNull();

    // History, join and the conversation agree, for both members.
    for (const who of [a, b]) {
      expect(await inHistory(who, cid, m1.id)).toEqual(edited);
      const conv = await conversation(who, cid);
      expect(conv).toMatchObject({ lastSeq: 2, lastRev: 3 });
      expect(conv.lastMessage).toEqual(m2); // an edit is not a new message
    }
    const sb = await pool.connect(b);
    const join = await sb.ok('conversation:join', { conversationId: cid });
    expect(join.messages.map((m: any) => [m.seq, m.content])).toEqual([
      [1, 'first, corrected ✏️'],
      [2, 'm 2'],
    ]);

    // Editing again takes the next rev again and moves editedAt forward (or keeps it).
    const again = await edit(sa, m1.id, 'first, final');
    expect(again).toMatchObject({ id: m1.id, seq: 1, rev: 4, content: 'first, final' });
    expect(Date.parse(again.editedAt)).toBeGreaterThanOrEqual(Date.parse(edited.editedAt));
    expect((await conversation(a, cid)).lastRev).toBe(4);
  });

  it('an edit of the last message shows in lastMessage', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const [, m2] = await sendMany(sa, cid, 2);
    const edited = await edit(sa, m2.id, 'last, edited');
    expect((await conversation(b, cid)).lastMessage).toEqual(edited);
  });

  it('accepts 4000 code points of emoji, and keeps the text exactly', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const m = await sa.send(cid, 'short');
    const long = '🙂'.repeat(4000);
    const edited = await edit(sa, m.id, long);
    expect(edited.content).toBe(long);
    expect((await inHistory(b, cid, m.id)).content).toBe(long);
    const exotic = 'שלום  \n\t Cafe\u0301 <b>&amp;</b> 東京 👩‍👩‍👧';
    expect((await edit(sa, m.id, exotic)).content).toBe(exotic);
    expect((await inHistory(b, cid, m.id)).content).toBe(exotic);
  });
});

// ---- message:delete ------------------------------------------------------------------

describe('message:delete', () => {
  it('the sender deletes: same id and seq, content "", deletedAt set, the conversation\'s next rev', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const [m1, m2, m3] = await sendMany(sa, cid, 3);
    const deleted = await del(sa, m2.id);
    expect(deleted).toEqual({
      ...m2,
      content: '',
      rev: 4,
      deletedAt: expect.any(String),
      status: expect.any(String),
    });
    expect(isTime(deleted.deletedAt)).toBe(true);
    expect(Date.parse(deleted.deletedAt)).toBeGreaterThanOrEqual(Date.parse(m2.createdAt));

    for (const who of [a, b]) {
      const h = await history(who, cid);
      expect(h.messages.map((m) => m.seq)).toEqual([1, 2, 3]); // it keeps its seq: no gap
      expect(h.messages[1]).toEqual(deleted);
      expect(h.messages[0]).toEqual({ ...m1, status: expect.any(String) });
      expect(h.messages[2]).toEqual({ ...m3, status: expect.any(String) });
      expect(await conversation(who, cid)).toMatchObject({ lastSeq: 3, lastRev: 4 });
    }
  });

  it('deleting the last message: lastMessage is that message, deleted', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const [, m2] = await sendMany(sa, cid, 2);
    const deleted = await del(sa, m2.id);
    const conv = await conversation(b, cid);
    expect(conv.lastSeq).toBe(2);
    expect(conv.lastMessage).toEqual(deleted);
    expect(conv.lastMessage).toMatchObject({ content: '', seq: 2 });
    expect(conv.lastMessage.deletedAt).not.toBeNull();
  });

  it('deleting again answers the message unchanged: same rev, no rev taken, nothing announced', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sa2 = await pool.connect(a);
    const sb = await pool.connect(b);
    const m = await sa.send(cid, 'gone soon');
    const first = await del(sa, m.id);
    await sb.waitFor('message:updated', (p) => p.message.id === m.id);
    await sa2.waitFor('message:updated', (p) => p.message.id === m.id);

    const second = await del(sa, m.id);
    expect(second).toEqual(first);
    const third = await del(sa2, m.id); // from another device as well
    expect(third).toEqual(first);
    expect((await conversation(a, cid)).lastRev).toBe(first.rev);
    for (const s of [sa, sa2, sb]) await s.barrier();
    expect(sb.all('message:updated', (p) => p.message.id === m.id)).toHaveLength(1);
    expect(sa2.all('message:updated', (p) => p.message.id === m.id)).toHaveLength(1);
    expect(sa.all('message:updated')).toHaveLength(0);
  });

  it('editing a deleted message is a validation error and changes nothing', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const m = await sa.send(cid, 'soon deleted');
    const deleted = await del(sa, m.id);
    await sb.waitFor('message:updated', (p) => p.message.id === m.id);
    expectAckError(await sa.call('message:edit', { messageId: m.id, content: 'back from the dead' }), 'validation');
    expect(await inHistory(b, cid, m.id)).toEqual(deleted);
    expect((await conversation(a, cid)).lastRev).toBe(deleted.rev);
    await sb.barrier();
    expect(sb.all('message:updated', (p) => p.message.id === m.id)).toHaveLength(1);
  });

  it('an edited message can be deleted; its edit time stays, its text goes', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const m = await sa.send(cid, 'v1');
    const edited = await edit(sa, m.id, 'v2');
    const deleted = await del(sa, m.id);
    expect(deleted).toMatchObject({ id: m.id, seq: 1, rev: 3, content: '', editedAt: edited.editedAt });
    expect(deleted.deletedAt).not.toBeNull();
    expect(await inHistory(b, cid, m.id)).toEqual(deleted);
  });

  // SQLite's files and FTS5 index; the PostgreSQL store's columns: test/store/postgres.test.ts.
  it.skipIf(TEST_STORE !== 'sqlite')('erases the text from the store: the row holds "" and, by the time of the ack, neither search index has a trace of it', async () => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    const secret = 'zqxsecret' + Math.random().toString(36).slice(2, 8).replace(/\d/g, 'k');
    const m = await sa.send(cid, `the vault code is ${secret} — Crème Brûlée 東京都`);
    const keep = await sa.send(cid, 'unrelated words stay findable');

    const db = database();
    const rows = db.prepare('SELECT id FROM messages WHERE instr(content, ?) > 0').all(secret) as { id: number }[];
    expect(rows).toHaveLength(1);
    const rowid = rows[0]!.id;
    // A search finds every acknowledged message (indexed or not yet: it reads what the index has not taken in).
    const found = await api(a, 'GET', `/api/search?q=${secret}`);
    expect(found.body.results.map((r: { id: string }) => r.id)).toEqual([m.id]);
    const index = searchIndex();
    const match = (table: string, phrase: string) =>
      (index.prepare(`SELECT rowid FROM ${table} WHERE ${table} MATCH ?`).all(`"${phrase.replaceAll('"', '""')}"`) as { rowid: number }[]).map(
        (r) => r.rowid,
      );
    // fts5vocab lists what each index holds, by rowid: whatever the index keeps of a text.
    index.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.trigram_terms USING fts5vocab(main, message_trigrams, instance)`);
    index.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.word_terms USING fts5vocab(main, message_words, instance)`);
    const entries = (vocab: string) => (index.prepare(`SELECT count(*) AS n FROM temp.${vocab} WHERE doc = ?`).get(rowid) as { n: number }).n;
    // The probes do see the message while it exists, once the indexer (a background thread) has taken it in.
    await vi.waitFor(() => expect(match('message_trigrams', secret)).toEqual([rowid]), { timeout: 10_000, interval: 20 });
    expect(match('message_trigrams', secret.slice(3, 9))).toEqual([rowid]);
    expect(entries('trigram_terms')).toBeGreaterThan(0);
    expect(entries('word_terms')).toBeGreaterThan(0);

    const deleted = await del(sa, m.id);
    expect(deleted.content).toBe('');

    const row = db.prepare('SELECT content, deleted_at, seq FROM messages WHERE id = ?').get(rowid) as any;
    expect(row.content).toBe('');
    expect(row.deleted_at).not.toBeNull();
    expect(row.seq).toBe(m.seq);
    expect(db.prepare('SELECT count(*) AS n FROM messages WHERE instr(content, ?) > 0').get(secret)).toEqual({ n: 0 });
    for (const phrase of [secret, secret.slice(3, 9), 'vault', 'creme brulee', 'Brûlée', '東京', 'va', 'zq', '東 京']) {
      expect(match('message_trigrams', phrase), `trigrams: ${phrase}`).not.toContain(rowid);
      expect(match('message_words', phrase), `words: ${phrase}`).not.toContain(rowid);
    }
    // Not one entry of the row is left in either index.
    expect(entries('trigram_terms')).toBe(0);
    expect(entries('word_terms')).toBe(0);
    // while the other message is still indexed
    const keepRow = (db.prepare('SELECT id FROM messages WHERE instr(content, ?) > 0').get('unrelated words stay') as { id: number }).id;
    expect(match('message_trigrams', 'findable')).toEqual([keepRow]);
    expect(keep.content).toBe('unrelated words stay findable');
  });

  it.skipIf(TEST_STORE !== 'sqlite')('leaves no copy of the deleted text in the database files once the server has closed them', async () => {
    // A server of its own, so its files can be read after a clean close (a WAL checkpoint).
    const own = await startServer();
    const ownPool = new SocketPool(() => own.url);
    try {
      const a = await register(own.url, 'a');
      const b = await register(own.url, 'b');
      const cid = (await direct(own.url, a, b)).id;
      const sa = await ownPool.connect(a);
      const secret = 'zqxerase' + Math.random().toString(36).slice(2, 10).replace(/\d/g, 'w');
      const m = await sa.send(cid, `private: ${secret}`);
      await sa.send(cid, 'something else');
      await del(sa, m.id);
      // A search, so that the server has the index attached when it closes.
      expect((await http(own.url, 'GET', '/api/search?q=something', { token: a.token })).status).toBe(200);
    } finally {
      ownPool.closeAll();
      await own.close();
    }
    const dbFiles = [own.config.dbPath, searchDbPath(own.config.dbPath)];
    // A clean close checkpoints both databases: no WAL is left with old pages in it.
    // (Checked before this test opens them again: a read-only connection leaves its own.)
    expect(dbFiles.map((f) => `${f}-wal`).filter((f) => fs.existsSync(f)), 'WAL files left after a clean close').toEqual([]);
    // "its text is erased from storage, search index included": no table holds it, not even in an
    // index's internal blobs, and no byte of it is left in the files (free space, WAL).
    const tablesHoldingIt: string[] = [];
    for (const file of [own.config.dbPath, searchDbPath(own.config.dbPath)]) {
    const db = new Database(file, { readonly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
      for (const t of tables) {
        let rows: unknown[];
        try {
          rows = db.prepare(`SELECT * FROM "${t}"`).raw().all() as unknown[][];
        } catch {
          continue; // a virtual table that cannot be read directly (its shadow tables are)
        }
        const holds = (rows as unknown[][]).some((r) =>
          r.some((v) => (Buffer.isBuffer(v) && v.includes('zqxerase')) || (typeof v === 'string' && v.includes('zqxerase'))),
        );
        if (holds) tablesHoldingIt.push(`${file}: ${t}`);
      }
    } finally {
      db.close();
    }
    }
    expect(tablesHoldingIt, 'tables whose rows still hold the deleted text').toEqual([]);
    const files = dbFiles.filter((f) => fs.existsSync(f));
    expect(files).toHaveLength(2);
    const secretBytesIn = files.filter((f) => fs.readFileSync(f).includes('zqxerase'));
    expect(secretBytesIn, 'files that still hold the deleted text').toEqual([]);
  });
});

// ---- message:updated ----------------------------------------------------------------

describe('message:updated', () => {
  it('edits and deletions reach every socket of every member but the acting socket, and nobody else', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const c = await register(t.url, 'c');
    const outsider = await register(t.url, 'x');
    const cid = (await group(t.url, a, [b, c], 'updates')).id;
    const a1 = await pool.connect(a);
    const a2 = await pool.connect(a);
    const b1 = await pool.connect(b);
    const b2 = await pool.connect(b, { transports: ['polling'] });
    const c1 = await pool.connect(c);
    const x = await pool.connect(outsider);
    const m = await a1.send(cid, 'original');
    const edited = await edit(a1, m.id, 'edited');
    for (const s of [a2, b1, b2, c1]) {
      const [got] = await s.waitFor('message:updated', (p) => p.message.id === m.id && p.message.content === 'edited');
      expectShape(MessageEvent, got);
      expect(got.message).toEqual(edited);
    }
    // the deletion, from the sender's other device this time
    const deleted = await del(a2, m.id);
    for (const s of [a1, b1, b2, c1]) {
      const [got] = await s.waitFor('message:updated', (p) => p.message.id === m.id && p.message.deletedAt !== null);
      expectShape(MessageEvent, got);
      expect(got.message).toEqual(deleted);
    }
    for (const s of [a1, a2, b1, b2, c1, x]) await s.barrier();
    expect(a1.all('message:updated').map((p) => p.message.content)).toEqual(['']); // not its own edit
    expect(a2.all('message:updated').map((p) => p.message.content)).toEqual(['edited']); // not its own deletion
    for (const s of [b1, b2, c1]) expect(s.all('message:updated').map((p) => p.message.content)).toEqual(['edited', '']);
    expect(x.all('message:updated')).toEqual([]);
    // an edit or deletion is not a new message
    for (const s of [a2, b1, b2, c1]) expect(s.all('message:new')).toHaveLength(1);
  });

  it('arrives after the message:new of the same message, in rev order', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const m = await sa.send(cid, 'one');
    await edit(sa, m.id, 'two');
    await edit(sa, m.id, 'three');
    await del(sa, m.id);
    await sb.waitFor('message:updated', (p) => p.message.id === m.id, 3);
    const seen = sb.events.filter((e) => e.name === 'message:new' || e.name === 'message:updated').map((e) => [e.name, e.payload.message.rev]);
    expect(seen).toEqual([
      ['message:new', 1],
      ['message:updated', 2],
      ['message:updated', 3],
      ['message:updated', 4],
    ]);
  });
});

// ---- who may ---------------------------------------------------------------------------

describe('only the sender may edit or delete', () => {
  it('another member gets forbidden; an outsider, an unknown or a wrong-kind id get not_found; nothing changes or is announced', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const outsider = await register(t.url, 'x');
    const cid = (await group(t.url, a, [b], 'mine')).id;
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const sx = await pool.connect(outsider);
    const m = await sa.send(cid, "a's words");
    await sb.waitFor('message:new', (p) => p.message.id === m.id);

    expectAckError(await sb.call('message:edit', { messageId: m.id, content: "b's words" }), 'forbidden');
    expectAckError(await sb.call('message:delete', { messageId: m.id }), 'forbidden');
    expectAckError(await sx.call('message:edit', { messageId: m.id, content: 'x' }), 'not_found');
    expectAckError(await sx.call('message:delete', { messageId: m.id }), 'not_found');
    for (const messageId of ['m999999999', 'nope', cid, a.id, 'm0', "m1' OR '1'='1"]) {
      expectAckError(await sa.call('message:edit', { messageId, content: 'x' }), 'not_found');
      expectAckError(await sa.call('message:delete', { messageId }), 'not_found');
    }

    const h = await history(a, cid);
    expect(h.messages).toEqual([{ ...m, status: expect.any(String) }]);
    expect((await conversation(a, cid)).lastRev).toBe(1);
    for (const s of [sa, sb, sx]) await s.barrier();
    for (const s of [sa, sb, sx]) expect(s.all('message:updated')).toEqual([]);
  });

  it("a member may edit and delete their own message but not another member's in the same conversation", async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const ma = await sa.send(cid, 'from a');
    const mb = await sb.send(cid, 'from b');
    expect((await edit(sb, mb.id, 'from b, edited')).content).toBe('from b, edited');
    expectAckError(await sa.call('message:edit', { messageId: mb.id, content: 'hijack' }), 'forbidden');
    expectAckError(await sb.call('message:delete', { messageId: ma.id }), 'forbidden');
    expect((await del(sa, ma.id)).deletedAt).not.toBeNull();
    expect((await history(b, cid)).messages.map((m) => m.content)).toEqual(['', 'from b, edited']);
  });
});

// ---- validation ----------------------------------------------------------------------------

describe('malformed payloads are validation errors', () => {
  const longId = 'm'.repeat(65);
  it.each([
    ['no payload', undefined],
    ['a null payload', null],
    ['a string payload', 'm1'],
    ['an array payload', ['m1', 'x']],
    ['an empty object', {}],
    ['no content', { messageId: 'm1' }],
    ['no messageId', { content: 'x' }],
    ['a numeric messageId', { messageId: 1, content: 'x' }],
    ['an empty messageId', { messageId: '', content: 'x' }],
    ['a messageId over 64 characters', { messageId: longId, content: 'x' }],
    ['numeric content', { messageId: 'm1', content: 42 }],
    ['null content', { messageId: 'm1', content: null }],
    ['empty content', { messageId: 'm1', content: '' }],
    ['blank content', { messageId: 'm1', content: ' \n\t\u00a0 ' }],
    ['content over 4000 code points', { messageId: 'm1', content: '🙂'.repeat(4001) }],
    ['content with a lone surrogate', { messageId: 'm1', content: 'bad \ud800 text' }],
  ])('message:edit with %s', async (_name, payload) => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    const m = await sa.send(cid, 'unchanged');
    const fix = (p: any) => (p && typeof p === 'object' && !Array.isArray(p) && p.messageId === 'm1' ? { ...p, messageId: m.id } : p);
    const ack = payload === undefined ? await sa.socket.timeout(10_000).emitWithAck('message:edit') : await sa.call('message:edit', fix(payload));
    expectAckError(ack, 'validation');
    expect(await inHistory(a, cid, m.id)).toEqual({ ...m, status: expect.any(String) });
  });

  it.each([
    ['no payload', undefined],
    ['a null payload', null],
    ['a string payload', 'm1'],
    ['an empty object', {}],
    ['a numeric messageId', { messageId: 7 }],
    ['an empty messageId', { messageId: '' }],
    ['a messageId over 64 characters', { messageId: longId }],
  ])('message:delete with %s', async (_name, payload) => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    const m = await sa.send(cid, 'unchanged');
    const ack = payload === undefined ? await sa.socket.timeout(10_000).emitWithAck('message:delete') : await sa.call('message:delete', payload);
    expectAckError(ack, 'validation');
    expect(await inHistory(a, cid, m.id)).toEqual({ ...m, status: expect.any(String) });
  });

  it('names the field that is wrong', async () => {
    const [a, , cid] = await pair();
    const sa = await pool.connect(a);
    const m = await sa.send(cid, 'x');
    const ack = await sa.call('message:edit', { messageId: m.id, content: '   ' });
    expectAckError(ack, 'validation');
    expect(ack.error.message).toMatch(/content/);
    const ack2 = await sa.call('message:delete', {});
    expectAckError(ack2, 'validation');
    expect(ack2.error.message).toMatch(/messageId/);
  });
});

// ---- rev and sync --------------------------------------------------------------------------

describe('edits and deletions in sync', () => {
  it('an offline client learns of each changed message once, in its final state, from the cursor it had; lastRev advances', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const sent = await sendMany(sa, cid, 5); // revs 1..5
    await sb.waitFor('message:new', (p) => p.message.conversationId === cid, 5);
    const cursor = Math.max(...sb.all('message:new').map((p) => p.message.rev));
    expect(cursor).toBe(5);
    sb.close();

    // While B is away.
    await edit(sa, sent[1].id, 'two, edited'); // rev 6
    await del(sa, sent[2].id); // rev 7
    const six = await sa.send(cid, 'six'); // rev 8
    await edit(sa, six.id, 'six, edited'); // rev 9
    await edit(sa, sent[1].id, 'two, edited again'); // rev 10
    await del(sa, sent[3].id); // rev 11
    await del(sa, sent[2].id); // already deleted: no rev
    const conv = await conversation(a, cid);
    expect(conv).toMatchObject({ lastSeq: 6, lastRev: 11 });

    const sb2 = await pool.connect(b);
    const ans = await sb2.ok('sync', { cursors: { [cid]: cursor } });
    for (const m of ans.messages) expectMessage(m);
    expect(ans.hasMore).toBe(false);
    expect(ans.messages.map((m: any) => [m.seq, m.rev, m.content])).toEqual([
      [3, 7, ''],
      [6, 9, 'six, edited'],
      [2, 10, 'two, edited again'],
      [4, 11, ''],
    ]);
    const bySeq = new Map(ans.messages.map((m: any) => [m.seq, m]));
    for (const seq of [3, 4]) expect((bySeq.get(seq) as any).deletedAt).not.toBeNull();
    for (const seq of [2, 6]) {
      expect((bySeq.get(seq) as any).editedAt).not.toBeNull();
      expect((bySeq.get(seq) as any).deletedAt).toBeNull();
    }
    // each message as history shows it now
    for (const m of ans.messages) expect(m).toEqual(await inHistory(b, cid, m.id));
    // the conversation changed after the cursor: it is listed, with the new lastRev
    expect(ans.conversations.map((c: any) => c.id)).toEqual([cid]);
    expect(ans.conversations[0]).toMatchObject({ lastRev: 11, lastSeq: 6 });

    // Applied up to the highest rev seen: nothing more, nothing twice.
    const highest = Math.max(...ans.messages.map((m: any) => m.rev));
    expect(highest).toBe(11);
    expect(await sb2.ok('sync', { cursors: { [cid]: highest } })).toEqual({ ok: true, messages: [], conversations: [], hasMore: false });

    // From the cursor at which the later changes happened: only those.
    const later = await sb2.ok('sync', { cursors: { [cid]: 9 } });
    expect(later.messages.map((m: any) => [m.seq, m.rev])).toEqual([
      [2, 10],
      [4, 11],
    ]);

    // Paged, the same changes, once each.
    const page1 = await sb2.ok('sync', { cursors: { [cid]: cursor }, limit: 2 });
    expect(page1.messages.map((m: any) => m.rev)).toEqual([7, 9]);
    expect(page1.hasMore).toBe(true);
    const page2 = await sb2.ok('sync', { cursors: { [cid]: 9 }, limit: 2 });
    expect(page2.messages.map((m: any) => m.rev)).toEqual([10, 11]);
    expect(page2.hasMore).toBe(false);
  });

  it('a client that was online applies message:updated and has nothing left to sync', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sb = await pool.connect(b);
    const m = await sa.send(cid, 'x');
    await edit(sa, m.id, 'y');
    await del(sa, m.id);
    await sb.waitFor('message:updated', (p) => p.message.id === m.id, 2);
    const revs = sb.events.filter((e) => e.name.startsWith('message:')).map((e) => e.payload.message.rev);
    const cursor = Math.max(...revs);
    expect(cursor).toBe((await conversation(b, cid)).lastRev);
    expect((await sb.ok('sync', { cursors: { [cid]: cursor } })).messages).toEqual([]);
  });

  it('edits and deletions of different messages sent together all commit, each with its own rev', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sent = await sendMany(sa, cid, 20);
    const acks = await Promise.all(
      sent.map((m, i) =>
        i % 2 ? sa.call('message:delete', { messageId: m.id }) : sa.call('message:edit', { messageId: m.id, content: `edited ${i}` }),
      ),
    );
    for (const ack of acks) expectShape(MessageAck, ack);
    const revs = acks.map((ack) => ack.message.rev).sort((x, y) => x - y);
    expect(revs).toEqual(Array.from({ length: 20 }, (_, i) => 21 + i));
    expect(await conversation(b, cid)).toMatchObject({ lastSeq: 20, lastRev: 40 });
    const h = await history(b, cid);
    expect(h.messages.map((m) => m.content)).toEqual(sent.map((_, i) => (i % 2 ? '' : `edited ${i}`)));
  });

  it('an edit and a deletion of the same message racing: it ends deleted, and an edit after the deletion is refused', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const m = await sa.send(cid, 'race');
    const [e, d] = await Promise.all([
      sa.call('message:edit', { messageId: m.id, content: 'edited in the race' }),
      sa.call('message:delete', { messageId: m.id }),
    ]);
    expectShape(MessageAck, d);
    if (e.ok) {
      expect(e.message.rev).toBeLessThan(d.message.rev);
    } else {
      expectAckError(e, 'validation');
    }
    const final = await inHistory(b, cid, m.id);
    expect(final).toMatchObject({ content: '', rev: d.message.rev });
    expect(final.deletedAt).not.toBeNull();
    expect((await conversation(b, cid)).lastRev).toBe(d.message.rev);
  });
});

// ---- unread counts -------------------------------------------------------------------------

describe('unreadCount through deletions and edits', () => {
  it('a deleted unread message no longer counts, an edit changes nothing, one\'s own messages never count', async () => {
    const a = await register(t.url, 'a');
    const b = await register(t.url, 'b');
    const c = await register(t.url, 'c');
    const cid = (await group(t.url, a, [b, c], 'counts')).id;
    const [sa, sb, sc] = [await pool.connect(a), await pool.connect(b), await pool.connect(c)];
    const unread = async (who: Account) => {
      const one = (await conversation(who, cid)).unreadCount;
      const r = await api(who, 'GET', '/api/conversations');
      const inList = (r.body.conversations as any[]).find((x) => x.id === cid)?.unreadCount;
      expect(inList, 'GET /api/conversations agrees with GET /api/conversations/:id').toBe(one);
      return one;
    };

    const [b1, b2, b3] = await sendMany(sb, cid, 3, 'b'); // seqs 1..3
    const c4 = await sc.send(cid, 'c 4'); // seq 4
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([4, 1, 0]);

    await edit(sb, b2.id, 'b 2, edited');
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([4, 1, 0]);

    await del(sb, b3.id); // unread for a; already read by c (c replied after it)
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([3, 1, 0]);

    await sa.ok('message:read', { conversationId: cid, seq: 2 });
    expect(await unread(a)).toBe(1); // seq 3 deleted, seq 4 unread

    await del(sb, b1.id); // before a's marker: nothing changes
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([1, 1, 0]);

    const a5 = await sa.send(cid, 'a 5'); // a's own message: a's count falls to 0
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([0, 2, 1]);
    await edit(sa, a5.id, 'a 5, edited');
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([0, 2, 1]);
    await del(sa, a5.id); // one's own deleted message: nobody's count goes wrong
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([0, 1, 0]);

    await del(sc, c4.id);
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([0, 0, 0]);
    // deleting again changes nothing
    await del(sc, c4.id);
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([0, 0, 0]);
    // and new messages count again from there
    await sc.send(cid, 'c 6');
    expect([await unread(a), await unread(b), await unread(c)]).toEqual([1, 1, 0]);
  });

  it('a sender who deletes everything they sent leaves the other member with nothing unread, never below zero', async () => {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const sent = await sendMany(sa, cid, 4);
    expect((await conversation(b, cid)).unreadCount).toBe(4);
    for (const m of sent) await del(sa, m.id);
    expect((await conversation(b, cid)).unreadCount).toBe(0);
    expect((await conversation(a, cid)).unreadCount).toBe(0);
  });
});

// ---- history pagination while messages come and go ----------------------------------------

describe('history pagination while messages are added and deleted', () => {
  /**
   * B pages backwards with `before` from the latest page while A sends and
   * deletes: between pages (deterministic) or at the same time (racing).
   * The union of the pages is every seq from 1 to the first page's top exactly
   * once; a message deleted before its page was asked for comes as deleted.
   */
  async function pageThrough(racing: boolean) {
    const [a, b, cid] = await pair();
    const sa = await pool.connect(a);
    const initial = await sendMany(sa, cid, 40, 'orig');
    const bySeq = new Map<number, any>(initial.map((m) => [m.seq, m]));
    const deletedBefore = new Set<number>(); // seqs whose deletion was acked
    const limit = 7;

    let step = 0;
    /** A sends one message and deletes two: one not yet paged, one just sent. */
    async function churn(below: number) {
      step++;
      const fresh = await sa.send(cid, `fresh ${step}`);
      bySeq.set(fresh.seq, fresh);
      const victims = [fresh.seq];
      const target = below - 1 - ((step * 3) % Math.max(1, below - 1));
      if (target >= 1 && !deletedBefore.has(target)) victims.push(target);
      for (const seq of victims) {
        await del(sa, bySeq.get(seq).id);
        deletedBefore.add(seq);
      }
    }

    const pages: { messages: any[]; hasMore: boolean; deletedAtStart: Set<number>; deletedAtEnd: Set<number> }[] = [];
    let before: number | undefined;
    for (let guard = 0; guard < 100; guard++) {
      const deletedAtStart = new Set(deletedBefore);
      const query = before === undefined ? `?limit=${limit}` : `?before=${before}&limit=${limit}`;
      let page: { messages: any[]; hasMore: boolean };
      if (racing && before !== undefined) {
        const [p] = await Promise.all([history(b, cid, query), churn(before)]);
        page = p;
      } else {
        page = await history(b, cid, query);
        if (before !== undefined || !racing) await churn(page.messages[0]?.seq ?? 1);
      }
      pages.push({ ...page, deletedAtStart, deletedAtEnd: new Set(deletedBefore) });
      if (!page.hasMore) break;
      before = page.messages[0].seq;
    }

    const top = pages[0]!.messages[pages[0]!.messages.length - 1].seq;
    expect(top).toBe(40);
    const all = pages.flatMap((p) => p.messages);
    const seqs = all.map((m) => m.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: top }, (_, i) => i + 1));
    expect(new Set(all.map((m) => m.id)).size).toBe(top);
    for (const [i, p] of pages.entries()) {
      const ps = p.messages.map((m) => m.seq);
      expect(ps, 'ascending and contiguous within a page').toEqual(ps.map((_, k) => ps[0] + k));
      expect(p.messages.length).toBe(p.hasMore ? limit : ps.length);
      if (i > 0) expect(ps[ps.length - 1]).toBe(pages[i - 1]!.messages[0].seq - 1);
      for (const m of p.messages) {
        const original = bySeq.get(m.seq);
        expect(m.id).toBe(original.id);
        if (p.deletedAtStart.has(m.seq)) {
          expect(m, `seq ${m.seq} was deleted before its page was asked for`).toMatchObject({ content: '' });
          expect(m.deletedAt).not.toBeNull();
        } else if (!p.deletedAtEnd.has(m.seq)) {
          expect(m).toMatchObject({ content: original.content, deletedAt: null });
        } else if (m.deletedAt !== null) {
          expect(m.content).toBe(''); // deleted during the request: either state, but whole
        } else {
          expect(m.content).toBe(original.content);
        }
      }
    }
    expect(pages[pages.length - 1]!.hasMore).toBe(false);
    // some of what was paged had really been deleted on the way
    expect(all.filter((m) => m.deletedAt !== null).length).toBeGreaterThan(0);
    // and the history now is every seq, the new ones too, with the deleted ones as deleted
    const now = await history(b, cid, '?limit=100');
    expect(now.messages.map((m) => m.seq)).toEqual(Array.from({ length: now.messages.length }, (_, i) => i + 1));
    for (const m of now.messages) {
      if (deletedBefore.has(m.seq)) expect(m).toMatchObject({ content: '', deletedAt: expect.any(String) });
      else expect(m).toMatchObject({ content: bySeq.get(m.seq).content, deletedAt: null });
    }
  }

  it('between pages: every seq from 1 to the first top exactly once, deleted ones as deleted', async () => {
    await pageThrough(false);
  });

  it('racing the pages: the same holds', async () => {
    await pageThrough(true);
  });
});
