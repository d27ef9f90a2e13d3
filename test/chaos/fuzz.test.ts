// Chaos: protocol fuzzing against two real chat replicas (DESIGN.md, "WebSocket protocol v1":
// bad input never crashes a replica and never closes other users' sockets).
//
// Many clients with valid tokens send random, truncated, huge (over MAX_PAYLOAD_BYTES and just
// under it), deeply nested, type-confused and unicode-edge frames, binary frames, floods of tiny
// frames and random bytes; raw TCP clients send garbage on the upgrade path and malformed
// WebSocket framing (unmasked, reserved opcodes and bits, oversized control frames, frames after
// a close, absurd lengths). Meanwhile well-behaved clients on the SAME replicas exchange messages
// at a steady rate. Everything random comes from one seeded PRNG, one stream per fuzzer
// connection, so a failure names e.g. "fuzz-7 connection #12" and FUZZ_SEED=<the printed seed>
// replays that connection's frames whatever the timing; FUZZ_MS sets the fuzz duration.
//
// Asserted: the replicas never exit and /healthz answers throughout; the well-behaved clients get
// every acked message in id order and never an error; every reply to a fuzzer is a valid frame of
// the protocol with a documented error code, and the only closes are the documented ones (1008
// repeated abuse, 1009 over maxPayload, plus ws's own 1007 invalid UTF-8 and 1002 broken framing
// for the raw clients); afterwards no connection, subscription or presence entry of a fuzzer is
// left behind, no handler threw (the replicas' last-line-of-defence logs stay silent), and the
// replicas' RSS is back within a bound a leak would break; exact answers to each edge case; a
// lone surrogate in a text is one text live and in the room log; the replicas still shut down
// cleanly (exit 0).
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rssKiB } from '../../bench/lib.js';
import { compareIds } from '../../services/shared/ids.js';
import { TestClient, chatEnv, tokenFor, ORIGIN, type Frame } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { mulberry32, type Rng } from '../helpers/prng.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : randomBytes(4).readUInt32LE(0);
const FUZZ_MS = Number(process.env.FUZZ_MS ?? 12_000);
const MAX_PAYLOAD = 64 * 1024; // MAX_PAYLOAD_BYTES default, set explicitly below
const WS_FUZZERS = 30;
const RAW_FUZZERS = 4;
const HTTP_FUZZERS = 2;
const GOOD_ROOM = 'fuzz-good';
const GOOD_EVERY_MS = 100;
/**
 * RSS growth (after the fuzz, fuzzers gone) over the warmed-up baseline a replica may show. Quiet
 * runs grow ~40-50 MiB (V8 heap sizing, allocator arenas) while ~80 MiB of frames reach each
 * replica: a leak that kept what it read (Buffer + decoded string) would pass 100 MiB.
 */
const RSS_GROWTH_BOUND_KIB = 100 * 1024;

// services/chat/frames.ts ServerFrame and protocol.ts ErrorCode. `event` includes the `member
// joined` a first join of a public room appends; `resync` is for the user channel.
const SERVER_TYPES = new Set(['hello', 'joined', 'left', 'ack', 'message', 'event', 'typing', 'pong', 'authed', 'presence', 'resync', 'error']);
const ERROR_CODES = new Set(['bad_request', 'invalid_room', 'too_long', 'not_joined', 'not_found', 'limit_reached', 'rate_limited', 'forbidden', 'muted', 'overloaded', 'internal']);

console.log(`[fuzz] seed=${SEED} duration=${FUZZ_MS} ms — reproduce with FUZZ_SEED=${SEED} npx vitest run test/chaos/fuzz.test.ts`);

let redis: TestRedis;
let chats: RunningService[] = [];
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  // Production limits for the fuzzers (frame budget, abuse strikes, maxPayload); only the
  // per-user-per-room send rate is raised so the well-behaved senders are never refused.
  const env = { MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD), RATE_LIMIT_MESSAGES: '1000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', PARTITIONS: '2', HEARTBEAT_MS: '5000' };
  chats = await Promise.all(
    ['fuzz-a', 'fuzz-b'].map((id) => startService('chat', chatEnv(redis.url, id, env), { waitReady: true, timeoutMs: 40_000 })),
  );
}, 90_000);

afterAll(async () => {
  for (const f of cleanup) f();
  await Promise.all(chats.map((s) => s.stop('SIGKILL')));
  await redis?.stop();
});

// ---------------------------------------------------------------- seeded randomness

/** The stream of fuzzer `who`'s `n`th connection: its frames replay from the seed whatever the timing. */
const streamOf = (who: number, n: number) => mulberry32((SEED ^ Math.imul(who + 1, 0x9e3779b1) ^ Math.imul(n + 1, 0x85ebca6b)) >>> 0);
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]!;
const bytes = (rng: Rng, n: number) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(rng, 256);
  return b;
};

// ---------------------------------------------------------------- frame generators

const EMOJI = '\u{1F600}'; // 4 bytes in UTF-8, 2 UTF-16 units
const NEST_10K = '['.repeat(10_000) + ']'.repeat(10_000);
const NEST_OBJ = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000);
const NEST_MAX = '['.repeat(MAX_PAYLOAD / 2 - 1) + ']'.repeat(MAX_PAYLOAD / 2 - 1);

const ROOMS_VALID = [GOOD_ROOM, 'general', 'fz-1', 'fz-2', 'fz-3', 'fz-4', 'dm:fuzz-3:fuzz-7', 'a', 'z'.repeat(64), '0_-'];
const ROOMS_BAD = ['', 'Not A Room', 'z'.repeat(65), '../etc', 'dm:a', 'dm:a:b:c', '\u202egeneral', 'gen\u0000eral', 'ĝeneral', '-x', 'dm::', ' general'];
const TEXTS = [
  'hi',
  '',
  '   ',
  EMOJI.repeat(2000), // exactly MAX_TEXT_CHARS UTF-16 units
  EMOJI.repeat(2000) + 'x', // one over
  'x'.repeat(4000),
  'x'.repeat(4001),
  'a\ud800b', // lone high surrogate (JSON.stringify escapes it)
  '\udc00', // lone low surrogate
  'nul\u0000byte',
  '\u202eRTL override\u200f',
  '\u2028\u2029',
  '\ufeffBOM',
  'e\u0301'.repeat(300),
  '"},{"type":"message","id":"1-1"}',
  '<script>alert(1)</script>',
  '%s%n%x',
];
const CIDS = ['c1', 'x'.repeat(64), 'x'.repeat(65), '', 'bad cid', 'c\u0000', '__proto__', 'constructor'];
const SINCE = ['0-0', '1-1', '9999999999999999-9999999999999999999', '-1', '1-', 'abc', '99999999999999999-0'];
const TYPES = ['join', 'leave', 'send', 'typing', 'ping', 'auth', 'SEND', 'send\u0000', 'message', 'ack', 'hello', '', '__proto__', 'constructor', 'toString', 'x'.repeat(200)];
/** JSON snippets (raw text) of the wrong type or shape for any field. */
const CONFUSED = [
  'null', '0', '-0', '1e308', '-1e-308', 'true', 'false', '[]', '{}', '[1,2,3]', '["general"]', '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}', '"\\u0000"', '"\\ud800"', '12345678901234567890123', '{"type":"send"}',
];

