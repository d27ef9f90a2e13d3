// The cluster benchmark's results and its table rows (bench/cluster.bench.ts): each metric for the
// single redis-server (the anchor) and then for the 3+3 cluster with its ratio to the anchor, so
// a loaded machine still gives comparable pairs; per-master rows say how the load is shared.
import type { LatencyHistogram } from './load/histogram.js';
import { egress, sumUse, type NodeUse, type RedisNode } from './cluster-nodes.js';
import type { BenchRow } from './lib.js';

export interface FanoutResult {
  rate: number;
  sent: number;
  acked: number;
  errors: Record<string, number>;
  expected: number;
  deliveries: number;
  secs: number;
  hist: LatencyHistogram;
  /** Send -> ack, as the senders saw it. */
  ackHist: LatencyHistogram;
  chatCpuMs: number;
  workerCpuMs: number;
  /** In the order of ModeResult.nodes. */
  nodes: NodeUse[];
}

export interface SatResult {
  acks: number;
  secs: number;
  errors: Record<string, number>;
  hist: LatencyHistogram;
  chatCpuMs: number;
  nodes: NodeUse[];
}

export interface ModeResult {
  mode: 'single' | 'cluster';
  nodes?: RedisNode[];
  fanout?: FanoutResult;
  /** A window with every member connected and nobody sending. */
  idle?: { nodes: NodeUse[]; secs: number };
  sat?: SatResult;
  /** Cluster only: saturation with REDIS_ACK_REPLICAS. */
  satAck?: SatResult;
  failure?: string;
}

export interface RowSizes {
  rate: number;
  /** 0 when the step did not run. */
  ackReplicas: number;
  satClients: number;
  satWindow: number;
}

const ms = (h: LatencyHistogram, p: number) => h.percentile(p) / 1000;
const per = (x: number, n: number) => x / Math.max(1, n);
const errs = (e: Record<string, number>) => Object.entries(e).map(([k, v]) => `${k} ${v}`).join(', ');
const num = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
/** Two decimals, and no "-0.00" when the idle rate taken out leaves a little below zero. */
const fix2 = (v: number) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2);
const ratioTo = (of: string, v: number, anchor: number | undefined) =>
  anchor !== undefined && Number.isFinite(anchor) && anchor > 0 && Number.isFinite(v) ? { ratio: { of, value: v / anchor } } : {};

/** "master A 12.1, master B 11.8, … µs" — one figure per node. */
const perNode = (nodes: RedisNode[], uses: NodeUse[], f: (u: NodeUse) => number, unit: string) =>
  `${nodes.map((n, i) => `${n.label} ${num(f(uses[i]!))}`).join(', ')} ${unit}`;

