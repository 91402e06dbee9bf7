/**
 * Blobs in PostgreSQL (the table blob_chunks, created by the store's
 * migrations), so that with several nodes any node serves any file and
 * backups hold the files with the messages that name them. A blob is rows of
 * 256 KiB: an upload is inserted chunk by chunk in one transaction (a failed
 * or too large one rolls back and leaves no rows), and a read fetches one
 * chunk at a time as the reader takes them, so no file is ever in memory
 * whole on either side.
 *
 * An upload holds a connection and an open transaction for as long as the
 * client takes to send it: give PostgresBlobs a pool of its own (open()), so
 * slow uploads cannot starve the store of connections.
 */
import { Readable } from 'node:stream';
import type pg from 'pg';
import { CommitUnknown, createPool, query, transaction, type PoolOptions } from '../store/postgres/database.js';
import { BlobTooLarge, bytesOf, checkBlobKey, type BlobSource, type BlobStorage } from './blob-storage.js';

/** Bytes per row: a read is one row per round trip, a row is a few TOAST pages. */
export const CHUNK_BYTES = 256 * 1024;

export class PostgresBlobs implements BlobStorage {
  /** Over `pool`; close() ends it only if `ownsPool`. */
  constructor(
    readonly pool: pg.Pool,
    private readonly ownsPool = false,
  ) {}

  /** Over a pool of its own, which close() ends. */
  static open(o: PoolOptions): PostgresBlobs {
    return new PostgresBlobs(createPool(o), true);
  }

  async put(key: string, source: BlobSource, maxBytes: number): Promise<{ size: number }> {
    checkBlobKey(key);
    try {
      // One try: the source cannot be read a second time.
      return await transaction(this.pool, (c) => insertChunks(c, key, source, maxBytes), { attempts: 1 });
    } catch (err) {
      // The rows may have been committed: remove them, so a rejected put leaves nothing (best effort).
      if (err instanceof CommitUnknown) await query(this.pool, 'DELETE FROM blob_chunks WHERE key = $1', [key]).catch(() => {});
      if ((err as { code?: string }).code === '23505') throw new Error(`blob key in use: ${key}`);
      throw err;
    }
  }

  async get(key: string): Promise<{ size: number; stream: NodeJS.ReadableStream } | null> {
    checkBlobKey(key);
    // octet_length of a bytea reads its TOAST header, not its bytes.
    const { rows } = await query<{ chunks: number; size: string | number | null }>(
      this.pool,
      'SELECT count(*)::int AS chunks, sum(octet_length(data)) AS size FROM blob_chunks WHERE key = $1',
      [key],
    );
    const row = rows[0];
    if (!row || row.chunks === 0) return null;
    const size = Number(row.size);
    return { size, stream: this.chunkStream(key, size) };
  }

  /** Fetches chunk n only when the reader wants more: at most a chunk or two is buffered. */
  private chunkStream(key: string, size: number): Readable {
    const pool = this.pool;
    let n = 0;
    let sent = 0;
    return new Readable({
      async read() {
        try {
          if (sent >= size) return void this.push(null);
          const { rows } = await query<{ data: Buffer }>(pool, 'SELECT data FROM blob_chunks WHERE key = $1 AND n = $2', [key, n]);
          const data = rows[0]?.data;
          // Deleted while it was read: an error, not a short file that looks whole.
          if (!data || data.length === 0) throw new Error(`blob ${key} was deleted while it was read`);
          n++;
          sent += data.length;
          this.push(data);
        } catch (err) {
          this.destroy(err as Error);
        }
      },
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    keys.forEach(checkBlobKey);
    if (keys.length === 0) return;
    await query(this.pool, 'DELETE FROM blob_chunks WHERE key = ANY($1::text[])', [keys]);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

/**
 * Re-chunks the source into rows of CHUNK_BYTES, inserting each as it fills.
 * An empty blob is one empty row: a blob exists when it has rows.
 */
async function insertChunks(c: pg.PoolClient, key: string, source: BlobSource, maxBytes: number): Promise<{ size: number }> {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let fill = 0;
  let n = 0;
  let size = 0;
  const flush = async () => {
    // The buffer is reused only after the server has answered, so pg is done with it.
    await c.query('INSERT INTO blob_chunks (key, n, data) VALUES ($1, $2, $3)', [key, n, buf.subarray(0, fill)]);
    n++;
    fill = 0;
  };
  for await (const chunk of bytesOf(source)) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new BlobTooLarge(maxBytes);
    for (let at = 0; at < chunk.byteLength; ) {
      const take = Math.min(chunk.byteLength - at, CHUNK_BYTES - fill);
      buf.set(chunk.subarray(at, at + take), fill);
      fill += take;
      at += take;
      if (fill === CHUNK_BYTES) await flush();
    }
  }
  if (fill > 0 || n === 0) await flush();
  return { size };
}
