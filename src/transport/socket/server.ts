import type { Server as HttpServer } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { Server, type Socket } from 'socket.io';
import { LIMITS } from '../../protocol/limits.js';
import type { AckError } from '../../protocol/errors.js';
import { sessionRoom, userRoom, type ParleyServer } from '../../fanout/fanout.js';
import type { Services } from '../context.js';
import { ackError, splitArgs, toAckError, type AckFn } from './acks.js';
import type { EventHandler } from './handler.js';
import { messageHandlers } from './message-handlers.js';
import { realtimeHandlers } from './realtime-handlers.js';

const HANDLERS: readonly EventHandler[] = [...messageHandlers, ...realtimeHandlers];
const KNOWN = new Set<string>(HANDLERS.map((h) => h.event));

/** Events one socket may have unanswered at once; past it: `rate_limited`. */
export const MAX_IN_FLIGHT_PER_SOCKET = 64;
/** A socket whose unsent output passes this many bytes has stopped reading: it is disconnected. */
export const MAX_OUTGOING_BYTES = 16 * 1024 * 1024;
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

/** Bytes written to a socket that its client has not taken yet (websocket transport). */
function outgoingBytes(socket: Socket): number {
  const transport = socket.conn.transport as { socket?: { bufferedAmount?: number } };
  return transport.socket?.bufferedAmount ?? 0;
}

/** Handshake auth, rooms, presence, and one ack per event, for every socket. */
export function installSocketHandlers(io: ParleyServer, services: Services, baseLog: FastifyBaseLogger): SocketTransport {
  const log = baseLog.child({ component: 'socket' });
  let accepting = true;

  io.use((socket, next) => {
    if (!accepting) return next(new Error('unavailable'));
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = auth?.token ?? socket.handshake.query.token;
    services.accounts.authenticate(token).then(
      (session) => {
        if (!session) return next(new Error('unauthorized'));
        const data: SocketData = { userId: session.user.id, sessionId: session.sessionId, expiresAt: session.expiresAt, inFlight: 0 };
        socket.data = data;
        next();
      },
      (err: unknown) => {
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
        if (outgoingBytes(socket) > MAX_OUTGOING_BYTES) {
          log.warn({ userId, socket: socket.id }, 'socket does not read its answers: disconnected');
          socket.disconnect(true);
          return;
        }
        if (data.inFlight >= MAX_IN_FLIGHT_PER_SOCKET) {
          return fail(ack, ackError('rate_limited', `At most ${MAX_IN_FLIGHT_PER_SOCKET} unanswered events per connection.`, { retryAfter: 100 }));
        }
        const invalid = hasPayload ? h.check(payload) : 'payload is required';
        if (invalid !== null) return fail(ack, ackError('validation', invalid));
        data.inFlight++;
        h.handle(ctx, payload as never)
          .then(
            (answer) => ack?.({ ok: true, ...answer }),
            (err: unknown) => fail(ack, toAckError(err, log)),
          )
          .finally(() => data.inFlight--);
      });
    }

    socket.onAny((event: string, ...args: unknown[]) => {
      if (KNOWN.has(event)) return;
      splitArgs(args).ack?.(ackError('validation', `unknown event '${event}'`));
    });

    socket.on('disconnect', () => {
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
