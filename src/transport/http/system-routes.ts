import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HealthResponse } from '../../protocol/http.js';
import { ErrorBody } from '../../protocol/errors.js';
import type { Services } from '../context.js';
import { sendError } from './errors.js';
import { bearerToken } from './authenticate.js';

/** Compares in constant time (for the length of the expected secret). */
function sameSecret(given: string | null, expected: string): boolean {
  const a = createHash('sha256').update(given ?? '').digest();
  const b = createHash('sha256').update(expected).digest();
  return given !== null && timingSafeEqual(a, b);
}

/** How long /health waits for a dependency's answer. */
const HEALTH_TIMEOUT_MS = 2000;

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Health, metrics, and the way to the web client. */
export const systemRoutes: FastifyPluginAsyncTypebox<{ services: Services; metricsToken: string }> = async (app, { services, metricsToken }) => {
  app.get('/health', { schema: { response: { 200: HealthResponse, 503: ErrorBody } } }, async (request, reply) => {
    // Healthy while every dependency answers (the store; Redis with several
    // nodes); 503 while one does not, and 200 again by itself once it does.
    const results = await Promise.allSettled(services.dependencies.map((d) => withTimeout(d.ping(), HEALTH_TIMEOUT_MS)));
    const down = services.dependencies.filter((_, i) => results[i]?.status === 'rejected').map((d) => d.name);
    if (down.length === 0) return { status: 'ok' as const };
    request.log.warn({ down }, 'health check: a dependency does not answer');
    return sendError(reply, 'unavailable', `Not answering: ${down.join(', ')}.`, { retryAfter: 1000 });
  });

  app.get('/metrics', async (request, reply) => {
    if (metricsToken && !sameSecret(bearerToken(request.headers.authorization), metricsToken)) {
      return sendError(reply, 'unauthorized', 'GET /metrics needs its bearer token (METRICS_TOKEN).');
    }
    return reply.type(services.registry.contentType).send(await services.registry.metrics());
  });

  app.get('/', async (_request, reply) => reply.redirect('/messages', 302));
};