export function clusterRows(single: ModeResult, cluster: ModeResult, sizes: RowSizes, log: (l: string) => void): BenchRow[] {
  const rows: BenchRow[] = [];
  const at = `@ ${sizes.rate} msg/s`;
  const modes = [single, cluster];
  for (const m of modes) if (m.failure) rows.push({ metric: `${m.mode}: run failed`, value: NaN, unit: '', note: m.failure.replace(/\s+/g, ' ').slice(0, 160) });

  // A pair of rows: the single node's value (anchor), then the cluster's with its ratio.
  const pair = (metric: string, unit: string, pick: (m: ModeResult) => number | undefined, note?: (m: ModeResult) => string | undefined) => {
    const a = pick(single);
    for (const m of modes) {
      const v = pick(m);
      if (v === undefined) continue;
      const n = note?.(m);
      rows.push({ metric: `${m.mode}: ${metric}`, value: v, unit, ...(m === cluster ? ratioTo('single', v, a) : {}), ...(n ? { note: n } : {}) });
    }
  };

  // ---- fan-out at a fixed rate ----
  const f = (m: ModeResult) => m.fanout;
  pair(`deliveries/s ${at}`, 'deliveries/s', (m) => f(m) && f(m)!.deliveries / f(m)!.secs, (m) => {
    const r = f(m)!;
    const lost = r.expected - r.deliveries;
    return `${r.deliveries}/${r.expected} delivered${lost > 0 ? `, ${lost} MISSING` : ''}${r.acked < r.sent ? `, ${r.sent - r.acked} sends not acked` : ''}${Object.keys(r.errors).length ? `, errors ${errs(r.errors)}` : ''}`;
  });
  pair(`delivery latency p50 ${at}`, 'ms', (m) => f(m) && ms(f(m)!.hist, 50));
  pair(`delivery latency p99 ${at}`, 'ms', (m) => f(m) && ms(f(m)!.hist, 99));
  pair(`chat servers CPU per delivery ${at}`, 'µs', (m) => f(m) && per(f(m)!.chatCpuMs * 1000, f(m)!.deliveries), () => '2 chat replicas summed');
  pair(`Redis CPU per send ${at}, all nodes`, 'µs', (m) => f(m) && per(sumUse(f(m)!.nodes).cpuMs * 1000, f(m)!.acked), (m) =>
    m.nodes && perNode(m.nodes, f(m)!.nodes, (u) => per(u.cpuMs * 1000, f(m)!.acked), 'µs'),
  );
  pair(`Redis egress per delivery ${at}, all nodes`, 'bytes', (m) => f(m) && per(egress(sumUse(f(m)!.nodes)), f(m)!.deliveries), (m) => {
    const s = sumUse(f(m)!.nodes);
    const d = f(m)!.deliveries;
    return `to clients ${num(per(s.clientOut, d))}, replication ${num(per(s.replOut, d))}, cluster bus ${num(per(s.busOut, d))} bytes per delivery`;
  });
  if (cluster.fanout) {
    const s = sumUse(cluster.fanout.nodes);
    const { acked, secs } = cluster.fanout;
    // Liveness probes and the like publish with nobody sending: their rate over the idle window is taken out.
    const idle = cluster.idle ? sumUse(cluster.idle.nodes) : undefined;
    const idleOf = (x: number) => (idle ? (x / cluster.idle!.secs) * secs : 0);
    const pub = per(s.publishSent - idleOf(idle?.publishSent ?? 0), acked);
    const spub = per(s.publishShardSent - idleOf(idle?.publishShardSent ?? 0), acked);
    rows.push({
      metric: `cluster: cluster-bus publish messages per send ${at}`,
      value: pub + spub,
      unit: 'messages',
      note:
        `PUBLISH ${fix2(pub)} + SPUBLISH ${fix2(spub)}, idle rate taken out (${idle ? `${(idle.publishSent / cluster.idle!.secs).toFixed(1)} + ${(idle.publishShardSent / cluster.idle!.secs).toFixed(1)}/s` : 'not measured'}); ` +
        'classic PUBLISH is broadcast to every other node (5), sharded to the replica of the room\'s master (1)',
    });
  }
  // Per node: what each master carries next to the single node carrying everything.
  const secsF = (m: ModeResult) => f(m)!.secs;
  const anchorF = single.fanout?.nodes[0];
  if (anchorF) {
    rows.push({ metric: `single node: CPU ${at}`, value: (anchorF.cpuMs / 10) / secsF(single), unit: '% of a core' });
    rows.push({ metric: `single node: egress ${at}`, value: egress(anchorF) / 1024 / secsF(single), unit: 'KiB/s', note: `to clients ${num(anchorF.clientOut / 1024 / secsF(single))} KiB/s` });
  }
  if (cluster.fanout && cluster.nodes) {
    const secs = secsF(cluster);
    const groups = nodeGroups(cluster.nodes, cluster.fanout.nodes);
    const idleGroups = cluster.idle && nodeGroups(cluster.nodes, cluster.idle.nodes);
    for (const [gi, g] of groups.entries()) {
      const idle = idleGroups?.[gi];
      const cpuPct = (g.use.cpuMs / 10) / secs;
      rows.push({
        metric: `cluster ${g.label}: CPU ${at}`,
        value: cpuPct,
        unit: '% of a core',
        ...ratioTo('single node', cpuPct, anchorF && (anchorF.cpuMs / 10) / secsF(single)),
      });
      const kib = egress(g.use) / 1024 / secs;
      rows.push({
        metric: `cluster ${g.label}: egress ${at}`,
        value: kib,
        unit: 'KiB/s',
        ...ratioTo('single node', kib, anchorF && egress(anchorF) / 1024 / secsF(single)),
        note:
          `to clients ${num(g.use.clientOut / 1024 / secs)}, replication ${num(g.use.replOut / 1024 / secs)}, cluster bus ${num(g.use.busOut / 1024 / secs)} KiB/s` +
          `${idle ? `; idle ${num(egress(idle.use) / 1024 / cluster.idle!.secs)} KiB/s (bus ${num(idle.use.busOut / 1024 / cluster.idle!.secs)}: gossip)` : ''}`,
      });
    }
  }

  // ---- acked sends at saturation ----
  const sat = `at saturation (${sizes.satClients} x ${sizes.satWindow} in flight)`;
  const s = (m: ModeResult) => m.sat;
  pair(`acked sends/s ${sat}`, 'sends/s', (m) => s(m) && s(m)!.acks / s(m)!.secs, (m) => (Object.keys(s(m)!.errors).length ? `errors ${errs(s(m)!.errors)}` : undefined));
  pair('send -> ack p50 at saturation', 'ms', (m) => s(m) && ms(s(m)!.hist, 50));
  pair('send -> ack p99 at saturation', 'ms', (m) => s(m) && ms(s(m)!.hist, 99));
  pair('chat servers CPU per acked send at saturation', 'µs', (m) => s(m) && per(s(m)!.chatCpuMs * 1000, s(m)!.acks));
  pair('Redis CPU per acked send at saturation, all nodes', 'µs', (m) => s(m) && per(sumUse(s(m)!.nodes).cpuMs * 1000, s(m)!.acks), (m) =>
    m.nodes && perNode(m.nodes, s(m)!.nodes, (u) => per(u.cpuMs * 1000, s(m)!.acks), 'µs'),
  );
  if (cluster.sat && cluster.nodes) {
    const anchor = single.sat && single.sat.nodes[0];
    const anchorPct = anchor && (anchor.cpuMs / 10) / single.sat!.secs;
    for (const g of nodeGroups(cluster.nodes, cluster.sat.nodes)) {
      const pct = (g.use.cpuMs / 10) / cluster.sat.secs;
      rows.push({ metric: `cluster ${g.label}: CPU at saturation`, value: pct, unit: '% of a core', ...ratioTo('single node', pct, anchorPct), note: `${num(per(g.use.cpuMs * 1000, cluster.sat.acks))} µs per acked send` });
    }
  }

  // ---- what WAIT costs an ack ----
  const w = cluster.satAck;
  const c = cluster.sat;
  if (w && sizes.ackReplicas > 0) {
    const name = `cluster + REDIS_ACK_REPLICAS=${sizes.ackReplicas}`;
    rows.push(
      {
        metric: `${name}: acked sends/s at saturation`,
        value: w.acks / w.secs,
        unit: 'sends/s',
        ...ratioTo('cluster', w.acks / w.secs, c && c.acks / c.secs),
        note: `Redis ${num(per(sumUse(w.nodes).cpuMs * 1000, w.acks))} µs CPU per acked send, all nodes; chat servers ${num(per(w.chatCpuMs * 1000, w.acks))} µs${Object.keys(w.errors).length ? `; errors ${errs(w.errors)}` : ''}`,
      },
      { metric: `${name}: send -> ack p50 at saturation`, value: ms(w.hist, 50), unit: 'ms', ...ratioTo('cluster', ms(w.hist, 50), c && ms(c.hist, 50)) },
      { metric: `${name}: send -> ack p99 at saturation`, value: ms(w.hist, 99), unit: 'ms', ...ratioTo('cluster', ms(w.hist, 99), c && ms(c.hist, 99)) },
    );
  } else log('no REDIS_ACK_REPLICAS rows (step skipped or failed)');
  return rows;
}

/** Masters one by one (with their fan-out rooms), the replicas summed. */
function nodeGroups(nodes: RedisNode[], uses: NodeUse[]): { label: string; use: NodeUse }[] {
  const out = nodes.flatMap((n, i) => (n.role === 'master' ? [{ label: `${n.label} (${n.rooms ?? 0} rooms)`, use: uses[i]! }] : []));
  const replicas = uses.filter((_, i) => nodes[i]!.role === 'replica');
  if (replicas.length > 0) out.push({ label: `replicas (${replicas.length}) summed`, use: sumUse(replicas) });
  return out;
}
