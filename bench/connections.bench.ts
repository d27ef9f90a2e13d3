// Connections benchmark (issue 21): TOTAL concurrent authenticated WebSocket connections on this
// box, each a distinct user (ws, subprotocols aurora.v1 + bearer.<JWT>) joined to one room of
// ROOM_SIZE members.
//
// Method: redis-server, R chat replicas and one ingestion worker (SQLite; messages persist as in
// production) are started; clients are held by child processes (bench/capacity/holder.ts, at
// most PER_HOLDER sockets each) so their CPU and memory are never the server's, with source
// addresses 127.0.0.2.. (SOURCES of them) so no (source, destination) pair runs out of ports.
// A socket is a file descriptor: RLIMIT_NOFILE (its hard limit; children's soft limits are
// raised to it, in the bench only) caps what one replica holds, so R = max(2, ceil(TOTAL /
// (hard - FD_RESERVE))) — 2 where the limit allows, more where it does not, said in the rows.
// Members of a room are split over all replicas (bench/connections/plan.ts): the worst case for
// fan-out, every replica subscribed to every room.
// Phases: (0) the replicas' CPU with no connection (the anchor of the at-rest figure); (1) 1 %
// of the rooms connected and joined, a baseline (full GC, settled RSS), then the rest; time to
// connect them all (handshake + JWT + join: a first join is also a membership event, and both
// it and the presence event go to every member, O(ROOM_SIZE^2) frames per room), RSS per
// connection per replica; (2) IDLE_SECS with every connection idle, covering at least one ping
// round (HEARTBEAT_MS: production's 30 s unless the window is shorter): CPU at rest, per
// connection per heartbeat; (3) one sender per room (random phases) at ROOM_RATE msg/s for
// SECONDS: replica, Redis, worker CPU, deliveries/s
// against expected (every member, the sender included, gets each message), p50/p99/max
// delivery latency (CLOCK_MONOTONIC stamp in each text, bench/load/stamps.ts; it includes the
// holders' own queueing on the same 2 cores). Finally the largest count held and what runs out
// first (bench/connections/report.ts).
import { cpus } from 'node:os';
import { chatEnv, JWT_SECRET } from '../test/chat/client.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startService, type RunningService } from '../test/helpers/service.js';
import { tempDir } from '../test/ingestion/fixtures.js';
import { HolderPool } from './capacity/holders.js';
import { metricSum, redisPid, scrape } from './capacity/measure.js';
import { ephemeralPorts, hardNofile, loopbackSources, memInfo, openFds, raiseSoftNofile, replicasFor } from './connections/limits.js';
import { connectAll, GC_ON_SIGNAL, idleWindow, measuredPids, trafficWindow } from './connections/phases.js';
import { planConnections } from './connections/plan.js';
import { connectionRows, type RunFacts } from './connections/report.js';
import { envNumber as env, type Benchmark } from './lib.js';

const TOTAL = env('BENCH_CONN_TOTAL', 100_000);
const ROOM_SIZE = env('BENCH_CONN_ROOM_SIZE', 100);
/** Messages per second per room (one sender each). */
const ROOM_RATE = env('BENCH_CONN_ROOM_RATE', 1);
/** The measured traffic window, s. */
const SECONDS = env('BENCH_CONN_SECONDS', 10);
/** The idle (heartbeat) window, s; it must cover at least one HEARTBEAT_MS. */
const IDLE_SECS = env('BENCH_CONN_IDLE_SECS', 30);
/** The replicas' ping interval: production's 30 s, shortened only when the idle window is shorter. */
const HEARTBEAT_MS = env('BENCH_CONN_HEARTBEAT_MS', Math.min(30_000, IDLE_SECS * 1000), 100);
/** Loopback source addresses for client sockets (127.0.0.2 upwards). */
const SOURCES = env('BENCH_CONN_SOURCES', 8);
/** Sockets per holder process (capped below the fd limit). */
const PER_HOLDER = env('BENCH_CONN_PER_HOLDER', 19_000);
/** Connections each holder opens at a time. */
const CONCURRENCY = env('BENCH_CONN_CONCURRENCY', 25);
/** fds a replica keeps besides client sockets (Redis, listeners, stdio, libuv); checked against what it uses. */
const FD_RESERVE = 200;
/** The same for a holder (IPC channel, stdio, libuv). */
const HOLDER_FD_RESERVE = 1000;
/** The at-rest anchor: the replicas' CPU with no connection, over this long. */
const BASE_SECS = Math.min(IDLE_SECS, 5);
/** A directory: each replica writes a V8 CPU profile there (node --cpu-prof; read with bench/cpuprofile.ts). */
const CPU_PROF = process.env.BENCH_CPU_PROF;
const TEXT = 'a chat message of an ordinary length, about seventy characters long.';

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

