// Scale run: CONNECTIONS connections over two replicas and ROOMS rooms of realistic sizes, to
// show that Redis egress and replica CPU grow with the replicas INTERESTED in a room (those
// with a local member), not with all rooms.
//
// Method: room sizes are Zipf-like (roomSizes below: 2 rooms of 10 % of the connections each,
// 10 of 2 %, the rest 2 and up with a 1/(k+10) tail); every connection is a distinct user holding
// one room, opened (and joined) from child processes (bench/capacity/holder.ts). One member
// per room sends; rooms get RATE messages/s in total, each in proportion to sqrt(size) (big
// rooms talk more, not 500 times more). The same rooms and traffic run in two placements:
//   A  every room's members split over both replicas (each replica interested in every room)
//   B  each room's members all on one replica (rooms partitioned, connections balanced)
// Per phase, over SECONDS after a warm-up: each replica's aurora_chat_pubsub_in_bytes_total /
// _frames_in_total (what Redis pub/sub sent it), Redis INFO total_net_output_bytes (all
// egress, command replies included), the replicas' and redis-server's CPU (/proc/<pid>/stat),
// the holders' deliveries; and each replica's aurora_chat_subscribed_rooms against the rooms
// it has local members in. Expected: B's pub/sub bytes ~ half of A's (one copy of each
// frame instead of two), each replica subscribed to exactly its own rooms. A third window
// (B0) keeps B's connections and lets only replica 0's rooms talk: replica 1, subscribed to
// its own quiet rooms, should receive no pub/sub bytes and spend only its idle CPU.
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { chatEnv } from '../test/chat/client.js';
import { waitFor } from '../test/helpers/ports.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startService, type RunningService } from '../test/helpers/service.js';
import type { ConnSpec } from './capacity/holder.js';
import { HolderPool, formatErrors } from './capacity/holders.js';
import { cpuWindow, metricSum, redisInfo, redisPid, scrape } from './capacity/measure.js';
import { envNumber as env, type BenchRow, type Benchmark } from './lib.js';

const CONNECTIONS = env('BENCH_SCALE_CONNECTIONS', 10_000);
const ROOMS = env('BENCH_SCALE_ROOMS', 500);
const RATE = env('BENCH_SCALE_RATE', 200);
const SECONDS = env('BENCH_SCALE_SECONDS', 10);
const PER_HOLDER = env('BENCH_CONNECTIONS_PER_HOLDER', 2500);
const TEXT = 'a chat message of an ordinary length, about seventy characters long....';
const REPLICAS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sizes of `rooms` rooms holding `total` connections, biggest first: 2 rooms of 10 % each,
 * 10 rooms of 2 % each (fewer when there are few rooms), the rest of the connections over the
 * remaining rooms with weights 1/(k+10) (a Zipf-like tail), at least 2 members each.
 */
export function roomSizes(total: number, rooms: number): number[] {
  const sizes: number[] = [];
  const big = Math.min(2, Math.floor(rooms / 10));
  const medium = Math.min(10, Math.floor(rooms / 10));
  for (let i = 0; i < big; i++) sizes.push(Math.floor(total * 0.1));
  for (let i = 0; i < medium; i++) sizes.push(Math.floor(total * 0.02));
  const small = rooms - sizes.length;
  let rest = total - sizes.reduce((s, n) => s + n, 0);
  if (rest < 2 * small) throw new Error(`${total} connections are too few for ${rooms} rooms`);
  // 1/(k+10): the tail starts below the 2 % rooms and most rooms end up with a handful of members.
  const weights = Array.from({ length: small }, (_, k) => 1 / (k + 11));
  const wsum = weights.reduce((s, w) => s + w, 0);
  const spare = rest - 2 * small;
  const tail = weights.map((w) => 2 + Math.floor((spare * w) / wsum));
  rest -= tail.reduce((s, n) => s + n, 0);
  for (let i = 0; rest > 0; i = (i + 1) % small, rest--) tail[i]!++;
  return [...sizes, ...tail].sort((a, b) => b - a);
}

type Placement = 'A' | 'B';

/** The replica (0 or 1) of member `j` of room `r` in a placement; B balances connections greedily. */
function placer(sizes: number[], placement: Placement): (r: number, j: number) => number {
  if (placement === 'A') return (r, j) => (r + j) % REPLICAS;
  const load = new Array<number>(REPLICAS).fill(0);
  const home = sizes.map((n) => {
    const target = load.indexOf(Math.min(...load));
    load[target]! += n;
    return target;
  });
  return (r) => home[r]!;
}

