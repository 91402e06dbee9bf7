/**
 * The local-disk blobs: the contract (blob-contract.ts) on a temp directory
 * of each test's own, then what only files show: the layout, and the
 * temporary files of a crashed run removed at open.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDiskBlobs } from '../../src/blobs/local-disk.js';
import { runBlobContract } from './blob-contract.js';

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'parley-blobs-'));

/** Every file under dir (not directories), relative to it. */
const filesUnder = (dir: string) =>
  fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();

runBlobContract('local disk', async () => {
  const dir = tempDir();
  // A directory that does not exist yet: open creates it.
  const blobs = await LocalDiskBlobs.open(path.join(dir, 'attachments'));
  return {
    blobs,
    stored: async () => filesUnder(blobs.dir),
    cleanup: async () => {
      await blobs.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('LocalDiskBlobs', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('removes the temporary files of a crashed run at open, and nothing else', async () => {
    const first = await LocalDiskBlobs.open(dir);
    const k = randomUUID();
    await first.put(k, [Buffer.from('kept')], 100);
    fs.writeFileSync(path.join(dir, `.tmp-${randomUUID()}`), 'half an upload');
    fs.writeFileSync(path.join(dir, `.tmp-${randomUUID()}`), '');
    await first.close();

    const second = await LocalDiskBlobs.open(dir);
    expect(filesUnder(dir)).toEqual([path.join(k.slice(0, 2), k)]);
    const got = await second.get(k);
    expect(got?.size).toBe(4);
    got?.stream.resume();
    await second.close();
  });

  it('keeps each blob under a directory named by the first two characters of its key', async () => {
    const blobs = await LocalDiskBlobs.open(dir);
    const k = randomUUID();
    await blobs.put(k, [Buffer.from('a')], 10);
    await blobs.put(`${k}-thumb`, [Buffer.from('b')], 10);
    expect(filesUnder(dir)).toEqual([path.join(k.slice(0, 2), k), path.join(k.slice(0, 2), `${k}-thumb`)]);
  });

  it('a blob being read survives its delete for that reader only', async () => {
    const blobs = await LocalDiskBlobs.open(dir);
    const k = randomUUID();
    await blobs.put(k, [Buffer.alloc(100_000, 7)], 100_000);
    const got = await blobs.get(k);
    await blobs.delete([k]);
    expect(await blobs.get(k)).toBeNull();
    let n = 0;
    for await (const piece of got!.stream as AsyncIterable<Buffer>) n += piece.length;
    expect(n).toBe(100_000);
  });
});
