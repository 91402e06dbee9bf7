import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AuthResponse, LoginBody, RegisterBody } from '../../protocol/http.js';
import { ErrorBody } from '../../protocol/errors.js';
import type { Services } from '../context.js';

export const authRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/api/auth/register',
    { schema: { body: RegisterBody, response: { 201: AuthResponse, '4xx': ErrorBody } } },
    async (request, reply) => reply.code(201).send(await services.accounts.register(request.body)),
  );
  app.post(
    '/api/auth/login',
    { schema: { body: LoginBody, response: { 200: AuthResponse, '4xx': ErrorBody } } },
    async (request) => services.accounts.login(request.body),
  );
};
