import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SETTING_DOCS, loadConfig, trustProxyOption, type Config } from './config.js';

/** The message of the ConfigError that loading throws. */
function failure(env: Record<string, string | undefined>, overrides: Partial<Config> = {}): string {
  try {
    loadConfig(env, overrides);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('loadConfig accepted it');
}

describe('loadConfig', () => {
  it('has a default for every setting', () => {
    const cfg = loadConfig({});
    expect(cfg).toEqual({
      port: 3000,
      host: '127.0.0.1',
      dataDir: path.resolve('data'),
      dbPath: path.join(path.resolve('data'), 'parley.db'),
      databaseUrl: '',
      databasePoolSize: 10,
      redisUrl: '',
      redisPrefix: 'parley',
      jwtSecret: '',
      tokenTtlSeconds: 30 * 24 * 3600,
      scryptCost: 32768,
      logLevel: 'info',
      corsOrigin: '',
      notifyWebhookUrl: '',
      notifyWebhookSecret: '',
      vapidPublicKey: '',
      vapidPrivateKey: '',
      vapidSubject: 'mailto:admin@parley.invalid',
      pushEndpointHosts: 'fcm.googleapis.com,android.googleapis.com,updates.push.services.mozilla.com,*.push.services.mozilla.com,*.notify.windows.com,web.push.apple.com,*.push.apple.com',
      pushDelayMs: 3000,
      rateLimits: '',
      trustProxy: '',
      metricsToken: '',
      attachmentMaxBytes: 26214400,
      shutdownTimeoutMs: 10000,
    });
    expect(loadConfig()).toEqual(cfg);
  });

  it('reads every setting from its variable, numbers parsed', () => {
    const secret = 's'.repeat(32);
    const cfg = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      DATA_DIR: '/srv/parley',
      DB: '/var/db/chat.sqlite',
      DATABASE_URL: 'postgres://parley:pw@db.internal:5432/parley',
      DATABASE_POOL_SIZE: '25',
      REDIS_URL: 'redis://cache.internal:6379',
      REDIS_PREFIX: 'chat-eu',
      JWT_SECRET: secret,
      TOKEN_TTL_SECONDS: '3600',
      SCRYPT_COST: '1024',
      LOG_LEVEL: 'debug',
      CORS_ORIGIN: 'https://a.example,https://b.example',
      NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      NOTIFY_WEBHOOK_SECRET: 'hook-secret',
      VAPID_PUBLIC_KEY: 'BPub',
      VAPID_PRIVATE_KEY: 'priv',
      VAPID_SUBJECT: 'https://chat.example.com',
      PUSH_ENDPOINT_HOSTS: 'push.example.com',
      PUSH_DELAY_MS: '500',
      RATE_LIMITS: 'send=5/1s',
      TRUST_PROXY: '10.0.0.1',
      METRICS_TOKEN: 'scrape-me',
      ATTACHMENT_MAX_BYTES: '1048576',
      SHUTDOWN_TIMEOUT_MS: '0',
    });
    expect(cfg).toEqual({
      port: 8080,
      host: '0.0.0.0',
      dataDir: '/srv/parley',
      dbPath: '/var/db/chat.sqlite',
      databaseUrl: 'postgres://parley:pw@db.internal:5432/parley',
      databasePoolSize: 25,
      redisUrl: 'redis://cache.internal:6379',
      redisPrefix: 'chat-eu',
      jwtSecret: secret,
      tokenTtlSeconds: 3600,
      scryptCost: 1024,
      logLevel: 'debug',
      corsOrigin: 'https://a.example,https://b.example',
      notifyWebhookUrl: 'http://127.0.0.1:9/hook',
      notifyWebhookSecret: 'hook-secret',
      vapidPublicKey: 'BPub',
      vapidPrivateKey: 'priv',
      vapidSubject: 'https://chat.example.com',
      pushEndpointHosts: 'push.example.com',
      pushDelayMs: 500,
      rateLimits: 'send=5/1s',
      trustProxy: '10.0.0.1',
      metricsToken: 'scrape-me',
      attachmentMaxBytes: 1048576,
      shutdownTimeoutMs: 0,
    });
  });

  it('refuses a DATABASE_URL or REDIS_URL of another scheme, and Redis without PostgreSQL, naming them', () => {
    expect(failure({ DATABASE_URL: 'mysql://x/y' })).toMatch(/DATABASE_URL must be a postgres:\/\/ URL/);
    expect(failure({ DATABASE_URL: 'postgres://x/y', REDIS_URL: 'http://x' })).toMatch(/REDIS_URL must be a redis:\/\/ URL/);
    expect(failure({ DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://x:6379' })).toMatch(/REDIS_URL needs JWT_SECRET/);
    expect(failure({ REDIS_URL: 'redis://x:6379' })).toMatch(/REDIS_URL needs DATABASE_URL/);
    expect(failure({ DATABASE_POOL_SIZE: '0' })).toMatch(/DATABASE_POOL_SIZE/);
  });

  it('takes any RATE_LIMITS; reads TRUST_PROXY as Fastify takes it', () => {
    // Any value starts (the contract: any value but `off` leaves the limits on; app.ts warns of one it cannot read).
    expect(loadConfig({ RATE_LIMITS: 'send=fast' }).rateLimits).toBe('send=fast');
    expect(trustProxyOption('')).toBe(false);
    expect(trustProxyOption('true')).toBe(true);
    expect(trustProxyOption('10.0.0.0/8, 127.0.0.1')).toBe('10.0.0.0/8, 127.0.0.1');
    const hops = trustProxyOption('2') as (a: string, hop: number) => boolean;
    expect([hops('x', 0), hops('x', 1), hops('x', 2)]).toEqual([true, true, false]);
  });

  it('puts the database in DATA_DIR unless DB says otherwise, both made absolute', () => {
    const cfg = loadConfig({ DATA_DIR: 'rel/dir' });
    expect(cfg.dataDir).toBe(path.resolve('rel/dir'));
    expect(cfg.dbPath).toBe(path.join(path.resolve('rel/dir'), 'parley.db'));
    expect(loadConfig({ DATA_DIR: 'rel/dir', DB: 'x.db' }).dbPath).toBe(path.resolve('x.db'));
  });

  it('refuses a NOTIFY_WEBHOOK_URL that is not an http(s) URL, naming it', () => {
    expect(() => loadConfig({ NOTIFY_WEBHOOK_URL: 'ftp://x' })).toThrow(/NOTIFY_WEBHOOK_URL/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '', HOST: '' })).toMatchObject({ port: 3000, logLevel: 'info', host: '127.0.0.1' });
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ SOMETHING_ELSE: '1', port: '1' }).port).toBe(3000);
  });

  it('lets overrides win over the environment', () => {
    const cfg = loadConfig({ PORT: '8080', LOG_LEVEL: 'debug' }, { port: 0, logLevel: 'silent', dataDir: 'over' });
    expect(cfg).toMatchObject({ port: 0, logLevel: 'silent', dataDir: path.resolve('over') });
    expect(cfg.dbPath).toBe(path.join(path.resolve('over'), 'parley.db'));
  });

  it('returns a frozen config', () => {
    const cfg = loadConfig({});
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(() => {
      (cfg as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('names the variable of a value that is not a number', () => {
    expect(failure({ PORT: 'abc' })).toMatch(/\bPORT\b/);
    expect(failure({ PORT: '80.5' })).toMatch(/\bPORT\b/);
    expect(failure({ PORT: '80abc' })).toMatch(/\bPORT\b/);
    expect(failure({ SHUTDOWN_TIMEOUT_MS: 'soon' })).toMatch(/\bSHUTDOWN_TIMEOUT_MS\b/);
  });

  it('names the variable of a number out of range', () => {
    expect(failure({ PORT: '65536' })).toMatch(/\bPORT\b/);
    expect(failure({ PORT: '-1' })).toMatch(/\bPORT\b/);
    expect(failure({ TOKEN_TTL_SECONDS: '59' })).toMatch(/\bTOKEN_TTL_SECONDS\b/);
    expect(failure({ SCRYPT_COST: '512' })).toMatch(/\bSCRYPT_COST\b/);
    expect(loadConfig({ PORT: '65535', TOKEN_TTL_SECONDS: '60' })).toMatchObject({ port: 65535, tokenTtlSeconds: 60 });
  });

  it('names LOG_LEVEL when it is not a level', () => {
    expect(failure({ LOG_LEVEL: 'loud' })).toMatch(/\bLOG_LEVEL\b/);
    expect(failure({ LOG_LEVEL: 'INFO' })).toMatch(/\bLOG_LEVEL\b/);
  });

  it('names every bad variable at once', () => {
    const message = failure({ PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(message).toMatch(/\bPORT\b/);
    expect(message).toMatch(/\bLOG_LEVEL\b/);
  });

  it('names the variable when an override is invalid', () => {
    expect(failure({}, { port: -1 })).toMatch(/\bPORT\b/);
    expect(failure({}, { scryptCost: 2 })).toMatch(/\bSCRYPT_COST\b/);
  });

  it('refuses a JWT_SECRET shorter than 32 characters, naming it', () => {
    expect(failure({ JWT_SECRET: 's'.repeat(31) })).toMatch(/\bJWT_SECRET\b/);
    expect(loadConfig({ JWT_SECRET: 's'.repeat(32) }).jwtSecret).toHaveLength(32);
  });

  it('does not read a PORT of only spaces as port 0', () => {
    // '' means "unset"; a blank value must not silently become "any free port".
    let outcome: number | 'refused';
    try {
      outcome = loadConfig({ PORT: '  ' }).port;
    } catch (e) {
      expect((e as Error).message).toMatch(/\bPORT\b/);
      outcome = 'refused';
    }
    expect(outcome).not.toBe(0);
  });

  it('lets an override left undefined fall back to the environment', () => {
    // Partial<Config> allows { port: undefined }, e.g. from `{ port: opts.port }`.
    expect(loadConfig({ PORT: '4000' }, { port: undefined }).port).toBe(4000);
    expect(loadConfig({}, { logLevel: undefined }).logLevel).toBe('info');
  });

  it('documents every setting with its variable, default and a doc line', () => {
    const envs = SETTING_DOCS.map((s) => s.env);
    expect(new Set(envs).size).toBe(envs.length);
    expect(envs).toEqual(
      expect.arrayContaining(['PORT', 'HOST', 'DATA_DIR', 'DB', 'JWT_SECRET', 'TOKEN_TTL_SECONDS', 'SCRYPT_COST', 'LOG_LEVEL', 'CORS_ORIGIN', 'SHUTDOWN_TIMEOUT_MS']),
    );
    expect(SETTING_DOCS).toHaveLength(Object.keys(loadConfig({})).length);
    for (const s of SETTING_DOCS) {
      expect(s.doc.length, s.env).toBeGreaterThan(10);
      expect(s.default, s.env).not.toBeUndefined();
    }
  });
});
