/**
 * The local Web Push service (test/helpers/push-service.ts) against the real
 * `web-push` library: TLS with a test CA (checks on), aes128gcm decryption,
 * VAPID verification, and the answers a push service gives.
 */
import webpush, { WebPushError } from 'web-push';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PushService } from '../helpers/push-service.js';

const vapidKeys = webpush.generateVAPIDKeys();
const vapidDetails = { subject: 'mailto:ops@example.com', publicKey: vapidKeys.publicKey, privateKey: vapidKeys.privateKey };

let service: PushService;
beforeAll(async () => {
  service = await PushService.start();
});
afterAll(() => service?.close());
beforeEach(() => {
  service.received.length = 0;
  service.errors.length = 0;
  service.answers = [];
  service.maxBodyBytes = 4096;
});

function send(sub: webpush.PushSubscription, payload: string | null, extra: webpush.RequestOptions = {}) {
  return webpush.sendNotification(sub, payload, {
    vapidDetails,
    TTL: 60,
    urgency: 'high',
    topic: 'c1',
    agent: service.agent(),
    ...extra,
  });
}

describe('PushService', () => {
  it('receives, decrypts and verifies a push from web-push', async () => {
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).not.toBe('0');
    const sub = service.subscribe();
    expect(sub.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/push\/[\w-]+$/);
    expect(Buffer.from(sub.keys.p256dh, 'base64url')).toHaveLength(65);
    expect(Buffer.from(sub.keys.auth, 'base64url')).toHaveLength(16);

    const sent = { type: 'message', channel: 'c1', text: 'héllo 👋' };
    // A subscription that went through JSON (as a server stores it) still works: matched by path.
    const result = await send(JSON.parse(JSON.stringify(sub)), JSON.stringify(sent));
    expect(result.statusCode).toBe(201);
    expect(result.headers.location).toMatch(new RegExp(`^${service.origin}/message/`));

    const [msg] = await service.waitFor(1);
    expect(msg!.subscription).toBe(sub);
    expect(msg!.payload).toEqual(sent);
    expect(msg!.raw.toString('utf8')).toBe(JSON.stringify(sent));
    expect(msg!.status).toBe(201);
    expect(msg!.headers.ttl).toBe('60');
    expect(msg!.headers.urgency).toBe('high');
    expect(msg!.headers.topic).toBe('c1');
    expect(msg!.headers['content-encoding']).toBe('aes128gcm');
    expect(msg!.headers.authorization).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
    // aes128gcm: 86-byte header (salt, rs, keyid = sender's 65-byte key) + text + 1 delimiter + 16 tag.
    expect(msg!.encryptedBytes).toBe(86 + Buffer.byteLength(JSON.stringify(sent)) + 17);
    expect(msg!.vapid).toMatchObject({ audience: service.origin, subject: 'mailto:ops@example.com', publicKey: vapidKeys.publicKey });
    expect(service.errors).toEqual([]);
  });

  it('matches pushes to their subscription and accepts a push without payload', async () => {
    const a = service.subscribe();
    const b = service.subscribe({ applicationServerKey: vapidKeys.publicKey });
    await Promise.all([send(a, 'plain text'), send(b, null)]);
    await service.waitFor(2);
    expect(service.receivedFor(a).map((m) => m.payload)).toEqual(['plain text']);
    expect(service.receivedFor(b).map((m) => [m.payload, m.raw.length, m.encryptedBytes])).toEqual([[null, 0, 0]]);
  });

  it('answers the queued statuses: 410 rejects with a WebPushError, then 500, then 201', async () => {
    const sub = service.subscribe();
    service.answers = [410, 500];
    const gone = await send(sub, '{"n":1}').catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(WebPushError);
    expect((gone as WebPushError).statusCode).toBe(410);
    expect((gone as WebPushError).endpoint).toBe(sub.endpoint);
    await expect(send(sub, '{"n":2}')).rejects.toMatchObject({ statusCode: 500 });
    await expect(send(sub, '{"n":3}')).resolves.toMatchObject({ statusCode: 201 });
    // Every request is recorded, whatever it was answered.
    expect(service.received.map((m) => [m.payload, m.status])).toEqual([
      [{ n: 1 }, 410],
      [{ n: 2 }, 500],
      [{ n: 3 }, 201],
    ]);
  });

  it('answerFor: a subscription that is gone answers 404 every time', async () => {
    const gone = service.subscribe();
    const alive = service.subscribe();
    service.answerFor(gone, 404);
    await expect(send(gone, 'x')).rejects.toMatchObject({ statusCode: 404 });
    await expect(send(gone, 'y')).rejects.toMatchObject({ statusCode: 404 });
    await expect(send(alive, 'z')).resolves.toMatchObject({ statusCode: 201 });
    expect(service.received.map((m) => [m.payload, m.status])).toEqual([
      ['x', 404],
      ['y', 404],
      ['z', 201],
    ]);
  });

  it('payload size: web-push does not refuse large payloads; the service answers 413 past a 4096-byte body', async () => {
    // Observed with web-push 3.6.7: it has no size check of its own (4078 = 4096 - 2
    // pad - 16 tag is the legacy aesgcm record's limit, not enforced either). With
    // aes128gcm a 4096-byte body holds 4096 - 86 header - 1 delimiter - 16 tag =
    // 3993 bytes of payload; push services answer 413 above that (RFC 8030 §7.2).
    const sub = service.subscribe();
    await expect(send(sub, 'a'.repeat(3993))).resolves.toMatchObject({ statusCode: 201 });
    await expect(send(sub, 'b'.repeat(4000))).rejects.toMatchObject({ statusCode: 413 });
    expect(service.received.map((m) => [m.encryptedBytes, m.status, (m.payload as string).length])).toEqual([
      [4096, 201, 3993],
      [4103, 413, 4000],
    ]);
    // Past 4079 bytes web-push splits into several 4096-byte records; still decrypts here.
    service.maxBodyBytes = Infinity;
    await expect(send(sub, 'c'.repeat(5000))).resolves.toMatchObject({ statusCode: 201 });
    const big = service.received[2]!;
    expect(big.raw.length).toBe(5000);
    expect(big.encryptedBytes).toBe(86 + 4096 + (5000 - 4079) + 17);
  });

  it('rejects a VAPID token made for another audience (401) and waitFor reports it', async () => {
    const sub = service.subscribe();
    const { Authorization } = webpush.getVapidHeaders(
      'https://push.example.net',
      vapidDetails.subject,
      vapidDetails.publicKey,
      vapidDetails.privateKey,
      'aes128gcm',
    );
    const err = await webpush
      .sendNotification(sub, 'x', { headers: { Authorization }, agent: service.agent() })
      .catch((e: unknown) => e);
    expect((err as WebPushError).statusCode).toBe(401);
    expect(service.received).toEqual([]);
    await expect(service.waitFor(1)).rejects.toThrow(/aud is https:\/\/push\.example\.net, not https:\/\/127\.0\.0\.1/);
  });

  it('rejects a push signed with a key other than the applicationServerKey (403)', async () => {
    const sub = service.subscribe({ applicationServerKey: webpush.generateVAPIDKeys().publicKey });
    await expect(send(sub, 'x')).rejects.toMatchObject({ statusCode: 403 });
    expect(service.errors[0]?.message).toMatch(/applicationServerKey/);
  });

  it('keeps certificate checks on: a sender without the agent fails on the certificate', async () => {
    const sub = service.subscribe();
    const err = await webpush.sendNotification(sub, 'x', { vapidDetails }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(WebPushError);
    expect((err as NodeJS.ErrnoException).code).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
    expect(service.received).toEqual([]);
  });

  it('waitFor times out with a clear message', async () => {
    await expect(service.waitFor(1, 50)).rejects.toThrow('PushService: waited 50 ms for 1 push message(s), got 0');
  });
});
