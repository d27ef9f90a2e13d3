// A connection holder: a child process (forked by bench/capacity/holders.ts) that opens many
// authenticated WebSocket connections — AuroraChat (`ws`, subprotocols aurora.v1 + bearer.<JWT>,
// waits for `hello`) or the Socket.IO anchor (socket.io-client, JWT in handshake.auth.token,
// waits for `connect`) — optionally joins one room per connection, and on command generates
// traffic. Kept out of the benchmark's own process so the client side's CPU and memory never
// count as the server's, and so one process's file descriptor limit is not the cap.
//
// Frames are never JSON-parsed on the hot path: the frame type is read from the fixed prefix
// `{"type":"<type>"` every server frame starts with (only error frames are parsed, to count
// their codes). Parent <-> child talk over the IPC channel: {id, cmd, ...} -> {id, ...}.
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { signAccessToken } from '../../services/shared/tokens.js';
import { JWT_SECRET, ORIGIN } from '../../test/chat/client.js';
import type { SparseHistogram } from '../load/histogram.js';
import { histogramOf, hrNow, messageStamp, onDelivery } from '../load/stamps.js';

export type HolderKind = 'aurora' | 'socketio';

export interface ConnSpec {
  /** http(s)://host:port of the server. */
  url: string;
  user: string;
  /** Joined right after the connection is up. */
  room?: string;
  /**
   * Source address of the client socket (a loopback alias such as 127.0.0.2): each source address
   * has its own ephemeral port range, so many of them let one box open more than ~28k sockets.
   */
  localAddress?: string;
}

export interface HolderStats {
  open: number;
  acks: number;
  /** Error frames by code. */
  errors: Record<string, number>;
  /** `message` frames received (deliveries). */
  messages: number;
  /** Frames of any type received, and their bytes. */
  frames: number;
  bytes: number;
  /** Connections closed by the server (or the network) after they were open. */
  dropped: number;
}

export type HolderCommand =
  | { cmd: 'open'; kind: HolderKind; conns: ConnSpec[]; concurrency: number; tokenTtlSec: number }
  /** Every connection with a room sends to it, keeping `window` sends in flight. */
  | { cmd: 'saturate'; window: number; text: string }
  /**
   * Connection `conn` (index in this holder) sends to its room at `rate` messages/s. With `stamp`,
   * every text starts with a send-time stamp for step `stamp` (bench/load/stamps.ts) and every
   * delivery of a stamped message is recorded in that step's latency histogram.
   */
  | { cmd: 'traffic'; senders: { conn: number; rate: number }[]; text: string; stamp?: number }
  | { cmd: 'stop' }
  /** With `latency`: also that step's delivery latency histogram (µs). */
  | { cmd: 'stats'; latency?: number }
  | { cmd: 'close' };

export type HolderReply =
  | { ok: true; opened?: number; failed?: number; firstError?: string; stats?: HolderStats; latency?: { buckets: SparseHistogram; maxUs: number } }
  | { ok: false; error: string };

interface Conn {
  /** Index in `conns` (cids are `c<index>-<seq>`). */
  index: number;
  spec: ConnSpec;
  ws?: WebSocket;
  io?: Socket;
  inflight: number;
  seq: number;
  /** Fractional send budget (traffic mode). */
  credit: number;
  rate: number;
}

const conns: Conn[] = [];
const stats: HolderStats = { open: 0, acks: 0, errors: {}, messages: 0, frames: 0, bytes: 0, dropped: 0 };
let mode: 'idle' | 'saturate' | 'traffic' = 'idle';
let window = 1;
let text = 'x';
let trafficTimer: NodeJS.Timeout | null = null;
let lastTick = 0;
/** The connections with a traffic rate. */
let senders: Conn[] = [];
/** The latency step stamped into sent texts and read from deliveries (null: no stamps). */
let stampStep: number | null = null;
const MESSAGE_PREFIX = Buffer.from('{"type":"message"');