interface ReplicaSample {
  bytesIn: number;
  framesIn: number;
  framesOut: number;
  subscribed: number;
  connections: number;
}

async function sample(replica: RunningService): Promise<ReplicaSample> {
  const t = await scrape(replica.adminUrl);
  return {
    bytesIn: metricSum(t, 'aurora_chat_pubsub_in_bytes_total'),
    framesIn: metricSum(t, 'aurora_chat_pubsub_frames_in_total'),
    framesOut: metricSum(t, 'aurora_chat_frames_out_total'),
    subscribed: metricSum(t, 'aurora_chat_subscribed_rooms'),
    connections: metricSum(t, 'aurora_chat_connections'),
  };
}

interface PhaseResult {
  name: string;
  /** Per replica, per second over the window. */
  bytesIn: number[];
  framesIn: number[];
  framesOut: number[];
  cpuPct: number[];
  subscribed: number[];
  expectedSubscribed: number[];
  redisEgress: number;
  redisCpuPct: number;
  holdersCpuPct: number;
  acked: number;
  deliveries: number;
  /** Messages asked for per second. */
  asked: number;
  /** Replica CPU (both) per delivery, µs. */
  cpuPerDeliveryUs: number;
  errors: string;
}

interface Phase {
  pool: HolderPool;
  replicas: RunningService[];
  redis: Redis;
  redisPid: number;
  expectedSubscribed: number[];
}

