/**
 * Idle connections: 10,000 authenticated sockets (500 users × 20 sockets by
 * default: a user's devices and tabs), opened from worker threads in parallel
 * (50 handshakes in flight per worker), then held idle. Server memory per
 * connection (VmRSS after the connections have been idle for `--hold`
 * seconds, minus VmRSS before), connect time per socket and in all, and
 * errors (failed handshakes, connections dropped while idle). Against the
 * bare Socket.IO and ws relays too, same machine.
 *
 * At 100,000 (`--connections 100000 --workers 4`): one source address has
 * ~28,000 ephemeral ports (net.ipv4.ip_local_port_range), so the clients
 * connect from 127.0.0.1, 127.0.0.2, … (`--per-address` connections each),
 * and both the server and this process hold one file descriptor per
 * connection: their hard RLIMIT_NOFILE (`ulimit -Hn`, inherited by the
 * server; Node raises the soft limit to it by itself) must exceed the count,
 * which the bench checks before it starts (`--ignore-fd-limit` to try anyway).
 *
 *   npm run build && npx tsx bench/connections.ts [--connections 10000] [--users 500] [--hold 5] [--workers 2] [--concurrency 50]
 *     [--per-address 10000] [--targets parley,socketio-relay,ws-relay] [--ignore-fd-limit]
 */
import fs from 'node:fs';
import { cpuWatch, machine, numberArg, printRow, printTarget, round2, rssKiB, stringArg, tail } from './lib.js';
import { bottleneck, Pool } from './load/pool.js';
import { LABELS, protoOf, registerUsers, start, type Target } from './servers.js';

const CONNECTIONS = numberArg('connections', 10_000);
const USERS = Math.min(CONNECTIONS, numberArg('users', 500));
const HOLD = numberArg('hold', 5);
const WORKERS = numberArg('workers', 2);
const CONCURRENCY = numberArg('concurrency', 50);
/** Connections per source address: well under the ~28,000 ports of the default ephemeral range. */
const PER_ADDRESS = numberArg('per-address', 10_000);
const ADDRESSES = Math.ceil(CONNECTIONS / PER_ADDRESS);
const TARGETS = stringArg('targets', 'parley,socketio-relay,ws-relay').split(',') as Target[];
/** Descriptors a process needs besides its sockets: stdio, epoll and event fds of each thread, the database and its WAL, tsx's esbuild pipes. */
const FD_MARGIN = 200;

/** The source address of connection `tag`: 127.0.0.1, .2, … in turn (loopback answers the whole 127.0.0.0/8). */
const sourceAddress = (tag: number): string | undefined => (ADDRESSES > 1 ? `127.0.0.${1 + (tag % ADDRESSES)}` : undefined);

/** This process's hard limit on open files (the server inherits it). */
function fdHardLimit(): number {
  const m = /^Max open files\s+\S+\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m?.[1] === 'unlimited' ? Infinity : Number(m?.[1] ?? NaN);
}

/** Stops early, and says why, when the connections cannot fit in this machine's limits. */
function checkLimits(): void {
  const limit = fdHardLimit();
  const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const ports = (high ?? 0) - (low ?? 0) + 1;
  console.log(`# limits: open files ${limit} per process (hard); ${ports} ephemeral ports per source address; ${ADDRESSES} source address(es), ${Math.ceil(CONNECTIONS / ADDRESSES)} connections each`);
  const problems: string[] = [];
  if (CONNECTIONS + FD_MARGIN > limit) {
    problems.push(
      `the server and this load generator each hold one descriptor per connection: ${CONNECTIONS} + ~${FD_MARGIN} needs \`ulimit -n ${CONNECTIONS + FD_MARGIN}\` or more, and the hard limit here is ${limit} (raising it needs root with CAP_SYS_RESOURCE: ulimit -Hn, prlimit, or LimitNOFILE= in a systemd unit)`,
    );
  }
  if (Math.ceil(CONNECTIONS / ADDRESSES) > ports) problems.push(`${Math.ceil(CONNECTIONS / ADDRESSES)} connections per source address exceed its ${ports} ephemeral ports: lower --per-address`);
  if (!problems.length) return;
  const message = `# connections: ${CONNECTIONS} cannot fit: ${problems.join('; ')}`;
  if (!process.argv.includes('--ignore-fd-limit')) {
    console.error(`${message}. (--ignore-fd-limit tries anyway.)`);
    process.exit(2);
  }
  console.log(`${message}; trying anyway (--ignore-fd-limit)`);
}

async function measure(target: Target) {
  const server = await start(target);
  try {
    const tokens = target === 'parley' ? (await registerUsers(server.url, 'idle', USERS)).map((u) => u.token) : [undefined];
    const pool = await Pool.start({
      proto: protoOf(target),
      url: server.url,
      workers: WORKERS,
      concurrency: CONCURRENCY,
      clients: Array.from({ length: CONNECTIONS }, (_, tag) => ({
        tag,
        token: tokens[tag % tokens.length],
        rooms: [`r${tag % USERS}`],
        localAddress: sourceAddress(tag),
      })),
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
  checkLimits();
  const rows = new Map<Target, Awaited<ReturnType<typeof measure>>>();
  for (const target of TARGETS) rows.set(target, await measure(target));
  const p = rows.get('parley');
  const s = rows.get('socketio-relay');
  const w = rows.get('ws-relay');
  if (!p || !s) return;
  const ratio = round2(p.rssPerConnKiB / s.rssPerConnKiB);
  printRow('connections parley / relays', { rssPerConnToSocketIoRelay: ratio, ...(w ? { rssPerConnToWsRelay: round2(p.rssPerConnKiB / w.rssPerConnKiB) } : {}) });
  printTarget('connections', `RSS per idle connection <= 1.2 x the socket.io relay, ${CONNECTIONS} connected, no errors`, ratio, ratio <= 1.2 && p.connections === CONNECTIONS && p.errors === 0);
}

await main();
process.exit(0);