function value(rng: Rng, pool: readonly unknown[]): string {
  return rng() < 0.8 ? JSON.stringify(pick(rng, pool)) : pick(rng, CONFUSED);
}

/** A JSON object text shaped like a client frame: right, wrong or confused fields. */
function structured(rng: Rng, self: string): string {
  const fields: string[] = [`"type":${value(rng, TYPES)}`];
  const rooms = rng() < 0.75 ? ROOMS_VALID : ROOMS_BAD;
  const roomPool = rng() < 0.1 ? [`dm:${self}:zz-other`] : rooms;
  if (rng() < 0.9) fields.push(`"room":${value(rng, roomPool)}`);
  if (rng() < 0.6) fields.push(`"text":${value(rng, TEXTS)}`);
  if (rng() < 0.6) fields.push(`"cid":${rng() < 0.5 ? JSON.stringify(`f${int(rng, 1e6)}`) : value(rng, CIDS)}`);
  if (rng() < 0.2) fields.push(`"since":${value(rng, SINCE)}`);
  if (rng() < 0.2) fields.push(`"active":${value(rng, [true, false, 'yes', 1])}`);
  if (rng() < 0.2) fields.push(`"t":${value(rng, [1, 'x', 'y'.repeat(65), 1.5])}`);
  if (rng() < 0.1) fields.push(`"token":${value(rng, ['x', tokenFor('someone-else'), tokenFor(self), 'a.b.c', 'y'.repeat(5000)])}`);
  if (rng() < 0.15) fields.push(`"__proto__":${pick(rng, CONFUSED)}`);
  if (rng() < 0.1) fields.push(`"constructor":{"prototype":{"type":"send","polluted":true}}`);
  if (rng() < 0.1) fields.push(`"type":${value(rng, TYPES)}`); // duplicate key: the last one wins
  for (let i = fields.length - 1; i > 0; i--) {
    const j = int(rng, i + 1);
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  return `{${fields.join(',')}}`;
}

/** A well-formed, valid frame (exercises the real paths: joins, sends, leaves, typing). */
function valid(rng: Rng, self: string): string {
  const room = pick(rng, [GOOD_ROOM, 'fz-1', 'fz-2', 'fz-3', `dm:${self}:zz-other`]);
  switch (int(rng, 6)) {
    case 0:
      return JSON.stringify({ type: 'join', room, ...(rng() < 0.3 ? { since: '0-0' } : {}) });
    case 1:
      return JSON.stringify({ type: 'leave', room });
    case 2:
      return JSON.stringify({ type: 'typing', room, active: rng() < 0.5 });
    case 3:
      return JSON.stringify({ type: 'ping', t: int(rng, 1e9) });
    default:
      return JSON.stringify({ type: 'send', room, text: pick(rng, TEXTS.slice(0, 13)) || 'x', cid: `v${int(rng, 1e9)}` });
  }
}

type FrameKind = 'structured' | 'valid' | 'truncated' | 'junk' | 'randomBytes' | 'nested' | 'nearLimit' | 'oversized' | 'binary' | 'tinyFlood' | 'wsPing';

const KINDS: [FrameKind, number][] = [
  ['structured', 34], ['valid', 20], ['truncated', 8], ['junk', 6], ['randomBytes', 4], ['nested', 6],
  ['nearLimit', 5], ['oversized', 3], ['binary', 5], ['tinyFlood', 3], ['wsPing', 2],
];
const KIND_TOTAL = KINDS.reduce((n, [, w]) => n + w, 0);

function pickKind(rng: Rng): FrameKind {
  let x = rng() * KIND_TOTAL;
  for (const [k, w] of KINDS) if ((x -= w) < 0) return k;
  return 'structured';
}

interface Outgoing {
  kind: FrameKind;
  /** Text frames as strings, binary/invalid-UTF-8 ones as Buffers. */
  frames: { data: string | Buffer; binary: boolean }[];
}

function generate(rng: Rng, self: string): Outgoing {
  const kind = pickKind(rng);
  const text = (data: string | Buffer) => ({ data, binary: false });
  switch (kind) {
    case 'structured':
      return { kind, frames: [text(structured(rng, self))] };
    case 'valid':
      return { kind, frames: [text(valid(rng, self))] };
    case 'truncated': {
      const s = rng() < 0.5 ? structured(rng, self) : valid(rng, self);
      return { kind, frames: [text(s.slice(0, int(rng, s.length)))] };
    }
    case 'junk': {
      const alphabet = '{}[]":,\\ntrufalse0123456789.eE+-/ \t\r\n\u0000\u00ff\u{1F600}';
      const chars = Array.from(alphabet);
      let s = '';
      for (let i = int(rng, 300); i > 0; i--) s += pick(rng, chars);
      return { kind, frames: [text(s)] };
    }
    case 'randomBytes':
      // Sent as a TEXT frame: almost always invalid UTF-8 (ws closes with 1007).
      return { kind, frames: [text(bytes(rng, 1 + int(rng, 2000)))] };
    case 'nested': {
      const which = int(rng, 4);
      const s =
        which === 0 ? NEST_10K
          : which === 1 ? NEST_OBJ
            : which === 2 ? NEST_MAX
              : `{"type":"send","room":"${GOOD_ROOM}","cid":"n1","text":${NEST_10K}}`;
      return { kind, frames: [text(s)] };
    }
    case 'nearLimit': {
      // Valid JSON padded with whitespace to just under maxPayload (it must be parsed normally).
      const base = rng() < 0.5 ? valid(rng, self) : structured(rng, self);
      const target = MAX_PAYLOAD - int(rng, 16);
      const pad = Math.max(0, target - Buffer.byteLength(base));
      return { kind, frames: [text(base + ' '.repeat(pad))] };
    }
    case 'oversized': {
      const n = MAX_PAYLOAD + 1 + int(rng, 2 * MAX_PAYLOAD);
      const s = `{"type":"send","room":"${GOOD_ROOM}","cid":"big","text":"${'x'.repeat(n)}"}`;
      return { kind, frames: [text(s)] };
    }
    case 'binary': {
      const data = rng() < 0.5 ? bytes(rng, int(rng, 1000)) : Buffer.from(valid(rng, self));
      return { kind, frames: [{ data, binary: true }] };
    }
    case 'tinyFlood': {
      const tiny = ['', '{}', '[]', '1', 'null', '"', ' ', '{"type":"ping"}', '\u0000'];
      return { kind, frames: Array.from({ length: 100 + int(rng, 300) }, () => text(pick(rng, tiny))) };
    }
    case 'wsPing':
      return { kind, frames: [] }; // a ws-level ping (control frame), sent by the runner
  }
}

// ---------------------------------------------------------------- helpers

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(s: RunningService, name: string): Promise<number> {
  const text = await (await fetch(`${s.adminUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

/** Polls /healthz of every replica until stopped; any failure or non-200 is recorded. */
function watchHealth(services: RunningService[]): { stop(): Promise<void>; failures: string[]; checks: number } {
  const state = { failures: [] as string[], checks: 0, running: true };
  const loops = services.map(async (s) => {
    while (state.running) {
      try {
        const res = await fetch(`${s.baseUrl}/healthz`, { signal: AbortSignal.timeout(10_000) });
        if (res.status !== 200) state.failures.push(`${s.name}:${s.port} /healthz ${res.status}`);
        await res.arrayBuffer();
      } catch (err) {
        state.failures.push(`${s.name}:${s.port} /healthz failed: ${String(err)}`);
      }
      state.checks++;
      await delay(200);
    }
  });
  return {
    failures: state.failures,
    get checks() {
      return state.checks;
    },
    async stop() {
      state.running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Log lines that mean a bug was caught by a last line of defence (services/chat/main.ts
 * unhandledRejection, connection.ts "frame handler failed", server.ts "upgrade failed") or that
 * the process is going down (fatal).
 */
function bugLogs(s: RunningService): string[] {
  return s.logs.filter((line) => {
    try {
      const o = JSON.parse(line) as { level?: number; msg?: string };
      return (o.level ?? 0) >= 60 || /unhandled rejection|frame handler failed|upgrade failed|uncaught/i.test(o.msg ?? '');
    } catch {
      return /Error|uncaught|unhandled/i.test(line); // not pino: something wrote to stdout/stderr directly
    }
  });
}

/** Checks one server frame against the protocol; returns a problem or null. */
function frameProblem(raw: string): string | null {
  let f: unknown;
  try {
    f = JSON.parse(raw);
  } catch {
    return `server sent non-JSON: ${raw.slice(0, 200)}`;
  }
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return `server sent a non-object: ${raw.slice(0, 200)}`;
  const o = f as Record<string, unknown>;
  if (typeof o.type !== 'string' || !SERVER_TYPES.has(o.type)) return `unknown server frame type: ${raw.slice(0, 200)}`;
  if (o.type === 'error' && (typeof o.code !== 'string' || !ERROR_CODES.has(o.code))) return `undocumented error code: ${raw.slice(0, 200)}`;
  if (raw.includes('    at ') || /\bat .*\.ts:\d+/.test(raw)) return `stack trace on the wire: ${raw.slice(0, 300)}`;
  return null;
}

// ---------------------------------------------------------------- well-behaved clients

class GoodClient {
  readonly sent: string[] = [];
  readonly acks = new Map<string, string>();
  readonly problems: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private n = 0;

  constructor(
    readonly client: TestClient,
    readonly name: string,
  ) {
    client.ws.on('message', (data, isBinary) => {
      if (isBinary) return void this.problems.push('binary frame from the server');
      const p = frameProblem(data.toString());
      if (p) return void this.problems.push(p);
      const f = JSON.parse(data.toString()) as Frame;
      if (f.type === 'ack') this.acks.set(f.cid as string, f.id as string);
      if (f.type === 'error') this.problems.push(`error frame: ${data.toString()}`);
    });
  }

  start(): void {
    this.timer = setInterval(() => {
      const cid = `${this.name}-${this.n++}`;
      this.sent.push(cid);
      this.client.send({ type: 'send', room: GOOD_ROOM, text: `${this.name} #${this.n} ${EMOJI} \u202e ok`, cid });
    }, GOOD_EVERY_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Ids of messages of well-behaved senders this client received live, in arrival order. */
  receivedGood(): string[] {
    return this.client.all('message', (f) => f.room === GOOD_ROOM && String(f.user?.id).startsWith('good-')).map((f) => f.id as string);
  }
}

// ---------------------------------------------------------------- fuzzers

interface ConnRecord {
  fuzzer: string;
  kinds: Set<FrameKind>;
  framesSent: number;
  closeCode: number | null;
  weClosed: boolean;
  last: string[];
  problems: string[];
}

interface FuzzStats {
  connections: ConnRecord[];
  connectFailures: string[];
  framesSent: number;
  bytesSent: number;
  closeCodes: Map<number | string, number>;
}

function describeFrame(d: string | Buffer, binary: boolean): string {
  if (typeof d === 'string') return `text(${Buffer.byteLength(d)}B): ${JSON.stringify(d.slice(0, 120))}`;
  return `${binary ? 'binary' : 'text-bytes'}(${d.length}B): ${d.subarray(0, 40).toString('hex')}`;
}

/** One fuzzer: connect, send a burst, maybe wait for the server's close, close, reconnect; until the deadline. */
async function wsFuzzer(index: number, baseUrl: string, deadline: number, stats: FuzzStats): Promise<void> {
  const self = `fuzz-${index}`;
  let connNo = 0;
  const token = tokenFor(self);
  const url = baseUrl.replace(/^http/, 'ws') + '/ws';
  while (Date.now() < deadline) {
    const rng = streamOf(index, connNo);
    const ws = new WebSocket(url, ['aurora.v1', `bearer.${token}`], { headers: { origin: ORIGIN } });
    const rec: ConnRecord = { fuzzer: `${self} connection #${connNo++}`, kinds: new Set(), framesSent: 0, closeCode: null, weClosed: false, last: [], problems: [] };
    ws.on('message', (data, isBinary) => {
      if (isBinary) rec.problems.push('binary frame from the server');
      else {
        const p = frameProblem(data.toString());
        if (p) rec.problems.push(p);
      }
    });
    ws.on('error', () => {});
    const closed = new Promise<void>((resolve) => ws.on('close', (code) => ((rec.closeCode = code), resolve())));
    let settled = false;
    const opened = await new Promise<boolean>((resolve) => {
      const settle = (ok: boolean, failure?: string) => {
        if (settled) return;
        settled = true;
        if (failure) stats.connectFailures.push(`${self}: ${failure}`);
        resolve(ok);
      };
      ws.once('open', () => settle(true));
      ws.once('unexpected-response', (_q, res) => settle(false, `upgrade refused ${res.statusCode}`));
      ws.once('error', (err) => settle(false, err.message)); // after open, errors end in 'close' (checked there)
    });
    if (!opened) {
      ws.terminate();
      await delay(50);
      continue;
    }
    stats.connections.push(rec);
    const burst = 1 + int(rng, 60);
    for (let i = 0; i < burst && ws.readyState === WebSocket.OPEN && Date.now() < deadline; i++) {
      const out = generate(rng, self);
      rec.kinds.add(out.kind);
      if (out.kind === 'wsPing') {
        ws.ping(bytes(rng, int(rng, 126)));
        rec.framesSent++;
      }
      for (const f of out.frames) {
        if (ws.readyState !== WebSocket.OPEN) break;
        ws.send(f.data, { binary: f.binary });
        rec.framesSent++;
        stats.bytesSent += Buffer.byteLength(f.data);
        rec.last.push(describeFrame(f.data, f.binary));
        if (rec.last.length > 8) rec.last.shift();
      }
      if (rng() < 0.3) await delay(int(rng, 20));
      // Do not let our own send buffer grow without bound (the server may stop reading: backpressure).
      while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 1024 * 1024) await delay(5);
    }
    // Either wait a little for the server to act on what it got, or leave at once.
    const ending = rng();
    if (ending < 0.5) await Promise.race([closed, delay(300 + int(rng, 700))]);
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
      rec.weClosed = true;
      if (ending < 0.8) ws.close();
      else ws.terminate();
    }
    await Promise.race([closed, delay(10_000)]);
    if (rec.closeCode === null) {
      rec.problems.push('no close event 10 s after the end of the connection');
      ws.terminate();
    }
    stats.framesSent += rec.framesSent;
    const key = rec.weClosed ? `${rec.closeCode} (we closed)` : (rec.closeCode ?? 'none');
    stats.closeCodes.set(key, (stats.closeCodes.get(key) ?? 0) + 1);
  }
}

