// The assistant benchmark's second half (bench/assistant.bench.ts): what a `delta` frame costs the
// chat replicas per delivery, against an ordinary `message` frame at the same frame rate, frame
// size and room (the anchor, same run).
//
// Method
// - One room: RECEIVERS raw members (assistant-clients.ts Receivers) round-robin over the replicas,
//   plus ANSWERS askers (TimedClients, also round-robin).
// - Delta step: every asker asks at once; the fake provider streams each a long answer (CHUNKS
//   chunks CHUNK_MS apart, ~3,600 characters in all), which the assistant throttles to one delta
//   per ASSISTANT_DELTA_INTERVAL_MS. Window: from the moment the first asker has the first delta of
//   every answer to the moment every receiver has every final edit. Replica CPU (/proc/<pid>/stat
//   of the replica processes, summed) over the window / delta frames the receivers got in it.
// - Message step: the askers send ordinary messages, open loop on an absolute schedule, at the
//   delta step's observed frame rate (all answers together), for as long as its window, each text as
//   long as a delta's mean text, so the frames are the same size. Window: from the first send to
//   every receiver having every acked message. Replica CPU / messages the receivers got.
// - ROUNDS rounds of both, the order alternating (delta first, then message first, ...) so load
//   drift falls on both; medians of the per-step values, and the median of the per-round ratios.
// - Per answer (at the first asker): deltas/s = (deltas - 1) / (last - first) over the whole answer
//   (not the gap between two: a member on a busy machine reads two in one chunk); bytes per delta
//   frame = payload bytes at the receivers / deltas received.
import { performance } from 'node:perf_hooks';
import { chunk, type FakeOpenAIServer, type ScriptedResponse } from '../test/helpers/fake-openai-server.js';
import type { Receivers, TimedClient } from './assistant-clients.js';
import { cpuMs, median, type BenchRow } from './lib.js';

export interface FanoutSetup {
  fake: FakeOpenAIServer;
  room: string;
  receivers: Receivers;
  askers: TimedClient[];
  replicaPids: number[];
  assistantPid: number;
  redisPid: number;
  answerSecs: number;
  chunkMs: number;
  rounds: number;
  deltaIntervalMs: number;
}

interface Cpu {
  replicas: number;
  assistant: number;
  redis: number;
}

interface Step {
  replicaCpuUs: number;
  assistantCpuUs: number;
  redisCpuUs: number;
  deliveries: number;
  bytes: number;
  secs: number;
}

interface DeltaStep extends Step {
  /** Delta frames of all answers per second (what one member receives). */
  frameRate: number;
  perAnswerRate: number[];
  meanTextChars: number;
  maxFrameBytes: number;
  edits: number;
}

interface MessageStep extends Step {
  rate: number;
  sent: number;
  acked: number;
  errors: string[];
}

const TOTAL_CHARS = 3600; // a long answer that still fits MAX_TEXT_CHARS (4000) without being cut
const perDelivery = (s: Step) => s.replicaCpuUs / Math.max(1, s.deliveries);

function cpuOf(s: FanoutSetup): Cpu {
  return { replicas: s.replicaPids.reduce((a, p) => a + cpuMs(p), 0), assistant: cpuMs(s.assistantPid), redis: cpuMs(s.redisPid) };
}

function step(s: FanoutSetup, c0: Cpu, t0: number, deliveries: number, bytes: number): Step {
  const c1 = cpuOf(s);
  return {
    replicaCpuUs: (c1.replicas - c0.replicas) * 1000,
    assistantCpuUs: (c1.assistant - c0.assistant) * 1000,
    redisCpuUs: (c1.redis - c0.redis) * 1000,
    deliveries,
    bytes,
    secs: (performance.now() - t0) / 1000,
  };
}

function longAnswer(s: FanoutSetup): ScriptedResponse {
  const n = Math.max(2, Math.round((s.answerSecs * 1000) / s.chunkMs));
  const size = Math.max(2, Math.floor(TOTAL_CHARS / n));
  const piece = (i: number) => `${`word${i}`.padEnd(size - 1, 'o').slice(0, size - 1)} `;
  return { chunkDelayMs: s.chunkMs, chunks: [chunk.role(), ...Array.from({ length: n }, (_, i) => chunk.text(piece(i))), chunk.finish('stop')] };
}

