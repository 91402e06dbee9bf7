import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from 'fast-jwt';
import { useServer } from '../helpers/server.js';
import { http, register, uniqueName, type Account, type HttpResult } from '../helpers/client.js';
import { expectError, expectUser } from '../helpers/shapes.js';

/** REST accounts: register, login, bearer tokens, /api/users. Contract: "Accounts". */

const t = useServer();
const { pool } = t;

// ---- helpers ------------------------------------------------------------------

const post = (path: string, body: unknown, token?: string) => http(t.server.url, 'POST', path, { body, token });
const get = (path: string, token?: string) => http(t.server.url, 'GET', path, { token });
const registerRaw = (body: unknown) => post('/api/auth/register', body);

const password = () => 'pw-' + uniqueName('p');
const nameOfLength = (n: number) => {
  const base = uniqueName('n').replace(/[^A-Za-z0-9]/g, '');
  return (base + 'x'.repeat(n)).slice(0, n);
};

// ---- register -----------------------------------------------------------------

describe('POST /api/auth/register', () => {
  it('answers 201 {user, token} and the user has the User shape', async () => {
    const username = uniqueName('reg');
    const r = await registerRaw({ username, password: password(), displayName: 'Ada Lovelace' });
    expect(r.status).toBe(201);
    expect(Object.keys(r.body).sort()).toEqual(['token', 'user']);
    expectUser(r.body.user);
    expect(r.body.user).toMatchObject({ username, displayName: 'Ada Lovelace', online: false, lastSeenAt: null });
    expect(typeof r.body.token).toBe('string');
    expect(r.body.token.length).toBeGreaterThan(10);
  });

  it('keeps the username as given (case preserved)', async () => {
    const username = 'MiXeD_' + uniqueName('c');
    const r = await registerRaw({ username, password: password() });
    expect(r.status).toBe(201);
    expect(r.body.user.username).toBe(username);
  });

  it('defaults displayName to the username', async () => {
    const username = uniqueName('dflt');
    const r = await registerRaw({ username, password: password() });
    expect(r.status).toBe(201);
    expect(r.body.user.displayName).toBe(username);
  });

  it('gives each account its own id', async () => {
    const a = await register(t.server.url);
    const b = await register(t.server.url);
    expect(a.id).not.toBe(b.id);
  });

  it('rejects a blank or too long displayName', async () => {
    expectError(await registerRaw({ username: uniqueName(), password: password(), displayName: '   ' }), 400, 'validation');
    expectError(await registerRaw({ username: uniqueName(), password: password(), displayName: 'd'.repeat(65) }), 400, 'validation');
    expectError(await registerRaw({ username: uniqueName(), password: password(), displayName: 42 }), 400, 'validation');
  });

  describe('username: 3–32 of [A-Za-z0-9_.-]', () => {
    it.each([3, 32])('accepts length %i', async (n) => {
      const username = nameOfLength(n);
      const r = await registerRaw({ username, password: password() });
      expect(r.status).toBe(201);
      expect(r.body.user.username).toBe(username);
    });

    it.each([0, 1, 2, 33, 100])('rejects length %i', async (n) => {
      expectError(await registerRaw({ username: nameOfLength(n), password: password() }), 400, 'validation');
    });

    it('accepts every allowed character: letters, digits, _ . -', async () => {
      const username = `aZ09_.-${uniqueName('k').replace(/_/g, '')}`.slice(0, 32);
      const r = await registerRaw({ username, password: password() });
      expect(r.status).toBe(201);
      expect(r.body.user.username).toBe(username);
    });

    it.each([
      ['a space', 'abc def'],
      ['@', 'abc@def'],
      ['/', 'abc/def'],
      ['+', 'abc+def'],
      ['a non-ASCII letter', 'abcdéf'],
      ['an emoji', 'abc😀def'],
      ['a newline', 'abc\ndef'],
      ['a leading space', ' abcdef'],
      ['a NUL', 'abc\u0000def'],
    ])('rejects %s', async (_what, username) => {
      expectError(await registerRaw({ username, password: password() }), 400, 'validation');
    });

    it.each([
      ['a number', 12345],
      ['null', null],
      ['a boolean', true],
      ['an array', ['abcdef']],
      ['an object', { name: 'abcdef' }],
    ])('rejects %s instead of a string', async (_what, username) => {
      expectError(await registerRaw({ username, password: password() }), 400, 'validation');
    });

    it('is unique ignoring case (409 conflict)', async () => {
      const username = 'Case_' + uniqueName('dup');
      expect((await registerRaw({ username, password: password() })).status).toBe(201);
      expectError(await registerRaw({ username, password: password() }), 409, 'conflict');
      expectError(await registerRaw({ username: username.toUpperCase(), password: password() }), 409, 'conflict');
      expectError(await registerRaw({ username: username.toLowerCase(), password: password() }), 409, 'conflict');
    });

    it('a refused duplicate does not replace the first account', async () => {
      const username = uniqueName('keep');
      const first = password();
      expect((await registerRaw({ username, password: first })).status).toBe(201);
      expect((await registerRaw({ username: username.toUpperCase(), password: password() })).status).toBe(409);
      expect((await post('/api/auth/login', { username, password: first })).status).toBe(200);
    });
  });

  describe('password: 8–128 characters', () => {
    it.each([8, 128])('accepts length %i', async (n) => {
      const username = uniqueName();
      const pw = 'p'.repeat(n);
      expect((await registerRaw({ username, password: pw })).status).toBe(201);
      expect((await post('/api/auth/login', { username, password: pw })).status).toBe(200);
    });

    it.each([0, 7, 129, 1000])('rejects length %i', async (n) => {
      expectError(await registerRaw({ username: uniqueName(), password: 'p'.repeat(n) }), 400, 'validation');
    });

    it.each([
      ['a number', 12345678],
      ['null', null],
      ['an array', ['password1']],
      ['an object', { pw: 'password1' }],
    ])('rejects %s instead of a string', async (_what, pw) => {
      expectError(await registerRaw({ username: uniqueName(), password: pw }), 400, 'validation');
    });
  });

  describe('the body', () => {
    it('rejects a missing username or password', async () => {
      expectError(await registerRaw({ password: password() }), 400, 'validation');
      expectError(await registerRaw({ username: uniqueName() }), 400, 'validation');
      expectError(await registerRaw({}), 400, 'validation');
    });

    it.each([
      ['an array', []],
      ['a string', 'hello'],
      ['a number', 42],
      ['null', null],
    ])('rejects %s as the body', async (_what, body) => {
      expectError(await http(t.server.url, 'POST', '/api/auth/register', { raw: JSON.stringify(body) }), 400, 'validation');
    });

    it('rejects malformed JSON', async () => {
      expectError(await http(t.server.url, 'POST', '/api/auth/register', { raw: '{"username": "abc", ' }), 400, 'validation');
    });

    it('rejects an empty JSON body', async () => {
      expectError(await http(t.server.url, 'POST', '/api/auth/register', { raw: '' }), 400, 'validation');
    });

    it('a refused registration creates no account', async () => {
      const username = uniqueName('nope');
      expect((await registerRaw({ username, password: 'short' })).status).toBe(400);
      expect((await registerRaw({ username, password: password() })).status).toBe(201);
    });
  });
});