export const connectionsBenchmark: Benchmark = {
  name: 'connections',
  description:
    `${TOTAL} authenticated connections (distinct users, rooms of ${ROOM_SIZE} split over every replica; replicas: 2, more if the fd limit requires): ` +
    `time to connect, RSS per connection, CPU at rest; then ${ROOM_RATE} msg/s per room: CPU, deliveries, p50/p99 latency`,
  async run(log) {
    if (IDLE_SECS * 1000 < HEARTBEAT_MS) throw new Error(`BENCH_CONN_IDLE_SECS (${IDLE_SECS}) must cover BENCH_CONN_HEARTBEAT_MS (${HEARTBEAT_MS})`);
    const hard = hardNofile();
    const usable = hard - FD_RESERVE;
    const R = replicasFor(TOTAL, usable);
    const perHolder = Math.max(100, Math.min(PER_HOLDER, hard - HOLDER_FD_RESERVE));
    const H = Math.ceil(TOTAL / perHolder);
    const sources = loopbackSources(SOURCES);
    const ports = ephemeralPorts();
    if (Math.ceil(TOTAL / SOURCES) > ports * 0.9) {
      throw new Error(`${Math.ceil(TOTAL / SOURCES)} sockets per source address exceed 90 % of the ${ports} ephemeral ports: raise BENCH_CONN_SOURCES`);
    }
    log(
      `RLIMIT_NOFILE hard ${hard} per process (raising it needs CAP_SYS_RESOURCE): ${usable} sockets per replica -> ${R} replicas for ${TOTAL}; ` +
        `${H} holders of <= ${perHolder}; ${SOURCES} source addresses (${Math.ceil(TOTAL / SOURCES)} sockets each, ${ports} ephemeral ports); HEARTBEAT_MS ${HEARTBEAT_MS}`,
    );

    const redis = await startRedis();
    const client = redis.client();
    const tmp = tempDir('aurora-conn-bench-');
    const replicas: RunningService[] = [];
    let worker: RunningService | undefined;
    let pool: HolderPool | undefined;
    try {
      const limits = {
        LOG_LEVEL: 'warn',
        HEARTBEAT_MS: String(HEARTBEAT_MS),
        MAX_CONNECTIONS: String(Math.ceil(TOTAL / R) + 1000),
        RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000',
        HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
        INGEST_MAX_BACKLOG: '100000000',
        NODE_OPTIONS: GC_ON_SIGNAL,
      };
      // One at a time: started together, two could be handed the same free port.
      const nodeArgs = (i: number) => (CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}/replica-${i}`] : []);
      for (let i = 0; i < R; i++) replicas.push(await startService('chat', chatEnv(redis.url, `conn-${i}`, limits), { waitReady: true, timeoutMs: 60_000, nodeArgs: nodeArgs(i) }));
      worker = await startService('ingestion', { REDIS_URL: redis.url, SQLITE_PATH: tmp.dbPath, JWT_SECRET, LOG_LEVEL: 'warn' });
      const replicaLimits = replicas.map((r) => raiseSoftNofile(r.proc.pid!));
      const rpid = await redisPid(client);
      const idleFds = replicas.map((r) => openFds(r.proc.pid!));

      // (0) The anchor: the replicas at rest with no connection at all.
      const base = await idleWindow(Object.fromEntries(replicas.map((r, i) => [`r${i}`, r.proc.pid!])), BASE_SECS);

      // (1) Connect and join everything.
      const plan = planConnections(TOTAL, ROOM_SIZE, replicas.map((r) => r.baseUrl), sources);
      const warmCount = Math.max(1, Math.round(plan.rooms * 0.01)) * ROOM_SIZE;
      pool = HolderPool.spawn(H, (i) => (CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}/holder-${i}`] : []));
      const holderLimits = pool.holders.map((h) => raiseSoftNofile(h.proc.pid!));
      const pids = measuredPids(replicas, rpid, worker, pool);
      const conn = await connectAll(pool, replicas, plan.conns.slice(0, warmCount), plan.conns.slice(warmCount), CONCURRENCY, pids);
      if (conn.opened === 0) throw new Error(`no connection opened (first error: ${conn.firstError})`);
      const fds = replicas.map((r) => openFds(r.proc.pid!));
      const held0 = await Promise.all(replicas.map(async (r) => metricSum(await scrape(r.adminUrl), 'aurora_chat_connections')));
      log(
        `${conn.opened} of ${TOTAL} connected and joined in ${conn.connectSecs.toFixed(1)} s (${Math.round(conn.opened / conn.connectSecs)}/s), ` +
          `quiet after ${conn.quietSecs.toFixed(1)} s (${conn.stormFrames} frames received, presence events mostly); failed ${conn.failed}` +
          `${conn.firstError ? ` (first: ${conn.firstError})` : ''}; per replica ${held0.join(' / ')} connections, fds ${fds.join(' / ')} (idle: ${idleFds.join(' / ')}); ` +
          `soft/hard nofile replicas ${replicaLimits.map((l) => `${l.soft}/${l.hard}`).join(', ')}, holders ${holderLimits.map((l) => l.soft).join(', ')}`,
      );
      log(
        `RSS per connection by replica: ${conn.kibPerConn.map((k) => k.toFixed(2)).join(' / ')} KiB (after a full GC ${conn.kibPerConnGc.map((k) => k.toFixed(2)).join(' / ')}); ` +
          `baseline ${conn.baseKiB.map((k) => Math.round(k / 1024)).join(' / ')} MiB; client side (holders) ${conn.clientKibPerConn.toFixed(2)} KiB`,
      );

      // (2) Every connection idle for at least one heartbeat.
      const idle = await idleWindow(pids, IDLE_SECS);
      const afterIdle = await pool.stats();

      // (3) One sender (member 0) per room.
      const senders = pool.holders.map(() => [] as { conn: number; rate: number }[]);
      for (let r = 0; r < plan.rooms; r++) {
        const [h, idx] = conn.placement[r * ROOM_SIZE]!;
        senders[h]!.push({ conn: idx, rate: ROOM_RATE });
      }
      const traffic = await trafficWindow(pool, pids, senders, TEXT, SECONDS);
      const held = sum(await Promise.all(replicas.map(async (r) => metricSum(await scrape(r.adminUrl), 'aurora_chat_connections'))));
      const facts: RunFacts = {
        total: TOTAL, roomSize: ROOM_SIZE, roomRate: ROOM_RATE, rooms: plan.rooms, replicas: R, holders: H, sources: SOURCES,
        hardNofile: hard, fdReserve: FD_RESERVE, heartbeatMs: HEARTBEAT_MS, cores: cpus().length,
        idleFds, fds, held, droppedWhileIdle: afterIdle.dropped, mem: memInfo(),
      };
      const { rows, verdict } = connectionRows(facts, conn, base, idle, traffic);
      log(verdict);
      return rows;
    } finally {
      await pool?.close();
      // SIGTERM lets a profiled replica write its profile.
      await Promise.all(replicas.map((r) => r.stop(CPU_PROF ? 'SIGTERM' : 'SIGKILL')));
      await worker?.stop('SIGKILL');
      await redis.stop();
      tmp.cleanup();
    }
  },
};
