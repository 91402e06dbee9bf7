import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { group, http, register, type Account } from '../helpers/client.js';
import { TEST_STORE, useServer } from '../helpers/server.js';
import { expectAckError, expectMessage, expectShape } from '../helpers/shapes.js';
import { Attachment } from '../../src/protocol/models.js';
import { jpegOrientation6WithGps, pngBomb } from '../media/fixtures.js';

/**
 * Attachments through the real server (contract v1.1): upload, the type
 * from the bytes, thumbnails, members-only downloads with grants, sending,
 * erasure with the message. On SQLite the files are checked on disk.
 */

const MAX = 2 * 1024 * 1024;
const t = useServer({ attachmentMaxBytes: MAX });
const { pool } = t;

async function upload(who: Account, cid: string, name: string, bytes: Uint8Array, field = 'file') {
  const form = new FormData();
  form.append('note', 'ignored');
  form.append(field, new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  const res = await fetch(`${t.url}/api/conversations/${cid}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${who.token}` }, body: form });
  const body = await res.json();
  return { status: res.status, body };
}

async function get(url: string, token?: string) {
  const res = await fetch(t.url + url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 4, background: { r: 200, g: 30, b: 30, alpha: 0.5 } } }).png().toBuffer();

/** The files the server keeps on disk (SQLite: DATA_DIR/attachments). */
function filesOnDisk(): string[] {
  const dir = path.join(t.server.dataDir, 'attachments');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

/** PostgreSQL storage: the chunks kept of these attachments' blobs (their keys read before they go). */
const blobKeys = new Map<string, string[]>();
async function chunksOf(attachmentIds: string[]): Promise<number> {
  const pool = (t.server.app.store as unknown as { pool: { query: (sql: string, params: unknown[]) => Promise<{ rows: { n: string }[] }> } }).pool;
  const keys = attachmentIds.flatMap((id) => blobKeys.get(id) ?? []);
  const r = await pool.query('SELECT count(*) AS n FROM blob_chunks WHERE key = ANY($1::text[])', [keys]);
  return Number(r.rows[0]!.n);
}
async function rememberBlobs(attachmentId: string): Promise<void> {
  const a = await t.server.app.store.attachmentById(attachmentId);
  if (a) blobKeys.set(attachmentId, [a.blobKey, ...(a.thumbnailKey ? [a.thumbnailKey] : [])]);
}

async function pair() {
  const [a, b] = [await register(t.url, 'ann'), await register(t.url, 'bob')];
  const cid = (await group(t.url, a, [b])).id as string;
  return { a, b, cid };
}

describe('upload', () => {
  it('an image: described from its bytes with its size and a thumbnail; served inline, nosniff, sandboxed, under its name', async () => {
    const { a, cid } = await pair();
    const bytes = await png(1000, 500);
    const r = await upload(a, cid, 'C:\\photos\\été 2026.png', bytes);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expectShape(Attachment, r.body);
    expect(r.body).toMatchObject({ name: 'été 2026.png', mime: 'image/png', size: bytes.length, width: 1000, height: 500 });
    expect(r.body.url).toMatch(/^\/api\/attachments\/[^?]+\?/);
    const file = await get(r.body.url);
    expect(file.status).toBe(200);
    expect(Buffer.from(file.bytes).equals(bytes)).toBe(true);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    expect(file.headers.get('content-disposition')).toMatch(/^inline; filename="[^"]*"; filename\*=UTF-8''%C3%A9t%C3%A9%202026\.png$/);
    expect(file.headers.get('content-security-policy')).toMatch(/sandbox/);
    const thumb = await get(r.body.thumbnailUrl);
    expect(thumb.status).toBe(200);
    const meta = await sharp(thumb.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([320, 160]);
    expect(thumb.headers.get('content-type')).toBe(`image/${meta.format}`);
    // The same path without the grant takes a bearer token instead.
    expect((await get(r.body.url.split('?')[0], a.token)).status).toBe(200);
    expect((await get(r.body.url.split('?')[0])).status).toBe(401);
  });

  it('never serves active content as such: a text file named .png, an SVG, HTML are downloads of application/octet-stream', async () => {
    const { a, cid } = await pair();
    const files: [string, string][] = [
      ['fake.png', 'just text, not an image'],
      ['logo.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'],
      ['page.html', '<!doctype html><html><script>alert(1)</script></html>'],
    ];
    for (const [name, text] of files) {
      const r = await upload(a, cid, name, new TextEncoder().encode(text));
      expect(r.status, name).toBe(201);
      expect(r.body, name).toMatchObject({ name, mime: 'application/octet-stream', width: null, height: null, thumbnailUrl: null });
      const file = await get(r.body.url);
      expect(file.headers.get('content-type'), name).toBe('application/octet-stream');
      expect(file.headers.get('content-disposition'), name).toMatch(/^attachment; /);
    }
  });

  it('is for members only (403; unknown conversation 404); needs a named, non-empty file part (validation); over the limit a readable 413', async () => {
    const { a, cid } = await pair();
    const stranger = await register(t.url, 'zed');
    expect((await upload(stranger, cid, 'x.txt', new Uint8Array([1]))).status).toBe(403);
    expect((await upload(a, 'c99999999', 'x.txt', new Uint8Array([1]))).status).toBe(404);
    const empty = await upload(a, cid, 'empty.txt', new Uint8Array());
    expect([empty.status, empty.body.error.code]).toEqual([400, 'validation']);
    const wrongField = await upload(a, cid, 'x.txt', new Uint8Array([1]), 'document');
    expect([wrongField.status, wrongField.body.error.code]).toEqual([400, 'validation']);
    const notMultipart = await http(t.url, 'POST', `/api/conversations/${cid}/attachments`, { token: a.token, body: { file: 'x' } });
    expect([notMultipart.status, notMultipart.body.error.code]).toEqual([400, 'validation']);
    const before = filesOnDisk().length;
    const big = await upload(a, cid, 'big.bin', new Uint8Array(MAX + 1));
    expect([big.status, big.body.error.code]).toEqual([413, 'payload_too_large']);
    expect(filesOnDisk()).toHaveLength(before);
    // exactly the limit is fine
    expect((await upload(a, cid, 'fits.bin', new Uint8Array(MAX))).status).toBe(201);
  });
});

describe('upload, the edges', () => {
  it('reads the part named file whatever comes around it; a stray query next to a bearer token is no grant', async () => {
    const { a, cid } = await pair();
    const form = new FormData();
    form.append('before', new Blob([new Uint8Array([9, 9])]), 'other.bin');
    form.append('file', new Blob([new TextEncoder().encode('the one')]), 'wanted.txt');
    form.append('after', new Blob([new Uint8Array([7])]), 'another.bin');
    const res = await fetch(`${t.url}/api/conversations/${cid}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` }, body: form });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({ name: 'wanted.txt', size: 7 });
    expect((await get(`${body.url.split('?')[0]}?v=1`, a.token)).status).toBe(200);
  });

  it("an upload not sent yet is its uploader's alone: another member gets 404", async () => {
    const { a, b, cid } = await pair();
    const draft = (await upload(a, cid, 'draft.txt', new Uint8Array([1, 2, 3]))).body;
    expect((await get(draft.url.split('?')[0], a.token)).status).toBe(200);
    expect((await get(draft.url.split('?')[0], b.token)).status).toBe(404);
  });

  it('an image of more pixels than the limit (a decompression bomb) is refused on its header; an image that does not decode is a download', async () => {
    const { a, cid } = await pair();
    const bomb = await upload(a, cid, 'bomb.png', pngBomb(30_000));
    expect([bomb.status, bomb.body.error?.code]).toEqual([400, 'validation']);
    const broken = (await png(200, 100)).subarray(0, 120);
    const r = await upload(a, cid, 'broken.png', broken);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ mime: 'application/octet-stream', width: null, height: null, thumbnailUrl: null });
    // One that carries a GPS position it cannot be re-encoded without is refused, not kept with it.
    const gps = await jpegOrientation6WithGps(400, 200);
    const cut = await upload(a, cid, 'cut.jpg', gps.subarray(0, Math.floor(gps.length * 0.7)));
    expect([cut.status, cut.body.error?.code]).toEqual([400, 'validation']);
  });

  it('ignored parts cost nothing: 300 text fields of 1 MiB around the file are fine; past 1000 parts, 413', async () => {
    const { a, cid } = await pair();
    const big = 'x'.repeat(1024 * 1024);
    const form = new FormData();
    for (let i = 0; i < 150; i++) form.append(`note${i}`, big);
    form.append('file', new Blob([new TextEncoder().encode('kept')]), 'kept.txt');
    for (let i = 0; i < 150; i++) form.append(`tail${i}`, big);
    const res = await fetch(`${t.url}/api/conversations/${cid}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` }, body: form });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({ name: 'kept.txt', size: 4 });
    const many = new FormData();
    for (let i = 0; i < 1001; i++) many.append(`f${i}`, 'y');
    many.append('file', new Blob([new TextEncoder().encode('late')]), 'late.txt');
    const refused = await fetch(`${t.url}/api/conversations/${cid}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` }, body: many });
    const answer = await refused.json();
    expect([refused.status, answer.error?.code]).toEqual([413, 'payload_too_large']);
  });
});

