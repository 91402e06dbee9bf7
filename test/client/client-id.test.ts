/**
 * The client's message ids (clientId) are UUIDv7: time first, so that one
 * sender's ids sort in time and the server's idempotency index grows at its
 * end instead of taking a random page per send.
 */
import { describe, expect, it } from 'vitest';
import { newClientId } from '../../src/client/parley-client.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('clientId', () => {
  it('is a UUIDv7 carrying the time in milliseconds', () => {
    const now = Date.UTC(2026, 10, 24, 15, 30, 0, 123);
    const id = newClientId(now);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('sorts by time across milliseconds, and is unique within one', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => newClientId(1_800_000_000_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(1000);
    for (let i = 10; i < ids.length; i += 10) expect(ids[i - 10]! < ids[i]!).toBe(true);
  });
});
