// The connections benchmark's rows, and its verdict: the largest count held and what runs out
// first. With 2 replicas that is the fd limit (2 x usable sockets, a fact of the process limit);
// past it (more replicas) the next limit is the smaller of two linear projections from the run:
// CPU (the traffic phase's share of the box's cores, at the same per-room rate) and memory
// (MemAvailable at the full total over what a connection costs on both sides).
import type { BenchRow } from '../lib.js';
import type { ConnectResult, CpuResult, TrafficResult } from './phases.js';

export interface RunFacts {
  total: number;
  roomSize: number;
  roomRate: number;
  rooms: number;
  replicas: number;
  holders: number;
  sources: number;
  hardNofile: number;
  fdReserve: number;
  heartbeatMs: number;
  cores: number;
  /** Per replica: open fds before any connection, and at the full total. */
  idleFds: number[];
  fds: number[];
  /** aurora_chat_connections summed over the replicas after the traffic window. */
  held: number;
  droppedWhileIdle: number;
  mem: { availableKiB: number; totalKiB: number };
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
/** The processes of one kind in a CPU window: `r` -> r0, r1, ... (not `redis`), `redis` -> redis. */
const ofKind = (cpu: CpuResult['cpu'], kind: string) => Object.entries(cpu).filter(([k]) => new RegExp(`^${kind}\\d*$`).test(k)).map(([, v]) => v);
const pctOf = (cpu: CpuResult['cpu'], kind: string) => sum(ofKind(cpu, kind).map((v) => v.pct));
const msOf = (cpu: CpuResult['cpu'], kind: string) => sum(ofKind(cpu, kind).map((v) => v.ms));
const per = (cpu: CpuResult['cpu'], kind: string) =>
  ofKind(cpu, kind)
    .map((v) => v.pct.toFixed(1))
    .join(' / ');
const gib = (kib: number) => kib / 1024 / 1024;
const fmtErrors = (e: Record<string, number>) => Object.entries(e).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

export function connectionRows(
  f: RunFacts,
  conn: ConnectResult,
  base: CpuResult,
  idle: CpuResult,
  traffic: TrafficResult,
): { rows: BenchRow[]; verdict: string } {
  const addedTotal = Math.max(1, sum(conn.added));
  const weighted = (xs: number[]) => sum(xs.map((k, i) => k * conn.added[i]!)) / addedTotal;
  const serverKiB = weighted(conn.kibPerConn);
  const serverKiBGc = weighted(conn.kibPerConnGc);
  const usable = f.hardNofile - f.fdReserve;
  const fdsBesides = Math.max(...f.idleFds);

  // At rest: the replicas' CPU net of what they spend with no connection, per connection per ping round.
  const restMs = msOf(idle.cpu, 'r');
  const baseMsSameWindow = (msOf(base.cpu, 'r') / base.wallMs) * idle.wallMs;
  const rounds = idle.wallMs / f.heartbeatMs;
  const usPerConnPerBeat = (Math.max(0, restMs - baseMsSameWindow) * 1000) / Math.max(1, f.held) / rounds;

  const expected = f.rooms * f.roomRate * f.roomSize;
  const deliveredRatio = traffic.deliveries / expected;
  const replicaMs = msOf(traffic.cpu, 'r');
  const boxPct = sum(Object.values(traffic.cpu).map((c) => c.pct));
  const ms = (us: number) => us / 1000;

  // What runs out first: fds with 2 replicas; past them, the nearer of CPU and memory.
  const fdCeiling2 = 2 * usable;
  const cpuBusy = boxPct / (f.cores * 100);
  const cpuShort = deliveredRatio < 0.95;
  const cpuLimit = cpuShort ? f.held * deliveredRatio : f.held / Math.max(cpuBusy, 1e-9);
  const meanBaseKiB = sum(conn.baseKiB) / conn.baseKiB.length;
  const memPerConn = serverKiB + Math.max(0, conn.clientKibPerConn) + meanBaseKiB / usable;
  const memLimit = f.held + f.mem.availableKiB / memPerConn;
  const next = cpuLimit <= memLimit ? 'CPU' : 'memory';
  const nextLimit = Math.min(cpuLimit, memLimit);
  const fdFirst = fdCeiling2 < f.total;
  const verdict =
    `largest count held: ${f.held} connections over ${f.replicas} replicas (${conn.failed} failed to open, ${f.droppedWhileIdle} dropped while idle, ${traffic.dropped} during traffic). ` +
    `What runs out first: ${fdFirst ? `file descriptors — with 2 replicas at 2 x ${usable} = ${fdCeiling2} connections (RLIMIT_NOFILE hard ${f.hardNofile}, not raisable here)` : `not the fds (2 x ${usable} = ${fdCeiling2} >= ${f.total})`}; ` +
    `then ${next} at ~${Math.round(nextLimit)} connections (CPU: the traffic phase used ${boxPct.toFixed(0)} % of ${f.cores} cores` +
    `${cpuShort ? `, deliveries only ${(deliveredRatio * 100).toFixed(0)} % of expected: already short` : ''} -> ~${Math.round(cpuLimit)}; ` +
    `memory: MemAvailable ${gib(f.mem.availableKiB).toFixed(1)} of ${gib(f.mem.totalKiB).toFixed(1)} GiB at the full total, ${memPerConn.toFixed(1)} KiB per connection both sides -> ~${Math.round(memLimit)})`;

  const rows: BenchRow[] = [
    {
      metric: `time to connect and join ${conn.opened} (handshake + JWT + join)`,
      value: conn.connectSecs,
      unit: 's',
      note:
        `${Math.round(conn.opened / conn.connectSecs)} connections/s; presence storm quiet ${conn.quietSecs.toFixed(0)} s after the main batch began (${conn.stormFrames} frames); ` +
        `CPU meanwhile: replicas ${pctOf(conn.cpu.cpu, 'r').toFixed(0)} %, redis ${pctOf(conn.cpu.cpu, 'redis').toFixed(0)} %, holders ${pctOf(conn.cpu.cpu, 'h').toFixed(0)} %; ` +
        `${f.replicas} replicas (fd limit ${f.hardNofile}: <= ${usable} sockets each), ${f.holders} holders, ${f.sources} source addresses; failed ${conn.failed}`,
    },
    {
      metric: 'RSS per connection, replica',
      value: serverKiB,
      unit: 'KiB',
      note: `weighted mean; by replica ${conn.kibPerConn.map((k) => k.toFixed(2)).join(' / ')}; baseline ${conn.baseKiB.map((k) => Math.round(k / 1024)).join(' / ')} MiB after 1 % of the rooms and a full GC`,
    },
    {
      metric: '  after a forced full GC',
      value: serverKiBGc,
      unit: 'KiB',
      note: `client side (holders) ${conn.clientKibPerConn.toFixed(2)} KiB per connection`,
    },
    {
      metric: `CPU at rest, all replicas (${f.held} idle connections)`,
      value: pctOf(idle.cpu, 'r'),
      unit: '% of a core',
      ratio: { of: 'no connections', value: pctOf(idle.cpu, 'r') / Math.max(1e-9, pctOf(base.cpu, 'r')) },
      note: `${per(idle.cpu, 'r')} %; ${(idle.wallMs / 1000).toFixed(0)} s = ${rounds.toFixed(1)} pings at HEARTBEAT_MS ${f.heartbeatMs}; redis ${pctOf(idle.cpu, 'redis').toFixed(1)} %, holders ${pctOf(idle.cpu, 'h').toFixed(1)} %`,
    },
    {
      metric: '  per connection per heartbeat',
      value: usPerConnPerBeat,
      unit: 'µs',
      note:
        `net of the replicas' CPU with no connection (${pctOf(base.cpu, 'r').toFixed(2)} %), so it includes the presence and status refreshes ` +
        `(every PRESENCE_TTL_SEC/3) of the same window: ${((usPerConnPerBeat * rounds) / (idle.wallMs / 1000)).toFixed(2)} µs per connection per second`,
    },
    {
      metric: `traffic: replica CPU, all ${f.replicas}`,
      value: pctOf(traffic.cpu, 'r'),
      unit: '% of a core',
      note: `${per(traffic.cpu, 'r')} %; ${((replicaMs * 1000) / Math.max(1, traffic.deliveries * (traffic.wallMs / 1000))).toFixed(1)} µs per delivery; holders ${pctOf(traffic.cpu, 'h').toFixed(0)} %; all measured ${boxPct.toFixed(0)} % of ${f.cores} cores`,
    },
    {
      metric: 'traffic: Redis CPU',
      value: pctOf(traffic.cpu, 'redis'),
      unit: '% of a core',
      note: `${f.rooms * f.roomRate} msg/s, each published to ${f.replicas} subscribed replicas`,
    },
    {
      metric: 'traffic: ingestion worker CPU',
      value: pctOf(traffic.cpu, 'worker'),
      unit: '% of a core',
      note: 'one worker, SQLite (and the notify group): every message persisted as in production',
    },
    {
      metric: 'traffic: deliveries',
      value: traffic.deliveries,
      unit: 'frames/s',
      ratio: { of: 'expected', value: deliveredRatio },
      note: `expected ${expected} (${f.rooms} rooms x ${f.roomRate} msg/s x ${f.roomSize}); ${Math.round(traffic.acked)} acked msg/s; errors: ${fmtErrors(traffic.errors)}; dropped ${traffic.dropped}`,
    },
    { metric: 'traffic: delivery latency p50', value: ms(traffic.latency.percentile(50)), unit: 'ms', note: `${traffic.latency.count} deliveries, send to receipt (CLOCK_MONOTONIC)` },
    { metric: '  p99', value: ms(traffic.latency.percentile(99)), unit: 'ms', note: `max ${ms(traffic.latency.maxUs).toFixed(1)} ms` },
    {
      metric: 'largest count held',
      value: f.held,
      unit: 'connections',
      note: `aurora_chat_connections after traffic, ${f.replicas} replicas; ${conn.failed} failed to open, ${f.droppedWhileIdle + traffic.dropped} dropped; fds per replica ${f.fds.join(' / ')}`,
    },
    {
      metric: 'fd ceiling with 2 replicas',
      value: fdCeiling2,
      unit: 'connections',
      note: `${fdFirst ? 'runs out first: ' : ''}2 x (RLIMIT_NOFILE ${f.hardNofile} - ${f.fdReserve} reserved; an idle replica holds ${fdsBesides} fds)`,
    },
    {
      metric: `next limit past the fds: ${next}`,
      value: nextLimit,
      unit: 'connections',
      note: `CPU ~${Math.round(cpuLimit)} (traffic phase ${boxPct.toFixed(0)} % of ${f.cores} cores); memory ~${Math.round(memLimit)} (MemAvailable ${gib(f.mem.availableKiB).toFixed(1)} GiB, ${memPerConn.toFixed(1)} KiB/connection both sides)`,
    },
  ];
  return { rows, verdict };
}
