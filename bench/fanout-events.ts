// Events next to messages in the fan-out benchmark (issue 13: "event fan-out costs the same per
// delivery as a message"). Used by fanout.bench.ts for AuroraChat only — Socket.IO and the
// seed have no events.
//
// Method: same servers, same members, same generators, same rate as the fixed step. Every sender
// posted one message per room at setup (bench/load/generator.ts eventTargets); a step then sends,
// instead of messages, `edit` events (new text of the same length as a message's: the frame
// carries it) or `react` events (👍 on, off, on...: each one a change, a frame without text)
// through the real event script (services/chat/lua/event.lua) to every member. ROUNDS rounds of
// SECS-long steps — message, edit, react, rotated each round so load drift falls on all three —
// and per kind the median CPU µs per delivery of the server processes; the ratio is the median
// of the per-round ratios event / message (paired: one round's steps ran back to back).
import type { LatencyHistogram } from './load/histogram.js';
import type { ChangeKind } from './load/protocol.js';
import { envNumber as env, median, type BenchRow } from './lib.js';

export const EVENT_ROUNDS = env('BENCH_EVENT_ROUNDS', 3, 0);
const EVENT_SECS = env('BENCH_EVENT_SECS', 5);

/** What this module needs of a fan-out step's result (fanout.bench.ts StepResult). */
export interface StepLike {
  sent: number;
  acked: number;
  expected: number;
  deliveries: number;
  serverCpuUs: number;
  hist: LatencyHistogram;
  errors: Record<string, number>;
}

type Kind = 'message' | ChangeKind;
const KINDS: Kind[] = ['message', 'edit', 'react'];

export type EventComparison = Record<Kind, StepLike[]>;

const cpuPerDelivery = (s: StepLike) => s.serverCpuUs / Math.max(1, s.deliveries);
/** Runs the rounds through the fan-out bench's own `measure`. */
export async function compareEvents(
  measure: (rate: number, secs: number, change?: ChangeKind) => Promise<StepLike>,
  rate: number,
  log: (l: string) => void,
  describe: (s: StepLike) => string,
): Promise<EventComparison> {
  const got: EventComparison = { message: [], edit: [], react: [] };
  for (let r = 0; r < EVENT_ROUNDS; r++) {
    for (let i = 0; i < KINDS.length; i++) {
      const kind = KINDS[(i + r) % KINDS.length]!;
      const s = await measure(rate, EVENT_SECS, kind === 'message' ? undefined : kind);
      got[kind].push(s);
      log(`AuroraChat events round ${r + 1} ${kind}: ${describe(s)}`);
    }
  }
  return got;
}

export function eventRows(name: string, rate: number, c: EventComparison): BenchRow[] {
  if (c.message.length === 0) return [];
  const msgCpu = median(c.message.map(cpuPerDelivery));
  const rows: BenchRow[] = [
    {
      metric: `${name}: server CPU per delivery, messages @ ${rate}/s (anchor)`,
      value: msgCpu,
      unit: 'µs',
      note: `median of ${c.message.length} steps of ${EVENT_SECS} s, interleaved with the event steps below`,
    },
  ];
  for (const kind of ['edit', 'react'] as const) {
    const steps = c[kind];
    const lost = steps.reduce((a, s) => a + Math.max(0, s.expected - s.deliveries), 0);
    const errors = steps.flatMap((s) => Object.entries(s.errors).map(([k, v]) => `${k}=${v}`));
    const cpu = median(steps.map(cpuPerDelivery));
    const ratio = median(steps.map((s, i) => cpuPerDelivery(s) / cpuPerDelivery(c.message[i]!)));
    const p99 = median(steps.map((s) => s.hist.percentile(99) / 1000));
    rows.push({
      metric: `${name}: server CPU per delivery, ${kind} events @ ${rate}/s`,
      value: cpu,
      unit: 'µs',
      ratio: { of: 'messages', value: ratio },
      target: { op: '<', value: 1.15 * msgCpu },
      note:
        `median of per-round ratios; target: the same as a message (within 15 %); latency p99 ${p99.toFixed(1)} ms vs ` +
        `${median(c.message.map((s) => s.hist.percentile(99) / 1000)).toFixed(1)} for messages` +
        `${lost > 0 ? `; ${lost} deliveries MISSING` : ''}${errors.length ? `; errors ${errors.join(' ')}` : ''}`,
    });
  }
  return rows;
}
