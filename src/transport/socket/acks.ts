import type { Logger } from 'pino';
import type { AckError } from '../../protocol/errors.js';
import { DomainError } from '../../domain/errors.js';
import { StoreUnavailable } from '../../store/store.js';

export type AckFn = (answer: unknown) => void;

export const ackError = (code: AckError['error']['code'], message: string, data?: Record<string, unknown>): AckError => ({
  ok: false,
  error: data ? { code, message, data } : { code, message },
});

/** The one place where anything thrown in a socket handler becomes a failed ack. */
export function toAckError(err: unknown, log: Pick<Logger, 'error'>): AckError {
  if (err instanceof DomainError) return { ok: false, error: err.toWire() };
  if (err instanceof StoreUnavailable) {
    log.error({ err }, 'the database is unavailable');
    return ackError('unavailable', 'The database is unavailable; retry shortly.', { retryAfter: 1000 });
  }
  log.error({ err }, 'socket handler failed');
  return ackError('internal', 'Something went wrong on the server.');
}

/** Splits Socket.IO handler arguments into the payload and the ack callback. */
export function splitArgs(args: unknown[]): { payload: unknown; ack: AckFn | undefined; hasPayload: boolean } {
  const last = args[args.length - 1];
  const ack = typeof last === 'function' ? (last as AckFn) : undefined;
  const n = ack ? args.length - 1 : args.length;
  return { payload: args[0], ack, hasPayload: n > 0 && !(ack && args[0] === ack) };
}
