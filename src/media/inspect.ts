import fs from 'node:fs/promises';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';

/**
 * What an uploaded file is, judged by its bytes only (never its name or the
 * Content-Type the client sent), and for the four image types its pixel size.
 *
 * The type decides how the file is served later (inline or as a download),
 * so detection errs towards `application/octet-stream`: only a short
 * allow-list of binary formats recognised by their magic numbers keeps its
 * type. Text-like detections (SVG, HTML, XML, ...) are never kept, since a
 * browser could run script in them, and neither is anything exotic whose
 * handling in browsers we have not thought about.
 */

export type ImageMime = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

export interface FileInspection {
  mime: string;
  /** Pixel size as displayed (after EXIF orientation); null unless an image type whose header could be read. */
  width: number | null;
  height: number | null;
}

export const OCTET_STREAM = 'application/octet-stream';

/** The types a thumbnail is made for and that may be shown inline, with sharp's name for their decoder. */
export const IMAGE_FORMATS: ReadonlyMap<string, 'png' | 'jpeg' | 'gif' | 'webp'> = new Map([
  ['image/png', 'png'],
  ['image/jpeg', 'jpeg'],
  ['image/gif', 'gif'],
  ['image/webp', 'webp'],
]);

export const isImageMime = (mime: string): mime is ImageMime => IMAGE_FORMATS.has(mime);

/**
 * file-type's answer → the type we report. Only binary container formats
 * with a registered type, which are served as downloads anyway.
 */
const KEPT_TYPES: ReadonlyMap<string, string> = new Map([
  ['image/png', 'image/png'],
  // An animated PNG is a valid PNG (a decoder that knows no APNG shows its first frame).
  ['image/apng', 'image/png'],
  ['image/jpeg', 'image/jpeg'],
  ['image/gif', 'image/gif'],
  ['image/webp', 'image/webp'],
  ['application/pdf', 'application/pdf'],
  ['application/zip', 'application/zip'],
  ['application/gzip', 'application/gzip'],
  ['audio/mpeg', 'audio/mpeg'],
  ['audio/ogg', 'audio/ogg'],
  ['audio/wav', 'audio/wav'],
  ['audio/flac', 'audio/flac'],
  ['video/mp4', 'video/mp4'],
  ['video/webm', 'video/webm'],
  ['video/quicktime', 'video/quicktime'],
]);

/**
 * How much of the file type detection may read. file-type wants 4100 bytes
 * for most formats; a little more lets it look past a ZIP's first entry or
 * an MP3's ID3 tag, and still costs one small read however large the file.
 */
const SNIFF_BYTES = 64 * 1024;

export async function detectMime(path: string): Promise<string> {
  const head = await readHead(path, SNIFF_BYTES);
  if (head.length === 0) return OCTET_STREAM;
  let detected: string | undefined;
  try {
    detected = (await fileTypeFromBuffer(head))?.mime;
  } catch {
    // A parser that trips over malformed bytes tells us the file is nothing we trust.
    return OCTET_STREAM;
  }
  // Parameters (e.g. `audio/ogg; codecs=opus`) are not part of the type we report.
  const bare = detected?.split(';')[0]?.trim().toLowerCase();
  return (bare && KEPT_TYPES.get(bare)) ?? OCTET_STREAM;
}

export async function inspectFile(path: string): Promise<FileInspection> {
  const mime = await detectMime(path);
  const format = IMAGE_FORMATS.get(mime);
  if (!format) return { mime, width: null, height: null };
  try {
    // Header only: nothing is decoded, so the pixel limit (which would refuse
    // a decompression bomb here) is lifted; the thumbnailer applies it.
    const meta = await sharp(path, { limitInputPixels: false }).metadata();
    // libvips sniffs the format itself; if it disagrees with file-type, do not report a size of something else.
    if (meta.format !== format) return { mime, width: null, height: null };
    const { width, height } = meta.autoOrient;
    if (!(width > 0 && height > 0)) return { mime, width: null, height: null };
    return { mime, width, height };
  } catch {
    // The magic says image but the header is unreadable (corrupt or truncated): a plain file.
    return { mime, width: null, height: null };
  }
}

async function readHead(path: string, max: number): Promise<Uint8Array> {
  const file = await fs.open(path, 'r');
  try {
    const buffer = Buffer.alloc(max);
    let filled = 0;
    while (filled < max) {
      const { bytesRead } = await file.read(buffer, filled, max - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await file.close();
  }
}