// signAccessToken makes the HMAC key once per secret (services/shared/tokens.ts): before that, building
// it on every sign was a third of a holder's CPU while it opened thousands of connections.
const tokenFor = (user: string, ttlSec: number) => signAccessToken(JWT_SECRET, { id: user, name: user }, ttlSec).token;

// Byte offsets in `{"type":"...`: the type's first letters decide (ack, message, error, ...).
const TYPE_AT = 9;
const ch = (s: string) => s.charCodeAt(0);

function sendOne(c: Conn): void {
  if (!c.ws || c.ws.readyState !== WebSocket.OPEN || !c.spec.room) return;
  c.inflight++;
  const cid = `c${c.index}-${c.seq++}`;
  const body = stampStep === null ? text : messageStamp(stampStep, hrNow()) + text;
  c.ws.send(`{"type":"send","room":${JSON.stringify(c.spec.room)},"text":${JSON.stringify(body)},"cid":"${cid}"}`);
}

function onAuroraFrame(c: Conn, data: Buffer, waiters: { hello?: () => void; joined?: () => void }): void {
  stats.frames++;
  stats.bytes += data.length;
  const t = data[TYPE_AT];
  if (t === ch('m')) {
    stats.messages++;
    if (stampStep !== null) onDelivery(data, 0, data.length, MESSAGE_PREFIX);
  } else if (t === ch('a') && data[TYPE_AT + 1] === ch('c')) {
    stats.acks++;
    c.inflight--;
    if (mode === 'saturate') while (c.inflight < window) sendOne(c);
  } else if (t === ch('e')) {
    let code = 'unparseable';
    let ref: unknown;
    try {
      const f = JSON.parse(data.toString()) as { code?: string; ref?: unknown };
      code = String(f.code);
      ref = f.ref;
    } catch {
      // counted as unparseable
    }
    stats.errors[code] = (stats.errors[code] ?? 0) + 1;
    if (ref !== undefined) {
      c.inflight--;
      // A refused send (rate_limited, overloaded) is retried only after a pause, not hammered.
      if (mode === 'saturate') setTimeout(() => mode === 'saturate' && c.inflight < window && sendOne(c), 50);
    }
  } else if (t === ch('h')) {
    waiters.hello?.();
  } else if (t === ch('j')) {
    waiters.joined?.();
  }
}

function openAurora(c: Conn, ttl: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const url = `${c.spec.url.replace(/^http/, 'ws')}/ws`;
    const ws = new WebSocket(url, ['aurora.v1', `bearer.${tokenFor(c.spec.user, ttl)}`], {
      headers: { origin: ORIGIN },
      perMessageDeflate: false,
      ...(c.spec.localAddress ? { localAddress: c.spec.localAddress } : {}),
    });
    c.ws = ws;
    let up = false;
    const waiters: { hello?: () => void; joined?: () => void } = {};
    const fail = (why: string) => {
      if (!up) {
        up = true;
        ws.terminate();
        reject(new Error(why));
      }
    };
    const timer = setTimeout(() => fail('timed out opening'), 60_000);
    waiters.hello = () => {
      waiters.hello = undefined;
      if (!c.spec.room) {
        up = true;
        clearTimeout(timer);
        return resolve();
      }
      ws.send(JSON.stringify({ type: 'join', room: c.spec.room }));
    };
    waiters.joined = () => {
      waiters.joined = undefined;
      up = true;
      clearTimeout(timer);
      resolve();
    };
    ws.on('message', (data: Buffer) => onAuroraFrame(c, data, waiters));
    ws.on('unexpected-response', (_req, res) => fail(`upgrade refused: ${res.statusCode}`));
    ws.on('error', (err) => fail(err.message));
    ws.on('close', () => {
      if (up) stats.dropped++;
      fail('closed while opening');
    });
  });
}

