// The load generator: a child process driven over IPC by a benchmark (protocol and the parent's
// handle: bench/load/protocol.ts). Run as `node --import tsx bench/load/generator.ts` with an
// IPC channel; it does nothing until told `setup`.
//
// It holds many WebSocket clients against one kind of target — AuroraChat replicas
// (protocol v1), the Socket.IO anchor or the seed anchor (bench/anchors/) — and measures
// end-to-end latency per delivery. It must cost as little CPU per delivery as possible, because
// it shares the machine's cores with the servers it measures, and it must cost the SAME per
// delivery whatever the target, so that no system is favoured by a cheaper client:
// - every receiving member is a RawWebSocket (bench/load/raw-ws.ts): frames parsed in place on
//   the TCP chunks; a delivery is recognised by a byte prefix and its send stamp read straight
//   from the frame's bytes (a message's `"text":"B<step>.<ns>.`, an AuroraChat event's
//   `"cid":"B<step>_<ns>_`: bench/load/stamps.ts) — no JSON.parse, no string, no per-frame
//   allocation beyond the clock;
// - Socket.IO members therefore speak the Engine.IO v4 / Socket.IO v5 wire protocol themselves
//   (open packet, namespace connect with auth, ping -> pong, `42[...]` events, `43<id>[...]`
//   acks) on the same RawWebSocket; senders (a few, low volume) use ordinary clients: `ws` for
//   AuroraChat and the seed, the real socket.io-client (transports ['websocket']) for Socket.IO,
//   which also checks that the anchor speaks what the library expects;
// - latency = receiver's process.hrtime.bigint() - the sender's, both CLOCK_MONOTONIC, into a
//   log-linear histogram per step (bench/load/histogram.ts).
// Senders send at a fixed total rate on an absolute schedule (send k is due at t0 + k/rate, so
// timer lateness never accumulates into a lower rate), open loop: a slow server does not slow
// the senders down, it shows up as latency. A step may send AuroraChat events (edit, react) to
// a message each sender posted at setup instead of messages (issue 13: what an event costs per
// delivery next to a message).
import { WebSocket } from 'ws';
import { io as ioClient, type Socket as IoSocket } from 'socket.io-client';
import { signAccessToken } from '../../services/shared/tokens.js';
import { LatencyHistogram } from './histogram.js';
import { RawWebSocket } from './raw-ws.js';
import { deliveriesOf, eventStamp, histogramOf, hrNow, messageStamp, onDelivery, onEventDelivery, readStampText, startsWith } from './stamps.js';
import type { ClientPlan, Reply, Request, SentReply, StatsReply } from './protocol.js';
import { BEARER_PREFIX, PROTOCOL, type ClientFrame } from '../../sdk/src/index.js';

// ---- clients ----

interface Member {
  /** Resolves once connected and joined to every room of its plan. */
  ready: Promise<void>;
  closed: boolean;
  close(): void;
}

interface Sender extends Member {
  plan: ClientPlan;
  /** Sends one message; onAck/onError are called at most once; onAck gets the message id when the target says it. */
  send(room: string, text: string, cid: string, onAck: (id?: string) => void, onError: (code: string) => void): void;
  /** AuroraChat only: sends an edit/delete/react frame, acked like a send (an `unchanged` ack is an error). */
  change?(frame: Extract<ClientFrame, { type: 'edit' | 'react' }>, onAck: () => void, onError: (code: string) => void): void;
  /** Room -> the id of this sender's message there that its events change (setup eventTargets). */
  targets: Map<string, string>;
}

const AURORA_MSG = Buffer.from('{"type":"message"');
const AURORA_EVENT = Buffer.from('{"type":"event"');
const AURORA_PRESENCE = Buffer.from('{"type":"presence"');

