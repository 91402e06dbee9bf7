/**
 * Where the bytes of attachments (uploaded files, their thumbnails) live. One
 * interface, two implementations chosen in the composition root: local disk
 * beside the SQLite database (local-disk.ts), and PostgreSQL itself when the
 * store is PostgreSQL (postgres-blobs.ts), so that any node serves any file.
 * Files are streamed both ways: an upload of 25 MiB is never in memory whole.
 */

/** An upload's stream, or pieces already in memory (a thumbnail: `[buffer]`). */
export type BlobSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | NodeJS.ReadableStream;

export interface BlobStorage {
  /**
   * Stores the bytes of `source` under `key`, durably before it resolves, and
   * resolves with their count. `key` must be fresh: a key already in use
   * rejects (the blob stored under it stays). Over `maxBytes` it rejects with
   * BlobTooLarge as soon as the limit is passed (the rest of the source is not
   * read). Whenever it rejects (too large, the source failing, the storage
   * failing) nothing is left behind.
   */
  put(key: string, source: BlobSource, maxBytes: number): Promise<{ size: number }>;
  /**
   * The bytes as a stream (never the whole file in memory), or null if there
   * is no such blob. Read the stream to its end or destroy it: it holds a
   * file descriptor until then.
   */
  get(key: string): Promise<{ size: number; stream: NodeJS.ReadableStream } | null>;
  /** Removes them (unknown keys are fine): once it resolves they cannot be read again. */
  delete(keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export class BlobTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`the file is larger than ${maxBytes} bytes`);
    this.name = 'BlobTooLarge';
  }
}

/**
 * Keys are made by the caller (e.g. randomUUID(), `${uuid}-thumb`). Lower case
 * letters, digits and dashes only: a key is a file name on disk, so nothing
 * can name a path outside the directory, and a name with a dot (a temporary
 * file) is never a key.
 */
export const isBlobKey = (k: string): boolean => /^[a-z0-9][a-z0-9-]{7,100}$/.test(k);

/** Every method refuses a key that is not one: a bug in the caller, never a user's mistake. */
export function checkBlobKey(k: string): void {
  if (!isBlobKey(k)) throw new Error(`not a blob key: ${JSON.stringify(k.slice(0, 120))}`);
}

/** A source's chunks as bytes (a stream with an encoding set gives strings). */
export async function* bytesOf(source: BlobSource): AsyncGenerator<Uint8Array> {
  for await (const chunk of source as AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>) {
    yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  }
}
