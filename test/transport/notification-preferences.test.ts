import { describe, expect, it } from 'vitest';
import { group, http, register, type Account } from '../helpers/client.js';
import { useServer } from '../helpers/server.js';
import { expectConversation } from '../helpers/shapes.js';

/**
 * Notification preferences through the real server (contract v1.1): each
 * member's own, in their Conversation, told to their other devices only.
 * (What they do to notifications: webhook.test.ts.)
 */

const t = useServer();
const { pool } = t;

const put = (who: Account, cid: string, body: unknown) => http(t.url, 'PUT', `/api/conversations/${cid}/notifications`, { token: who.token, body });
const get = async (who: Account, cid: string) => {
  const r = await http(t.url, 'GET', `/api/conversations/${cid}`, { token: who.token });
  expect(r.status).toBe(200);
  expectConversation(r.body);
  return r.body;
};

describe('notification preferences', () => {
  it("are all and unmuted by default; a PUT replaces both and answers the caller's Conversation; the list and sync carry them", async () => {
    const [a, b] = [await register(t.url, 'npa'), await register(t.url, 'npb')];
    const cid = (await group(t.url, a, [b])).id as string;
    expect((await get(a, cid)).notifications).toEqual({ level: 'all', mutedUntil: null });

    const r = await put(a, cid, { level: 'mentions', mutedUntil: '2099-01-02T05:04:05+02:00' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expectConversation(r.body);
    expect(r.body.notifications).toEqual({ level: 'mentions', mutedUntil: '2099-01-02T03:04:05.000Z' });
    expect((await get(a, cid)).notifications).toEqual(r.body.notifications);
    const list = await http(t.url, 'GET', '/api/conversations', { token: a.token });
    expect(list.body.conversations.find((c: { id: string }) => c.id === cid).notifications).toEqual(r.body.notifications);

    // mutedUntil left out means null; a past time is given back as it is.
    expect((await put(a, cid, { level: 'none' })).body.notifications).toEqual({ level: 'none', mutedUntil: null });
    expect((await put(a, cid, { level: 'all', mutedUntil: '2001-01-01T00:00:00Z' })).body.notifications).toEqual({
      level: 'all',
      mutedUntil: '2001-01-01T00:00:00.000Z',
    });
    const s = await pool.connect(a);
    const sync = await s.ok('sync', { cursors: {} });
    expect(sync.conversations.find((c: { id: string }) => c.id === cid).notifications).toEqual({ level: 'all', mutedUntil: '2001-01-01T00:00:00.000Z' });
  });

  it("are the caller's own: the other member sees the defaults and hears nothing; the caller's other sockets hear conversation:updated", async () => {
    const [a, b] = [await register(t.url, 'npc'), await register(t.url, 'npd')];
    const cid = (await group(t.url, a, [b])).id as string;
    const [a1, a2, b1] = [await pool.connect(a), await pool.connect(a), await pool.connect(b)];
    const r = await put(a, cid, { level: 'mentions', mutedUntil: null });
    expect(r.status).toBe(200);
    for (const s of [a1, a2]) {
      const [e] = await s.waitFor('conversation:updated', (p) => p.conversation.id === cid && p.conversation.notifications.level === 'mentions');
      expectConversation(e.conversation);
    }
    await b1.barrier();
    expect(b1.all('conversation:updated', (p) => p.conversation.id === cid)).toEqual([]);
    expect((await get(b, cid)).notifications).toEqual({ level: 'all', mutedUntil: null });
  });

  it('refuses anything else (validation), a non-member (403) and an unknown conversation (404)', async () => {
    const [a, b, x] = [await register(t.url, 'npe'), await register(t.url, 'npf'), await register(t.url, 'npx')];
    const cid = (await group(t.url, a, [b])).id as string;
    for (const body of [
      {},
      { level: 'some' },
      { level: 'ALL' },
      { level: null },
      { level: 'all', mutedUntil: '2099-01-01T00:00:00' },
      { level: 'all', mutedUntil: '2099-02-30T00:00:00Z' },
      { level: 'all', mutedUntil: 'tomorrow' },
      { level: 'all', mutedUntil: 4102444800000 },
      { level: 'all', mutedUntil: '' },
      [],
      'all',
    ]) {
      const r = await put(a, cid, body);
      expect([r.status, r.body.error?.code], JSON.stringify(body)).toEqual([400, 'validation']);
    }
    expect((await get(a, cid)).notifications).toEqual({ level: 'all', mutedUntil: null });
    expect((await put(x, cid, { level: 'none' })).status).toBe(403);
    expect((await put(a, 'c99999999', { level: 'none' })).status).toBe(404);
  });
});
