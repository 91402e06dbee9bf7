/**
 * The PostgreSQL blobs: the contract (blob-contract.ts) on a fresh database
 * of this file's own, then what only the table shows: rows of 256 KiB, and a
 * read that fetches them one at a time as the reader takes them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHUNK_BYTES, PostgresBlobs } from '../../src/blobs/postgres-blobs.js';
import { createDatabase, postgresOrSkip } from '../helpers/services.js';
import { runBlobContract } from './blob-contract.js';

const adminUrl = postgresOrSkip();

// The table as the store's migrations create it (version 5).
const DDL = `
  CREATE TABLE IF NOT EXISTS blob_chunks (
    key  text    NOT NULL,
    n    integer NOT NULL,
    data bytea   NOT NULL,
    PRIMARY KEY (key, n)
  )`;

describe.skipIf(!adminUrl)('PostgreSQL blobs', () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  beforeAll(async () => {
    db = await createDatabase(adminUrl as string);
    const blobs = PostgresBlobs.open({ connectionString: db.url, max: 2, onError: () => {} });
    await blobs.pool.query(DDL);
    await blobs.close();
  });
  afterAll(() => db?.drop());

  async function open(): Promise<PostgresBlobs> {
    return PostgresBlobs.open({ connectionString: db.url, max: 4, onError: () => {} });
  }
  const keys = async (b: PostgresBlobs) => (await b.pool.query<{ key: string }>('SELECT DISTINCT key FROM blob_chunks ORDER BY key')).rows.map((r) => r.key);

  runBlobContract('PostgreSQL', async () => {
    const blobs = await open();
    return {
      blobs,
      stored: () => keys(blobs),
      cleanup: async () => {
        await blobs.pool.query('TRUNCATE blob_chunks');
        await blobs.close();
      },
    };
  });

  describe('rows', () => {
    let blobs: PostgresBlobs;
    afterEach(async () => {
      await blobs.pool.query('TRUNCATE blob_chunks');
      await blobs.close();
    });

    it('stores a blob as rows of 256 KiB numbered from 0, the last one shorter; an empty blob as one empty row', async () => {
      blobs = await open();
      const k = randomUUID();
      await blobs.put(k, [randomBytes(1000), randomBytes(3 * CHUNK_BYTES)], 4 * CHUNK_BYTES);
      const empty = randomUUID();
      await blobs.put(empty, [], 0);
      const rows = async (key: string) =>
        (await blobs.pool.query<{ n: number; len: number }>('SELECT n, octet_length(data) AS len FROM blob_chunks WHERE key = $1 ORDER BY n', [key])).rows;
      expect(await rows(k)).toEqual([0, 1, 2, 3].map((n) => ({ n, len: n < 3 ? CHUNK_BYTES : 1000 })));
      expect(await rows(empty)).toEqual([{ n: 0, len: 0 }]);
    });

    it('a read fetches a row only when the reader wants more', async () => {
      blobs = await open();
      const k = randomUUID();
      await blobs.put(k, [randomBytes(12 * CHUNK_BYTES)], 12 * CHUNK_BYTES);
      const spy = vi.spyOn(blobs.pool, 'query');
      const got = await blobs.get(k);
      const stream = got!.stream as AsyncIterable<Buffer> & NodeJS.ReadableStream;
      const iterator = stream[Symbol.asyncIterator]();
      expect(((await iterator.next()).value as Buffer).length).toBe(CHUNK_BYTES);
      await new Promise((r) => setTimeout(r, 50));
      const fetched = spy.mock.calls.filter(([sql]) => String(sql).startsWith('SELECT data')).length;
      expect(fetched).toBeGreaterThanOrEqual(1);
      expect(fetched).toBeLessThanOrEqual(3);
      await iterator.return?.();
      spy.mockRestore();
    });

    it('a read of a blob deleted under it fails instead of ending short', async () => {
      blobs = await open();
      const k = randomUUID();
      await blobs.put(k, [randomBytes(6 * CHUNK_BYTES)], 6 * CHUNK_BYTES);
      const got = await blobs.get(k);
      const stream = got!.stream as AsyncIterable<Buffer> & NodeJS.ReadableStream;
      const iterator = stream[Symbol.asyncIterator]();
      await iterator.next();
      await blobs.delete([k]);
      await expect((async () => {
        for (;;) if ((await iterator.next()).done) return;
      })()).rejects.toThrow(/deleted while it was read/);
    });

    it('over a pool it was given, close() leaves the pool open', async () => {
      blobs = await open();
      const borrowed = new PostgresBlobs(blobs.pool);
      await borrowed.close();
      expect((await blobs.pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });
});
