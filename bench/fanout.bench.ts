// Fan-out benchmark (issue 7): AuroraChat against Socket.IO 4.8 + @socket.io/redis-adapter (the
// anchor) and the AuroraChat-seed design (second reference), same box, same run, same sizes,
// same load generator.
//
// Method
// - One separate redis-server. For each system in turn: REPLICAS server processes
//   (AuroraChat: real chat replicas with their full send path — rate limit, idempotency, two
//   XADDs, publish — plus one ingestion worker so the messages really persist; the worker's CPU
//   is reported on its own row, never counted as fan-out CPU. Anchors: bench/anchors/*.ts).
// - GENERATORS load-generator processes (bench/load/generator.ts), RECEIVERS members in one
//   room (or BENCH_ROOM_SIZES) spread round-robin over the replicas and the generators, plus
//   SENDERS members that also send. Every member, senders included, receives every message of
//   its room: deliveries = acked sends x room size.
// - A short warm-up (not reported), then (a) a fixed rate (40 msg/s = 40k deliveries/s with
//   1,000 members) for FIXED_SECS: deliveries/s achieved, end-to-end latency p50/p99/p999 (the
//   sender's CLOCK_MONOTONIC stamp in the text vs the receiver's clock), and server CPU µs per
//   delivery = CPU time (/proc/<pid>/stat) of all server processes over the window / deliveries;
//   (b) a rate sweep, STEP_SECS per step, stopping after the first step that fails: the highest
//   rate whose step held p99 < 250 ms with every acked message delivered to every member.
// - Windows: from the first send to the moment every expected delivery arrived (or no progress
//   for 2 s). Redis CPU per delivery is logged too (shared by all systems, not in the ratio).
// - Ratios: AuroraChat's value / Socket.IO's value from the same run (targets from the issue:
//   CPU/delivery <= 0.4x, max rate >= 2x, p99 < 50 ms at 40k deliveries/s).
// Sizes: BENCH_RECEIVERS (1000), BENCH_ROOM_SIZES (e.g. "500,300,200", instead of one room),
// BENCH_SENDERS (4), BENCH_REPLICAS (2), BENCH_GENERATORS (2), BENCH_FANOUT_RATE (40),
// BENCH_FIXED_SECS (10), BENCH_SWEEP ("10,20,40,80,120,160,240,320,480,640"), BENCH_STEP_SECS (4),
// BENCH_PAYLOAD (100 bytes of text), BENCH_SYSTEMS ("socketio,aurora,seed": the run order),
// BENCH_EVENT_ROUNDS (3; 0 = no event steps), BENCH_EVENT_SECS (5).
// Events (issue 13): after AuroraChat's fixed step, rounds of message / edit / react steps at the
// same rate compare the server CPU per delivery of an event with a message's (fanout-events.ts).
// Small run: BENCH_RECEIVERS=200 npm run bench -- fanout
// Where the time goes: BENCH_CPU_PROF=/tmp/prof npm run bench -- fanout runs every server and
// generator under --cpu-prof and records the measured windows; then
// `npx tsx bench/load/profile-summary.ts /tmp/prof [step]` prints each process's top functions
// inside a window (step 2 = the fixed rate).
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { JWT_SECRET, chatEnv } from '../test/chat/client.js';
import { startRedis, type TestRedis } from '../test/helpers/redis-server.js';
import { startService } from '../test/helpers/service.js';
import { tempDir } from '../test/ingestion/fixtures.js';
import { LatencyHistogram } from './load/histogram.js';
import { GeneratorHandle, type ChangeKind, type ClientPlan, type TargetKind } from './load/protocol.js';
import { EVENT_ROUNDS, compareEvents, eventRows, type EventComparison } from './fanout-events.js';
import { startAnchor, startNode, type ServerProc } from './load/servers.js';
import { cpuMs, envNumber as env, type BenchRow, type Benchmark } from './lib.js';

