import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { http, register, uniqueName, type Account } from '../helpers/client.js';
import { expectError } from '../helpers/shapes.js';

/** Health, metrics, the web client's page, and what every route shares. Contract: "One process, one port", "Common shapes". */

let server: TestServer;
let account: Account;

beforeAll(async () => {
  server = await startServer();
  account = await register(server.url, 'sys');
});
afterAll(async () => {
  await server?.close();
});

// ---- /health ------------------------------------------------------------------

describe('GET /health', () => {
  it('answers 200 {"status":"ok"} while the store answers', async () => {
    const r = await http(server.url, 'GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('needs no token', async () => {
    const r = await http(server.url, 'GET', '/health', { headers: { authorization: 'Bearer garbage' } });
    expect(r.status).toBe(200);
  });

  describe('when the store does not answer', () => {
    // A server of its own: closing its store breaks everything else on it.
    let broken: TestServer;
    beforeAll(async () => {
      broken = await startServer();
    });
    afterAll(async () => {
      await broken?.close();
    });

    it('answers 503 {error:{code:"unavailable"}} with data.retryAfter', async () => {
      expect((await http(broken.url, 'GET', '/health')).status).toBe(200);
      await broken.app.store.close();
      const r = await http(broken.url, 'GET', '/health');
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ error: { code: 'unavailable', message: expect.any(String), data: { retryAfter: expect.any(Number) } } });
      expect(r.body.error.message.trim()).not.toBe('');
      expect(r.body.error.data.retryAfter).toBeGreaterThan(0);
    });
  });
});

// ---- the web client --------------------------------------------------------------

describe('the web client', () => {
  it('GET / redirects (302) to /messages', async () => {
    const r = await http(server.url, 'GET', '/');
    expect(r.status).toBe(302);
    expect(new URL(r.headers.get('location') ?? '', server.url).pathname).toBe('/messages');
  });

  it('GET /messages is an HTML page', async () => {
    const r = await http(server.url, 'GET', '/messages');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(String(r.body)).toMatch(/<html[\s>]/i);
  });
});

// ---- /metrics --------------------------------------------------------------------

