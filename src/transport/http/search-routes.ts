import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SearchQuery, SearchResponse } from '../../protocol/http.js';
import { ErrorBody } from '../../protocol/errors.js';
import type { Services } from '../context.js';
import { authenticateHook, rateLimitHook } from './authenticate.js';

export const searchRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.addHook('preHandler', authenticateHook(services));
  app.get(
    '/api/search',
    { preHandler: rateLimitHook(services, 'search'), schema: { querystring: SearchQuery, response: { 200: SearchResponse, '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request) =>
      services.search.search(request.userId, request.query.q, {
        conversationId: request.query.conversationId,
        limit: request.query.limit,
      }),
  );
};
