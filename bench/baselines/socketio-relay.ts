/**
 * Baseline: a bare Socket.IO relay with Parley's events and rooms but no
 * database and no validation. `message:send` is acknowledged at once and
 * broadcast to the room of the conversation. What Parley is compared with.
 *
 *   PORT=4000 npx tsx bench/baselines/socketio-relay.ts
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const httpServer = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"status":"ok"}');
});
const io = new Server(httpServer, { serveClient: false });
const seqs = new Map<string, number>();
let id = 0;

io.on('connection', (socket) => {
  const rooms = String(socket.handshake.auth?.rooms ?? '').split(',').filter(Boolean);
  for (const r of rooms) void socket.join(r);
  socket.on('message:send', (p: { conversationId: string; content: string; clientId?: string }, ack?: (a: unknown) => void) => {
    const seq = (seqs.get(p.conversationId) ?? 0) + 1;
    seqs.set(p.conversationId, seq);
    const message = {
      id: `m${++id}`,
      conversationId: p.conversationId,
      seq,
      rev: seq,
      senderId: socket.id,
      content: p.content,
      clientId: p.clientId ?? null,
      createdAt: new Date().toISOString(),
      editedAt: null,
      deletedAt: null,
      status: 'sent',
    };
    socket.to(p.conversationId).emit('message:new', { message });
    ack?.({ ok: true, message });
  });
});

httpServer.listen(Number(process.env.PORT ?? 4000), '127.0.0.1');
