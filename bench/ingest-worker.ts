/** A load-generator worker: its share of the sockets, each with a window of sends in flight. */
import { performance as perf } from 'node:perf_hooks';

type EventLoopUtilization = { utilization: number };
const elu = (perf as unknown as { eventLoopUtilization(since?: EventLoopUtilization): EventLoopUtilization }).eventLoopUtilization.bind(perf);
import { parentPort, workerData } from 'node:worker_threads';
import { io, type Socket } from 'socket.io-client';

interface Job {
  url: string;
  senders: { token: string; conversationId: string; rooms?: string }[];
  window: number;
  durationMs: number;
  content: string;
}

const job = workerData as Job;
const latencies: number[] = [];
let acked = 0;
let errors = 0;
const sockets: Socket[] = [];

await Promise.all(
  job.senders.map(
    (s) =>
      new Promise<void>((resolve, reject) => {
        const socket = io(job.url, { auth: { token: s.token, rooms: s.rooms }, transports: ['websocket'], reconnection: false });
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
        sockets.push(socket);
      }),
  ),
);
parentPort!.postMessage({ ready: true });
await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));

const elu0 = elu();
const end = performance.now() + job.durationMs;
let n = 0;
await Promise.all(
  sockets.map(async (socket, i) => {
    const conversationId = job.senders[i]!.conversationId;
    const lane = async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const ack = await socket.timeout(30_000).emitWithAck('message:send', { conversationId, content: job.content, clientId: `${process.pid}-${i}-${n++}` }).catch(() => null);
        if (ack?.ok) {
          acked++;
          latencies.push(performance.now() - t);
        } else errors++;
      }
    };
    await Promise.all(Array.from({ length: job.window }, lane));
  }),
);
for (const s of sockets) s.disconnect();
parentPort!.postMessage({ acked, errors, latencies, elu: elu(elu0).utilization });
