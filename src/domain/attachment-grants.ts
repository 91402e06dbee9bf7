/**
 * Signed grants in attachment URLs (contract v1.1): `url` and
 * `thumbnailUrl` are paths a browser loads as they are (`<img src>`, a
 * link), so they cannot carry an Authorization header; their query string
 * names the user the server gave the URL to, an expiry, and an HMAC of both
 * with the attachment and the variant. A download is then judged as that
 * user's: a member of the attachment's conversation now, or 403.
 *
 * Expiries are rounded up to the hour, 12–13 hours ahead: the same user
 * gets the same URL for an hour (browser caches keep working) and a URL
 * lives within the contract's bounds (at least 10 minutes, at most 24 h).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type AttachmentVariant = 'file' | 'thumbnail';

const HOUR = 3_600_000;
const LIFETIME = 12 * HOUR;

export interface Grant {
  /** The user. */
  u: string;
  /** Expiry, epoch seconds. */
  e: number;
  /** HMAC-SHA256, base64url. */
  s: string;
}

export class AttachmentGrants {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly now: () => number = Date.now,
  ) {
    // Its own key, derived: a grant can never pass for a token, nor the reverse.
    this.key = createHmac('sha256', secret).update('parley attachment grants v1').digest();
  }

  /** The path of one variant with a grant for `userId`. */
  url(attachmentId: string, variant: AttachmentVariant, userId: string): string {
    const e = Math.ceil((this.now() + LIFETIME) / HOUR) * (HOUR / 1000);
    const s = this.sign(attachmentId, variant, userId, e);
    const q = new URLSearchParams({ u: userId, e: String(e), s });
    return `${attachmentPath(attachmentId, variant)}?${q.toString()}`;
  }

  /** The user a grant names, if it is this attachment's and variant's, unexpired and genuine; else null. */
  verify(attachmentId: string, variant: AttachmentVariant, query: Record<string, unknown>): string | null {
    const { u, e, s } = query;
    if (typeof u !== 'string' || typeof e !== 'string' || typeof s !== 'string') return null;
    if (!/^\d{1,12}$/.test(e) || Number(e) * 1000 <= this.now()) return null;
    const want = Buffer.from(this.sign(attachmentId, variant, u, Number(e)));
    const got = Buffer.from(s);
    return got.length === want.length && timingSafeEqual(got, want) ? u : null;
  }

  private sign(attachmentId: string, variant: AttachmentVariant, userId: string, e: number): string {
    return createHmac('sha256', this.key).update(`${attachmentId}\n${variant}\n${userId}\n${e}`).digest('base64url');
  }
}

export const attachmentPath = (attachmentId: string, variant: AttachmentVariant): string =>
  `/api/attachments/${encodeURIComponent(attachmentId)}${variant === 'thumbnail' ? '/thumbnail' : ''}`;
