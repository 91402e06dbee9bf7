import path from 'node:path';
import { Type, type Static, type TSchema } from 'typebox';
import { Ajv } from 'ajv';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Every setting, with its environment variable, default and doc line.
 * loadConfig() validates them once; the frozen result is passed down.
 * The README's configuration table is checked against this list by a test.
 */
const SETTINGS = {
  port: { env: 'PORT', schema: Type.Integer({ minimum: 0, maximum: 65535 }), default: 3000, doc: 'HTTP and Socket.IO port (0 picks a free one).' },
  host: { env: 'HOST', schema: Type.String({ minLength: 1 }), default: '127.0.0.1', doc: 'Interface to listen on; 0.0.0.0 to expose.' },
  dataDir: { env: 'DATA_DIR', schema: Type.String({ minLength: 1 }), default: './data', doc: 'Directory for the SQLite database and the generated JWT secret.' },
  dbPath: { env: 'DB', schema: Type.String(), default: '', doc: 'SQLite file; default DATA_DIR/parley.db. The search index is kept beside it (parley.search.db).' },
  databaseUrl: { env: 'DATABASE_URL', schema: Type.String(), default: '', doc: 'postgres://user:password@host:port/db selects the PostgreSQL store (for several nodes); unset: SQLite.' },
  databasePoolSize: { env: 'DATABASE_POOL_SIZE', schema: Type.Integer({ minimum: 1, maximum: 1000 }), default: 10, doc: 'Most PostgreSQL connections one node opens.' },
  redisUrl: { env: 'REDIS_URL', schema: Type.String(), default: '', doc: 'redis://host:port turns on cross-node fan-out, presence and cache invalidation (needs DATABASE_URL).' },
  redisPrefix: { env: 'REDIS_PREFIX', schema: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }), default: 'parley', doc: 'Starts every Redis key and channel of the deployment (several may share one Redis).' },
  jwtSecret: { env: 'JWT_SECRET', schema: Type.String(), default: '', doc: 'Secret that signs tokens (32+ characters). Unset: one is generated once and kept in DATA_DIR/jwt-secret.' },
  tokenTtlSeconds: { env: 'TOKEN_TTL_SECONDS', schema: Type.Integer({ minimum: 60 }), default: 30 * 24 * 3600, doc: 'Lifetime of an issued token (default 30 days).' },
  scryptCost: { env: 'SCRYPT_COST', schema: Type.Integer({ minimum: 1024 }), default: 32768, doc: 'scrypt N for password hashes (a power of two; memory = 128·N·8 bytes).' },
  logLevel: { env: 'LOG_LEVEL', schema: Type.Unsafe<LogLevel>({ type: 'string', enum: LOG_LEVELS }), default: 'info', doc: 'pino log level.' },
  corsOrigin: { env: 'CORS_ORIGIN', schema: Type.String(), default: '', doc: 'Comma-separated origins allowed to call the API from a browser; empty: same origin only.' },
  notifyWebhookUrl: { env: 'NOTIFY_WEBHOOK_URL', schema: Type.String(), default: '', doc: 'When set, a JSON POST goes here for each message to each member with no socket connected.' },
  notifyWebhookSecret: { env: 'NOTIFY_WEBHOOK_SECRET', schema: Type.String(), default: '', doc: 'When set, each webhook body is signed: X-Parley-Signature: sha256=HMAC(body).' },
  vapidPublicKey: {
    env: 'VAPID_PUBLIC_KEY',
    schema: Type.String(),
    default: '',
    doc: 'Web Push (VAPID) public key, base64url (with VAPID_PRIVATE_KEY; `npx web-push generate-vapid-keys`). Unset: a pair is made once and kept in DATA_DIR/vapid-keys.json, or in PostgreSQL with DATABASE_URL.',
  },
  vapidPrivateKey: { env: 'VAPID_PRIVATE_KEY', schema: Type.String(), default: '', doc: 'Web Push (VAPID) private key, base64url (with VAPID_PUBLIC_KEY).' },
  vapidSubject: {
    env: 'VAPID_SUBJECT',
    schema: Type.String({ pattern: '^(mailto:|https://)\\S+$' }),
    default: 'mailto:admin@parley.invalid',
    doc: 'Who push services may contact about this server: a mailto: or https: URL (set it to yours).',
  },
  pushEndpointHosts: {
    env: 'PUSH_ENDPOINT_HOSTS',
    schema: Type.String(),
    default: 'fcm.googleapis.com,android.googleapis.com,updates.push.services.mozilla.com,*.push.services.mozilla.com,*.notify.windows.com,web.push.apple.com,*.push.apple.com',
    doc: 'Hosts that Web Push subscriptions may point at (comma-separated; `*.example.com` for subdomains; `*` for any https host): the server POSTs to these, so anything else is refused.',
  },
  pushDelayMs: {
    env: 'PUSH_DELAY_MS',
    schema: Type.Integer({ minimum: 0, maximum: 60_000 }),
    default: 3000,
    doc: 'How long a push waits, so that a message read meanwhile on another device is not pushed and several are pushed as one.',
  },
  rateLimits: {
    env: 'RATE_LIMITS',
    schema: Type.String(),
    default: '',
    doc: '`off` turns every rate limit off (benchmarks, load tests); empty keeps the defaults; or overrides such as `send=100/10s,search=off,sockets=50` (docs/security.md).',
  },
  trustProxy: {
    env: 'TRUST_PROXY',
    schema: Type.String(),
    default: '',
    doc: 'Reverse proxies whose X-Forwarded-For names the client: their addresses or CIDRs (comma-separated), a number of hops, or `true`; empty: none.',
  },
  metricsToken: { env: 'METRICS_TOKEN', schema: Type.String(), default: '', doc: 'When set, GET /metrics requires Authorization: Bearer <this token>; empty: open.' },
  attachmentMaxBytes: {
    env: 'ATTACHMENT_MAX_BYTES',
    schema: Type.Integer({ minimum: 1 }),
    default: 26214400,
    doc: 'Largest file an upload may hold (bytes; default 25 MiB). Files live in DATA_DIR/attachments, or in PostgreSQL when DATABASE_URL is set.',
  },
  shutdownTimeoutMs: { env: 'SHUTDOWN_TIMEOUT_MS', schema: Type.Integer({ minimum: 0 }), default: 10000, doc: 'How long a graceful shutdown waits for in-flight work.' },
} as const satisfies Record<string, { env: string; schema: TSchema; default: unknown; doc: string }>;