/** Close codes a fuzz connection may end with, given what it sent. */
function closeProblem(rec: ConnRecord): string | null {
  const code = rec.closeCode;
  if (code === 1008) return null; // repeated abuse (strikes) — possible after any bad frame
  if (code === 1009 && rec.kinds.has('oversized')) return null;
  if (code === 1007 && rec.kinds.has('randomBytes')) return null;
  if (rec.weClosed && (code === 1005 || code === 1000 || code === 1006)) return null;
  return `closed with ${code}${rec.weClosed ? ' (after we closed)' : ''} after sending ${[...rec.kinds].join(',')}`;
}

// ---- raw WebSocket framing (masked client frames, any header bits) and raw HTTP

function encodeFrame(opts: { opcode: number; payload?: Buffer; fin?: boolean; rsv?: number; mask?: boolean; declaredLength?: bigint }): Buffer {
  const payload = opts.payload ?? Buffer.alloc(0);
  const fin = opts.fin ?? true;
  const mask = opts.mask ?? true;
  const len = opts.declaredLength ?? BigInt(payload.length);
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opts.opcode & 0x0f)];
  let ext = Buffer.alloc(0);
  if (len < 126n) head.push((mask ? 0x80 : 0) | Number(len));
  else if (len < 65536n) {
    head.push((mask ? 0x80 : 0) | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(len));
  } else {
    head.push((mask ? 0x80 : 0) | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(len);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from(head), ext, key, masked]);
}

