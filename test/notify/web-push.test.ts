import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { topicOf, PUSH_PAYLOAD_MAX, type PushPayload } from '../../src/notify/web-push.js';
import { connect, direct, group, http, register, type Account, type TestSocket } from '../helpers/client.js';
import { PushService, type TestSubscription } from '../helpers/push-service.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * Web Push through the real server (issue #19), to a local push service
 * over TLS with a CA of its own (never the internet, never without
 * certificate checks): it decrypts each payload with the subscription's keys
 * and answers as told. The server's clock is moved past a push's delay
 * rather than waited for: nothing here depends on timing.
 */

const DELAY = 60_000;
let service: PushService;
let server: TestServer;
let offset = 0;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  service = await PushService.start();
  server = await startServer({ pushEndpointHosts: '127.0.0.1', pushDelayMs: DELAY }, { pushAgent: service.agent(), now: () => Date.now() + offset });
});
afterAll(async () => {
  await server?.close();
  await service?.close();
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function open(who: Account): Promise<TestSocket> {
  const s = await connect(server.url, who.token);
  sockets.push(s);
  return s;
}

/** A browser of `who` subscribed with the server's key. */
async function subscribe(who: Account): Promise<TestSubscription> {
  const key = (await http(server.url, 'GET', '/api/push/key', { token: who.token })).body.publicKey as string;
  const sub = service.subscribe({ applicationServerKey: key });
  expect((await http(server.url, 'POST', '/api/push/subscriptions', { token: who.token, body: sub })).status).toBe(201);
  return sub;
}

/** Moves the server's clock past the push delay and lets the queue run dry. */
async function due(): Promise<void> {
  // Every message sent so far is queued first, then the clock moves.
  await server.app.notifier.settled();
  offset += DELAY + 1000;
  await server.app.notifier.poke();
  await server.app.notifier.whenIdle();
}

const pushesTo = (sub: TestSubscription) => service.receivedFor(sub);
const payloadOf = (sub: TestSubscription, i = 0) => pushesTo(sub)[i]!.payload as PushPayload;
const metric = async (outcome: string) => {
  const text = (await http(server.url, 'GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`parley_push_total{outcome="${outcome}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('Web Push', () => {
  it('pushes a message to an offline member: decrypted, with the sender, the text, the conversation, a topic, urgency and TTL', async () => {
    const [alice, bob] = [await register(server.url, 'wpa'), await register(server.url, 'wpb')];
    const d = await direct(server.url, alice, bob);
    const sub = await subscribe(bob);
    const sa = await open(alice);
    const m = await sa.send(d.id, 'Lunch at noon?');
    await due();
    expect(pushesTo(sub)).toHaveLength(1);
    const [push] = pushesTo(sub);
    expect(push!.payload).toEqual({
      type: 'message',
      conversationId: d.id,
      title: alice.username,
      body: 'Lunch at noon?',
      tag: `conversation:${d.id}`,
      url: `/messages/?c=${d.id}`,
      count: 1,
      mentioned: false,
      messageId: m.id,
      seq: m.seq,
    });
    expect(push!.headers.ttl).toBe('86400');
    expect(push!.headers.urgency).toBe('high');
    expect(push!.headers.topic).toBe(topicOf(d.id));
    expect(push!.vapid.subject).toMatch(/^mailto:|^https:/);
  });

  it('pushes nothing to a member with a socket connected; nothing to the sender', async () => {
    const [alice, bob] = [await register(server.url, 'wca'), await register(server.url, 'wcb')];
    const d = await direct(server.url, alice, bob);
    const [subA, subB] = [await subscribe(alice), await subscribe(bob)];
    await open(bob);
    const sa = await open(alice);
    await sa.send(d.id, 'you are here');
    await due();
    expect(pushesTo(subB)).toEqual([]);
    expect(pushesTo(subA)).toEqual([]);
  });

  it('collapses: three messages in the delay are one push, "3 new messages", with the latest text; a group shows its title and the sender', async () => {
    const [alice, bob, carol] = [await register(server.url, 'wga'), await register(server.url, 'wgb'), await register(server.url, 'wgc')];
    const g = await group(server.url, alice, [bob, carol], 'Design');
    const sub = await subscribe(bob);
    const sa = await open(alice);
    for (const text of ['one', 'two', 'three']) await sa.send(g.id, text);
    await due();
    expect(pushesTo(sub)).toHaveLength(1);
    expect(payloadOf(sub)).toMatchObject({ title: 'Design', body: `3 new messages · ${alice.username}: three`, count: 3 });
    expect(pushesTo(sub)[0]!.headers.urgency).toBe('normal');
  });

  it('builds the push when it is sent: an edit shows its new text; a deleted message is not pushed at all', async () => {
    const [alice, bob] = [await register(server.url, 'wea'), await register(server.url, 'web')];
    const d = await direct(server.url, alice, bob);
    const sub = await subscribe(bob);
    const sa = await open(alice);
    const m = await sa.send(d.id, 'draft with a tpyo');
    await sa.ok('message:edit', { messageId: m.id, content: 'fixed text' });
    await due();
    expect(payloadOf(sub).body).toBe('fixed text');
    const gone = await sa.send(d.id, 'oops, wrong chat');
    await sa.ok('message:delete', { messageId: gone.id });
    await due();
    expect(pushesTo(sub)).toHaveLength(1);
  });

  it('a message read on another device before the push is due is not pushed', async () => {
    const [alice, bob] = [await register(server.url, 'wra'), await register(server.url, 'wrb')];
    const d = await direct(server.url, alice, bob);
    const sub = await subscribe(bob);
    const sa = await open(alice);
    const m = await sa.send(d.id, 'read me elsewhere');
    // bob's phone: connects, reads, goes away
    const phone = await connect(server.url, bob.token);
    await phone.ok('message:read', { conversationId: d.id, seq: m.seq });
    phone.close();
    await expect
      .poll(async () => (await http(server.url, 'GET', `/api/conversations/${d.id}`, { token: alice.token })).body.members.find((u: { id: string }) => u.id === bob.id).online)
      .toBe(false);
    const cancelled = await metric('cancelled');
    await due();
    expect(pushesTo(sub)).toEqual([]);
    expect(await metric('cancelled')).toBe(cancelled + 1);
  });

  it('respects preferences: a mute lets only mentions through; mentions-only hears only mentions; none hears nothing', async () => {
    const alice = await register(server.url, 'wpa');
    const [muted, monly, none] = [await register(server.url, 'wpm'), await register(server.url, 'wpo'), await register(server.url, 'wpn')];
    const g = await group(server.url, alice, [muted, monly, none], 'Prefs');
    const put = (who: Account, body: unknown) => http(server.url, 'PUT', `/api/conversations/${g.id}/notifications`, { token: who.token, body });
    expect((await put(muted, { level: 'all', mutedUntil: new Date(Date.now() + 10 * 24 * 3_600_000).toISOString() })).status).toBe(200);
    expect((await put(monly, { level: 'mentions' })).status).toBe(200);
    expect((await put(none, { level: 'none' })).status).toBe(200);
    const subs = new Map([muted, monly, none].map((u) => [u.id, undefined as TestSubscription | undefined]));
    for (const u of [muted, monly, none]) subs.set(u.id, await subscribe(u));
    const sa = await open(alice);
    await sa.send(g.id, 'nobody hears this');
    await due();
    for (const u of [muted, monly, none]) expect(pushesTo(subs.get(u.id)!), u.username).toEqual([]);
    await sa.send(g.id, `@${muted.username} @${monly.username} @${none.username} look`);
    await due();
    expect(payloadOf(subs.get(muted.id)!)).toMatchObject({ mentioned: true, count: 1 });
    expect(payloadOf(subs.get(monly.id)!)).toMatchObject({ mentioned: true });
    expect(pushesTo(subs.get(none.id)!)).toEqual([]);
  });

  it('a push counts only the messages the member is due to hear of: with mentions only, a plain message between two mentions is not among them', async () => {
    const [alice, bob] = [await register(server.url, 'wma'), await register(server.url, 'wmb')];
    const g = await group(server.url, alice, [bob], 'Mentions');
    expect((await http(server.url, 'PUT', `/api/conversations/${g.id}/notifications`, { token: bob.token, body: { level: 'mentions' } })).status).toBe(200);
    const sub = await subscribe(bob);
    const sa = await open(alice);
    await sa.send(g.id, `@${bob.username} first`);
    await sa.send(g.id, 'between, for everyone else');
    await sa.send(g.id, `@${bob.username} second`);
    await due();
    expect(payloadOf(sub)).toMatchObject({ count: 2, mentioned: true, body: `2 new messages · ${alice.username}: @${bob.username} second` });
  });

  it('without previews: no text, only that there are messages', async () => {
    const [alice, bob] = [await register(server.url, 'wna'), await register(server.url, 'wnb')];
    const d = await direct(server.url, alice, bob);
    const sub = await subscribe(bob);
    expect((await http(server.url, 'PUT', '/api/users/me/notifications', { token: bob.token, body: { previews: false } })).status).toBe(200);
    const sa = await open(alice);
    await sa.send(d.id, 'a secret');
    await sa.send(d.id, 'another secret');
    await due();
    expect(payloadOf(sub)).toMatchObject({ body: '2 new messages', count: 2 });
    expect(JSON.stringify(pushesTo(sub)[0]!.payload)).not.toContain('secret');
  });

  it('a 410 or 404 from the push service forgets that subscription; the others still get theirs', async () => {
    const [alice, bob] = [await register(server.url, 'wxa'), await register(server.url, 'wxb')];
    const d = await direct(server.url, alice, bob);
    const [gone, lost, kept] = [await subscribe(bob), await subscribe(bob), await subscribe(bob)];
    service.answerFor(gone, 410);
    service.answerFor(lost, 404);
    const sa = await open(alice);
    await sa.send(d.id, 'hello devices');
    await due();
    expect(pushesTo(kept)).toHaveLength(1);
    expect((await server.app.store.pushSubscriptionsOf([bob.id], Date.now())).map((s) => s.endpoint)).toEqual([kept.endpoint]);
    await sa.send(d.id, 'again');
    await due();
    expect(pushesTo(gone)).toHaveLength(1);
    expect(pushesTo(lost)).toHaveLength(1);
    expect(pushesTo(kept)).toHaveLength(2);
  });

  it('retries a push the service could not take (5xx), from the queue, until it is delivered', async () => {
    const [alice, bob] = [await register(server.url, 'wya'), await register(server.url, 'wyb')];
    const d = await direct(server.url, alice, bob);
    const sub = await subscribe(bob);
    service.answers.push(503);
    const sa = await open(alice);
    await sa.send(d.id, 'try again');
    const retried = await metric('retried');
    await server.app.notifier.settled();
    offset += DELAY + 1000;
    await server.app.notifier.poke();
    await expect.poll(() => metric('retried')).toBe(retried + 1);
    // the retry waits its backoff (about a second) in the queue
    offset += 120_000;
    await server.app.notifier.poke();
    await server.app.notifier.whenIdle();
    expect(pushesTo(sub).map((p) => p.status)).toEqual([503, 201]);
  });

  it('a long message and title: the payload stays within what a push can carry (3,993 bytes; the text is cut to 140 characters)', async () => {
    const [alice, bob] = [await register(server.url, 'wla'), await register(server.url, 'wlb')];
    const g = await group(server.url, alice, [bob], '🎉'.repeat(50));
    const sub = await subscribe(bob);
    const sa = await open(alice);
    await sa.send(g.id, '𝄞'.repeat(4000));
    await due();
    const push = pushesTo(sub)[0]!;
    expect(push.status).toBe(201);
    expect(push.raw.length).toBeLessThanOrEqual(PUSH_PAYLOAD_MAX);
  });
});