function openSocketIo(c: Conn, ttl: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = io(c.spec.url, {
      transports: ['websocket'],
      auth: { token: tokenFor(c.spec.user, ttl) },
      reconnection: false,
      forceNew: true,
      timeout: 60_000,
    });
    c.io = socket;
    let up = false;
    socket.on('connect', () => {
      if (!c.spec.room) {
        up = true;
        return resolve();
      }
      socket.emit('join', c.spec.room, () => {
        up = true;
        resolve();
      });
    });
    socket.on('connect_error', (err) => reject(err));
    socket.on('disconnect', () => {
      if (up) stats.dropped++;
    });
    socket.onAny(() => {
      stats.frames++;
      stats.messages++;
    });
  });
}

async function open(cmd: Extract<HolderCommand, { cmd: 'open' }>): Promise<HolderReply> {
  const start = conns.length;
  for (const spec of cmd.conns) conns.push({ index: conns.length, spec, inflight: 0, seq: 0, credit: 0, rate: 0 });
  let next = start;
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: Math.max(1, cmd.concurrency) }, async () => {
      while (next < conns.length) {
        const c = conns[next++]!;
        try {
          await (cmd.kind === 'aurora' ? openAurora(c, cmd.tokenTtlSec) : openSocketIo(c, cmd.tokenTtlSec));
          opened++;
          stats.open++;
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  return { ok: true, opened, failed, ...(firstError ? { firstError } : {}) };
}

function trafficTick(): void {
  const now = Date.now();
  const dt = (now - lastTick) / 1000;
  lastTick = now;
  for (const c of senders) {
    c.credit += c.rate * dt;
    // Never more than one second's worth of backlog: a stalled sender does not burst afterwards.
    if (c.credit > Math.max(1, c.rate)) c.credit = Math.max(1, c.rate);
    while (c.credit >= 1) {
      c.credit -= 1;
      sendOne(c);
    }
  }
}

function handle(cmd: HolderCommand): Promise<HolderReply> | HolderReply {
  switch (cmd.cmd) {
    case 'open':
      return open(cmd);
    case 'saturate':
      mode = 'saturate';
      window = cmd.window;
      text = cmd.text;
      for (const c of conns) while (c.spec.room && c.ws?.readyState === WebSocket.OPEN && c.inflight < window) sendOne(c);
      return { ok: true };
    case 'traffic':
      mode = 'traffic';
      text = cmd.text;
      stampStep = cmd.stamp ?? null;
      for (const s of cmd.senders) {
        const c = conns[s.conn];
        if (!c) continue;
        // A sender starting now starts at a random phase: a thousand 1 msg/s senders must not all
        // send in the same tick (a synchronised burst measures the holders' queue, not delivery).
        if (c.rate === 0) c.credit = Math.random();
        c.rate = s.rate;
      }
      senders = conns.filter((c) => c.rate > 0);
      lastTick = Date.now();
      trafficTimer ??= setInterval(trafficTick, 10);
      return { ok: true };
    case 'stop':
      mode = 'idle';
      if (trafficTimer) clearInterval(trafficTimer);
      trafficTimer = null;
      for (const c of senders) c.rate = 0;
      senders = [];
      return { ok: true };
    case 'stats':
      return {
        ok: true,
        stats: { ...stats, errors: { ...stats.errors } },
        ...(cmd.latency !== undefined ? { latency: histogramOf(cmd.latency).toSparse() } : {}),
      };
    case 'close':
      for (const c of conns) {
        c.ws?.terminate();
        c.io?.disconnect();
      }
      setTimeout(() => process.exit(0), 50);
      return { ok: true };
  }
}

process.on('message', (m: { id: number } & HolderCommand) => {
  Promise.resolve()
    .then(() => handle(m))
    .then(
      (reply) => process.send!({ id: m.id, ...reply }),
      (err: unknown) => process.send!({ id: m.id, ok: false, error: String(err) }),
    );
});
// The parent went away: nothing left to hold.
process.on('disconnect', () => process.exit(0));
