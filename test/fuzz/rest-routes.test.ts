import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ErrorBody, type ErrorCode } from '../../src/protocol/errors.js';
import { connect, http, register, type Account, type TestSocket } from '../helpers/client.js';
import { expectShape } from '../helpers/shapes.js';
import {
  Repeated,
  idField,
  nastyKey,
  nastyString,
  nastyValue,
  objectOf,
  payloadOf,
  resolve,
  validContent,
  type Ref,
} from './arbitraries.js';
import { fuzzBudget } from './fuzz-config.js';
import { createWorld, expectHistoryEqualsAcks, expectServerHealthy, idResolver, type World } from './world.js';

/**
 * Every REST route with random methods, path parameters, query strings,
 * headers and bodies (bad JSON, deep JSON, huge numbers, hostile keys,
 * wrong content types, too big): every answer is well-formed (an error is
 * JSON `{error:{code, message}}` with the catalogue's status for its code),
 * never a 500; without a good token an authenticated route never succeeds;
 * the server stays up, and history still equals what the acks said.
 */

interface RouteSpec {
  method: string;
  path: string;
  /** Needs `Authorization: Bearer`. */
  auth: boolean;
  query?: Record<string, fc.Arbitrary<unknown>>;
  body?: fc.Arbitrary<unknown>;
  /** What a success is: JSON unless said ('text': anything). */
  answers?: 'html' | 'text' | 'redirect';
}

// ---- fields -------------------------------------------------------------------

const text = (arb: fc.Arbitrary<unknown>) => fc.oneof({ weight: 3, arbitrary: arb }, { weight: 1, arbitrary: nastyString }, { weight: 1, arbitrary: nastyValue });
const usernameField = text(fc.stringMatching(/^[A-Za-z0-9_.-]{3,32}$/));
const passwordField = text(fc.string({ minLength: 8, maxLength: 40 }));
const nameField = text(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }));
/** A number as text, or anything: query strings are text (a limit of "20" is 20). */
const queryNumber = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -5, max: 1100 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom('1e308', '-0', 'NaN', 'Infinity', '0x10', ' 5', '5 ', '1.5', '', '9007199254740993', '99999999999999999999', '１２') },
  { weight: 1, arbitrary: nastyString },
);

// ---- the routes ---------------------------------------------------------------

