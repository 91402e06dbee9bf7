/**
 * Idle connections: 10,000 authenticated sockets (500 users × 20 sockets by
 * default: a user's devices and tabs), opened from worker threads in parallel
 * (50 handshakes in flight per worker), then held idle. Server memory per
 * connection (VmRSS after the connections have been idle for `--hold`
 * seconds, minus VmRSS before), connect time per socket and in all, and
 * errors (failed handshakes, connections dropped while idle). Against the
 * bare Socket.IO and ws relays too, same machine.
 *
 *   npm run build && npx tsx bench/connections.ts [--connections 10000] [--users 500] [--hold 5] [--workers 2]
 */
import { cpuWatch, machine, numberArg, printRow, printTarget, round2, rssKiB, tail } from './lib.js';
import { bottleneck, Pool } from './load/pool.js';
import { LABELS, protoOf, registerUsers, start, type Target } from './servers.js';

const CONNECTIONS = numberArg('connections', 10_000);
const USERS = Math.min(CONNECTIONS, numberArg('users', 500));
const HOLD = numberArg('hold', 5);
const WORKERS = numberArg('workers', 2);
const CONCURRENCY = numberArg('concurrency', 50);

async function measure(target: Target) {
  const server = await start(target);
  try {
    const tokens = target === 'parley' ? (await registerUsers(server.url, 'idle', USERS)).map((u) => u.token) : [undefined];
    const pool = await Pool.start({
      proto: protoOf(target),
      url: server.url,
      workers: WORKERS,
      concurrency: CONCURRENCY,
      clients: Array.from({ length: CONNECTIONS }, (_, tag) => ({ tag, token: tokens[tag % tokens.length], rooms: [`r${tag % USERS}`] })),
    });
    const rssBefore = rssKiB(server.pid);
    const watch = cpuWatch(server.pid);
    const c = await pool.connect();
    const cpu = watch();
    const rssConnected = rssKiB(server.pid);
    await new Promise((r) => setTimeout(r, HOLD * 1000)); // idle on purpose: memory after the handshakes' garbage has had time to go
    const rssIdle = rssKiB(server.pid);
    const closed = await pool.close();
    const connected = c.connectMs.length;
    const t = tail(c.connectMs);
    const row = {
      connections: connected,
      users: target === 'parley' ? USERS : 0,
      rssPerConnKiB: round2((rssIdle - rssBefore) / Math.max(1, connected)),
      rssBeforeMiB: round2(rssBefore / 1024),
      rssConnectedMiB: round2(rssConnected / 1024),
      rssIdleMiB: round2(rssIdle / 1024),
      connectP50: t.p50,
      connectP99: t.p99,
      connectSeconds: round2(c.seconds),
      connectsPerSec: Math.round(connected / c.seconds),
      errors: c.errors + closed.lost,
      connectServerCpu: cpu.serverCpu,
      connectClientCpu: cpu.clientCpu,
      otherCpu: cpu.otherCpu,
      connectClientEventLoop: c.elu,
      connectBottleneck: bottleneck(cpu, c.elu),
    };
    printRow(`connections ${LABELS[target]}`, row);
    const samples = [...c.errorSamples, ...closed.lostSamples];
    if (samples.length) console.log(`# connections ${target} errors: ${samples.join('; ')}`);
    return row;
  } finally {
    await server.stop();
  }
}

async function main() {
  console.log(`# connections on ${machine()}: ${CONNECTIONS} sockets (${USERS} users on Parley), ${WORKERS} client workers × ${CONCURRENCY} handshakes in flight, idle ${HOLD} s`);
  const p = await measure('parley');
  const s = await measure('socketio-relay');
  const w = await measure('ws-relay');
  const ratio = round2(p.rssPerConnKiB / s.rssPerConnKiB);
  printRow('connections parley / relays', { rssPerConnToSocketIoRelay: ratio, rssPerConnToWsRelay: round2(p.rssPerConnKiB / w.rssPerConnKiB) });
  printTarget('connections', `RSS per idle connection <= 1.2 x the socket.io relay, ${CONNECTIONS} connected, no errors`, ratio, ratio <= 1.2 && p.connections === CONNECTIONS && p.errors === 0);
}

await main();
process.exit(0);
