import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody } from '../../protocol/errors.js';
import type { Services } from '../context.js';
import { authenticateHook } from './authenticate.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

/** A browser's PushSubscription.toJSON(): other fields (expirationTime) are ignored. */
const SubscriptionBody = Type.Object(
  {
    endpoint: Type.String({ minLength: 1, maxLength: 2048 }),
    keys: Type.Object({ p256dh: Type.String({ minLength: 1, maxLength: 200 }), auth: Type.String({ minLength: 1, maxLength: 64 }) }),
  },
  { additionalProperties: true },
);
const EndpointBody = Type.Object({ endpoint: Type.String({ minLength: 1, maxLength: 2048 }) });
const Previews = Type.Object({ previews: Type.Boolean() });

/** Web Push (issue #19): the server's public key, browsers' subscriptions, the user's "previews" choice. */
export const pushRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { push } = services;
  app.addHook('preHandler', authenticateHook(services));

  app.get('/api/push/key', { schema: { response: { 200: Type.Object({ publicKey: Type.String() }), ...errors } } }, async () => ({
    publicKey: push.publicKey,
  }));

  app.post(
    '/api/push/subscriptions',
    { schema: { body: SubscriptionBody, response: { 201: Type.Object({ endpoint: Type.String() }), ...errors } } },
    async (request, reply) => {
      await push.subscribe(request.userId, request.sessionId, request.body);
      return reply.code(201).send({ endpoint: request.body.endpoint });
    },
  );

  app.delete('/api/push/subscriptions', { schema: { body: EndpointBody, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    await push.unsubscribe(request.userId, request.body.endpoint);
    return reply.code(204).send(null);
  });

  app.get('/api/users/me/notifications', { schema: { response: { 200: Previews, ...errors } } }, async (request) => push.previews(request.userId));

  app.put('/api/users/me/notifications', { schema: { body: Previews, response: { 200: Previews, ...errors } } }, async (request) =>
    push.setPreviews(request.userId, request.body.previews),
  );
};