const ROUTES: readonly RouteSpec[] = [
  { method: 'GET', path: '/health', auth: false },
  { method: 'GET', path: '/metrics', auth: false, answers: 'text' },
  { method: 'GET', path: '/', auth: false, answers: 'redirect' },
  { method: 'GET', path: '/messages', auth: false, answers: 'html' },
  { method: 'GET', path: '/messages/', auth: false, answers: 'html' },
  { method: 'GET', path: '/messages/:file', auth: false, answers: 'text' },
  {
    method: 'POST',
    path: '/api/auth/register',
    auth: false,
    body: payloadOf({ username: usernameField, password: passwordField, displayName: nameField }),
  },
  { method: 'POST', path: '/api/auth/login', auth: false, body: payloadOf({ username: usernameField, password: passwordField }) },
  { method: 'POST', path: '/api/auth/logout', auth: true, body: fc.oneof(fc.constant(undefined), objectOf({}), nastyValue) },
  { method: 'POST', path: '/api/auth/password', auth: true, body: payloadOf({ currentPassword: passwordField, newPassword: passwordField }) },
  { method: 'GET', path: '/api/users/me', auth: true },
  { method: 'PATCH', path: '/api/users/me', auth: true, body: payloadOf({ displayName: nameField }) },
  { method: 'GET', path: '/api/users', auth: true, query: { q: nastyString, limit: queryNumber } },
  {
    method: 'POST',
    path: '/api/conversations',
    auth: true,
    body: payloadOf({
      type: fc.oneof(fc.constantFrom('direct', 'group'), nastyValue),
      title: nameField,
      memberIds: fc.oneof({ weight: 4, arbitrary: fc.array(idField, { maxLength: 4 }) }, { weight: 1, arbitrary: nastyValue }),
    }),
  },
  { method: 'GET', path: '/api/conversations', auth: true, query: { limit: queryNumber, cursor: nastyString, archived: fc.oneof(fc.constantFrom('true', 'false', '1', '0', 'yes', ''), nastyString) } },
  { method: 'GET', path: '/api/conversations/:id', auth: true },
  { method: 'PATCH', path: '/api/conversations/:id', auth: true, body: payloadOf({ title: nameField }) },
  { method: 'POST', path: '/api/conversations/:id/members', auth: true, body: payloadOf({ userId: idField }) },
  { method: 'DELETE', path: '/api/conversations/:id/members/:userId', auth: true },
  { method: 'PUT', path: '/api/conversations/:id/archive', auth: true },
  { method: 'DELETE', path: '/api/conversations/:id/archive', auth: true },
  { method: 'GET', path: '/api/conversations/:id/messages', auth: true, query: { before: queryNumber, after: queryNumber, limit: queryNumber } },
  { method: 'GET', path: '/api/conversations/:id/messages/:messageId/receipts', auth: true },
  { method: 'GET', path: '/api/search', auth: true, query: { q: nastyString, conversationId: idField, limit: queryNumber } },
  // Uploads: anything but a well-formed multipart body (the multipart cases are the transport tests').
  { method: 'POST', path: '/api/conversations/:id/attachments', auth: true, body: fc.oneof(objectOf({}), nastyValue) },
  // Downloads: a grant in the query (never a valid one here) or the bearer token.
  { method: 'GET', path: '/api/attachments/:id', auth: true, answers: 'text', query: { u: idField, e: queryNumber, s: nastyString } },
  { method: 'GET', path: '/api/attachments/:id/thumbnail', auth: true, answers: 'text', query: { u: idField, e: queryNumber, s: nastyString } },
  // Notification preferences (v1.1) and Web Push (issue #19).
  {
    method: 'PUT',
    path: '/api/conversations/:id/notifications',
    auth: true,
    body: payloadOf({ level: fc.oneof(fc.constantFrom('all', 'mentions', 'none'), nastyValue), mutedUntil: fc.oneof(fc.constant(null), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), nastyValue) }),
  },
  { method: 'GET', path: '/api/push/key', auth: true },
  {
    method: 'POST',
    path: '/api/push/subscriptions',
    auth: true,
    body: payloadOf({ endpoint: fc.oneof(fc.webUrl(), nastyValue), keys: fc.oneof(objectOf({ p256dh: nastyString, auth: nastyString }), nastyValue) }),
  },
  { method: 'DELETE', path: '/api/push/subscriptions', auth: true, body: payloadOf({ endpoint: fc.oneof(fc.webUrl(), nastyValue) }) },
  { method: 'GET', path: '/api/users/me/notifications', auth: true },
  { method: 'PUT', path: '/api/users/me/notifications', auth: true, body: payloadOf({ previews: fc.oneof(fc.boolean(), nastyValue) }) },
];

/** Every "METHOD /path" in a Fastify `printRoutes({ commonPrefix: false })` tree. */
function routesOfTree(tree: string): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*(?:[├└]── )?)(\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(m[2] ?? '');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) out.push(`${method} ${stack.join('')}`);
  }
  return out;
}

// ---- requests -----------------------------------------------------------------

/** Route methods, methods no route has, and methods Node's HTTP parser itself refuses (FUZZ). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'SEARCH', 'QUERY', 'FUZZ'];

type Auth = 'me' | 'none' | 'revoked' | 'forged' | 'stranger' | { header: string };
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 10, arbitrary: fc.constant('me' as const) },
  { weight: 1, arbitrary: fc.constantFrom('none' as const, 'revoked' as const, 'forged' as const, 'stranger' as const) },
  {
    weight: 1,
    arbitrary: fc.oneof(printable, fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer x.y.z', 'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.')).map((header) => ({ header })),
  },
);

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'application/json;', 'application/vnd.api+json',
  'text/plain', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', '', ';', 'json',
];

/** Bodies no JSON route can take (or, for the last ones, can take only with care). */
const RAW_BODIES: readonly (string | Repeated)[] = [
  '', ' ', '{', '}', '[', '{"a":}', '[1,]', "{'a':1}", 'nul', 'tru', '"unterminated', '{"a":1}{"b":2}', '\u0000', '{"a":"\\ud800"}', '{"a":"\\u0000"}',
  'null', 'true', '0', '-0', '1e999', '"string"', '[]', '[{}]', '{}',
  '{"username":1e999,"password":-0}', `{"limit":${'9'.repeat(400)}}`, '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}',
  '{"a":1,"a":2}', '\ufeff{}', '{"title":"x"}'.repeat(3),
  new Repeated('[', 100_000), new Repeated('{"a":', 100_000), new Repeated('x', 1024 * 1024 + 1),
];

/** A route as a request names it (without its generators, so that a counterexample prints short). */
type RouteName = Pick<RouteSpec, 'method' | 'path' | 'auth' | 'answers'>;

interface Request {
  route: RouteName;
  method: string;
  params: unknown[];
  query: [unknown, unknown][];
  auth: Auth;
  body: { json: unknown } | { raw: string | Repeated } | null;
  contentType: string | null;
  headers: Record<string, string>;
}

