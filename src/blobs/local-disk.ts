/**
 * Blobs as files in one directory (by default `${DATA_DIR}/attachments`), for
 * a single node. An upload is written to a temporary file beside the blobs
 * and only then linked under its key, so a reader never sees half a file
 * and a crash leaves at most a temporary file, removed at the next open.
 * Files and directory entries are fsynced before put resolves: a message
 * that names an attachment is committed after it, and must not outlive it.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BlobTooLarge, bytesOf, checkBlobKey, type BlobSource, type BlobStorage } from './blob-storage.js';

const TEMP_PREFIX = '.tmp-';

export class LocalDiskBlobs implements BlobStorage {
  /** Fan-out directories whose entry in the root is known to be on disk. */
  private readonly durableDirs = new Set<string>();

  private constructor(readonly dir: string) {}

  /** Creates the directory if missing and removes the temporary files of a crashed run. */
  static async open(dir: string): Promise<LocalDiskBlobs> {
    const root = path.resolve(dir);
    await fs.mkdir(root, { recursive: true });
    // One process per data directory (the database lock), so every temporary file here is a dead one's.
    for (const name of await fs.readdir(root)) {
      if (name.startsWith(TEMP_PREFIX)) await fs.rm(path.join(root, name), { force: true });
    }
    return new LocalDiskBlobs(root);
  }

  /**
   * One level of fan-out by the key's first two characters: 256 directories
   * for UUID keys, each a few thousand files per million blobs. A second
   * level would cost up to 65,536 directories (a block each) for nothing.
   * A thumbnail `${uuid}-thumb` lands beside its original.
   */
  private fileOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key);
  }

  async put(key: string, source: BlobSource, maxBytes: number): Promise<{ size: number }> {
    checkBlobKey(key);
    const temp = path.join(this.dir, `${TEMP_PREFIX}${randomUUID()}`);
    const file = this.fileOf(key);
    let linked = false;
    try {
      const size = await writeFully(temp, source, maxBytes);
      await this.ensureDir(path.dirname(file));
      // link, not rename: it fails if the key is in use instead of replacing that blob.
      try {
        await fs.link(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`blob key in use: ${key}`);
        throw err;
      }
      linked = true;
      await fs.rm(temp, { force: true });
      await syncDir(path.dirname(file));
      return { size };
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => {});
      if (linked) await fs.rm(file, { force: true }).catch(() => {});
      throw err;
    }
  }

  async get(key: string): Promise<{ size: number; stream: NodeJS.ReadableStream } | null> {
    checkBlobKey(key);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.fileOf(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // Size and bytes from one open file: a delete in between cannot tear them apart.
    try {
      const { size } = await handle.stat();
      return { size, stream: handle.createReadStream() };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    keys.forEach(checkBlobKey);
    const dirs = new Set<string>();
    for (const key of keys) {
      const file = this.fileOf(key);
      try {
        await fs.unlink(file);
        dirs.add(path.dirname(file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    // A deleted attachment must not come back after a crash.
    for (const d of dirs) await syncDir(d);
  }

  async close(): Promise<void> {
    // Nothing held: each read stream owns its file and closes it.
  }

  /** The fan-out directory exists, and so will it after a crash (the root's entry for it is synced). */
  private async ensureDir(d: string): Promise<void> {
    if (this.durableDirs.has(d)) return;
    await fs.mkdir(d, { recursive: true });
    await syncDir(this.dir);
    this.durableDirs.add(d);
  }
}

/** Writes the source to a new file and syncs it; over maxBytes it stops reading (the caller removes the file). */
async function writeFully(file: string, source: BlobSource, maxBytes: number): Promise<number> {
  const handle = await fs.open(file, 'wx');
  try {
    let size = 0;
    for await (const chunk of bytesOf(source)) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new BlobTooLarge(maxBytes);
      // write() may write less than asked (a full disk, a signal): go on from there.
      for (let at = 0; at < chunk.byteLength; ) at += (await handle.write(chunk, at)).bytesWritten;
    }
    await handle.sync();
    return size;
  } finally {
    await handle.close();
  }
}

async function syncDir(d: string): Promise<void> {
  const handle = await fs.open(d, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
