import type { FastifyRequest } from 'fastify';

/**
 * What the request log says of a request: Fastify's default fields, with
 * the signed grant of an attachment URL left out. A grant lets whoever holds
 * the URL download the file for half a day; a log is read by more people
 * than the conversation's members, and kept longer.
 */
export function logRequest(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: withoutGrant(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** The URL with its query dropped when it is an attachment's (the query is its grant). */
export function withoutGrant(url: string): string {
  const q = url.indexOf('?');
  return q !== -1 && url.startsWith('/api/attachments/') ? `${url.slice(0, q)}?[grant]` : url;
}
