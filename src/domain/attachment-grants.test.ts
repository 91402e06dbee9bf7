import { describe, expect, it } from 'vitest';
import { AttachmentGrants } from './attachment-grants.js';

const query = (url: string) => Object.fromEntries(new URL(url, 'http://x').searchParams);

describe('AttachmentGrants', () => {
  let now = 1_800_000_000_000;
  const grants = new AttachmentGrants('a secret of the deployment, 32+ chars', () => now);

  it("names the user it was made for, for that attachment and variant only", () => {
    const url = grants.url('a7', 'file', 'u1');
    expect(url).toMatch(/^\/api\/attachments\/a7\?u=u1&e=\d+&s=/);
    const q = query(url);
    expect(grants.verify('a7', 'file', q)).toBe('u1');
    expect(grants.verify('a7', 'thumbnail', q)).toBeNull();
    expect(grants.verify('a8', 'file', q)).toBeNull();
    expect(grants.verify('a7', 'file', { ...q, u: 'u2' })).toBeNull();
    expect(grants.verify('a7', 'file', { ...q, e: String(Number(q.e) + 3600) })).toBeNull();
    expect(grants.verify('a7', 'file', { ...q, s: q.s!.slice(0, -1) + (q.s!.endsWith('A') ? 'B' : 'A') })).toBeNull();
    expect(grants.verify('a7', 'file', {})).toBeNull();
    expect(new AttachmentGrants('another deployment, another secret!!', () => now).verify('a7', 'file', q)).toBeNull();
    expect(grants.url('a7', 'thumbnail', 'u1')).toMatch(/^\/api\/attachments\/a7\/thumbnail\?/);
  });

  it('lives at least 10 minutes and at most 24 hours, and is the same URL within the hour', () => {
    const start = now;
    const url = grants.url('a1', 'file', 'u1');
    const expiry = Number(query(url).e) * 1000;
    expect(expiry - start).toBeGreaterThanOrEqual(10 * 60_000);
    expect(expiry - start).toBeLessThanOrEqual(24 * 3_600_000);
    now = start + 10 * 60_000;
    expect(grants.verify('a1', 'file', query(url))).toBe('u1');
    now = expiry;
    expect(grants.verify('a1', 'file', query(url))).toBeNull();
    now = start;
  });
});