const pathParam: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: idField },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%2F', '..', '.', '%ED%A0%80', 'a%2Fb', ';', new Repeated('x', 101), new Repeated('x', 5000)).map((raw) => ({ raw })) },
);

/** A path the server has no route for. */
const unknownPath = fc.array(fc.oneof(nastyString, fc.constantFrom('api', 'conversations', 'users', 'messages', 'auth')), { minLength: 1, maxLength: 4 });

function requestFor(route: RouteSpec): fc.Arbitrary<Request> {
  const params = (route.path.match(/:\w+/g) ?? []).map(() => pathParam);
  const queryKeys = Object.keys(route.query ?? {});
  const queryEntry: fc.Arbitrary<[unknown, unknown]> = queryKeys.length
    ? fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...queryKeys).chain((k) => (route.query?.[k] ?? nastyString).map((v): [unknown, unknown] => [k, v])) },
        { weight: 1, arbitrary: fc.tuple(nastyKey, nastyString) },
      )
    : fc.tuple(nastyKey, nastyString);
  const body = fc.oneof(
    { weight: 6, arbitrary: (route.body ?? fc.constant(undefined)).map((json) => (json === undefined ? null : { json })) },
    { weight: 1, arbitrary: nastyValue.map((json) => ({ json })) },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_BODIES).map((raw) => ({ raw })) },
    { weight: 1, arbitrary: fc.constant(null) },
  );
  return fc.record({
    route: fc.constant<RouteName>({ method: route.method, path: route.path, auth: route.auth, ...(route.answers ? { answers: route.answers } : {}) }),
    method: fc.oneof({ weight: 12, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
    params: fc.tuple(...params),
    query: fc.oneof({ weight: 2, arbitrary: fc.constant<[unknown, unknown][]>([]) }, { weight: 3, arbitrary: fc.array(queryEntry, { maxLength: 4 }) }),
    auth: route.auth ? auth : fc.oneof({ weight: 4, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: auth }),
    body,
    contentType: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) }),
    headers: fc.dictionary(
      fc.constantFrom('accept', 'accept-version', 'x-forwarded-for', 'content-encoding', 'origin', 'x-http-method-override', 'cookie', 'range', 'if-none-match'),
      fc.oneof(printable, fc.constantFrom('*/*', 'text/html', 'gzip', '1.0.0', '127.0.0.1, ::1', 'bytes=0-1', 'null', 'DELETE')),
      { maxKeys: 2 },
    ),
  });
}

const request: fc.Arbitrary<Request> = fc.oneof(
  ...ROUTES.map((route) => ({ weight: 4, arbitrary: requestFor(route) })),
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(...METHODS), fc.constantFrom('/', '/api/'), unknownPath).chain(([method, prefix, segments]) =>
      // Random segments may spell a real route ("/messages"): a success there may be anything.
      requestFor({ method, path: prefix + segments.map((_, i) => `:s${i}`).join('/'), auth: false, answers: 'text' }).map((r) => ({
        ...r,
        params: segments.map((s) => ({ raw: s })),
      })),
    ),
  },
);

/** A value as URL text: a string as it is, anything else as its JSON (String() throws on some objects). */
function asText(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

/** A path segment: percent-encoded, or (for `{raw}`) sent as it is; a lone surrogate becomes the bytes no decoder accepts. */
function segment(value: unknown, idOf: (r: Ref) => string): string {
  const raw = typeof value === 'object' && value !== null && 'raw' in value ? resolve((value as { raw: unknown }).raw, idOf) : undefined;
  if (raw !== undefined) return asText(raw);
  return encode(asText(resolve(value, idOf)));
}

function encode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s.replace(/[\ud800-\udfff]/g, '%ED%A0%80').replace(/[^%\w.~-]/g, (c) => encodeURIComponent(c));
  }
}

// ---- the run --------------------------------------------------------------------

let world: World;
let revokedToken: string;
let forgedToken: string;
let sender: TestSocket;

beforeAll(async () => {
  world = await createWorld();
  const gone = await register(world.url, 'gone');
  expect((await http(world.url, 'POST', '/api/auth/logout', { token: gone.token })).status).toBe(204);
  revokedToken = gone.token;
  // The same claims, another signature.
  const [header, claims] = world.me.token.split('.');
  forgedToken = `${header}.${claims}.${Buffer.from('not the signature').toString('base64url')}`;
  sender = await connect(world.url, world.me.token);
});
afterAll(async () => {
  sender?.close();
  await world?.server.close();
});

