/**
 * Attachments over HTTP (contract v1.1): the upload (multipart, streamed:
 * domain/attachments.ts) and the two downloads, each with a grant in the
 * query (what a browser's `<img src>` can carry) or a bearer token.
 *
 * Every file answer is built to be harmless whatever the bytes are: the
 * type is the one the bytes were found to be (never the name's), `nosniff`,
 * inline only for the four image types, and a Content-Security-Policy that
 * sandboxes it (Matrix's recommendation for its media): a file opened
 * directly can run nothing and load nothing.
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, validation } from '../../domain/errors.js';
import type { AttachmentVariant } from '../../domain/attachment-grants.js';
import { ErrorBody } from '../../protocol/errors.js';
import { Attachment, Id } from '../../protocol/models.js';
import type { Services } from '../context.js';
import { authenticateHook, bearerToken } from './authenticate.js';

/** A file response can run, frame and load nothing. */
const FILE_CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'";

/** RFC 6266 / 5987: an ASCII fallback and the exact name as UTF-8. */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export const attachmentRoutes: FastifyPluginAsyncTypebox<{ services: Services; maxBytes: number }> = async (app, { services, maxBytes }) => {
  // The domain counts the bytes and answers 413 itself; busboy's own limit is
  // set above it so that it never truncates a file silently. Other parts are
  // ignored, as the contract says, but the plugin keeps text fields until the
  // request ends: each is cut to 1 KiB (silently) and there are at most 1000
  // parts (past that, 413), so ignored fields hold at most 1 MiB.
  await app.register(multipart, { limits: { fileSize: maxBytes + 1, headerPairs: 200, fieldSize: 1024, parts: 1000 } });

  app.post(
    '/api/conversations/:id/attachments',
    {
      preHandler: [
        authenticateHook(services),
        async (request: FastifyRequest) => services.limits.take('upload', request.userId),
        // Membership before the body is read: a stranger's upload is refused without storing a byte.
        async (request: FastifyRequest) => services.attachments.checkUploader((request.params as { id: string }).id, request.userId),
      ],
      schema: { params: Type.Object({ id: Id }), response: { 201: Attachment, '4xx': ErrorBody, '5xx': ErrorBody } },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw validation('The body must be multipart/form-data with a file part named "file".');
      let answer;
      try {
        for await (const part of request.parts()) {
          if (part.type !== 'file') continue;
          if (part.fieldname !== 'file' || answer) {
            part.file.resume();
            continue;
          }
          answer = await services.attachments.upload(request.params.id, request.userId, part.filename, part.file);
        }
      } catch (e) {
        // Over the limit (ours or busboy's): the rest of the body is drained by the error handler, then 413.
        const code = (e as { code?: string }).code;
        if (code === 'FST_REQ_FILE_TOO_LARGE') throw new DomainError('payload_too_large', `A file is at most ${maxBytes} bytes.`);
        if (code === 'FST_PARTS_LIMIT') throw new DomainError('payload_too_large', 'A multipart body has at most 1000 parts.');
        if (code?.startsWith('FST_')) throw validation(`The multipart body could not be read: ${(e as Error).message}`);
        throw e;
      }
      if (!answer) throw validation('No file part named "file".');
      return reply.code(201).send(answer);
    },
  );

  const download = (variant: AttachmentVariant) => async (request: FastifyRequest<{ Params: { id: string }; Querystring: Record<string, unknown> }>, reply: FastifyReply) => {
    const hasGrant = typeof request.query?.s === 'string';
    let userId: string | null;
    if (hasGrant) {
      userId = services.attachments.grantUser(request.params.id, variant, request.query);
      if (!userId) throw new DomainError('unauthorized', 'This link is not valid (or has expired).');
    } else {
      const session = await services.accounts.authenticate(bearerToken(request.headers.authorization));
      if (!session) throw new DomainError('unauthorized', 'A valid bearer token or link is required.');
      userId = session.user.id;
    }
    const file = await services.attachments.download(request.params.id, variant, userId);
    return reply
      .header('content-type', file.mime)
      .header('content-length', String(file.size))
      .header('x-content-type-options', 'nosniff')
      .header('content-disposition', contentDisposition(file.disposition, file.name))
      .header('content-security-policy', FILE_CSP)
      .header('cross-origin-resource-policy', 'same-origin')
      // A grant's URL is private to its user (it changes with the grant); the bare path is the same for every token.
      .header('cache-control', hasGrant ? 'private, max-age=3600' : 'private, no-store')
      .send(file.stream);
  };
  const params = { params: Type.Object({ id: Id }) };
  app.get('/api/attachments/:id', { schema: params }, download('file'));
  app.get('/api/attachments/:id/thumbnail', { schema: params }, download('thumbnail'));
};
