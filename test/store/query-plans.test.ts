/**
 * Every hot query is an index range scan (or a point lookup): proved on the
 * very statements the SQLite store runs, with EXPLAIN QUERY PLAN.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchDbPath } from '../../src/store/sqlite/search-index.js';
import { SearchPlanner } from '../../src/store/sqlite/search-plan.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

type Statement = { source: string };
let store: SqliteStore;
let statements: Record<string, Statement>;
let raw: Database.Database;
let file: string;

beforeAll(async () => {
  file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'parley-plans-')), 'parley.db');
  store = new SqliteStore({ file });
  // Some data, so that the plans are those of a used database.
  const users = await Promise.all(['a', 'b', 'c'].map((u) => store.createUser({ username: u, displayName: u, passwordHash: 'x', createdAt: 1 })));
  for (let i = 0; i < 20; i++) {
    const { conversation } = await store.createConversation({
      type: 'group',
      title: `g${i}`,
      ownerId: users[0]!.id,
      memberIds: users.map((u) => u.id),
      createdAt: 1,
    });
    await store.appendMessages(
      Array.from({ length: 30 }, (_, k) => ({ conversationId: conversation.id, senderId: users[k % 3]!.id, content: `hello ${k}`, clientId: `k${k}`, createdAt: 2 })),
    );
  }
  statements = (store as unknown as { s: Record<string, Statement> }).s;
  // A search finds the messages (the index, kept by another thread, need not have them yet).
  expect(await store.search({ userId: users[0]!.id, terms: ['hello'], limit: 1 })).toHaveLength(1);
  raw = new Database(file, { readonly: true });
  raw.function('parley_word_prefixes', (t: unknown) => String(t));
  raw.prepare('ATTACH DATABASE ? AS search').run(searchDbPath(file));
});

afterAll(async () => {
  raw.close();
  await store.close();
});

function plan(sql: string, params: unknown[] | Record<string, unknown>): string {
  const rows = raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(Array.isArray(params) ? params : [params])) as { detail: string }[];
  return rows.map((r) => r.detail).join(' | ');
}

/** No full scan of a real table (FTS5 virtual-table "scans" are index lookups). */
function expectNoTableScan(text: string, name: string) {
  for (const table of ['messages', 'members', 'conversations', 'users', 'marker_moves']) {
    expect(text, `${name}: ${text}`).not.toMatch(new RegExp(`SCAN ${table}( |$)`));
    expect(text, `${name}: ${text}`).not.toMatch(new RegExp(`SCAN ${table[0]}( |$)`));
  }
}

describe('query plans of the hot queries', () => {
  const cases: [string, string, unknown[] | Record<string, unknown>, RegExp][] = [
    ['history: latest page', 'historyLatest', [1, 51], /SEARCH messages USING INDEX messages_seq \(conversation_id=\?\)/],
    ['history: page before a seq', 'historyBefore', [1, 20, 51], /SEARCH messages USING INDEX messages_seq \(conversation_id=\? AND seq<\?\)/],
    ['history: page after a seq', 'historyAfter', [1, 10, 51], /SEARCH messages USING INDEX messages_seq \(conversation_id=\? AND seq>\?\)/],
    ['last message of a conversation', 'messageBySeq', [1, 30], /SEARCH messages USING INDEX messages_seq \(conversation_id=\? AND seq=\?\)/],
    ['unread count', 'unreadCount', { c: 1, after: 5 }, /SEARCH messages USING COVERING INDEX messages_deleted \(conversation_id=\? AND seq>\?\)/],
    ['sync: changes after a rev', 'changesSince', [1, 10, 101], /SEARCH messages USING INDEX messages_rev \(conversation_id=\? AND rev>\?\)/],
    ['idempotent send: clientId lookup', 'messageByClientId', [1, 1, 'k1'], /SEARCH messages USING INDEX messages_client_id/],
    ['membership check', 'isMember', [1, 1], /SEARCH members USING PRIMARY KEY \(conversation_id=\? AND user_id=\?\)/],
    ['members of a conversation', 'members', [1], /SEARCH members USING INDEX members_by_join \(conversation_id=\?\)/],
    ['conversation list', 'listConversations', { user: 1, archived: 0, before: 1e15, limit: 201 }, /SEARCH m USING INDEX members_by_user \(user_id=\? AND archived=\?\)/],
    ['marker log: latest move', 'lastMove', [1, 1, 0], /SEARCH marker_moves USING PRIMARY KEY \(conversation_id=\? AND user_id=\? AND type=\?\)/],
    ['seen by: first move reaching a seq', 'moveReaching', [1, 1, 0, 3], /SEARCH marker_moves USING PRIMARY KEY \(conversation_id=\? AND user_id=\? AND type=\? AND seq>\?\)/],
    ['user by name', 'userByUsername', ['a'], /SEARCH users USING INDEX sqlite_autoindex_users_1 \(username_key=\?\)/],
  ];

  it.each(cases)('%s', (name, key, params, expected) => {
    const sql = statements[key]?.source;
    expect(sql, `statement ${key}`).toBeDefined();
    const text = plan(sql!, params);
    expect(text, `${name}: ${text}`).toMatch(expected);
    expectNoTableScan(text, name);
    // Only the conversation list sorts: the user's own conversations, by activity.
    if (key !== 'listConversations') expect(text, `${name}: ${text}`).not.toMatch(/TEMP B-TREE/);
  });

  it('search, the index side: the full-text index drives, newest first; messages and members are point lookups', () => {
    const planner = new SearchPlanner(raw);
    const indexStatement = (planner as unknown as { indexStatement(drive: string, one: boolean): Statement }).indexStatement.bind(planner);
    for (const [drive, one] of [
      ['trigrams', false],
      ['words', false],
      ['trigrams', true],
      ['words', true],
    ] as const) {
      const text = plan(indexStatement(drive, one).source, { match: drive === 'trigrams' ? '"hello"' : '"he"*', user: 1, conversation: 1 });
      // the driving index is read newest first (ORDER BY rowid DESC consumed), with no sort of its matches
      expect(text).toMatch(/SCAN d VIRTUAL TABLE INDEX \d+:=?M/);
      expect(text).not.toMatch(/TEMP B-TREE/);
      expect(text).toMatch(/SEARCH m USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      // the caller's conversations: one list, built once
      if (!one) expect(text).toMatch(/LIST SUBQUERY/);
      expectNoTableScan(text, `search ${drive}/${one}`);
    }
  });

  it("search, the scope side: the caller's messages by conversation, through an index", () => {
    const planner = new SearchPlanner(raw);
    const s = (planner as unknown as { s: Record<string, Statement> }).s;
    for (const [name, params] of [
      ['scanAll', { user: 1, indexed: 1000 }],
      ['scanOne', { conversation: 1, indexed: 1000 }],
    ] as const) {
      const text = plan(s[name]!.source, params);
      // (either index that starts with conversation_id)
      expect(text, `${name}: ${text}`).toMatch(/SEARCH messages USING INDEX messages_(seq|rev) \(conversation_id=\?\)/);
      expectNoTableScan(text, name);
    }
    // how much the caller's conversations hold: from their rows, not their messages
    const scope = plan(s.scopeAll!.source, [1]);
    expect(scope).toMatch(/SEARCH m USING (COVERING )?INDEX members_by_user \(user_id=\?\)/);
    expect(scope).toMatch(/SEARCH c USING INTEGER PRIMARY KEY \(rowid=\?\)/);
    expectNoTableScan(scope, 'scopeAll');
  });
});
