import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build` puts the web client (web/dist), from src/ or dist/ alike. */
export const WEB_DIST = path.resolve(import.meta.dirname, '../../../web/dist');

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>Parley</h1>
<p>The server is running, but the web client is not built: run <code>npm run build</code>
(<code>npm install</code> does it too). The API is under <code>/api</code>.</p>
</body></html>
`;

/**
 * The web client at /messages: its built files, and index.html for every
 * other path below it (the client routes by itself).
 */
export const webRoutes: FastifyPluginAsync = async (app) => {
  const index = path.join(WEB_DIST, 'index.html');
  if (!fs.existsSync(index)) {
    app.get('/messages', async (_request, reply) => reply.type('text/html; charset=utf-8').send(NOT_BUILT));
    return;
  }
  await app.register(fastifyStatic, {
    root: WEB_DIST,
    prefix: '/messages/',
    index: false,
    // Hashed asset names never change: cache them for a year; index.html and
    // the service worker (web/public/sw.js, a fixed name) never.
    setHeaders: (res, file) => {
      const worker = file === path.join(WEB_DIST, 'sw.js');
      res.header('cache-control', file === index || worker ? 'no-cache' : 'public, max-age=31536000, immutable');
      // Its scope is /messages, not /messages/ (its folder): the page is served at /messages too.
      if (worker) res.header('service-worker-allowed', '/messages');
    },
  });
  const page = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').sendFile('index.html');
  app.get('/messages', page);
  app.get('/messages/', page);
};
