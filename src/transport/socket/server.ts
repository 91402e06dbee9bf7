import type { Server as HttpServer } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { Server, type Socket } from 'socket.io';
import { LIMITS } from '../../protocol/limits.js';
import type { AckError } from '../../protocol/errors.js';
import { sessionRoom, userRoom, type ParleyServer } from '../../fanout/fanout.js';
import type { Services } from '../context.js';
import { DomainError } from '../../domain/errors.js';
import { rateLimited } from '../../domain/rate-limits.js';
import { ackError, splitArgs, toAckError, type AckFn } from './acks.js';
import type { EventHandler } from './handler.js';
import { messageHandlers } from './message-handlers.js';
import { realtimeHandlers } from './realtime-handlers.js';

const HANDLERS: readonly EventHandler[] = [...messageHandlers, ...realtimeHandlers];
const KNOWN = new Set<string>(HANDLERS.map((h) => h.event));

/** Events one socket may have unanswered at once; past it: `rate_limited` (not with RATE_LIMITS=off). */
export const MAX_IN_FLIGHT_PER_SOCKET = 64;
/** A socket whose unsent output passes this many bytes has stopped reading: it is disconnected. */
export const MAX_OUTGOING_BYTES = 16 * 1024 * 1024;
/** How long a socket's unsent output may stay over MAX_OUTGOING_BYTES before it is dropped. */
export const OUTPUT_GRACE_MS = 5000;
/** How often sockets are checked for expired tokens. */
const EXPIRY_SWEEP_MS = 60_000;

export interface SocketTransport {
  /** Refuse new handshakes and events (`unavailable`) from now on. */
  stopAccepting(): void;
  /** Stops the transport's timers. */
  close(): void;
}

interface SocketData {
  userId: string;
  sessionId: string;
  expiresAt: number;
  inFlight: number;
}

/** The Socket.IO server on Parley's HTTP server (no handlers yet). */
export function createSocketServer(http: HttpServer, corsOrigins: string[]): ParleyServer {
  return new Server(http, {
    serveClient: false,
    maxHttpBufferSize: LIMITS.bodyBytesMax,
    cors: corsOrigins.length ? { origin: corsOrigins, credentials: true } : undefined,
  });
}

/** The size of an Engine.IO packet's data in bytes, as it goes out (UTF-8). */
function packetBytes(packet: { data?: unknown }): number {
  const d = packet.data as { length?: number; byteLength?: number } | undefined;
  return typeof d === 'string' ? Buffer.byteLength(d, 'utf8') : (d?.byteLength ?? d?.length ?? 0);
}

/** Unsent output this many times the bound drops the socket at once, without the grace: memory stays bounded whatever it asks for meanwhile. */
const HARD_CEILING_FACTOR = 4;

/**
 * Watches a socket's unsent output: the packets Engine.IO holds because the
 * transport is not writable (the WebSocket has not taken the last ones yet,
 * or a poll has not come), plus the bytes the WebSocket holds above the
 * kernel's buffers. Checked on every packet made for the socket, where
 * output is produced. Once over `maxBytes` it looks again `graceMs` later:
 * a client that was sent one big answer has drained it by then; one that
 * stopped reading is still over, and is dropped (whatever it sends itself),
 * costing the others nothing meanwhile. Output that reaches 4 × `maxBytes`
 * (a client that keeps asking for big answers while it reads nothing) is
 * dropped at once. Answers a function that stops the watch.
 */
function boundOutput(socket: Socket, maxBytes: number, graceMs: number, onOverflow: (bytes: number) => void): () => void {
  const conn = socket.conn as unknown as NodeJS.EventEmitter & { transport: { socket?: { bufferedAmount?: number } } };
  let held = 0; // bytes in Engine.IO's write buffer
  let recheck: NodeJS.Timeout | undefined;
  let dropped = false;
  const unsent = () => held + (conn.transport.socket?.bufferedAmount ?? 0);
  const drop = (bytes: number) => {
    if (dropped) return;
    dropped = true;
    clearTimeout(recheck);
    onOverflow(bytes);
  };
  const onPacket = (packet: { data?: unknown }) => {
    held += packetBytes(packet);
    if (dropped) return;
    const bytes = unsent();
    if (bytes > HARD_CEILING_FACTOR * maxBytes) return drop(bytes);
    if (recheck || bytes <= maxBytes) return;
    recheck = setTimeout(() => {
      recheck = undefined;
      const later = unsent();
      if (later > maxBytes) drop(later);
    }, graceMs);
    recheck.unref();
  };
  // The buffer went to the transport: from now on those bytes are the WebSocket's.
  const onFlush = () => (held = 0);
  conn.on('packetCreate', onPacket);
  conn.on('flush', onFlush);
  return () => {
    clearTimeout(recheck);
    conn.off('packetCreate', onPacket);
    conn.off('flush', onFlush);
  };
}

export interface SocketOptions {
  /** The bound on a socket's unsent output (default MAX_OUTGOING_BYTES); tests lower it. */
  maxOutgoingBytes?: number;
  /** How long output may stay over the bound before the socket is dropped (default OUTPUT_GRACE_MS). */
  outputGraceMs?: number;
}

