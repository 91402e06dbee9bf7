import fs from 'node:fs/promises';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import helmet from 'helmet';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { trustProxyOption, type Config } from './config/config.js';
import { resolveJwtSecret } from './config/secret.js';
import { LIMITS } from './protocol/limits.js';
import { AccountService } from './domain/accounts.js';
import { AttachmentGrants } from './domain/attachment-grants.js';
import { AttachmentService } from './domain/attachments.js';
import type { BlobStorage } from './blobs/blob-storage.js';
import { LocalDiskBlobs } from './blobs/local-disk.js';
import { PostgresBlobs } from './blobs/postgres-blobs.js';
import { Thumbnailer } from './media/thumbnails.js';
import { ConversationService } from './domain/conversations.js';
import { MembershipCache } from './domain/membership.js';
import { MessageService } from './domain/messages.js';
import { Presence, PresenceService, type PresenceRegistry } from './domain/presence.js';
import { ReceiptService } from './domain/receipts.js';
import { MemoryBuckets, rateLimitSettings, RateLimits } from './domain/rate-limits.js';
import { SearchService } from './domain/search.js';
import { SyncService } from './domain/sync.js';
import { TypingService } from './domain/typing.js';
import { WebhookSender, type WebhookOptions } from './notify/webhook.js';
import { WebPushSender } from './notify/web-push.js';
import { NotificationDispatcher, type DispatcherOptions } from './notify/dispatcher.js';
import { TokenService } from './domain/tokens.js';
import type { EventSink } from './domain/events.js';
import { SocketFanout, type ParleyServer } from './fanout/fanout.js';
import { broadcastInvalidation, connectRedis, type RedisLink } from './fanout/cluster.js';
import { createMetrics } from './metrics.js';
import type { Store } from './store/store.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import { PostgresStore } from './store/postgres/postgres-store.js';
import type { Services } from './transport/context.js';
import { logRequest } from './transport/http/log-serializers.js';
import { pushRoutes } from './transport/http/push-routes.js';
import { PushSubscriptionService } from './domain/push-subscriptions.js';
import { resolveVapidKeys } from './notify/vapid.js';
import { attachmentRoutes } from './transport/http/attachment-routes.js';
import { authRoutes } from './transport/http/auth-routes.js';
import { conversationRoutes } from './transport/http/conversation-routes.js';
import { searchRoutes } from './transport/http/search-routes.js';
import { installErrorHandling, onClientError, onFrameworkError } from './transport/http/errors.js';
import { systemRoutes } from './transport/http/system-routes.js';
import { userRoutes } from './transport/http/user-routes.js';
import { webRoutes } from './transport/http/web-routes.js';
import { coercingAjv, strictAjv } from './transport/validation.js';
import { createSocketServer, installSocketHandlers } from './transport/socket/server.js';

export interface Parley {
  http: FastifyInstance;
  io: ParleyServer;
  services: Services;
  /** The store (for operations and tests; the transports never write through it). */
  store: Store;
  /** Offline notifications: the durable queue and its senders (Web Push; the webhook with NOTIFY_WEBHOOK_URL). */
  notifier: NotificationDispatcher;
  /** Starts listening; resolves with the address (e.g. http://127.0.0.1:3000). */
  listen(): Promise<string>;
  /**
   * Graceful stop: refuse new work, let every accepted send commit and be
   * acknowledged, close sockets and HTTP, then the database.
   */
  close(): Promise<void>;
}

/**
 * Where attachments' bytes live, chosen with the store: PostgreSQL itself
 * when DATABASE_URL is set (every node serves every file; a small pool of
 * its own, since an upload holds a connection while it streams), else
 * DATA_DIR/attachments beside the SQLite database.
 */
async function createBlobStorage(config: Config): Promise<BlobStorage> {
  if (config.databaseUrl) return PostgresBlobs.open({ connectionString: config.databaseUrl, max: BLOB_POOL_SIZE, onError: () => undefined });
  return LocalDiskBlobs.open(path.join(path.dirname(config.dbPath), 'attachments'));
}

/**
 * Where uploads wait while inspected: DATA_DIR/uploads. What a crash left
 * there is removed at start, once an hour old (several nodes may share the
 * directory: a younger file may be another's upload in flight).
 */
