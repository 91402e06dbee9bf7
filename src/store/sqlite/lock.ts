import fs from 'node:fs';
import Database from 'better-sqlite3';

/**
 * One Parley process per database: its caches (membership, presence) are only
 * right if no other process writes. The lock is one the kernel keeps for us:
 * an exclusive SQLite lock (an fcntl lock) on a small file beside the
 * database, held for the life of the store. The kernel drops it when the
 * process dies however it dies (SIGKILL, a crash, a container's pid 1
 * killed), so there is no stale lock to judge by a recorded pid, which a
 * container restart gives to the next process too.
 */
export class DatabaseLock {
  private constructor(private readonly holder: Database.Database) {}

  static acquire(dbFile: string): DatabaseLock {
    const file = `${dbFile}.lock`;
    for (let attempt = 0; ; attempt++) {
      let holder: Database.Database | undefined;
      try {
        holder = new Database(file, { timeout: 0 });
        holder.exec('BEGIN EXCLUSIVE');
        return new DatabaseLock(holder);
      } catch (e) {
        holder?.close();
        const code = (e as { code?: string }).code;
        if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
          throw new Error(`${dbFile} is in use by another process: one Parley process per database (its lock ${file} is held).`);
        }
        // A lock file of an older version (a pid in text): not a database; it holds nothing.
        if (code === 'SQLITE_NOTADB' && attempt === 0) {
          fs.rmSync(file, { force: true });
          continue;
        }
        throw e;
      }
    }
  }

  /** Lets go (the file stays: removing it could let two processes lock two different files). */
  release(): void {
    if (!this.holder.open) return;
    this.holder.exec('ROLLBACK');
    this.holder.close();
  }
}
