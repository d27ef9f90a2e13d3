// Attention benchmark (issue 15 "Tests and performance"): (1) what `read` frames cost per
// delivered message, against the same load without them; (2) the notify worker's throughput
// against storage's, in one ingestion process (attention-notify.ts).
//
// Method, part 1
// - One real chat replica (services/chat/main.ts) and one redis-server. One public room with
//   RECEIVERS members that only receive, plus one sender, all joined over real WebSockets
//   (bench/load/raw-ws.ts) from this process. Receipts are on: RECEIPTS_MAX_MEMBERS is set to
//   the room's size (receivers + sender), the largest room that still gets them. Limits that
//   would refuse the load (frames per second, send budgets) are raised.
// - The sender sends RATE msg/s for SECONDS (absolute schedule), its send time
//   (process.hrtime, CLOCK_MONOTONIC) stamped in the text. Three phases, same load:
//   (A, the anchor: half before B and C, half after) receivers only receive; (B) every receiver answers every message with a
//   `read` of it (the worst case, no debounce); (C) receivers read as the browser does: at most
//   one per room per second, leading and trailing, naming the newest message seen.
// - A phase's window runs from its first send until every message reached every member, every
//   read sent came back as a `read` frame on the reader's user channel and as a `receipt` to
//   every member of the room (or nothing arrived for STALL_MS: the shortfall is logged).
//   CPU = /proc/<pid>/stat of the replica and of redis-server over the window, per delivered
//   message (deliveries = messages x members). Ratios: total CPU per delivery of B and C over A.
// - A short warm-up phase (B's behaviour, not reported) first, so no phase pays for JIT.
// Sizes: BENCH_ATTN_RECEIVERS (20), BENCH_ATTN_RATE (50 msg/s), BENCH_ATTN_SECONDS (10),
// BENCH_ATTN_NOTIFY_MESSAGES (20,000, part 2).
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { ChatUser } from '../services/shared/message.js';
import { signAccessToken } from '../services/shared/tokens.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { notifyThroughput } from './attention-notify.js';
import { RawWebSocket } from './load/raw-ws.js';
import { startNode, type ServerProc } from './load/servers.js';
import { cpuMs, envNumber as env, percentile, type BenchRow, type Benchmark } from './lib.js';

const RECEIVERS = env('BENCH_ATTN_RECEIVERS', 20, 1);
const RATE = env('BENCH_ATTN_RATE', 50, 1);
const SECONDS = env('BENCH_ATTN_SECONDS', 10);
const NOTIFY_MESSAGES = env('BENCH_ATTN_NOTIFY_MESSAGES', 20_000, 10);
const WARMUP_SECONDS = Math.min(3, SECONDS);
const SECRET = 'bench-attention-secret-0123456789abcdef0123';
const ORIGIN = 'http://bench.test';
const ROOM = 'attention-bench';
const READ_DEBOUNCE_MS = 1000;
const STALL_MS = 3000;

type Mode = 'none' | 'every' | 'debounced';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hrMs = () => Number(process.hrtime.bigint()) / 1e6;

/** What one phase counted (reset at its start). */
class Tally {
  deliveries = 0;
  latencies: number[] = [];
  readsSent = 0;
  readFrames = 0;
  receipts = 0;
  acks = 0;
  errors = new Map<string, number>();
  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}

let tally = new Tally();
let mode: Mode = 'none';

/** One member's socket; receivers answer messages with `read` frames according to `mode`. */
class Member {
  private newest: string | undefined;
  private lastReadId: string | undefined;
  private lastReadAt = -Infinity;
  timer: NodeJS.Timeout | undefined;
  private onJoined: (() => void) | undefined;
  readonly ws: RawWebSocket;

  constructor(url: string, readonly user: ChatUser, private readonly receiver: boolean) {
    const token = signAccessToken(SECRET, user, 3600).token;
    this.ws = new RawWebSocket({
      url,
      protocols: ['aurora.v1', `bearer.${token}`],
      headers: { origin: ORIGIN },
      onFrame: (buf, start, end) => this.frame(buf, start, end),
      onClose: (reason) => tally.error(`closed: ${reason}`),
    });
  }