const RECEIVERS = env('BENCH_RECEIVERS', 1000);
const SENDERS = env('BENCH_SENDERS', 4);
const REPLICAS = env('BENCH_REPLICAS', 2);
const GENERATORS = env('BENCH_GENERATORS', 2);
const FIXED_RATE = env('BENCH_FANOUT_RATE', 40);
const FIXED_SECS = env('BENCH_FIXED_SECS', 10);
const STEP_SECS = env('BENCH_STEP_SECS', 4);
const PAYLOAD = env('BENCH_PAYLOAD', 100);
const P99_LIMIT_MS = 250;
const SWEEP = (process.env.BENCH_SWEEP ?? '10,20,40,80,120,160,240,320,480,640').split(',').map(Number);
/**
 * The systems in run order: socketio, wsfloor, seed, aurora (its configured write batching),
 * aurora@N (WRITE_DELAY_MS=N) or aurora@NxF (WRITE_DELAY_MS=N, WRITE_MAX_FRAMES=F).
 */
const SYSTEMS_SPEC = (process.env.BENCH_SYSTEMS ?? 'socketio,wsfloor,aurora@0,aurora,seed').split(',');
/** Explicit room sizes (receivers per room), e.g. "500,300,200"; default one room of RECEIVERS. */
const ROOM_SIZES = process.env.BENCH_ROOM_SIZES ? process.env.BENCH_ROOM_SIZES.split(',').map(Number) : [RECEIVERS];

