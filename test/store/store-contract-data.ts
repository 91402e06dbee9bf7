import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeId } from '../../src/store/ids.js';
import type { ChangeOutcome, ConversationRecord, MessageChange, MessageRecord, NewMessage, SearchHit, Store, UserRecord } from '../../src/store/store.js';
import { parseQuery } from '../../src/text/search-text.js';
import type { StoreUnderTest } from './store-contract.js';

/**
 * What every Store must do with edits, deletions and search, whatever it is
 * built on: only the semantics src/store/store.ts documents (changeMessages,
 * search, and unreadCounts / lastMessages / changesSince as they meet them).
 * Search terms are made the way the domain makes them, with parseQuery.
 */

const T0 = 1_700_000_000_000;

/** Strings no store could have issued as an id. */
const GARBAGE_IDS = ['', 'nope', 'm', 'm0', 'm-1', 'm1.5', "m1' OR '1'='1", '1', 'x'.repeat(300)];

export function runDataContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`Store contract (edits, deletions, search): ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    // ---- fixtures -------------------------------------------------------------------

    const user = (username: string): Promise<UserRecord> =>
      store.createUser({ username, displayName: username, passwordHash: `hash:${username}`, createdAt: T0 });

    async function group(members: UserRecord[], title = 'A group'): Promise<ConversationRecord> {
      const { conversation } = await store.createConversation({
        type: 'group',
        title,
        ownerId: members[0]!.id,
        memberIds: members.map((m) => m.id),
        createdAt: T0,
      });
      return conversation;
    }

    const msg = (c: { id: string }, sender: UserRecord, content: string, createdAt = T0 + 1000): NewMessage => ({
      conversationId: c.id,
      senderId: sender.id,
      content,
      clientId: null,
      createdAt,
    });

    /** Appends each message in its own batch; answers the stored records. */
    async function sendEach(items: NewMessage[]): Promise<MessageRecord[]> {
      const out: MessageRecord[] = [];
      for (const item of items) {
        const [o] = await store.appendMessages([item]);
        if (o?.kind !== 'stored') throw new Error(`not stored: ${JSON.stringify(o)}`);
        out.push(o.message);
      }
      return out;
    }

    const editOf = (m: { id: string }, by: UserRecord, content: string, at = T0 + 5000): MessageChange => ({
      kind: 'edit',
      messageId: m.id,
      userId: by.id,
      content,
      at,
    });
    const deleteOf = (m: { id: string }, by: UserRecord, at = T0 + 6000): MessageChange => ({
      kind: 'delete',
      messageId: m.id,
      userId: by.id,
      at,
    });

    async function changeOne(c: MessageChange): Promise<ChangeOutcome> {
      const out = await store.changeMessages([c]);
      expect(out).toHaveLength(1);
      return out[0]!;
    }

    function changed(o: ChangeOutcome): MessageRecord {
      expect(o.kind).toBe('changed');
      if (o.kind !== 'changed') throw new Error('not changed');
      return o.message;
    }

    const find = (userId: string, q: string, opts: { conversationId?: string; limit?: number } = {}): Promise<SearchHit[]> =>
      store.search({ userId, terms: parseQuery(q), conversationId: opts.conversationId, limit: opts.limit ?? 100 });
    const foundIds = async (u: UserRecord, q: string, opts: { conversationId?: string; limit?: number } = {}) =>
      (await find(u.id, q, opts)).map((h) => h.message.id);

    // ---- changeMessages ------------------------------------------------------------------

    describe('changeMessages', () => {
      it('an edit takes the next rev and sets content and editedAt; id, seq, sender, clientId and createdAt stay', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [appended] = await store.appendMessages([{ ...msg(conv, a, 'first'), clientId: 'c-1' }]);
        const m1 = appended?.kind === 'stored' ? appended.message : undefined;
        const [m2] = await sendEach([msg(conv, a, 'second')]);
        const edited = changed(await changeOne(editOf(m1!, a, 'first, edited', T0 + 7000)));
        expect(edited).toEqual({ ...m1!, content: 'first, edited', rev: 3, editedAt: T0 + 7000 });
        expect(await store.messageById(m1!.id)).toEqual(edited);
        const c = await store.conversationById(conv.id);
        expect(c).toMatchObject({ lastSeq: 2, lastRev: 3 });
        expect(await store.changesSince(conv.id, 2, 100)).toEqual([edited]);
        expect(await store.changesSince(conv.id, 0, 100)).toEqual([m2, edited]);
      });

      it('an edit or deletion is not activity: lastSeq, lastActivityAt and the list order stay', async () => {
        const a = await user('a');
        const older = await group([a], 'older');
        const newer = await group([a], 'newer');
        const [m] = await sendEach([msg(older, a, 'x', T0 + 1000)]);
        await sendEach([msg(newer, a, 'y', T0 + 2000)]);
        const before = await store.conversationById(older.id);
        const listBefore = (await store.listConversations({ userId: a.id, archived: false, limit: 10 })).map((i) => i.conversation.id);
        changed(await changeOne(editOf(m!, a, 'x2', T0 + 9000)));
        changed(await changeOne(deleteOf(m!, a, T0 + 9500)));
        const after = await store.conversationById(older.id);
        expect(after).toEqual({ ...before!, lastRev: before!.lastRev + 2 });
        expect((await store.listConversations({ userId: a.id, archived: false, limit: 10 })).map((i) => i.conversation.id)).toEqual(listBefore);
      });

      it('a deletion erases the content to "", sets deletedAt, takes the next rev, and keeps the seq', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        const [m1, m2, m3] = await sendEach([msg(conv, a, 'one'), msg(conv, b, 'two'), msg(conv, a, 'three')]);
        const deleted = changed(await changeOne(deleteOf(m2!, b, T0 + 8000)));
        expect(deleted).toEqual({ ...m2!, content: '', rev: 4, deletedAt: T0 + 8000 });
        expect(await store.messageById(m2!.id)).toEqual(deleted);
        const page = await store.history(conv.id, { latest: true, limit: 10 });
        expect(page.messages).toEqual([m1, deleted, m3]);
        expect(await store.conversationById(conv.id)).toMatchObject({ lastSeq: 3, lastRev: 4 });
        expect(await store.changesSince(conv.id, 3, 100)).toEqual([deleted]);
      });

      it('deleting a deleted message is unchanged, with the message as it is, and takes no rev', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [m] = await sendEach([msg(conv, a, 'x')]);
        const deleted = changed(await changeOne(deleteOf(m!, a, T0 + 8000)));
        expect(await changeOne(deleteOf(m!, a, T0 + 9000))).toEqual({ kind: 'unchanged', message: deleted });
        expect((await store.conversationById(conv.id))?.lastRev).toBe(deleted.rev);
        expect(await store.messageById(m!.id)).toEqual(deleted);
      });

      it('editing a deleted message is `deleted`, changes nothing and takes no rev', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [m] = await sendEach([msg(conv, a, 'x')]);
        const deleted = changed(await changeOne(deleteOf(m!, a)));
        expect(await changeOne(editOf(m!, a, 'resurrected'))).toEqual({ kind: 'deleted' });
        expect(await store.messageById(m!.id)).toEqual(deleted);
        expect((await store.conversationById(conv.id))?.lastRev).toBe(deleted.rev);
      });

      it('another member is not_sender; a non-member, a removed member and unknown ids are not_found; nothing changes', async () => {
        const a = await user('a');
        const b = await user('b');
        const outsider = await user('x');
        const conv = await group([a, b]);
        const [m] = await sendEach([msg(conv, a, 'mine')]);
        const [mb] = await sendEach([msg(conv, b, 'b was here')]);
        expect(await changeOne(editOf(m!, b, 'hijack'))).toEqual({ kind: 'not_sender' });
        expect(await changeOne(deleteOf(m!, b))).toEqual({ kind: 'not_sender' });
        expect(await changeOne(editOf(m!, outsider, 'hijack'))).toEqual({ kind: 'not_found' });
        expect(await changeOne(deleteOf(m!, outsider))).toEqual({ kind: 'not_found' });
        for (const id of [...GARBAGE_IDS, conv.id, a.id, encodeId('m', 999_999)]) {
          expect(await changeOne(editOf({ id }, a, 'x')), id).toEqual({ kind: 'not_found' });
          expect(await changeOne(deleteOf({ id }, a)), id).toEqual({ kind: 'not_found' });
        }
        for (const userId of ['', 'nope', encodeId('u', 999_999), conv.id]) {
          expect(await changeOne({ kind: 'delete', messageId: m!.id, userId, at: T0 })).toEqual({ kind: 'not_found' });
        }
        // membership is checked when the change is applied: a removed sender may not change their message
        expect(await store.removeMember(conv.id, b.id)).toBe(true);
        expect(await changeOne(editOf(mb!, b, 'after leaving'))).toEqual({ kind: 'not_found' });
        expect(await changeOne(deleteOf(mb!, b))).toEqual({ kind: 'not_found' });

        expect(await store.messageById(m!.id)).toEqual(m);
        expect(await store.messageById(mb!.id)).toEqual(mb);
        expect((await store.conversationById(conv.id))?.lastRev).toBe(2);
      });

      it('applies a batch in order, each applied change taking the next rev; failures take none', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        const other = await group([a], 'other');
        const [m1, m2, m3] = await sendEach([msg(conv, a, '1'), msg(conv, a, '2'), msg(conv, b, '3')]);
        const [o1] = await sendEach([msg(other, a, 'o1')]);
        const out = await store.changeMessages([
          editOf(m1!, a, '1a'), // rev 4
          editOf(m3!, a, 'not yours'), // not_sender
          deleteOf(m2!, a), // rev 5
          editOf(m2!, a, 'too late'), // deleted
          editOf(o1!, a, 'o1a'), // other conversation: its rev 2
          editOf(m1!, a, '1b'), // rev 6
          deleteOf(m2!, a), // unchanged
          deleteOf(m1!, a), // rev 7
        ]);
        expect(out.map((o) => o.kind)).toEqual(['changed', 'not_sender', 'changed', 'deleted', 'changed', 'changed', 'unchanged', 'changed']);
        const revs = out.map((o) => ('message' in o ? o.message.rev : null));
        expect(revs).toEqual([4, null, 5, null, 2, 6, 5, 7]);
        expect((out[5] as { message: MessageRecord }).message.content).toBe('1b');
        expect((out[7] as { message: MessageRecord }).message).toMatchObject({ content: '', rev: 7 });
        expect(await store.conversationById(conv.id)).toMatchObject({ lastSeq: 3, lastRev: 7 });
        expect(await store.conversationById(other.id)).toMatchObject({ lastSeq: 1, lastRev: 2 });
        // changesSince: each message once, in its latest state, ascending by rev
        expect((await store.changesSince(conv.id, 0, 100)).map((m) => [m.seq, m.rev, m.content])).toEqual([
          [3, 3, '3'],
          [2, 5, ''],
          [1, 7, ''],
        ]);
        expect(await store.changeMessages([])).toEqual([]);
      });

      it('revs stay unique and gap-free across sends and changes interleaved', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const sent: MessageRecord[] = [];
        for (let i = 0; i < 10; i++) {
          sent.push(...(await sendEach([msg(conv, a, `m${i}`)])));
          if (i % 3 === 2) changed(await changeOne(editOf(sent[i - 1]!, a, `m${i - 1}!`)));
          if (i % 4 === 3) changed(await changeOne(deleteOf(sent[i - 2]!, a)));
        }
        const c = await store.conversationById(conv.id);
        const all = await store.changesSince(conv.id, 0, 1000);
        expect(all.map((m) => m.rev)).toEqual([...all.map((m) => m.rev)].sort((x, y) => x - y));
        expect(new Set(all.map((m) => m.rev)).size).toBe(all.length);
        expect(Math.max(...all.map((m) => m.rev))).toBe(c!.lastRev);
        expect(c!.lastRev).toBe(10 + 3 + 2);
        expect(c!.lastSeq).toBe(10);
      });

      it('lastMessages shows the last message as it now is, deleted or edited', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [, m2] = await sendEach([msg(conv, a, '1'), msg(conv, a, '2')]);
        const edited = changed(await changeOne(editOf(m2!, a, '2 edited')));
        let fresh = await store.conversationsByIds([conv.id]);
        expect((await store.lastMessages(fresh)).get(conv.id)).toEqual(edited);
        const deleted = changed(await changeOne(deleteOf(m2!, a)));
        fresh = await store.conversationsByIds([conv.id]);
        expect((await store.lastMessages(fresh)).get(conv.id)).toEqual(deleted);
      });

      it('unreadCounts: a deletion after the marker lowers the count, an edit does not, a deletion before it does nothing', async () => {
        const a = await user('a');
        const b = await user('b');
        const conv = await group([a, b]);
        const sent = await sendEach([msg(conv, a, '1'), msg(conv, a, '2'), msg(conv, a, '3'), msg(conv, a, '4')]);
        await store.advanceMarkers([{ conversationId: conv.id, userId: b.id, type: 'read', seq: 1, at: T0 }]);
        const unread = async (u: UserRecord) => {
          const marker = (await store.membership(conv.id, u.id))!.readSeq;
          return (await store.unreadCounts(u.id, [{ conversationId: conv.id, afterSeq: marker }])).get(conv.id) ?? 0;
        };
        expect([await unread(a), await unread(b)]).toEqual([0, 3]);
        await store.changeMessages([editOf(sent[2]!, a, '3 edited')]);
        expect([await unread(a), await unread(b)]).toEqual([0, 3]);
        await store.changeMessages([deleteOf(sent[0]!, a)]); // before b's marker
        expect([await unread(a), await unread(b)]).toEqual([0, 3]);
        await store.changeMessages([deleteOf(sent[3]!, a), deleteOf(sent[1]!, a)]);
        expect([await unread(a), await unread(b)]).toEqual([0, 1]);
        await store.changeMessages([deleteOf(sent[3]!, a)]); // again: unchanged
        expect(await unread(b)).toBe(1);
      });
    });

    // ---- search ---------------------------------------------------------------------------

    describe('search', () => {
      it('finds substrings of 3+ characters, ignoring case and accents, with a numeric score', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [v, f, c1, c2] = await sendEach([
          msg(conv, a, 'the version is 3'),
          msg(conv, a, 'see foo.png'),
          msg(conv, a, 'Café au lait'),
          msg(conv, a, 'CAFE NOIR'),
          msg(conv, a, 'tea'),
        ]);
        expect(await foundIds(a, 'versio')).toEqual([v!.id]);
        expect(await foundIds(a, 'ersion')).toEqual([v!.id]);
        expect(await foundIds(a, 'foo.png')).toEqual([f!.id]);
        expect(await foundIds(a, 'png')).toEqual([f!.id]);
        expect((await foundIds(a, 'cafe')).sort()).toEqual([c1!.id, c2!.id].sort());
        expect((await foundIds(a, 'CAFÉ')).sort()).toEqual([c1!.id, c2!.id].sort());
        const [hit] = await find(a.id, 'versio');
        expect(hit!.message).toEqual(v);
        expect(typeof hit!.score).toBe('number');
        expect(Number.isFinite(hit!.score)).toBe(true);
      });

      it('shorter terms match word prefixes; in unspaced scripts, character sequences', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [going, tokyo] = await sendEach([msg(conv, a, 'going home'), msg(conv, a, '東京都に行きます'), msg(conv, a, 'stay')]);
        expect(await foundIds(a, 'go')).toEqual([going!.id]);
        expect(await foundIds(a, 'GO')).toEqual([going!.id]);
        for (const q of ['東京', '京都', '行き', 'に行', '東京都']) expect(await foundIds(a, q), q).toEqual([tokyo!.id]);
        expect(await foundIds(a, '京東')).toEqual([]);
      });

      it('every term must match; a quoted phrase is one term', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [, , both, phrase, reversed] = await sendEach([
          msg(conv, a, 'apple pie'),
          msg(conv, a, 'banana bread'),
          msg(conv, a, 'apple banana split'),
          msg(conv, a, 'say hello world'),
          msg(conv, a, 'world hello'),
        ]);
        expect(await foundIds(a, 'apple banana')).toEqual([both!.id]);
        expect(await foundIds(a, 'banana apple')).toEqual([both!.id]);
        expect(await foundIds(a, '"hello world"')).toEqual([phrase!.id]);
        expect((await foundIds(a, 'hello world')).sort()).toEqual([phrase!.id, reversed!.id].sort());
        expect(await foundIds(a, 'apple zucchini')).toEqual([]);
      });

      it('answers best match first (ascending score): more occurrences rank higher', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [once, thrice, twice] = await sendEach([
          msg(conv, a, 'kiwi said the bird once more'),
          msg(conv, a, 'kiwi kiwi kiwi said the bird'),
          msg(conv, a, 'kiwi kiwi said the bird again'),
        ]);
        const hits = await find(a.id, 'kiwi');
        expect(hits.map((h) => h.message.id)).toEqual([thrice!.id, twice!.id, once!.id]);
        const scores = hits.map((h) => h.score);
        expect(scores).toEqual([...scores].sort((x, y) => x - y));
        expect((await find(a.id, 'kiwi', { limit: 1 })).map((h) => h.message.id)).toEqual([thrice!.id]);
      });

      it('answers at most `limit` hits', async () => {
        const a = await user('a');
        const conv = await group([a]);
        await store.appendMessages(Array.from({ length: 30 }, (_, i) => msg(conv, a, `lemon ${i}`)));
        expect(await find(a.id, 'lemon', { limit: 7 })).toHaveLength(7);
        expect(await find(a.id, 'lemon', { limit: 100 })).toHaveLength(30);
      });

      it('only over the conversations the user is a member of now; conversationId narrows to one', async () => {
        const a = await user('a');
        const b = await user('b');
        const c = await user('c');
        const ab = await group([a, b], 'ab');
        const ac = await group([a, c], 'ac');
        const bc = await group([b, c], 'bc');
        const [inAb] = await sendEach([msg(ab, a, 'mango ab')]);
        const [inAc] = await sendEach([msg(ac, c, 'mango ac')]);
        const [inBc] = await sendEach([msg(bc, b, 'mango bc')]);
        expect((await foundIds(a, 'mango')).sort()).toEqual([inAb!.id, inAc!.id].sort());
        expect((await foundIds(b, 'mango')).sort()).toEqual([inAb!.id, inBc!.id].sort());
        expect(await foundIds(a, 'mango', { conversationId: ac.id })).toEqual([inAc!.id]);
        // removed: nothing of it any more, not even one's own messages there
        expect(await store.removeMember(ab.id, a.id)).toBe(true);
        expect(await foundIds(a, 'mango')).toEqual([inAc!.id]);
        expect(await foundIds(a, 'mango', { conversationId: ab.id })).toEqual([]);
        expect(await foundIds(b, 'mango', { conversationId: ab.id })).toEqual([inAb!.id]);
      });

      it('a member added back, later, with no message since they left, finds the whole history again', async () => {
        const a = await user('a');
        const b = await user('b');
        const ab = await group([a, b], 'ab');
        const [mine] = await sendEach([msg(ab, a, 'mango from a', T0 + 1000)]);
        const [theirs] = await sendEach([msg(ab, b, 'mango from b', T0 + 2000)]);
        await store.advanceMarkers([{ conversationId: ab.id, userId: a.id, type: 'read', seq: 2, at: T0 + 3000 }]);
        expect(await store.removeMember(ab.id, a.id)).toBe(true);
        expect(await foundIds(a, 'mango')).toEqual([]);
        // a minute later, nothing said in between: lastSeq is where a's markers were
        expect(await store.addMember(ab.id, a.id, T0 + 60_000)).toBe(true);
        expect((await foundIds(a, 'mango')).sort()).toEqual([mine!.id, theirs!.id].sort());
        expect(await store.membership(ab.id, a.id)).toMatchObject({ readSeq: 2, deliveredSeq: 2 });
      });

      it('never finds a deleted message, nor the text an edit replaced', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [gone, edited, kept] = await sendEach([
          msg(conv, a, 'tamarind Crème 東京都'),
          msg(conv, a, 'hunter2 password'),
          msg(conv, a, 'tamarind stays'),
        ]);
        changed(await changeOne(deleteOf(gone!, a)));
        changed(await changeOne(editOf(edited!, a, 'nothing to see')));
        for (const q of ['tamarind', 'creme', 'Crème', '東京', '東京都', 'ta', '"tamarind Crème"']) {
          expect(await foundIds(a, q), q).not.toContain(gone!.id);
        }
        expect(await foundIds(a, 'tamarind')).toEqual([kept!.id]);
        for (const q of ['hunter2', 'password', 'hu']) expect(await foundIds(a, q), q).toEqual([]);
        const [hit] = await find(a.id, 'nothing');
        expect(hit!.message).toMatchObject({ id: edited!.id, content: 'nothing to see' });
        // a batch that edits and then deletes
        const [later] = await sendEach([msg(conv, a, 'lychee one')]);
        await store.changeMessages([editOf(later!, a, 'rambutan two'), deleteOf(later!, a)]);
        expect(await foundIds(a, 'lychee')).toEqual([]);
        expect(await foundIds(a, 'rambutan')).toEqual([]);
      });

      it('any text is plain text, never index syntax: every query answers a list', async () => {
        const a = await user('a');
        const conv = await group([a]);
        const [hostile] = await sendEach([msg(conv, a, `a AND (b OR c) NEAR(x y) col:umn x' OR '1'='1 %_% back\\slash ... content:foo ^x NOT 🙂`)]);
        const queries = [
          '"unbalanced',
          'a AND (b OR',
          'NEAR(x y',
          '*',
          '-',
          'col:umn',
          "x' OR '1'='1",
          '%_%',
          '\\',
          '🙂',
          '...',
          'content:foo',
          '^x',
          'a OR b',
          'NOT',
          '""',
          '{a b}:c',
          'rowid:1',
          'x*',
          '\u0001\u0002',
          'q'.repeat(200),
          '"(*:^-'.repeat(34).slice(0, 200),
        ];
        for (const q of queries) {
          const hits = await find(a.id, q).catch((e: unknown) => e);
          expect(Array.isArray(hits), `${JSON.stringify(q)}: ${String(hits)}`).toBe(true);
        }
        for (const q of ['col:umn', "x' OR '1'='1", '%_%', 'NEAR(x y', 'content:foo', '...', 'back\\slash']) {
          expect(await foundIds(a, q), q).toEqual([hostile!.id]);
        }
      });

      it('a NUL character in a term is text like any other (no error)', async () => {
        const a = await user('a');
        const conv = await group([a]);
        await sendEach([msg(conv, a, 'nul\u0000inside')]);
        for (const q of ['a\u0000b', 'x\u0000', 'col\u0000', '\u0000\u0000\u0000']) {
          const hits = await find(a.id, q).catch((e: unknown) => e);
          expect(Array.isArray(hits), `${JSON.stringify(q)}: ${String(hits)}`).toBe(true);
        }
      });

      it('finds nothing for garbage user or conversation ids, or no terms', async () => {
        const a = await user('a');
        const conv = await group([a]);
        await sendEach([msg(conv, a, 'papaya')]);
        for (const id of ['', 'nope', conv.id, encodeId('u', 999_999)]) {
          expect(await store.search({ userId: id, terms: ['papaya'], limit: 10 })).toEqual([]);
        }
        for (const id of ['', 'nope', a.id, encodeId('c', 999_999)]) {
          expect(await store.search({ userId: a.id, terms: ['papaya'], conversationId: id, limit: 10 })).toEqual([]);
        }
        expect(await store.search({ userId: a.id, terms: [], limit: 10 })).toEqual([]);
      });
    });
  });
}
