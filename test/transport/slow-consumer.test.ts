/**
 * A socket that stops reading (issue #17): its unsent output is bounded
 * where output is produced. Once Engine.IO's write buffer plus the
 * WebSocket's buffered bytes pass the bound, the server disconnects it,
 * whether or not it sends anything itself, and the other sockets of the
 * conversation get everything meanwhile.
 */
import { describe, expect, it, vi } from 'vitest';
import { direct, http, register } from '../helpers/client.js';
import { useServer } from '../helpers/server.js';

const BOUND = 256 * 1024;
const GRACE = 300;
const t = useServer({}, { maxOutgoingBytes: BOUND, outputGraceMs: GRACE });
/** The same bound with a grace no test outlives: only the hard ceiling (4 × the bound) can drop a socket here. */
const patient = useServer({}, { maxOutgoingBytes: BOUND, outputGraceMs: 3_600_000 });

describe('a socket that stops reading', () => {
  it('a reading socket sent one answer bigger than the bound keeps its connection', async () => {
    const [a, b] = [await register(t.url, 'bg'), await register(t.url, 'bg')];
    const cid = (await direct(t.url, a, b)).id;
    const sa = await t.pool.connect(a);
    for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 10 }, () => sa.send(cid, 'y'.repeat(3900))));
    const sb = await t.pool.connect(b);
    const joined = await sb.ok('conversation:join', { conversationId: cid, limit: 100 });
    expect(JSON.stringify(joined).length).toBeGreaterThan(BOUND);
    // Past the grace, still connected and answering.
    await new Promise((r) => setTimeout(r, GRACE * 3));
    await sb.ok('conversation:join', { conversationId: cid, limit: 1 });
    expect(sb.socket.connected).toBe(true);
  });

  it('is disconnected once its unsent output passes the bound; a reading socket of the same user gets every message', async () => {
    const [a, b] = [await register(t.url, 'sl'), await register(t.url, 'sl')];
    const cid = (await direct(t.url, a, b)).id;
    const sa = await t.pool.connect(a);
    const slow = await t.pool.connect(b);
    const reader = await t.pool.connect(b);
    const slowId = slow.id;
    // Stop reading: the kernel's buffers fill, then the server's.
    const engine = slow.socket.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } };
    engine.transport.ws._socket.pause();

    const content = 'x'.repeat(3900);
    const gone = () => !t.server.app.io.of('/').sockets.has(slowId);
    let sent = 0;
    // At most ~40 MB: far past the bound and any loopback buffering.
    while (!gone() && sent < 10_000) {
      await Promise.all(Array.from({ length: 50 }, () => sa.send(cid, content)));
      sent += 50;
    }
    expect(gone(), `still connected after ${sent} messages`).toBe(true);
    await reader.waitFor('message:new', () => true, sent, 20_000);
    expect(reader.all('message:new')).toHaveLength(sent);

    const metrics = await http(t.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/^parley_slow_sockets_dropped_total 1$/m);
  });

  it('past 4 × the bound it is dropped at once, without waiting for the grace: a client asking for big answers while reading nothing cannot grow the buffer', async () => {
    const [a, b] = [await register(patient.url, 'hc'), await register(patient.url, 'hc')];
    const cid = (await direct(patient.url, a, b)).id;
    const sa = await patient.pool.connect(a);
    for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 10 }, () => sa.send(cid, 'z'.repeat(3900))));
    const slow = await patient.pool.connect(b);
    const slowId = slow.id;
    const engine = slow.socket.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } };
    engine.transport.ws._socket.pause();
    // Each join answers ~400 KB (100 messages of 3,900 bytes) that nobody reads.
    const gone = () => !patient.server.app.io.of('/').sockets.has(slowId);
    let asked = 0;
    while (!gone() && asked < 200) {
      slow.socket.emit('conversation:join', { conversationId: cid, limit: 100 }, () => {});
      asked++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await vi.waitFor(() => expect(gone()).toBe(true), { timeout: 10_000, interval: 20 });
    // Dropped by the ceiling (4 × 256 KiB ≈ 3 answers, plus what the kernel took), long before 200 answers.
    expect(asked).toBeLessThan(200);
    const metrics = await http(patient.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/^parley_slow_sockets_dropped_total 1$/m);
  });
});
