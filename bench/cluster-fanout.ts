// The cluster benchmark's fan-out rig (bench/cluster.bench.ts): two load-generator processes
// (bench/load/generator.ts, open loop, end-to-end latency from stamps) holding one Redis setup's
// members — RECEIVERS per room split over the two chat replicas, SENDERS in every room — and a
// step that sends at a fixed rate and measures the chat servers' CPU and each Redis node's CPU
// and egress (bench/cluster-nodes.ts) over the window, from the first send to the last delivery.
import { JWT_SECRET } from '../test/chat/client.js';
import type { RunningService } from '../test/helpers/service.js';
import { addUse, nodeWindow, type NodeUse, type RedisNode } from './cluster-nodes.js';
import type { FanoutResult } from './cluster-rows.js';
import { LatencyHistogram } from './load/histogram.js';
import { GeneratorHandle, type ClientPlan } from './load/protocol.js';
import { cpuMs } from './lib.js';

const GENERATORS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wsUrl = (s: RunningService) => `ws://127.0.0.1:${s.port}/ws`;

export interface FanoutSizes {
  receivers: number;
  senders: number;
  payload: number;
}

export interface FanoutRig {
  step(rate: number, secs: number): Promise<FanoutResult>;
  close(): Promise<void>;
}

/** Connects and joins every member (setup time logged); the rig's steps then share them. */
export async function fanoutRig(chats: RunningService[], worker: RunningService, nodes: RedisNode[], cluster: boolean, rooms: string[], sizes: FanoutSizes, log: (l: string) => void): Promise<FanoutRig> {
  const gens = Array.from({ length: GENERATORS }, () => GeneratorHandle.spawn());
  const close = () => Promise.all(gens.map((g) => g.close().catch(() => g.kill()))).then(() => undefined);
  try {
    const receivers: ClientPlan[][] = gens.map(() => []);
    const senders: ClientPlan[][] = gens.map(() => []);
    let n = 0;
    // Receivers round-robin over the generators and, within each, over the replicas.
    rooms.forEach((room, r) => {
      for (let i = 0; i < sizes.receivers; i++, n++) receivers[n % GENERATORS]!.push({ user: `r${r}-${i}`, url: wsUrl(chats[Math.floor(n / GENERATORS) % chats.length]!), rooms: [room] });
    });
    for (let j = 0; j < sizes.senders; j++) senders[j % GENERATORS]!.push({ user: `s${j}`, url: wsUrl(chats[Math.floor(j / GENERATORS) % chats.length]!), rooms });
    const t0 = Date.now();
    await Promise.all(gens.map((g, i) => g.setup({ target: 'aurora', secret: JWT_SECRET, receivers: receivers[i]!, senders: senders[i]!, origin: 'http://app.test' })));
    log(`${n + sizes.senders} members joined ${rooms.length} rooms in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await sleep(1000); // join-time traffic (presence, history) settles

    let no = 0;
    const step = async (rate: number, secs: number): Promise<FanoutResult> => {
      const s = ++no;
      const win = await nodeWindow(nodes, cluster);
      const chatPids = chats.map((c) => c.proc.pid!);
      const c0 = chatPids.map(cpuMs);
      const w0 = cpuMs(worker.proc.pid!);
      const start = performance.now();
      const sent = await Promise.all(gens.map((g, i) => g.run({ step: s, rate: (rate * senders[i]!.length) / sizes.senders, durationMs: secs * 1000, payloadBytes: sizes.payload })));
      const acked = sent.reduce((a, x) => a + x.acked, 0);
      // Every member of a room (senders included) receives each of its messages.
      const expected = acked * (sizes.receivers + sizes.senders);
      // Drain: until every expected delivery arrived, or no progress for 2 s (bounded).
      let got = -1;
      let end = performance.now();
      let lastProgress = end;
      for (;;) {
        const now = (await Promise.all(gens.map((g) => g.count(s)))).reduce((a, b) => a + b, 0);
        if (now !== got) [got, lastProgress, end] = [now, performance.now(), performance.now()];
        if (got >= expected || performance.now() - lastProgress > 2000) break;
        await sleep(25);
      }
      const use = await win.end();
      const stats = await Promise.all(gens.map((g) => g.stats(s)));
      const hist = new LatencyHistogram();
      for (const x of stats) hist.merge(LatencyHistogram.fromSparse(x.hist));
      const ackHist = new LatencyHistogram();
      for (const x of sent) ackHist.merge(LatencyHistogram.fromSparse(x.ackHist));
      const errors: Record<string, number> = {};
      for (const x of sent) for (const [k, v] of Object.entries(x.errors)) errors[k] = (errors[k] ?? 0) + v;
      return {
        rate,
        sent: sent.reduce((a, x) => a + x.sent, 0),
        acked,
        errors,
        expected,
        deliveries: stats.reduce((a, x) => a + x.deliveries, 0),
        secs: (end - start) / 1000,
        hist,
        ackHist,
        chatCpuMs: chatPids.reduce((a, pid, i) => a + cpuMs(pid) - c0[i]!, 0),
        workerCpuMs: cpuMs(worker.proc.pid!) - w0,
        nodes: use,
      };
    };
    return { step, close };
  } catch (err) {
    await close();
    throw err;
  }
}

const addErrors = (a: Record<string, number>, b: Record<string, number>) => {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
};

const addUses = (a: NodeUse[], b: NodeUse[]): NodeUse[] => a.map((u, i) => addUse(u, b[i]!));

/** Two steps' results as one (counts, times and bytes summed, latencies merged). */
export function addFanout(a: FanoutResult | undefined, b: FanoutResult): FanoutResult {
  if (!a) return b;
  const hist = new LatencyHistogram();
  hist.merge(a.hist);
  hist.merge(b.hist);
  const ackHist = new LatencyHistogram();
  ackHist.merge(a.ackHist);
  ackHist.merge(b.ackHist);
  return {
    rate: b.rate,
    sent: a.sent + b.sent,
    acked: a.acked + b.acked,
    errors: addErrors(a.errors, b.errors),
    expected: a.expected + b.expected,
    deliveries: a.deliveries + b.deliveries,
    secs: a.secs + b.secs,
    hist,
    ackHist,
    chatCpuMs: a.chatCpuMs + b.chatCpuMs,
    workerCpuMs: a.workerCpuMs + b.workerCpuMs,
    nodes: addUses(a.nodes, b.nodes),
  };
}

/** The same for saturation steps. */
export function addSat<T extends { acks: number; secs: number; errors: Record<string, number>; hist: LatencyHistogram; chatCpuMs: number; nodes: NodeUse[] }>(a: T | undefined, b: T): T {
  if (!a) return b;
  const hist = new LatencyHistogram();
  hist.merge(a.hist);
  hist.merge(b.hist);
  return { ...b, acks: a.acks + b.acks, secs: a.secs + b.secs, errors: addErrors(a.errors, b.errors), hist, chatCpuMs: a.chatCpuMs + b.chatCpuMs, nodes: addUses(a.nodes, b.nodes) };
}