export function installSocketHandlers(io: ParleyServer, services: Services, baseLog: FastifyBaseLogger, options: SocketOptions = {}): SocketTransport {
  const log = baseLog.child({ component: 'socket' });
  const maxInFlight = services.limits.enabled ? MAX_IN_FLIGHT_PER_SOCKET : Infinity;
  let accepting = true;

  io.use((socket, next) => {
    if (!accepting) return next(new Error('unavailable'));
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = auth?.token ?? socket.handshake.query.token;
    const admit = async (): Promise<Error | undefined> => {
      const session = await services.accounts.authenticate(token);
      if (!session) return new Error('unauthorized');
      const userId = session.user.id;
      // Connections per user: a rate, and a bound on those open at once (every node).
      await services.limits.take('connect', userId);
      const { maxSocketsPerUser } = services.limits.settings;
      if (services.limits.enabled && (await services.presence.presence.socketCount(userId)) >= maxSocketsPerUser) {
        throw rateLimited(10_000, `At most ${maxSocketsPerUser} connections per user.`);
      }
      const data: SocketData = { userId, sessionId: session.sessionId, expiresAt: session.expiresAt, inFlight: 0 };
      socket.data = data;
      return undefined;
    };
    admit().then(
      (refused) => next(refused),
      (err: unknown) => {
        if (err instanceof DomainError) {
          // `connect_error` with the code as its message and the error's data (retryAfter) as `data`.
          const refused = new Error(err.code) as Error & { data?: unknown };
          refused.data = { code: err.code, message: err.message, ...err.data };
          return next(refused);
        }
        log.error({ err }, 'socket authentication failed');
        next(new Error('internal'));
      },
    );
  });

  io.on('connection', (socket) => {
    const data = socket.data as SocketData;
    const { userId } = data;
    // Its session's room: a logout or password change disconnects it, on whatever node.
    void socket.join([userRoom(userId), sessionRoom(data.sessionId)]);
    // A revocation that came between the handshake's check and this join
    // missed the room: look again now that the room would hear it.
    services.accounts.sessionLive(data.sessionId, userId).then(
      (live) => live || socket.disconnect(true),
      (err: unknown) => log.warn({ err }, 'session check after connecting failed'),
    );
    const unwatch = boundOutput(socket, options.maxOutgoingBytes ?? MAX_OUTGOING_BYTES, options.outputGraceMs ?? OUTPUT_GRACE_MS, (bytes) => {
      log.warn({ userId, socket: socket.id, bytes }, 'socket does not read what it is sent: disconnected');
      services.metrics.slowSocketsDropped.inc();
      socket.disconnect(true);
      // It reads nothing, a closing handshake included: drop the connection
      // now rather than after the WebSocket's 30 s close timeout.
      (socket.conn.transport as { socket?: { terminate?: () => void } }).socket?.terminate?.();
    });
    void services.presence.connected(userId);
    services.metrics.socketsConnected.inc();
    const ctx = { userId, socket, services };

    for (const h of HANDLERS) {
      const fail = (ack: AckFn | undefined, error: AckError) => {
        services.metrics.socketErrors.inc({ event: h.event, code: error.error.code });
        ack?.(error);
      };
      socket.on(h.event, (...args: unknown[]) => {
        const { payload, ack, hasPayload } = splitArgs(args);
        if (!accepting) return fail(ack, ackError('unavailable', 'The server is shutting down; retry shortly.', { retryAfter: 1000 }));
        if (services.now() >= data.expiresAt) {
          fail(ack, ackError('unauthorized', 'The token has expired.'));
          socket.disconnect(true);
          return;
        }
        // Typing is coalesced, never refused; with RATE_LIMITS=off nothing is.
        if (data.inFlight >= maxInFlight && h.event !== 'typing') {
          return fail(ack, ackError('rate_limited', `At most ${MAX_IN_FLIGHT_PER_SOCKET} unanswered events per connection.`, { retryAfter: 100 }));
        }
        const invalid = hasPayload ? h.check(payload) : 'payload is required';
        if (invalid !== null) return fail(ack, ackError('validation', invalid));
        data.inFlight++;
        (h.rule ? services.limits.take(h.rule, userId) : Promise.resolve())
          .then(() => h.handle(ctx, payload as never))
          .then(
            (answer) => ack?.({ ok: true, ...answer }),
            (err: unknown) => fail(ack, toAckError(err, log)),
          )
          .finally(() => data.inFlight--);
      });
    }

    socket.onAny((event: unknown, ...args: unknown[]) => {
      // A packet with an ack id but no event name at all (`21`): Socket.IO
      // passes its ack callback where the name would be.
      if (typeof event === 'function') return void (event as AckFn)(ackError('validation', 'an event name is required'));
      if (KNOWN.has(String(event))) return;
      splitArgs(args).ack?.(ackError('validation', `unknown event '${String(event)}'`));
    });

    socket.on('disconnect', () => {
      unwatch();
      services.metrics.socketsConnected.dec();
      services.typing.socketClosed(socket.id);
      void services.presence.disconnected(userId);
    });
  });

  // A socket outlives nothing: once its token expires it is disconnected.
  const sweeper = setInterval(() => {
    const now = services.now();
    for (const socket of io.of('/').sockets.values()) {
      if (now >= (socket.data as SocketData).expiresAt) socket.disconnect(true);
    }
  }, EXPIRY_SWEEP_MS);
  sweeper.unref();

  return {
    stopAccepting: () => {
      accepting = false;
    },
    close: () => clearInterval(sweeper),
  };
}