/** Where a session ends or a password changes, a throwaway user's token stands in for mine. */
const ENDS_SESSION = new Set(['/api/auth/logout', '/api/auth/password']);

async function send(req: Request, idOf: (r: Ref) => string): Promise<{ status: number; contentType: string | null; text: string; authorized: boolean }> {
  let account: Account = world.me;
  if (req.auth === 'me' && ENDS_SESSION.has(req.route.path)) account = await register(world.url, 'throwaway');
  const tokens: Record<string, string | undefined> = { me: account.token, stranger: world.stranger.token, revoked: revokedToken, forged: forgedToken, none: undefined };
  const headers: Record<string, string> = { ...req.headers };
  if (typeof req.auth === 'object') headers.authorization = req.auth.header;
  else if (tokens[req.auth]) headers.authorization = `Bearer ${tokens[req.auth]}`;

  let body: string | undefined;
  if (req.body && 'json' in req.body) {
    body = JSON.stringify(resolve(req.body.json, (r) => (r.name === 'me' ? account.id : idOf(r))));
    headers['content-type'] = 'application/json';
  } else if (req.body && 'raw' in req.body) {
    body = asText(resolve(req.body.raw, idOf));
    headers['content-type'] = 'application/json';
  }
  if (req.contentType !== null) headers['content-type'] = req.contentType;
  // fetch sends no body with GET or HEAD.
  if (req.method === 'GET' || req.method === 'HEAD') body = undefined;

  let i = 0;
  const path = req.route.path.replace(/:\w+/g, () => segment(req.params[i++], idOf));
  const query = req.query.map(([k, v]) => `${encode(asText(resolve(k, idOf)))}=${encode(asText(resolve(v, idOf)))}`).join('&');
  const res = await fetch(world.url + path + (query ? `?${query}` : ''), { method: req.method, headers, body, redirect: 'manual' });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text(), authorized: req.auth === 'me' || req.auth === 'stranger' };
}

/** Errors a request may earn while the server is up: everything but `internal`, `unavailable` and (limits off) `rate_limited`. */
const REQUEST_ERRORS: readonly ErrorCode[] = ['validation', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'payload_too_large'];

function expectWellFormedAnswer(req: Request, res: { status: number; contentType: string | null; text: string; authorized: boolean }): void {
  const what = `${req.method} ${req.route.path} answered ${res.status} ${res.contentType} ${res.text.slice(0, 300)}`;
  expect(res.status, what).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.contentType, what).toMatch(/^application\/json/);
    if (req.method === 'HEAD') return;
    const body = JSON.parse(res.text) as ErrorBody;
    expectShape(ErrorBody, body);
    expect(REQUEST_ERRORS, what).toContain(body.error.code);
    expect(ERROR_CATALOGUE[body.error.code].status, what).toBe(res.status);
    expect(body.error.message, what).toMatch(/\S/);
    return;
  }
  const { answers } = req.route;
  if (req.route.auth && !res.authorized) expect.fail(`succeeded without a good token: ${what}`);
  if (res.status === 204 || req.method === 'HEAD' || answers) return;
  if (res.status >= 300) return expect.fail(`a JSON route redirected: ${what}`);
  expect(res.contentType, what).toMatch(/^application\/json/);
  expect(typeof JSON.parse(res.text), what).toBe('object');
}

describe('fuzzing REST routes', () => {
  it('covers every route the server has', () => {
    const served = routesOfTree(world.server.app.http.printRoutes({ commonPrefix: false }))
      .filter((r) => !r.startsWith('HEAD ')) // Fastify's own HEAD for every GET (the fuzzer sends HEAD to them too)
      .filter((r) => r !== 'GET /messages/*'); // the web client's files
    const fuzzed = ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(served.filter((r) => !fuzzed.includes(r))).toEqual([]);
  });

  const budget = fuzzBudget(600, 60_000);
  it(
    'answers every request well-formed, never 500; no success without a good token; history equals the acks',
    async () => {
      const idOf = idResolver(world, true);
      await fc.assert(
        fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 3 }), fc.option(validContent), async (requests, content) => {
          for (const req of requests) expectWellFormedAnswer(req, await send(req, idOf));
          // A valid send now and then, between the garbage: history must still equal the acks.
          if (content !== null) {
            const ack = await sender.call('message:send', { conversationId: world.conv, content });
            expect(ack.ok, JSON.stringify(ack)).toBe(true);
            expect(ack.message.content).toBe(content);
            world.ledger.record(ack.message);
          }
        }),
        budget.params,
      );
      await expectServerHealthy(world);
      await expectHistoryEqualsAcks(world);
    },
    budget.timeoutMs,
  );
});
