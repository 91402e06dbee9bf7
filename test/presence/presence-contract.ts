import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PresenceRegistry } from '../../src/domain/presence.js';

/**
 * What every PresenceRegistry must do as seen from one node (the interface's
 * documentation in src/domain/presence.ts): counting a user's sockets here,
 * announcing each change once and alternately, and answering who is online.
 * What only a shared registry does (several nodes) is in presence.test.ts.
 */
export interface PresenceUnderTest {
  /** A registry, as one node of a deployment of its own. */
  registry: PresenceRegistry;
  cleanup: () => Promise<void>;
}

export function runPresenceContract(name: string, factory: () => Promise<PresenceUnderTest>): void {
  describe(`PresenceRegistry contract: ${name}`, () => {
    let p: PresenceRegistry;
    let cleanup: () => Promise<void>;
    const user = () => `u${randomBytes(4).toString('hex')}`;

    beforeEach(async () => {
      ({ registry: p, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    it("add answers true for the user's first socket here only; remove true for the last only", async () => {
      const u = user();
      expect(await p.add(u)).toBe(true);
      expect(await p.add(u)).toBe(false);
      expect(await p.add(u)).toBe(false);
      expect(await p.remove(u)).toBe(false);
      expect(await p.remove(u)).toBe(false);
      expect(await p.remove(u)).toBe(true);
      // Counted from zero again.
      expect(await p.add(u)).toBe(true);
      expect(await p.remove(u)).toBe(true);
    });

    it('socketCount answers how many sockets the user has open now, 0 for nobody', async () => {
      const [a, b] = [user(), user()];
      expect(await p.socketCount(a)).toBe(0);
      await p.add(a);
      await p.add(a);
      await p.add(b);
      expect(await p.socketCount(a)).toBe(2);
      expect(await p.socketCount(b)).toBe(1);
      await p.remove(a);
      expect(await p.socketCount(a)).toBe(1);
      await p.remove(a);
      expect(await p.socketCount(a)).toBe(0);
    });

    it('counts each user apart', async () => {
      const [a, b] = [user(), user()];
      expect(await p.add(a)).toBe(true);
      expect(await p.add(b)).toBe(true);
      expect(await p.remove(a)).toBe(true);
      expect(await p.add(b)).toBe(false);
      expect(await p.remove(b)).toBe(false);
      expect(await p.remove(b)).toBe(true);
    });

    it('settle announces each change once, alternating online and offline', async () => {
      const u = user();
      expect(await p.settle(u)).toBeNull(); // never seen: offline, nothing said
      await p.add(u);
      expect(await p.settle(u)).toBe(true);
      expect(await p.settle(u)).toBeNull();
      await p.add(u); // a second socket changes nothing
      expect(await p.settle(u)).toBeNull();
      await p.remove(u);
      expect(await p.settle(u)).toBeNull();
      await p.remove(u);
      expect(await p.settle(u)).toBe(false);
      expect(await p.settle(u)).toBeNull();
      await p.add(u);
      expect(await p.settle(u)).toBe(true);
      await p.remove(u);
      expect(await p.settle(u)).toBe(false);
    });

    it('settles each user apart', async () => {
      const [a, b] = [user(), user()];
      await p.add(a);
      await p.add(b);
      expect(await p.settle(a)).toBe(true);
      await p.remove(b);
      expect(await p.settle(b)).toBeNull(); // b's online was never announced, nor is its offline
      expect(await p.settle(a)).toBeNull();
    });

    it('a quick add/remove pair settles to nothing, either way round', async () => {
      const u = user();
      await p.add(u);
      await p.remove(u);
      expect(await p.settle(u)).toBeNull();
      expect(await p.settle(u)).toBeNull();

      await p.add(u);
      expect(await p.settle(u)).toBe(true);
      // Announced online: a reconnect (last socket gone, a new one come) says nothing.
      await p.remove(u);
      await p.add(u);
      expect(await p.settle(u)).toBeNull();
      await p.remove(u);
      expect(await p.settle(u)).toBe(false);
    });

    it('onlineAmong answers which of the users have a socket now', async () => {
      const [a, b, c] = [user(), user(), user()];
      expect(await p.onlineAmong([])).toEqual(new Set());
      expect(await p.onlineAmong([a, b, c])).toEqual(new Set());
      await p.add(a);
      await p.add(b);
      await p.add(b);
      // Whatever was announced: settle has not been called for b.
      expect(await p.settle(a)).toBe(true);
      expect(await p.onlineAmong([a, b, c])).toEqual(new Set([a, b]));
      expect(await p.onlineAmong(new Set([c, b]))).toEqual(new Set([b]));
      expect(await p.onlineAmong([a, a, c])).toEqual(new Set([a]));
      await p.remove(b);
      expect(await p.onlineAmong([a, b, c])).toEqual(new Set([a, b]));
      await p.remove(b);
      await p.remove(a);
      expect(await p.onlineAmong([a, b, c])).toEqual(new Set());
    });

    it('concurrent adds and removes of one user count exactly', async () => {
      const u = user();
      const added = await Promise.all(Array.from({ length: 20 }, () => p.add(u)));
      expect(added.filter(Boolean)).toHaveLength(1);
      expect(await p.settle(u)).toBe(true);
      const removed = await Promise.all(Array.from({ length: 20 }, () => p.remove(u)));
      expect(removed.filter(Boolean)).toHaveLength(1);
      expect(await p.onlineAmong([u])).toEqual(new Set());
      expect(await p.settle(u)).toBe(false);
    });
  });
}
