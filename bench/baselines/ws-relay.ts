/**
 * Baseline: a bare `ws` relay, the same semantics as the Socket.IO relay with
 * no Socket.IO framing: a JSON frame `{type:'send', id, conversationId,
 * content}` is acknowledged with `{type:'ack', id, ok:true, message}` and
 * broadcast as `{type:'new', message}` (encoded once) to the other sockets in
 * the conversation's room. A socket's rooms come from the query string
 * (`/?rooms=a,b`). No database, no validation, no authentication.
 *
 *   PORT=4000 npx tsx bench/baselines/ws-relay.ts
 */
import { createServer } from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';

const httpServer = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"status":"ok"}');
});
const wss = new WebSocketServer({ server: httpServer });
const rooms = new Map<string, Set<WebSocket>>();
const seqs = new Map<string, number>();
let id = 0;
let socketId = 0;

interface SendFrame {
  type: 'send';
  id: string;
  conversationId: string;
  content: string;
}

wss.on('connection', (ws, req) => {
  const me = `s${++socketId}`;
  const mine = (new URL(req.url ?? '/', 'http://relay').searchParams.get('rooms') ?? '').split(',').filter(Boolean);
  for (const r of mine) {
    let set = rooms.get(r);
    if (!set) rooms.set(r, (set = new Set()));
    set.add(ws);
  }
  ws.on('close', () => {
    for (const r of mine) rooms.get(r)?.delete(ws);
  });
  ws.on('message', (data) => {
    const f = JSON.parse(String(data)) as SendFrame;
    if (f.type !== 'send') return;
    const seq = (seqs.get(f.conversationId) ?? 0) + 1;
    seqs.set(f.conversationId, seq);
    const message = {
      id: `m${++id}`,
      conversationId: f.conversationId,
      seq,
      rev: seq,
      senderId: me,
      content: f.content,
      clientId: f.id,
      createdAt: new Date().toISOString(),
      editedAt: null,
      deletedAt: null,
      status: 'sent',
    };
    const frame = JSON.stringify({ type: 'new', message });
    for (const other of rooms.get(f.conversationId) ?? []) {
      if (other !== ws && other.readyState === WebSocket.OPEN) other.send(frame);
    }
    ws.send(JSON.stringify({ type: 'ack', id: f.id, ok: true, message }));
  });
});

httpServer.listen(Number(process.env.PORT ?? 4000), '127.0.0.1');