/** Runs `senders` (per holder) for a warm-up and SECONDS, and measures the window. */
async function trafficWindow(
  name: string,
  { pool, replicas, redis, redisPid: rpid, expectedSubscribed }: Phase,
  perHolder: { conn: number; rate: number }[][],
): Promise<PhaseResult> {
  await Promise.all(pool.holders.map((h, i) => h.request({ cmd: 'traffic', senders: perHolder[i]!, text: TEXT })));
  await sleep(2000);
  // Every counter read at (nearly) the same moment at both ends of the window.
  const snap = () => Promise.all([Promise.all(replicas.map(sample)), redisInfo(redis, 'stats'), pool.stats()] as const);
  const t0 = performance.now();
  const [before, info0, h0] = await snap();
  // Counters are read somewhere inside each snapshot: their window runs midpoint to midpoint.
  const mid0 = (t0 + performance.now()) / 2;
  const w = cpuWindow({
    ...Object.fromEntries(replicas.map((r, i) => [`r${i}`, r.proc.pid!])),
    redis: rpid,
    ...Object.fromEntries(pool.holders.map((h, i) => [`h${i}`, h.proc.pid!])),
  });
  await sleep(SECONDS * 1000);
  const t1 = performance.now();
  const [after, info1, h1] = await snap();
  const wallMs = (t1 + performance.now()) / 2 - mid0;
  const { cpu } = w.end();
  await pool.all({ cmd: 'stop' });
  const perSec = (d: number) => (d * 1000) / wallMs;
  const errors = Object.fromEntries(Object.entries(h1.errors).map(([k, v]) => [k, v - (h0.errors[k] ?? 0)]).filter(([, v]) => Number(v) > 0));
  const replicaCpuMs = replicas.reduce((s, _, i) => s + cpu[`r${i}`]!.ms, 0);
  const deliveries = h1.messages - h0.messages;
  return {
    name,
    bytesIn: after.map((a, i) => perSec(a.bytesIn - before[i]!.bytesIn)),
    framesIn: after.map((a, i) => perSec(a.framesIn - before[i]!.framesIn)),
    framesOut: after.map((a, i) => perSec(a.framesOut - before[i]!.framesOut)),
    cpuPct: replicas.map((_, i) => cpu[`r${i}`]!.pct),
    subscribed: after.map((a) => a.subscribed),
    expectedSubscribed,
    redisEgress: perSec(info1.total_net_output_bytes! - info0.total_net_output_bytes!),
    redisCpuPct: cpu.redis!.pct,
    holdersCpuPct: pool.holders.reduce((s, _, i) => s + cpu[`h${i}`]!.pct, 0),
    acked: perSec(h1.acks - h0.acks),
    deliveries: perSec(deliveries),
    asked: perHolder.flat().reduce((s, x) => s + x.rate, 0),
    cpuPerDeliveryUs: (replicaCpuMs * 1000) / Math.max(1, deliveries),
    errors: formatErrors(errors),
  };
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const kib = (x: number) => x / 1024;

function describe(p: PhaseResult): string {
  return (
    `${p.name}: ${Math.round(p.acked)} acked msg/s, ${Math.round(p.deliveries)} deliveries/s; ` +
    `pub/sub in ${p.bytesIn.map((b) => `${kib(b).toFixed(1)} KiB/s`).join(' + ')} (${p.framesIn.map((f) => f.toFixed(0)).join(' + ')} frames/s); ` +
    `frames out ${p.framesOut.map((f) => f.toFixed(0)).join(' + ')}/s; redis egress ${kib(p.redisEgress).toFixed(0)} KiB/s; ` +
    `CPU replicas ${p.cpuPct.map((c) => `${c.toFixed(1)} %`).join(' + ')}, redis ${p.redisCpuPct.toFixed(0)} %, holders ${p.holdersCpuPct.toFixed(0)} %; ` +
    `subscribed rooms ${p.subscribed.join(' + ')} (rooms with local members ${p.expectedSubscribed.join(' + ')}); errors: ${p.errors}`
  );
}

/** Rows of one measured window; with `base`, ratios to it. */
function rowsOf(p: PhaseResult, base?: PhaseResult): BenchRow[] {
  const ratio = (v: number, b: number) => (base ? { ratio: { of: base.name.split(' ')[0]!, value: v / b } } : {});
  const subsOk = p.subscribed.every((s, i) => s === p.expectedSubscribed[i]);
  const tag = p.name.split(' ')[0]!;
  return [
    {
      metric: `${tag}: pub/sub bytes in, both replicas`,
      value: kib(sum(p.bytesIn)),
      unit: 'KiB/s',
      ...ratio(sum(p.bytesIn), sum(base?.bytesIn ?? [])),
      note: `per replica ${p.bytesIn.map((x) => kib(x).toFixed(1)).join(' / ')} KiB/s, ${p.framesIn.map((f) => f.toFixed(0)).join(' / ')} frames/s`,
    },
    {
      metric: `${tag}: subscribed rooms, both replicas`,
      value: sum(p.subscribed),
      unit: 'rooms',
      ...ratio(sum(p.subscribed), sum(base?.subscribed ?? [])),
      note: `${p.subscribed.join(' / ')}; rooms with local members ${p.expectedSubscribed.join(' / ')}${subsOk ? ' (equal)' : ' (MISMATCH)'}`,
    },
    {
      metric: `${tag}: Redis egress (all replies)`,
      value: kib(p.redisEgress),
      unit: 'KiB/s',
      ...ratio(p.redisEgress, base?.redisEgress ?? 0),
      note: `INFO total_net_output_bytes; redis CPU ${p.redisCpuPct.toFixed(0)} %`,
    },
    {
      metric: `${tag}: replica CPU, both`,
      value: sum(p.cpuPct),
      unit: '% of a core',
      ...ratio(sum(p.cpuPct), sum(base?.cpuPct ?? [])),
      note: `${p.cpuPct.map((c) => c.toFixed(1)).join(' / ')} %; ${p.cpuPerDeliveryUs.toFixed(1)} µs per delivery; holders ${p.holdersCpuPct.toFixed(0)} %`,
    },
    {
      metric: `${tag}: deliveries`,
      value: p.deliveries,
      unit: 'frames/s',
      ...ratio(p.deliveries, base?.deliveries ?? 0),
      note: `per replica ${p.framesOut.map((f) => f.toFixed(0)).join(' / ')} frames out/s; ${Math.round(p.acked)} acked msg/s (asked ${p.asked.toFixed(0)}); errors: ${p.errors}`,
    },
  ];
}

export const scaleBenchmark: Benchmark = {
  name: 'scale',
  description: `${CONNECTIONS} connections over ${REPLICAS} replicas in ${ROOMS} rooms (Zipf-like sizes), ${RATE} msg/s; rooms split over both replicas (A) vs partitioned (B)`,
  async run(log) {
    const sizes = roomSizes(CONNECTIONS, ROOMS);
    const weights = sizes.map((n) => Math.sqrt(n));
    const wsum = weights.reduce((s, w) => s + w, 0);
    const rates = weights.map((w) => (RATE * w) / wsum);
    // Deliveries per message on average (every member, the sender included, gets each one).
    const fanout = rates.reduce((s, r, i) => s + r * sizes[i]!, 0) / RATE;
    log(
      `room sizes: ${sizes.slice(0, 12).join(', ')}, ... ${sizes.slice(-3).join(', ')}; busiest room ${rates[0]!.toFixed(1)} msg/s, ` +
        `quietest ${rates.at(-1)!.toFixed(2)} msg/s; ${fanout.toFixed(0)} deliveries per message on average`,
    );
    const redis = await startRedis();
    const client = redis.client();
    const replicas: RunningService[] = [];
    const results: PhaseResult[] = [];
    try {
      for (let i = 0; i < REPLICAS; i++) {
        replicas.push(
          await startService(
            'chat',
            chatEnv(redis.url, `scale-${i}`, {
              LOG_LEVEL: 'warn',
              MAX_CONNECTIONS: String(CONNECTIONS + 1000),
              RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
              MAX_FRAMES_PER_SEC: '10000',
              INGEST_MAX_BACKLOG: '100000000',
            }),
            { waitReady: true },
          ),
        );
      }
      const rpid = await redisPid(client);

      for (const placement of ['A', 'B'] as const) {
        const where = placer(sizes, placement);
        const conns: ConnSpec[] = [];
        const senderOf: number[] = [];
        const homeOfSender: number[] = [];
        const expectedSubscribed = new Array<number>(REPLICAS).fill(0);
        const prefix = placement.toLowerCase();
        sizes.forEach((n, r) => {
          senderOf.push(conns.length);
          homeOfSender.push(where(r, 0));
          const on = new Set<number>();
          for (let j = 0; j < n; j++) {
            const rep = where(r, j);
            on.add(rep);
            conns.push({ url: replicas[rep]!.baseUrl, user: `${prefix}${r}m${j}`, room: `${prefix}-room-${r}` });
          }
          for (const rep of on) expectedSubscribed[rep]!++;
        });
        const pool = HolderPool.spawn(Math.ceil(CONNECTIONS / PER_HOLDER));
        try {
          const t0 = performance.now();
          const opened = await pool.open('aurora', conns, { concurrency: 25 });
          if (opened.failed > 0) throw new Error(`${placement}: ${opened.failed} of ${conns.length} connections failed (first: ${opened.firstError})`);
          const t1 = performance.now();
          // The join presence events still fanning out: wait until the holders' frame counts stop.
          let last = -1;
          await waitFor(
            async () => {
              const f = (await pool.stats()).frames;
              const quiet = f === last;
              last = f;
              return quiet;
            },
            { timeoutMs: 120_000, intervalMs: 1000, what: 'the join storm to settle' },
          );
          const storm = await pool.stats();
          log(
            `${placement}: ${conns.length} connections opened and joined in ${((t1 - t0) / 1000).toFixed(1)} s, ` +
              `quiet after ${((performance.now() - t0) / 1000).toFixed(1)} s (${storm.frames} frames received while joining, presence events mostly)`,
          );

          const senders = (only?: number) => {
            const perHolder = pool.holders.map(() => [] as { conn: number; rate: number }[]);
            sizes.forEach((_, r) => {
              if (only !== undefined && homeOfSender[r] !== only) return;
              const [h, idx] = opened.placement[senderOf[r]!]!;
              perHolder[h]!.push({ conn: idx, rate: rates[r]! });
            });
            return perHolder;
          };
          const phase: Phase = { pool, replicas, redis: client, redisPid: rpid, expectedSubscribed };
          const label =
            placement === 'A' ? 'A (every room on both replicas)' : 'B (rooms partitioned: each room on one replica)';
          const res = await trafficWindow(label, phase, senders());
          results.push(res);
          log(describe(res));
          if (placement === 'B') {
            // The same connections; only the rooms homed on replica 0 talk. Replica 1 is
            // subscribed to its own 250 rooms all along but none of them is busy: it should
            // receive nothing and spend only its idle CPU.
            const quiet = await trafficWindow('B0 (B, only replica 0\'s rooms talk)', phase, senders(0));
            results.push(quiet);
            log(describe(quiet));
          }
        } finally {
          await pool.close();
        }
        // Every socket gone, every room channel unsubscribed, before the next placement.
        await waitFor(
          async () => {
            const s = await Promise.all(replicas.map(sample));
            return s.every((x) => x.connections === 0 && x.subscribed === 0);
          },
          { timeoutMs: 60_000, intervalMs: 500, what: 'the replicas to drop every connection and subscription' },
        );
      }

      const [a, b, b0] = results as [PhaseResult, PhaseResult, PhaseResult];
      return [...rowsOf(a), ...rowsOf(b, a), ...rowsOf(b0, b)];
    } finally {
      await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
      await redis.stop();
    }
  },
};
