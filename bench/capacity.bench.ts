// Capacity benchmark: what one chat replica holds and how fast it acks.
//
// Method (connections are held and driven by child processes, bench/capacity/holder.ts, so the
// client side's CPU and memory never count as the server's):
// - RSS per idle authenticated connection: a replica process (LOG_LEVEL warn, connection caps
//   raised) with WARMUP connections open (so first-use costs — JIT, lazily built objects — are
//   in the baseline), VmRSS after a full GC once it stopped moving (stable within 0.3 % for
//   2 s), then IDLE
//   more connections of distinct users, each open once it got `hello`, VmRSS again once
//   settled: (after - before) / IDLE. The V8 heap part is the same difference of the replica's
//   own nodejs_heap_size_used_bytes (prom-client default metrics), both read after a full GC. Every measured server runs with gc-on-signal.mjs preloaded (a
//   full GC on SIGUSR2, used for the baseline), and the after-reading is taken again after a
//   forced full GC (the steady state once V8 has collected what the handshakes left behind). Anchor: the Socket.IO 4.8 + redis-adapter server
//   (bench/anchors/socketio-server.ts) measured the same way, its clients authenticated by its
//   auth middleware; ratio = ours / Socket.IO's. And the floor: a bare node + ws server with
//   the same handshake, token check and hello but no application state
//   (bench/capacity/ws-floor-server.ts) — ours minus the floor is what AuroraChat's own
//   per-connection state costs (bench/capacity/heap-diff.ts and objects.ts say what it is).
// - Acked sends/s at saturation: one replica, SAT_SOCKETS sender sockets over two holder
//   processes, each in its own room, each keeping SAT_WINDOW sends in flight (the next send
//   leaves as soon as an ack arrives); rate limits raised. After a warm-up second, acks are
//   counted over SAT_SECONDS; the replica's and redis-server's CPU (/proc/<pid>/stat) over the
//   same window. Anchor: PING round trips/s from one ioredis connection with SAT_SOCKETS in
//   flight (the replica sends on one connection, one script call per send, at most one per
//   socket at a time) — the ceiling of "one round trip per send" on this box.
import { existsSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { chatEnv, JWT_SECRET } from '../test/chat/client.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startService, type RunningService } from '../test/helpers/service.js';
import { HolderPool, formatErrors } from './capacity/holders.js';
import { cpuWindow, metricSum, redisPid, scrape, settledRss, SOCKETIO_ANCHOR, startBenchServer, WS_FLOOR } from './capacity/measure.js';
import { envNumber as env, type BenchRow, type Benchmark } from './lib.js';

const IDLE = env('BENCH_IDLE_CONNECTIONS', 5000);
const WARMUP = env('BENCH_IDLE_WARMUP', 100);
/** Connections per holder process. */
const PER_HOLDER = env('BENCH_CONNECTIONS_PER_HOLDER', 2500);
const SAT_SOCKETS = env('BENCH_SAT_SOCKETS', 128);
const SAT_WINDOW = env('BENCH_SAT_WINDOW', 4);
const SAT_SECONDS = env('BENCH_SAT_SECONDS', 10);
const SAT_TEXT = 'saturation message with a realistic length of about sixty characters';
/** Target from issue 7. */
const TARGET_KIB_PER_CONN = 8;
const TARGET_ACKED_PER_SEC = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** V8's own accounting of a process's memory, in bytes (prom-client default metrics). */
interface V8Memory {
  heapUsed: number;
  heapTotal: number;
  external: number;
}

interface IdleResult {
  kibPerConn: number;
  /** The same with the after-reading taken after a forced full GC (gc-on-signal.mjs). */
  kibPerConnGc: number;
  /** Per connection, KiB: V8 heap used / heap reserved / external (Buffers, ArrayBuffers). */
  v8?: V8Memory;
  note: string;
}

/** NODE_OPTIONS for a measured server: SIGUSR2 forces a full GC (bench/capacity/gc-on-signal.mjs). */
const GC_ON_SIGNAL = `--expose-gc --import ${fileURLToPath(new URL('./capacity/gc-on-signal.mjs', import.meta.url))}`;

/** Forces a full GC in `pid` (started with GC_ON_SIGNAL) and reads its RSS once settled. */
async function fullGcRss(pid: number): Promise<{ kib: number; settled: boolean }> {
  process.kill(pid, 'SIGUSR2');
  await sleep(500);
  return settledRss(pid);
}

/** Opens `IDLE` idle connections to a server process and returns its RSS growth per connection. */
async function idleCost(
  log: (line: string) => void,
  what: string,
  pid: number,
  open: (pool: HolderPool, users: string[]) => Promise<{ opened: number; failed: number; firstError?: string }>,
  v8Memory?: () => Promise<V8Memory>,
): Promise<IdleResult> {
  const pool = HolderPool.spawn(Math.ceil((IDLE + WARMUP) / PER_HOLDER));
  try {
    const warm = await open(pool, Array.from({ length: WARMUP }, (_, i) => `warm${i}`));
    if (warm.failed > 0) throw new Error(`${what}: ${warm.failed} warm-up connections failed (${warm.firstError})`);
    // One clean baseline for both readings: collected, settled. The warm-up connections stay
    // open, so first-use costs (JIT, lazily built objects) are in it.
    const before = await fullGcRss(pid);
    const heap0 = v8Memory ? await v8Memory() : undefined;
    const t0 = performance.now();
    const r = await open(pool, Array.from({ length: IDLE }, (_, i) => `idle${i}`));
    const openSecs = (performance.now() - t0) / 1000;
    if (r.failed > 0) throw new Error(`${what}: ${r.failed} of ${IDLE} connections failed (first: ${r.firstError})`);
    const after = await settledRss(pid);
    const afterGc = await fullGcRss(pid);
    const heap1 = v8Memory ? await v8Memory() : undefined;
    const s = await pool.stats();
    if (s.dropped > 0) throw new Error(`${what}: ${s.dropped} connections were closed while idle`);
    const kibPerConn = (after.kib - before.kib) / IDLE;
    const kibPerConnGc = (afterGc.kib - before.kib) / IDLE;
    const per = (k: keyof V8Memory) => (heap1![k] - heap0![k]) / 1024 / IDLE;
    const v8 = heap0 && heap1 ? { heapUsed: per('heapUsed'), heapTotal: per('heapTotal'), external: per('external') } : undefined;
    const note = `RSS ${Math.round(before.kib / 1024)} -> ${Math.round(after.kib / 1024)} MiB${after.settled ? '' : ' (not settled)'}; after a full GC ${kibPerConnGc.toFixed(2)} KiB`;
    log(
      `${what}: ${IDLE} connections opened in ${openSecs.toFixed(1)} s; ${note}: ${kibPerConn.toFixed(2)} KiB/connection` +
        (v8 ? `; V8 heap used ${v8.heapUsed.toFixed(2)}, heap reserved ${v8.heapTotal.toFixed(2)}, external ${v8.external.toFixed(2)} KiB/connection` : ''),
    );
    return { kibPerConn, kibPerConnGc, ...(v8 ? { v8 } : {}), note };
  } finally {
    await pool.close();
  }
}

/** Runs `count` PINGs with `concurrency` in flight on one connection; returns PINGs/s. */
async function pingRate(redis: Redis, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) await redis.ping();
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

export const capacityBenchmark: Benchmark = {
  name: 'capacity',
  description: `RSS per idle authenticated connection (${IDLE} connections; Socket.IO anchor), acked sends/s of one replica at saturation (${SAT_SOCKETS} senders x ${SAT_WINDOW} in flight)`,
  async run(log) {
    const redis = await startRedis();
    const client = redis.client();
    const rows: BenchRow[] = [];
    let chat: RunningService | undefined;
    try {
      // --- 1. RSS per idle authenticated connection -------------------------------------
      chat = await startService(
        'chat',
        chatEnv(redis.url, 'capacity', {
          LOG_LEVEL: 'warn',
          MAX_CONNECTIONS: String(IDLE + WARMUP + 1000),
          MAX_CONNECTIONS_PER_USER: '10000',
          HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
          NODE_OPTIONS: GC_ON_SIGNAL,
        }),
        { waitReady: true },
      );
      const replica = chat;
      const ours = await idleCost(
        log,
        'AuroraChat replica',
        replica.proc.pid!,
        (pool, users) => pool.open('aurora', users.map((user) => ({ url: replica.baseUrl, user }))),
        async () => {
          const text = await scrape(replica.adminUrl);
          return {
            heapUsed: metricSum(text, 'nodejs_heap_size_used_bytes'),
            heapTotal: metricSum(text, 'nodejs_heap_size_total_bytes'),
            external: metricSum(text, 'nodejs_external_memory_bytes'),
          };
        },
      );
      await chat.stop('SIGKILL');
      chat = undefined;

      const floorServer = await startBenchServer(WS_FLOOR, { JWT_SECRET, NODE_OPTIONS: GC_ON_SIGNAL });
      let floor: IdleResult;
      try {
        floor = await idleCost(
          log,
          'bare ws server (floor)',
          floorServer.proc.pid!,
          (pool, users) => pool.open('aurora', users.map((user) => ({ url: floorServer.baseUrl, user }))),
          async () => (await fetch(`${floorServer.baseUrl}/memory`)).json() as Promise<V8Memory>,
        );
      } finally {
        await floorServer.stop();
      }

      let anchor: IdleResult | undefined;
      if (existsSync(SOCKETIO_ANCHOR)) {
        const sio = await startBenchServer(SOCKETIO_ANCHOR, { REDIS_URL: redis.url, JWT_SECRET, NODE_OPTIONS: GC_ON_SIGNAL });
        try {
          anchor = await idleCost(log, 'Socket.IO anchor', sio.proc.pid!, (pool, users) =>
            pool.open('socketio', users.map((user) => ({ url: sio.baseUrl, user }))),
          );
        } finally {
          await sio.stop();
        }
      } else {
        log(`${SOCKETIO_ANCHOR} does not exist: no Socket.IO anchor for the idle connection cost`);
      }
      rows.push({
        metric: `RSS per idle authenticated connection (${IDLE})`,
        value: ours.kibPerConn,
        unit: 'KiB',
        target: { op: '<', value: TARGET_KIB_PER_CONN + 1e-9 },
        ...(anchor ? { ratio: { of: 'Socket.IO', value: ours.kibPerConn / anchor.kibPerConn } } : {}),
        note: `${ours.note}; target <= ${TARGET_KIB_PER_CONN} KB`,
      });
      rows.push({
        metric: '  after a forced full GC',
        value: ours.kibPerConnGc,
        unit: 'KiB',
        ...(anchor ? { ratio: { of: 'Socket.IO', value: ours.kibPerConnGc / anchor.kibPerConnGc } } : {}),
        note: `floor ${floor.kibPerConnGc.toFixed(2)}${anchor ? `, Socket.IO ${anchor.kibPerConnGc.toFixed(2)}` : ''} KiB the same way; the handshakes' garbage collected`,
      });
      if (ours.v8) {
        rows.push(
          {
          metric: '  V8 heap used (live)',
          value: ours.v8.heapUsed,
          unit: 'KiB',
          note:
            'nodejs_heap_size_used_bytes delta / connection, both after a full GC' +
            (floor.v8 ? `; floor ${floor.v8.heapUsed.toFixed(2)}: AuroraChat's own state ${(ours.v8.heapUsed - floor.v8.heapUsed).toFixed(2)} KiB` : ''),
        },
          { metric: '  V8 heap reserved', value: ours.v8.heapTotal, unit: 'KiB', note: 'nodejs_heap_size_total_bytes delta / connection' },
          { metric: '  external (Buffers)', value: ours.v8.external, unit: 'KiB', note: 'nodejs_external_memory_bytes delta / connection; the rest of RSS is native (libuv, malloc)' },
        );
      }
      rows.push({
        metric: 'bare ws server RSS per idle connection (floor)',
        value: floor.kibPerConn,
        unit: 'KiB',
        note: `${floor.note}; same handshake + JWT check + hello, no app state (${WS_FLOOR}); RSS deltas of different processes differ by +-1 KiB, compare live heaps`,
      });
      if (anchor) {
        rows.push({ metric: `Socket.IO RSS per idle connection (anchor)`, value: anchor.kibPerConn, unit: 'KiB', note: anchor.note });
      }
      await client.flushall();

      // --- 2. Acked sends per second at saturation ---------------------------------------
      const ping = await pingRate(client, Math.max(20_000, TARGET_ACKED_PER_SEC * SAT_SECONDS), SAT_SOCKETS);
      log(`PING ${Math.round(ping)}/s with ${SAT_SOCKETS} in flight on one connection`);
      chat = await startService(
        'chat',
        chatEnv(redis.url, 'saturation', {
          LOG_LEVEL: 'warn',
          RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
          MAX_FRAMES_PER_SEC: '10000',
          INGEST_MAX_BACKLOG: '100000000',
        }),
        { waitReady: true, nodeArgs: process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [] },
      );
      const sat = chat;
      const pool = HolderPool.spawn(2);
      try {
        const opened = await pool.open(
          'aurora',
          Array.from({ length: SAT_SOCKETS }, (_, i) => ({ url: sat.baseUrl, user: `sender${i}`, room: `sat-${i}` })),
        );
        if (opened.failed > 0) throw new Error(`${opened.failed} sender sockets failed to open (${opened.firstError})`);
        const rpid = await redisPid(client);
        await pool.all({ cmd: 'saturate', window: SAT_WINDOW, text: SAT_TEXT });
        await sleep(1000);
        const s0 = await pool.stats();
        const w = cpuWindow({ replica: sat.proc.pid!, redis: rpid, ...Object.fromEntries(pool.holders.map((h, i) => [`h${i}`, h.proc.pid!])) });
        await sleep(SAT_SECONDS * 1000);
        const s1 = await pool.stats();
        const { wallMs, cpu } = w.end();
        await pool.all({ cmd: 'stop' });
        const holdersPct = pool.holders.reduce((sum, _, i) => sum + cpu[`h${i}`]!.pct, 0);
        const acked = ((s1.acks - s0.acks) * 1000) / wallMs;
        const delivered = ((s1.messages - s0.messages) * 1000) / wallMs;
        const errors = Object.fromEntries(Object.entries(s1.errors).map(([k, v]) => [k, v - (s0.errors[k] ?? 0)]));
        log(
          `${Math.round(acked)} acked sends/s (${Math.round(delivered)} deliveries/s back to the senders), replica CPU ${cpu.replica!.pct.toFixed(0)} %, ` +
            `redis CPU ${cpu.redis!.pct.toFixed(0)} %, sender processes ${holdersPct.toFixed(0)} %, errors: ${formatErrors(errors)}`,
        );
        rows.push(
          { metric: 'PING round trips, one connection (anchor)', value: ping, unit: 'ops/s', note: `${SAT_SOCKETS} in flight` },
          {
            metric: `acked sends/s, one replica (${SAT_SOCKETS} x ${SAT_WINDOW} in flight)`,
            value: acked,
            unit: 'sends/s',
            target: { op: '>=', value: TARGET_ACKED_PER_SEC },
            ratio: { of: 'PING', value: acked / ping },
            note: `errors: ${formatErrors(errors)}; the 2 sender processes used ${holdersPct.toFixed(0)} % of a core`,
          },
          { metric: '  replica CPU at saturation', value: cpu.replica!.pct, unit: '% of a core', note: `${((cpu.replica!.ms * 1000) / Math.max(1, s1.acks - s0.acks)).toFixed(1)} µs per acked send` },
          { metric: '  redis-server CPU at saturation', value: cpu.redis!.pct, unit: '% of a core', note: `${((cpu.redis!.ms * 1000) / Math.max(1, s1.acks - s0.acks)).toFixed(1)} µs per acked send` },
        );
      } finally {
        await pool.close();
      }
      return rows;
    } finally {
      await chat?.stop(process.env.BENCH_CPU_PROF ? 'SIGTERM' : 'SIGKILL');
      await redis.stop();
    }
  },
};
