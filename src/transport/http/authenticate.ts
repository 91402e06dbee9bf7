import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.js';
import type { RuleName } from '../../domain/rate-limits.js';
import type { Services } from '../context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user's id (set by the `authenticate` hook). */
    userId: string;
    /** The session of the token the request came with (set by the `authenticate` hook). */
    sessionId: string;
  }
}

/** The bearer token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/** preHandler for every authenticated route: 401 unless the token is valid and its user exists. */
export function authenticateHook(services: Services) {
  return async (request: FastifyRequest): Promise<void> => {
    const session = await services.accounts.authenticate(bearerToken(request.headers.authorization));
    if (!session) throw new DomainError('unauthorized', 'A valid bearer token is required.');
    request.userId = session.user.id;
    request.sessionId = session.sessionId;
  };
}

/** preHandler after `authenticate`: the route spends a token of the caller's bucket for `rule`, or answers 429. */
export function rateLimitHook(services: Services, rule: RuleName) {
  return async (request: FastifyRequest): Promise<void> => services.limits.take(rule, request.userId);
}