/** An AuroraChat (or seed) sender: protocol v1 over the ws library (a few per run, low volume). */
function auroraSender(plan: ClientPlan, token: string, origin: string | undefined): Sender {
  const ws = new WebSocket(plan.url, [PROTOCOL, `${BEARER_PREFIX}${token}`], {
    perMessageDeflate: false,
    skipUTF8Validation: true,
    headers: origin ? { origin } : {},
  });
  const waitingJoin = new Set(plan.rooms);
  const acks = new Map<string, { ok: (id?: string) => void; fail: (code: string) => void }>();
  // Frames typed by the SDK's protocol (sdk/src/protocol.d.ts): this lean client and the SDK
  // cannot disagree on a frame's shape without the type-check failing.
  const request = (frame: Extract<ClientFrame, { cid: string }>, ok: (id?: string) => void, fail: (code: string) => void) => {
    acks.set(frame.cid, { ok, fail });
    ws.send(JSON.stringify(frame));
  };
  const m: Sender = {
    plan,
    targets: new Map(),
    closed: false,
    ready: new Promise<void>((resolve, reject) => {
      ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
      ws.once('open', () => {
        for (const room of plan.rooms) ws.send(JSON.stringify({ type: 'join', room } satisfies ClientFrame));
      });
      ws.on('message', (data: Buffer) => {
        // The hot path: a live message or event — read the stamp from the bytes and stop there.
        if (onDelivery(data, 0, data.length, AURORA_MSG)) return;
        if (onEventDelivery(data, 0, data.length, AURORA_EVENT)) return;
        // Presence (one per member joining, to every member) is noise here: skip it unparsed.
        if (startsWith(data, AURORA_PRESENCE)) return;
        const f = JSON.parse(data.toString()) as { type: string; room?: string; cid?: string; id?: string; unchanged?: true; ref?: string; code?: string };
        if (f.type === 'joined' && f.room) {
          waitingJoin.delete(f.room);
          if (waitingJoin.size === 0) resolve();
        } else if (f.type === 'ack' && f.cid) {
          const a = acks.get(f.cid);
          acks.delete(f.cid);
          if (f.unchanged) a?.fail('unchanged');
          else a?.ok(f.id);
        } else if (f.type === 'error') {
          const a = f.ref ? acks.get(f.ref) : undefined;
          if (a && f.ref) {
            acks.delete(f.ref);
            a.fail(f.code ?? 'error');
          } else if (waitingJoin.size > 0) reject(new Error(`join refused: ${data.toString()}`));
        }
      });
      ws.on('close', () => {
        m.closed = true;
        for (const a of acks.values()) a.fail('closed');
        acks.clear();
        reject(new Error('closed before joined'));
      });
    }),
    send(room, text, cid, onAck, onError) {
      request({ type: 'send', room, text, cid }, onAck, onError);
    },
    change(frame, onAck, onError) {
      request(frame, () => onAck(), onError);
    },
    close() {
      ws.terminate();
    },
  };
  return m;
}

/** An AuroraChat (or seed) receiving member on a RawWebSocket. */
function auroraMember(plan: ClientPlan, token: string, origin: string | undefined): Member {
  const waitingJoin = new Set(plan.rooms);
  let resolveJoined!: () => void;
  let rejectJoined!: (e: Error) => void;
  const joined = new Promise<void>((resolve, reject) => {
    resolveJoined = resolve;
    rejectJoined = reject;
  });
  const m: Member = {
    closed: false,
    ready: joined,
    close: () => ws.close(),
  };
  const ws = new RawWebSocket({
    url: plan.url,
    protocols: [PROTOCOL, `${BEARER_PREFIX}${token}`],
    headers: origin ? { Origin: origin } : {},
    onFrame(buf, start, end) {
      if (onDelivery(buf, start, end, AURORA_MSG)) return;
      if (onEventDelivery(buf, start, end, AURORA_EVENT)) return;
      if (startsWith(buf, AURORA_PRESENCE, start, end)) return;
      if (waitingJoin.size === 0) return;
      const f = JSON.parse(buf.toString('utf8', start, end)) as { type: string; room?: string };
      if (f.type === 'joined' && f.room) {
        waitingJoin.delete(f.room);
        if (waitingJoin.size === 0) resolveJoined();
      } else if (f.type === 'error') rejectJoined(new Error(`join refused: ${buf.toString('utf8', start, end)}`));
    },
    onClose(reason) {
      m.closed = true;
      rejectJoined(new Error(`closed before joined: ${reason}`));
    },
  });
  ws.opened.then(() => {
    for (const room of plan.rooms) ws.send(JSON.stringify({ type: 'join', room } satisfies ClientFrame));
  }, rejectJoined);
  return m;
}

const SIO_MSG = Buffer.from('42["message",');

