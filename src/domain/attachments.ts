/**
 * Attachments (contract v1.1): uploads, downloads and erasure.
 *
 * An upload is streamed to a temporary file (counted: over the limit it
 * stops, and the caller answers 413), inspected there (the type from the
 * bytes, an image's size, its thumbnail: src/media), then streamed into blob
 * storage (src/blobs: local disk or PostgreSQL) and recorded in the store as
 * an upload of that user to that conversation. Nothing of it is ever whole in
 * memory but the thumbnail (at most 320 px).
 *
 * Erasure is crash-safe: a deleted message's (or an expired upload's)
 * attachment rows go in the same transaction, their blob keys into the
 * store's erased list; sweep() deletes the blobs, then forgets the keys. A
 * crash between leaves keys that the next sweep deletes again.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Attachment } from '../protocol/models.js';
import type { BlobStorage } from '../blobs/blob-storage.js';
import { inspectFile } from '../media/inspect.js';
import { MetadataNotStripped, type Thumbnailer } from '../media/thumbnails.js';
import type { AttachmentRecord, StoredAttachment, Store } from '../store/store.js';
import { AttachmentGrants, type AttachmentVariant } from './attachment-grants.js';
import { checkMember } from './conversations.js';
import { attachmentView } from './views.js';
import { DomainError, validation } from './errors.js';
import type { MembershipCache } from './membership.js';

/** How long an upload no message uses is kept (contract: may be erased after 24 h). */
export const UPLOAD_TTL_MS = 24 * 3_600_000;
/** Longest file name, in code points. */
export const NAME_MAX = 255;
/** The four image types served inline; everything else is a download. */
const INLINE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const IMAGE_MIMES = INLINE;

export interface AttachmentDeps {
  store: Store;
  membership: MembershipCache;
  blobs: BlobStorage;
  thumbnails: Thumbnailer;
  grants: AttachmentGrants;
  maxBytes: number;
  now: () => number;
  /** Where uploads wait while they are inspected (default: the OS's temp dir). */
  tmpDir?: string;
  onError?: (err: unknown, what: string) => void;
}

export class UploadTooLarge extends DomainError {
  constructor(maxBytes: number) {
    super('payload_too_large', `A file is at most ${maxBytes} bytes.`);
  }
}

/** What a download serves. */
export interface Download {
  stream: NodeJS.ReadableStream;
  size: number;
  mime: string;
  name: string;
  /** `inline` for the four image types, `attachment` for everything else. */
  disposition: 'inline' | 'attachment';
}

/** The file name as kept: everything up to the last `/` or `\` dropped; validation if empty or too long. */
export function attachmentName(raw: string | undefined): string {
  const name = (raw ?? '').replace(/^.*[/\\]/, '');
  if (name === '') throw validation('The file part needs a file name.');
  if ([...name].length > NAME_MAX) throw validation(`A file name is at most ${NAME_MAX} characters.`);
  return name;
}

export class AttachmentService {
  private sweeping: Promise<void> | null = null;

  constructor(private readonly d: AttachmentDeps) {}

  /** The wire shape for `viewerId`: URLs with grants for that user. */
  view(a: StoredAttachment, viewerId: string): Attachment {
    return attachmentView(a, this.d.grants, viewerId);
  }

  /** Membership is checked before the body is read (403 / 404 without storing anything). */
  async checkUploader(conversationId: string, userId: string): Promise<void> {
    checkMember(await this.d.membership.get(conversationId), userId);
  }

