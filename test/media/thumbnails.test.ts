import fs from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import { inspectFile } from '../../src/media/inspect.js';
import { MetadataNotStripped, THUMBNAIL_MAX_SIDE, Thumbnailer, type Thumbnail } from '../../src/media/thumbnails.js';
import { HTML, MINIMAL_PDF, SVG, animated, jpeg, jpegOrientation6WithGps, pngBomb, pngWithAlpha, tempDir } from './fixtures.js';

/** What the contract asks of a thumbnail, checked on the decoded bytes rather than on what make() says. */
async function checkThumbnail(thumb: Thumbnail | null, original: { width: number; height: number }) {
  expect(thumb).not.toBeNull();
  const meta = await sharp(thumb!.data).metadata();
  expect(`image/${meta.format}`).toBe(thumb!.mime);
  expect(['image/png', 'image/jpeg', 'image/webp']).toContain(thumb!.mime);
  expect({ width: meta.width, height: meta.height }).toEqual({ width: thumb!.width, height: thumb!.height });
  expect(Math.max(meta.width, meta.height)).toBeLessThanOrEqual(THUMBNAIL_MAX_SIDE);
  expect(meta.width).toBeLessThanOrEqual(original.width);
  expect(meta.height).toBeLessThanOrEqual(original.height);
  // Aspect ratio kept to a pixel: the other side is what scaling the long side gives, ±1.
  if (original.width >= original.height) {
    expect(Math.abs(meta.height - (original.height * meta.width) / original.width)).toBeLessThanOrEqual(1);
  } else {
    expect(Math.abs(meta.width - (original.width * meta.height) / original.height)).toBeLessThanOrEqual(1);
  }
  // Nothing of the original's metadata (EXIF with GPS, XMP) goes out.
  expect(meta.exif).toBeUndefined();
  expect(meta.xmp).toBeUndefined();
  expect(meta.orientation).toBeUndefined();
  return meta;
}

