import type { Socket } from 'socket.io';
import type { Static, TSchema } from 'typebox';
import type { ClientToServerEvents } from '../../protocol/events.js';
import type { RuleName } from '../../domain/rate-limits.js';
import type { Services } from '../context.js';
import { payloadChecker } from '../validation.js';

/** What a handler knows of the call: who, from which socket, with what services. */
export interface SocketContext {
  userId: string;
  socket: Socket;
  services: Services;
}

export interface EventHandler {
  event: keyof ClientToServerEvents;
  /** null when the payload has the event's shape, else a sentence naming the field. */
  check: (payload: unknown) => string | null;
  /** Answers the ack's success fields (without `ok`); throws a DomainError to refuse. */
  handle: (ctx: SocketContext, payload: never) => Promise<Record<string, unknown>>;
  /** The rate limit a call spends a token of (per user), if any. */
  rule?: RuleName;
}

/** A client → server event: its payload schema and what it does. */
export function defineHandler<S extends TSchema>(
  event: keyof ClientToServerEvents,
  schema: S,
  handle: (ctx: SocketContext, payload: Static<S>) => Promise<Record<string, unknown>>,
  rule?: RuleName,
): EventHandler {
  const check = payloadChecker(schema);
  return { event, check, handle: handle as EventHandler['handle'], rule };
}