const closePayload = (code: number, reason = '') => {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code);
  b.write(reason, 2);
  return b;
};

interface RawConn {
  socket: Socket;
  /** Everything the server sent after the 101 head (or the whole response if not upgraded). */
  received(): Buffer;
  status: number;
  ended: Promise<void>;
}

function upgradeRequest(port: number, token: string | null, extraHeaders = ''): string {
  return (
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    (token ? `Sec-WebSocket-Protocol: aurora.v1, bearer.${token}\r\n` : '') +
    `Origin: ${ORIGIN}\r\n${extraHeaders}\r\n`
  );
}

/** Opens a TCP connection and writes `first`; resolves once a response head arrived (or the socket ended). */
async function rawConnect(port: number, first: Buffer | string, headWaitMs = 10_000): Promise<RawConn> {
  const socket = netConnect(port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  let all = Buffer.alloc(0);
  let headEnd = -1;
  let status = 0;
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    all = Buffer.concat(chunks);
    if (headEnd < 0) {
      const i = all.indexOf('\r\n\r\n');
      if (i >= 0) {
        headEnd = i + 4;
        status = Number(/^HTTP\/1\.1 (\d{3})/.exec(all.subarray(0, i).toString('latin1'))?.[1] ?? 0);
      }
    }
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(first);
  await Promise.race([waitFor(() => headEnd >= 0, { timeoutMs: headWaitMs, intervalMs: 10, what: 'a response head' }).catch(() => {}), ended]);
  return {
    socket,
    get status() {
      return status;
    },
    received: () => (headEnd >= 0 ? all.subarray(headEnd) : all),
    ended,
  };
}

/** Server frames (unmasked) in `buf`: text payloads and the close code, if any. */
function parseServerFrames(buf: Buffer): { texts: string[]; closeCode: number | null } {
  const texts: string[] = [];
  let closeCode: number | null = null;
  let i = 0;
  while (i + 2 <= buf.length) {
    const opcode = buf[i]! & 0x0f;
    let len = buf[i + 1]! & 0x7f;
    let p = i + 2;
    if (len === 126) {
      if (p + 2 > buf.length) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (p + len > buf.length) break;
    const payload = buf.subarray(p, p + len);
    if (opcode === 1) texts.push(payload.toString('utf8'));
    if (opcode === 8) closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    i = p + len;
  }
  return { texts, closeCode };
}

/** A raw client after a valid upgrade: random framing garbage, then whatever the server does. */
async function rawFuzzer(index: number, port: number, deadline: number, problems: string[], counts: { conns: number }): Promise<void> {
  const token = tokenFor(`raw-${index}`);
  for (let connNo = 0; Date.now() < deadline; connNo++) {
    const rng = streamOf(100 + index, connNo);
    const conn = await rawConnect(port, upgradeRequest(port, token));
    counts.conns++;
    if (conn.status !== 101) {
      problems.push(`raw-${index}: upgrade answered ${conn.status}`);
      conn.socket.destroy();
      continue;
    }
    const sent: string[] = [];
    /** Close codes we sent: the server echoes a valid one (RFC 6455 5.5.1). */
    const echoable = new Set<number>();
    for (let i = 1 + int(rng, 6); i > 0 && !conn.socket.destroyed; i--) {
      const choice = int(rng, 6);
      let b: Buffer;
      if (choice === 0) b = bytes(rng, 1 + int(rng, 64));
      else if (choice === 1) b = encodeFrame({ opcode: int(rng, 16), payload: bytes(rng, int(rng, 200)), fin: rng() < 0.7, rsv: int(rng, 8), mask: rng() < 0.8 });
      else if (choice === 2) b = encodeFrame({ opcode: 1, payload: Buffer.from(structured(rng, `raw-${index}`)), fin: rng() < 0.8 });
      else if (choice === 3) {
        const code = pick(rng, [1000, 999, 1004, 1005, 1015, 3000, 4999, 5000, 65535]);
        echoable.add(code);
        b = encodeFrame({ opcode: 8, payload: closePayload(code, rng() < 0.5 ? 'bye' : '') });
      }
      else if (choice === 4) b = encodeFrame({ opcode: pick(rng, [1, 2, 0]), payload: bytes(rng, 8), declaredLength: BigInt(int(rng, 2 ** 30)) * BigInt(1 + int(rng, 2 ** 20)) });
      else b = encodeFrame({ opcode: 0, payload: bytes(rng, int(rng, 50)) });
      sent.push(b.subarray(0, 24).toString('hex'));
      conn.socket.write(b);
    }
    await Promise.race([conn.ended, delay(500)]);
    const { texts, closeCode } = parseServerFrames(conn.received());
    for (const t of texts) {
      const p = frameProblem(t);
      if (p) problems.push(`raw-${index}: ${p}`);
    }
    if (closeCode !== null && ![1002, 1007, 1008, 1009, 1000, 1005].includes(closeCode) && !echoable.has(closeCode)) {
      problems.push(`raw-${index} connection #${connNo}: server closed with ${closeCode} after ${sent.join(' ')}`);
    }
    conn.socket.destroy();
  }
}

/** Garbage where an HTTP request should be: random bytes, huge headers, half requests. */
async function httpFuzzer(index: number, port: number, deadline: number, problems: string[], counts: { conns: number }): Promise<void> {
  for (let connNo = 0; Date.now() < deadline; connNo++) {
    const rng = streamOf(200 + index, connNo);
    const choice = int(rng, 6);
    let first: Buffer | string;
    if (choice === 5) {
      // Plain HTTP to odd paths of the ops server (no upgrade).
      const path = pick(rng, ['/healthz?x=%ff', '/metrics/../readyz', '/%00', '/ws', '/readyz#frag', `/${'a'.repeat(8000)}`, '*', '//healthz']);
      first = `${pick(rng, ['GET', 'POST', 'DELETE', 'OPTIONS', 'BREW'])} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`;
    } else if (choice === 0) first = bytes(rng, 1 + int(rng, 8000));
    else if (choice === 1) first = upgradeRequest(port, tokenFor(`http-${index}`), `X-Huge: ${'h'.repeat(16_000 + int(rng, 100_000))}\r\n`);
    else if (choice === 2) first = upgradeRequest(port, tokenFor(`http-${index}`)).slice(0, 10 + int(rng, 150));
    else if (choice === 3) first = upgradeRequest(port, pick(rng, [null, 'not-a-jwt', tokenFor(`http-${index}`, 'x', -10)]));
    else first = `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${bytes(rng, 30).toString('latin1')}\r\nSec-WebSocket-Version: ${int(rng, 20)}\r\nSec-WebSocket-Protocol: aurora.v1, bearer.${tokenFor('h')}\r\n\r\n`;
    // A half request gets no answer until Node's headersTimeout: do not wait for one.
    const conn = await rawConnect(port, first, choice === 2 ? 200 : 10_000);
    counts.conns++;
    if (conn.status === 101) problems.push(`http-${index} connection #${connNo}: garbage request (choice ${choice}) was upgraded`);
    if (conn.status >= 500) problems.push(`http-${index} connection #${connNo}: server error ${conn.status} for choice ${choice}`);
    conn.socket.destroy();
  }
}

// ---------------------------------------------------------------- the tests

describe('chaos: protocol fuzzing', { timeout: 150_000 }, () => {
  it(`fuzzed frames on both replicas crash nothing, leak nothing, and the well-behaved clients on the same replicas get every message in order (seed ${SEED})`, async () => {
    // Well-behaved clients: two per replica, all in one room.
    const good: GoodClient[] = [];
    for (let i = 0; i < 4; i++) {
      const name = `good-${i}`;
      const c = await TestClient.connect(chats[i % 2]!.baseUrl, tokenFor(name));
      cleanup.push(() => c.ws.terminate());
      await c.join(GOOD_ROOM);
      good.push(new GoodClient(c, name));
    }
    // Warm up (JIT, pools), then the RSS baseline.
    for (const g of good) g.start();
    await waitFor(() => good.every((g) => g.acks.size >= 10), { timeoutMs: 30_000, what: 'warm-up traffic' });
    const baseline = chats.map((s) => rssKiB(s.proc.pid!));
    const pids = chats.map((s) => s.proc.pid);

    const health = watchHealth(chats);
    const stats: FuzzStats = { connections: [], connectFailures: [], framesSent: 0, bytesSent: 0, closeCodes: new Map() };
    const rawProblems: string[] = [];
    const rawCounts = { conns: 0 };
    const deadline = Date.now() + FUZZ_MS;
    const peak = chats.map(() => 0);
    const sampler = setInterval(() => chats.forEach((s, i) => (peak[i] = Math.max(peak[i]!, rssKiB(s.proc.pid!)))), 250);
    cleanup.push(() => clearInterval(sampler));
    await Promise.all([
      ...Array.from({ length: WS_FUZZERS }, (_, i) => wsFuzzer(i, chats[i % 2]!.baseUrl, deadline, stats)),
      ...Array.from({ length: RAW_FUZZERS }, (_, i) => rawFuzzer(i, chats[i % 2]!.port, deadline, rawProblems, rawCounts)),
      ...Array.from({ length: HTTP_FUZZERS }, (_, i) => httpFuzzer(i, chats[i % 2]!.port, deadline, rawProblems, rawCounts)),
    ]);
    clearInterval(sampler);
    for (const g of good) g.stop();
    // A crash is the finding to report first (with its logs), before any wait below times out.
    for (const s of chats) {
      expect(s.proc.exitCode, `${s.name} exited (seed ${SEED}):\n${s.logs.slice(-30).join('\n')}`).toBeNull();
      expect(s.proc.signalCode, `${s.name} killed (seed ${SEED})`).toBeNull();
    }

    // Every good send acked, every good message received by every good client, in id order.
    await waitFor(() => good.every((g) => g.acks.size + g.problems.length >= g.sent.length), { timeoutMs: 30_000, what: 'acks of the good sends' });
    const allGood = good.flatMap((g) => [...g.acks.values()]).sort(compareIds);
    await waitFor(() => good.every((g) => g.receivedGood().length >= allGood.length || g.problems.length > 0), {
      timeoutMs: 30_000,
      what: 'every good client to receive every good message',
    }).catch(() => {}); // what is missing is reported below

    // Nothing of the fuzzers is left behind: connections, subscriptions, presence.
    const leftovers = await waitFor(
      async () => {
        const conns = await Promise.all(chats.map((s) => metric(s, 'aurora_chat_connections')));
        const subs = await Promise.all(chats.map((s) => metric(s, 'aurora_chat_subscribed_rooms')));
        const ghosts = await presenceOf(/^(fuzz|raw|http)-/);
        return conns.every((n) => n === 2) && subs.every((n) => n === 1) && ghosts.length === 0 ? { conns, subs, ghosts } : null;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'fuzzers gone: 2 connections and 1 subscribed room per replica, no fuzzer in presence' },
    ).catch(async (err: unknown) => ({
      err: String(err),
      conns: await Promise.all(chats.map((s) => metric(s, 'aurora_chat_connections'))),
      subs: await Promise.all(chats.map((s) => metric(s, 'aurora_chat_subscribed_rooms'))),
      ghosts: await presenceOf(/^(fuzz|raw|http)-/),
    }));
    const after = chats.map((s) => rssKiB(s.proc.pid!));
    await health.stop();

    const connProblems = stats.connections.flatMap((r) => {
      const close = closeProblem(r);
      return [...r.problems, ...(close ? [close] : [])].map((p) => `${r.fuzzer}: ${p}\n    last frames: ${r.last.join('\n                 ')}`);
    });
    const kindsSeen = new Set(stats.connections.flatMap((r) => [...r.kinds]));
    console.log(
      `[fuzz] seed=${SEED}: ${stats.connections.length} fuzz connections, ${stats.framesSent} frames (${Math.round(stats.bytesSent / 1048576)} MiB), ` +
        `${rawCounts.conns} raw/HTTP connections; closes ${JSON.stringify(Object.fromEntries(stats.closeCodes))}; ` +
        `good messages ${allGood.length}; /healthz checks ${health.checks}; ` +
        `RSS KiB baseline ${baseline.join('/')} peak ${peak.join('/')} after ${after.join('/')} ` +
        `(growth ${after.map((a, i) => a - baseline[i]!).join('/')} KiB, bound ${RSS_GROWTH_BOUND_KIB})`,
    );

    // No replica crashed or stalled.
    expect(health.failures, `seed ${SEED}`).toEqual([]);
    expect(health.checks).toBeGreaterThan(10);
    for (const s of chats) {
      expect(s.proc.exitCode, `${s.name} exited (seed ${SEED}):\n${s.logs.slice(-30).join('\n')}`).toBeNull();
      expect(s.proc.signalCode).toBeNull();
    }
    expect(chats.map((s) => s.proc.pid)).toEqual(pids);
    // ...and its last lines of defence never fired: a handler that threw is a bug even when caught.
    for (const s of chats) expect(bugLogs(s), `${s.name} (seed ${SEED})`).toEqual([]);
    expect(stats.connectFailures, `seed ${SEED}`).toEqual([]);

    // The fuzz really happened, in every category.
    expect(stats.connections.length).toBeGreaterThan(WS_FUZZERS);
    expect(stats.framesSent).toBeGreaterThan(1000);
    expect([...kindsSeen].sort()).toEqual(KINDS.map(([k]) => k).sort());

    // Fuzzers got only protocol frames and documented closes.
    expect(connProblems.slice(0, 10), `seed ${SEED}`).toEqual([]);
    expect(rawProblems.slice(0, 10), `seed ${SEED}`).toEqual([]);

    // The well-behaved clients: never an error, never closed, every good message in order.
    for (const g of good) {
      expect(g.problems, `${g.name} (seed ${SEED})`).toEqual([]);
      expect(g.client.closeCode, g.name).toBeNull();
      expect(g.acks.size, g.name).toBe(g.sent.length);
      expect(g.receivedGood(), `${g.name} (seed ${SEED})`).toEqual(allGood);
    }

    // No state left behind, memory bounded.
    expect(leftovers, `seed ${SEED}`).toMatchObject({ conns: [2, 2], subs: [1, 1], ghosts: [] });
    for (const [i, s] of chats.entries()) {
      expect(after[i]! - baseline[i]!, `${s.name} RSS growth KiB (baseline ${baseline[i]}, after ${after[i]}, seed ${SEED})`).toBeLessThan(RSS_GROWTH_BOUND_KIB);
    }
  });

  it('abusive sockets get the documented answers: 1009 over maxPayload, errors (socket kept) for bad frames at or under it, 1008 for repeated abuse', async () => {
    const chat = chats[0]!;
    const watcher = await TestClient.connect(chat.baseUrl, tokenFor('edge-watcher'));
    cleanup.push(() => watcher.ws.terminate());
    await watcher.join(GOOD_ROOM);
    const alive = async (c: TestClient, t: string) => {
      c.send({ type: 'ping', t });
      await c.find('pong', (f) => f.t === t);
      expect(c.closeCode).toBeNull();
    };

    // One frame one byte over maxPayload: closed with 1009 by ws, nothing else.
    const big = await TestClient.connect(chat.baseUrl, tokenFor('edge-big'));
    cleanup.push(() => big.ws.terminate());
    big.send('x'.repeat(MAX_PAYLOAD + 1));
    expect(await big.closed).toBe(1009);
    expect(big.frames.map((f) => f.type)).toEqual(['hello']);

    // Frames exactly at maxPayload are read and answered; the socket stays open.
    const edge = await TestClient.connect(chat.baseUrl, tokenFor('edge-user'));
    cleanup.push(() => edge.ws.terminate());
    await edge.join(GOOD_ROOM);
    const junk = 'y'.repeat(MAX_PAYLOAD);
    edge.send(junk);
    expect((await edge.next('error')).code).toBe('bad_request');
    const padded = JSON.stringify({ type: 'send', room: GOOD_ROOM, text: 'padded to the limit', cid: 'padded' });
    edge.send(padded + ' '.repeat(MAX_PAYLOAD - Buffer.byteLength(padded)));
    expect((await edge.next('ack', (f) => f.cid === 'padded')).id).toMatch(/^\d+-\d+$/);
    const tooLongText = JSON.stringify({ type: 'send', room: GOOD_ROOM, text: 'z'.repeat(60_000), cid: 'huge-text' });
    edge.send(tooLongText);
    expect(await edge.next('error')).toMatchObject({ code: 'too_long', ref: 'huge-text' });

    // 4-byte emoji at the text limit (4,000 UTF-16 units) is accepted and delivered intact; one more unit is too long.
    const atLimit = EMOJI.repeat(2000);
    edge.send({ type: 'send', room: GOOD_ROOM, text: atLimit, cid: 'emoji-limit' });
    await edge.next('ack', (f) => f.cid === 'emoji-limit');
    expect((await watcher.find('message', (f) => f.cid === 'emoji-limit')).text).toBe(atLimit);
    edge.send({ type: 'send', room: GOOD_ROOM, text: atLimit + 'x', cid: 'emoji-over' });
    expect(await edge.next('error')).toMatchObject({ code: 'too_long', ref: 'emoji-over' });
    // NUL, RTL override, line separators are text like any other.
    const odd = 'a\u0000b \u202eevil\u202c \u2028\u2029 \ufeff';
    edge.send({ type: 'send', room: GOOD_ROOM, text: odd, cid: 'odd-text' });
    await edge.next('ack', (f) => f.cid === 'odd-text');
    expect((await watcher.find('message', (f) => f.cid === 'odd-text')).text).toBe(odd);
    await alive(edge, 'after-edges');

    // Deeply nested JSON (10k-deep arrays, 5k-deep objects, as a field value too), binary frames,
    // type confusion and prototype keys: one bad_request each, the socket kept (under 10 strikes).
    const confused = await TestClient.connect(chat.baseUrl, tokenFor('edge-confused'));
    cleanup.push(() => confused.ws.terminate());
    const bad: (string | Buffer)[] = [
      NEST_10K,
      NEST_OBJ,
      `{"type":"send","room":"${GOOD_ROOM}","cid":"n1","text":${NEST_10K}}`,
      Buffer.from([0, 1, 2, 255]),
      '{"type":"send","room":["general"],"text":{"__proto__":{"x":1}},"cid":"tc1"}',
      '{"__proto__":{"type":"ping"}}',
      '{"type":{"toString":"join"},"room":"general"}',
      '[{"type":"ping"}]',
    ];
    for (const b of bad) confused.ws.send(b, { binary: Buffer.isBuffer(b) });
    await waitFor(() => confused.all('error').length === bad.length, { what: 'one error per bad frame' });
    expect(confused.all('error').map((f) => f.code)).toEqual(bad.map(() => 'bad_request'));
    // A valid frame with an extra constructor/prototype key is just a valid frame.
    confused.send('{"type":"ping","t":"proto","constructor":{"prototype":{"polluted":true}},"__proto__":{"t":"x"}}');
    await confused.find('pong', (f) => f.t === 'proto');
    await alive(confused, 'after-confusion');

    // Invalid UTF-8 in a text frame: ws closes with 1007 (RFC 6455 "invalid frame payload data").
    const utf = await TestClient.connect(chat.baseUrl, tokenFor('edge-utf8'));
    cleanup.push(() => utf.ws.terminate());
    utf.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await utf.closed).toBe(1007);

    // Repeated abuse: 10 malformed frames within the window close the socket with 1008.
    const abuser = await TestClient.connect(chat.baseUrl, tokenFor('edge-abuser'));
    cleanup.push(() => abuser.ws.terminate());
    for (let i = 0; i < 10; i++) abuser.send(`not json ${i}`);
    expect(await abuser.closed).toBe(1008);
    expect(abuser.all('error').length).toBeLessThanOrEqual(10);

    // Bystanders on the same replica never noticed.
    await alive(watcher, 'bystander');
    expect(watcher.all('error')).toEqual([]);
  });

  it('a lone surrogate in a message text reaches live members and the room log (history, resume, the store) as the same text', async () => {
    // JSON allows "\ud800" (an unpaired surrogate). The replica must either refuse such text
    // (bad_request) or carry ONE text for the message everywhere: its id is used live, in the
    // store, in history and for resume.
    const chat = chats[0]!;
    const room = 'fuzz-surrogate';
    const sender = await TestClient.connect(chat.baseUrl, tokenFor('surrogate-sender'));
    cleanup.push(() => sender.ws.terminate());
    await sender.join(room);
    sender.send('{"type":"send","room":"' + room + '","text":"a\\ud800b","cid":"lone"}');
    const reply = await waitFor(() => sender.frames.find((f) => (f.type === 'ack' && f.cid === 'lone') || (f.type === 'error' && f.ref === 'lone')), {
      what: 'a reply to the send',
    });
    if (reply.type === 'error') {
      expect(reply.code).toBe('bad_request');
      return;
    }
    const live = (await sender.find('message', (f) => f.cid === 'lone')).text as string;
    const late = await TestClient.connect(chat.baseUrl, tokenFor('surrogate-reader'));
    cleanup.push(() => late.ws.terminate());
    const logged = ((await late.join(room)).messages as Frame[]).find((m) => m.cid === 'lone')?.text as string | undefined;
    expect(logged, 'the message in the room log').toBeTypeOf('string');
    const esc = (x: string) => Array.from(x, (ch) => ch.charCodeAt(0).toString(16).padStart(4, '0')).join(' ');
    expect(esc(logged!), `live text ${esc(live)} vs room-log text ${esc(logged!)}`).toBe(esc(live));
  });

  it('raw TCP garbage on the upgrade path and broken WebSocket framing are answered and closed, never crash the replica', async () => {
    const chat = chats[1]!;
    const port = chat.port;
    const token = tokenFor('raw-edge');
    const bystander = await TestClient.connect(chat.baseUrl, tokenFor('raw-bystander'));
    cleanup.push(() => bystander.ws.terminate());

    // Not HTTP at all, headers over Node's limit, a broken key, no token: HTTP errors, then closed.
    const cases: [string, Buffer | string, number][] = [
      ['random bytes', randomBytes(4096), 400],
      ['huge header', upgradeRequest(port, token, `X-Huge: ${'h'.repeat(100_000)}\r\n`), 431],
      ['bad Sec-WebSocket-Key', upgradeRequest(port, token).replace(/Sec-WebSocket-Key: [^\r]+/, 'Sec-WebSocket-Key: !!'), 400],
      ['unsupported version', upgradeRequest(port, token).replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 7'), 400],
      ['no token', upgradeRequest(port, null), 401],
      ['NUL in a header', upgradeRequest(port, token, 'X-Nul: a\u0000b\r\n'), 400],
    ];
    for (const [what, first, status] of cases) {
      const conn = await rawConnect(port, first);
      expect(conn.status, what).toBe(status);
      await Promise.race([conn.ended, delay(10_000)]);
      expect(conn.socket.destroyed || conn.socket.readableEnded, `${what}: closed by the server`).toBe(true);
      conn.socket.destroy();
    }

    // Valid upgrade, then broken framing: ws answers with the RFC close code.
    const t = (s: string) => Buffer.from(s);
    const framing: [string, Buffer[], number][] = [
      ['unmasked frame', [encodeFrame({ opcode: 1, payload: t('{"type":"ping"}'), mask: false })], 1002],
      ['reserved opcode 3', [encodeFrame({ opcode: 3, payload: t('x') })], 1002],
      ['RSV1 without an extension', [encodeFrame({ opcode: 1, payload: t('{}'), rsv: 4 })], 1002],
      ['ping with a 126-byte payload', [encodeFrame({ opcode: 9, payload: Buffer.alloc(126) })], 1002],
      ['fragmented ping', [encodeFrame({ opcode: 9, payload: t('x'), fin: false })], 1002],
      ['continuation without a start', [encodeFrame({ opcode: 0, payload: t('x') })], 1002],
      ['new message inside a fragmented one', [encodeFrame({ opcode: 1, payload: t('{"ty'), fin: false }), encodeFrame({ opcode: 1, payload: t('x') })], 1002],
      ['length over 2^53', [encodeFrame({ opcode: 1, payload: Buffer.alloc(0), declaredLength: 2n ** 60n })], 1009],
      ['length of 100 MB', [encodeFrame({ opcode: 1, payload: Buffer.alloc(0), declaredLength: 100_000_000n })], 1009],
      ['fragments adding up past maxPayload', [encodeFrame({ opcode: 1, payload: Buffer.alloc(MAX_PAYLOAD - 10, 0x20), fin: false }), encodeFrame({ opcode: 0, payload: Buffer.alloc(20, 0x20) })], 1009],
      ['close frame with a 1-byte payload', [encodeFrame({ opcode: 8, payload: Buffer.from([3]) })], 1002],
      ['close code 999', [encodeFrame({ opcode: 8, payload: closePayload(999) })], 1002],
      ['close reason not UTF-8', [encodeFrame({ opcode: 8, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff, 0xfe])]) })], 1007],
      ['invalid UTF-8 text', [encodeFrame({ opcode: 1, payload: Buffer.from([0xc3, 0x28]) })], 1007],
    ];
    for (const [what, frames, code] of framing) {
      const conn = await rawConnect(port, upgradeRequest(port, token));
      expect(conn.status, what).toBe(101);
      for (const f of frames) conn.socket.write(f);
      await waitFor(() => parseServerFrames(conn.received()).closeCode !== null, { what: `close frame after ${what}` });
      expect(parseServerFrames(conn.received()).closeCode, what).toBe(code);
      conn.socket.destroy();
    }

    // Frames after a close frame: the server echoes the close and reads nothing more.
    const conn = await rawConnect(port, upgradeRequest(port, token));
    expect(conn.status).toBe(101);
    conn.socket.write(
      Buffer.concat([
        encodeFrame({ opcode: 8, payload: closePayload(1000, 'bye') }),
        encodeFrame({ opcode: 1, payload: t(JSON.stringify({ type: 'ping', t: 'after-close' })) }),
        encodeFrame({ opcode: 1, payload: t(JSON.stringify({ type: 'join', room: GOOD_ROOM })) }),
        randomBytes(512),
      ]),
    );
    await Promise.race([conn.ended, delay(10_000)]);
    const after = parseServerFrames(conn.received());
    expect(after.closeCode).toBe(1000);
    expect(after.texts.filter((x) => x.includes('after-close') || x.includes('joined'))).toEqual([]);
    expect(conn.socket.destroyed || conn.socket.readableEnded).toBe(true);
    conn.socket.destroy();

    // An upgrade request with framing garbage in the same packet (ws's `head`), and a half request.
    const glued = await rawConnect(port, Buffer.concat([t(upgradeRequest(port, token)), encodeFrame({ opcode: 3, payload: t('x') })]));
    expect(glued.status).toBe(101);
    await waitFor(() => parseServerFrames(glued.received()).closeCode !== null, { what: 'close after glued garbage' });
    expect(parseServerFrames(glued.received()).closeCode).toBe(1002);
    glued.socket.destroy();
    const half = netConnect(port, '127.0.0.1');
    half.on('error', () => {});
    await new Promise<void>((r) => half.once('connect', () => r()));
    half.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpg');
    half.destroy();

    // Still alive and serving.
    bystander.send({ type: 'ping', t: 'raw-done' });
    await bystander.find('pong', (f) => f.t === 'raw-done');
    expect(bystander.closeCode).toBeNull();
    expect((await fetch(`${chat.baseUrl}/healthz`)).status).toBe(200);
  });

  it('after all the fuzzing the replicas still shut down cleanly on SIGTERM (exit 0)', async () => {
    for (const s of chats) expect(s.proc.exitCode).toBeNull();
    expect(await Promise.all(chats.map((s) => s.stop('SIGTERM')))).toEqual([0, 0]);
  });
});

/** Presence entries (userId) of users matching `re` in any room, read straight from Redis. */
async function presenceOf(re: RegExp): Promise<string[]> {
  const client = redis.client();
  try {
    const out: string[] = [];
    // Every presence set of every room (the test's Redis holds nothing else of that shape).
    for (const key of await client.keys('*:presence:*')) {
      for (const m of await client.zrange(key, 0, -1)) {
        if (re.test(m.split('|')[0]!)) out.push(`${key}: ${m}`);
      }
    }
    return out;
  } finally {
    client.disconnect();
  }
}
