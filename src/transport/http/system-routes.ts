import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HealthResponse } from '../../protocol/http.js';
import { ErrorBody } from '../../protocol/errors.js';
import type { Services } from '../context.js';
import { sendError } from './errors.js';

/** Health, metrics, and the way to the web client. */
export const systemRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get('/health', { schema: { response: { 200: HealthResponse, 503: ErrorBody } } }, async (request, reply) => {
    try {
      await services.store.ping();
      return { status: 'ok' as const };
    } catch (err) {
      request.log.warn({ err }, 'health check: the store does not answer');
      return sendError(reply, 'unavailable', 'The store does not answer.', { retryAfter: 1000 });
    }
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(services.registry.contentType).send(await services.registry.metrics()),
  );

  app.get('/', async (_request, reply) => reply.redirect('/messages', 302));
};
