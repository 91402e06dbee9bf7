import fs from 'node:fs';

/**
 * One Parley process per database: its caches (membership, presence) are only
 * right if no other process writes. A lock file beside the database holds the
 * owner's pid; a lock whose process is gone (a crash, SIGKILL) is taken over.
 */
export class DatabaseLock {
  private constructor(private readonly file: string) {}

  static acquire(dbFile: string): DatabaseLock {
    const file = `${dbFile}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        return new DatabaseLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new Error(
          `${dbFile} is in use by process ${owner}${owner === process.pid ? ' (this one)' : ''}: ` +
            `one Parley process per database. If no such process runs, delete ${file}.`,
        );
      }
      fs.rmSync(file, { force: true }); // stale: its process is gone
    }
    throw new Error(`could not take the lock ${file}`);
  }

  release(): void {
    fs.rmSync(this.file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
