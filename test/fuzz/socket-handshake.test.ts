import fc from 'fast-check';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, register } from '../helpers/client.js';
import { nastyString, nastyValue, resolve } from './arbitraries.js';
import { fuzzBudget } from './fuzz-config.js';
import { createWorld, expectHistoryEqualsAcks, expectServerHealthy, type World } from './world.js';

/**
 * The Socket.IO handshake with arbitrary credentials (`auth` of any shape,
 * a `token` query parameter, or both): only a live token connects; anything
 * else is refused with the `connect_error` "unauthorized", never an
 * `internal`, never a hang, and the server stays up.
 */

type Credential = 'valid' | 'revoked' | 'forged' | { value: unknown };

const credential: fc.Arbitrary<Credential> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom<Credential>('valid', 'revoked', 'forged') },
  { weight: 3, arbitrary: fc.oneof(nastyString, nastyValue).map((value): Credential => ({ value })) },
);

/** Where the credential goes: `auth.token`, `auth` itself, or the query string. */
const handshake = fc.record({
  via: fc.constantFrom('auth.token' as const, 'auth' as const, 'query' as const),
  credential,
  extraAuth: fc.dictionary(fc.string({ maxLength: 8 }), nastyValue, { maxKeys: 2 }),
});

const WAIT_MS = 5000;

let world: World;
let revoked: string;
let forged: string;
beforeAll(async () => {
  world = await createWorld();
  const gone = await register(world.url, 'gone');
  expect((await http(world.url, 'POST', '/api/auth/logout', { token: gone.token })).status).toBe(204);
  revoked = gone.token;
  const [header, claims] = world.me.token.split('.');
  forged = `${header}.${claims}.${Buffer.from('not the signature').toString('base64url')}`;
});
afterAll(() => world?.server.close());

/** socket.io-client cannot put a lone surrogate in a URL (encodeURIComponent throws): U+FFFD stands in. */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** Connects once; resolves with "connected" or the connect_error's message. */
function tryConnect(options: { auth?: Record<string, unknown>; query?: Record<string, string> }): Promise<string> {
  const socket = io(world.url, { transports: ['websocket'], reconnection: false, forceNew: true, ...options });
  return new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to the handshake within ${WAIT_MS} ms`)), WAIT_MS);
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.disconnect();
      resolvePromise(outcome);
    };
    socket.once('connect', () => done('connected'));
    socket.once('connect_error', (err) => done(err.message));
  });
}

describe('fuzzing the socket handshake', () => {
  const budget = fuzzBudget(200, 60_000);
  it(
    'connects with a live token only; refuses anything else as unauthorized',
    async () => {
      await fc.assert(
        fc.asyncProperty(handshake, async ({ via, credential: c, extraAuth }) => {
          const value = c === 'valid' ? world.me.token : c === 'revoked' ? revoked : c === 'forged' ? forged : resolve(c.value, () => '');
          const extra = resolve(extraAuth, () => '') as Record<string, unknown>;
          // The handshake's auth is an object (socket.io-client sends it as the CONNECT packet's data).
          const options =
            via === 'auth.token'
              ? { auth: { ...extra, token: value } }
              : via === 'auth'
                ? { auth: typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { ...extra } }
                : { auth: extra, query: { token: wellFormed(typeof value === 'string' ? value : (JSON.stringify(value) ?? '')) } };
          // Whether the server must let it in: a live token where it reads one (`auth.token`, else the query's).
          const sentAuth = JSON.parse(JSON.stringify(options.auth)) as { token?: unknown } | null;
          const live = (sentAuth?.token ?? options.query?.token) === world.me.token;

          const outcome = await tryConnect(options);
          // A query string past Node's header limit never reaches Socket.IO: the upgrade fails, with a transport error.
          if (encodeURIComponent(options.query?.token ?? '').length > 8000) expect(outcome).not.toBe('connected');
          else expect(outcome, JSON.stringify({ via, sent: sentAuth?.token ?? options.query?.token })).toBe(live ? 'connected' : 'unauthorized');
        }),
        budget.params,
      );
      await expectServerHealthy(world);
      await expectHistoryEqualsAcks(world);
    },
    budget.timeoutMs,
  );
});
