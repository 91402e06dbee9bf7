import type { FastifyPluginAsync } from 'fastify';

const PLACEHOLDER = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>Parley</h1>
<p>The server is running. The web chat client is not built into this version yet;
the REST API is under <code>/api</code> and Socket.IO under <code>/socket.io/</code>.</p>
</body>
</html>
`;

/** The web client's page (a placeholder until the web client lands). */
export const webRoutes: FastifyPluginAsync = async (app) => {
  app.get('/messages', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PLACEHOLDER));
};