async function deltaStep(s: FanoutSetup, tag: string): Promise<DeltaStep> {
  const { askers, receivers, room } = s;
  const probe = askers[0]!;
  probe.forget();
  s.fake.script(...askers.map(() => longAnswer(s)));
  const acks = await Promise.all(askers.map((a, k) => a.send(room, `@assistant please write a long story (${tag}.${k})`)));
  for (const a of acks) if (a.f.type !== 'ack') throw new Error(`question refused: ${JSON.stringify(a.f)}`);
  const timeout = s.answerSecs * 1000 + 30_000;
  const ids = await Promise.all(
    acks.map(async (a) => (await probe.until((t) => t.f.type === 'message' && t.f.cid === `asst-${a.f.id}`, 20_000, 'a placeholder')).f.id as string),
  );
  await Promise.all(ids.map((id) => probe.until((t) => t.f.type === 'delta' && t.f.id === id, 20_000, 'a first delta')));
  const c0 = cpuOf(s);
  const t0 = performance.now();
  const r0 = receivers.snapshot();
  await Promise.all(ids.map((id) => probe.until((t) => t.f.type === 'event' && t.f.kind === 'edit' && t.f.target === id, timeout, 'a final edit')));
  await receivers.when('events', r0.events + ids.length * receivers.size, timeout);
  const base = step(s, c0, t0, receivers.counts.deltas - r0.deltas, receivers.counts.deltaBytes - r0.deltaBytes);

  const deltas = probe.frames.filter((t) => t.f.type === 'delta' && ids.includes(t.f.id));
  const perAnswerRate = ids.map((id) => {
    const at = deltas.filter((t) => t.f.id === id).map((t) => t.at);
    return at.length < 2 ? 0 : ((at.length - 1) * 1000) / (at.at(-1)! - at[0]!);
  });
  return {
    ...base,
    frameRate: deltas.filter((t) => t.at >= t0).length / base.secs,
    perAnswerRate,
    meanTextChars: deltas.reduce((a, t) => a + (t.f.text as string).length, 0) / Math.max(1, deltas.length),
    maxFrameBytes: Math.max(...deltas.map((t) => t.bytes)),
    edits: ids.length,
  };
}

async function messageStep(s: FanoutSetup, rate: number, secs: number, chars: number, tag: string): Promise<MessageStep> {
  const { askers, receivers, room } = s;
  for (const a of askers) a.forget();
  const total = Math.max(1, Math.round(rate * secs));
  const text = (i: number) => `${tag} message ${i} `.padEnd(chars, 'lorem ipsum ').slice(0, chars);
  const m0 = receivers.counts.messages;
  const b0 = receivers.counts.messageBytes;
  const c0 = cpuOf(s);
  const t0 = performance.now();
  const replies: Promise<{ ok: boolean; what: string }>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait)); // pacing, not waiting for an event
    replies.push(askers[i % askers.length]!.send(room, text(i), 20_000).then((t) => ({ ok: t.f.type === 'ack', what: String(t.f.code ?? t.f.type) })));
  }
  const got = await Promise.all(replies);
  const acked = got.filter((g) => g.ok).length;
  await receivers.when('messages', m0 + acked * receivers.size, secs * 1000 + 30_000);
  return {
    ...step(s, c0, t0, receivers.counts.messages - m0, receivers.counts.messageBytes - b0),
    rate,
    sent: total,
    acked,
    errors: got.filter((g) => !g.ok).map((g) => g.what),
  };
}

const describe = (st: Step) =>
  `${st.deliveries} deliveries in ${st.secs.toFixed(1)} s (${Math.round(st.deliveries / st.secs)}/s), ` +
  `${(st.bytes / Math.max(1, st.deliveries)).toFixed(0)} B/frame; replicas ${perDelivery(st).toFixed(2)} µs/delivery, ` +
  `redis ${(st.redisCpuUs / Math.max(1, st.deliveries)).toFixed(2)}, assistant process ${(st.assistantCpuUs / 1e6 / st.secs * 100).toFixed(1)} % of a core`;

