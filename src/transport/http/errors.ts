import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, type ErrorBody, type ErrorCode } from '../../protocol/errors.js';
import { DomainError } from '../../domain/errors.js';
import { StoreUnavailable } from '../../store/store.js';
import type { Metrics } from '../../metrics.js';
import { describeErrors } from '../validation.js';

const CODE_FOR_STATUS: Record<number, ErrorCode> = {
  400: 'validation',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'validation',
  429: 'rate_limited',
  503: 'unavailable',
};

export function sendError(reply: FastifyReply, code: ErrorCode, message?: string, data?: Record<string, unknown>) {
  const body: ErrorBody = { error: { code, message: message ?? ERROR_CATALOGUE[code].message, ...(data ? { data } : {}) } };
  return reply.code(ERROR_CATALOGUE[code].status).type('application/json').send(body);
}

/**
 * Fastify's `frameworkErrors`: requests the router refuses before any route
 * or hook runs (a URL that does not percent-decode, a path parameter over
 * the router's 100 characters) get the catalogue's body, not Fastify's own.
 */
export function onFrameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  if (err.code === 'FST_ERR_BAD_URL') return sendError(reply, 'validation', 'The URL is not valid (it does not percent-decode).');
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 'validation', 'A path parameter is too long.');
  return sendError(reply, 'internal');
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (an
 * unknown method, a malformed request line or header, headers too large)
 * never reaches Fastify; it gets the catalogue's body too, then the
 * connection closes (it cannot be trusted to be in step any more).
 */
export function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'payload_too_large' : 'validation';
  const message = code === 'payload_too_large' ? 'The request headers are too large.' : 'The request could not be parsed.';
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody);
  const { status } = ERROR_CATALOGUE[code];
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${code === 'validation' ? 'Bad Request' : 'Payload Too Large'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** How much of a refused body is read (and thrown away) so that its sender can read the 413. */
const DRAIN_BYTES_MAX = 64 * 1024 * 1024;
const DRAIN_MS_MAX = 10_000;

/**
 * Reads the rest of a request body that will not be used. A server that
 * answers and closes while the client is still sending resets the
 * connection, and the client sees a reset, not the answer; reading the
 * rest first (within bounds) lets it read the 413. Past the bounds the
 * answer goes anyway.
 */
function drain(raw: IncomingMessage): Promise<void> {
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let read = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', done);
      raw.off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > DRAIN_BYTES_MAX) done();
    };
    const timer = setTimeout(done, DRAIN_MS_MAX);
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('error', done);
    raw.resume();
  });
}

/** The one place where anything thrown in an HTTP handler becomes `{error}`. */
export function installErrorHandling(app: FastifyInstance, metrics: Metrics): void {
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const unreadUpload = !request.raw.complete && (request.headers['content-type'] ?? '').startsWith('multipart/');
    if (err.statusCode === 413 || (err instanceof DomainError && err.code === 'payload_too_large') || unreadUpload) {
      await drain(request.raw);
      reply.header('connection', 'close');
    }
    let code: ErrorCode;
    let message: string | undefined;
    let data: Record<string, unknown> | undefined;
    if (err instanceof DomainError) {
      ({ code, message, data } = err);
    } else if ((err as unknown) instanceof StoreUnavailable) {
      code = 'unavailable';
      message = 'The database is unavailable; retry shortly.';
      request.log.error({ err }, 'the database is unavailable');
    } else if (err.validation) {
      code = 'validation';
      const root = err.validationContext === 'querystring' ? 'query' : (err.validationContext ?? 'body');
      message = describeErrors(err.validation as never, root);
    } else if (err.statusCode && err.statusCode < 500 && CODE_FOR_STATUS[err.statusCode]) {
      code = CODE_FOR_STATUS[err.statusCode] as ErrorCode;
      message = err.statusCode === 400 && err.code?.startsWith('FST_ERR_CTP') ? `body: ${err.message}` : err.message;
    } else {
      code = 'internal';
      request.log.error({ err }, 'unhandled error');
    }
    metrics.httpErrors.inc({ code });
    if (code === 'unavailable' || code === 'rate_limited') {
      data = { retryAfter: 1000, ...data };
      // The same wait in the header HTTP clients and proxies read (whole seconds).
      reply.header('retry-after', String(Math.max(1, Math.ceil(Number(data.retryAfter) / 1000))));
    }
    return sendError(reply, code, message, data);
  });
  app.setNotFoundHandler((request, reply) => {
    metrics.httpErrors.inc({ code: 'not_found' });
    return sendError(reply, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`);
  });
}