/** A Socket.IO member speaking the wire protocol directly on a RawWebSocket (see the header). */
function socketioMember(plan: ClientPlan, token: string): Member {
  let ackSeq = 0;
  const waitingJoin = new Set<number>();
  let resolveJoined!: () => void;
  let rejectJoined!: (e: Error) => void;
  const joined = new Promise<void>((resolve, reject) => {
    resolveJoined = resolve;
    rejectJoined = reject;
  });
  const m: Member = { closed: false, ready: joined, close: () => ws.close() };
  const ws = new RawWebSocket({
    url: `${plan.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`,
    onFrame(buf, start, end) {
      if (onDelivery(buf, start, end, SIO_MSG)) return;
      const s = buf.toString('utf8', start, end);
      if (s === '2') ws.send('3'); // Engine.IO ping -> pong
      else if (s.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`); // open -> connect to "/"
      else if (s.startsWith('40')) {
        for (const room of plan.rooms) {
          const id = ackSeq++;
          waitingJoin.add(id);
          ws.send(`42${id}${JSON.stringify(['join', room])}`);
        }
      } else if (s.startsWith('44')) rejectJoined(new Error(`connect refused: ${s}`));
      else if (s.startsWith('43')) {
        waitingJoin.delete(Number(/^43(\d+)/.exec(s)?.[1]));
        if (waitingJoin.size === 0) resolveJoined();
      }
    },
    onClose(reason) {
      m.closed = true;
      rejectJoined(new Error(`closed before joined: ${reason}`));
    },
  });
  ws.opened.catch(rejectJoined);
  return m;
}

/** A Socket.IO sender: the real socket.io-client library. */
function socketioSender(plan: ClientPlan, token: string): Sender {
  const socket: IoSocket = ioClient(plan.url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  socket.on('message', (msg: { text?: unknown }) => {
    if (typeof msg?.text === 'string') readStampText(msg.text);
  });
  const m: Sender = {
    plan,
    targets: new Map(),
    closed: false,
    ready: new Promise<void>((resolve, reject) => {
      socket.once('connect_error', reject);
      socket.once('connect', () => {
        Promise.all(plan.rooms.map((room) => socket.timeout(30_000).emitWithAck('join', room))).then(() => resolve(), reject);
      });
      socket.on('disconnect', () => {
        m.closed = true;
      });
    }),
    send(room, text, cid, onAck, onError) {
      socket.timeout(30_000).emit('send', { room, text, cid }, (err: Error | null) => (err ? onError('timeout') : onAck()));
    },
    close() {
      socket.disconnect();
    },
  };
  return m;
}

// ---- the process: setup, run, stats, close ----

let members: Member[] = [];
let senders: Sender[] = [];

async function setup(req: Extract<Request, { op: 'setup' }>): Promise<Extract<Reply, { kind: 'ready' }>> {
  const t0 = Date.now();
  const token = (user: string) => signAccessToken(req.secret, { id: user, name: user }, 6 * 3600).token;
  const origin = req.target === 'aurora' ? req.origin : undefined;
  const makeSender = (plan: ClientPlan): Sender =>
    req.target === 'socketio' ? socketioSender(plan, token(plan.user)) : auroraSender(plan, token(plan.user), origin);
  const makeMember = (plan: ClientPlan): Member =>
    req.target === 'socketio' ? socketioMember(plan, token(plan.user)) : auroraMember(plan, token(plan.user), origin);
  const plans: [ClientPlan, boolean][] = [...req.receivers.map((p) => [p, false] as [ClientPlan, boolean]), ...req.senders.map((p) => [p, true] as [ClientPlan, boolean])];
  // Bounded concurrency: a burst of thousands of handshakes would measure the accept queue.
  const CONCURRENCY = 50;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < plans.length) {
        const [plan, isSender] = plans[next++]!;
        if (isSender) {
          const s = makeSender(plan);
          senders.push(s);
          await s.ready;
        } else {
          const m = makeMember(plan);
          members.push(m);
          await m.ready;
        }
      }
    }),
  );
  if (req.eventTargets) await postEventTargets();
  return { seq: 0, kind: 'ready', connected: members.length + senders.length, ms: Date.now() - t0 };
}

/** Every sender posts the message its events will change, one per room (unstamped: not a delivery of any step). */
async function postEventTargets(): Promise<void> {
  await Promise.all(
    senders.flatMap((s, i) =>
      s.plan.rooms.map(
        (room, r) =>
          new Promise<void>((resolve, reject) => {
            const fail = (code: string) => reject(new Error(`event target in ${room} refused: ${code}`));
            s.send(room, `the message ${s.plan.user} edits and reacts to`, `t-${process.pid}-${i}-${r}`, (id) => (id ? resolve(void s.targets.set(room, id)) : fail('no id')), fail);
          }),
      ),
    ),
  );
}

/** Sender index + room -> whether its reaction is on now (kept across steps, like the server's state). */
const reactionOn = new Map<string, boolean>();

/** One event from sender `s` in `room`, its cid stamped (stamps.ts); `k` numbers it within the step. */
function sendChange(req: Extract<Request, { op: 'run' }>, s: Sender, room: string, k: number, sentNs: number, ok: () => void, fail: (code: string) => void): void {
  const target = s.targets.get(room);
  if (!target || !s.change) return fail('no_target');
  const cid = `${eventStamp(req.step, sentNs)}${process.pid}_${k}`;
  if (req.change === 'edit') {
    const head = `edit ${k} `;
    s.change({ type: 'edit', room, id: target, text: head + 'x'.repeat(Math.max(0, req.payloadBytes - head.length)), cid }, ok, fail);
  } else {
    const key = `${k % senders.length}\n${room}`;
    const on = !reactionOn.get(key);
    reactionOn.set(key, on);
    s.change({ type: 'react', room, id: target, emoji: '👍', on, cid }, ok, fail);
  }
}

async function run(req: Extract<Request, { op: 'run' }>): Promise<SentReply> {
  const out: SentReply = { sent: 0, acked: 0, errors: {}, ackedByRoom: {}, ackHist: { buckets: [], maxUs: 0 } };
  if (senders.length === 0 || req.rate <= 0) return out;
  const ackHist = new LatencyHistogram();
  const pad = 'x'.repeat(req.payloadBytes);
  const total = Math.floor((req.rate * req.durationMs) / 1000);
  const intervalNs = 1e9 / req.rate;
  let outstanding = 0;
  const sendOne = (k: number) => {
    const s = senders[k % senders.length]!;
    const room = s.plan.rooms[Math.floor(k / senders.length) % s.plan.rooms.length]!;
    const sentNs = hrNow();
    out.sent++;
    outstanding++;
    let settled = false;
    const ok = () => {
      if (settled) return;
      settled = true;
      outstanding--;
      out.acked++;
      out.ackedByRoom[room] = (out.ackedByRoom[room] ?? 0) + 1;
      ackHist.record((hrNow() - sentNs) / 1000);
    };
    const fail = (code: string) => {
      if (settled) return;
      settled = true;
      outstanding--;
      out.errors[code] = (out.errors[code] ?? 0) + 1;
    };
    if (req.change) return sendChange(req, s, room, k, sentNs, ok, fail);
    const stamp = messageStamp(req.step, sentNs);
    s.send(room, stamp + pad.slice(0, Math.max(0, req.payloadBytes - stamp.length)), `s${req.step}-${process.pid}-${k}`, ok, fail);
  };
  await new Promise<void>((resolve) => {
    const t0 = hrNow() + (req.phase ?? 0) * intervalNs;
    let k = 0;
    const tick = () => {
      const now = hrNow();
      while (k < total && t0 + k * intervalNs <= now) sendOne(k++);
      if (k >= total) return resolve();
      setTimeout(tick, Math.max(0, (t0 + k * intervalNs - hrNow()) / 1e6));
    };
    tick();
  });
  // Outstanding acks: bounded wait (an overloaded server is a result, not a hang).
  const deadline = Date.now() + 15_000;
  while (outstanding > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  if (outstanding > 0) out.errors.no_ack = outstanding;
  out.ackHist = ackHist.toSparse();
  return out;
}

function stats(step: number): StatsReply {
  return {
    deliveries: deliveriesOf(step),
    hist: histogramOf(step).toSparse(),
    disconnected: [...members, ...senders].filter((m) => m.closed).length,
  };
}

function closeAll(): void {
  for (const m of [...members, ...senders]) m.close();
  members = [];
  senders = [];
}

if (!process.send) {
  process.stderr.write('bench/load/generator.ts is a child process: spawn it with an IPC channel (see bench/load/protocol.ts)\n');
  process.exit(2);
}
const reply = (r: Reply) => process.send!(r);
process.on('message', (msg: Request & { seq: number }) => {
  const { seq } = msg;
  const fail = (err: unknown) => reply({ seq, error: err instanceof Error ? err.message : String(err) });
  switch (msg.op) {
    case 'setup':
      setup(msg).then((r) => reply({ ...r, seq }), fail);
      break;
    case 'run':
      run(msg).then((r) => reply({ seq, kind: 'sent', ...r }), fail);
      break;
    case 'count':
      reply({ seq, kind: 'count', deliveries: deliveriesOf(msg.step) });
      break;
    case 'stats':
      reply({ seq, kind: 'stats', ...stats(msg.step) });
      break;
    case 'close':
      closeAll();
      reply({ seq, kind: 'closed' });
      setTimeout(() => process.exit(0), 50);
      break;
  }
});
// The parent went away: do not linger.
process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});
