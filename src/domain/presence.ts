import { GroupCommitQueue } from './group-commit.js';
import type { Store } from '../store/store.js';
import type { EventSink } from './events.js';
import { iso } from './views.js';

/**
 * Who is online: a user is online while at least one of their sockets is
 * connected, on any node. One process keeps the counts itself (Presence); a
 * cluster shares them (fanout/redis-presence.ts). Either decides, for the
 * whole deployment, which changes are announced, so each is announced once.
 */
export interface PresenceRegistry {
  /** Counts a socket of the user on this node; true when it is the user's first here. */
  add(userId: string): Promise<boolean>;
  /** Counts a socket gone; true when it was the user's last here. */
  remove(userId: string): Promise<boolean>;
  /**
   * Compares whether the user is online now with what was last announced of
   * them, records the difference as announced, and answers it: true (announce
   * online), false (announce offline), or null (nothing to say).
   */
  settle(userId: string): Promise<boolean | null>;
  /** How many sockets the user has open, over every node. */
  socketCount(userId: string): Promise<number>;
  /** Which of these users are online now. */
  onlineAmong(userIds: Iterable<string>): Promise<Set<string>>;
  /** Users whose presence may have changed without a socket event here (a node died): settle them. */
  onOrphans?: (userIds: readonly string[]) => void;
  close(): Promise<void>;
}

/** The registry of one process: counts in memory. */
export class Presence implements PresenceRegistry {
  private readonly sockets = new Map<string, number>();
  /** Users whose last announcement said online. */
  private readonly announcedOnline = new Set<string>();

  async add(userId: string): Promise<boolean> {
    const n = (this.sockets.get(userId) ?? 0) + 1;
    this.sockets.set(userId, n);
    return n === 1;
  }

  async remove(userId: string): Promise<boolean> {
    const n = (this.sockets.get(userId) ?? 0) - 1;
    if (n > 0) {
      this.sockets.set(userId, n);
      return false;
    }
    this.sockets.delete(userId);
    return true;
  }

  async settle(userId: string): Promise<boolean | null> {
    const online = this.sockets.has(userId);
    if (online === this.announcedOnline.has(userId)) return null;
    if (online) this.announcedOnline.add(userId);
    else this.announcedOnline.delete(userId);
    return online;
  }

  async socketCount(userId: string): Promise<number> {
    return this.sockets.get(userId) ?? 0;
  }

  async onlineAmong(userIds: Iterable<string>): Promise<Set<string>> {
    const out = new Set<string>();
    for (const id of userIds) if (this.sockets.has(id)) out.add(id);
    return out;
  }

  isOnline(userId: string): boolean {
    return this.sockets.has(userId);
  }

  async close(): Promise<void> {}
}

/**
 * Announces presence: on a user's first socket and on their last one going,
 * `presence` goes to everyone who shares a conversation with them, and
 * `lastSeenAt` is stored (on connect too: "last seen" is the last moment the
 * user was known to be online). Announcements of one user keep their order
 * and alternate: online, offline, online...
 */
export class PresenceService {
  private readonly chains = new Map<string, Promise<void>>();
  /**
   * Last-seen times are group-committed: a burst of connections (a server
   * restart brings every client back at once) costs one transaction per
   * turn of the event loop, not one fsync per user. Bounded by the number of
   * users with a transition in flight (each user's chain waits for its own).
   */
  private readonly lastSeen: GroupCommitQueue<{ userId: string; at: number }, void>;

  constructor(
    readonly presence: PresenceRegistry,
    private readonly d: {
      store: Pick<Store, 'setLastSeen' | 'contactsOf'>;
      events: EventSink;
      now: () => number;
      onError: (err: unknown) => void;
    },
  ) {
    this.lastSeen = new GroupCommitQueue<{ userId: string; at: number }, void>(
      async (entries) => {
        await d.store.setLastSeen(entries);
        return entries.map((): void => undefined);
      },
      // At most one entry per user (each user's chain waits for its own).
      { maxBatch: 4096, maxPending: 1_000_000, overloaded: () => new Error('too many last-seen times waiting') },
    );
  }

  /** Socket counts being written to the registry (settled() waits for them too). */
  private readonly counting = new Set<Promise<void>>();

  connected(userId: string): Promise<void> {
    return this.count(this.presence.add(userId), userId);
  }

  disconnected(userId: string): Promise<void> {
    return this.count(this.presence.remove(userId), userId);
  }

  /** A socket counted: on the user's first or last here, a transition. */
  private count(counted: Promise<boolean>, userId: string): Promise<void> {
    const done = counted.then(
      (edge) => (edge ? this.transition(userId) : undefined),
      (err: unknown) => this.d.onError(err),
    );
    this.counting.add(done);
    void done.finally(() => this.counting.delete(done));
    return done;
  }

  /** Users whose node went away: each is settled as after their last socket here. */
  orphaned(userIds: readonly string[]): Promise<void> {
    return Promise.all(userIds.map((u) => this.transition(u))).then(() => undefined);
  }

  /** Resolves when every announcement started so far is done. */
  async settled(): Promise<void> {
    await Promise.all(this.counting);
    await Promise.all(this.chains.values());
  }

  /** A first socket came or a last one went: store the time, and announce the change. */
  private transition(userId: string): Promise<void> {
    const at = this.d.now();
    const previous = this.chains.get(userId) ?? Promise.resolve();
    const next = previous.then(async () => {
      // Every transition is the last moment the user was seen, announced or not.
      // A failed write of the time (it shares a transaction with other
      // users') is reported, and the announcement still goes out.
      await this.lastSeen.enqueue({ userId, at }).catch(this.d.onError);
      // Read the state when it is this announcement's turn, and say only
      // changes (the registry keeps what was announced, for every node): a
      // quick connect/disconnect pair announces nothing twice.
      // The contacts are read first, so that nothing waits between deciding
      // and emitting: two nodes settling one user's quick move (offline
      // here, online there) emit in the order they decided.
      const contacts = await this.d.store.contactsOf(userId);
      const online = await this.presence.settle(userId);
      if (online === null) return;
      this.d.events.toUsers(contacts, 'presence', { userId, online, lastSeenAt: iso(at) });
    }).catch(this.d.onError);
    this.chains.set(userId, next);
    void next.then(() => {
      if (this.chains.get(userId) === next) this.chains.delete(userId);
    });
    return next;
  }
}
