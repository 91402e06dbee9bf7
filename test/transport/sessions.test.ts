/**
 * Sessions (contract v1.1): every sign-in is a session of its own; logout
 * revokes the calling token, a password change every other one; a revoked
 * token is refused on REST and at the handshake, its sockets are
 * disconnected within a second, and revocations survive a restart.
 */
import { describe, expect, it } from 'vitest';
import { connect, http, register, type TestSocket } from '../helpers/client.js';
import { startServer, tempDir, useServer } from '../helpers/server.js';

const t = useServer();

const login = async (username: string, password: string) => http(t.url, 'POST', '/api/auth/login', { body: { username, password } });
const me = (token: string) => http(t.url, 'GET', '/api/users/me', { token });

/** Resolves when the server disconnects the socket (within `ms`). */
function disconnected(s: TestSocket, ms = 1000): Promise<string> {
  if (!s.socket.connected) return Promise.resolve('already');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still connected after ${ms} ms`)), ms);
    s.socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

describe('sessions', () => {
  it('every sign-in issues a token of its own, even two within one second', async () => {
    const a = await register(t.url, 'se');
    const [x, y] = await Promise.all([login(a.username, a.password), login(a.username, a.password)]);
    expect(x.status).toBe(200);
    expect(new Set([a.token, x.body.token, y.body.token]).size).toBe(3);
  });

  it('logout revokes the calling token only: 401 on REST, refused handshakes, its sockets disconnected within 1 s', async () => {
    const a = await register(t.url, 'lo');
    const other = (await login(a.username, a.password)).body.token as string;
    const mine = await connect(t.url, a.token);
    const theirs = await connect(t.url, other);
    try {
      const gone = disconnected(mine);
      const r = await http(t.url, 'POST', '/api/auth/logout', { token: a.token });
      expect(r.status).toBe(204);
      expect(await gone).toBe('io server disconnect');
      expect((await me(a.token)).status).toBe(401);
      expect((await http(t.url, 'POST', '/api/auth/logout', { token: a.token })).status).toBe(401);
      await expect(connect(t.url, a.token)).rejects.toThrow('unauthorized');
      // The other session is untouched.
      expect((await me(other)).status).toBe(200);
      await theirs.barrier();
      expect(theirs.socket.connected).toBe(true);
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('logout takes no body or {}, and refuses a request without a valid token', async () => {
    const a = await register(t.url, 'lb');
    expect((await http(t.url, 'POST', '/api/auth/logout', { token: a.token, body: {} })).status).toBe(204);
    expect((await http(t.url, 'POST', '/api/auth/logout', {})).status).toBe(401);
  });

  it('a password change needs the current password, follows the registration rule, and revokes every other session', async () => {
    const a = await register(t.url, 'pw');
    const other = (await login(a.username, a.password)).body.token as string;
    const theirs = await connect(t.url, other);
    const mine = await connect(t.url, a.token);
    try {
      const wrong = await http(t.url, 'POST', '/api/auth/password', { token: a.token, body: { currentPassword: 'not it', newPassword: 'a brand new one' } });
      expect(wrong.status).toBe(403);
      expect(wrong.body.error.code).toBe('forbidden');
      const short = await http(t.url, 'POST', '/api/auth/password', { token: a.token, body: { currentPassword: a.password, newPassword: 'short' } });
      expect(short.status).toBe(400);
      expect(short.body.error.code).toBe('validation');
      expect((await login(a.username, a.password)).status, 'nothing changed yet').toBe(200);

      const gone = disconnected(theirs);
      const ok = await http(t.url, 'POST', '/api/auth/password', { token: a.token, body: { currentPassword: a.password, newPassword: 'a brand new one' } });
      expect(ok.status).toBe(204);
      await gone;
      expect((await login(a.username, a.password)).status).toBe(401);
      expect((await login(a.username, 'a brand new one')).status).toBe(200);
      expect((await me(other)).status).toBe(401);
      // The calling session, and its socket, stay.
      expect((await me(a.token)).status).toBe(200);
      await mine.barrier();
      expect(mine.socket.connected).toBe(true);
    } finally {
      mine.close();
      theirs.close();
    }
  });
});

describe('a revocation that lands while a socket connects', () => {
  it('between the handshake\'s check and the socket joining its session\'s room: the socket is disconnected all the same', async () => {
    const a = await register(t.url, 'rc');
    const accounts = t.server.app.services.accounts;
    const authenticate = accounts.authenticate.bind(accounts);
    // The session is revoked (and its room told) just after the handshake checked it.
    accounts.authenticate = async (token) => {
      const session = await authenticate(token);
      if (session) await accounts.logout(session.sessionId);
      return session;
    };
    try {
      // The handshake passes (its check came first); the socket is dropped right after.
      const s = await connect(t.url, a.token);
      await disconnected(s, 2000);
      s.close();
      expect((await me(a.token)).status).toBe(401);
    } finally {
      accounts.authenticate = authenticate;
    }
  });
});

describe('sessions across a restart', () => {
  it('a revoked token stays revoked, and a live one stays live', async () => {
    const dataDir = tempDir();
    let server = await startServer({ dataDir });
    try {
      const a = await register(server.url, 'rs');
      const kept = (await http(server.url, 'POST', '/api/auth/login', { body: { username: a.username, password: a.password } })).body.token as string;
      expect((await http(server.url, 'POST', '/api/auth/logout', { token: a.token })).status).toBe(204);
      await server.close();
      server = await startServer({ dataDir });
      expect((await http(server.url, 'GET', '/api/users/me', { token: a.token })).status).toBe(401);
      expect((await http(server.url, 'GET', '/api/users/me', { token: kept })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
