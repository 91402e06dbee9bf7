import sharp from 'sharp';
import { DomainError } from '../domain/errors.js';
import { IMAGE_FORMATS } from './inspect.js';

/**
 * Thumbnails of uploaded images: a WebP whose longer side is at most 320 px,
 * orientation applied, every metadata block (EXIF with its GPS position, XMP,
 * ICC) left out.
 *
 * Decoding is where an upload can cost the server most, so it is bounded
 * three ways: a pixel limit checked on the header before anything is decoded
 * (a decompression bomb is refused for the price of reading its header), a
 * small number of thumbnails made at once, and a bounded queue of callers
 * waiting for a turn.
 */

export type ThumbnailMime = 'image/webp' | 'image/jpeg' | 'image/png';

export interface Thumbnail {
  data: Buffer;
  mime: ThumbnailMime;
  width: number;
  height: number;
}

export interface ThumbnailerOptions {
  /**
   * Thumbnails made at once (default 2). Each holds one of libuv's pool
   * threads (4 unless UV_THREADPOOL_SIZE says otherwise), which file reads
   * and writes share: keep it below that.
   */
  concurrency?: number;
  /** Callers that may wait for a turn (default 64); one more is refused. */
  maxQueue?: number;
  /** Larger images (width × height, from the header) are not decoded (default 50 MP); the upload refuses them. */
  maxInputPixels?: number;
}

export const THUMBNAIL_MAX_SIDE = 320;

/**
 * 50 megapixels: above every common camera and phone sensor (48–50 MP
 * modes included), below the 108–200 MP modes that are rare in chat. A
 * decoded 8-bit RGBA image takes 4 bytes a pixel; with shrink-on-load
 * (JPEG, WebP) and sequential reads libvips holds much less, but a PNG or
 * GIF that needs turning or random access can be held whole: 200 MB at
 * this limit, 400 MB with two at once, which a small server can afford and
 * 2× the limit it could not.
 */
export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000;

/**
 * Past this, a thumbnail is abandoned (libvips checks between tiles). An
 * image under the pixel limit takes well under a second; this only catches
 * the pathological, so it does not hold a turn for ever.
 */
const RENDER_TIMEOUT_SECONDS = 10;

let sharpConfigured = false;

/**
 * Process-wide libvips settings, made once. One libvips worker thread per
 * image: the server's own work is a single event loop, and a thumbnail that
 * fanned out over every core (libvips' default) would stall it; throughput
 * comes from `concurrency` images at once instead, each on a libuv pool
 * thread. No operation cache: every file is read once, and a cache would
 * hold memory and open descriptors of files that may since have been erased.
 */
function configureSharp(): void {
  if (sharpConfigured) return;
  sharp.concurrency(1);
  sharp.cache(false);
  sharpConfigured = true;
}

/** An image whose metadata could not be removed (it does not re-encode). */
export class MetadataNotStripped extends Error {
  constructor(cause: unknown) {
    super('the image could not be re-encoded without its metadata', { cause });
  }
}

export class Thumbnailer {
  private readonly concurrency: number;
  private readonly maxQueue: number;
  readonly maxInputPixels: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(opts: ThumbnailerOptions = {}) {
    this.concurrency = positiveInteger(opts.concurrency ?? 2, 'concurrency');
    this.maxQueue = nonNegativeInteger(opts.maxQueue ?? 64, 'maxQueue');
    this.maxInputPixels = positiveInteger(opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS, 'maxInputPixels');
    configureSharp();
  }

  /**
   * The thumbnail of the image at `path`, whose type (`mime`, from
   * inspectFile) is one of the four image types; null for any other type,
   * an image over the pixel limit, or one that cannot be decoded.
   * Throws DomainError `unavailable` (503, retry) when the queue is full:
   * the upload should be retried, not kept without the thumbnail it is owed.
   */
  async make(path: string, mime: string): Promise<Thumbnail | null> {
    const format = IMAGE_FORMATS.get(mime);
    if (!format) return null;
    await this.turn();
    try {
      return await this.render(path, format);
    } finally {
      this.release();
    }
  }