type Settings = typeof SETTINGS;
export type Config = Readonly<{ [K in keyof Settings]: Static<Settings[K]['schema']> }>;

export const SETTING_DOCS = Object.values(SETTINGS).map(({ env, default: d, doc }) => ({ env, default: d, doc }));

const ConfigSchema = Type.Object(
  Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.schema])) as Record<string, TSchema>,
);
const ajv = new Ajv({ coerceTypes: true, allErrors: true });
const validate = ajv.compile(ConfigSchema);

export class ConfigError extends Error {}

/** TRUST_PROXY as Fastify's `trustProxy` takes it. */
export function trustProxyOption(value: string): boolean | string | ((address: string, hop: number) => boolean) {
  const v = value.trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return (_address, hop) => hop < hops;
  }
  return v;
}

/** Reads settings from an environment-like object; overrides win over env. */
export function loadConfig(env: Record<string, string | undefined> = {}, overrides: Partial<Config> = {}): Config {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(SETTINGS)) {
    const fromEnv = env[s.env]?.trim();
    if (fromEnv === undefined || fromEnv === '') raw[key] = s.default;
    else if ((s.schema as { type?: unknown }).type === 'integer' && !/^-?\d+$/.test(fromEnv)) {
      problems.push(`${s.env} must be a whole number`);
      raw[key] = s.default;
    } else raw[key] = fromEnv;
  }
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) raw[key] = value;
  if (!validate(raw)) {
    for (const e of validate.errors ?? []) {
      const key = e.instancePath.slice(1) as keyof Settings;
      problems.push(`${SETTINGS[key]?.env ?? key} ${e.message}`);
    }
  }
  if (problems.length) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  const cfg = raw as unknown as { -readonly [K in keyof Config]: Config[K] };
  cfg.dataDir = path.resolve(cfg.dataDir);
  cfg.dbPath = cfg.dbPath ? path.resolve(cfg.dbPath) : path.join(cfg.dataDir, 'parley.db');
  if (cfg.notifyWebhookUrl && !/^https?:\/\/\S+$/.test(cfg.notifyWebhookUrl)) {
    throw new ConfigError('invalid configuration: NOTIFY_WEBHOOK_URL must be an http(s) URL');
  }
  if (cfg.databaseUrl && !/^postgres(ql)?:\/\/\S+$/.test(cfg.databaseUrl)) {
    throw new ConfigError('invalid configuration: DATABASE_URL must be a postgres:// URL');
  }
  if (cfg.redisUrl && !/^rediss?:\/\/\S+$/.test(cfg.redisUrl)) throw new ConfigError('invalid configuration: REDIS_URL must be a redis:// URL');
  // Several nodes on one SQLite file cannot work: each would be a cluster of one.
  if (cfg.redisUrl && !cfg.databaseUrl) throw new ConfigError('invalid configuration: REDIS_URL needs DATABASE_URL (nodes share PostgreSQL)');
  // A generated secret is per node: a token from one would be refused by the others.
  if (cfg.redisUrl && !cfg.jwtSecret) throw new ConfigError('invalid configuration: REDIS_URL needs JWT_SECRET (the same on every node)');
  if ((cfg.scryptCost & (cfg.scryptCost - 1)) !== 0) throw new ConfigError('invalid configuration: SCRYPT_COST must be a power of two');
  if (cfg.jwtSecret && cfg.jwtSecret.length < 32) throw new ConfigError('invalid configuration: JWT_SECRET must be at least 32 characters');
  if (Boolean(cfg.vapidPublicKey) !== Boolean(cfg.vapidPrivateKey)) throw new ConfigError('invalid configuration: VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together');
  return Object.freeze(cfg);
}