  /**
   * Stores one uploaded file: `file` is the part's stream (read to its end,
   * or to the limit). Answers the attachment as its uploader sees it.
   */
  async upload(conversationId: string, userId: string, rawName: string | undefined, file: NodeJS.ReadableStream): Promise<Attachment> {
    await this.checkUploader(conversationId, userId);
    const name = attachmentName(rawName);
    const tmp = path.join(this.d.tmpDir ?? os.tmpdir(), `parley-upload-${randomUUID()}`);
    const stripped = `${tmp}-stripped`;
    const blobKey = randomUUID();
    const thumbnailKey = `${blobKey}-thumb`;
    const stored: string[] = [];
    try {
      const size = await this.receive(file, tmp);
      if (size === 0) throw validation('The file is empty.');
      let info = await inspectFile(tmp);
      if (IMAGE_MIMES.has(info.mime) && info.width !== null && info.height !== null && info.width * info.height > this.d.thumbnails.maxInputPixels) {
        // A decompression bomb, or just too many pixels: refused on its header, nothing decoded.
        throw validation(`An image is at most ${this.d.thumbnails.maxInputPixels} pixels.`);
      }
      const detected = info.mime;
      const thumb = await this.d.thumbnails.make(tmp, detected);
      // An image that does not decode is kept as what it is to us: bytes, a download.
      if (IMAGE_MIMES.has(detected) && (!thumb || info.width === null || info.height === null)) info = { mime: 'application/octet-stream', width: null, height: null };
      // What a photo says beyond its pixels (GPS position, camera, ...) is not
      // kept; one that carries it and cannot be re-encoded without it (it does
      // not decode) is refused rather than kept with it, even as a download.
      const strippedSize = IMAGE_MIMES.has(detected)
        ? await this.d.thumbnails.stripMetadata(tmp, detected, stripped).catch((e: unknown) => {
            throw e instanceof MetadataNotStripped ? validation('This image carries metadata (such as a GPS position) and could not be re-encoded without it.') : e;
          })
        : null;
      const kept = strippedSize === null ? { file: tmp, size } : { file: stripped, size: strippedSize };
      await this.d.blobs.put(blobKey, createReadStream(kept.file), kept.size);
      stored.push(blobKey);
      if (thumb) {
        await this.d.blobs.put(thumbnailKey, [thumb.data], thumb.data.length);
        stored.push(thumbnailKey);
      }
      const record = await this.d.store.createAttachment({
        conversationId,
        uploaderId: userId,
        name,
        mime: info.mime,
        size: kept.size,
        width: info.width,
        height: info.height,
        blobKey,
        thumbnailKey: thumb ? thumbnailKey : null,
        thumbnailMime: thumb ? thumb.mime : null,
        createdAt: this.d.now(),
      });
      return this.view(toStored(record), userId);
    } catch (e) {
      // Nothing half-stored stays behind.
      if (stored.length) await this.d.blobs.delete(stored).catch((err: unknown) => this.d.onError?.(err, 'deleting a failed upload'));
      throw e;
    } finally {
      await Promise.all([fs.rm(tmp, { force: true }), fs.rm(stripped, { force: true })]);
    }
  }

  /** Copies the part to `tmp`, counting; over the limit, stops with UploadTooLarge (the rest is the caller's to drain). */
  private async receive(file: NodeJS.ReadableStream, tmp: string): Promise<number> {
    let size = 0;
    const max = this.d.maxBytes;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > max) done(new UploadTooLarge(max));
        else done(null, chunk);
      },
    });
    await pipeline(file, counter, createWriteStream(tmp, { flags: 'wx' }));
    return size;
  }

  /**
   * A download for `userId` (from a grant or a token): a member of the
   * attachment's conversation now (403), of an attachment that exists and is
   * not erased (404).
   */
  async download(attachmentId: string, variant: AttachmentVariant, userId: string): Promise<Download> {
    const a = await this.d.store.attachmentById(attachmentId);
    // An upload not sent yet is its uploader's alone (ids are sequential: no guessing others' drafts).
    if (!a || (a.messageId === null && a.uploaderId !== userId)) throw new DomainError('not_found', 'No such attachment.');
    const members = await this.d.membership.get(a.conversationId);
    if (!members) throw new DomainError('not_found', 'No such attachment.');
    if (!members.members.has(userId)) throw new DomainError('forbidden', 'You are not a member of this conversation.');
    const key = variant === 'file' ? a.blobKey : a.thumbnailKey;
    const mime = variant === 'file' ? a.mime : a.thumbnailMime;
    if (!key || !mime) throw new DomainError('not_found', 'This attachment has no thumbnail.');
    const blob = await this.d.blobs.get(key);
    if (!blob) throw new DomainError('not_found', 'No such attachment.');
    return { stream: blob.stream, size: blob.size, mime, name: a.name, disposition: INLINE.has(mime) ? 'inline' : 'attachment' };
  }

  /** Whose a grant is, if it is a genuine, unexpired grant of this attachment and variant. */
  grantUser(attachmentId: string, variant: AttachmentVariant, query: Record<string, unknown>): string | null {
    return this.d.grants.verify(attachmentId, variant, query);
  }

  /** Expires old unsent uploads, then deletes the blobs of erased attachments. */
  async sweep(): Promise<void> {
    await this.d.store.expireUploads(this.d.now() - UPLOAD_TTL_MS);
    await this.eraseNow();
  }

  /**
   * Deletes the blobs of erased attachments. One pass at a time; a call
   * during a pass runs another after it, so what was erased before the call
   * is gone when it resolves (a deletion's ack waits for it).
   */
  eraseNow(): Promise<void> {
    const next = (this.sweeping ?? Promise.resolve()).catch(() => undefined).then(() => this.eraseOnce());
    this.sweeping = next;
    void next.finally(() => {
      if (this.sweeping === next) this.sweeping = null;
    }).catch(() => undefined);
    return next;
  }

  private async eraseOnce(): Promise<void> {
    for (;;) {
      const keys = await this.d.store.erasedBlobs(500);
      if (keys.length === 0) return;
      await this.d.blobs.delete(keys);
      await this.d.store.forgetErasedBlobs(keys);
      if (keys.length < 500) return;
    }
  }
}

export const toStored = (a: AttachmentRecord): StoredAttachment => ({
  id: a.id,
  name: a.name,
  mime: a.mime,
  size: a.size,
  width: a.width,
  height: a.height,
  thumbnail: a.thumbnailKey !== null,
});