/** A directory: every server and generator process runs with --cpu-prof and is stopped with SIGTERM so the profile is written. */
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const profArgs = (what: string) => (PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', join(PROFILE_DIR, what)] : []);

const LABEL: Record<TargetKind, string> = { aurora: 'AuroraChat', socketio: 'Socket.IO', seed: 'seed design', wsfloor: 'ws floor' };

/** One system under test: AuroraChat may run several times with different write delays. */
interface System {
  kind: TargetKind;
  /** AuroraChat: WRITE_DELAY_MS for its replicas (undefined: the configured default). */
  writeDelayMs?: number;
  /** AuroraChat: WRITE_MAX_FRAMES (undefined: the configured default). */
  writeMaxFrames?: number;
  label: string;
  /** Names its profile directories and windows (BENCH_CPU_PROF). */
  slug: string;
  /** AuroraChat: also run the event steps (fanout-events.ts) — for one variant only. */
  events: boolean;
}

function parseSystems(spec: string[]): System[] {
  const systems = spec.map((entry): System => {
    const [kind, batching] = entry.trim().split('@') as [TargetKind, string | undefined];
    const m = batching === undefined ? undefined : /^(\d+)(?:x(\d+))?$/.exec(batching);
    if (!(kind in LABEL) || (batching !== undefined && (kind !== 'aurora' || !m))) {
      throw new Error(`BENCH_SYSTEMS: unknown system "${entry}" (socketio, wsfloor, seed, aurora, aurora@<write delay ms>[x<max frames>])`);
    }
    if (!m) return { kind, label: LABEL[kind], slug: kind, events: false };
    const writeDelayMs = Number(m[1]);
    const writeMaxFrames = m[2] === undefined ? undefined : Number(m[2]);
    const label = `${LABEL[kind]} (write delay ${writeDelayMs} ms${writeMaxFrames ? `, ${writeMaxFrames} frames` : ''})`;
    return { kind, writeDelayMs, writeMaxFrames, label, slug: `${kind}-d${writeDelayMs}${writeMaxFrames ? `x${writeMaxFrames}` : ''}`, events: false };
  });
  // Event steps once: on the configured AuroraChat if it runs, else on the first AuroraChat.
  const eventsOn = systems.find((s) => s.kind === 'aurora' && s.writeDelayMs === undefined) ?? systems.find((s) => s.kind === 'aurora');
  if (eventsOn) eventsOn.events = EVENT_ROUNDS > 0;
  return systems;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface StepResult {
  rate: number;
  sent: number;
  acked: number;
  errors: Record<string, number>;
  expected: number;
  deliveries: number;
  disconnected: number;
  secs: number;
  hist: LatencyHistogram;
  ackHist: LatencyHistogram;
  serverCpuUs: number;
  otherCpuUs: number;
  redisCpuUs: number;
  generatorCpuUs: number;
}

const ms = (us: number) => us / 1000;
const p = (h: LatencyHistogram, q: number) => ms(h.percentile(q));
const passed = (s: StepResult) =>
  s.acked === s.sent && s.deliveries >= s.expected && s.disconnected === 0 && p(s.hist, 99) < P99_LIMIT_MS;

function describe(s: StepResult): string {
  const errs = Object.entries(s.errors).map(([k, v]) => `${k}=${v}`).join(' ');
  return (
    `${s.rate} msg/s: ${s.deliveries}/${s.expected} deliveries in ${s.secs.toFixed(1)} s (${Math.round(s.deliveries / s.secs)}/s), ` +
    `p50 ${p(s.hist, 50).toFixed(1)} p99 ${p(s.hist, 99).toFixed(1)} p999 ${p(s.hist, 99.9).toFixed(1)} max ${ms(s.hist.maxUs).toFixed(0)} ms, ` +
    `ack p50 ${p(s.ackHist, 50).toFixed(1)} ms, server ${(s.serverCpuUs / Math.max(1, s.deliveries)).toFixed(2)} µs/delivery, ` +
    `redis ${(s.redisCpuUs / Math.max(1, s.deliveries)).toFixed(2)}, generators ${(s.generatorCpuUs / Math.max(1, s.deliveries)).toFixed(2)}` +
    `${s.acked < s.sent ? `, acked ${s.acked}/${s.sent}` : ''}${errs ? `, errors ${errs}` : ''}${s.disconnected ? `, ${s.disconnected} members disconnected` : ''}`
  );
}

async function redisPid(client: Redis): Promise<number> {
  const info = await client.info('server');
  return Number(/process_id:(\d+)/.exec(info)![1]);
}

interface SystemResult {
  system: System;
  fixed?: StepResult;
  sweep: StepResult[];
  maxRate: number;
  ingestCpuUsPerMessage?: number;
  /** AuroraChat: the same rate as edit and react events (fanout-events.ts). */
  events?: EventComparison;
  failure?: string;
}

/** Runs one system end to end: servers, generators, warm-up, fixed rate, sweep. */
async function runSystem(system: System, redis: TestRedis, log: (l: string) => void): Promise<SystemResult> {
  const { kind, label, slug } = system;
  const result: SystemResult = { system, sweep: [], maxRate: 0 };
  const admin = redis.client();
  const rpid = await redisPid(admin);
  await admin.flushall();
  const servers: ServerProc[] = [];
  const others: ServerProc[] = []; // AuroraChat's ingestion worker
  const gens: GeneratorHandle[] = [];
  const tmp = tempDir('aurora-fanout-');
  try {
    const chatVars = (i: number) =>
      chatEnv(redis.url, `fanout-${i}`, {
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
        RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
        MAX_FRAMES_PER_SEC: '10000',
        INGEST_MAX_BACKLOG: '100000000',
        MAX_CONNECTIONS: '100000',
        ...(system.writeDelayMs !== undefined ? { WRITE_DELAY_MS: String(system.writeDelayMs) } : {}),
        ...(system.writeMaxFrames !== undefined ? { WRITE_MAX_FRAMES: String(system.writeMaxFrames) } : {}),
      });
    const workerVars = { REDIS_URL: redis.url, SQLITE_PATH: tmp.dbPath, LOG_LEVEL: 'warn', NODE_ENV: 'production', JWT_SECRET };
    for (let i = 0; i < REPLICAS; i++) {
      if (kind !== 'aurora') servers.push(await startAnchor(kind, redis.url, JWT_SECRET, profArgs(`${slug}-${i}`)));
      else if (PROFILE_DIR) {
        servers.push(await startNode('services/chat/main.ts', chatVars(i), (port) => `ws://127.0.0.1:${port}/ws`, '/readyz', profArgs(`${slug}-${i}`)));
      } else {
        const s = await startService('chat', chatVars(i), { waitReady: true });
        servers.push({ proc: s.proc, url: `ws://127.0.0.1:${s.port}/ws`, stop: async () => void (await s.stop('SIGKILL')) });
      }
    }
    if (kind === 'aurora') {
      if (PROFILE_DIR) others.push(await startNode('services/ingestion/main.ts', workerVars, () => '', '/healthz', profArgs('ingestion')));
      else {
        const w = await startService('ingestion', workerVars);
        others.push({ proc: w.proc, url: '', stop: async () => void (await w.stop('SIGKILL')) });
      }
    }

    // The plan: rooms of ROOM_SIZES receivers, receivers round-robin over the generators and,
    // within each generator, over the replicas (so every generator talks to every replica);
    // each sender joins every room (it must be a member to send) and sends to them
    // in turn.
    const rooms = ROOM_SIZES.map((_, r) => `fan${r}`);
    const roomSize = new Map(rooms.map((room, r) => [room, ROOM_SIZES[r]! + SENDERS]));
    const receivers: ClientPlan[][] = Array.from({ length: GENERATORS }, () => []);
    const senders: ClientPlan[][] = Array.from({ length: GENERATORS }, () => []);
    let n = 0;
    ROOM_SIZES.forEach((size, r) => {
      for (let i = 0; i < size; i++, n++) receivers[n % GENERATORS]!.push({ user: `r${n}`, url: servers[Math.floor(n / GENERATORS) % REPLICAS]!.url, rooms: [rooms[r]!] });
    });
    for (let j = 0; j < SENDERS; j++) senders[j % GENERATORS]!.push({ user: `s${j}`, url: servers[Math.floor(j / GENERATORS) % REPLICAS]!.url, rooms });

    const t0 = Date.now();
    for (let g = 0; g < GENERATORS; g++) gens.push(GeneratorHandle.spawn(profArgs(`generator-${slug}-${g}`)));
    const eventTargets = system.events;
    await Promise.all(gens.map((g, i) => g.setup({ target: kind, secret: JWT_SECRET, receivers: receivers[i]!, senders: senders[i]!, origin: 'http://app.test', eventTargets })));
    log(`${label}: ${n + SENDERS} members connected and joined over ${REPLICAS} servers in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await sleep(1000); // let join-time traffic (presence, history) settle

    let stepNo = 0;
    const measure = async (rate: number, secs: number, change?: ChangeKind): Promise<StepResult> => {
      const step = ++stepNo;
      const cpu = () => ({
        server: servers.reduce((a, s) => a + cpuMs(s.proc.pid!), 0),
        other: others.reduce((a, s) => a + cpuMs(s.proc.pid!), 0),
        redis: cpuMs(rpid),
        gen: gens.reduce((a, g) => a + cpuMs(g.proc.pid!), 0),
      });
      const c0 = cpu();
      const start = performance.now();
      const startUs = Number(process.hrtime.bigint() / 1000n);
      const sent = await Promise.all(
        gens.map((g, i) => g.run({ step, rate: (rate * senders[i]!.length) / SENDERS, durationMs: secs * 1000, payloadBytes: PAYLOAD, phase: i / GENERATORS, ...(change ? { change } : {}) })),
      );
      const ackedByRoom = new Map<string, number>();
      for (const s of sent) for (const [room, k] of Object.entries(s.ackedByRoom)) ackedByRoom.set(room, (ackedByRoom.get(room) ?? 0) + k);
      const expected = [...ackedByRoom].reduce((a, [room, k]) => a + k * roomSize.get(room)!, 0);
      // Drain: until every expected delivery arrived, or no progress for 2 s (bounded).
      const count = async () => (await Promise.all(gens.map((g) => g.count(step)))).reduce((a, b) => a + b, 0);
      let last = -1;
      let lastProgress = performance.now();
      let end = performance.now();
      for (;;) {
        const got = await count();
        if (got !== last) {
          last = got;
          lastProgress = end = performance.now();
        }
        if (got >= expected || performance.now() - lastProgress > 2000 || performance.now() - start > (secs + 30) * 1000) break;
        await sleep(25);
      }
      const c1 = cpu();
      if (PROFILE_DIR) {
        // The measured windows on the profiles' clock (V8 profile timestamps are CLOCK_MONOTONIC µs).
        const w = { system: slug, step, rate, startUs, endUs: startUs + Math.round((end - start) * 1000) };
        appendFileSync(join(PROFILE_DIR, 'windows.jsonl'), `${JSON.stringify(w)}\n`);
      }
      const stats = await Promise.all(gens.map((g) => g.stats(step)));
      const hist = new LatencyHistogram();
      for (const s of stats) hist.merge(LatencyHistogram.fromSparse(s.hist));
      const ackHist = new LatencyHistogram();
      for (const s of sent) ackHist.merge(LatencyHistogram.fromSparse(s.ackHist));
      const errors: Record<string, number> = {};
      for (const s of sent) for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
      return {
        rate,
        sent: sent.reduce((a, s) => a + s.sent, 0),
        acked: sent.reduce((a, s) => a + s.acked, 0),
        errors,
        expected,
        deliveries: stats.reduce((a, s) => a + s.deliveries, 0),
        disconnected: stats.reduce((a, s) => a + s.disconnected, 0),
        secs: (end - start) / 1000,
        hist,
        ackHist,
        serverCpuUs: (c1.server - c0.server) * 1000,
        otherCpuUs: (c1.other - c0.other) * 1000,
        redisCpuUs: (c1.redis - c0.redis) * 1000,
        generatorCpuUs: (c1.gen - c0.gen) * 1000,
      };
    };

    const warm = await measure(Math.min(20, FIXED_RATE), 2);
    log(`${label} warm-up ${describe(warm)}`);
    const fixed = await measure(FIXED_RATE, FIXED_SECS);
    result.fixed = fixed;
    log(`${label} fixed ${describe(fixed)}`);
    if (kind === 'aurora') {
      result.ingestCpuUsPerMessage = fixed.otherCpuUs / Math.max(1, fixed.acked);
      log(
        `${label} ingestion worker ${result.ingestCpuUsPerMessage.toFixed(1)} µs CPU per message, ` +
          `${((fixed.otherCpuUs / 1e6 / fixed.secs) * 100).toFixed(1)} % of a core (not in fan-out CPU)`,
      );
      if (system.events) result.events = await compareEvents(measure, FIXED_RATE, log, (s) => describe(s as StepResult));
    }
    for (const rate of SWEEP) {
      const s = await measure(rate, STEP_SECS);
      result.sweep.push(s);
      log(`${label} sweep ${describe(s)} -> ${passed(s) ? 'holds' : 'FAILS'}`);
      if (!passed(s)) break;
      result.maxRate = rate;
    }
  } catch (err) {
    result.failure = err instanceof Error ? err.message : String(err);
    log(`${label} failed: ${result.failure}`);
  } finally {
    await Promise.all(gens.map((g) => g.close().catch(() => g.kill())));
    await Promise.all([...servers, ...others].map((s) => s.stop()));
    admin.disconnect();
    tmp.cleanup();
  }
  return result;
}

/** The anchors a system's figures are divided by: Socket.IO and the bare ws floor of the same run. */
interface Anchors {
  socketio?: SystemResult;
  floor?: SystemResult;
}

const cpuPerDelivery = (f: StepResult) => f.serverCpuUs / Math.max(1, f.deliveries);
/** Issue 21: AuroraChat's server CPU per delivery at 40 msg/s at most this times Socket.IO's. */
const CPU_TARGET_X_SOCKETIO = 0.5;

function rowsFor(r: SystemResult, anchors: Anchors): BenchRow[] {
  const name = r.system.label;
  const isAurora = r.system.kind === 'aurora';
  const usable = (x: SystemResult | undefined) => (x && x !== r && !x.failure ? x : undefined);
  const a = usable(anchors.socketio);
  const floor = usable(anchors.floor);
  const rows: BenchRow[] = [];
  if (r.failure && !r.fixed) return [{ metric: `${name}: run failed`, value: NaN, unit: '', note: r.failure.slice(0, 120) }];
  const f = r.fixed!;
  const af = a?.fixed;
  const ratio = (v: number, av: number | undefined) => (av && Number.isFinite(av) && av > 0 ? { of: 'Socket.IO', value: v / av } : undefined);
  const offered = FIXED_RATE * [...ROOM_SIZES].reduce((x, y) => x + y + SENDERS, 0) / ROOM_SIZES.length;
  const cpu = cpuPerDelivery(f);
  const aCpu = af ? cpuPerDelivery(af) : undefined;
  const floorCpu = floor?.fixed ? cpuPerDelivery(floor.fixed) : undefined;
  const lost = f.expected - f.deliveries;
  const at = `@ ${FIXED_RATE} msg/s`;
  rows.push(
    {
      metric: `${name}: deliveries/s ${at}`,
      value: f.deliveries / f.secs,
      unit: 'deliveries/s',
      ratio: ratio(f.deliveries / f.secs, af && af.deliveries / af.secs),
      note: `offered ~${Math.round(offered)}/s${lost > 0 ? `; ${lost} deliveries MISSING` : ''}${f.acked < f.sent ? `; ${f.sent - f.acked} sends not acked` : ''}`,
    },
    { metric: `${name}: latency p50 ${at}`, value: p(f.hist, 50), unit: 'ms', ratio: ratio(p(f.hist, 50), af && p(af.hist, 50)) },
    {
      metric: `${name}: latency p99 ${at}`,
      value: p(f.hist, 99),
      unit: 'ms',
      ratio: ratio(p(f.hist, 99), af && p(af.hist, 99)),
      ...(isAurora ? { target: { op: '<' as const, value: 50 } } : {}),
    },
    { metric: `${name}: latency p999 ${at}`, value: p(f.hist, 99.9), unit: 'ms', ratio: ratio(p(f.hist, 99.9), af && p(af.hist, 99.9)) },
    {
      metric: `${name}: server CPU per delivery ${at}`,
      value: cpu,
      unit: 'µs',
      ratio: ratio(cpu, aCpu),
      ...(isAurora && aCpu ? { target: { op: '<' as const, value: CPU_TARGET_X_SOCKETIO * aCpu } } : {}),
      note:
        `${isAurora && aCpu ? `target ${CPU_TARGET_X_SOCKETIO} x Socket.IO; ` : ''}${floorCpu && r !== anchors.floor ? `${(cpu / floorCpu).toFixed(2)} x the ws floor; ` : ''}` +
        `${REPLICAS} processes summed; redis ${(f.redisCpuUs / Math.max(1, f.deliveries)).toFixed(2)}, generators ${(f.generatorCpuUs / Math.max(1, f.deliveries)).toFixed(2)} µs/delivery`,
    },
  );
  if (isAurora && r.events) rows.push(...eventRows(name, FIXED_RATE, r.events));
  if (isAurora && r.ingestCpuUsPerMessage !== undefined) {
    rows.push({
      metric: `${name}: ingestion worker CPU per message ${at}`,
      value: r.ingestCpuUsPerMessage,
      unit: 'µs',
      note: `persist path, not in fan-out CPU; ${((f.otherCpuUs / 1e6 / f.secs) * 100).toFixed(1)} % of a core incl. idle polling`,
    });
  }
  const lastStep = r.sweep[r.sweep.length - 1];
  const why = !lastStep
    ? 'no sweep'
    : passed(lastStep)
      ? `held every step up to ${lastStep.rate}`
      : `failed at ${lastStep.rate}: p99 ${p(lastStep.hist, 99).toFixed(0)} ms, ${lastStep.deliveries}/${lastStep.expected} delivered`;
  const aMax = a && a.sweep.length > 0 ? a.maxRate : undefined;
  rows.push({
    metric: `${name}: highest rate with p99 < ${P99_LIMIT_MS} ms, all delivered`,
    value: r.maxRate,
    unit: 'msg/s',
    ratio: aMax ? { of: 'Socket.IO', value: r.maxRate / aMax } : undefined,
    ...(isAurora && aMax ? { target: { op: '>=' as const, value: 2 * aMax } } : {}),
    note: `${why}${r.failure ? `; run failed: ${r.failure.slice(0, 80)}` : ''}`,
  });
  return rows;
}

/** Per sweep step, each system's CPU per delivery and p99: where batching wins and what it costs. */
function sweepRows(results: SystemResult[]): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const rate of SWEEP) {
    for (const r of results) {
      const step = r.sweep.find((s) => s.rate === rate);
      if (!step) continue;
      rows.push({
        metric: `sweep ${rate} msg/s: ${r.system.label}`,
        value: cpuPerDelivery(step),
        unit: 'µs/delivery',
        note: `p50 ${p(step.hist, 50).toFixed(1)} p99 ${p(step.hist, 99).toFixed(1)} ms${passed(step) ? '' : ' (step failed)'}`,
      });
    }
  }
  return rows;
}

export const fanoutBenchmark: Benchmark = {
  name: 'fanout',
  description: `${ROOM_SIZES.join('+')} receivers + ${SENDERS} senders over ${REPLICAS} replicas: ${SYSTEMS_SPEC.join(' vs ')}`,
  async run(log) {
    const systems = parseSystems(SYSTEMS_SPEC);
    if (SWEEP.some((r) => !Number.isFinite(r) || r <= 0)) throw new Error('BENCH_SWEEP must be a comma-separated list of positive rates');
    if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
    const redis = await startRedis();
    const results: SystemResult[] = [];
    try {
      for (const system of systems) results.push(await runSystem(system, redis, log));
    } finally {
      await redis.stop();
    }
    const anchors: Anchors = { socketio: results.find((r) => r.system.kind === 'socketio'), floor: results.find((r) => r.system.kind === 'wsfloor') };
    const order: TargetKind[] = ['aurora', 'socketio', 'wsfloor', 'seed'];
    return [
      ...order.flatMap((k) => results.filter((r) => r.system.kind === k).flatMap((r) => rowsFor(r, anchors))),
      ...sweepRows(results),
    ];
  },
};
