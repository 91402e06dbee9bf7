import { describe, expect, it } from 'vitest';
import type { Store, UserRecord } from '../store/store.js';
import { AccountService } from './accounts.js';
import type { EventSink } from './events.js';
import { hashPassword } from './passwords.js';
import type { PresenceRegistry } from './presence.js';
import { MemoryBuckets, parseRateLimits, RateLimits } from './rate-limits.js';
import { TokenService } from './tokens.js';

const COST = 1024;

/**
 * A login is checked against the hash it read, which takes a while; a
 * password change may commit meanwhile. The store here plays that change
 * at the worst moments, deterministically.
 */
describe('login racing a password change', () => {
  async function setup(changeAt: 'before-session' | 'after-session') {
    const oldHash = await hashPassword('old password', COST);
    const newHash = await hashPassword('new password', COST);
    const user: UserRecord = { id: 'u1', username: 'alice', displayName: 'Alice', passwordHash: oldHash, createdAt: 0, lastSeenAt: null, notificationPreviews: true };
    const sessions = new Map<string, { revoked: boolean }>();
    let n = 0;
    // The change: the new hash, and every session but the changer's revoked, in one step (as both stores do it in one transaction).
    const change = () => {
      user.passwordHash = newHash;
      for (const [id, s] of sessions) if (id !== 'changer') s.revoked = true;
    };
    sessions.set('changer', { revoked: false });
    const store = {
      userByUsername: async (name: string) => (name === user.username ? { ...user, passwordHash: oldHash } : null),
      userById: async () => ({ ...user }),
      createSession: async () => {
        if (changeAt === 'before-session') change();
        const id = `s${++n}`;
        sessions.set(id, { revoked: false });
        if (changeAt === 'after-session') change();
        return id;
      },
      revokeSession: async (id: string) => {
        const s = sessions.get(id);
        if (s) s.revoked = true;
        return !!s;
      },
    } as unknown as Store;
    const presence = { onlineAmong: async () => new Set<string>() } as unknown as PresenceRegistry;
    const events = { disconnectSessions: () => undefined } as unknown as EventSink;
    const limits = new RateLimits(parseRateLimits('off'), new MemoryBuckets(), () => 0);
    const accounts = new AccountService({ store, tokens: new TokenService('x'.repeat(32), 3600), presence, events, limits, scryptCost: COST, now: () => 0 });
    return { accounts, sessions };
  }

  it('a change committed while the old password was checked: the login fails and leaves no live session', async () => {
    const { accounts, sessions } = await setup('before-session');
    await expect(accounts.login({ username: 'alice', password: 'old password' })).rejects.toMatchObject({ code: 'unauthorized' });
    expect([...sessions].filter(([id, s]) => id !== 'changer' && !s.revoked)).toEqual([]);
  });

  it('a change committed after the session was made revokes it (the login may answer, its token is dead)', async () => {
    const { accounts, sessions } = await setup('after-session');
    await accounts.login({ username: 'alice', password: 'old password' }).catch(() => undefined);
    expect([...sessions].filter(([id, s]) => id !== 'changer' && !s.revoked)).toEqual([]);
  });
});