  /**
   * Writes to `out` the image at `path` without its metadata, when it has
   * that can say where and with what it was taken (EXIF, with GPS position
   * and camera; XMP; IPTC): orientation applied to the pixels,
   * the colour profile kept, JPEG at quality 92, PNG losslessly, WebP at
   * quality 90. Answers the new file's size, or null when there is nothing
   * to strip: no such metadata (the file is kept byte for byte), a GIF (no
   * EXIF), an animation (whose frames a re-encoding would have to carry), a
   * header that does not read. Throws MetadataNotStripped when the metadata
   * is there but the image could not be re-encoded: the caller must not keep
   * the original then. Takes a turn like make().
   */
  async stripMetadata(path: string, mime: string, out: string): Promise<number | null> {
    const format = IMAGE_FORMATS.get(mime);
    if (format !== 'jpeg' && format !== 'png' && format !== 'webp') return null;
    await this.turn();
    try {
      const meta = await sharp(path, { limitInputPixels: false })
        .metadata()
        .catch(() => null);
      if (!meta || meta.format !== format || (meta.pages ?? 1) > 1) return null;
      const revealing = meta.exif !== undefined || meta.xmp !== undefined || meta.iptc !== undefined;
      if (!revealing) return null;
      try {
        if (!(meta.width > 0 && meta.height > 0) || meta.width * meta.height > this.maxInputPixels) throw new Error('over the pixel limit');
        const image = sharp(path, { limitInputPixels: this.maxInputPixels, failOn: 'error', autoOrient: true }).keepIccProfile();
        const encoded = format === 'jpeg' ? image.jpeg({ quality: 92 }) : format === 'png' ? image.png({ compressionLevel: 6 }) : image.webp({ quality: 90 });
        const info = await encoded.timeout({ seconds: RENDER_TIMEOUT_SECONDS }).toFile(out);
        return info.size;
      } catch (cause) {
        throw new MetadataNotStripped(cause);
      }
    } finally {
      this.release();
    }
  }

  /** Thumbnails being made and callers waiting (for metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private async render(path: string, format: string): Promise<Thumbnail | null> {
    try {
      // The header alone; the limit is ours to apply, so sharp's is lifted here.
      const meta = await sharp(path, { limitInputPixels: false }).metadata();
      if (meta.format !== format) return null;
      if (!(meta.width > 0 && meta.height > 0) || meta.width * meta.height > this.maxInputPixels) return null;
      const { data, info } = await sharp(path, {
        // Again, in case the file changed between the two reads.
        limitInputPixels: this.maxInputPixels,
        // Truncated or broken pixel data fails; libjpeg's warnings about
        // harmless oddities, common in camera files, do not.
        failOn: 'error',
        autoOrient: true,
        // First frame of an animation only.
        pages: 1,
      })
        // From a file, JPEG and WebP decode at 1/2, 1/4 or 1/8 scale when that
        // is still larger than the target (shrink-on-load): a 20 MP photo is
        // never decoded whole.
        .resize(THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
        // WebP keeps transparency (PNG, GIF) and is small for photos too; every
        // browser we serve decodes it. No withMetadata/keepExif: sharp writes none.
        .webp({ quality: 80, effort: 2 })
        .timeout({ seconds: RENDER_TIMEOUT_SECONDS })
        .toBuffer({ resolveWithObject: true });
      return { data, mime: 'image/webp', width: info.width, height: info.height };
    } catch {
      // Corrupt, truncated, over a limit or too slow: the file is still kept, without a thumbnail.
      return null;
    }
  }

  private turn(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(new DomainError('unavailable', 'Too many images are being processed; retry later.'));
    }
    // The slot is handed over by release(), so `running` does not change.
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

function positiveInteger(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Thumbnailer: ${name} must be a positive integer, got ${n}.`);
  return n;
}

function nonNegativeInteger(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`Thumbnailer: ${name} must be a non-negative integer, got ${n}.`);
  return n;
}