async function uploadTmpDir(config: Config): Promise<string> {
  const dir = path.join(config.dataDir, 'uploads');
  await fs.mkdir(dir, { recursive: true });
  const before = Date.now() - 3_600_000;
  for (const name of await fs.readdir(dir)) {
    const file = path.join(dir, name);
    const stat = await fs.stat(file).catch(() => null);
    if (stat && stat.mtimeMs < before) await fs.rm(file, { force: true, recursive: true });
  }
  return dir;
}

/** Connections of the PostgreSQL blob storage's own pool. */
const BLOB_POOL_SIZE = 4;
/** Unsent uploads expire, and erased files leave storage, every so often (and after each deletion). */
const ATTACHMENT_SWEEP_EVERY_MS = 10 * 60_000;
/** The first sweep after start. */
const ATTACHMENT_FIRST_SWEEP_MS = 5_000;

/** The one place where the store is chosen: PostgreSQL when DATABASE_URL is set, else SQLite. */
async function createStore(config: Config, log: FastifyBaseLogger): Promise<Store> {
  if (config.databaseUrl) {
    return PostgresStore.open({
      url: config.databaseUrl,
      poolSize: config.databasePoolSize,
      onError: (err) => log.error({ err, component: 'postgres' }, 'idle database connection failed'),
    });
  }
  return new SqliteStore({ file: config.dbPath, onIndexError: (message) => log.error({ component: 'search-index' }, message) });
}

/**
 * With several nodes, a cached membership is also reread after this long, a
 * bound on staleness should an invalidation from another node be lost.
 */
const CLUSTER_MEMBERSHIP_MAX_AGE_MS = 30_000;

/**
 * Sends of one user waiting in the node's send queue (of 20,000): past it
 * the user's next sends are refused with `rate_limited`, so no one user can
 * take the queue from everyone else.
 */
const MAX_PENDING_SENDS_PER_USER = 1000;

/** Sessions expired for a day (clocks of nodes may differ) are deleted, hourly. */
const SESSION_PRUNE_EVERY_MS = 3_600_000;
const SESSION_PRUNE_GRACE_MS = 86_400_000;

/** Composition root: wires store, domain, fan-out and transports from a config. */
export interface AppOptions {
  /** The clock (epoch ms); tests may freeze it. */
  now?: () => number;
  /** How long typing lasts after the last `true` (default 5 s); tests shorten it. */
  typingTimeoutMs?: number;
  /** The bound on a socket's unsent output (bytes); tests lower it. */
  maxOutgoingBytes?: number;
  /** How long output may stay over that bound (ms); tests shorten it. */
  outputGraceMs?: number;
  /** Where the log goes (default: standard output); tests read it. */
  logStream?: NodeJS.WritableStream;
  /** Webhook tuning (retry delays, attempts) for tests. */
  webhook?: Partial<Omit<WebhookOptions, 'url' | 'secret' | 'store' | 'log' | 'metrics'>>;
  /** Queue tuning (bound, concurrency, lease, polling) for tests. */
  notifications?: Partial<Pick<DispatcherOptions, 'maxBacklog' | 'concurrency' | 'leaseMs' | 'pollMs'>>;
  /** The HTTPS agent Web Push goes through (tests: one that trusts their push service's CA). */
  pushAgent?: import('node:https').Agent;
}

