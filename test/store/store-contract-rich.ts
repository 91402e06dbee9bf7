import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/protocol/limits.js';
import type { ChangeOutcome, ConversationRecord, MessageChange, MessageRecord, NewMessage, Store, UserRecord } from '../../src/store/store.js';
import type { StoreUnderTest } from './store-contract.js';

/**
 * Rich messages (contract v1.1) as every Store keeps them: replies whose
 * quote is read as the target is now, mentions resolved against the members
 * in the message's own transaction, reactions that take a rev and come back
 * through changesSince, and what a deletion erases.
 */

const T0 = 1_700_000_000_000;

export function runRichContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`Store contract (replies, mentions, reactions): ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    const user = (username: string): Promise<UserRecord> =>
      store.createUser({ username, displayName: username, passwordHash: `hash:${username}`, createdAt: T0 });

    async function group(members: UserRecord[]): Promise<ConversationRecord> {
      const { conversation } = await store.createConversation({
        type: 'group',
        title: 'g',
        ownerId: members[0]!.id,
        memberIds: members.map((m) => m.id),
        createdAt: T0,
      });
      return conversation;
    }

    const msg = (c: { id: string }, sender: UserRecord, content: string, extra: Partial<NewMessage> = {}): NewMessage => ({
      conversationId: c.id,
      senderId: sender.id,
      content,
      clientId: null,
      createdAt: T0 + 1000,
      ...extra,
    });

    async function send(m: NewMessage): Promise<MessageRecord> {
      const [o] = await store.appendMessages([m]);
      if (o?.kind !== 'stored') throw new Error(`not stored: ${JSON.stringify(o)}`);
      return o.message;
    }

    async function changeOne(c: MessageChange): Promise<ChangeOutcome> {
      const [o] = await store.changeMessages([c]);
      return o!;
    }

    const react = (m: { id: string }, by: UserRecord, emoji: string, add = true, at = T0 + 3000): MessageChange => ({
      kind: 'react',
      messageId: m.id,
      userId: by.id,
      emoji,
      add,
      at,
    });

    function changed(o: ChangeOutcome): MessageRecord {
      if (o.kind !== 'changed') throw new Error(`not changed: ${JSON.stringify(o)}`);
      return o.message;
    }

    describe('a message without any', () => {
      it('has replyTo null and no mentions or reactions, on every read', async () => {
        const a = await user('a');
        const c = await group([a]);
        const m = await send(msg(c, a, 'plain'));
        expect(m).toMatchObject({ replyTo: null, mentions: [], reactions: [] });
        expect(await store.messageById(m.id)).toEqual(m);
        expect((await store.history(c.id, { latest: true, limit: 10 })).messages).toEqual([m]);
        expect(await store.changesSince(c.id, 0, 10)).toEqual([m]);
        expect((await store.lastMessages([(await store.conversationById(c.id))!])).get(c.id)).toEqual(m);
      });
    });

    describe('replies', () => {
      it('quote the target as it is when read: its edit and its deletion show, the reply keeps its rev', async () => {
        const [a, b] = [await user('a'), await user('b')];
        const c = await group([a, b]);
        const target = await send(msg(c, a, `${'é'.repeat(99)}🙂 and more`));
        const reply = await send(msg(c, b, 'a reply', { replyToId: target.id }));
        // The first 100 code points (the emoji is one).
        expect(reply.replyTo).toEqual({ id: target.id, seq: target.seq, senderId: a.id, preview: `${'é'.repeat(99)}🙂`, deleted: false });
        changed(await changeOne({ kind: 'edit', messageId: target.id, userId: a.id, content: 'edited', at: T0 + 2000 }));
        const afterEdit = await store.messageById(reply.id);
        expect(afterEdit).toEqual({ ...reply, replyTo: { ...reply.replyTo!, preview: 'edited' } });
        changed(await changeOne({ kind: 'delete', messageId: target.id, userId: a.id, at: T0 + 3000 }));
        const afterDelete = (await store.history(c.id, { latest: true, limit: 10 })).messages.find((m) => m.id === reply.id);
        expect(afterDelete).toEqual({ ...reply, replyTo: { ...reply.replyTo!, preview: '', deleted: true } });
        expect(afterDelete!.rev).toBe(reply.rev);
        // changesSince after the reply's rev: the target's changes only
        expect((await store.changesSince(c.id, reply.rev, 10)).map((m) => m.id)).toEqual([target.id]);
      });

      it('may quote a deleted message of the same conversation', async () => {
        const a = await user('a');
        const c = await group([a]);
        const target = await send(msg(c, a, 'gone'));
        changed(await changeOne({ kind: 'delete', messageId: target.id, userId: a.id, at: T0 + 2000 }));
        const reply = await send(msg(c, a, 'about that', { replyToId: target.id }));
        expect(reply.replyTo).toEqual({ id: target.id, seq: 1, senderId: a.id, preview: '', deleted: true });
      });

      it('refuse an unknown id or a message of another conversation, storing nothing; a repeated clientId answers the original first', async () => {
        const a = await user('a');
        const [c, other] = [await group([a]), await group([a])];
        const elsewhere = await send(msg(other, a, 'elsewhere'));
        const original = await send(msg(c, a, 'first', { clientId: 'k1' }));
        for (const replyToId of [elsewhere.id, 'm999999', '', 'nope']) {
          const [o] = await store.appendMessages([msg(c, a, 'x', { replyToId })]);
          expect(o, replyToId).toEqual({ kind: 'no_reply_target' });
        }
        expect((await store.conversationById(c.id))!.lastSeq).toBe(1);
        const [repeat] = await store.appendMessages([msg(c, a, 'again', { clientId: 'k1', replyToId: 'nope' })]);
        expect(repeat).toEqual({ kind: 'duplicate', message: original });
        // In one batch: a refused item leaves the others as they are.
        const out = await store.appendMessages([msg(c, a, 'ok 1'), msg(c, a, 'bad', { replyToId: elsewhere.id }), msg(c, a, 'ok 2', { replyToId: original.id })]);
        expect(out.map((o) => o.kind)).toEqual(['stored', 'no_reply_target', 'stored']);
        expect(out.map((o) => (o.kind === 'stored' ? o.message.seq : 0))).toEqual([2, 0, 3]);
      });

      it('a deleted reply quotes nothing', async () => {
        const a = await user('a');
        const c = await group([a]);
        const target = await send(msg(c, a, 'target'));
        const reply = await send(msg(c, a, 'reply', { replyToId: target.id }));
        const gone = changed(await changeOne({ kind: 'delete', messageId: reply.id, userId: a.id, at: T0 + 2000 }));
        expect(gone).toMatchObject({ replyTo: null, mentions: [], reactions: [], content: '' });
        expect(await store.messageById(reply.id)).toEqual(gone);
      });
    });

    describe('mentions', () => {
      it("are the members among the candidate names, in the candidates' order, each once; non-members are ignored", async () => {
        const [a, b, c, outsider] = [await user('ann'), await user('Bob'), await user('cy.d'), await user('zed')];
        const conv = await group([a, b, c]);
        const m = await send(msg(conv, a, '@cy.d @bob @zed @ann', { mentionNames: ['cy.d', 'bob', 'zed', 'ann', 'nobody'] }));
        expect(m.mentions).toEqual([c.id, b.id, a.id]);
        expect(outsider.id).not.toBe(a.id);
        expect(await store.messageById(m.id)).toEqual(m);
      });

      it('are resolved again at an edit, against the members then; unreadMentions counts unread messages that mention the user', async () => {
        const [a, b, c] = [await user('ann'), await user('bob'), await user('cyd')];
        const conv = await group([a, b]);
        const m1 = await send(msg(conv, a, 'hi @bob', { mentionNames: ['bob'] }));
        await send(msg(conv, a, 'no mention'));
        const m3 = await send(msg(conv, a, '@cyd?', { mentionNames: ['cyd'] }));
        expect(m3.mentions).toEqual([]);
        const unread = async (u: UserRecord, afterSeq = 0) => (await store.unreadMentions(u.id, [{ conversationId: conv.id, afterSeq }])).get(conv.id);
        expect(await unread(b)).toBe(1);
        expect(await unread(b, 1)).toBe(0);
        await store.addMember(conv.id, c.id, T0 + 1500);
        const edited = changed(await changeOne({ kind: 'edit', messageId: m3.id, userId: a.id, content: '@cyd and @bob', mentionNames: ['cyd', 'bob'], at: T0 + 2000 }));
        expect(edited.mentions).toEqual([c.id, b.id]);
        expect(await unread(b)).toBe(2);
        expect(await unread(c)).toBe(1);
        const unmentioned = changed(await changeOne({ kind: 'edit', messageId: m1.id, userId: a.id, content: 'hi all', mentionNames: [], at: T0 + 2100 }));
        expect(unmentioned.mentions).toEqual([]);
        expect(await unread(b)).toBe(1);
        changed(await changeOne({ kind: 'delete', messageId: m3.id, userId: a.id, at: T0 + 2200 }));
        expect(await unread(b)).toBe(0);
        expect(await unread(c)).toBe(0);
        expect(await unread(a)).toBe(0);
      });
    });

    describe('reactions', () => {
      it('add and remove take the next rev, keep emoji in the order added and users in the order they reacted; no editedAt, not activity', async () => {
        const [a, b, c] = [await user('a'), await user('b'), await user('c')];
        const conv = await group([a, b, c]);
        const m = await send(msg(conv, a, 'react to me'));
        const before = (await store.conversationById(conv.id))!;
        const r1 = changed(await changeOne(react(m, b, '👍')));
        expect(r1).toEqual({ ...m, rev: m.rev + 1, reactions: [{ emoji: '👍', userIds: [b.id] }] });
        const r2 = changed(await changeOne(react(m, a, '❤️')));
        const r3 = changed(await changeOne(react(m, c, '👍')));
        expect(r3.reactions).toEqual([
          { emoji: '👍', userIds: [b.id, c.id] },
          { emoji: '❤️', userIds: [a.id] },
        ]);
        expect(r3.rev).toBe(r2.rev + 1);
        // the last reaction of an emoji removed, then added again: it comes last
        changed(await changeOne(react(m, b, '👍', false)));
        changed(await changeOne(react(m, c, '👍', false)));
        const again = changed(await changeOne(react(m, b, '👍')));
        expect(again.reactions).toEqual([
          { emoji: '❤️', userIds: [a.id] },
          { emoji: '👍', userIds: [b.id] },
        ]);
        expect(again.editedAt).toBeNull();
        const after = (await store.conversationById(conv.id))!;
        expect(after).toMatchObject({ lastSeq: before.lastSeq, lastActivityAt: before.lastActivityAt, activity: before.activity, lastRev: again.rev });
        expect(await store.messageById(m.id)).toEqual(again);
        expect(await store.changesSince(conv.id, m.rev, 10)).toEqual([again]);
      });

      it('are idempotent: adding one a user has, or removing one they have not, is unchanged (no rev)', async () => {
        const [a, b] = [await user('a'), await user('b')];
        const conv = await group([a, b]);
        const m = await send(msg(conv, a, 'x'));
        const r = changed(await changeOne(react(m, b, '👍')));
        expect(await changeOne(react(m, b, '👍'))).toEqual({ kind: 'unchanged', message: r });
        expect(await changeOne(react(m, a, '👍', false))).toEqual({ kind: 'unchanged', message: r });
        expect(await changeOne(react(m, b, '🎉', false))).toEqual({ kind: 'unchanged', message: r });
        expect((await store.conversationById(conv.id))!.lastRev).toBe(r.rev);
        // ❤ and ❤️ are two emoji
        const two = changed(await changeOne(react(m, b, '❤')));
        expect(changed(await changeOne(react(m, b, '❤️'))).reactions.map((x) => x.emoji)).toEqual(['👍', '❤', '❤️']);
        expect(two.reactions).toHaveLength(2);
      });

      it(`hold at most ${LIMITS.reactionsPerMessage} distinct emoji; one of those present may still be added`, async () => {
        const [a, b] = [await user('a'), await user('b')];
        const conv = await group([a, b]);
        const m = await send(msg(conv, a, 'x'));
        const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗'];
        expect(emoji).toHaveLength(LIMITS.reactionsPerMessage);
        const batch = await store.changeMessages(emoji.map((e) => react(m, a, e)));
        expect(batch.every((o) => o.kind === 'changed')).toBe(true);
        expect(await changeOne(react(m, a, '🤔'))).toEqual({ kind: 'too_many_reactions' });
        expect(changed(await changeOne(react(m, b, '😀'))).reactions[0]).toEqual({ emoji: '😀', userIds: [a.id, b.id] });
      });

      it('refuse a non-member (not_member), an unknown message (not_found) and a deleted message (deleted)', async () => {
        const [a, b] = [await user('a'), await user('b')];
        const conv = await group([a]);
        const m = await send(msg(conv, a, 'x'));
        expect(await changeOne(react(m, b, '👍'))).toEqual({ kind: 'not_member' });
        expect(await changeOne(react({ id: 'm999999' }, a, '👍'))).toEqual({ kind: 'not_found' });
        expect(await changeOne(react({ id: 'garbage' }, a, '👍'))).toEqual({ kind: 'not_found' });
        changed(await changeOne(react(m, a, '👍')));
        const gone = changed(await changeOne({ kind: 'delete', messageId: m.id, userId: a.id, at: T0 + 4000 }));
        expect(gone.reactions).toEqual([]);
        expect(await changeOne(react(m, a, '🎉'))).toEqual({ kind: 'deleted' });
        expect(await changeOne(react(m, a, '👍', false))).toEqual({ kind: 'deleted' });
      });

      it('many users toggling the same emoji in one batch leave an exact count and gap-free revs', async () => {
        const users = await Promise.all(Array.from({ length: 30 }, (_, i) => user(`u${i}`)));
        const conv = await group(users);
        const m = await send(msg(conv, users[0]!, 'x'));
        // Each adds (two batches at once), then the even ones remove again: 45 changes.
        const adds = users.map((u) => react(m, u, '🔥'));
        const out = (await Promise.all([store.changeMessages(adds.slice(0, 15)), store.changeMessages(adds.slice(15))])).flat();
        out.push(...(await Promise.all([store.changeMessages(users.filter((_, i) => i % 2 === 0).map((u) => react(m, u, '🔥', false)))])).flat());
        const revs = out.map((o) => changed(o).rev).sort((x, y) => x - y);
        expect(revs).toEqual(Array.from({ length: 45 }, (_, i) => m.rev + 1 + i));
        const final = (await store.messageById(m.id))!;
        expect(final.reactions).toEqual([{ emoji: '🔥', userIds: users.filter((_, i) => i % 2 === 1).map((u) => u.id) }]);
        expect(final.rev).toBe(m.rev + 45);
      });
    });
    describe('notification preferences', () => {
      it("are each member's own: all and never muted by default; replaced whole; read with members, the list and quietMembers", async () => {
        const [a, b, c] = [await user('a'), await user('b'), await user('c')];
        const conv = await group([a, b, c]);
        const defaults = { notifyLevel: 'all', mutedUntil: null };
        for (const m of await store.members(conv.id)) expect(m).toMatchObject(defaults);
        expect(await store.quietMembers(conv.id)).toEqual([]);

        expect(await store.setNotifications(conv.id, b.id, 'mentions', T0 + 60_000)).toBe(true);
        expect(await store.setNotifications(conv.id, c.id, 'all', T0 + 5)).toBe(true);
        expect(await store.membership(conv.id, b.id)).toMatchObject({ notifyLevel: 'mentions', mutedUntil: T0 + 60_000 });
        expect(await store.membership(conv.id, a.id)).toMatchObject(defaults);
        const quiet = await store.quietMembers(conv.id);
        expect(quiet.map((m) => [m.userId, m.notifyLevel, m.mutedUntil]).sort()).toEqual(
          [
            [b.id, 'mentions', T0 + 60_000],
            [c.id, 'all', T0 + 5],
          ].sort(),
        );
        const [item] = (await store.listConversations({ userId: b.id, archived: false, limit: 10 })).filter((i) => i.conversation.id === conv.id);
        expect(item!.membership).toMatchObject({ notifyLevel: 'mentions', mutedUntil: T0 + 60_000 });
        expect((await store.membersOf([conv.id])).find((m) => m.userId === c.id)).toMatchObject({ notifyLevel: 'all', mutedUntil: T0 + 5 });

        // Each call replaces both; back to the defaults, the member is no longer quiet.
        expect(await store.setNotifications(conv.id, b.id, 'none', null)).toBe(true);
        expect(await store.membership(conv.id, b.id)).toMatchObject({ notifyLevel: 'none', mutedUntil: null });
        expect(await store.setNotifications(conv.id, c.id, 'all', null)).toBe(true);
        expect((await store.quietMembers(conv.id)).map((m) => m.userId)).toEqual([b.id]);

        const stranger = await user('x');
        expect(await store.setNotifications(conv.id, stranger.id, 'none', null)).toBe(false);
        expect(await store.setNotifications('c999999', a.id, 'none', null)).toBe(false);
        expect(await store.setNotifications('garbage', a.id, 'none', null)).toBe(false);
        expect(await store.quietMembers('garbage')).toEqual([]);
      });
    });
    describe('notification queue', () => {
      const key = (r: UserRecord, c: { id: string }, channel: 'webhook' | 'push' = 'push') => ({ recipientId: r.id, conversationId: c.id, channel });
      it('collapses pushes into one job per recipient and conversation, webhook entries one per message; claims due jobs once per lease; finishing keeps what came meanwhile', async () => {
        const [a, b, c] = [await user('a'), await user('b'), await user('c')];
        const conv = await group([a, b, c]);
        const entry = (r: UserRecord, seq: number, dueAt: number, channel: 'webhook' | 'push' = 'push') => ({ ...key(r, conv, channel), seq, dueAt, direct: false });
        await store.enqueueNotifications([entry(b, 1, T0 + 100), entry(c, 1, T0 + 100), entry(b, 1, T0, 'webhook')]);
        await store.enqueueNotifications([entry(b, 2, T0 + 150), entry(c, 2, T0 + 150), entry(b, 2, T0 + 10, 'webhook'), entry(b, 2, T0 + 10, 'webhook')]);
        await store.enqueueNotifications([entry(b, 3, T0 + 200)]);
        expect(await store.notificationBacklog()).toBe(4); // b's push, c's push, b's webhook for 1 and for 2
        // Webhook jobs one message each, oldest due first; later, a push job with every seq.
        const early = await store.claimNotifications(T0 + 50, 10, 1000);
        expect(early).toMatchObject([
          { ...key(b, conv, 'webhook'), firstSeq: 1, lastSeq: 1, attempts: 0, dueAt: T0, direct: false, claimedUntil: T0 + 1050 },
          { ...key(b, conv, 'webhook'), firstSeq: 2, lastSeq: 2, dueAt: T0 + 10 },
        ]);
        const bHook2 = early[1]!;
        const jobs = await store.claimNotifications(T0 + 100, 10, 1000);
        expect(jobs.map((j) => [j.recipientId, j.channel, j.firstSeq, j.lastSeq]).sort()).toEqual(
          [
            [b.id, 'push', 1, 3],
            [c.id, 'push', 1, 2],
          ].sort(),
        );
        // Claimed: nobody else gets them until the lease ends.
        expect(await store.claimNotifications(T0 + 500, 10, 1000)).toEqual([]);
        const bPush = jobs.find((j) => j.recipientId === b.id)!;
        const cPush = jobs.find((j) => j.recipientId === c.id)!;
        // A message while b's push is being sent extends it; finishing through 3 leaves 4 for later.
        await store.enqueueNotifications([entry(b, 4, T0 + 600)]);
        await store.finishNotification(bPush, 3, T0 + 700);
        await store.finishNotification(cPush, 2, T0 + 700);
        await store.finishNotification(bHook2, 2, T0);
        expect(await store.notificationBacklog()).toBe(2); // b's push (seq 4) and b's first webhook (still claimed)
        expect(await store.claimNotifications(T0 + 650, 10, 1000)).toEqual([]);
        const [rest] = await store.claimNotifications(T0 + 700, 10, 1000);
        expect(rest).toMatchObject({ ...key(b, conv), firstSeq: 4, lastSeq: 4, attempts: 0, dueAt: T0 + 700 });
        // Retry: from a seq, later, one more attempt.
        await store.retryNotification(rest!, 4, T0 + 5000);
        // The webhook job's lease ran out (claimed at T0 + 50 for 1000 ms): it is claimed again; the old claim can no longer finish it.
        const [again] = await store.claimNotifications(T0 + 1100, 10, 1000);
        expect(again).toMatchObject({ channel: 'webhook', firstSeq: 1, claimedUntil: T0 + 2100 });
        await store.finishNotification(early[0]!, 1, T0);
        await store.retryNotification(early[0]!, 1, T0);
        expect(await store.notificationBacklog()).toBe(2);
        await store.finishNotification(again!, 1, T0);
        expect(await store.claimNotifications(T0 + 4999, 10, 1000)).toEqual([]);
        const [retried] = await store.claimNotifications(T0 + 5000, 10, 1000);
        expect(retried).toMatchObject({ firstSeq: 4, lastSeq: 4, attempts: 1 });
        await store.finishNotification(retried!, 4, T0 + 6000);
        expect(await store.notificationBacklog()).toBe(0);
      });

      it('a push job waiting takes in an earlier message that was queued late', async () => {
        const [a, b] = [await user('a'), await user('b')];
        const conv = await group([a, b]);
        await store.enqueueNotifications([{ ...key(b, conv), seq: 7, dueAt: T0, direct: false }]);
        await store.enqueueNotifications([{ ...key(b, conv), seq: 6, dueAt: T0 + 5, direct: false }]);
        expect(await store.claimNotifications(T0, 10, 1000)).toMatchObject([{ firstSeq: 6, lastSeq: 7, dueAt: T0 }]);
      });

      it('serves direct conversations first, keeping a quarter of larger claims for groups; claims at once never take the same job', async () => {
        const users = await Promise.all(Array.from({ length: 12 }, (_, i) => user(`q${i}`)));
        const g = await group(users.slice(0, 9));
        const d = await group(users.slice(9, 11));
        const entries = [
          ...users.slice(1, 9).map((u) => ({ ...key(u, g), seq: 1, dueAt: T0, direct: false })),
          ...users.slice(9, 11).map((u) => ({ ...key(u, d), seq: 1, dueAt: T0 + 10, direct: true })),
        ];
        await store.enqueueNotifications(entries);
        // A claim of one: the direct conversation's, although the groups' are older.
        const [one] = await store.claimNotifications(T0 + 20, 1, 1000);
        expect(one!.direct).toBe(true);
        const four = await store.claimNotifications(T0 + 20, 4, 1000);
        expect(four.filter((j) => j.direct)).toHaveLength(1);
        expect(four.filter((j) => !j.direct)).toHaveLength(3);
        const [x, y] = await Promise.all([store.claimNotifications(T0 + 20, 3, 1000), store.claimNotifications(T0 + 20, 3, 1000)]);
        const ids = [one!, ...four, ...x, ...y].map((j) => j.recipientId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toHaveLength(10);
      });
    });
    describe('push subscriptions and previews', () => {
      const sub = (userId: string, sessionId: string, n: number, at = T0 + n) => ({
        userId,
        sessionId,
        endpoint: `https://push.example/${n}`,
        p256dh: `key-${n}`,
        auth: `auth-${n}`,
        createdAt: at,
      });
      it("keeps a user's subscriptions by endpoint, of sessions still valid; an endpoint moves to whoever subscribes with it last; at most N per user", async () => {
        const [a, b] = [await user('a'), await user('b')];
        const sa = await store.createSession({ userId: a.id, createdAt: T0, expiresAt: T0 + 1_000_000 });
        const sa2 = await store.createSession({ userId: a.id, createdAt: T0, expiresAt: T0 + 1_000_000 });
        const sb = await store.createSession({ userId: b.id, createdAt: T0, expiresAt: T0 + 1_000_000 });
        const first = await store.savePushSubscription(sub(a.id, sa, 1), 3);
        expect(first).toMatchObject({ userId: a.id, sessionId: sa, endpoint: 'https://push.example/1', p256dh: 'key-1', auth: 'auth-1', createdAt: T0 + 1 });
        await store.savePushSubscription(sub(a.id, sa2, 2), 3);
        await store.savePushSubscription(sub(b.id, sb, 3), 3);
        const of = async (ids: string[], now = T0 + 10) => (await store.pushSubscriptionsOf(ids, now)).map((p) => p.endpoint).sort();
        expect(await of([a.id])).toEqual(['https://push.example/1', 'https://push.example/2']);
        expect(await of([a.id, b.id])).toHaveLength(3);
        // The same endpoint again (the browser signed in as b): it is b's now, with the new keys.
        await store.savePushSubscription({ ...sub(b.id, sb, 1), p256dh: 'new-key' }, 3);
        expect(await of([a.id])).toEqual(['https://push.example/2']);
        expect((await store.pushSubscriptionsOf([b.id], T0 + 10)).find((p) => p.endpoint.endsWith('/1'))).toMatchObject({ userId: b.id, p256dh: 'new-key' });
        // At most 3 per user: the oldest go.
        for (const n of [4, 5, 6]) await store.savePushSubscription(sub(a.id, sa, n), 3);
        expect(await of([a.id])).toEqual(['https://push.example/4', 'https://push.example/5', 'https://push.example/6']);
        // A revoked or expired session's subscriptions are not used.
        await store.savePushSubscription(sub(a.id, sa2, 7, T0 + 100), 3);
        await store.revokeSession(sa2, T0 + 20);
        expect(await of([a.id])).toEqual(['https://push.example/5', 'https://push.example/6']);
        expect(await of([a.id], T0 + 2_000_000)).toEqual([]);
        // Deleting: one's own only; forgetting: whoever's.
        expect(await store.deletePushSubscription(b.id, 'https://push.example/5')).toBe(false);
        expect(await store.deletePushSubscription(a.id, 'https://push.example/5')).toBe(true);
        expect(await store.deletePushSubscription(a.id, 'https://push.example/5')).toBe(false);
        expect(await store.forgetPushEndpoint('https://push.example/6')).toBe(true);
        expect(await store.forgetPushEndpoint('https://push.example/6')).toBe(false);
        expect(await of([a.id])).toEqual([]);
        expect(await store.pushSubscriptionsOf(['garbage'], T0)).toEqual([]);
      });

      it('previews are on by default, and a user choice', async () => {
        const a = await user('a');
        expect(a.notificationPreviews).toBe(true);
        expect(await store.setNotificationPreviews(a.id, false)).toMatchObject({ id: a.id, notificationPreviews: false });
        expect((await store.userById(a.id))!.notificationPreviews).toBe(false);
        expect((await store.usersByIds([a.id]))[0]!.notificationPreviews).toBe(false);
        expect(await store.setNotificationPreviews(a.id, true)).toMatchObject({ notificationPreviews: true });
        expect(await store.setNotificationPreviews('u99999999', false)).toBeNull();
      });
    });
  });
}
