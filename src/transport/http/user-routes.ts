import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { UpdateMeBody, UsersQuery, UsersResponse } from '../../protocol/http.js';
import { User } from '../../protocol/models.js';
import { ErrorBody } from '../../protocol/errors.js';
import type { Services } from '../context.js';
import { authenticateHook, rateLimitHook } from './authenticate.js';

export const userRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.addHook('preHandler', authenticateHook(services));
  app.get('/api/users/me', { schema: { response: { 200: User, '4xx': ErrorBody } } }, async (request) =>
    services.accounts.me(request.userId),
  );
  app.patch(
    '/api/users/me',
    { schema: { body: UpdateMeBody, response: { 200: User, '4xx': ErrorBody } } },
    async (request) => services.accounts.updateDisplayName(request.userId, request.body.displayName),
  );
  app.get(
    '/api/users',
    { preHandler: rateLimitHook(services, 'search'), schema: { querystring: UsersQuery, response: { 200: UsersResponse, '4xx': ErrorBody } } },
    async (request) => ({ users: await services.accounts.search(request.userId, request.query.q, request.query.limit) }),
  );
};