describe('GET /metrics with METRICS_TOKEN', () => {
  let guarded: TestServer;
  beforeAll(async () => {
    guarded = await startServer({ metricsToken: 'scrape-secret-123' });
  });
  afterAll(() => guarded?.close());

  it('answers only the bearer of the token (401 otherwise), and the rest of the server is unchanged', async () => {
    for (const token of [undefined, 'wrong', 'scrape-secret-12', 'scrape-secret-1234']) {
      const r = await http(guarded.url, 'GET', '/metrics', token ? { token } : {});
      expect(r.status, String(token)).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
    const ok = await http(guarded.url, 'GET', '/metrics', { token: 'scrape-secret-123' });
    expect(ok.status).toBe(200);
    expect(String(ok.body)).toContain('parley_');
    expect((await http(guarded.url, 'GET', '/health')).status).toBe(200);
  });
});

describe('GET /metrics', () => {
  it('is Prometheus text with parley_ samples', async () => {
    const r = await http(server.url, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = String(r.body);
    expect(text).toMatch(/^# HELP parley_\w+ /m);
    expect(text).toMatch(/^# TYPE parley_\w+ (counter|gauge|histogram|summary|untyped)$/m);
    expect(text).toMatch(/^parley_\w+(\{[^}]*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$/m);
  });

  it('counts HTTP errors by code', async () => {
    const sample = async () => {
      const text = String((await http(server.url, 'GET', '/metrics')).body);
      const m = /^parley_http_errors_total\{code="not_found"\} (\d+)$/m.exec(text);
      return m ? Number(m[1]) : 0;
    };
    const before = await sample();
    await http(server.url, 'GET', '/api/no-such-thing', { token: account.token });
    expect(await sample()).toBe(before + 1);
  });
});

// ---- common error shapes ---------------------------------------------------------------

describe('unknown routes', () => {
  it('an unknown /api route is a JSON 404 not_found', async () => {
    expectError(await http(server.url, 'GET', '/api/no-such-thing', { token: account.token }), 404, 'not_found');
    expectError(await http(server.url, 'POST', '/api/conversations/c1/nope', { token: account.token, body: {} }), 404, 'not_found');
  });

  it('an unknown /api route is 404 without a token too', async () => {
    expectError(await http(server.url, 'GET', '/api/no-such-thing'), 404, 'not_found');
  });

  it('a known path with a method it does not take is a JSON 404', async () => {
    expectError(await http(server.url, 'DELETE', '/api/users/me', { token: account.token }), 404, 'not_found');
  });
});

describe('request bodies', () => {
  it('a body over 1 MiB is 413 payload_too_large', async () => {
    const body = { username: uniqueName('big'), password: 'password-1', displayName: 'x'.repeat(1024 * 1024 + 16) };
    expectError(await http(server.url, 'POST', '/api/auth/register', { body }), 413, 'payload_too_large');
  });

  it('a body over 1 MiB is 413 on an authenticated route too', async () => {
    const body = { displayName: 'y', padding: 'x'.repeat(1024 * 1024 + 16) };
    expectError(await http(server.url, 'PATCH', '/api/users/me', { token: account.token, body }), 413, 'payload_too_large');
  });

  it('a body just under 1 MiB is read (not 413)', async () => {
    const filler = 'x'.repeat(1024 * 1024 - 200);
    const r = await http(server.url, 'POST', '/api/auth/login', { body: { username: account.username, password: account.password, filler } });
    expect(r.status).toBe(200);
  });

  it('malformed JSON is 400 validation', async () => {
    expectError(await http(server.url, 'POST', '/api/auth/login', { raw: '{"username": "a",' }), 400, 'validation');
    expectError(await http(server.url, 'POST', '/api/auth/register', { raw: "{'single': 'quotes'}" }), 400, 'validation');
    expectError(
      await http(server.url, 'POST', '/api/conversations', { token: account.token, raw: '{"type":"group",,}' }),
      400,
      'validation',
    );
  });

  it('a body that is not JSON is a 4xx error with the error shape', async () => {
    const r = await http(server.url, 'POST', '/api/auth/login', {
      raw: 'username=a&password=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(Object.keys(r.body)).toEqual(['error']);
    expect(typeof r.body.error.code).toBe('string');
    expect(r.body.error.message.trim()).not.toBe('');
  });
});

describe('a bug in a handler', () => {
  it('answers 500 internal with a plain sentence, no stack or message of the error, and the server goes on', async () => {
    const s = await startServer();
    try {
      const a = await register(s.url);
      const accounts = s.app.services.accounts;
      const me = accounts.me.bind(accounts);
      accounts.me = async () => {
        throw new Error('secret detail at /srv/app.js:42');
      };
      const r = await http(s.url, 'GET', '/api/users/me', { token: a.token });
      expectError(r, 500, 'internal');
      expect(JSON.stringify(r.body)).not.toMatch(/secret detail|app\.js|stack/);
      accounts.me = me;
      expect((await http(s.url, 'GET', '/api/users/me', { token: a.token })).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

// ---- security headers -----------------------------------------------------------

describe('security headers', () => {
  it('every response carries them: the web client page, API answers and errors alike', async () => {
    for (const [path, token] of [
      ['/messages', undefined],
      ['/api/users/me', account.token],
      ['/api/users/me', undefined], // a 401
    ] as const) {
      const r = await http(server.url, 'GET', path, token ? { token } : {});
      expect(r.status, path).toBe(path === '/messages' ? 200 : token ? 200 : 401);
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).toContain("script-src 'self'");
      // Only its own server, WebSocket included (CSP 3's 'self'): no other host.
      expect(csp, path).toMatch(/connect-src 'self'(;|$)/);
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(r.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(r.headers.get('x-frame-options'), path).toBe('SAMEORIGIN');
      expect(r.headers.get('x-powered-by'), path).toBeNull();
    }
  });
});