  async join(): Promise<void> {
    await this.ws.opened;
    const joined = new Promise<void>((resolve) => (this.onJoined = resolve));
    this.ws.send(JSON.stringify({ type: 'join', room: ROOM }));
    await Promise.race([joined, sleep(10_000).then(() => Promise.reject(new Error(`${this.user.name}: no joined frame`)))]);
  }

  // Only message frames are parsed: the others are told apart by their first bytes, since
  // phase B brings members x readers receipt frames per message to this one process.
  private frame(buf: Buffer, start: number, end: number): void {
    const head = buf.toString('latin1', start, Math.min(end, start + 20));
    if (head.startsWith('{"type":"message"')) this.message(JSON.parse(buf.toString('utf8', start, end)) as { id: string; text: string });
    else if (head.startsWith('{"type":"receipt"')) tally.receipts++;
    else if (head.startsWith('{"type":"read"')) tally.readFrames++;
    else if (head.startsWith('{"type":"ack"')) tally.acks++;
    else if (head.startsWith('{"type":"joined"')) this.onJoined?.();
    else if (head.startsWith('{"type":"error"')) tally.error((JSON.parse(buf.toString('utf8', start, end)) as { code: string }).code);
  }

  private message(m: { id: string; text: string }): void {
    tally.deliveries++;
    if (!this.receiver) return;
    const stamp = /^t(\d+(?:\.\d+)?) /.exec(m.text);
    if (stamp) tally.latencies.push(hrMs() - Number(stamp[1]));
    this.newest = m.id;
    if (mode === 'every') this.read();
    else if (mode === 'debounced' && !this.timer) {
      const wait = this.lastReadAt + READ_DEBOUNCE_MS - performance.now();
      if (wait <= 0) this.read();
      else this.timer = setTimeout(() => this.read(), wait);
    }
  }

  private read(): void {
    this.timer = undefined;
    if (this.newest === undefined || this.newest === this.lastReadId) return;
    this.lastReadId = this.newest;
    this.lastReadAt = performance.now();
    tally.readsSent++;
    this.ws.send(JSON.stringify({ type: 'read', room: ROOM, id: this.newest }));
  }
}

interface PhaseResult {
  messages: number;
  deliveries: number;
  replicaMs: number;
  redisMs: number;
  secs: number;
  /** Delivery latencies (ms), sorted. */
  lat: number[];
  readsSent: number;
  receipts: number;
  readFrames: number;
}

async function runPhase(name: string, tag: string, m: Mode, seconds: number, sender: Member, members: number, pids: { replica: number; redis: number }, log: (l: string) => void): Promise<PhaseResult> {
  tally = new Tally();
  mode = m;
  const total = Math.max(1, Math.round(RATE * seconds));
  const cpu0 = { replica: cpuMs(pids.replica), redis: cpuMs(pids.redis) };
  const t0 = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * RATE) / 1000) + 1);
    for (; sent < due; sent++) sender.ws.send(JSON.stringify({ type: 'send', room: ROOM, text: `t${hrMs()} attention benchmark message ${sent}`, cid: `${tag}-${sent}` }));
    await sleep(Math.max(1, t0 + (sent * 1000) / RATE - performance.now()));
  }
  // Settled: every delivery, and every read sent answered on the user channel and to the room.
  const settled = () =>
    tally.deliveries >= total * members && tally.readFrames >= tally.readsSent && tally.receipts >= tally.readsSent * members && !receiversBusy();
  let last = -1;
  let lastChange = performance.now();
  while (!settled()) {
    const n = tally.deliveries + tally.readFrames + tally.receipts + tally.readsSent;
    if (n !== last) [last, lastChange] = [n, performance.now()];
    else if (performance.now() - lastChange > STALL_MS) break;
    await sleep(5);
  }
  const stalled = !settled();
  const end = stalled ? lastChange : performance.now();
  const cpu1 = { replica: cpuMs(pids.replica), redis: cpuMs(pids.redis) };
  const lat = tally.latencies.sort((a, b) => a - b);
  const r: PhaseResult = {
    messages: total,
    deliveries: tally.deliveries,
    replicaMs: cpu1.replica - cpu0.replica,
    redisMs: cpu1.redis - cpu0.redis,
    secs: (end - t0) / 1000,
    lat,
    readsSent: tally.readsSent,
    receipts: tally.receipts,
    readFrames: tally.readFrames,
  };
  const errors = [...tally.errors].map(([k, v]) => `${k} x${v}`).join(', ');
  log(
    `${name}: ${total} msgs, ${r.deliveries}/${total * members} deliveries, ${r.readsSent} reads -> ${r.readFrames} read frames, ${r.receipts} receipts ` +
      `(${r.readsSent * members} due), ${tally.acks} acks in ${r.secs.toFixed(2)} s; replica ${r.replicaMs.toFixed(0)} ms, redis ${r.redisMs.toFixed(0)} ms CPU; ` +
      `p50 ${percentile(lat, 50).toFixed(2)} p99 ${percentile(lat, 99).toFixed(2)} ms${errors ? `; errors: ${errors}` : ''}${stalled ? ' (STALLED: shortfall above)' : ''}`,
  );
  return r;
}

