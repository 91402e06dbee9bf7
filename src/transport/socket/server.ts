import type { Server as HttpServer } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { Server } from 'socket.io';
import { LIMITS } from '../../protocol/limits.js';
import { userRoom, type ParleyServer } from '../../fanout/fanout.js';
import type { Services } from '../context.js';
import type { AckError } from '../../protocol/errors.js';
import { ackError, splitArgs, toAckError, type AckFn } from './acks.js';
import type { EventHandler } from './handler.js';
import { messageHandlers } from './message-handlers.js';
import { realtimeHandlers } from './realtime-handlers.js';

const HANDLERS: readonly EventHandler[] = [...messageHandlers, ...realtimeHandlers];

export interface SocketServerOptions {
  corsOrigins: string[];
  log: FastifyBaseLogger;
}

export interface SocketTransport {
  io: ParleyServer;
  /** Refuse new events (acks answer `unavailable`) from now on. */
  stopAccepting(): void;
}

/** Socket.IO on the HTTP server: handshake auth, rooms, one ack per event. */
export function attachSocketServer(http: HttpServer, services: Services, opts: SocketServerOptions): SocketTransport {
  const io: ParleyServer = new Server(http, {
    serveClient: false,
    maxHttpBufferSize: LIMITS.bodyBytesMax,
    cors: opts.corsOrigins.length ? { origin: opts.corsOrigins, credentials: true } : undefined,
  });
  const log = opts.log.child({ component: 'socket' });
  let accepting = true;

  io.use((socket, next) => {
    if (!accepting) return next(new Error('unavailable'));
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = auth?.token ?? socket.handshake.query.token;
    services.accounts.authenticate(token).then(
      (user) => {
        if (!user) return next(new Error('unauthorized'));
        socket.data.userId = user.id;
        next();
      },
      (err: unknown) => {
        log.error({ err }, 'socket authentication failed');
        next(new Error('internal'));
      },
    );
  });

  io.on('connection', (socket) => {
    const userId = socket.data.userId as string;
    void socket.join(userRoom(userId));
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
        if (!accepting) {
          fail(ack, ackError('unavailable', 'The server is shutting down; retry shortly.', { retryAfter: 1000 }));
          return;
        }
        const invalid = hasPayload ? h.check(payload) : 'payload is required';
        if (invalid !== null) {
          fail(ack, ackError('validation', invalid));
          return;
        }
        h.handle(ctx, payload as never).then(
          (answer) => ack?.({ ok: true, ...answer }),
          (err: unknown) => fail(ack, toAckError(err, log)),
        );
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

  return {
    io,
    stopAccepting: () => {
      accepting = false;
    },
  };
}

const KNOWN = new Set<string>(HANDLERS.map((h) => h.event));