// ---- login --------------------------------------------------------------------

describe('POST /api/auth/login', () => {
  it('answers 200 {user, token} for the right password', async () => {
    const a = await register(t.server.url, 'login');
    const r = await post('/api/auth/login', { username: a.username, password: a.password });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['token', 'user']);
    expectUser(r.body.user);
    expect(r.body.user.id).toBe(a.id);
    expect(r.body.user.username).toBe(a.username);
  });

  it('issues a token that works on GET /api/users/me', async () => {
    const a = await register(t.server.url, 'login');
    const r = await post('/api/auth/login', { username: a.username, password: a.password });
    const me = await get('/api/users/me', r.body.token);
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(a.id);
  });

  it('refuses a wrong password with 401 unauthorized', async () => {
    const a = await register(t.server.url, 'login');
    expectError(await post('/api/auth/login', { username: a.username, password: a.password + 'x' }), 401, 'unauthorized');
    expectError(await post('/api/auth/login', { username: a.username, password: a.password.toUpperCase() }), 401, 'unauthorized');
  });

  it('refuses an unknown username with 401 unauthorized', async () => {
    expectError(await post('/api/auth/login', { username: uniqueName('ghost'), password: 'whatever-123' }), 401, 'unauthorized');
  });

  it('says the same thing for an unknown user and a wrong password', async () => {
    const a = await register(t.server.url, 'login');
    const wrong = await post('/api/auth/login', { username: a.username, password: 'not-the-password' });
    const unknown = await post('/api/auth/login', { username: uniqueName('ghost'), password: 'not-the-password' });
    expect(wrong.body).toEqual(unknown.body);
  });

  it('rejects a malformed body with 400 validation', async () => {
    expectError(await post('/api/auth/login', { username: 'abc' }), 400, 'validation');
    expectError(await post('/api/auth/login', { username: 123, password: 'password1' }), 400, 'validation');
    expectError(await http(t.server.url, 'POST', '/api/auth/login', { raw: '{nope' }), 400, 'validation');
  });
});

// ---- bearer tokens ------------------------------------------------------------

