import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AuthResponse, ChangePasswordBody, LoginBody, RegisterBody } from '../../protocol/http.js';
import { authenticateHook } from './authenticate.js';
import { ErrorBody } from '../../protocol/errors.js';
import type { Services } from '../context.js';

export const authRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/api/auth/register',
    { schema: { body: RegisterBody, response: { 201: AuthResponse, '4xx': ErrorBody } } },
    async (request, reply) => reply.code(201).send(await services.accounts.register(request.body, request.ip)),
  );
  app.post(
    '/api/auth/login',
    { schema: { body: LoginBody, response: { 200: AuthResponse, '4xx': ErrorBody } } },
    async (request) => services.accounts.login(request.body, request.ip),
  );
  // The calling token's session ends: REST 401 and its sockets disconnected from now on.
  app.post(
    '/api/auth/logout',
    { preHandler: authenticateHook(services), schema: { response: { 204: Type.Null(), '4xx': ErrorBody } } },
    async (request, reply) => {
      await services.accounts.logout(request.sessionId);
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/auth/password',
    { preHandler: authenticateHook(services), schema: { body: ChangePasswordBody, response: { 204: Type.Null(), '4xx': ErrorBody } } },
    async (request, reply) => {
      await services.accounts.changePassword(request.userId, request.sessionId, request.body);
      return reply.code(204).send(null);
    },
  );
};
