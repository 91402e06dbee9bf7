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