describe('Authorization: Bearer <token>', () => {
  let a: Account;
  let b: Account;
  beforeAll(async () => {
    a = await register(t.server.url, 'tok');
    b = await register(t.server.url, 'tok');
  });

  const me = (authorization?: string) =>
    http(t.server.url, 'GET', '/api/users/me', { headers: authorization === undefined ? {} : { authorization } });

  it('the token of a user is that user on GET /api/users/me', async () => {
    const r = await get('/api/users/me', a.token);
    expect(r.status).toBe(200);
    expectUser(r.body);
    expect(r.body).toMatchObject({ id: a.id, username: a.username });
    expect((await get('/api/users/me', b.token)).body.id).toBe(b.id);
  });

  it('a missing Authorization header is 401', async () => {
    expectError(await me(), 401, 'unauthorized');
  });

  it('an empty bearer is 401', async () => {
    expectError(await me('Bearer '), 401, 'unauthorized');
    expectError(await me(''), 401, 'unauthorized');
  });

  it('a garbage token is 401', async () => {
    expectError(await me('Bearer garbage'), 401, 'unauthorized');
    expectError(await me('Bearer a.b.c'), 401, 'unauthorized');
  });

  it('a token with a tampered payload (another user id, same signature) is 401', async () => {
    const [header, payload, signature] = a.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    claims.sub = b.id;
    const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    expectError(await me(`Bearer ${forged}`), 401, 'unauthorized');
  });

  it('a token with a tampered signature is 401', async () => {
    const last = a.token.slice(-1);
    const forged = a.token.slice(0, -2) + (a.token.at(-2) === 'A' ? 'B' : 'A') + last;
    expectError(await me(`Bearer ${forged}`), 401, 'unauthorized');
  });

  it('a token signed with another key is 401', async () => {
    const sign = createSigner({ key: 'another-secret-another-secret-another-secret', algorithm: 'HS256' });
    expectError(await me(`Bearer ${sign({ sub: a.id })}`), 401, 'unauthorized');
  });

  it('an unsigned (alg "none") token is 401', async () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: a.id })}.`;
    expectError(await me(`Bearer ${unsigned}`), 401, 'unauthorized');
  });

  it('the Basic scheme is 401 even with a valid token after it', async () => {
    expectError(await me(`Basic ${a.token}`), 401, 'unauthorized');
    expectError(await me(`Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`), 401, 'unauthorized');
  });

  it('the raw token without a scheme is 401', async () => {
    expectError(await me(a.token), 401, 'unauthorized');
  });

  it('every /api/users route needs a token', async () => {
    expectError(await get('/api/users?q=a'), 401, 'unauthorized');
    expectError(await http(t.server.url, 'PATCH', '/api/users/me', { body: { displayName: 'x' } }), 401, 'unauthorized');
  });
});

// ---- /api/users/me --------------------------------------------------------------

describe('GET/PATCH /api/users/me', () => {
  it('a fresh account is offline and has never been seen', async () => {
    const a = await register(t.server.url, 'me');
    const r = await get('/api/users/me', a.token);
    expect(r.body).toEqual({ id: a.id, username: a.username, displayName: a.username, online: false, lastSeenAt: null });
  });

  it('is online while one of its sockets is connected', async () => {
    const a = await register(t.server.url, 'me');
    const s = await pool.connect(a);
    await s.barrier();
    expect((await get('/api/users/me', a.token)).body.online).toBe(true);
  });

  it('PATCH {displayName} answers the updated User and the change sticks', async () => {
    const a = await register(t.server.url, 'me');
    const r = await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: { displayName: 'Grace Hopper' } });
    expect(r.status).toBe(200);
    expectUser(r.body);
    expect(r.body).toMatchObject({ id: a.id, username: a.username, displayName: 'Grace Hopper' });
    expect((await get('/api/users/me', a.token)).body.displayName).toBe('Grace Hopper');
  });

  it('PATCH accepts a displayName of 64 characters and any script', async () => {
    const a = await register(t.server.url, 'me');
    const long = 'é'.repeat(64);
    expect((await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: { displayName: long } })).body.displayName).toBe(long);
    const cjk = '山田 太郎';
    expect((await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: { displayName: cjk } })).body.displayName).toBe(cjk);
  });

  it.each([
    ['empty', ''],
    ['blank', '   \t '],
    ['too long (65)', 'd'.repeat(65)],
    ['a number', 7],
    ['null', null],
  ])('PATCH rejects a displayName that is %s and changes nothing', async (_what, displayName) => {
    const a = await register(t.server.url, 'me');
    const r = await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: { displayName } });
    expectError(r, 400, 'validation');
    expect((await get('/api/users/me', a.token)).body.displayName).toBe(a.username);
  });

  it('PATCH without displayName is 400', async () => {
    const a = await register(t.server.url, 'me');
    expectError(await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: {} }), 400, 'validation');
  });

  it('PATCH does not change the username', async () => {
    const a = await register(t.server.url, 'me');
    await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: { displayName: 'New', username: 'hijack' } });
    expect((await get('/api/users/me', a.token)).body.username).toBe(a.username);
  });
});

// ---- GET /api/users?q=prefix ------------------------------------------------------

describe('GET /api/users?q=prefix', () => {
  let viewer: Account;
  beforeAll(async () => {
    viewer = await register(t.server.url, 'viewer');
  });

  const search = (query: string) => get(`/api/users?${query}`, viewer.token);
  const ids = (r: HttpResult) => (r.body.users as any[]).map((u) => u.id).sort();

  it('answers {users:[User]}', async () => {
    const prefix = uniqueName('shape');
    const a = await register(t.server.url, prefix);
    const r = await search(`q=${prefix}`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(['users']);
    expect(r.body.users).toHaveLength(1);
    expectUser(r.body.users[0]);
    expect(r.body.users[0]).toMatchObject({ id: a.id, username: a.username });
  });

  it('matches a username prefix, ignoring case', async () => {
    const prefix = uniqueName('Pfx');
    const a = await register(t.server.url, prefix);
    const b = await register(t.server.url, prefix);
    const other = await register(t.server.url, 'zz' + prefix);
    const expected = [a.id, b.id].sort();
    expect(ids(await search(`q=${prefix}`))).toEqual(expected);
    expect(ids(await search(`q=${prefix.toUpperCase()}`))).toEqual(expected);
    expect(ids(await search(`q=${prefix.toLowerCase()}`))).toEqual(expected);
    expect(ids(await search(`q=${encodeURIComponent(a.username)}`))).toEqual([a.id]);
    expect(ids(await search(`q=${prefix}`))).not.toContain(other.id);
  });

  it('matches a display-name prefix, ignoring case', async () => {
    const tag = uniqueName('dn').replace(/_/g, '');
    const a = await register(t.server.url, 'u', { displayName: `${tag} Smith` });
    expect(ids(await search(`q=${tag}`))).toEqual([a.id]);
    expect(ids(await search(`q=${tag.toUpperCase()}`))).toEqual([a.id]);
    expect(ids(await search(`q=${encodeURIComponent(`${tag} sm`)}`))).toEqual([a.id]);
  });

  it('does not match in the middle of a name (prefix only)', async () => {
    const tag = uniqueName('mid').replace(/_/g, '');
    await register(t.server.url, 'u', { displayName: `Mr ${tag}` });
    await register(t.server.url, `x${tag}`);
    expect((await search(`q=${tag}`)).body.users).toEqual([]);
  });

  it('finds a renamed user by the new display name', async () => {
    const a = await register(t.server.url, 'ren');
    const tag = uniqueName('renamed').replace(/_/g, '');
    await http(t.server.url, 'PATCH', '/api/users/me', { token: a.token, body: { displayName: tag } });
    expect(ids(await search(`q=${tag}`))).toEqual([a.id]);
  });

  it('lists a user once even when both names match', async () => {
    const prefix = uniqueName('both');
    const a = await register(t.server.url, prefix, { displayName: `${prefix} too` });
    expect(ids(await search(`q=${prefix}`))).toEqual([a.id]);
  });

  describe('limit: 1–50, default 20', () => {
    let prefix: string;
    let all: string[];
    beforeAll(async () => {
      prefix = uniqueName('lim');
      all = [];
      for (let i = 0; i < 22; i++) all.push((await register(t.server.url, prefix)).id);
    });

    it('defaults to 20', async () => {
      const r = await search(`q=${prefix}`);
      expect(r.status).toBe(200);
      expect(r.body.users).toHaveLength(20);
    });

    it('takes limit=1 and limit=50', async () => {
      expect((await search(`q=${prefix}&limit=1`)).body.users).toHaveLength(1);
      const r = await search(`q=${prefix}&limit=50`);
      expect(r.status).toBe(200);
      expect(ids(r)).toEqual([...all].sort());
    });

    it('answers distinct users within the limit', async () => {
      const r = await search(`q=${prefix}&limit=5`);
      expect(r.body.users).toHaveLength(5);
      expect(new Set(ids(r)).size).toBe(5);
      for (const id of ids(r)) expect(all).toContain(id);
    });

    it.each(['0', '51', 'abc', '-1', '2.5'])('rejects limit=%s with 400 validation', async (limit) => {
      expectError(await search(`q=${prefix}&limit=${limit}`), 400, 'validation');
    });
  });
});
