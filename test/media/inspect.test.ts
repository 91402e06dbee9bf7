import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectFile } from '../../src/media/inspect.js';
import {
  HTML,
  MINIMAL_PDF,
  PDF_HTML_POLYGLOT,
  SVG,
  animated,
  jpeg,
  jpegOrientation6WithGps,
  pngBomb,
  pngWithAlpha,
  tempDir,
  zipOneFile,
} from './fixtures.js';

/** The type comes from the bytes alone; only allow-listed binary types survive, the rest is octet-stream. */
describe('inspectFile', () => {
  let files: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    files = await tempDir();
  });
  afterAll(() => files.remove());

  it('gives the four image types with their pixel size', async () => {
    expect(await inspectFile(await files.file('a.png', await pngWithAlpha(100, 50)))).toEqual({ mime: 'image/png', width: 100, height: 50 });
    expect(await inspectFile(await files.file('a.jpg', await jpeg(640, 480)))).toEqual({ mime: 'image/jpeg', width: 640, height: 480 });
    expect(await inspectFile(await files.file('a.gif', await animated('gif', 120, 60)))).toEqual({ mime: 'image/gif', width: 120, height: 60 });
    expect(await inspectFile(await files.file('a.webp', await animated('webp', 90, 30)))).toEqual({ mime: 'image/webp', width: 90, height: 30 });
  });

  it('ignores the file name', async () => {
    expect(await inspectFile(await files.file('photo.txt', await jpeg(20, 10)))).toEqual({ mime: 'image/jpeg', width: 20, height: 10 });
    expect((await inspectFile(await files.file('page.png', HTML))).mime).toBe('application/octet-stream');
  });

  it('reports the size as displayed, after EXIF orientation', async () => {
    // Stored 400×200 with orientation 6: shown turned a quarter, 200 wide and 400 high.
    const photo = await files.file('o6.jpg', await jpegOrientation6WithGps(400, 200));
    expect(await inspectFile(photo)).toEqual({ mime: 'image/jpeg', width: 200, height: 400 });
  });

  it('reads a decompression bomb’s size from its header without decoding it', async () => {
    const bomb = await files.file('bomb.png', pngBomb(30_000));
    expect(await inspectFile(bomb)).toEqual({ mime: 'image/png', width: 30_000, height: 30_000 });
  });

  it('keeps the image type but no size for an image whose header is unreadable', async () => {
    const whole = await jpeg(64, 64);
    expect(await inspectFile(await files.file('stub.jpg', whole.subarray(0, 16)))).toEqual({ mime: 'image/jpeg', width: null, height: null });
  });

  it('does not take a PNG signature followed by a web page for a PNG', async () => {
    // file-type reads past the signature into the first chunk, which is not there.
    const fakePng = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(HTML)]);
    expect(await inspectFile(await files.file('fake.png', fakePng))).toEqual({ mime: 'application/octet-stream', width: null, height: null });
  });

  it('gives a truncated JPEG its type and, from the intact header, its size', async () => {
    const whole = await jpeg(300, 200);
    const truncated = await files.file('cut.jpg', whole.subarray(0, Math.floor(whole.length / 2)));
    expect(await inspectFile(truncated)).toEqual({ mime: 'image/jpeg', width: 300, height: 200 });
  });

  it('keeps the registered type of allow-listed binary formats', async () => {
    expect(await inspectFile(await files.file('doc.pdf', MINIMAL_PDF))).toEqual({ mime: 'application/pdf', width: null, height: null });
    expect((await inspectFile(await files.file('a.zip', zipOneFile('hello.txt', 'hello')))).mime).toBe('application/zip');
    expect((await inspectFile(await files.file('a.gz', zlib.gzipSync('hello')))).mime).toBe('application/gzip');
  });

  it('types a PDF/HTML polyglot by its magic number: a PDF', async () => {
    expect((await inspectFile(await files.file('both.html', PDF_HTML_POLYGLOT))).mime).toBe('application/pdf');
  });

  it('gives octet-stream to text, HTML, SVG and XML whatever their name', async () => {
    const cases: Array<[string, string]> = [
      ['logo.svg', SVG],
      ['logo.png', SVG],
      ['x.png', HTML],
      ['index.html', HTML],
      ['feed.xml', '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel></channel></rss>\n'],
      ['notes.txt', 'Just some text.\n'],
      ['data.json', '{"a":1}'],
    ];
    for (const [name, content] of cases) {
      expect({ name, ...(await inspectFile(await files.file(name, content))) }).toEqual({ name, mime: 'application/octet-stream', width: null, height: null });
    }
  });

  it('gives octet-stream to binary formats outside the allow-list, and to an empty file', async () => {
    // A BMP: an image, but not one of the four, and not one we serve.
    const bmp = Buffer.alloc(58);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(58, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(1, 18);
    bmp.writeInt32LE(1, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    expect((await inspectFile(await files.file('a.bmp', bmp))).mime).toBe('application/octet-stream');
    expect((await inspectFile(await files.file('empty.png', ''))).mime).toBe('application/octet-stream');
  });
});
