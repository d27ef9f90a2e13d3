// The measured phases of the connections benchmark (bench/connections.bench.ts): connect and
// join every connection (with the RSS it costs each replica), an idle window (heartbeat CPU at
// rest), and a traffic window (one sender per room, delivery latency from stamped texts).
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { waitFor } from '../../test/helpers/ports.js';
import type { RunningService } from '../../test/helpers/service.js';
import type { ConnSpec, HolderStats } from '../capacity/holder.js';
import type { HolderPool } from '../capacity/holders.js';
import { cpuWindow, settledRss } from '../capacity/measure.js';
import type { LatencyHistogram } from '../load/histogram.js';

/** NODE_OPTIONS for a replica: SIGUSR2 forces a full GC (bench/capacity/gc-on-signal.mjs). */
export const GC_ON_SIGNAL = `--expose-gc --import ${fileURLToPath(new URL('../capacity/gc-on-signal.mjs', import.meta.url))}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Settled RSS of several processes at once, KiB; with `gc`, after a forced full GC (SIGUSR2). */
async function rssOf(pids: number[], gc = false): Promise<number[]> {
  if (gc) {
    for (const pid of pids) process.kill(pid, 'SIGUSR2');
    await sleep(500);
  }
  return Promise.all(pids.map(async (pid) => (await settledRss(pid)).kib));
}

/** Waits until the holders' received-frame count stops moving (the joins' presence events delivered). */
export async function quiet(pool: HolderPool, timeoutMs: number, counter: (s: HolderStats) => number = (s) => s.frames): Promise<HolderStats> {
  let last = -1;
  let stats: HolderStats | undefined;
  await waitFor(
    async () => {
      stats = await pool.stats();
      const still = counter(stats) === last;
      last = counter(stats);
      return still;
    },
    { timeoutMs, intervalMs: 1000, what: 'the holders to stop receiving frames' },
  );
  return stats!;
}

export interface ConnectResult {
  opened: number;
  failed: number;
  firstError?: string;
  /** Handshake + JWT + join of every connection (warm-up and main batch), s. */
  connectSecs: number;
  /** From the main batch's start until the holders stopped receiving frames, s. */
  quietSecs: number;
  /** Frames received while joining (presence events, mostly). */
  stormFrames: number;
  /** Per replica: connections added after the baseline, RSS KiB per connection, and after a full GC. */
  added: number[];
  kibPerConn: number[];
  kibPerConnGc: number[];
  /** Replica RSS at the baseline (warm-up open, full GC, settled), KiB. */
  baseKiB: number[];
  /** The holders' (client side) RSS per connection, KiB. */
  clientKibPerConn: number;
  /** [holder, index in it] of every connection. */
  placement: [number, number][];
  /** CPU of every measured process from the main batch's start until quiet. */
  cpu: CpuResult;
}

/**
 * Opens `warm` connections, reads a baseline (full GC, settled RSS), opens `rest` and reads each
 * replica's RSS growth per connection it took. The warm-up keeps first-use costs (JIT, lazily
 * built objects, Redis script loads) out of the per-connection figure.
 */
export async function connectAll(
  pool: HolderPool,
  replicas: RunningService[],
  warm: ConnSpec[],
  rest: ConnSpec[],
  concurrency: number,
  pids: Record<string, number>,
): Promise<ConnectResult> {
  const replicaPids = replicas.map((r) => r.proc.pid!);
  const holderPids = pool.holders.map((h) => h.proc.pid!);
  const t0 = performance.now();
  const w = await pool.open('aurora', warm, { concurrency });
  const warmSecs = (performance.now() - t0) / 1000;
  await quiet(pool, 60_000);
  const [baseKiB, clientBase] = await Promise.all([rssOf(replicaPids, true), rssOf(holderPids)]);
  const t1 = performance.now();
  const cpu = cpuWindow(pids);
  const r = await pool.open('aurora', rest, { concurrency });
  const restSecs = (performance.now() - t1) / 1000;
  const storm = await quiet(pool, 300_000);
  const quietSecs = (performance.now() - t1) / 1000;
  const stormCpu = cpu.end();
  const after = await rssOf(replicaPids);
  const [afterGc, clientAfter] = await Promise.all([rssOf(replicaPids, true), rssOf(holderPids)]);
  const added = replicas.map((rep) => rest.filter((c) => c.url === rep.baseUrl).length);
  const per = (kib: number[]) => kib.map((k, i) => (k - baseKiB[i]!) / Math.max(1, added[i]!));
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const firstError = w.firstError ?? r.firstError;
  return {
    opened: w.opened + r.opened,
    failed: w.failed + r.failed,
    ...(firstError ? { firstError } : {}),
    connectSecs: warmSecs + restSecs,
    quietSecs,
    stormFrames: storm.frames,
    added,
    kibPerConn: per(after),
    kibPerConnGc: per(afterGc),
    baseKiB,
    clientKibPerConn: (sum(clientAfter) - sum(clientBase)) / Math.max(1, rest.length),
    placement: [...w.placement, ...r.placement],
    cpu: stormCpu,
  };
}

export interface CpuResult {
  wallMs: number;
  /** CPU ms and % of one core by name (r0.., redis, worker, h0..). */
  cpu: Record<string, { ms: number; pct: number }>;
}

/** Names -> pids of everything measured: replicas r<i>, redis, the ingestion worker, holders h<i>. */
export function measuredPids(replicas: RunningService[], redisPid: number, worker: RunningService, pool: HolderPool): Record<string, number> {
  return {
    ...Object.fromEntries(replicas.map((r, i) => [`r${i}`, r.proc.pid!])),
    redis: redisPid,
    worker: worker.proc.pid!,
    ...Object.fromEntries(pool.holders.map((h, i) => [`h${i}`, h.proc.pid!])),
  };
}

/** CPU of every measured process over `secs` with nothing asked of them. */
export async function idleWindow(pids: Record<string, number>, secs: number): Promise<CpuResult> {
  const w = cpuWindow(pids);
  await sleep(secs * 1000);
  return w.end();
}

export interface TrafficResult extends CpuResult {
  /** Per second over the window. */
  deliveries: number;
  acked: number;
  errors: Record<string, number>;
  dropped: number;
  latency: LatencyHistogram;
}

const WARM_STEP = 1;
const MEASURED_STEP = 2;

/**
 * Runs the senders for a warm-up (its deliveries stamped with step 1) and `secs` measured (step
 * 2), then stops them and waits for the last deliveries: the latency histogram holds every
 * delivery of a message sent inside the window.
 */
export async function trafficWindow(
  pool: HolderPool,
  pids: Record<string, number>,
  senders: { conn: number; rate: number }[][],
  text: string,
  secs: number,
): Promise<TrafficResult> {
  const start = (stamp: number) => Promise.all(pool.holders.map((h, i) => h.request({ cmd: 'traffic', senders: senders[i]!, text, stamp })));
  await start(WARM_STEP);
  await sleep(2000);
  await start(MEASURED_STEP);
  const s0 = await pool.stats();
  const w = cpuWindow(pids);
  await sleep(secs * 1000);
  const s1 = await pool.stats();
  const { wallMs, cpu } = w.end();
  await pool.all({ cmd: 'stop' });
  await quiet(pool, 30_000, (s) => s.messages);
  const perSec = (d: number) => (d * 1000) / wallMs;
  const errors = Object.fromEntries(
    Object.entries(s1.errors)
      .map(([k, v]) => [k, v - (s0.errors[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );
  return {
    wallMs,
    cpu,
    deliveries: perSec(s1.messages - s0.messages),
    acked: perSec(s1.acks - s0.acks),
    errors,
    dropped: s1.dropped - s0.dropped,
    latency: await pool.latency(MEASURED_STEP),
  };
}