describe('sending and downloading', () => {
  it('a message with only files; each member gets URLs with a grant of their own; a non-member is refused, even with a member\'s link once removed', async () => {
    const { a, b, cid } = await pair();
    const [sa, sb] = [await pool.connect(a), await pool.connect(b)];
    const img = (await upload(a, cid, 'pic.png', await png(64, 32))).body;
    const doc = (await upload(a, cid, 'doc.pdf', new TextEncoder().encode('%PDF-1.4\n%âãÏÓ\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'))).body;
    expect(doc.mime).toBe('application/pdf');
    const ack = await sa.call('message:send', { conversationId: cid, attachmentIds: [doc.id, img.id] });
    expect(ack.ok, JSON.stringify(ack)).toBe(true);
    expectMessage(ack.message);
    expect(ack.message.content).toBe('');
    expect(ack.message.attachments.map((x: any) => x.id)).toEqual([doc.id, img.id]);
    const [heard] = await sb.waitFor('message:new', (p) => p.message.id === ack.message.id);
    const mine = heard.message.attachments[1];
    expect(mine).toMatchObject({ id: img.id, width: 64, height: 32 });
    expect(new URL(mine.url, t.url).searchParams.get('u')).toBe(b.id);
    expect((await get(mine.url)).status).toBe(200);
    expect((await get(mine.thumbnailUrl)).status).toBe(200);
    const stranger = await register(t.url, 'zed');
    expect((await get(mine.url.split('?')[0], stranger.token)).status).toBe(403);
    // A link is judged as its user's, now: removed from the conversation, refused.
    expect((await http(t.url, 'DELETE', `/api/conversations/${cid}/members/${b.id}`, { token: a.token })).status).toBeLessThan(300);
    expect((await get(mine.url)).status).toBe(403);
    // A tampered grant is not one.
    expect((await get(mine.url.replace(/u=[^&]+/, `u=${a.id}`))).status).toBe(401);
  });

  it('refuses attachmentIds that are not the sender\'s unsent uploads to this conversation (validation), and content-less messages without files', async () => {
    const { a, b, cid } = await pair();
    const sa = await pool.connect(a);
    const theirs = (await upload(b, cid, 'b.txt', new Uint8Array([1, 2]))).body;
    const mine = (await upload(a, cid, 'a.txt', new Uint8Array([1, 2]))).body;
    for (const attachmentIds of [[theirs.id], ['a99999999'], [mine.id, mine.id], [], 'x', Array(11).fill(mine.id)]) {
      expectAckError(await sa.call('message:send', { conversationId: cid, content: 'x', attachmentIds }), 'validation');
    }
    for (const content of ['', undefined]) expectAckError(await sa.call('message:send', { conversationId: cid, content }), 'validation');
    expect((await sa.call('message:send', { conversationId: cid, content: 'with', attachmentIds: [mine.id] })).ok).toBe(true);
    expectAckError(await sa.call('message:send', { conversationId: cid, content: 'again', attachmentIds: [mine.id] }), 'validation');
  });

  it("deleting the message erases its files: their URLs answer 404 and the bytes leave storage", async () => {
    const { a, cid } = await pair();
    const sa = await pool.connect(a);
    const before = filesOnDisk();
    const img = (await upload(a, cid, 'gone.png', await png(400, 400))).body;
    if (TEST_STORE === 'sqlite') expect(filesOnDisk().length).toBe(before.length + 2); // the file and its thumbnail
    else {
      await rememberBlobs(img.id);
      expect(await chunksOf([img.id])).toBeGreaterThanOrEqual(2);
    }
    const m = (await sa.ok('message:send', { conversationId: cid, content: 'soon gone', attachmentIds: [img.id] })).message;
    const deleted = (await sa.ok('message:delete', { messageId: m.id })).message;
    expect(deleted.attachments).toEqual([]);
    expect((await get(img.url)).status).toBe(404);
    expect((await get(img.thumbnailUrl)).status).toBe(404);
    if (TEST_STORE === 'sqlite') expect(filesOnDisk().sort()).toEqual(before.sort());
    else expect(await chunksOf([img.id])).toBe(0);
  });
  it('a photo is kept without what it says beyond its pixels: EXIF (GPS, camera) gone from the file served, turned as shown, size that of the file kept', async () => {
    const { a, cid } = await pair();
    const bytes = await jpegOrientation6WithGps(400, 200);
    const r = await upload(a, cid, 'holiday.jpg', bytes);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ mime: 'image/jpeg', width: 200, height: 400 });
    const file = await get(r.body.url);
    expect(file.status).toBe(200);
    expect(r.body.size).toBe(file.bytes.length);
    const meta = await sharp(file.bytes).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    expect([meta.width, meta.height]).toEqual([200, 400]); // the pixels turned, as the photo was shown
    expect(Buffer.from(file.bytes).includes('Acme')).toBe(false);
  });
});