export async function createApp(config: Config, opts: AppOptions = {}): Promise<Parley> {
  const now = opts.now ?? Date.now;
  const http = Fastify({
    logger: { level: config.logLevel, serializers: { req: logRequest }, ...(opts.logStream ? { stream: opts.logStream } : {}) },
    bodyLimit: LIMITS.bodyBytesMax,
    // Idle keep-alive connections close at once; requests in flight finish.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // request.ip is the client's address, not a proxy's, only behind proxies declared here.
    trustProxy: trustProxyOption(config.trustProxy),
    // Requests refused before any route (a bad URL, a request Node cannot parse) answer the catalogue's body too.
    frameworkErrors: onFrameworkError,
    clientErrorHandler: onClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();
  http.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema),
  );

  const secret = resolveJwtSecret(config.jwtSecret, config.dataDir);
  const tokens = new TokenService(secret, config.tokenTtlSeconds);
  const store = await createStore(config, http.log);
  const vapid = await resolveVapidKeys(config, store instanceof PostgresStore ? (name, make) => store.sharedKey(name, make) : undefined);
  const blobs = await createBlobStorage(config).catch(async (e: unknown) => {
    await store.close();
    throw e;
  });
  const grants = new AttachmentGrants(secret, now);
  // One node, or several sharing Redis: the adapter, presence and the
  // membership invalidations are chosen here, together.
  let redis: RedisLink | undefined;
  let membership!: MembershipCache;
  try {
    redis = config.redisUrl
      ? await connectRedis({
          url: config.redisUrl,
          prefix: config.redisPrefix,
          onError: (err, what) => http.log.warn({ err, component: what }, 'redis error'),
          onReconnect: () => {
            http.log.info('redis is back: cached memberships are reread');
            membership.clear();
          },
        })
      : undefined;
  } catch (e) {
    await store.close();
    throw e;
  }
  const { registry, metrics } = createMetrics(store);
  const presence: PresenceRegistry = redis?.presence ?? new Presence();
  // Buckets in Redis hold a limit over every node; one node keeps them itself.
  const rateLimiting = rateLimitSettings(config.rateLimits);
  if (rateLimiting.problem) http.log.warn(rateLimiting.problem);
  const limits = new RateLimits(rateLimiting.settings, redis?.buckets ?? new MemoryBuckets(), now, (rule) =>
    metrics.rateLimited.inc({ rule }),
  );

  const corsOrigins = config.corsOrigin.split(',').map((o) => o.trim()).filter(Boolean);
  const io = createSocketServer(http.server, corsOrigins);
  membership = new MembershipCache(
    store,
    redis
      ? {
          broadcast: broadcastInvalidation(io, (err) => http.log.warn({ err }, 'a node did not confirm a membership invalidation')),
          maxAgeMs: CLUSTER_MEMBERSHIP_MAX_AGE_MS,
        }
      : {},
  );
  redis?.attach(io, membership);
  const events: EventSink = new SocketFanout(io);

  const notifier = new NotificationDispatcher({
    store,
    presence,
    log: http.log.child({ component: 'notifications' }),
    metrics,
    now,
    pushDelayMs: config.pushDelayMs,
    senders: {
      push: new WebPushSender({ store, presence, vapid, log: http.log.child({ component: 'web-push' }), metrics, now, agent: opts.pushAgent }),
      ...(config.notifyWebhookUrl
        ? {
            webhook: new WebhookSender({
              url: config.notifyWebhookUrl,
              secret: config.notifyWebhookSecret || undefined,
              store,
              log: http.log.child({ component: 'webhook' }),
              metrics,
              ...opts.webhook,
            }),
          }
        : {}),
    },
    ...opts.notifications,
  });
  const conversations = new ConversationService({ store, membership, presence, events, now, urls: grants });
  const attachments = new AttachmentService({
    store,
    membership,
    blobs,
    thumbnails: new Thumbnailer(),
    grants,
    maxBytes: config.attachmentMaxBytes,
    now,
    tmpDir: await uploadTmpDir(config),
    onError: (err, what) => http.log.warn({ err }, what),
  });
  const sweep = () => attachments.sweep().catch((err: unknown) => http.log.warn({ err }, 'erasing attachments failed (retried at the next sweep)'));
  const services: Services = {
    accounts: new AccountService({ store, tokens, presence, events, limits, scryptCost: config.scryptCost, now }),
    conversations,
    messages: new MessageService({
      store,
      membership,
      events,
      now,
      presence,
      notifier,
      // One user's share of the send queue (it is not a rate: it only bites when the queue is long).
      maxPendingPerUser: limits.enabled ? MAX_PENDING_SENDS_PER_USER : Infinity,
      onNotifyError: (err) => http.log.error({ err }, 'offline notification skipped: presence unknown'),
      urls: grants,
      onErased: () => attachments.eraseNow().catch((err: unknown) => http.log.warn({ err }, 'erasing attachments failed (retried at the next sweep)')),
      onCommit: (stored, seconds) => {
        metrics.messagesStored.inc(stored);
        metrics.commitBatch.observe(stored);
        metrics.commitSeconds.observe(seconds);
      },
    }),
    receipts: new ReceiptService({ store, membership, events, now }),
    typing: new TypingService({ membership, events }, opts.typingTimeoutMs),
    sync: new SyncService({ store, conversations, urls: grants }),
    search: new SearchService({ store, membership, urls: grants }),
    attachments,
    push: new PushSubscriptionService({ store, publicKey: vapid.publicKey, endpointHosts: config.pushEndpointHosts.split(','), now }),
    presence: new PresenceService(presence, {
      store,
      events,
      now,
      onError: (err) => http.log.error({ err }, 'presence announcement failed'),
    }),
    limits,
    dependencies: [{ name: 'database', ping: () => store.ping() }, ...(redis ? [{ name: 'redis', ping: () => redis.ping() }] : [])],
    metrics,
    registry,
    now,
  };
  presence.onOrphans = (userIds) => void services.presence.orphaned(userIds);

  // Security headers, with a policy that lets the web client load only its
  // own scripts and talk only to this server (HTTP and WebSocket). Helmet's
  // middleware is built once: @fastify/helmet rebuilds it (parsing the
  // policy) on every request, a measurable share of a history request.
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        // Its own server only: 'self' covers the same origin's ws:/wss: (CSP 3).
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
    },
  });
  http.addHook('onRequest', (request, reply, done) => securityHeaders(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined)));
  if (corsOrigins.length) await http.register(cors, { origin: corsOrigins, credentials: true });
  installErrorHandling(http, metrics);
  // While shutting down, a response that finishes closes its connection, so
  // keep-alive connections do not hold the shutdown open.
  let shuttingDown = false;
  http.addHook('onSend', async (_request, reply, payload) => {
    if (shuttingDown) reply.header('connection', 'close');
    return payload;
  });
  await http.register(systemRoutes, { services, metricsToken: config.metricsToken });
  await http.register(webRoutes);
  await http.register(authRoutes, { services });
  await http.register(userRoutes, { services });
  await http.register(conversationRoutes, { services });
  await http.register(searchRoutes, { services });
  await http.register(attachmentRoutes, { services, maxBytes: config.attachmentMaxBytes });
  await http.register(pushRoutes, { services });

  // Expired sessions are deleted now and then (every node may: it is one idempotent DELETE).
  const pruner = setInterval(() => {
    store.pruneSessions(now() - SESSION_PRUNE_GRACE_MS).catch((err: unknown) => http.log.warn({ err }, 'pruning expired sessions failed'));
  }, SESSION_PRUNE_EVERY_MS);
  pruner.unref();
  const sweeper = setInterval(() => void sweep(), ATTACHMENT_SWEEP_EVERY_MS);
  sweeper.unref();
  // And once soon after start: a node that restarts more often than the
  // interval still finishes erasures a crash left and expires old uploads.
  const firstSweep = setTimeout(() => void sweep(), ATTACHMENT_FIRST_SWEEP_MS);
  firstSweep.unref();

  const sockets = installSocketHandlers(io, services, http.log, { maxOutgoingBytes: opts.maxOutgoingBytes, outputGraceMs: opts.outputGraceMs });

  let closing: Promise<void> | null = null;
  return {
    http,
    io,
    store,
    services,
    notifier,
    async listen() {
      return http.listen({ port: config.port, host: config.host });
    },
    close() {
      closing ??= (async () => {
        // 1. New handshakes and socket events are refused with `unavailable`.
        shuttingDown = true;
        sockets.stopAccepting();
        sockets.close();
        clearInterval(pruner);
        clearInterval(sweeper);
        clearTimeout(firstSweep);
        // 2. Every send and marker already accepted commits and is acknowledged.
        await Promise.all([services.messages.drain(), services.receipts.drain()]);
        await new Promise<void>((resolve) => setImmediate(resolve));
        // 3. Sockets close; then HTTP stops listening and lets requests in flight finish.
        services.typing.close();
        io.local.disconnectSockets(true);
        io.engine.close();
        await http.close();
        // 4. Last, what writes after requests: presence, notifications, then the database.
        await services.presence.settled();
        await notifier.close();
        await redis?.close();
        limits.close();
        await blobs.close();
        await store.close();
      })();
      return closing;
    },
  };
}
