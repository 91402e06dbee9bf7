import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailable, type NewMessage } from '../../src/store/store.js';
import { transaction } from '../../src/store/postgres/database.js';
import { PostgresStore, type PostgresSearchStats } from '../../src/store/postgres/postgres-store.js';
import { createDatabase, postgresOrSkip } from '../helpers/services.js';
import { runStoreContract } from './store-contract.js';
import { runDataContract } from './store-contract-data.js';
import { runRichContract } from './store-contract-rich.js';
import { runAttachmentContract } from './store-contract-attachments.js';

const adminUrl = postgresOrSkip();

describe.skipIf(!adminUrl)('PostgreSQL store', () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  beforeAll(async () => {
    db = await createDatabase(adminUrl as string);
  });
  afterAll(() => db?.drop());

  /** A store on the file's database, emptied afterwards. */
  async function factory(opts: { searchScopeMax?: number; onSearch?: (s: PostgresSearchStats) => void } = {}) {
    const store = await PostgresStore.open({ url: db.url, ...opts });
    return {
      store,
      cleanup: async () => {
        await store.pool.query('TRUNCATE users, conversations, members, messages, marker_moves, sessions, erased_blobs, blob_chunks, notification_jobs, push_subscriptions, server_keys RESTART IDENTITY CASCADE');
        await store.close();
      },
    };
  }

  runStoreContract('PostgreSQL', () => factory());
  runDataContract('PostgreSQL', () => factory());
  runRichContract('PostgreSQL', () => factory());
  runAttachmentContract('PostgreSQL', () => factory());
  // Small scopes (these tests') read the caller's messages; the GIN indexes must answer the same.
  runDataContract('PostgreSQL, search through the indexes', () => factory({ searchScopeMax: -1 }));

  describe('several nodes on one database', () => {
    const T0 = 1_700_000_000_000;

    async function twoNodes() {
      const [one, two] = [await factory(), await PostgresStore.open({ url: db.url })];
      const a = await one.store.createUser({ username: 'a', displayName: 'a', passwordHash: 'h', createdAt: T0 });
      const b = await one.store.createUser({ username: 'b', displayName: 'b', passwordHash: 'h', createdAt: T0 });
      const group = async () =>
        (await one.store.createConversation({ type: 'group', title: 'g', ownerId: a.id, memberIds: [a.id, b.id], createdAt: T0 })).conversation;
      return { one: one.store, two, a, b, group, cleanup: async () => (await two.close(), await one.cleanup()) };
    }
    const msg = (conversationId: string, senderId: string, content: string, clientId: string | null = null): NewMessage => ({
      conversationId,
      senderId,
      content,
      clientId,
      createdAt: T0 + 1,
    });

    it('batches of two nodes on the same conversations, in opposite orders, never deadlock and keep seqs 1..N', async () => {
      const n = await twoNodes();
      try {
        const [x, y] = [await n.group(), await n.group()];
        const work = Array.from({ length: 30 }, (_, i) => {
          const node = i % 2 ? n.one : n.two;
          const [p, q] = i % 3 ? [x, y] : [y, x];
          return node.appendMessages([msg(p.id, n.a.id, `${i}p`), msg(q.id, n.b.id, `${i}q`), msg(p.id, n.b.id, `${i}r`)]);
        });
        const stored = (await Promise.all(work)).flat();
        expect(stored.every((o) => o.kind === 'stored')).toBe(true);
        // x: 2 messages in 20 batches and 1 in 10 (50); y: the other way round (40).
        for (const [c, count] of [[x, 50], [y, 40]] as const) {
          const page = await n.two.history(c.id, { after: 0, limit: 100 });
          expect(page.messages.map((m) => m.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
          expect(new Set(page.messages.map((m) => m.rev)).size).toBe(count);
        }
      } finally {
        await n.cleanup();
      }
    });

    it('one clientId sent through both nodes at once is stored once', async () => {
      const n = await twoNodes();
      try {
        const c = await n.group();
        const outs = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? n.one : n.two).appendMessages([msg(c.id, n.a.id, 'once', 'same-id')])),
        );
        const kinds = outs.flat().map((o) => o.kind);
        expect(kinds.filter((k) => k === 'stored')).toHaveLength(1);
        expect(kinds.filter((k) => k === 'duplicate')).toHaveLength(9);
        expect((await n.one.history(c.id, { latest: true, limit: 10 })).messages).toHaveLength(1);
      } finally {
        await n.cleanup();
      }
    });

    it('a member removed through one node cannot send through the other, and is no recipient of what follows', async () => {
      const n = await twoNodes();
      try {
        const c = await n.group();
        await n.one.removeMember(c.id, n.b.id);
        expect((await n.two.appendMessages([msg(c.id, n.b.id, 'after leaving')]))[0]).toEqual({ kind: 'not_member' });
        const [sent] = await n.two.appendMessages([msg(c.id, n.a.id, 'to those left')]);
        expect(sent?.kind === 'stored' && sent.members).toEqual([n.a.id]);
      } finally {
        await n.cleanup();
      }
    });

    it('an edit or deletion leaves nothing of the old text in what search reads', async () => {
      const n = await twoNodes();
      try {
        const c = await n.group();
        const [edited, deleted] = (await n.one.appendMessages([msg(c.id, n.a.id, 'old secret zqxold'), msg(c.id, n.a.id, 'gone zqxgone')])).map(
          (o) => (o.kind === 'stored' ? o.message.id : ''),
        );
        await n.two.changeMessages([
          { kind: 'edit', messageId: edited as string, userId: n.a.id, content: 'new text', at: T0 + 2 },
          { kind: 'delete', messageId: deleted as string, userId: n.a.id, at: T0 + 3 },
        ]);
        const rows = await n.one.pool.query(`SELECT content, search_text, search_words FROM messages ORDER BY id`);
        expect(rows.rows).toEqual([
          { content: 'new text', search_text: 'new text', search_words: ['n', 'ne', 't', 'te'] },
          { content: '', search_text: '', search_words: [] },
        ]);
        const live = await n.one.pool.query(`SELECT count(*)::int AS n FROM messages WHERE content LIKE '%zqx%' OR search_text LIKE '%zqx%'`);
        expect(live.rows[0].n).toBe(0);
      } finally {
        await n.cleanup();
      }
    });
  });

  it('commits durably: synchronous_commit is on for the store\'s connections (an ack follows a flushed COMMIT)', async () => {
    const { store, cleanup } = await factory();
    try {
      expect((await store.pool.query('SHOW synchronous_commit')).rows).toEqual([{ synchronous_commit: 'on' }]);
    } finally {
      await cleanup();
    }
  });

  describe('search: the side that reads fewer rows', () => {
    it('a common term for a caller in a small share of the table is read from the caller\'s messages; a rare one, or a phrase of common trigrams rarely together, through the indexes', async () => {
      const seen: PostgresSearchStats[] = [];
      // Every caller above 100 messages is judged (the default judges above SCOPE_SCAN_MAX).
      const f = await factory({ searchScopeMax: 100, onSearch: (x) => seen.push(x) });
      try {
        const { store } = f;
        const user = (n: string) => store.createUser({ username: n, displayName: n, passwordHash: 'h', createdAt: 1 });
        const [me, them] = [await user('me'), await user('them')];
        const alone = async (u: { id: string }) => (await store.createConversation({ type: 'group', title: 'g', ownerId: u.id, memberIds: [u.id], createdAt: 1 })).conversation.id;
        const [mine, theirs] = [await alone(me), await alone(them)];
        const at = (c: string, who: string, content: string): NewMessage => ({ conversationId: c, senderId: who, content, clientId: null, createdAt: 2 });
        await store.appendMessages(Array.from({ length: 300 }, (_, i) => at(mine, me.id, i === 3 ? 'a common okapi' : i === 4 ? 'xthethethex' : `plain ${i}`)));
        for (let i = 0; i < 4000; i += 1000) {
          await store.appendMessages(Array.from({ length: 1000 }, (_, k) => at(theirs, them.id, (i + k) % 2 ? `common alpha the ${i + k}` : `common beta het eth ${i + k}`)));
        }
        const find = async (q: string) => {
          const hits = await store.search({ userId: me.id, terms: q.split(' '), limit: 10 });
          return { contents: hits.map((h) => h.message.content), stats: seen.at(-1)! };
        };
        // "common" is in every row of the newest 2,000: through the indexes, ~4,300 rows; the caller holds 300.
        const common = await find('common');
        expect(common.contents).toEqual(['a common okapi']);
        expect(common.stats.side).toBe('scope');
        expect(common.stats.held).toBe(300);
        expect(common.stats.expected).toBeGreaterThan(4000);
        // "okapi" is not among the newest: rare, through the indexes.
        const rare = await find('okapi');
        expect(rare.contents).toEqual(['a common okapi']);
        expect(rare.stats.side).toBe('index');
        expect(rare.stats.expected).toBeLessThan(300);
        // the, het and eth are each in half the rows but never all three in one: the indexes hand over almost none.
        const phrase = await find('thethethe');
        expect(phrase.contents).toEqual(['xthethethex']);
        expect(phrase.stats.side).toBe('index');
        // two common words rarely together: "common" and "alpha" are together in half the rows.
        const both = await find('common alpha');
        expect(both.contents).toEqual([]);
        expect(both.stats).toMatchObject({ side: 'scope' });
        // A term repeated with punctuation, a needle without 3 letters or digits in a row, a term that
        // folds short: pg_trgm cannot narrow by what is not a word trigram, so they judge as every row.
        for (const terms of [['common', 'common.'], ['x.y'], ['q\u0301z']]) {
          await store.search({ userId: me.id, terms, limit: 10 });
          expect(seen.at(-1), JSON.stringify(terms)).toMatchObject({ side: 'scope' });
          expect(seen.at(-1)!.expected, JSON.stringify(terms)).toBeGreaterThan(4000);
        }
        // Within the one conversation, the same rule.
        await store.search({ userId: me.id, terms: ['common'], conversationId: mine, limit: 10 });
        expect(seen.at(-1)!.side).toBe('scope');
      } finally {
        await f.cleanup();
      }
    });
  });

  describe('transactions', () => {
    const failure = (code: string) => Object.assign(new Error(`forced ${code}`), { code });

    it('a deadlock or serialization failure rolls back and runs the body again; its first try leaves nothing', async () => {
      const { store, cleanup } = await factory();
      try {
        await store.pool.query('CREATE TABLE IF NOT EXISTS test_tries (n int)');
        await store.pool.query('TRUNCATE test_tries');
        for (const code of ['40P01', '40001']) {
          let tries = 0;
          const answer = await transaction(store.pool, async (db) => {
            tries++;
            await db.query('INSERT INTO test_tries VALUES ($1)', [tries]);
            if (tries === 1) throw failure(code);
            return 'done';
          });
          expect(answer).toBe('done');
          expect(tries).toBe(2);
        }
        expect((await store.pool.query('SELECT n FROM test_tries ORDER BY n')).rows).toEqual([{ n: 2 }, { n: 2 }]);
      } finally {
        await store.pool.query('DROP TABLE IF EXISTS test_tries');
        await cleanup();
      }
    });

    it('any other failure is not retried; a transient one that lasts ends as StoreUnavailable', async () => {
      const { store, cleanup } = await factory();
      try {
        let tries = 0;
        await expect(
          transaction(store.pool, async () => {
            tries++;
            throw failure('23505');
          }),
        ).rejects.toMatchObject({ code: '23505' });
        expect(tries).toBe(1);
        tries = 0;
        const lasting = transaction(store.pool, async () => {
          tries++;
          throw failure('40P01');
        });
        await expect(lasting).rejects.toBeInstanceOf(StoreUnavailable);
        expect(tries).toBe(4);
      } finally {
        await cleanup();
      }
    });
  });
});

