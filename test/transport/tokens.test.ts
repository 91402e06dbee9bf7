import fs from 'node:fs';
import path from 'node:path';
import { createSigner, createDecoder } from 'fast-jwt';
import { describe, expect, it } from 'vitest';
import { connect, http, register } from '../helpers/client.js';
import { startServer, tempDir, TEST_STORE } from '../helpers/server.js';

describe('tokens', () => {
  it('expire after TOKEN_TTL_SECONDS, and an expired token is refused on REST and sockets', async () => {
    const server = await startServer({ tokenTtlSeconds: 3600 });
    try {
      const a = await register(server.url);
      const claims = createDecoder()(a.token) as { sub: string; iat: number; exp: number };
      expect(claims.sub).toBe(a.id);
      expect(claims.exp - claims.iat).toBe(3600);

      // The same secret, but an expiry in the past.
      const secret = server.config.jwtSecret || fs.readFileSync(path.join(server.dataDir, 'jwt-secret'), 'utf8').trim();
      const expired = createSigner({ key: secret, algorithm: 'HS256' })({ sub: a.id, iat: 1000, exp: 2000 });
      const r = await http(server.url, 'GET', '/api/users/me', { token: expired });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
      await expect(connect(server.url, expired)).rejects.toThrow('unauthorized');

      // A token signed with another secret is refused too.
      const forged = createSigner({ key: 'x'.repeat(48), algorithm: 'HS256' })({ sub: a.id });
      expect((await http(server.url, 'GET', '/api/users/me', { token: forged })).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it('an open socket whose token expires is refused (unauthorized) and disconnected at its next event', async () => {
    let now = Date.now();
    const server = await startServer({ tokenTtlSeconds: 3600 }, { now: () => now });
    try {
      const a = await register(server.url);
      const s = await connect(server.url, a.token);
      const gone = new Promise((resolve) => s.socket.once('disconnect', resolve));
      expect((await s.call('conversation:leave', { conversationId: 'c1' })).ok).toBe(true);
      now += 3601 * 1000;
      expect(await s.call('conversation:leave', { conversationId: 'c1' })).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
      await gone;
    } finally {
      await server.close();
    }
  });

  // A node of a cluster (the postgres project) must be given JWT_SECRET: a generated secret is a single node's.
  it.skipIf(TEST_STORE !== 'sqlite')('with no JWT_SECRET, the generated secret is kept in DATA_DIR (mode 0600) and reused', async () => {
    const dataDir = tempDir();
    let server = await startServer({ dataDir });
    const a = await register(server.url);
    await server.close();
    const file = path.join(dataDir, 'jwt-secret');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    server = await startServer({ dataDir });
    try {
      expect((await http(server.url, 'GET', '/api/users/me', { token: a.token })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it.skipIf(TEST_STORE !== 'sqlite')('refuses to start on an empty or short jwt-secret file, naming it, instead of signing with a weak key', async () => {
    for (const content of ['', 'short\n']) {
      const dataDir = tempDir();
      fs.writeFileSync(path.join(dataDir, 'jwt-secret'), content);
      await expect(startServer({ dataDir })).rejects.toThrow(/jwt-secret holds no usable secret/);
    }
  });

  it('with JWT_SECRET set, tokens hold across restarts with that secret and not with another', async () => {
    const dataDir = tempDir();
    const secret = 's'.repeat(40);
    let server = await startServer({ dataDir, jwtSecret: secret });
    const a = await register(server.url);
    await server.close();
    expect(fs.existsSync(path.join(dataDir, 'jwt-secret'))).toBe(false);
    server = await startServer({ dataDir, jwtSecret: secret });
    expect((await http(server.url, 'GET', '/api/users/me', { token: a.token })).status).toBe(200);
    await server.close();
    server = await startServer({ dataDir, jwtSecret: 't'.repeat(40) });
    try {
      expect((await http(server.url, 'GET', '/api/users/me', { token: a.token })).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  // (Read from the SQLite file; the hashing is the domain's, the same on every store.)
  it.skipIf(TEST_STORE !== 'sqlite')('passwords are stored as scrypt hashes, never in clear', async () => {
    const server = await startServer();
    try {
      const a = await register(server.url);
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(server.config.dbPath, { readonly: true });
      const row = db.prepare('SELECT password_hash FROM users WHERE username = ?').get(a.username) as { password_hash: string };
      db.close();
      expect(row.password_hash).toMatch(/^scrypt\$1024\$8\$1\$/);
      expect(row.password_hash).not.toContain(a.password);
    } finally {
      await server.close();
    }
  });
});