describe('Thumbnailer', () => {
  let files: Awaited<ReturnType<typeof tempDir>>;
  const thumbnailer = new Thumbnailer({});
  beforeAll(async () => {
    files = await tempDir();
  });
  afterAll(() => files.remove());

  it('scales a large PNG with transparency down to 320 on its long side, keeping the alpha', async () => {
    const png = await files.file('wide.png', await pngWithAlpha(1000, 333));
    const meta = await checkThumbnail(await thumbnailer.make(png, 'image/png'), { width: 1000, height: 333 });
    expect(meta.width).toBe(320);
    expect(meta.hasAlpha).toBe(true);
  });

  it('never enlarges: a 100×50 image stays 100×50', async () => {
    const small = await files.file('small.png', await pngWithAlpha(100, 50));
    const meta = await checkThumbnail(await thumbnailer.make(small, 'image/png'), { width: 100, height: 50 });
    expect({ width: meta.width, height: meta.height }).toEqual({ width: 100, height: 50 });
  });

  it('applies EXIF orientation and strips EXIF and GPS', async () => {
    // Stored 400×200 with orientation 6: shown (and thumbnailed) taller than wide.
    const photo = await files.file('o6.jpg', await jpegOrientation6WithGps(400, 200));
    const source = await sharp(photo).metadata();
    expect(source.orientation).toBe(6);
    expect(source.exif?.toString('latin1')).toContain('Acme');
    const meta = await checkThumbnail(await thumbnailer.make(photo, 'image/jpeg'), { width: 200, height: 400 });
    expect(meta.height).toBe(320);
    expect(meta.width).toBe(160);
  });

  it('makes a tall JPEG’s thumbnail 320 high', async () => {
    const tall = await files.file('tall.jpg', await jpeg(300, 900));
    const meta = await checkThumbnail(await thumbnailer.make(tall, 'image/jpeg'), { width: 300, height: 900 });
    expect(meta.height).toBe(320);
  });

  it('thumbnails the first frame of an animated GIF and WebP', async () => {
    for (const format of ['gif', 'webp'] as const) {
      const anim = await files.file(`anim.${format}`, await animated(format, 640, 400));
      expect((await sharp(anim).metadata()).pages).toBe(3);
      const meta = await checkThumbnail(await thumbnailer.make(anim, `image/${format}`), { width: 640, height: 400 });
      expect({ width: meta.width, height: meta.height, pages: meta.pages ?? 1 }).toEqual({ width: 320, height: 200, pages: 1 });
      // The first frame's red is 80; the others' 160 and 240.
      const thumb = await thumbnailer.make(anim, `image/${format}`);
      const { data } = await sharp(thumb!.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect(data[0]).toBeLessThan(120);
    }
  });

  it('thumbnails a 20-megapixel JPEG', async () => {
    // 5472×3648, a 20 MP camera's frame. Its speed is measured outside the tests (no timed assertions here).
    const big = await files.file('20mp.jpg', await jpeg(5472, 3648));
    const meta = await checkThumbnail(await thumbnailer.make(big, 'image/jpeg'), { width: 5472, height: 3648 });
    expect({ width: meta.width, height: meta.height }).toEqual({ width: 320, height: 213 });
  });

  it('refuses a decompression bomb from its header, though it keeps its type and size', async () => {
    const bomb = await files.file('bomb.png', pngBomb(30_000));
    expect(await inspectFile(bomb)).toEqual({ mime: 'image/png', width: 30_000, height: 30_000 });
    expect(await thumbnailer.make(bomb, 'image/png')).toBeNull();
  });

  it('refuses an image over a configured pixel limit', async () => {
    const photo = await files.file('limit.jpg', await jpeg(200, 100));
    expect(await new Thumbnailer({ maxInputPixels: 200 * 100 - 1 }).make(photo, 'image/jpeg')).toBeNull();
    expect(await new Thumbnailer({ maxInputPixels: 200 * 100 }).make(photo, 'image/jpeg')).not.toBeNull();
  });

  it('gives null for a truncated or corrupt image', async () => {
    // Noise, so that half the file is well into the pixel data, past an intact header.
    const whole = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 30 } } })
      .jpeg()
      .toBuffer();
    const truncated = await files.file('cut.jpg', whole.subarray(0, Math.floor(whole.length / 2)));
    expect((await inspectFile(truncated)).mime).toBe('image/jpeg');
    expect(await thumbnailer.make(truncated, 'image/jpeg')).toBeNull();
    expect(await thumbnailer.make(await files.file('stub.jpg', whole.subarray(0, 16)), 'image/jpeg')).toBeNull();
  });

  it('gives null for anything that is not one of the four image types', async () => {
    const pdf = await files.file('doc.pdf', MINIMAL_PDF);
    expect(await thumbnailer.make(pdf, 'application/pdf')).toBeNull();
    expect(await thumbnailer.make(await files.file('a.svg', SVG), 'application/octet-stream')).toBeNull();
    // Even when a caller passes an image type, bytes that are not that image give none (libvips would render SVG).
    expect(await thumbnailer.make(await files.file('b.svg', SVG), 'image/png')).toBeNull();
    expect(await thumbnailer.make(await files.file('x.png', HTML), 'image/png')).toBeNull();
    const png = await files.file('real.png', await pngWithAlpha(10, 10));
    expect(await thumbnailer.make(png, 'image/jpeg')).toBeNull();
  });

  it('makes at most `concurrency` at once and queues a bounded number of callers', async () => {
    const photo = await files.file('queued.jpg', await jpeg(1200, 800));
    const one = new Thumbnailer({ concurrency: 1, maxQueue: 1 });
    const first = one.make(photo, 'image/jpeg');
    const second = one.make(photo, 'image/jpeg');
    expect(one.load).toEqual({ running: 1, waiting: 1 });
    const third = one.make(photo, 'image/jpeg');
    await expect(third).rejects.toBeInstanceOf(DomainError);
    await expect(third).rejects.toMatchObject({ code: 'unavailable' });
    expect(await first).not.toBeNull();
    expect(await second).not.toBeNull();
    expect(one.load).toEqual({ running: 0, waiting: 0 });
    // The turn a caller waited for is given back, so the queue does not leak.
    expect(await one.make(photo, 'image/jpeg')).not.toBeNull();
    // Types that get no thumbnail never wait.
    expect(await one.make(photo, 'application/pdf')).toBeNull();
  });

  it('strips EXIF (GPS, camera) from an original, turning its pixels as shown; a file without such metadata is left as it is', async () => {
    const photo = await files.file('gps.jpg', await jpegOrientation6WithGps(400, 200));
    const out = await files.file('gps-stripped.jpg', Buffer.alloc(0));
    const size = await thumbnailer.stripMetadata(photo, 'image/jpeg', out);
    expect(size).toBeGreaterThan(0);
    const meta = await sharp(out).metadata();
    expect((await fs.stat(out)).size).toBe(size);
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 200, 400]);
    const plain = await files.file('plain.jpg', await jpeg(300, 200));
    expect(await thumbnailer.stripMetadata(plain, 'image/jpeg', out)).toBeNull();
    const xmpPng = await files.file('xmp.png', await sharp(await pngWithAlpha(60, 40)).withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>').png().toBuffer());
    expect((await sharp(xmpPng).metadata()).xmp).toBeDefined();
    expect(await thumbnailer.stripMetadata(xmpPng, 'image/png', out)).toBeGreaterThan(0);
    const cleaned = await sharp(out).metadata();
    expect([cleaned.format, cleaned.width, cleaned.height, cleaned.hasAlpha, cleaned.xmp]).toEqual(['png', 60, 40, true, undefined]);
    // Metadata there but the pixels do not decode: not kept with it (the caller refuses the file).
    const truncated = await jpegOrientation6WithGps(400, 200);
    const cut = await files.file('cut.jpg', truncated.subarray(0, Math.floor(truncated.length * 0.7)));
    await expect(thumbnailer.stripMetadata(cut, 'image/jpeg', out)).rejects.toBeInstanceOf(MetadataNotStripped);
    const gif = await files.file('anim.gif', await animated('gif', 40, 30));
    expect(await thumbnailer.stripMetadata(gif, 'image/gif', out)).toBeNull();
    expect(await thumbnailer.stripMetadata(photo, 'application/pdf', out)).toBeNull();
  });

  it('rejects a nonsensical configuration', () => {
    expect(() => new Thumbnailer({ concurrency: 0 })).toThrow(RangeError);
    expect(() => new Thumbnailer({ maxInputPixels: -1 })).toThrow(RangeError);
  });
});