describe('search by attachment name', () => {
  it('finds a message by the names of its files, alone or with words of its content; highlights cover the content only', async () => {
    const { a, b, cid } = await pair();
    const sa = await pool.connect(a);
    const report = (await upload(a, cid, 'Quarterly-Report.pdf', new TextEncoder().encode('%PDF-1.4 not really'))).body;
    const m = (await sa.ok('message:send', { conversationId: cid, content: 'see attached', attachmentIds: [report.id] })).message;
    const search = async (who: Account, q: string) => {
      const res = await http(t.url, 'GET', `/api/search?q=${encodeURIComponent(q)}`, { token: who.token });
      expect(res.status).toBe(200);
      return (res.body as { results: { id: string; highlights: [number, number][] }[] }).results;
    };
    for (const who of [a, b]) {
      const byName = await search(who, 'quarterly');
      expect(byName.map((h) => h.id)).toEqual([m.id]);
      expect(byName[0]!.highlights).toEqual([]);
    }
    const both = await search(b, 'report attached');
    expect(both.map((h) => h.id)).toEqual([m.id]);
    expect(both[0]!.highlights).toEqual([[4, 12]]);
    const stranger = await register(t.url, 'xen');
    expect(await search(stranger, 'quarterly')).toEqual([]);
    await sa.ok('message:delete', { messageId: m.id });
    expect(await search(b, 'quarterly')).toEqual([]);
  });
});
