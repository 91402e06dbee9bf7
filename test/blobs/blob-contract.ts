import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobTooLarge, isBlobKey, type BlobStorage } from '../../src/blobs/blob-storage.js';

/**
 * What every BlobStorage must do (the interface's documentation in
 * src/blobs/blob-storage.ts): bytes back as they went in, whatever the
 * pieces the source gives; the size limit; and that a put that fails leaves
 * nothing behind, which each implementation shows through `stored()`.
 */
export interface BlobsUnderTest {
  blobs: BlobStorage;
  /** Everything the storage holds (local: every file under its directory, temporary ones too; PostgreSQL: the keys that have rows). */
  stored: () => Promise<string[]>;
  cleanup: () => Promise<void>;
}

/** The PostgreSQL implementation's row size: the boundaries worth testing on both. */
const CHUNK = 256 * 1024;
const MiB = 1024 * 1024;

const key = () => randomUUID();

/** The bytes as a source in pieces of the given sizes, cycled (the last piece may be shorter). */
async function* inPieces(bytes: Buffer, sizes: readonly number[] = [64 * 1024]): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length] as number;
    yield new Uint8Array(bytes.subarray(at, at + size));
    at += size;
  }
}

/** Yields `before` bytes, then fails as a client that went away would. */
async function* failingAfter(before: number): AsyncGenerator<Uint8Array> {
  yield* inPieces(randomBytes(before));
  throw new Error('connection reset by the client');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<{ bytes: Buffer; largestPiece: number }> {
  const pieces: Buffer[] = [];
  for await (const piece of stream as AsyncIterable<Buffer>) pieces.push(piece);
  return { bytes: Buffer.concat(pieces), largestPiece: Math.max(0, ...pieces.map((p) => p.length)) };
}

export function runBlobContract(name: string, factory: () => Promise<BlobsUnderTest>): void {
  describe(`BlobStorage contract: ${name}`, () => {
    let blobs: BlobStorage;
    let stored: () => Promise<string[]>;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ blobs, stored, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    /** The stored size, its stream destroyed unread (it holds a file descriptor until then). */
    async function sizeOf(k: string): Promise<number | undefined> {
      const got = await blobs.get(k);
      (got?.stream as Readable | undefined)?.destroy();
      return got?.size;
    }

    async function roundTrip(bytes: Buffer, sizes?: readonly number[]): Promise<void> {
      const k = key();
      expect(await blobs.put(k, inPieces(bytes, sizes), bytes.length)).toEqual({ size: bytes.length });
      const got = await blobs.get(k);
      expect(got?.size).toBe(bytes.length);
      const back = await readAll(got!.stream);
      expect(back.bytes.length).toBe(bytes.length);
      expect(back.bytes.equals(bytes)).toBe(true);
    }

    it('gives back an empty blob (an empty one exists: it is not "no such blob")', async () => {
      await roundTrip(Buffer.alloc(0));
      // A source that yields nothing and one that yields empty pieces are the same.
      const k = key();
      expect(await blobs.put(k, [new Uint8Array(0), new Uint8Array(0)], 0)).toEqual({ size: 0 });
      expect(await sizeOf(k)).toBe(0);
    });

    it.each([1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1])('gives back %i bytes at and around the 256 KiB boundaries', async (n) => {
      await roundTrip(randomBytes(n));
    });

    it('gives back a few MiB of random bytes, whatever the pieces the source gives', async () => {
      const bytes = randomBytes(3 * MiB + 17);
      await roundTrip(bytes); // 64 KiB pieces
      await roundTrip(bytes, [1, 1000, 7 * 1024, CHUNK + 3, 100_000]);
      await roundTrip(bytes, [bytes.length]); // the whole file in one piece
    });

    it('takes a Node stream as the source, string pieces too', async () => {
      const bytes = randomBytes(CHUNK + 5000);
      const k = key();
      expect(await blobs.put(k, Readable.from(inPieces(bytes, [10_000])), MiB)).toEqual({ size: bytes.length });
      expect((await readAll((await blobs.get(k))!.stream)).bytes.equals(bytes)).toBe(true);

      const text = 'héllo wörld '.repeat(50_000);
      const t = key();
      const put = await blobs.put(t, Readable.from(text.match(/.{1,4096}/gs)!), MiB);
      expect(put.size).toBe(Buffer.byteLength(text));
      expect((await readAll((await blobs.get(t))!.stream)).bytes.toString()).toBe(text);
    });

    it('streams a read in pieces, never the whole file at once', async () => {
      const bytes = randomBytes(3 * MiB);
      const k = key();
      await blobs.put(k, inPieces(bytes), bytes.length);
      const { largestPiece } = await readAll((await blobs.get(k))!.stream);
      expect(largestPiece).toBeLessThanOrEqual(CHUNK);
    });

    it('answers null for a key never stored', async () => {
      expect(await blobs.get(key())).toBeNull();
    });

    it('takes exactly maxBytes, and rejects maxBytes + 1 with BlobTooLarge, leaving nothing', async () => {
      for (const max of [0, 1000, 2 * CHUNK]) {
        const ok = key();
        expect(await blobs.put(ok, inPieces(randomBytes(max)), max)).toEqual({ size: max });
        expect(await sizeOf(ok)).toBe(max);
        await blobs.delete([ok]);

        const tooBig = key();
        await expect(blobs.put(tooBig, inPieces(randomBytes(max + 1)), max)).rejects.toBeInstanceOf(BlobTooLarge);
        expect(await blobs.get(tooBig)).toBeNull();
        expect(await stored()).toEqual([]);
      }
    });

    it('stops reading a source that is too large at the limit', async () => {
      let produced = 0;
      async function* endless(): AsyncGenerator<Uint8Array> {
        for (;;) {
          produced += 64 * 1024;
          yield new Uint8Array(64 * 1024);
        }
      }
      await expect(blobs.put(key(), endless(), 3 * CHUNK)).rejects.toBeInstanceOf(BlobTooLarge);
      expect(produced).toBeLessThanOrEqual(3 * CHUNK + 64 * 1024);
      expect(await stored()).toEqual([]);
    });

    it('leaves nothing when the source fails half-way (before, at and after a 256 KiB row)', async () => {
      for (const before of [0, 1000, CHUNK, 3 * CHUNK + 7]) {
        const k = key();
        await expect(blobs.put(k, failingAfter(before), 10 * MiB)).rejects.toThrow('connection reset by the client');
        expect(await blobs.get(k)).toBeNull();
      }
      // The same for a Node stream destroyed with an error.
      const k = key();
      const stream = new Readable({ read() {} });
      stream.push(randomBytes(CHUNK + 1));
      setTimeout(() => stream.destroy(new Error('aborted')), 20);
      await expect(blobs.put(k, stream, 10 * MiB)).rejects.toThrow('aborted');
      expect(await blobs.get(k)).toBeNull();
      expect(await stored()).toEqual([]);
    });

    it('refuses a key in use, keeping the blob stored under it', async () => {
      const k = key();
      const first = randomBytes(1000);
      await blobs.put(k, inPieces(first), MiB);
      await expect(blobs.put(k, inPieces(randomBytes(CHUNK + 1)), MiB)).rejects.toThrow(/in use/);
      expect((await readAll((await blobs.get(k))!.stream)).bytes.equals(first)).toBe(true);
      expect(await stored()).toHaveLength(1);
    });

    it('deletes: a deleted blob cannot be read; unknown keys and none at all are fine', async () => {
      const [a, b, c] = [key(), `${key()}-thumb`, key()];
      for (const k of [a, b, c]) await blobs.put(k, inPieces(randomBytes(CHUNK + 10)), MiB);
      await blobs.delete([a, b, key()]);
      expect(await blobs.get(a)).toBeNull();
      expect(await blobs.get(b)).toBeNull();
      expect(await sizeOf(c)).toBe(CHUNK + 10);
      await blobs.delete([a, b]); // again
      await blobs.delete([]);
      await blobs.delete([c]);
      expect(await blobs.get(c)).toBeNull();
      expect(await stored()).toEqual([]);
    });

    it('keeps uploads that run at the same time apart', async () => {
      const files = Array.from({ length: 6 }, (_, i) => ({ k: key(), bytes: randomBytes(i * 100_000 + 1) }));
      await Promise.all(files.map((f) => blobs.put(f.k, inPieces(f.bytes, [33_333]), MiB)));
      for (const f of files) expect((await readAll((await blobs.get(f.k))!.stream)).bytes.equals(f.bytes)).toBe(true);
    });

    it('refuses keys that are not keys, in every method, so none can name a path', async () => {
      const bad = ['../x', '../../../../etc/passwd', 'a/b', 'abcdefgh/../../x', '', 'ABCDEFGHIJ', 'Abcdefghij', '.tmp-abcdefgh', 'short'];
      bad.push(`-${'a'.repeat(10)}`, 'a'.repeat(102));
      for (const k of bad) {
        expect(isBlobKey(k), k).toBe(false);
        await expect(blobs.put(k, inPieces(Buffer.from('x')), MiB), k).rejects.toThrow(/not a blob key/);
        await expect(blobs.get(k), k).rejects.toThrow(/not a blob key/);
        await expect(blobs.delete([key(), k]), k).rejects.toThrow(/not a blob key/);
      }
      expect(await stored()).toEqual([]);
      for (const k of [randomUUID(), `${randomUUID()}-thumb`, 'a'.repeat(101), '0abcdefg']) expect(isBlobKey(k), k).toBe(true);
    });
  });
}
