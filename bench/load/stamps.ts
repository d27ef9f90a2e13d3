// The load generator's delivery accounting (bench/load/generator.ts): every delivery a member of
// this process receives is counted per step and its end-to-end latency recorded, read straight
// from the frame's bytes — no JSON.parse, no string — because the generator shares the cores
// with the servers it measures.
//
// A sender stamps what it sends with `B<step><sep><hrtime ns><sep>`:
// - a message in its text: `"text":"B<step>.<ns>.` (every target system carries the text);
// - an AuroraChat event (issue 13: edit, react) in its cid, which every event frame echoes —
//   a reaction has no text — with `_` as the separator, the cid alphabet having no dot:
//   `"cid":"B<step>_<ns>_`.
// process.hrtime.bigint() is CLOCK_MONOTONIC, the same clock in every process on the machine.
import { LatencyHistogram } from './histogram.js';

export const hrNow = () => Number(process.hrtime.bigint());

const stepHist: LatencyHistogram[] = [];
const stepCount: number[] = [];

function recordDelivery(step: number, sentNs: number): void {
  let h = stepHist[step];
  if (!h) {
    h = stepHist[step] = new LatencyHistogram();
    stepCount[step] = 0;
  }
  stepCount[step]!++;
  h.record((hrNow() - sentNs) / 1000);
}

/** Deliveries of `step` received so far in this process. */
export const deliveriesOf = (step: number): number => stepCount[step] ?? 0;
/** The latency histogram (µs) of `step`'s deliveries. */
export const histogramOf = (step: number): LatencyHistogram => stepHist[step] ?? new LatencyHistogram();

const TEXT_STAMP = Buffer.from('"text":"B');
const CID_STAMP = Buffer.from('"cid":"B');
const DOT = 46;
const UNDERSCORE = 95;

/** The stamp of a message's text (sep '.') or of an event's cid (sep '_'). */
export const messageStamp = (step: number, ns: number) => `B${step}.${ns}.`;
export const eventStamp = (step: number, ns: number) => `B${step}_${ns}_`;

/** Reads `<step><sep><ns><sep>` at `i` in a frame; records it. Returns false when malformed. */
function readStampBytes(buf: Buffer, i: number, end: number, sep: number): boolean {
  let step = 0;
  let ns = 0;
  let c: number | undefined;
  let digits = 0;
  while ((c = buf[i++]) !== sep) {
    if (c === undefined || c < 48 || c > 57 || i > end) return false;
    step = step * 10 + (c - 48);
    digits++;
  }
  if (digits === 0) return false;
  digits = 0;
  while ((c = buf[i++]) !== sep) {
    if (c === undefined || c < 48 || c > 57 || i > end) return false;
    ns = ns * 10 + (c - 48);
    digits++;
  }
  if (digits === 0) return false;
  recordDelivery(step, ns);
  return true;
}

/** A message's stamp from its text (the socket.io-client sender gets objects, not bytes). */
export function readStampText(text: string): void {
  const m = /^B(\d+)\.(\d+)\./.exec(text);
  if (m) recordDelivery(Number(m[1]), Number(m[2]));
}

/** True when buf[at..] starts with `prefix` (a byte loop: cheaper than a native call for a few bytes). */
export function startsWith(buf: Buffer, prefix: Buffer, at = 0, end = buf.length): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

/** A message delivery if buf[start, end) starts with `prefix`: records its text stamp. */
export function onDelivery(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  if (!startsWith(buf, prefix, start, end)) return false;
  const at = buf.indexOf(TEXT_STAMP, start);
  if (at !== -1 && at < end) readStampBytes(buf, at + TEXT_STAMP.length, end, DOT);
  return true;
}

/** An event delivery if buf[start, end) starts with `prefix`: records its cid stamp. */
export function onEventDelivery(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  if (!startsWith(buf, prefix, start, end)) return false;
  const at = buf.indexOf(CID_STAMP, start);
  if (at !== -1 && at < end) readStampBytes(buf, at + CID_STAMP.length, end, UNDERSCORE);
  return true;
}
