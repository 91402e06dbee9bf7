import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, register, type Account } from '../helpers/client.js';
import { PushService } from '../helpers/push-service.js';
import { useServer } from '../helpers/server.js';

/**
 * Web Push subscriptions and the previews choice through the real server
 * (issue #19). What is pushed, and when: test/notify/web-push.test.ts.
 */

let service: PushService;
beforeAll(async () => {
  service = await PushService.start();
});
afterAll(() => service?.close());

const t = useServer({ pushEndpointHosts: '127.0.0.1' });

const api = (who: Account, method: string, path: string, body?: unknown) => http(t.url, method, path, { token: who.token, body });

describe('Web Push subscriptions', () => {
  it("serves the server's VAPID public key (a P-256 point) to signed-in users", async () => {
    const a = await register(t.url, 'pk');
    const r = await api(a, 'GET', '/api/push/key');
    expect(r.status).toBe(200);
    const key = Buffer.from(r.body.publicKey, 'base64url');
    expect([key.length, key[0]]).toEqual([65, 4]);
    expect((await http(t.url, 'GET', '/api/push/key')).status).toBe(401);
  });

  it("keeps a browser's subscription (201), forgets it on DELETE (204, then 404); another user's is not theirs to delete", async () => {
    const [a, b] = [await register(t.url, 'psa'), await register(t.url, 'psb')];
    const sub = service.subscribe();
    const r = await api(a, 'POST', '/api/push/subscriptions', sub);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(await t.server.app.store.pushSubscriptionsOf([a.user.id], Date.now())).toMatchObject([{ endpoint: sub.endpoint, p256dh: sub.keys.p256dh, auth: sub.keys.auth }]);
    expect((await api(b, 'DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint })).status).toBe(404);
    expect((await api(a, 'DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint })).status).toBe(204);
    expect((await api(a, 'DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint })).status).toBe(404);
    expect(await t.server.app.store.pushSubscriptionsOf([a.user.id], Date.now())).toEqual([]);
  });

  it('ends with the session it was made in: after logout it is not used', async () => {
    const a = await register(t.url, 'psl');
    const sub = service.subscribe();
    expect((await api(a, 'POST', '/api/push/subscriptions', sub)).status).toBe(201);
    expect(await t.server.app.store.pushSubscriptionsOf([a.user.id], Date.now())).toHaveLength(1);
    expect((await api(a, 'POST', '/api/auth/logout')).status).toBeLessThan(300);
    expect(await t.server.app.store.pushSubscriptionsOf([a.user.id], Date.now())).toEqual([]);
  });

  it('refuses endpoints that are not https on an allowed host, and keys that are not a P-256 key and a 16-byte secret (validation)', async () => {
    const a = await register(t.url, 'psv');
    const good = service.subscribe();
    const bad = [
      { ...good, endpoint: good.endpoint.replace('https:', 'http:') },
      { ...good, endpoint: 'https://10.0.0.1/push/x' },
      { ...good, endpoint: 'https://internal.example/push' },
      { ...good, endpoint: 'not a url' },
      { ...good, endpoint: good.endpoint.replace('https://', 'https://user:pw@') },
      { ...good, keys: { ...good.keys, p256dh: Buffer.alloc(65, 4).toString('base64url').slice(0, 40) } },
      { ...good, keys: { ...good.keys, p256dh: Buffer.alloc(65, 2).toString('base64url') } },
      { ...good, keys: { ...good.keys, auth: Buffer.alloc(8).toString('base64url') } },
      { ...good, keys: { ...good.keys, auth: '!!!!' } },
      { endpoint: good.endpoint },
      {},
    ];
    for (const body of bad) {
      const r = await api(a, 'POST', '/api/push/subscriptions', body);
      expect([r.status, r.body.error?.code], JSON.stringify(body)).toEqual([400, 'validation']);
    }
    expect(await t.server.app.store.pushSubscriptionsOf([a.user.id], Date.now())).toEqual([]);
  });
});

describe('previews', () => {
  it('are on until the user turns them off', async () => {
    const a = await register(t.url, 'pv');
    expect((await api(a, 'GET', '/api/users/me/notifications')).body).toEqual({ previews: true });
    const r = await api(a, 'PUT', '/api/users/me/notifications', { previews: false });
    expect([r.status, r.body]).toEqual([200, { previews: false }]);
    expect((await api(a, 'GET', '/api/users/me/notifications')).body).toEqual({ previews: false });
    for (const body of [{}, { previews: 'no' }, { previews: null }]) {
      expect((await api(a, 'PUT', '/api/users/me/notifications', body)).status).toBe(400);
    }
  });
});
