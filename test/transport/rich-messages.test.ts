import { describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { group, http, register, type Account, type TestSocket } from '../helpers/client.js';
import { useServer } from '../helpers/server.js';
import { expectAckError, expectConversation, expectMessage, expectShape } from '../helpers/shapes.js';

/**
 * Rich messages through the real server (contract v1.1): replies, reactions
 * and mentions, on whichever store the project runs (SQLite, PostgreSQL).
 */

const t = useServer();
const { pool } = t;

const MessageAck = Type.Object({ ok: Type.Literal(true), message: Type.Any() });

async function ok(s: TestSocket, event: string, payload: unknown): Promise<any> {
  const ack = await s.call(event, payload);
  expectShape(MessageAck, ack);
  expectMessage(ack.message);
  return ack.message;
}

const api = (who: Account, method: string, path: string, body?: unknown) => http(t.url, method, path, { token: who.token, body });

async function history(who: Account, cid: string): Promise<any[]> {
  const r = await api(who, 'GET', `/api/conversations/${cid}/messages?limit=100`);
  expect(r.status).toBe(200);
  for (const m of r.body.messages) expectMessage(m);
  return r.body.messages;
}

async function conversation(who: Account, cid: string): Promise<any> {
  const r = await api(who, 'GET', `/api/conversations/${cid}`);
  expect(r.status).toBe(200);
  expectConversation(r.body);
  return r.body;
}

/** Three members of a group, each with a socket. */
async function trio() {
  const [a, b, c] = [await register(t.url, 'ann'), await register(t.url, 'bob'), await register(t.url, 'cy')];
  const cid = (await group(t.url, a, [b, c])).id as string;
  const [sa, sb, sc] = [await pool.connect(a), await pool.connect(b), await pool.connect(c)];
  return { a, b, c, cid, sa, sb, sc };
}

describe('replies', () => {
  it('carry a quote of the target as it is when read: an edit or deletion of the target shows on the reply, which keeps its rev and gets no event', async () => {
    const { a, b, cid, sa, sb } = await trio();
    const target = await sa.send(cid, 'the original words');
    const reply = await ok(sb, 'message:send', { conversationId: cid, content: 'I agree', replyToId: target.id });
    expect(reply.replyTo).toEqual({ id: target.id, seq: target.seq, senderId: a.user.id, preview: 'the original words', deleted: false });
    const [heard] = await sa.waitFor('message:new', (p) => p.message.id === reply.id);
    expect(heard.message.replyTo).toEqual(reply.replyTo);

    await ok(sa, 'message:edit', { messageId: target.id, content: 'better words' });
    expect((await history(b, cid)).find((m) => m.id === reply.id)).toMatchObject({ rev: reply.rev, replyTo: { preview: 'better words', deleted: false } });
    await ok(sa, 'message:delete', { messageId: target.id });
    const sync = await sb.ok('sync', { cursors: { [cid]: 0 } });
    const synced = sync.messages.find((m: any) => m.id === reply.id);
    expect(synced).toMatchObject({ rev: reply.rev, replyTo: { id: target.id, preview: '', deleted: true } });
    await sb.barrier();
    expect(sb.all('message:updated', (p) => p.message.id === reply.id)).toEqual([]);
  });

  it('to anything but a message of the same conversation is validation, and nothing is stored; a repeated clientId answers the original first', async () => {
    const { a, cid, sa } = await trio();
    const other = (await group(t.url, a, [], 'other')).id as string;
    const elsewhere = await sa.send(other, 'elsewhere');
    const original = await ok(sa, 'message:send', { conversationId: cid, content: 'first', clientId: 'k-1' });
    for (const replyToId of [elsewhere.id, 'm99999999', '', 42, null, { id: original.id }, [original.id], true]) {
      expectAckError(await sa.call('message:send', { conversationId: cid, content: 'x', replyToId }), 'validation');
    }
    expect((await conversation(a, cid)).lastSeq).toBe(1);
    const repeat = await ok(sa, 'message:send', { conversationId: cid, content: 'again', clientId: 'k-1', replyToId: 42 });
    expect(repeat).toEqual(original);
    // a reply to a deleted message is fine
    await ok(sa, 'message:delete', { messageId: original.id });
    const late = await ok(sa, 'message:send', { conversationId: cid, content: 'about that', replyToId: original.id });
    expect(late.replyTo).toMatchObject({ id: original.id, deleted: true, preview: '' });
  });
});

describe('reactions', () => {
  it('add and remove: the ack has the message, the others hear message:updated with the next rev, sync brings it; no editedAt, not unread', async () => {
    const { a, b, c, cid, sa, sb, sc } = await trio();
    const m = await sa.send(cid, 'react to me');
    const before = await conversation(c, cid);
    const added = await ok(sb, 'reaction:add', { messageId: m.id, emoji: '👍🏽' });
    expect(added).toMatchObject({ rev: m.rev + 1, editedAt: null, content: 'react to me', reactions: [{ emoji: '👍🏽', count: 1, userIds: [b.user.id] }] });
    for (const s of [sa, sc]) {
      const [e] = await s.waitFor('message:updated', (p) => p.message.id === m.id && p.message.rev === added.rev);
      expect(e.message).toEqual({ ...added, status: e.message.status });
    }
    const hearts = await ok(sc, 'reaction:add', { messageId: m.id, emoji: '❤️' });
    const both = await ok(sa, 'reaction:add', { messageId: m.id, emoji: '👍🏽' });
    expect(both.reactions).toEqual([
      { emoji: '👍🏽', count: 2, userIds: [b.user.id, a.user.id] },
      { emoji: '❤️', count: 1, userIds: [c.user.id] },
    ]);
    expect(both.rev).toBe(hearts.rev + 1);
    const removed = await ok(sb, 'reaction:remove', { messageId: m.id, emoji: '👍🏽' });
    expect(removed.reactions).toEqual([
      { emoji: '👍🏽', count: 1, userIds: [a.user.id] },
      { emoji: '❤️', count: 1, userIds: [c.user.id] },
    ]);
    // sync from the message's own rev brings it in its latest state
    const sync = await sc.ok('sync', { cursors: { [cid]: m.rev } });
    expect(sync.messages.map((x: any) => [x.id, x.rev])).toEqual([[m.id, removed.rev]]);
    expect(sync.messages[0].reactions).toEqual(removed.reactions);
    const after = await conversation(c, cid);
    expect(after).toMatchObject({ unreadCount: before.unreadCount, lastSeq: before.lastSeq, lastRev: removed.rev });
    // the acting socket hears nothing of its own reaction
    await sb.barrier();
    expect(sb.all('message:updated', (p) => p.message.rev === added.rev || p.message.rev === removed.rev)).toEqual([]);
  });

  it('100 members toggling the same emoji at once: an exact final count, one rev per change, gap-free, and every member hears each', async () => {
    const owner = await register(t.url, 'own');
    const members: Account[] = [];
    for (let i = 0; i < 99; i++) members.push(await register(t.url, `m${i}`));
    const cid = (await group(t.url, owner, members)).id as string;
    const everyone = [owner, ...members];
    const sockets = await Promise.all(everyone.map((who) => pool.connect(who)));
    const m = await sockets[0]!.send(cid, 'vote 🎉');
    // Everyone adds at once; then the odd ones remove and add again while the even ones remove: 100 + 50 + 50 + 50 changes.
    const adds = await Promise.all(sockets.map((s) => ok(s, 'reaction:add', { messageId: m.id, emoji: '🎉' })));
    const toggles = await Promise.all(
      sockets.map(async (s, i) => {
        const out = [await ok(s, 'reaction:remove', { messageId: m.id, emoji: '🎉' })];
        if (i % 2 === 1) out.push(await ok(s, 'reaction:add', { messageId: m.id, emoji: '🎉' }));
        return out;
      }),
    );
    const changes = [...adds, ...toggles.flat()];
    expect(changes).toHaveLength(250);
    // One rev per change, each taken once, with no gap: m.rev + 1 .. m.rev + 250.
    expect(changes.map((x) => x.rev).sort((p, q) => p - q)).toEqual(Array.from({ length: 250 }, (_, i) => m.rev + 1 + i));
    const last = changes.reduce((p, q) => (q.rev > p.rev ? q : p));
    const odd = everyone.filter((_, i) => i % 2 === 1).map((who) => who.user.id);
    expect(last.reactions).toHaveLength(1);
    expect(last.reactions[0]).toMatchObject({ emoji: '🎉', count: 50 });
    expect([...last.reactions[0].userIds].sort()).toEqual([...odd].sort());
    const [read] = (await history(owner, cid)).filter((x) => x.id === m.id);
    expect(read.reactions).toEqual(last.reactions);
    expect((await conversation(owner, cid)).lastRev).toBe(m.rev + 250);
    // Every member hears each change but their own, the last in its final state.
    const observer = sockets[10]!;
    await observer.waitFor('message:updated', (p) => p.message.id === m.id && p.message.rev === last.rev);
    await observer.barrier();
    expect(observer.all('message:updated', (p) => p.message.id === m.id)).toHaveLength(250 - 2);
  }, 60_000);

  it('are idempotent: adding one you have, or removing one you have not, answers the message unchanged and announces nothing', async () => {
    const { b, cid, sa, sb, sc } = await trio();
    const m = await sa.send(cid, 'x');
    const r = await ok(sb, 'reaction:add', { messageId: m.id, emoji: '🇫🇷' });
    await sc.waitFor('message:updated', (p) => p.message.rev === r.rev);
    const again = await ok(sb, 'reaction:add', { messageId: m.id, emoji: '🇫🇷' });
    const none = await ok(sb, 'reaction:remove', { messageId: m.id, emoji: '🎉' });
    expect([again.rev, none.rev]).toEqual([r.rev, r.rev]);
    expect(again.reactions).toEqual([{ emoji: '🇫🇷', count: 1, userIds: [b.user.id] }]);
    await sc.barrier();
    expect(sc.all('message:updated', (p) => p.message.id === m.id)).toHaveLength(1);
  });

  it('refuse what is not one emoji, a 21st emoji and a deleted message (validation), a non-member (forbidden), an unknown message (not_found)', async () => {
    const { cid, sa, sb } = await trio();
    const m = await sa.send(cid, 'x');
    const zwjOver32 = ['👨', '👩', '👧', '👦', '👨', '👩'].join('\u200d');
    for (const emoji of ['a', ':+1:', '👍👍', '🇫🇷🇩🇪', ' 👍', '', zwjOver32, 7, null, ['👍']]) {
      expectAckError(await sb.call('reaction:add', { messageId: m.id, emoji }), 'validation');
    }
    for (const emoji of ['👍', '👨‍👩‍👧‍👦', '❤']) await ok(sb, 'reaction:add', { messageId: m.id, emoji });
    const more = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙'];
    for (const emoji of more) await ok(sa, 'reaction:add', { messageId: m.id, emoji });
    expectAckError(await sa.call('reaction:add', { messageId: m.id, emoji: '🤔' }), 'validation');
    expect((await ok(sa, 'reaction:add', { messageId: m.id, emoji: '👍' })).reactions[0].count).toBe(2);

    const stranger = await register(t.url, 'zed');
    const sz = await pool.connect(stranger);
    expectAckError(await sz.call('reaction:add', { messageId: m.id, emoji: '👍' }), 'forbidden');
    expectAckError(await sa.call('reaction:add', { messageId: 'm99999999', emoji: '👍' }), 'not_found');
    const gone = await ok(sa, 'message:delete', { messageId: m.id });
    expect(gone).toMatchObject({ reactions: [], mentions: [], replyTo: null, attachments: [] });
    expectAckError(await sb.call('reaction:add', { messageId: m.id, emoji: '🎉' }), 'validation');
    expectAckError(await sb.call('reaction:remove', { messageId: m.id, emoji: '👍' }), 'validation');
  });
});

describe('mentions', () => {
  it("are the current members named by @username (ASCII case ignored), each once, in order of first mention; resolved again at an edit; the mentioned member's unreadMentions counts them", async () => {
    const { a, b, c, cid, sa, sb } = await trio();
    const stranger = await register(t.url, 'zed');
    const bob = b.user.username as string;
    const cy = c.user.username as string;
    const m = await ok(sa, 'message:send', {
      conversationId: cid,
      content: `@${cy.toUpperCase()}, ask (@${bob}) and @${bob}. not @${bob}x nor mail@${bob} nor @${stranger.user.username}`,
    });
    expect(m.mentions).toEqual([c.user.id, b.user.id]);
    const [heard] = await sb.waitFor('message:new', (p) => p.message.id === m.id);
    expect(heard.message.mentions).toEqual(m.mentions);
    await sa.send(cid, 'nothing here');
    expect(await conversation(b, cid)).toMatchObject({ unreadCount: 2, unreadMentions: 1 });
    expect(await conversation(a, cid)).toMatchObject({ unreadMentions: 0 });

    const edited = await ok(sa, 'message:edit', { messageId: m.id, content: `only @${bob}-` });
    expect(edited.mentions).toEqual([b.user.id]);
    expect(await conversation(c, cid)).toMatchObject({ unreadMentions: 0 });
    const list = await api(b, 'GET', '/api/conversations');
    expect(list.body.conversations.find((x: any) => x.id === cid)).toMatchObject({ unreadMentions: 1 });
    await sb.ok('message:read', { conversationId: cid, seq: edited.seq });
    expect(await conversation(b, cid)).toMatchObject({ unreadMentions: 0 });
    const deleted = await ok(sa, 'message:delete', { messageId: m.id });
    expect(deleted.mentions).toEqual([]);
  });
});