export async function deltaFanout(s: FanoutSetup, log: (l: string) => void): Promise<BenchRow[]> {
  const deltaSteps: DeltaStep[] = [];
  const messageSteps: MessageStep[] = [];
  const runDelta = async (r: number) => {
    const d = await deltaStep(s, `r${r}`);
    deltaSteps.push(d);
    log(`round ${r + 1} delta: ${describe(d)}; ${d.frameRate.toFixed(1)} deltas/s of ${d.edits} answers, per answer ${d.perAnswerRate.map((x) => x.toFixed(2)).join(', ')}`);
  };
  const runMessages = async (r: number) => {
    const d = deltaSteps[0]!; // the rate and size every message step matches
    const m = await messageStep(s, d.frameRate, d.secs, Math.round(d.meanTextChars), `r${r}`);
    messageSteps.push(m);
    log(`round ${r + 1} message: ${m.rate.toFixed(1)} msg/s, ${describe(m)}${m.acked < m.sent ? `; acked ${m.acked}/${m.sent} (${m.errors.slice(0, 3).join(' ')})` : ''}`);
  };
  for (let r = 0; r < s.rounds; r++) {
    if (r % 2 === 0 || deltaSteps.length === 0) {
      await runDelta(r);
      await runMessages(r);
    } else {
      await runMessages(r);
      await runDelta(r);
    }
  }
  if (s.receivers.counts.closed > 0) throw new Error(`${s.receivers.counts.closed} receivers were disconnected`);
  const unacked = messageSteps.reduce((a, m) => a + m.sent - m.acked, 0);
  if (unacked > 0) throw new Error(`${unacked} anchor messages were not acked: ${messageSteps.flatMap((m) => m.errors).slice(0, 5).join(' ')}`);

  const msgCpu = median(messageSteps.map(perDelivery));
  const deltaCpu = median(deltaSteps.map(perDelivery));
  const ratio = median(deltaSteps.map((d, i) => perDelivery(d) / perDelivery(messageSteps[i]!)));
  const rates = deltaSteps.flatMap((d) => d.perAnswerRate);
  const deltaBytes = deltaSteps.reduce((a, d) => a + d.bytes, 0) / Math.max(1, deltaSteps.reduce((a, d) => a + d.deliveries, 0));
  const msgBytes = messageSteps.reduce((a, m) => a + m.bytes, 0) / Math.max(1, messageSteps.reduce((a, m) => a + m.deliveries, 0));
  const d0 = deltaSteps[0]!;
  const members = `${s.receivers.size} receivers + ${s.askers.length} askers over ${s.replicaPids.length} replicas`;
  const assistantUsPerDelta = median(deltaSteps.map((d) => d.assistantCpuUs / Math.max(1, d.frameRate * d.secs)));
  const chunksPerDelta = s.deltaIntervalMs / s.chunkMs;
  log(`assistant process: ${assistantUsPerDelta.toFixed(0)} µs CPU per published delta, reading ~${chunksPerDelta.toFixed(0)} provider chunks for each (median; not in the replicas' CPU)`);
  return [
    {
      metric: 'replica CPU per delivered message frame (anchor)',
      value: msgCpu,
      unit: 'µs',
      note: `${d0.frameRate.toFixed(1)} msg/s of ${Math.round(d0.meanTextChars)} chars (a delta's mean), ${members}; median of ${messageSteps.length} steps`,
    },
    {
      metric: 'replica CPU per delivered delta frame',
      value: deltaCpu,
      unit: 'µs',
      ratio: { of: 'message', value: ratio },
      note: `${s.askers.length} answers streaming at once (~${d0.frameRate.toFixed(0)} deltas/s), ${members}; median of per-round ratios; the window holds the answers' final edits too`,
    },
    {
      metric: 'deltas/s per answer (highest)',
      value: Math.max(...rates),
      unit: 'deltas/s',
      target: { op: '<', value: 10.1 },
      note: `ASSISTANT_DELTA_INTERVAL_MS=${s.deltaIntervalMs}: at most 10, measured at a member (+ its receive jitter); ${rates.length} answers, median ${median(rates).toFixed(2)}`,
    },
    {
      metric: 'bytes per delta frame',
      value: deltaBytes,
      unit: 'B',
      note: `the whole answer so far (mean ${Math.round(d0.meanTextChars)} chars, largest frame ${Math.max(...deltaSteps.map((d) => d.maxFrameBytes))} B); the anchor's message frames ${msgBytes.toFixed(0)} B`,
    },
  ];
}
