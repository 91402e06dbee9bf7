import { describe, expect, it } from 'vitest';
import type { MembershipCache } from './membership.js';
import type { SearchHit, SearchQuery, Store } from '../store/store.js';
import { DomainError } from './errors.js';
import { SEARCHES_WAITING_PER_USER, SearchService } from './search.js';

/** A store whose searches answer only when the test says so, in any order. */
function setup() {
  const calls: { q: SearchQuery; answer: (hits: SearchHit[]) => void; fail: (e: unknown) => void }[] = [];
  const store = {
    search: (q: SearchQuery) => new Promise<SearchHit[]>((answer, fail) => calls.push({ q, answer, fail })),
    members: async () => [],
  } as unknown as Store;
  const membership = { get: async () => null } as unknown as MembershipCache;
  return { service: new SearchService({ store, membership }), calls };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise((r) => setImmediate(r));

describe('SearchService: one search at a time per user', () => {
  it("runs a user's searches one after another, in order; other users are not held up", async () => {
    const { service, calls } = setup();
    const first = service.search('u1', 'one', { limit: 10 });
    const second = service.search('u1', 'two', { limit: 10 });
    const other = service.search('u2', 'three', { limit: 10 });
    await settle();
    // u1's second waits for its first; u2's runs at once
    expect(calls.map((c) => [c.q.userId, c.q.terms])).toEqual([
      ['u1', ['one']],
      ['u2', ['three']],
    ]);
    calls[0]!.answer([]);
    await expect(first).resolves.toEqual({ results: [] });
    await settle();
    expect(calls.map((c) => c.q.terms)).toEqual([['one'], ['three'], ['two']]);
    calls[2]!.answer([]);
    calls[1]!.answer([]);
    await expect(second).resolves.toEqual({ results: [] });
    await expect(other).resolves.toEqual({ results: [] });
  });

  it(`lets ${SEARCHES_WAITING_PER_USER} more wait, and refuses the next with rate_limited (retryAfter) without asking the store`, async () => {
    const { service, calls } = setup();
    const running = service.search('u1', 'q0', { limit: 10 });
    const waiting = Array.from({ length: SEARCHES_WAITING_PER_USER }, (_, i) => service.search('u1', `q${i + 1}`, { limit: 10 }));
    const refused = await service.search('u1', 'too many', { limit: 10 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).code).toBe('rate_limited');
    expect((refused as DomainError).data).toEqual({ retryAfter: expect.any(Number) });
    await settle();
    expect(calls).toHaveLength(1);
    // Each answer lets the next one run; then there is room again.
    for (let i = 0; i <= SEARCHES_WAITING_PER_USER; i++) {
      calls[i]!.answer([]);
      await settle();
    }
    await Promise.all([running, ...waiting]);
    expect(calls.map((c) => c.q.terms[0])).toEqual(['q0', 'q1', 'q2', 'q3', 'q4']);
    const again = service.search('u1', 'again', { limit: 10 });
    await settle();
    calls[calls.length - 1]!.answer([]);
    await expect(again).resolves.toEqual({ results: [] });
  });

  it('a failed search ends its turn too (the next one runs), and its error reaches the caller', async () => {
    const { service, calls } = setup();
    const failing = service.search('u1', 'boom', { limit: 10 });
    const next = service.search('u1', 'after', { limit: 10 });
    await settle();
    calls[0]!.fail(new Error('reader crashed'));
    await expect(failing).rejects.toThrow('reader crashed');
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]!.answer([]);
    await expect(next).resolves.toEqual({ results: [] });
  });

  it('a query with no terms takes no turn', async () => {
    const { service, calls } = setup();
    const running = service.search('u1', 'x', { limit: 10 });
    const waiting = Array.from({ length: SEARCHES_WAITING_PER_USER }, () => service.search('u1', 'y', { limit: 10 }));
    await expect(service.search('u1', '   ', { limit: 10 })).resolves.toEqual({ results: [] });
    await settle();
    for (let i = 0; i <= SEARCHES_WAITING_PER_USER; i++) {
      calls[i]!.answer([]);
      await settle();
    }
    await Promise.all([running, ...waiting]);
  });
});
