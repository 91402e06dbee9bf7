import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EventSink } from './events.js';
import type { MembershipCache } from './membership.js';
import { LOOKUPS_PER_USER, TYPING_MIN_GAP_MS, TYPING_TIMEOUT_MS, TypingService } from './typing.js';

function setup() {
  const sent: { conversationId: string; payload: unknown; exceptUser?: string }[] = [];
  const events = {
    toUsers: () => undefined,
    toConversation: (conversationId: string, _e: string, payload: unknown, exceptUser?: string) => sent.push({ conversationId, payload, exceptUser }),
    unsubscribe: () => undefined,
  } as unknown as EventSink;
  const membership = {
    cached: (id: string) => id === 'c1' || id === 'c2',
    get: async (id: string) => (id === 'c1' || id === 'c2' ? { id, type: 'group', ownerId: 'u1', members: new Set(['u1', 'u2']) } : null),
  } as unknown as MembershipCache;
  return { typing: new TypingService({ membership, events }), sent };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('TypingService', () => {
  it('stops by itself 5 s after the last true, by default', async () => {
    expect(TYPING_TIMEOUT_MS).toBe(5000);
    const { typing, sent } = setup();
    await typing.set('u1', 's1', 'c1', true);
    vi.advanceTimersByTime(500);
    await typing.set('u1', 's1', 'c1', true); // restarts the 5 s, not said again within a second
    vi.advanceTimersByTime(2500);
    await typing.set('u1', 's1', 'c1', true); // restarts the 5 s, and said again
    vi.advanceTimersByTime(4999);
    expect(sent.map((e) => (e.payload as { isTyping: boolean }).isTyping)).toEqual([true, true]);
    vi.advanceTimersByTime(1);
    expect(sent.at(-1)).toEqual({ conversationId: 'c1', payload: { conversationId: 'c1', userId: 'u1', isTyping: false }, exceptUser: 'u1' });
    vi.advanceTimersByTime(60_000);
    expect(sent).toHaveLength(3);
  });

  it('an explicit false cancels the automatic one', async () => {
    const { typing, sent } = setup();
    await typing.set('u1', 's1', 'c1', true);
    await typing.set('u1', 's1', 'c1', false);
    vi.advanceTimersByTime(60_000);
    expect(sent.map((e) => (e.payload as { isTyping: boolean }).isTyping)).toEqual([true, false]);
  });

  it("stops everything a socket typed when it closes, and nothing of other sockets'", async () => {
    const { typing, sent } = setup();
    await typing.set('u1', 's1', 'c1', true);
    await typing.set('u1', 's1', 'c2', true);
    await typing.set('u2', 's2', 'c1', true);
    typing.socketClosed('s1');
    expect(sent.slice(3).map((e) => [e.conversationId, (e.payload as { userId: string }).userId, (e.payload as { isTyping: boolean }).isTyping])).toEqual([
      ['c1', 'u1', false],
      ['c2', 'u1', false],
    ]);
    typing.socketClosed('s1');
    expect(sent).toHaveLength(5);
    vi.advanceTimersByTime(5000); // u2's own stop still comes
    expect(sent).toHaveLength(6);
  });

  it('refuses non-members and unknown conversations', async () => {
    const { typing } = setup();
    await expect(typing.set('u9', 's9', 'c1', true)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(typing.set('u1', 's1', 'nope', true)).rejects.toMatchObject({ code: 'not_found' });
  });

  it("bounds the store reads a user's typing can start: past LOOKUPS_PER_USER conversations being looked up, rate_limited; known ones never refused", async () => {
    const { typing } = setup();
    const slow = { cached: (id: string) => id === 'c1', get: (id: string) => (id === 'c1' ? Promise.resolve({ id, type: 'group', ownerId: 'u1', members: new Set(['u1']) }) : new Promise(() => {})) };
    const t = new TypingService({ membership: slow as unknown as MembershipCache, events: (typing as unknown as { d: { events: EventSink } }).d.events });
    for (let i = 0; i < LOOKUPS_PER_USER; i++) void t.set('u1', 's1', `unknown${i}`, true);
    await expect(t.set('u1', 's1', 'unknown-more', true)).rejects.toMatchObject({ code: 'rate_limited' });
    // Another user has a bound of their own; a cached conversation is never refused.
    void t.set('u2', 's2', 'unknown0', true);
    await expect(t.set('u1', 's1', 'c1', true)).resolves.toBeUndefined();
  });

  it('coalesces a flood: repeated true is not relayed again, changes come at most every gap, the last state wins', async () => {
    const { typing, sent } = setup();
    const states = () => sent.map((e) => (e.payload as { isTyping: boolean }).isTyping);
    for (let i = 0; i < 100; i++) await typing.set('u1', 's1', 'c1', true);
    expect(states()).toEqual([true]);
    // 200 flips inside one gap: held back, then one relay of the final state
    for (let i = 0; i < 200; i++) await typing.set('u1', 's1', 'c1', i % 2 === 0 ? false : true);
    expect(states()).toEqual([true]); // ended on true: nothing to say
    await typing.set('u1', 's1', 'c1', false);
    expect(states()).toEqual([true]);
    vi.advanceTimersByTime(TYPING_MIN_GAP_MS);
    expect(states()).toEqual([true, false]);
    // a flood spread over a second: at most one relay per gap
    for (let ms = 0; ms < 1000; ms += 10) {
      await typing.set('u1', 's1', 'c1', (ms / 10) % 2 === 0);
      vi.advanceTimersByTime(10);
    }
    expect(sent.length).toBeLessThanOrEqual(2 + 1000 / TYPING_MIN_GAP_MS + 1);
    await typing.set('u1', 's1', 'c1', false);
    vi.advanceTimersByTime(TYPING_MIN_GAP_MS * 2);
    expect(states().at(-1)).toBe(false);
    // once idle, nothing is kept
    expect(typing.size).toBe(0);
  });
});