let receiversBusy: () => boolean = () => false;

/** Two runs of the same phase as one. */
function merge(a: PhaseResult, b: PhaseResult): PhaseResult {
  return {
    messages: a.messages + b.messages,
    deliveries: a.deliveries + b.deliveries,
    replicaMs: a.replicaMs + b.replicaMs,
    redisMs: a.redisMs + b.redisMs,
    secs: a.secs + b.secs,
    lat: [...a.lat, ...b.lat].sort((x, y) => x - y),
    readsSent: a.readsSent + b.readsSent,
    receipts: a.receipts + b.receipts,
    readFrames: a.readFrames + b.readFrames,
  };
}

async function redisPid(client: Redis): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await client.info('server'))![1]);
}

async function readCost(log: (l: string) => void): Promise<Record<'A' | 'B' | 'C', PhaseResult>> {
  const redis = await startRedis();
  let replica: ServerProc | undefined;
  const all: Member[] = [];
  try {
    const members = RECEIVERS + 1;
    replica = await startNode(
      'services/chat/main.ts',
      {
        REDIS_URL: redis.url,
        JWT_SECRET: SECRET,
        ALLOWED_ORIGINS: ORIGIN,
        REPLICA_ID: 'attn-0',
        LOG_LEVEL: 'warn',
        RECEIPTS_MAX_MEMBERS: String(members),
        MAX_FRAMES_PER_SEC: '10000',
        RATE_LIMIT_MESSAGES: '100000',
        USER_SEND_MAX_MESSAGES: '1000000',
        USER_SEND_MAX_BYTES: '1073741824',
        INGEST_MAX_BACKLOG: '100000000',
      },
      (port) => `ws://127.0.0.1:${port}/ws`,
      '/readyz',
    );
    const pids = { replica: replica.proc.pid!, redis: await redisPid(redis.client()) };
    const sender = new Member(replica.url, { id: 'attn-sender', name: 'attn-sender' }, false);
    await sender.join();
    all.push(sender);
    for (let i = 0; i < RECEIVERS; i++) {
      const m = new Member(replica.url, { id: `attn-r${i}`, name: `attn-r${i}` }, true);
      all.push(m);
      await m.join();
    }
    receiversBusy = () => all.some((m) => m.timer !== undefined);
    log(`${members} members in ${ROOM} (receipts on up to ${members}), ${RATE} msg/s for ${SECONDS} s per phase`);

    await runPhase('warm-up', 'W', 'every', WARMUP_SECONDS, sender, members, pids, () => undefined);
    // The anchor is measured before and after B and C (half the time each): the machine's drift
    // during the run (other processes, JIT settling) then weighs on both sides of the ratios.
    const A1 = await runPhase('A1 (no reads)', 'A1', 'none', SECONDS / 2, sender, members, pids, log);
    const B = await runPhase('B (read every message)', 'B', 'every', SECONDS, sender, members, pids, log);
    const C = await runPhase('C (read debounced 1/s)', 'C', 'debounced', SECONDS, sender, members, pids, log);
    const A2 = await runPhase('A2 (no reads)', 'A2', 'none', SECONDS / 2, sender, members, pids, log);
    if (B.receipts === 0) throw new Error('phase B got no receipt frames: receipts are off for the room');
    return { A: merge(A1, A2), B, C };
  } finally {
    for (const m of all) {
      clearTimeout(m.timer);
      m.ws.close();
    }
    await replica?.stop();
    await redis.stop();
  }
}

