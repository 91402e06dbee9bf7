import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';

/**
 * Files for the media tests, made on the spot (sharp encodes the images) so
 * that no binary fixture sits in the repository and each one says what it is.
 */

export async function tempDir(): Promise<{ dir: string; file: (name: string, data: Uint8Array | string) => Promise<string>; remove: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'parley-media-'));
  return {
    dir,
    file: async (name, data) => {
      const p = path.join(dir, name);
      await fs.writeFile(p, data);
      return p;
    },
    remove: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

/** A PNG with a transparent half. */
export async function pngWithAlpha(width: number, height: number): Promise<Buffer> {
  const half = await sharp({ create: { width: Math.ceil(width / 2), height, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 1 } } })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .composite([{ input: half, left: 0, top: 0 }])
    .png()
    .toBuffer();
}

/** A JPEG stored `width`×`height` whose EXIF says orientation 6 (turn 90° clockwise), with a camera name and a GPS position. */
export function jpegOrientation6WithGps(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#c04020' } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExifMerge({
      IFD0: { Make: 'Acme', Model: 'Snapper 3' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 24/1', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 3/1' },
    })
    .toBuffer();
}

export function jpeg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#208040' } }).jpeg().toBuffer();
}

/** Three half-transparent frames of `width`×`height`, each a different red. */
export function animated(format: 'gif' | 'webp', width: number, height: number): Promise<Buffer> {
  const frame = width * height * 4;
  const pixels = Buffer.alloc(frame * 3);
  for (let i = 0; i < pixels.length; i += 4) {
    pixels[i] = 80 * (1 + Math.floor(i / frame));
    pixels[i + 3] = 128;
  }
  const image = sharp(pixels, { raw: { width, height: height * 3, channels: 4, pageHeight: height } });
  return (format === 'gif' ? image.gif() : image.webp()).toBuffer();
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A decompression bomb: a valid PNG header announcing `side`×`side` RGB
 * pixels (30000² = 900 MP, 2.7 GB decoded) followed by a few hundred bytes
 * of compressed data (two rows), a file of well under 1 KB.
 */
export function pngBomb(side: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const rows = zlib.deflateSync(Buffer.alloc(2 * (1 + side * 3)));
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', rows), pngChunk('IEND', Buffer.alloc(0))]);
}

export const MINIMAL_PDF = [
  '%PDF-1.4',
  '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
  '2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj',
  'trailer << /Root 1 0 R >>',
  '%%EOF',
  '',
].join('\n');

/** Starts as a PDF, and a browser sniffing it would find an HTML page with script. */
export const PDF_HTML_POLYGLOT = `%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n${MINIMAL_PDF}`;

export const SVG = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(1)</script><rect width="100" height="100"/></svg>\n';

export const HTML = '<!doctype html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n';

/** A ZIP archive holding one stored (uncompressed) file. */
export function zipOneFile(name: string, content: string): Buffer {
  const fileName = Buffer.from(name, 'utf8');
  const data = Buffer.from(content, 'utf8');
  const crc = zlib.crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4); // version needed
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4); // version made by
  central.writeUInt16LE(10, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const localPart = Buffer.concat([local, fileName, data]);
  const centralPart = Buffer.concat([central, fileName]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(centralPart.length, 12);
  end.writeUInt32LE(localPart.length, 16);
  return Buffer.concat([localPart, centralPart, end]);
}
