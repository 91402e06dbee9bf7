/**
 * Issue #16: live events of a conversation can arrive out of `rev` order (an
 * edit's `message:updated` waits for the search index while a later
 * `message:new` goes out at once). A client that moved its sync cursor to the
 * highest rev seen, and disconnected in that window, never synced the edit
 * or the deletion and kept showing the erased text. Against a real server,
 * with the edit's answer held after its commit as the index wait holds it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ParleyClient } from '../../src/client/index.js';
import type { Store } from '../../src/store/store.js';
import { direct, register } from '../helpers/client.js';
import { useServer } from '../helpers/server.js';
import { clientUntil } from '../helpers/client-library.js';

const t = useServer();
const clients: ParleyClient[] = [];
const restores: (() => void)[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.stop();
  for (const r of restores.splice(0)) r();
});


/**
 * Holds every edit and deletion after its commit, before it is answered and
 * announced: the window in which the store waits for the search index.
 */
function holdChanges(store: Store): { committed: Promise<void>; release: () => void } {
  const original = store.changeMessages;
  let committed!: () => void;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const done = new Promise<void>((resolve) => (committed = resolve));
  store.changeMessages = async (batch) => {
    const outcomes = await original.call(store, batch);
    committed();
    await gate;
    return outcomes;
  };
  restores.push(() => {
    release();
    store.changeMessages = original;
  });
  return { committed: done, release };
}

type ClientSocket = { connect(): void; disconnect(): void };
const socketOf = (client: ParleyClient) => (client as unknown as { socket: ClientSocket }).socket;

describe('the sync cursor (issue #16)', () => {
  it.each([
    ['an edit', 'edit', { messageId: '', content: 'first, corrected' }, { content: 'first, corrected', deletedAt: null }],
    ['a deletion', 'delete', { messageId: '' }, { content: '', deletedAt: expect.any(String) }],
  ] as const)('%s announced after a later message:new is synced after a disconnect in between', async (_, kind, payload, expected) => {
    const alice = await register(t.url, 'a');
    const bobAccount = await register(t.url, 'b');
    const conv = await direct(t.url, alice, bobAccount);
    const bob = new ParleyClient({ baseUrl: t.url, token: bobAccount.token, ackTimeoutMs: 5000 });
    clients.push(bob);
    await bob.start();
    await clientUntil(bob, () => bob.connection === 'online', 'bob online');
    const content = (seq: number) => bob.messages.timeline(conv.id).messages.find((m) => m.seq === seq);

    const sa = await t.pool.connect(alice);
    const first = await sa.send(conv.id, 'first'); // rev 1
    await clientUntil(bob, () => content(1)?.content === 'first', 'message:new of rev 1 at bob');

    // The change commits (rev 2) and is held before its message:updated goes out.
    const held = holdChanges(t.server.app.store);
    const answered = sa.ok(`message:${kind}`, { ...payload, messageId: first.id });
    await held.committed;
    const second = await sa.send(conv.id, 'second'); // rev 3, announced at once
    expect(second.rev).toBe(3);
    await clientUntil(bob, () => content(2)?.content === 'second', 'message:new of rev 3 at bob');

    // Bob drops off in the window; the change is announced while he is away.
    socketOf(bob).disconnect();
    await clientUntil(bob, () => bob.connection === 'reconnecting', 'bob disconnected');
    held.release();
    expect((await answered).message).toMatchObject({ rev: 2, ...expected });
    expect(content(1)).toMatchObject({ rev: 1, content: 'first' }); // missed live

    const states: string[] = [];
    bob.subscribe(() => states.push(bob.connection));
    socketOf(bob).connect();
    await clientUntil(bob, () => states.includes('syncing') && bob.connection === 'online', 'the catch-up');
    expect(content(1)).toMatchObject({ id: first.id, rev: 2, ...expected });
    expect(content(2)).toMatchObject({ rev: 3, content: 'second' });
  });
});
