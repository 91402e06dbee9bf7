import { GroupCommitQueue } from './group-commit.js';
import type { Store } from '../store/store.js';
import type { EventSink } from './events.js';
import { iso } from './views.js';

/**
 * Who is online on this node: a user is online while at least one of their
 * sockets is connected. (Across nodes, the cluster issue shares these counts.)
 */
export class Presence {
  private readonly sockets = new Map<string, number>();

  /** Counts a new socket; true when it is the user's first. */
  connected(userId: string): boolean {
    const n = (this.sockets.get(userId) ?? 0) + 1;
    this.sockets.set(userId, n);
    return n === 1;
  }

  /** Counts a socket gone; true when it was the user's last. */
  disconnected(userId: string): boolean {
    const n = (this.sockets.get(userId) ?? 0) - 1;
    if (n > 0) {
      this.sockets.set(userId, n);
      return false;
    }
    this.sockets.delete(userId);
    return true;
  }

  isOnline(userId: string): boolean {
    return this.sockets.has(userId);
  }
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
  /** Users whose last announcement said online. */
  private readonly announcedOnline = new Set<string>();
  /**
   * Last-seen times are group-committed: a burst of connections (a server
   * restart brings every client back at once) costs one transaction per
   * turn of the event loop, not one fsync per user. Bounded by the number of
   * users with a transition in flight (each user's chain waits for its own).
   */
  private readonly lastSeen: GroupCommitQueue<{ userId: string; at: number }, void>;

  constructor(
    readonly presence: Presence,
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

  connected(userId: string): Promise<void> {
    return this.presence.connected(userId) ? this.transition(userId) : Promise.resolve();
  }

  disconnected(userId: string): Promise<void> {
    return this.presence.disconnected(userId) ? this.transition(userId) : Promise.resolve();
  }

  /** Resolves when every announcement started so far is done. */
  async settled(): Promise<void> {
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
      // changes: a quick connect/disconnect pair announces nothing twice.
      const online = this.presence.isOnline(userId);
      if (online === this.announcedOnline.has(userId)) return;
      if (online) this.announcedOnline.add(userId);
      else this.announcedOnline.delete(userId);
      const contacts = await this.d.store.contactsOf(userId);
      this.d.events.toUsers(contacts, 'presence', { userId, online, lastSeenAt: iso(at) });
    }).catch(this.d.onError);
    this.chains.set(userId, next);
    void next.then(() => {
      if (this.chains.get(userId) === next) this.chains.delete(userId);
    });
    return next;
  }
}
