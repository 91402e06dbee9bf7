import { describe, expect, it } from 'vitest';
import type { EventSink } from './events.js';
import { Presence, PresenceService } from './presence.js';

function setup() {
  const announced: { userId: string; online: boolean; to: string[] }[] = [];
  const lastSeen: [string, number][] = [];
  const commits: number[] = [];
  let clock = 1000;
  const events = {
    toUsers: (users: Iterable<string>, _e: string, p: { userId: string; online: boolean }) => announced.push({ userId: p.userId, online: p.online, to: [...users] }),
  } as unknown as EventSink;
  const service = new PresenceService(new Presence(), {
    store: {
      setLastSeen: async (entries: readonly { userId: string; at: number }[]) => {
        commits.push(entries.length);
        lastSeen.push(...entries.map((e): [string, number] => [e.userId, e.at]));
      },
      contactsOf: async () => ['u2', 'u3'],
    },
    events,
    now: () => clock++,
    onError: (e) => {
      throw e;
    },
  });
  return { service, announced, lastSeen, commits };
}

describe('PresenceService', () => {
  it('announces the first socket and the last one, to the contacts, and nothing in between', async () => {
    const { service, announced } = setup();
    await service.connected('u1');
    await service.connected('u1');
    await service.disconnected('u1');
    expect(announced).toEqual([{ userId: 'u1', online: true, to: ['u2', 'u3'] }]);
    await service.disconnected('u1');
    expect(announced.map((a) => a.online)).toEqual([true, false]);
    expect(await service.presence.onlineAmong(['u1'])).toEqual(new Set());
  });

  it('never announces the same state twice in a row, however quick the comings and goings', async () => {
    const { service, announced, lastSeen } = setup();
    const pending = [];
    for (let i = 0; i < 5; i++) {
      pending.push(service.connected('u1'), service.disconnected('u1'));
    }
    pending.push(service.connected('u1'));
    await Promise.all(pending);
    await service.settled();
    const states = announced.map((a) => a.online);
    states.forEach((s, i) => expect(s).toBe(i % 2 === 0)); // true, false, true...
    expect(states.at(-1)).toBe(true);
    // and every transition stored a last-seen time, announced or not
    expect(lastSeen).toHaveLength(11);
  });

  it('stores the last-seen times of a burst of connections in one commit, each user before their announcement', async () => {
    const { service, announced, lastSeen, commits } = setup();
    const users = Array.from({ length: 300 }, (_, i) => `u${i + 10}`);
    await Promise.all(users.map((u) => service.connected(u)));
    expect(commits).toEqual([300]);
    expect(new Set(lastSeen.map(([u]) => u))).toEqual(new Set(users));
    expect(announced).toHaveLength(300);
  });
});