function readRows(r: Record<'A' | 'B' | 'C', PhaseResult>): BenchRow[] {
  const perDelivery = (p: PhaseResult, ms: number) => (ms * 1000) / Math.max(1, p.deliveries);
  const total = (p: PhaseResult) => perDelivery(p, p.replicaMs + p.redisMs);
  const label = { A: 'A no reads (anchor, before+after)', B: 'B read every message', C: 'C read debounced 1/s' } as const;
  const rows: BenchRow[] = [];
  for (const k of ['A', 'B', 'C'] as const) {
    const p = r[k];
    const vsA = k === 'A' ? undefined : { of: 'A', value: total(p) / total(r.A) };
    rows.push(
      { metric: `${label[k]}: replica CPU per delivery`, value: perDelivery(p, p.replicaMs), unit: 'µs', note: `${p.deliveries} deliveries in ${p.secs.toFixed(1)} s` },
      { metric: `${label[k]}: Redis CPU per delivery`, value: perDelivery(p, p.redisMs), unit: 'µs' },
      { metric: `${label[k]}: total CPU per delivery`, value: total(p), unit: 'µs', ...(vsA ? { ratio: vsA } : {}), note: `${p.readsSent} reads sent` },
      { metric: `${label[k]}: delivery latency p50`, value: percentile(p.lat, 50), unit: 'ms' },
      { metric: `${label[k]}: delivery latency p99`, value: percentile(p.lat, 99), unit: 'ms', ...(k === 'A' ? {} : { ratio: { of: 'A p99', value: percentile(p.lat, 99) / percentile(r.A.lat, 99) } }) },
    );
    if (k !== 'A') {
      rows.push({
        metric: `${label[k]}: receipt frames per message`,
        value: p.receipts / p.messages,
        unit: 'frames',
        note: `${(p.readsSent / p.messages).toFixed(2)} reads/msg x ${RECEIVERS + 1} members: O(members²), capped by RECEIPTS_MAX_MEMBERS`,
      });
    }
  }
  return rows;
}

export const attentionBenchmark: Benchmark = {
  name: 'attention',
  description:
    `read frames: ${RECEIVERS} receivers + 1 sender in one room (receipts on), ${RATE} msg/s x ${SECONDS} s per phase, 1 replica; ` +
    `notify vs storage group: ${NOTIFY_MESSAGES} backlog entries, 1 ingestion process`,
  async run(log) {
    const reads = await readCost(log);
    const alone = await notifyThroughput(NOTIFY_MESSAGES, SECRET, false, log);
    const n = await notifyThroughput(NOTIFY_MESSAGES, SECRET, true, log);
    return [
      ...readRows(reads),
      { metric: 'storage group alone (NOTIFY_ENABLED=false)', value: alone.rate.ingestion, unit: 'msg/s', note: `${alone.messages} entries, done ${alone.wall.ingestion.toFixed(1)} s after spawn` },
      {
        metric: 'storage group beside notify (anchor)',
        value: n.rate.ingestion,
        unit: 'msg/s',
        ratio: { of: 'storage alone', value: n.rate.ingestion / alone.rate.ingestion },
        note: `done ${n.wall.ingestion.toFixed(1)} s after spawn`,
      },
      {
        metric: 'notify group throughput',
        value: n.rate.notify,
        unit: 'msg/s',
        ratio: { of: 'ingestion', value: n.rate.notify / n.rate.ingestion },
        note: `same process; done ${n.wall.notify.toFixed(1)} s after spawn`,
      },
      { metric: 'notifications created', value: n.created, unit: 'rows', target: { op: '>=', value: n.expected }, note: `${n.expected} due (mentions + DM messages)` },
    ];
  },
};
