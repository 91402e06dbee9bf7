import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeId } from '../../src/store/ids.js';
import {
  UniqueViolation,
  type AppendOutcome,
  type ConversationRecord,
  type MessageRecord,
  type NewMessage,
  type Store,
  type UserRecord,
} from '../../src/store/store.js';

/**
 * What every Store must do, whatever it is built on. Only the semantics the
 * interface documents in src/store/store.ts are tested here; anything about
 * one engine (pragmas, query plans, files) belongs in that engine's own test.
 */
export interface StoreUnderTest {
  store: Store;
  cleanup: () => Promise<void>;
}

const T0 = 1_700_000_000_000;

/** Strings no store could have issued as an id. */
const GARBAGE_IDS = ['', 'nope', 'u', 'c', 'u0', 'u-1', 'u1.5', "u1' OR '1'='1", '1', 'x'.repeat(300)];

export function runStoreContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    // ---- fixtures -------------------------------------------------------------

    const user = (username: string, displayName = username, createdAt = T0): Promise<UserRecord> =>
      store.createUser({ username, displayName, passwordHash: `hash:${username}`, createdAt });

    async function group(members: UserRecord[], createdAt = T0, title = 'A group'): Promise<ConversationRecord> {
      const { conversation, created } = await store.createConversation({
        type: 'group',
        title,
        ownerId: members[0]!.id,
        memberIds: members.map((m) => m.id),
        createdAt,
      });
      expect(created).toBe(true);
      return conversation;
    }

    async function direct(a: UserRecord, b: UserRecord, createdAt = T0) {
      return store.createConversation({ type: 'direct', title: null, ownerId: null, memberIds: [a.id, b.id], createdAt });
    }

    const msg = (
      c: { id: string } | string,
      sender: UserRecord,
      content: string,
      clientId: string | null = null,
      createdAt = T0 + 1000,
    ): NewMessage => ({ conversationId: typeof c === 'string' ? c : c.id, senderId: sender.id, content, clientId, createdAt });

    function storedMessage(o: AppendOutcome | undefined): MessageRecord {
      expect(o?.kind).toBe('stored');
      if (o?.kind !== 'stored') throw new Error('not stored');
      return o.message;
    }

    /** Appends one message per call (one batch each) and returns the stored records. */
    async function sendEach(items: NewMessage[]): Promise<MessageRecord[]> {
      const out: MessageRecord[] = [];
      for (const item of items) out.push(storedMessage((await store.appendMessages([item]))[0]));
      return out;
    }

    const ids = (xs: readonly { id: string }[]) => xs.map((x) => x.id);
    const seqs = (xs: readonly MessageRecord[]) => xs.map((x) => x.seq);
    const sorted = (xs: readonly string[]) => [...xs].sort();

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    // ---- users ----------------------------------------------------------------

    describe('sessions', () => {
      it('a session names its user until it is revoked, once', async () => {
        const a = await user('a');
        const s = await store.createSession({ userId: a.id, createdAt: T0, expiresAt: T0 + 1000 });
        const t = await store.createSession({ userId: a.id, createdAt: T0, expiresAt: T0 + 1000 });
        expect(s).not.toBe(t);
        expect((await store.sessionUser(s))?.id).toBe(a.id);
        expect(await store.revokeSession(s, T0 + 1)).toBe(true);
        expect(await store.revokeSession(s, T0 + 2)).toBe(false);
        expect(await store.sessionUser(s)).toBeNull();
        expect((await store.sessionUser(t))?.id).toBe(a.id);
        for (const id of [...GARBAGE_IDS, a.id, 's999999']) {
          expect(await store.sessionUser(id)).toBeNull();
          expect(await store.revokeSession(id, T0)).toBe(false);
        }
      });

      it('a password change sets the hash and revokes every other live session of that user only', async () => {
        const [a, b] = [await user('a'), await user('b')];
        const mk = (u: UserRecord) => store.createSession({ userId: u.id, createdAt: T0, expiresAt: T0 + 1000 });
        const [keep, other, gone, bs] = [await mk(a), await mk(a), await mk(a), await mk(b)];
        await store.revokeSession(gone, T0 + 1);
        const revoked = await store.changePassword(a.id, 'hash:new', keep, T0 + 2);
        expect(revoked).toEqual([other]);
        expect((await store.userById(a.id))?.passwordHash).toBe('hash:new');
        expect((await store.sessionUser(keep))?.id).toBe(a.id);
        expect(await store.sessionUser(other)).toBeNull();
        expect((await store.sessionUser(bs))?.id).toBe(b.id);
        expect((await store.userById(b.id))?.passwordHash).toBe('hash:b');
      });

      it('pruning deletes the sessions expired before the time, revoked or not, and no pruned id is given again', async () => {
        const a = await user('a');
        const mk = (expiresAt: number) => store.createSession({ userId: a.id, createdAt: T0, expiresAt });
        const [old1, old2, live] = [await mk(T0 + 10), await mk(T0 + 20), await mk(T0 + 5000)];
        await store.revokeSession(old2, T0 + 1);
        const newest = await mk(T0 + 30); // expired too, but the newest row
        expect(await store.pruneSessions(T0 + 100)).toBeGreaterThanOrEqual(2);
        expect(await store.sessionUser(old1)).toBeNull();
        expect((await store.sessionUser(live))?.id).toBe(a.id);
        const again = await mk(T0 + 9000);
        expect([old1, old2, live, newest]).not.toContain(again);
        expect((await store.sessionUser(again))?.id).toBe(a.id);
        expect(await store.pruneSessions(T0 + 100)).toBeGreaterThanOrEqual(0);
      });
    });

    describe('users', () => {
      it('finds nobody by a name or prefix holding U+0000 (no name can), without an error', async () => {
        await user('alice');
        expect(await store.userByUsername('al\u0000ice')).toBeNull();
        expect(await store.searchUsers('a\u0000', 10)).toEqual([]);
        expect(await store.searchUsers('\u0000', 10)).toEqual([]);
      });

      it('creates a user and finds it by id', async () => {
        const u = await user('Alice', 'Alice Liddell', T0 + 5);
        expect(u).toEqual({
          id: expect.any(String),
          username: 'Alice',
          displayName: 'Alice Liddell',
          passwordHash: 'hash:Alice',
          createdAt: T0 + 5,
          lastSeenAt: null,
          notificationPreviews: true,
        });
        expect(await store.userById(u.id)).toEqual(u);
      });

      it('gives every user a distinct id', async () => {
        const a = await user('a');
        const b = await user('b');
        expect(a.id).not.toBe(b.id);
        expect((await store.userById(b.id))?.username).toBe('b');
      });

      it('refuses a username taken in another case with UniqueViolation(username)', async () => {
        const alice = await user('Alice');
        const err = await store.createUser({ username: 'aLICE', displayName: 'x', passwordHash: 'h', createdAt: T0 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UniqueViolation);
        expect((err as UniqueViolation).what).toBe('username');
        await expect(user('Alice')).rejects.toBeInstanceOf(UniqueViolation);
        expect(await store.userByUsername('alice')).toEqual(alice);
      });

      it('finds a user by username in any case', async () => {
        const alice = await user('Alice');
        expect(await store.userByUsername('Alice')).toEqual(alice);
        expect(await store.userByUsername('alice')).toEqual(alice);
        expect(await store.userByUsername('ALICE')).toEqual(alice);
        expect(await store.userByUsername('alic')).toBeNull();
        expect(await store.userByUsername('bob')).toBeNull();
      });

      it('finds users by a list of ids, skipping unknown, wrong-kind and garbage ids', async () => {
        const a = await user('a');
        const b = await user('b');
        await user('c');
        const conv = await group([a, b]);
        const found = await store.usersByIds([a.id, b.id, conv.id, encodeId('u', 999_999), ...GARBAGE_IDS]);
        expect(sorted(ids(found))).toEqual(sorted([a.id, b.id]));
        expect(found.find((u) => u.id === a.id)).toEqual(a);
        expect(await store.usersByIds([])).toEqual([]);
      });

      it('searches by prefix of username or display name, ignoring case, each user once', async () => {
        const alice = await user('Alice', 'Alice Liddell');
        const albert = await user('bert', 'Albert');
        const alfred = await user('ALFRED', 'Fred');
        await user('bob', 'Bob Alston');
        await user('carol', 'Carol');
        expect(sorted(ids(await store.searchUsers('al', 10)))).toEqual(sorted([alice.id, albert.id, alfred.id]));
        expect(ids(await store.searchUsers('alice', 10))).toEqual([alice.id]);
        expect(ids(await store.searchUsers('fred', 10))).toEqual([alfred.id]);
        // a prefix, not a substring: "Bob Alston" and "Liddell" do not start with these
        expect(await store.searchUsers('alston', 10)).toEqual([]);
        expect(await store.searchUsers('liddell', 10)).toEqual([]);
        expect(await store.searchUsers('zed', 10)).toEqual([]);
      });

      it('returns at most `limit` search results', async () => {
        const made = await Promise.all(['ann', 'anna', 'annie', 'anton'].map((n) => user(n)));
        const two = await store.searchUsers('an', 2);
        expect(two).toHaveLength(2);
        for (const u of two) expect(ids(made)).toContain(u.id);
        expect(new Set(ids(two)).size).toBe(2);
        expect(await store.searchUsers('an', 10)).toHaveLength(4);
      });

      it('updates the display name, and search follows the new name', async () => {
        const u = await user('dave', 'Old Name');
        const updated = await store.updateDisplayName(u.id, 'Zelda');
        expect(updated).toEqual({ ...u, displayName: 'Zelda' });
        expect(await store.userById(u.id)).toEqual(updated);
        expect(ids(await store.searchUsers('zel', 10))).toEqual([u.id]);
        expect(await store.searchUsers('old', 10)).toEqual([]);
      });

      it('updateDisplayName of an unknown or garbage id is null', async () => {
        const u = await user('erin');
        const conv = await group([u]);
        expect(await store.updateDisplayName(encodeId('u', 999_999), 'x')).toBeNull();
        expect(await store.updateDisplayName(conv.id, 'x')).toBeNull();
        for (const g of GARBAGE_IDS) expect(await store.updateDisplayName(g, 'x')).toBeNull();
        expect((await store.userById(u.id))?.displayName).toBe('erin');
      });

      it('records last seen', async () => {
        const u = await user('frank');
        const other = await user('grace');
        await store.setLastSeen([{ userId: u.id, at: T0 + 42 }]);
        expect((await store.userById(u.id))?.lastSeenAt).toBe(T0 + 42);
        expect((await store.userById(other.id))?.lastSeenAt).toBeNull();
        await store.setLastSeen([{ userId: u.id, at: T0 + 99 }]);
        expect((await store.userById(u.id))?.lastSeenAt).toBe(T0 + 99);
        await expect(store.setLastSeen([{ userId: 'nope', at: T0 }])).resolves.toBeUndefined();
      });

      it('finds nothing for an id of the wrong kind or garbage', async () => {
        const u = await user('heidi');
        const conv = await group([u]);
        expect(await store.userById(conv.id)).toBeNull();
        expect(await store.userById(encodeId('u', 999_999))).toBeNull();
        for (const g of GARBAGE_IDS) expect(await store.userById(g)).toBeNull();
        expect(await store.userByUsername('')).toBeNull();
      });
    });

    // ---- conversations ----------------------------------------------------------

    describe('conversations', () => {
      it('creates a group with its members in join order', async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        // join order differs from creation order of the users
        const { conversation, created } = await store.createConversation({
          type: 'group',
          title: 'Trio',
          ownerId: c.id,
          memberIds: [c.id, a.id, b.id],
          createdAt: T0 + 7,
        });
        expect(created).toBe(true);
        expect(conversation).toEqual({
          id: expect.any(String),
          type: 'group',
          title: 'Trio',
          ownerId: c.id,
          lastSeq: 0,
          lastRev: 0,
          createdAt: T0 + 7,
          lastActivityAt: T0 + 7,
          activity: expect.any(Number),
        });
        expect(await store.conversationById(conversation.id)).toEqual(conversation);
        const members = await store.members(conversation.id);
        expect(members.map((m) => m.userId)).toEqual([c.id, a.id, b.id]);
        for (const m of members) {
          expect(m).toMatchObject({ conversationId: conversation.id, deliveredSeq: 0, readSeq: 0, archived: false });
          expect(m.joinedAt).toBeGreaterThanOrEqual(T0 + 7);
        }
        const joined = members.map((m) => m.joinedAt);
        expect(joined).toEqual([...joined].sort((x, y) => x - y));
      });

      it('creates a direct conversation once per pair, from either side', async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        const first = await direct(a, b, T0);
        expect(first.created).toBe(true);
        expect(first.conversation).toMatchObject({ type: 'direct', title: null, ownerId: null, lastSeq: 0 });

        const again = await direct(a, b, T0 + 100);
        expect(again.created).toBe(false);
        expect(again.conversation).toEqual(first.conversation);
        const reversed = await direct(b, a, T0 + 200);
        expect(reversed.created).toBe(false);
        expect(reversed.conversation).toEqual(first.conversation);
        expect(sorted((await store.members(first.conversation.id)).map((m) => m.userId))).toEqual(sorted([a.id, b.id]));

        const other = await direct(a, c);
        expect(other.created).toBe(true);
        expect(other.conversation.id).not.toBe(first.conversation.id);
        const listed = await store.listConversations({ userId: a.id, archived: false, limit: 10 });
        expect(listed).toHaveLength(2);
      });

      it('returns the existing direct conversation as it now is', async () => {
        const a = await user('a');
        const b = await user('b');
        const { conversation } = await direct(a, b);
        await store.appendMessages([msg(conversation, a, 'hi', null, T0 + 50)]);
        const again = await direct(b, a, T0 + 60);
        expect(again.created).toBe(false);
        expect(again.conversation.id).toBe(conversation.id);
        expect(again.conversation.lastSeq).toBe(1);
      });

      it('finds conversations by a list of ids, skipping unknown, wrong-kind and garbage ids', async () => {
        const a = await user('a');
        const c1 = await group([a], T0, 'one');
        const c2 = await group([a], T0, 'two');
        await group([a], T0, 'three');
        const found = await store.conversationsByIds([c1.id, c2.id, a.id, encodeId('c', 999_999), ...GARBAGE_IDS]);
        expect(sorted(ids(found))).toEqual(sorted([c1.id, c2.id]));
        expect(found.find((c) => c.id === c2.id)).toEqual(c2);
        expect(await store.conversationsByIds([])).toEqual([]);
      });

      it('finds nothing for a conversation id of the wrong kind or garbage', async () => {
        const a = await user('a');
        const c = await group([a]);
        expect(await store.conversationById(a.id)).toBeNull();
        expect(await store.conversationById(encodeId('c', 999_999))).toBeNull();
        for (const g of GARBAGE_IDS) {
          expect(await store.conversationById(g)).toBeNull();
          expect(await store.members(g)).toEqual([]);
          expect(await store.membership(g, a.id)).toBeNull();
          expect(await store.membership(c.id, g)).toBeNull();
          expect(await store.history(g, { latest: true, limit: 10 })).toEqual({ messages: [], hasMore: false });
        }
        expect(await store.members(a.id)).toEqual([]);
        expect(await store.membership(a.id, a.id)).toBeNull();
        expect(await store.membership(c.id, c.id)).toBeNull();
      });

      it('lists the members of several conversations at once', async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        const ab = await group([a, b]);
        const bc = await group([b, c]);
        const lonely = await group([c]);
        const rows = await store.membersOf([ab.id, bc.id, 'nope', a.id]);
        expect(rows).toHaveLength(4);
        const of = (convId: string) => sorted(rows.filter((m) => m.conversationId === convId).map((m) => m.userId));
        expect(of(ab.id)).toEqual(sorted([a.id, b.id]));
        expect(of(bc.id)).toEqual(sorted([b.id, c.id]));
        expect(of(lonely.id)).toEqual([]);
        expect(rows.find((m) => m.conversationId === bc.id && m.userId === c.id)).toEqual(await store.membership(bc.id, c.id));
        expect(await store.membersOf([])).toEqual([]);
      });

      it('answers one membership, or null for a non-member', async () => {
        const a = await user('a');
        const b = await user('b');
        const outsider = await user('z');
        const c = await group([a, b], T0 + 3);
        const m = await store.membership(c.id, b.id);
        expect(m).toMatchObject({ conversationId: c.id, userId: b.id, deliveredSeq: 0, readSeq: 0, archived: false });
        expect(m?.joinedAt).toBeGreaterThanOrEqual(T0 + 3);
        expect(await store.membership(c.id, outsider.id)).toBeNull();
      });

      it("lists a user's conversations latest activity first, with their membership", async () => {
        const a = await user('a');
        const b = await user('b');
        const outsider = await user('z');
        const c1 = await group([a, b], T0 + 10, 'one');
        const c2 = await group([a], T0 + 20, 'two');
        const c3 = await group([a, b], T0 + 30, 'three');
        await group([outsider], T0 + 40, 'not mine');

        let list = await store.listConversations({ userId: a.id, archived: false, limit: 10 });
        expect(list.map((i) => i.conversation.id)).toEqual([c3.id, c2.id, c1.id]);
        expect(list[0]!.conversation).toEqual(c3);
        expect(list[0]!.membership).toEqual(await store.membership(c3.id, a.id));
        for (const item of list) expect(item.membership).toMatchObject({ userId: a.id, conversationId: item.conversation.id });

        // a message moves its conversation to the top
        await store.appendMessages([msg(c1, b, 'bump', null, T0 + 50)]);
        list = await store.listConversations({ userId: a.id, archived: false, limit: 10 });
        expect(list.map((i) => i.conversation.id)).toEqual([c1.id, c3.id, c2.id]);
        expect(list[0]!.conversation).toMatchObject({ lastActivityAt: T0 + 50, lastSeq: 1 });

        expect((await store.listConversations({ userId: b.id, archived: false, limit: 10 })).map((i) => i.conversation.id)).toEqual([
          c1.id,
          c3.id,
        ]);
        expect(await store.listConversations({ userId: 'nope', archived: false, limit: 10 })).toEqual([]);
      });

      it('pages through the list with the `before` activity cursor, exclusive', async () => {
        const a = await user('a');
        const c1 = await group([a], T0 + 10, 'one');
        const c2 = await group([a], T0 + 20, 'two');
        const c3 = await group([a], T0 + 30, 'three');
        const page1 = await store.listConversations({ userId: a.id, archived: false, limit: 2 });
        expect(page1.map((i) => i.conversation.id)).toEqual([c3.id, c2.id]);
        const last = page1[1]!.conversation;
        const page2 = await store.listConversations({
          userId: a.id,
          archived: false,
          limit: 2,
          before: last.activity,
        });
        expect(page2.map((i) => i.conversation.id)).toEqual([c1.id]);
        const page3 = await store.listConversations({
          userId: a.id,
          archived: false,
          limit: 2,
          before: c1.activity,
        });
        expect(page3).toEqual([]);
      });

      it('orders and pages conversations with equal activity times by what happened first', async () => {
        const a = await user('a');
        const made: string[] = [];
        for (let i = 0; i < 5; i++) made.push((await group([a], T0, `same ${i}`)).id);
        made.push((await group([a], T0 + 1, 'newer')).id);

        const full = (await store.listConversations({ userId: a.id, archived: false, limit: 100 })).map((i) => i.conversation.id);
        expect(sorted(full)).toEqual(sorted(made));
        expect(full[0]).toBe(made[5]);

        const paged: string[] = [];
        let before: number | undefined;
        for (let guard = 0; guard < 10; guard++) {
          const page = await store.listConversations({ userId: a.id, archived: false, limit: 2, before });
          paged.push(...page.map((i) => i.conversation.id));
          const lastItem = page[page.length - 1];
          if (page.length < 2 || !lastItem) break;
          before = lastItem.conversation.activity;
        }
        expect(paged).toEqual(full);
      });

      it('lists archived and unarchived conversations apart, per member', async () => {
        const a = await user('a');
        const b = await user('b');
        const c1 = await group([a, b], T0 + 10, 'one');
        const c2 = await group([a, b], T0 + 20, 'two');
        expect(await store.setArchived(c2.id, a.id, true)).toBe(true);

        const active = await store.listConversations({ userId: a.id, archived: false, limit: 10 });
        expect(active.map((i) => i.conversation.id)).toEqual([c1.id]);
        const archived = await store.listConversations({ userId: a.id, archived: true, limit: 10 });
        expect(archived.map((i) => i.conversation.id)).toEqual([c2.id]);
        expect(archived[0]!.membership.archived).toBe(true);
        // archiving is one member's view only
        expect((await store.listConversations({ userId: b.id, archived: false, limit: 10 })).map((i) => i.conversation.id)).toEqual([
          c2.id,
          c1.id,
        ]);
        expect(await store.listConversations({ userId: b.id, archived: true, limit: 10 })).toEqual([]);
      });

      it('setArchived flips the flag both ways and is false for a non-member', async () => {
        const a = await user('a');
        const outsider = await user('z');
        const c = await group([a]);
        expect(await store.setArchived(c.id, a.id, true)).toBe(true);
        expect((await store.membership(c.id, a.id))?.archived).toBe(true);
        expect(await store.setArchived(c.id, a.id, false)).toBe(true);
        expect((await store.membership(c.id, a.id))?.archived).toBe(false);
        expect(await store.setArchived(c.id, outsider.id, true)).toBe(false);
        expect(await store.membership(c.id, outsider.id)).toBeNull();
        expect(await store.setArchived('nope', a.id, true)).toBe(false);
      });

      it('updates the title', async () => {
        const a = await user('a');
        const c = await group([a], T0, 'before');
        const other = await group([a], T0, 'untouched');
        const updated = await store.updateTitle(c.id, 'after');
        expect(updated).toEqual({ ...c, title: 'after' });
        expect(await store.conversationById(c.id)).toEqual(updated);
        expect((await store.conversationById(other.id))?.title).toBe('untouched');
        expect(await store.updateTitle(encodeId('c', 999_999), 'x')).toBeNull();
        expect(await store.updateTitle('nope', 'x')).toBeNull();
      });

      it('adds a member at the end of the join order, once', async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        const conv = await group([a, b], T0);
        expect(await store.addMember(conv.id, c.id, T0 + 500)).toBe(true);
        const members = await store.members(conv.id);
        expect(members.map((m) => m.userId)).toEqual([a.id, b.id, c.id]);
        expect(members[2]).toMatchObject({ joinedAt: T0 + 500, readSeq: 0, deliveredSeq: 0, archived: false });

        expect(await store.addMember(conv.id, c.id, T0 + 900)).toBe(false);
        expect(await store.addMember(conv.id, a.id, T0 + 900)).toBe(false);
        expect(await store.members(conv.id)).toEqual(members);
        expect((await store.listConversations({ userId: c.id, archived: false, limit: 10 })).map((i) => i.conversation.id)).toEqual([
          conv.id,
        ]);
      });

      it('a member added later starts with both markers at lastSeq, logged at the join', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a], T0);
        await store.appendMessages([msg(conv, a, 'one', null, T0 + 1), msg(conv, a, 'two', null, T0 + 2)]);
        expect(await store.addMember(conv.id, b.id, T0 + 700)).toBe(true);
        expect(await store.membership(conv.id, b.id)).toMatchObject({ readSeq: 2, deliveredSeq: 2 });
        expect(await store.unreadCounts(b.id, [{ conversationId: conv.id, afterSeq: 2 }])).toEqual(new Map([[conv.id, 0]]));
        expect(await store.markerTimes(conv.id, 1, [b.id])).toEqual({
          delivered: [{ userId: b.id, at: T0 + 700 }],
          read: [{ userId: b.id, at: T0 + 700 }],
        });
      });

      it('removes the owner and passes the group to the longest-standing member in the same step', async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        const conv = await group([a, b, c]);
        expect(await store.removeMember(conv.id, a.id)).toBe(true);
        expect((await store.conversationById(conv.id))?.ownerId).toBe(b.id);
        expect((await store.members(conv.id)).map((m) => m.userId)).toEqual([b.id, c.id]);
        expect(await store.membership(conv.id, a.id)).toBeNull();
        expect(await store.listConversations({ userId: a.id, archived: false, limit: 10 })).toEqual([]);
      });

      it('removes a plain member and keeps the owner', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        expect(await store.removeMember(conv.id, b.id)).toBe(true);
        expect((await store.conversationById(conv.id))?.ownerId).toBe(a.id);
        expect((await store.members(conv.id)).map((m) => m.userId)).toEqual([a.id]);
      });

      it('removing the last member can leave no owner', async () => {
        const a = await user('a');
        const conv = await group([a]);
        expect(await store.removeMember(conv.id, a.id)).toBe(true);
        expect(await store.members(conv.id)).toEqual([]);
        expect((await store.conversationById(conv.id))?.ownerId).toBeNull();
      });

      it('removing a non-member is false and changes neither members nor owner', async () => {
        const a = await user('a');
        const b = await user('b');
        const outsider = await user('z');
        const conv = await group([a, b]);
        expect(await store.removeMember(conv.id, outsider.id)).toBe(false);
        expect((await store.conversationById(conv.id))?.ownerId).toBe(a.id);
        expect((await store.members(conv.id)).map((m) => m.userId)).toEqual([a.id, b.id]);
        expect(await store.removeMember('nope', a.id)).toBe(false);
      });
    });

    // ---- appendMessages ------------------------------------------------------------

    describe('appendMessages', () => {
      it('refuses a sender who is not a member, in the same transaction, without disturbing the batch', async () => {
        const a = await user('a');
        const b = await user('b');
        const outsider = await user('x');
        const conv = await group([a, b]);
        const out = await store.appendMessages([msg(conv, a, '1'), msg(conv, outsider, 'intruder'), msg(conv, b, '2')]);
        expect(out.map((o) => o.kind)).toEqual(['stored', 'not_member', 'stored']);
        expect(out.map((o) => (o.kind === 'stored' ? o.message.seq : null))).toEqual([1, null, 2]);
        await store.removeMember(conv.id, b.id);
        expect((await store.appendMessages([msg(conv, b, 'after leaving')]))[0]).toEqual({ kind: 'not_member' });
      });

      it('answers each stored message with the members read in its transaction: its recipients', async () => {
        const [a, b, c, d] = [await user('a'), await user('b'), await user('c'), await user('d')];
        const conv = await group([a, b, c]);
        const other = await group([a, d]);
        const first = await store.appendMessages([msg(conv, a, 'to three'), msg(other, d, 'to two')]);
        expect(first.map((o) => (o.kind === 'stored' ? [...o.members].sort() : o.kind))).toEqual([
          [a.id, b.id, c.id].sort(),
          [a.id, d.id].sort(),
        ]);
        await store.removeMember(conv.id, c.id);
        await store.addMember(conv.id, d.id, T0 + 5);
        const [after] = await store.appendMessages([msg(conv, b, 'after the change')]);
        expect(after?.kind === 'stored' ? [...after.members].sort() : after?.kind).toEqual([a.id, b.id, d.id].sort());
      });

      it('keeps seq and rev gap-free and unique under many concurrent batches', async () => {
        const [a, b] = [await user('a'), await user('b')];
        const one = await group([a, b]);
        const two = await group([a, b]);
        // Batches touching both conversations, in both orders, all at once.
        const batches = Array.from({ length: 20 }, (_, i) => {
          const [x, y] = i % 2 ? [one, two] : [two, one];
          return [msg(x, a, `${i} x`, `${i}x`), msg(y, b, `${i} y`, `${i}y`), msg(x, b, `${i} z`, `${i}z`)];
        });
        const outcomes = (await Promise.all(batches.map((batch) => store.appendMessages(batch)))).flat();
        const stored = outcomes.map(storedMessage);
        for (const conv of [one, two]) {
          const mine = stored.filter((m) => m.conversationId === conv.id);
          expect(mine.map((m) => m.seq).sort((p, q) => p - q)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
          expect(new Set(mine.map((m) => m.rev)).size).toBe(30);
          expect((await store.conversationById(conv.id))?.lastSeq).toBe(30);
        }
      });

      it('gives one batch seqs 1..N in array order, with increasing revs', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b], T0);
        const batch = [msg(conv, a, 'one', null, T0 + 1), msg(conv, b, 'two', 'cb', T0 + 2), msg(conv, a, 'three', null, T0 + 3)];
        const out = await store.appendMessages(batch);
        expect(out).toHaveLength(3);
        const stored = out.map(storedMessage);
        expect(seqs(stored)).toEqual([1, 2, 3]);
        expect(stored.map((m) => m.content)).toEqual(['one', 'two', 'three']);
        expect(stored[1]).toEqual({
          id: expect.any(String),
          conversationId: conv.id,
          seq: 2,
          rev: expect.any(Number),
          senderId: b.id,
          content: 'two',
          clientId: 'cb',
          createdAt: T0 + 2,
          editedAt: null,
          deletedAt: null,
          replyTo: null,
          mentions: [],
          reactions: [],
          attachments: [],
        });
        expect(new Set(ids(stored)).size).toBe(3);
        expect(stored[0]!.rev).toBeLessThan(stored[1]!.rev);
        expect(stored[1]!.rev).toBeLessThan(stored[2]!.rev);

        const after = await store.conversationById(conv.id);
        expect(after).toMatchObject({ lastSeq: 3, lastRev: stored[2]!.rev, lastActivityAt: T0 + 3 });
      });

      it('continues seqs without gaps across batches', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const first = (await store.appendMessages([msg(conv, a, '1'), msg(conv, a, '2')])).map(storedMessage);
        const second = (await store.appendMessages([msg(conv, a, '3'), msg(conv, a, '4'), msg(conv, a, '5')])).map(storedMessage);
        expect(seqs([...first, ...second])).toEqual([1, 2, 3, 4, 5]);
        expect(second[0]!.rev).toBeGreaterThan(first[1]!.rev);
        expect((await store.conversationById(conv.id))?.lastSeq).toBe(5);
      });

      it('numbers each conversation on its own within one batch', async () => {
        const a = await user('a');
        const c1 = await group([a], T0, 'one');
        const c2 = await group([a], T0, 'two');
        const out = (await store.appendMessages([msg(c1, a, 'x'), msg(c2, a, 'y'), msg(c1, a, 'z'), msg(c2, a, 'w')])).map(storedMessage);
        expect(out.map((m) => [m.conversationId, m.seq])).toEqual([
          [c1.id, 1],
          [c2.id, 1],
          [c1.id, 2],
          [c2.id, 2],
        ]);
        expect((await store.conversationById(c1.id))?.lastSeq).toBe(2);
        expect((await store.conversationById(c2.id))?.lastSeq).toBe(2);
      });

      it('answers an empty batch with no outcomes', async () => {
        await expect(store.appendMessages([])).resolves.toEqual([]);
      });

      it('a clientId repeated in the same batch is a duplicate of the first and uses no seq', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const out = await store.appendMessages([msg(conv, a, 'original', 'k1'), msg(conv, a, 'retry', 'k1'), msg(conv, a, 'next', 'k2')]);
        const original = storedMessage(out[0]);
        expect(out[1]).toEqual({ kind: 'duplicate', message: original });
        expect(storedMessage(out[2]).seq).toBe(2);
        expect((await store.conversationById(conv.id))?.lastSeq).toBe(2);
        expect((await store.history(conv.id, { latest: true, limit: 10 })).messages.map((m) => m.content)).toEqual(['original', 'next']);
      });

      it('a clientId repeated in a later batch is a duplicate of the original and uses no seq', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const original = storedMessage((await store.appendMessages([msg(conv, a, 'original', 'k1', T0 + 1)]))[0]);
        const before = await store.conversationById(conv.id);
        const out = await store.appendMessages([msg(conv, a, 'retry', 'k1', T0 + 2)]);
        expect(out).toEqual([{ kind: 'duplicate', message: original }]);
        expect(await store.conversationById(conv.id)).toEqual(before);
        const next = storedMessage((await store.appendMessages([msg(conv, a, 'next', 'k2', T0 + 3)]))[0]);
        expect(next.seq).toBe(2);
      });

      it('messages without a clientId are never duplicates', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const out = (await store.appendMessages([msg(conv, a, 'same'), msg(conv, a, 'same')])).map(storedMessage);
        expect(seqs(out)).toEqual([1, 2]);
      });

      it('the same clientId from another sender or in another conversation is a new message', async () => {
        const a = await user('a');
        const b = await user('b');
        const c1 = await group([a, b], T0, 'one');
        const c2 = await group([a, b], T0, 'two');
        const out = await store.appendMessages([msg(c1, a, 'a in 1', 'k'), msg(c1, b, 'b in 1', 'k'), msg(c2, a, 'a in 2', 'k')]);
        expect(out.map((o) => o.kind)).toEqual(['stored', 'stored', 'stored']);
        const later = await store.appendMessages([msg(c1, b, 'b again', 'k'), msg(c2, b, 'b in 2', 'k')]);
        expect(later[0]).toEqual({ kind: 'duplicate', message: storedMessage(out[1]) });
        expect(storedMessage(later[1]).seq).toBe(2);
      });

      it('an unknown conversation is no_conversation and leaves the rest of the batch alone', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const out = await store.appendMessages([
          msg(conv, a, 'first', 'k1'),
          msg(encodeId('c', 999_999), a, 'lost', 'k2'),
          msg(a.id, a, 'wrong kind'),
          msg('nope', a, 'garbage'),
          msg(conv, a, 'second', 'k2'),
        ]);
        expect(out.map((o) => o.kind)).toEqual(['stored', 'no_conversation', 'no_conversation', 'no_conversation', 'stored']);
        expect(seqs(out.filter((o) => o.kind === 'stored').map(storedMessage))).toEqual([1, 2]);
        expect((await store.conversationById(conv.id))?.lastSeq).toBe(2);
      });

      it("moves the sender's own read and delivered markers to its seq, and no one else's", async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        await store.appendMessages([msg(conv, a, '1'), msg(conv, a, '2')]);
        expect(await store.membership(conv.id, a.id)).toMatchObject({ readSeq: 2, deliveredSeq: 2 });
        expect(await store.membership(conv.id, b.id)).toMatchObject({ readSeq: 0, deliveredSeq: 0 });

        await store.appendMessages([msg(conv, b, '3'), msg(conv, a, '4'), msg(conv, b, '5')]);
        expect(await store.membership(conv.id, a.id)).toMatchObject({ readSeq: 4, deliveredSeq: 4 });
        expect(await store.membership(conv.id, b.id)).toMatchObject({ readSeq: 5, deliveredSeq: 5 });
      });

      it('a duplicate does not move any marker or the activity time', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        await store.appendMessages([msg(conv, a, '1', 'k', T0 + 10)]);
        await store.appendMessages([msg(conv, b, '2', null, T0 + 20)]);
        const before = await store.conversationById(conv.id);
        const markersBefore = await store.members(conv.id);
        expect((await store.appendMessages([msg(conv, a, '1 again', 'k', T0 + 30)]))[0]?.kind).toBe('duplicate');
        expect(await store.conversationById(conv.id)).toEqual(before);
        expect(await store.members(conv.id)).toEqual(markersBefore);
      });
    });

    // ---- history ----------------------------------------------------------------

    describe('history', () => {
      async function seven() {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        const noise = await group([a], T0, 'noise');
        const stored = (
          await store.appendMessages(
            Array.from({ length: 7 }, (_, i) => [msg(conv, i % 2 ? b : a, `m${i + 1}`, null, T0 + i), msg(noise, a, `n${i + 1}`)]).flat(),
          )
        )
          .map(storedMessage)
          .filter((m) => m.conversationId === conv.id);
        expect(seqs(stored)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        return { conv, stored };
      }

      it('latest: the last N in ascending order, with hasMore', async () => {
        const { conv, stored } = await seven();
        const page = await store.history(conv.id, { latest: true, limit: 3 });
        expect(page).toEqual({ messages: stored.slice(4), hasMore: true });
        expect(await store.history(conv.id, { latest: true, limit: 7 })).toEqual({ messages: stored, hasMore: false });
        expect(await store.history(conv.id, { latest: true, limit: 50 })).toEqual({ messages: stored, hasMore: false });
      });

      it('before: the N just below the seq, ascending, with hasMore', async () => {
        const { conv } = await seven();
        let page = await store.history(conv.id, { before: 5, limit: 2 });
        expect(seqs(page.messages)).toEqual([3, 4]);
        expect(page.hasMore).toBe(true);
        page = await store.history(conv.id, { before: 3, limit: 2 });
        expect(seqs(page.messages)).toEqual([1, 2]);
        expect(page.hasMore).toBe(false);
        page = await store.history(conv.id, { before: 4, limit: 10 });
        expect(seqs(page.messages)).toEqual([1, 2, 3]);
        expect(page.hasMore).toBe(false);
        expect(await store.history(conv.id, { before: 1, limit: 10 })).toEqual({ messages: [], hasMore: false });
      });

      it('after: the N just above the seq, ascending, with hasMore', async () => {
        const { conv, stored } = await seven();
        let page = await store.history(conv.id, { after: 2, limit: 3 });
        expect(page).toEqual({ messages: stored.slice(2, 5), hasMore: true });
        page = await store.history(conv.id, { after: 4, limit: 3 });
        expect(seqs(page.messages)).toEqual([5, 6, 7]);
        expect(page.hasMore).toBe(false);
        page = await store.history(conv.id, { after: 0, limit: 100 });
        expect(seqs(page.messages)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(await store.history(conv.id, { after: 7, limit: 10 })).toEqual({ messages: [], hasMore: false });
      });

      it('is empty for a conversation without messages', async () => {
        const a = await user('a');
        const conv = await group([a]);
        expect(await store.history(conv.id, { latest: true, limit: 10 })).toEqual({ messages: [], hasMore: false });
        expect(await store.history(encodeId('c', 999_999), { latest: true, limit: 10 })).toEqual({ messages: [], hasMore: false });
      });
    });

    // ---- unread counts and last messages --------------------------------------------

    describe('unreadCounts', () => {
      it("counts the messages after the user's read marker: never their own, never deleted ones", async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        const conv = await group([a, b, c]);
        // seq: 1 a, 2 b, 3 a, 4 b, 5 a — sending moves the sender's own marker
        const sent = await sendEach([msg(conv, a, '1'), msg(conv, b, '2'), msg(conv, a, '3'), msg(conv, b, '4'), msg(conv, a, '5')]);
        const unread = async (u: UserRecord) => {
          const marker = (await store.membership(conv.id, u.id))!.readSeq;
          return (await store.unreadCounts(u.id, [{ conversationId: conv.id, afterSeq: marker }])).get(conv.id);
        };
        expect([await unread(a), await unread(b), await unread(c)]).toEqual([0, 1, 5]);
        await store.advanceMarkers([{ conversationId: conv.id, userId: c.id, type: 'read', seq: 3, at: T0 }]);
        expect(await unread(c)).toBe(2);
        // a deleted message is no longer unread
        await store.changeMessages([{ kind: 'delete', messageId: sent[4]!.id, userId: a.id, at: T0 }]);
        expect([await unread(b), await unread(c)]).toEqual([0, 1]);
        await store.changeMessages([{ kind: 'delete', messageId: sent[1]!.id, userId: b.id, at: T0 }]);
        expect(await unread(c)).toBe(1); // seq 2 was before c's marker
      });

      it('answers several conversations in one call', async () => {
        const a = await user('a');
        const b = await user('b');
        const c1 = await group([a, b], T0, 'one');
        const c2 = await group([a, b], T0, 'two');
        const quiet = await group([a, b], T0, 'quiet');
        await store.appendMessages([msg(c1, a, 'x'), msg(c2, a, 'y'), msg(c1, a, 'z')]);
        const counts = await store.unreadCounts(b.id, [
          { conversationId: c1.id, afterSeq: 0 },
          { conversationId: c2.id, afterSeq: 0 },
          { conversationId: quiet.id, afterSeq: 0 },
        ]);
        expect(counts.get(c1.id)).toBe(2);
        expect(counts.get(c2.id)).toBe(1);
        expect(counts.get(quiet.id) ?? 0).toBe(0);
        expect((await store.unreadCounts(b.id, [])).size).toBe(0);
      });
    });

    describe('lastMessages', () => {
      it('gives the highest-seq message of each conversation that has any', async () => {
        const a = await user('a');
        const b = await user('b');
        const c1 = await group([a, b], T0, 'one');
        const empty = await group([a, b], T0, 'empty');
        const c3 = await group([a, b], T0, 'three');
        await store.appendMessages([msg(c1, a, '1'), msg(c3, b, 'only'), msg(c1, b, '2')]);
        const last1 = storedMessage((await store.appendMessages([msg(c1, a, '3')]))[0]);
        const fresh = await store.conversationsByIds([c1.id, empty.id, c3.id]);
        const lasts = await store.lastMessages(fresh);
        expect(lasts.get(c1.id)).toEqual(last1);
        expect(lasts.get(c3.id)).toMatchObject({ seq: 1, content: 'only', senderId: b.id });
        expect(lasts.has(empty.id)).toBe(false);
        expect(lasts.size).toBe(2);
        expect((await store.lastMessages([])).size).toBe(0);
      });
    });

    describe('markers', () => {
      const move = (c: { id: string }, u: UserRecord, type: 'delivered' | 'read', seq: number, at = T0 + 5000) => ({
        conversationId: c.id,
        userId: u.id,
        type,
        seq,
        at,
      });

      it('move forward only, never past lastSeq, and reading carries delivery along', async () => {
        const a = await user('a');
        const b = await user('b');
        const outsider = await user('x');
        const conv = await group([a, b]);
        await sendEach([msg(conv, a, '1'), msg(conv, a, '2'), msg(conv, a, '3')]);
        const out = await store.advanceMarkers([
          move(conv, b, 'delivered', 2),
          move(conv, b, 'delivered', 1),
          move(conv, b, 'read', 1),
          move(conv, b, 'read', 3),
          move(conv, b, 'read', 4),
          move(conv, outsider, 'read', 1),
          move({ id: 'nope' }, b, 'read', 1),
        ]);
        expect(out).toEqual([
          { kind: 'moved', deliveredSeq: 2, readSeq: 0, moved: [{ type: 'delivered', seq: 2 }] },
          { kind: 'unchanged', deliveredSeq: 2, readSeq: 0 },
          { kind: 'moved', deliveredSeq: 2, readSeq: 1, moved: [{ type: 'read', seq: 1 }] },
          { kind: 'moved', deliveredSeq: 3, readSeq: 3, moved: [{ type: 'delivered', seq: 3 }, { type: 'read', seq: 3 }] },
          { kind: 'beyond_last_seq', lastSeq: 3 },
          { kind: 'not_member' },
          { kind: 'not_member' },
        ]);
        expect(await store.membership(conv.id, b.id)).toMatchObject({ deliveredSeq: 3, readSeq: 3 });
        expect(await store.advanceMarkers([])).toEqual([]);
      });

      it('tell when each member first reached a seq, leaving out those below it', async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        const conv = await group([a, b, c]);
        await sendEach([msg(conv, a, '1', null, T0), msg(conv, a, '2', null, T0), msg(conv, a, '3', null, T0)]);
        await store.advanceMarkers([move(conv, b, 'delivered', 1, T0 + 10_000)]);
        await store.advanceMarkers([move(conv, b, 'read', 2, T0 + 20_000)]);
        await store.advanceMarkers([move(conv, c, 'delivered', 3, T0 + 30_000)]);
        expect(await store.markerTimes(conv.id, 1, [b.id, c.id])).toEqual({
          delivered: [
            { userId: b.id, at: T0 + 10_000 },
            { userId: c.id, at: T0 + 30_000 },
          ],
          read: [{ userId: b.id, at: T0 + 20_000 }],
        });
        expect(await store.markerTimes(conv.id, 2, [b.id, c.id])).toEqual({
          delivered: [
            { userId: b.id, at: T0 + 20_000 },
            { userId: c.id, at: T0 + 30_000 },
          ],
          read: [{ userId: b.id, at: T0 + 20_000 }],
        });
        expect(await store.markerTimes(conv.id, 3, [b.id, c.id])).toEqual({
          delivered: [{ userId: c.id, at: T0 + 30_000 }],
          read: [],
        });
        // the sender's own markers moved when it sent
        expect((await store.markerTimes(conv.id, 3, [a.id])).read).toEqual([{ userId: a.id, at: T0 }]);
      });

      it('moves within a second share one record, with the later time', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        await sendEach([msg(conv, a, '1', null, T0), msg(conv, a, '2', null, T0), msg(conv, a, '3', null, T0)]);
        await store.advanceMarkers([move(conv, b, 'read', 1, T0 + 10_000)]);
        await store.advanceMarkers([move(conv, b, 'read', 2, T0 + 10_400)]);
        await store.advanceMarkers([move(conv, b, 'read', 3, T0 + 12_000)]);
        const times = async (seq: number) => (await store.markerTimes(conv.id, seq, [b.id])).read[0]?.at;
        expect(await times(1)).toBe(T0 + 10_400);
        expect(await times(2)).toBe(T0 + 10_400);
        expect(await times(3)).toBe(T0 + 12_000);
      });
    });

    describe('marker log retention', () => {
      it('bounds the log by merging: with even gaps the oldest merge, and a later time is an upper bound', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        const N = 70;
        await store.appendMessages(Array.from({ length: N }, (_, i) => msg(conv, a, `m${i}`, null, T0)));
        for (let seq = 1; seq <= N; seq++) {
          await store.advanceMarkers([{ conversationId: conv.id, userId: b.id, type: 'read', seq, at: T0 + seq * 10_000 }]);
        }
        const at = async (seq: number) => (await store.markerTimes(conv.id, seq, [b.id])).read[0]?.at;
        expect(await at(N)).toBe(T0 + N * 10_000);
        expect(await at(N - 63)).toBe(T0 + (N - 63) * 10_000);
        // seqs before the kept window answer the oldest kept move's time
        expect(await at(1)).toBe(T0 + (N - 63) * 10_000);
      });
    });

    describe('marker log merging', () => {
      it('merges the moves closest in time first, so isolated old moves keep their exact time', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        const N = 70;
        await store.appendMessages(Array.from({ length: N }, (_, i) => msg(conv, a, `m${i}`, null, T0)));
        // seq 1 alone, long ago; then 69 moves 10 s apart, except a burst of 2 s gaps in the middle
        const times = [T0 + 1000, ...Array.from({ length: N - 1 }, (_, i) => T0 + 1_000_000 + i * 10_000 - (i > 30 && i < 40 ? (i - 30) * 8_000 : 0))];
        for (let seq = 1; seq <= N; seq++) {
          await store.advanceMarkers([{ conversationId: conv.id, userId: b.id, type: 'read', seq, at: times[seq - 1]! }]);
        }
        const at = async (seq: number) => (await store.markerTimes(conv.id, seq, [b.id])).read[0]?.at;
        expect(await at(1)).toBe(T0 + 1000);
        expect(await at(N)).toBe(times[N - 1]);
        expect(await at(2)).toBe(times[1]);
      });
    });

    describe('sync support', () => {
      it('changesSince gives the messages above a rev, ascending, bounded', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const sent = await sendEach([msg(conv, a, '1'), msg(conv, a, '2'), msg(conv, a, '3'), msg(conv, a, '4')]);
        expect(await store.changesSince(conv.id, 1, 2)).toEqual(sent.slice(1, 3));
        expect(await store.changesSince(conv.id, 0, 100)).toEqual(sent);
        expect(await store.changesSince(conv.id, 4, 100)).toEqual([]);
        expect(await store.changesSince('nope', 0, 100)).toEqual([]);
      });

      it('conversationRevs lists every membership with its lastRev; contactsOf everyone sharing one', async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        const loner = await user('l');
        const g = await group([a, b]);
        const d = (await direct(a, c)).conversation;
        await group([loner]);
        await sendEach([msg(g, a, '1'), msg(g, b, '2')]);
        const revs = await store.conversationRevs(a.id);
        expect(revs.sort((x, y) => (x.conversationId < y.conversationId ? -1 : 1))).toEqual(
          [
            { conversationId: g.id, lastRev: 2 },
            { conversationId: d.id, lastRev: 0 },
          ].sort((x, y) => (x.conversationId < y.conversationId ? -1 : 1)),
        );
        expect(sorted(await store.contactsOf(a.id))).toEqual(sorted([b.id, c.id]));
        expect(await store.contactsOf(loner.id)).toEqual([]);
        expect(await store.contactsOf('nope')).toEqual([]);
      });

      it('messageById finds a message, and nothing for other ids', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [m] = await sendEach([msg(conv, a, 'find me')]);
        expect(await store.messageById(m!.id)).toEqual(m);
        for (const id of [...GARBAGE_IDS, conv.id, a.id, encodeId('m', 999_999)]) expect(await store.messageById(id)).toBeNull();
      });
    });
  });
}
