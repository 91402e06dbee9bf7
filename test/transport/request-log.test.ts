import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutGrant } from '../../src/transport/http/log-serializers.js';
import { group, register } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * The request log never holds an attachment URL's grant: whoever reads the
 * log could otherwise download the file for half a day.
 */
describe('the request log', () => {
  const lines: string[] = [];
  let server: TestServer;
  beforeAll(async () => {
    const logStream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    server = await startServer({ logLevel: 'info' }, { logStream });
  });
  afterAll(() => server?.close());

  it("names an attachment download without its grant; other URLs as they are", async () => {
    const [a, b] = [await register(server.url, 'loga'), await register(server.url, 'logb')];
    const cid = (await group(server.url, a, [b])).id as string;
    const form = new FormData();
    form.append('file', new Blob(['hello']), 'notes.txt');
    const res = await fetch(`${server.url}/api/conversations/${cid}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` }, body: form });
    const att = (await res.json()) as { id: string; url: string };
    expect(res.status).toBe(201);
    const grant = new URL(att.url, server.url).searchParams.get('s');
    expect(grant).toBeTruthy();
    expect((await fetch(server.url + att.url)).status).toBe(200);
    await fetch(`${server.url}/api/search?q=kept`, { headers: { authorization: `Bearer ${a.token}` } });
    const requests = lines.map((l) => JSON.parse(l) as { req?: { url?: string } }).flatMap((l) => (l.req?.url ? [l.req.url] : []));
    expect(requests).toContain(`/api/attachments/${att.id}?[grant]`);
    expect(requests).toContain('/api/search?q=kept');
    expect(lines.some((l) => l.includes(grant!))).toBe(false);
  });

  it('drops only the query of attachment paths', () => {
    expect(withoutGrant('/api/attachments/a1/thumbnail?u=x&e=1&s=y')).toBe('/api/attachments/a1/thumbnail?[grant]');
    expect(withoutGrant('/api/attachments/a1')).toBe('/api/attachments/a1');
    expect(withoutGrant('/api/search?q=s%3Dx')).toBe('/api/search?q=s%3Dx');
  });
});
