import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  AddMemberBody,
  ConversationParams,
  ConversationsQuery,
  ConversationsResponse,
  CreateConversationBody,
  HistoryQuery,
  HistoryResponse,
  MemberParams,
  MessageParams,
  NotificationsBody,
  ReceiptsResponse,
  UpdateConversationBody,
} from '../../protocol/http.js';
import { Conversation } from '../../protocol/models.js';
import { ErrorBody } from '../../protocol/errors.js';
import type { Services } from '../context.js';
import { authenticateHook, rateLimitHook } from './authenticate.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

export const conversationRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { conversations, messages, receipts } = services;
  app.addHook('preHandler', authenticateHook(services));
  const limited = rateLimitHook(services, 'conversation');

  app.post(
    '/api/conversations',
    { preHandler: limited, schema: { body: CreateConversationBody, response: { 200: Conversation, 201: Conversation, ...errors } } },
    async (request, reply) => {
      const { conversation, created } = await conversations.create(request.userId, request.body);
      return reply.code(created ? 201 : 200).send(conversation);
    },
  );

  app.get(
    '/api/conversations',
    { schema: { querystring: ConversationsQuery, response: { 200: ConversationsResponse, ...errors } } },
    async (request) => conversations.list(request.userId, request.query),
  );

  app.get(
    '/api/conversations/:id',
    { schema: { params: ConversationParams, response: { 200: Conversation, ...errors } } },
    async (request) => conversations.get(request.params.id, request.userId),
  );

  app.patch(
    '/api/conversations/:id',
    { preHandler: limited, schema: { params: ConversationParams, body: UpdateConversationBody, response: { 200: Conversation, ...errors } } },
    async (request) => conversations.updateTitle(request.params.id, request.userId, request.body.title),
  );

  app.post(
    '/api/conversations/:id/members',
    { preHandler: limited, schema: { params: ConversationParams, body: AddMemberBody, response: { 200: Conversation, 201: Conversation, ...errors } } },
    async (request, reply) => {
      const { conversation, added } = await conversations.addMember(request.params.id, request.userId, request.body.userId);
      return reply.code(added ? 201 : 200).send(conversation);
    },
  );

  app.delete(
    '/api/conversations/:id/members/:userId',
    { preHandler: limited, schema: { params: MemberParams, response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      await conversations.removeMember(request.params.id, request.userId, request.params.userId);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/api/conversations/:id/archive',
    { schema: { params: ConversationParams, response: { 200: Conversation, ...errors } } },
    async (request) => conversations.setArchived(request.params.id, request.userId, true),
  );

  app.delete(
    '/api/conversations/:id/archive',
    { schema: { params: ConversationParams, response: { 200: Conversation, ...errors } } },
    async (request) => conversations.setArchived(request.params.id, request.userId, false),
  );

  app.put(
    '/api/conversations/:id/notifications',
    { schema: { params: ConversationParams, body: NotificationsBody, response: { 200: Conversation, ...errors } } },
    async (request) => conversations.setNotifications(request.params.id, request.userId, request.body.level, request.body.mutedUntil),
  );

  app.get(
    '/api/conversations/:id/messages',
    { schema: { params: ConversationParams, querystring: HistoryQuery, response: { 200: HistoryResponse, ...errors } } },
    async (request) => messages.history(request.params.id, request.userId, request.query),
  );

  app.get(
    '/api/conversations/:id/messages/:messageId/receipts',
    { schema: { params: MessageParams, response: { 200: ReceiptsResponse, ...errors } } },
    async (request) => receipts.receipts(request.params.id, request.params.messageId, request.userId),
  );
};
