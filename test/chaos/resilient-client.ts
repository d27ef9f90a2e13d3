// A chat client for chaos tests that behaves like the browser client (frontend/js/socket.js,
// store.js, app.js), minus the DOM, and records everything a test needs to prove "nothing acked
// was lost, nothing arrived twice, nothing out of order":
// - holds a list of replica URLs and moves to the next one after every failure or close;
// - reconnects with jittered backoff (the first retry after a working connection goes out fast);
// - on every `hello` joins its rooms with `since` = the newest id SEEN in that room (a `message`
//   or a `joined` backlog entry), never an ack id (an ack can overtake someone else's earlier
//   message this client has not received yet; resuming from it would skip that message);
// - keeps an outbox of sends not yet acked and re-sends them with the SAME cid after every
//   (re)join, after an `internal`/`overloaded`/`rate_limited` error (with backoff), and when a
//   connected socket leaves a send unanswered for too long (counted: it should not happen);
// - records every ack (cid -> id, the replica that acked it) and every received message per
//   room (deduplicated by id, duplicates and out-of-order arrivals counted), and every
//   `joined` with recovered:false after a `since` (a gap this client did not fill);
// - with `traffic` set, also edits, deletes, reacts and replies in threads (issue 13): each
//   change is an outbox entry with its own cid, retried exactly like a send; every `message` and
//   `event` frame (live or replayed by `joined`) feeds a per-room RoomModel (message-state.ts)
//   and `since` is the newest entry seen, message or event.
// Frames from a socket that is no longer the current one are ignored, as in the browser.
import { WebSocket } from 'ws';
import { compareIds } from '../../services/shared/ids.js';
import { RoomModel, type AckedChange, type ChangeBody } from './message-state.js';

export interface ResilientClientOptions {
  /** User id (also the display name); the token must be for this user. */
  user: string;
  token: string;
  /** Replica base URLs (http://host:port); `/ws` is appended. Tried in this order, rotating. */
  urls: string[];
  rooms: string[];
  origin: string;
  /** One send every this many ms while sending (round-robin over the rooms). */
  sendIntervalMs?: number;
  /** Reconnect backoff: full jitter on base * 2^attempt, capped. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Re-send backoff after `internal` / `overloaded` / `rate_limited`. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  helloTimeoutMs?: number;
  /** A join unanswered this long on a live socket is sent again. */
  joinTimeoutMs?: number;
  /** A send unanswered this long on a live socket is sent again (same cid) and counted. */
  ackTimeoutMs?: number;
  /** What the sender makes next in a room (default: a new message); see message-state.ts nextChange. */
  traffic?: (model: RoomModel, user: string, n: number) => ChangeBody;
}

export interface AckRecord {
  /** The sender (this client's user). */
  user: string;
  cid: string;
  room: string;
  id: string;
  /** The replica whose socket delivered the (first) ack. */
  replica: string;
  at: number;
  /** What was sent (text, thread parent). */
  body: ChangeBody;
}

/** The ack of an edit, delete or reaction: `id` null when acked `unchanged` (nothing appended). */
export interface ChangeAckRecord extends AckedChange {
  replica: string;
  at: number;
}

export interface Receipt {
  id: string;
  /** 'live': a `message` frame; 'joined': in a `joined` backlog. */
  via: 'live' | 'joined';
  replica: string;
  at: number;
  user: string;
  cid: string | null;
}

export interface RoomRecord {
  name: string;
  /** `joined` received on the current connection: sends may go out. */
  live: boolean;
  /** Newest id received from the room's stream: the `since` of the next join. */
  head: string | null;
  /** Distinct ids in arrival order. */
  ids: string[];
  receipts: Map<string, Receipt>;
  /** Frames carrying an id this client already had. */
  duplicates: number;
  /** New ids that arrived after a newer one. */
  outOfOrder: number;
  /** Joins answered (first and later). */
  joins: number;
  /** Joins with `since` answered recovered:true (a resume without gap). */
  resumes: number;
  /** Every message and event received, as message state. */
  model: RoomModel;
}

export interface GapRecord {
  room: string;
  since: string | null;
  replica: string;
  at: number;
  why: string;
}

interface OutboxEntry {
  cid: string;
  room: string;
  body: ChangeBody;
  state: 'queued' | 'inflight' | 'waiting';
  attempts: number;
  sentAt: number;
  timer?: NodeJS.Timeout;
}

type Frame = Record<string, any> & { type: string };

const jitter = (ceiling: number) => Math.floor(Math.random() * Math.max(1, ceiling));

export class ResilientClient {
  readonly user: string;
  readonly rooms = new Map<string, RoomRecord>();
  /** cid -> the first ack (sends: messages and thread replies). */
  readonly acks = new Map<string, AckRecord>();
  /** cid -> the first ack of an edit, delete or reaction. */
  readonly changeAcks = new Map<string, ChangeAckRecord>();
  /**
   * Changes and replies refused `not_found` (their target deleted meanwhile: legitimate, and the
   * test checks the target is deleted in the end).
   */
  readonly refused: { cid: string; body: ChangeBody }[] = [];
  /** cid acked again with a different id (idempotency broken). */
  readonly ackConflicts: string[] = [];
  readonly gaps: GapRecord[] = [];
  /** Error frames by code (every one, with or without ref). */
  readonly errors = new Map<string, number>();
  /** Sends refused for good (a code that is not retried): the test fails on these. */
  readonly failed: { cid: string; code: string; message: string }[] = [];
  /** Every connection that reached `hello`, in order. */
  readonly connections: { replica: string; url: string; at: number }[] = [];
  /** Close codes of connections that had reached `hello`. */
  readonly closes: number[] = [];
  connectAttempts = 0;
  resends = 0;
  ackTimeouts = 0;
  /** Acks with duplicate:true: a re-send of a message the server had already accepted. */
  duplicateAcks = 0;

  private readonly opt: Required<Omit<ResilientClientOptions, 'user' | 'token' | 'urls' | 'rooms' | 'origin'>>;
  private readonly urls: string[];
  private readonly outbox = new Map<string, OutboxEntry>();
  private ws: WebSocket | null = null;
  private ready = false;
  private currentReplica: string | null = null;
  private urlIndex = 0;
  private attempt = 0;
  private stopped = true;
  private seq = 0;
  private sendTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private helloTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private rejoinTimer: NodeJS.Timeout | null = null;
  /** Failed joins since the last `joined`: the re-join backoff exponent. */
  private joinRetries = 0;
  /** room -> [since sent, when] for joins awaiting `joined` on the current socket. */
  private readonly pendingJoins = new Map<string, { since: string | null; at: number }>();

  constructor(private readonly o: ResilientClientOptions) {
    this.user = o.user;
    this.urls = o.urls.map((u) => u.replace(/^http/, 'ws').replace(/\/$/, '') + '/ws');
    this.opt = {
      sendIntervalMs: o.sendIntervalMs ?? 40,
      baseDelayMs: o.baseDelayMs ?? 100,
      maxDelayMs: o.maxDelayMs ?? 2_000,
      retryBaseMs: o.retryBaseMs ?? 100,
      retryMaxMs: o.retryMaxMs ?? 2_000,
      helloTimeoutMs: o.helloTimeoutMs ?? 5_000,
      joinTimeoutMs: o.joinTimeoutMs ?? 8_000,
      ackTimeoutMs: o.ackTimeoutMs ?? 10_000,
      traffic: o.traffic ?? ((m, user, n) => ({ type: 'send', room: m.name, text: `${user} #${n}` })),
    };
    for (const name of o.rooms) {
      this.rooms.set(name, { name, live: false, head: null, ids: [], receipts: new Map(), duplicates: 0, outOfOrder: 0, joins: 0, resumes: 0, model: new RoomModel(name) });
    }
  }

  // --- public surface ---------------------------------------------------------------------

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.sweepTimer = setInterval(() => this.sweep(), 250);
    this.connect();
  }

  /** Starts the fixed-rate sender. */
  startSending(): void {
    if (this.sendTimer) return;
    const rooms = [...this.rooms.keys()];
    this.sendTimer = setInterval(() => {
      const n = this.seq++;
      const room = rooms[n % rooms.length]!;
      this.enqueueChange(this.opt.traffic(this.rooms.get(room)!.model, this.user, n), `${this.user}-${n}`);
    }, this.opt.sendIntervalMs);
  }

  /** Stops creating new sends; the outbox keeps draining. */
  stopSending(): void {
    if (this.sendTimer) clearInterval(this.sendTimer);
    this.sendTimer = null;
  }

  /** Queues one send (it goes out when its room is live on the current connection). */
  enqueue(room: string, text: string, cid: string): void {
    this.enqueueChange({ type: 'send', room, text }, cid);
  }

  /** Queues one send, edit, delete or reaction; retried like a send until answered for good. */
  enqueueChange(body: ChangeBody, cid: string): void {
    const e: OutboxEntry = { cid, room: body.room, body, state: 'queued', attempts: 0, sentAt: 0 };
    this.outbox.set(cid, e);
    this.trySend(e);
  }

  /** Everything this client was acked, sends and changes, for message-state.ts ackedModel. */
  accepted(): AckedChange[] {
    return [...[...this.acks.values()].map((a) => ({ user: a.user, cid: a.cid, body: a.body, id: a.id })), ...this.changeAcks.values()];
  }

  /** Sends neither acked nor failed yet. */
  get outboxSize(): number {
    return this.outbox.size;
  }

  /** The replica of the current connection once it said hello, else null. */
  get replica(): string | null {
    return this.ready ? this.currentReplica : null;
  }

  /** Connected and every room joined on this connection. */
  get allLive(): boolean {
    return this.ready && [...this.rooms.values()].every((r) => r.live);
  }

  /** A network failure: the socket dies under the client, which reconnects as after any drop. */
  drop(): void {
    this.ws?.terminate();
  }

  /** Closes for good and clears every timer. */
  stop(): void {
    this.stopped = true;
    this.stopSending();
    for (const t of [this.retryTimer, this.helloTimer, this.rejoinTimer]) if (t) clearTimeout(t);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const e of this.outbox.values()) if (e.timer) clearTimeout(e.timer);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
    }
  }

  acksIn(room: string): AckRecord[] {
    return [...this.acks.values()].filter((a) => a.room === room);
  }

  totalDuplicates(): number {
    let n = 0;
    for (const r of this.rooms.values()) n += r.duplicates;
    return n;
  }

  /** One line for failure messages and the run summary. */
  summary(): string {
    const rooms = [...this.rooms.values()]
      .map((r) => `${r.name}:${r.ids.length}+${r.model.eventIds.size}ev(dup ${r.duplicates + r.model.duplicates}, ooo ${r.outOfOrder})`)
      .join(' ');
    const errs = [...this.errors].map(([c, n]) => `${c}=${n}`).join(',') || 'none';
    return (
      `${this.user} on ${this.replica ?? 'nothing'} acks=${this.acks.size}+${this.changeAcks.size} refused=${this.refused.length} outbox=${this.outbox.size} ` +
      `conns=${this.connections.map((c) => c.replica).join('>')} resends=${this.resends} dupAcks=${this.duplicateAcks} ackTimeouts=${this.ackTimeouts} ` +
      `errors=${errs} gaps=${this.gaps.length} ${rooms}`
    );
  }

  // --- connection -------------------------------------------------------------------------

  private connect(): void {
    if (this.stopped || this.ws) return;
    const url = this.urls[this.urlIndex % this.urls.length]!;
    this.connectAttempts++;
    const ws = new WebSocket(url, ['aurora.v1', `bearer.${this.o.token}`], { headers: { origin: this.o.origin } });
    this.ws = ws;
    this.ready = false;
    this.pendingJoins.clear();
    this.helloTimer = setTimeout(() => {
      if (ws === this.ws && !this.ready) ws.terminate();
    }, this.opt.helloTimeoutMs);
    ws.on('message', (data) => {
      if (ws !== this.ws) return;
      let f: Frame;
      try {
        f = JSON.parse(data.toString()) as Frame;
      } catch {
        return;
      }
      this.receive(f, url);
    });
    ws.on('error', () => {
      /* a close event follows */
    });
    ws.on('close', (code) => this.closed(ws, code));
  }

  private closed(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return;
    const wasReady = this.ready;
    if (wasReady) this.closes.push(code);
    this.ws = null;
    this.ready = false;
    this.currentReplica = null;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    if (this.rejoinTimer) clearTimeout(this.rejoinTimer);
    this.rejoinTimer = null;
    this.pendingJoins.clear();
    for (const r of this.rooms.values()) r.live = false;
    // Sends in flight on the dead socket may or may not have been accepted: re-sent (same cid)
    // after the next join, where the server's idempotency answers the original id.
    for (const e of this.outbox.values()) if (e.state === 'inflight') e.state = 'queued';
    if (this.stopped) return;
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const delay =
      wasReady && this.attempt === 0
        ? jitter(this.opt.baseDelayMs)
        : jitter(Math.min(this.opt.maxDelayMs, this.opt.baseDelayMs * 2 ** Math.min(this.attempt, 10)));
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // --- frames -----------------------------------------------------------------------------

  private receive(f: Frame, url: string): void {
    switch (f.type) {
      case 'hello':
        if (this.helloTimer) clearTimeout(this.helloTimer);
        this.ready = true;
        this.attempt = 0;
        this.currentReplica = String(f.replica);
        this.connections.push({ replica: this.currentReplica, url, at: Date.now() });
        for (const room of this.rooms.keys()) this.sendJoin(room);
        return;
      case 'joined':
        return this.joined(f);
      case 'message':
        return this.message(f);
      case 'event':
        return this.event(f);
      case 'ack':
        return this.ack(f);
      case 'error':
        return this.error(f);
      default:
        return; // presence, typing, pong, left
    }
  }

  private sendJoin(room: string): void {
    const r = this.rooms.get(room)!;
    const since = r.head;
    if (!since && r.joins > 0) {
      // A re-join without a resume point cannot be proved gap-free (latest N only).
      this.gaps.push({ room, since: null, replica: this.currentReplica ?? '?', at: Date.now(), why: 're-join without since' });
    }
    this.pendingJoins.set(room, { since, at: Date.now() });
    this.raw(since ? { type: 'join', room, since } : { type: 'join', room });
  }

  private joined(f: Frame): void {
    const r = this.rooms.get(f.room);
    if (!r) return;
    const pending = this.pendingJoins.get(f.room);
    this.pendingJoins.delete(f.room);
    if (pending?.since && f.recovered === false) {
      this.gaps.push({ room: r.name, since: pending.since, replica: this.currentReplica ?? '?', at: Date.now(), why: 'recovered:false' });
    } else if (pending?.since) {
      r.resumes++;
    }
    // Messages and events interleave on the room log: applied in id order, as they were appended.
    const messages = Array.isArray(f.messages) ? (f.messages as Frame[]) : [];
    const events = Array.isArray(f.events) ? (f.events as Frame[]).map((e): Frame => ({ ...e, type: 'event' })) : [];
    const entries = [...messages, ...events].sort((a, b) => compareIds(String(a.id), String(b.id)));
    for (const m of entries) {
      if (m.type === 'event') this.recordEvent(r, m);
      else this.record(r, m, 'joined');
    }
    r.live = true;
    r.joins++;
    this.joinRetries = 0;
    // Flush the room's outbox, oldest first (entries waiting on a retry timer keep waiting).
    for (const e of this.outbox.values()) if (e.room === r.name && e.state === 'queued') this.trySend(e);
  }

  private message(f: Frame): void {
    const r = this.rooms.get(f.room);
    if (r) this.record(r, f, 'live');
  }

  private event(f: Frame): void {
    const r = this.rooms.get(f.room);
    if (r) this.recordEvent(r, f);
  }

  /** An event moves `since` forward like a message; the model dedups and counts it. */
  private recordEvent(r: RoomRecord, f: Frame): void {
    if (!r.model.event(f)) return;
    if (!r.head || compareIds(f.id, r.head) > 0) r.head = f.id;
  }

  private record(r: RoomRecord, m: Frame, via: Receipt['via']): void {
    if (typeof m.id !== 'string') return;
    if (r.receipts.has(m.id)) {
      r.duplicates++;
      return;
    }
    r.model.message(m);
    if (r.head && compareIds(m.id, r.head) < 0) r.outOfOrder++;
    else r.head = m.id;
    r.ids.push(m.id);
    r.receipts.set(m.id, {
      id: m.id,
      via,
      replica: this.currentReplica ?? '?',
      at: Date.now(),
      user: String(m.user?.id ?? ''),
      cid: typeof m.cid === 'string' ? m.cid : null,
    });
  }

  private ack(f: Frame): void {
    const cid = String(f.cid);
    const e = this.outbox.get(cid);
    const prev = this.acks.get(cid);
    if (f.duplicate === true) this.duplicateAcks++;
    if (e && e.body.type !== 'send') {
      const id = f.unchanged === true ? null : String(f.id);
      const before = this.changeAcks.get(cid);
      if (before && before.id !== id) this.ackConflicts.push(`${cid}: ${before.id} then ${id}`);
      if (!before) this.changeAcks.set(cid, { user: this.user, cid, body: e.body, id, replica: this.currentReplica ?? '?', at: Date.now() });
    } else if (prev) {
      if (prev.id !== f.id) this.ackConflicts.push(`${cid}: ${prev.id} then ${String(f.id)}`);
    } else if (e) {
      this.acks.set(cid, { user: this.user, cid, room: e.room, id: String(f.id), replica: this.currentReplica ?? '?', at: Date.now(), body: e.body });
    }
    if (e) {
      if (e.timer) clearTimeout(e.timer);
      this.outbox.delete(cid);
    }
  }

  private error(f: Frame): void {
    const code = String(f.code);
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    const e = typeof f.ref === 'string' ? this.outbox.get(f.ref) : undefined;
    if (!e) {
      // A failed join answers `internal` without a ref (a refused one `rate_limited`): join the
      // rooms still waiting again, backing off (re-joins are charged to a join budget).
      if ((code === 'internal' || code === 'rate_limited') && !this.rejoinTimer) {
        const ceiling = Math.min(this.opt.retryMaxMs, this.opt.retryBaseMs * 2 ** Math.min(this.joinRetries++, 10));
        const delay = Math.max(Number(f.retryAfterMs) || 0, Math.floor(ceiling / 2) + jitter(ceiling / 2));
        this.rejoinTimer = setTimeout(() => {
          this.rejoinTimer = null;
          this.rejoinWaiting();
        }, delay);
      }
      return;
    }
    switch (code) {
      case 'internal':
      case 'overloaded':
      case 'rate_limited': {
        // Not accepted (or not known to be): re-send with the same cid after a backoff.
        e.state = 'waiting';
        const ceiling = Math.min(this.opt.retryMaxMs, this.opt.retryBaseMs * 2 ** Math.min(e.attempts, 10));
        const delay = Math.max(Number(f.retryAfterMs) || 0, Math.floor(ceiling / 2) + jitter(ceiling / 2));
        if (e.timer) clearTimeout(e.timer);
        e.timer = setTimeout(() => {
          e.timer = undefined;
          if (!this.outbox.has(e.cid)) return;
          e.state = 'queued';
          this.trySend(e);
        }, delay);
        return;
      }
      case 'not_found':
        // A change (or a thread reply) whose target was deleted meanwhile: answered for good.
        if (e.body.type !== 'send' || e.body.replyTo !== undefined) {
          if (e.timer) clearTimeout(e.timer);
          this.refused.push({ cid: e.cid, body: e.body });
          this.outbox.delete(e.cid);
          return;
        }
        this.failed.push({ cid: e.cid, code, message: String(f.message) });
        this.outbox.delete(e.cid);
        return;
      case 'not_joined':
        e.state = 'queued'; // goes out again after the next `joined`
        this.rooms.get(e.room)!.live = false;
        this.rejoinWaiting();
        return;
      default:
        this.failed.push({ cid: e.cid, code, message: String(f.message) });
        this.outbox.delete(e.cid);
    }
  }

  private rejoinWaiting(): void {
    if (!this.ready) return;
    for (const r of this.rooms.values()) if (!r.live) this.sendJoin(r.name);
  }

  // --- sending ----------------------------------------------------------------------------

  private trySend(e: OutboxEntry): void {
    if (e.state !== 'queued' || !this.ready || !this.rooms.get(e.room)?.live) return;
    if (!this.raw({ ...e.body, cid: e.cid })) return;
    if (e.attempts > 0) this.resends++;
    e.attempts++;
    e.state = 'inflight';
    e.sentAt = Date.now();
  }

  private raw(frame: unknown): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /** Unanswered sends and joins on a live socket are sent again (the server answers every one). */
  private sweep(): void {
    if (!this.ready) return;
    const now = Date.now();
    for (const e of this.outbox.values()) {
      if (e.state === 'inflight' && now - e.sentAt > this.opt.ackTimeoutMs) {
        this.ackTimeouts++;
        e.state = 'queued';
        this.trySend(e);
      }
    }
    for (const [room, p] of this.pendingJoins) {
      if (now - p.at > this.opt.joinTimeoutMs && !this.rooms.get(room)!.live) this.sendJoin(room);
    }
  }
}

/** Every ack of every client, by room: id -> ack. Throws when two cids got one id. */
export function ackedByRoom(clients: readonly ResilientClient[]): Map<string, Map<string, AckRecord>> {
  const out = new Map<string, Map<string, AckRecord>>();
  for (const c of clients) {
    for (const a of c.acks.values()) {
      let room = out.get(a.room);
      if (!room) out.set(a.room, (room = new Map()));
      const other = room.get(a.id);
      if (other && other.cid !== a.cid) throw new Error(`one id ${a.id} acked for two sends: ${other.cid} and ${a.cid}`);
      room.set(a.id, a);
    }
  }
  return out;
}

/** Sorted copy of ids, numeric id order. */
export function sortIds(ids: Iterable<string>): string[] {
  return [...ids].sort(compareIds);
}

/**
 * What a client holds in each of its rooms compared with `expected` (room -> ids in id order):
 * missing, unexpected, out-of-order arrivals, gaps and refusals, one line per problem (empty
 * when it holds exactly the expected messages, each once, in order). Duplicates that the id
 * dedup absorbed are reported in the summary, not as a problem.
 */
export function deliveryProblems(c: ResilientClient, expected: Map<string, string[]>): string[] {
  const problems: string[] = [];
  for (const r of c.rooms.values()) {
    const want = expected.get(r.name) ?? [];
    const have = new Set(r.ids);
    const missing = want.filter((id) => !have.has(id));
    const wantSet = new Set(want);
    const extra = r.ids.filter((id) => !wantSet.has(id));
    if (missing.length) problems.push(`${c.user}/${r.name}: ${missing.length} of ${want.length} missing, e.g. ${missing.slice(0, 5).join(' ')}`);
    if (extra.length) problems.push(`${c.user}/${r.name}: ${extra.length} not in the expected list, e.g. ${extra.slice(0, 5).join(' ')}`);
    if (!missing.length && !extra.length && r.ids.join() !== want.join()) {
      problems.push(`${c.user}/${r.name}: every message present but not in id order (${r.outOfOrder} arrived after a newer one)`);
    }
  }
  for (const g of c.gaps) problems.push(`${c.user}/${g.room}: gap on ${g.replica} (${g.why}, since ${g.since})`);
  for (const f of c.failed) problems.push(`${c.user}: send ${f.cid} refused for good: ${f.code} ${f.message}`);
  for (const x of c.ackConflicts) problems.push(`${c.user}: cid acked with two ids: ${x}`);
  return problems;
}

// --- run helpers shared by the chaos tests --------------------------------------------------

/**
 * `count` clients, user `<prefix>N`, spread over the replicas (client N starts on urls[N mod R]
 * and knows every URL), each in two of `rooms` (N and N+1 mod rooms) so every room has members
 * on every replica.
 */
export function spreadClients(
  count: number,
  {
    prefix,
    urls,
    rooms,
    origin,
    token,
    sendIntervalMs,
    traffic,
  }: {
    prefix: string;
    urls: string[];
    rooms: string[];
    origin: string;
    token: (user: string) => string;
    sendIntervalMs?: number;
    traffic?: ResilientClientOptions['traffic'];
  },
): ResilientClient[] {
  return Array.from({ length: count }, (_, i) => {
    const user = `${prefix}${i}`;
    const start = i % urls.length;
    const mine = rooms.length <= 2 ? [...rooms] : [rooms[i % rooms.length]!, rooms[(i + 1) % rooms.length]!];
    return new ResilientClient({
      user,
      token: token(user),
      urls: [...urls.slice(start), ...urls.slice(0, start)],
      rooms: mine,
      origin,
      ...(sendIntervalMs ? { sendIntervalMs } : {}),
      ...(traffic ? { traffic } : {}),
    });
  });
}

/** Acks of `c` whose message was accepted (by the room log's clock) at or after `t`. */
export function acksSince(c: ResilientClient, t: number): AckRecord[] {
  return [...c.acks.values()].filter((a) => Number(a.id.split('-')[0]) >= t);
}

/**
 * Evidence that live fan-out crosses replicas for messages accepted at or after `t`: for every
 * ordered pair of distinct replicas (X, Y), a message acked on X that a client on Y received
 * as a live `message` frame. Returns the missing pairs (empty: proven).
 */
export function missingCrossReplicaLive(clients: readonly ResilientClient[], replicas: readonly string[], t: number): string[] {
  const missing: string[] = [];
  for (const x of replicas) {
    for (const y of replicas) {
      if (x === y) continue;
      const found = clients.some((sender) =>
        acksSince(sender, t).some(
          (a) =>
            a.replica === x &&
            clients.some((c) => {
              if (c === sender) return false;
              const got = c.rooms.get(a.room)?.receipts.get(a.id);
              return got?.via === 'live' && got.replica === y;
            }),
        ),
      );
      if (!found) missing.push(`${x} -> ${y}`);
    }
  }
  return missing;
}

/** True when every client holds every acked id of each of its rooms (what any client was acked). */
export function everyAckReceived(clients: readonly ResilientClient[]): boolean {
  const acked = ackedByRoom(clients);
  return clients.every((c) =>
    [...c.rooms.values()].every((r) => [...(acked.get(r.name)?.keys() ?? [])].every((id) => r.receipts.has(id))),
  );
}

/**
 * Exactly-once storage of what was acked: per room the stored ids are exactly the acked ids,
 * each once, in id order, each under the cid and sender that were acked for it, and nothing
 * else is stored. One line per problem.
 */
export function storeProblems(
  stored: Map<string, { id: string; cid: string; user: { id: string } }[]>,
  acked: Map<string, Map<string, AckRecord>>,
): string[] {
  const problems: string[] = [];
  for (const [room, acks] of acked) {
    const rows = stored.get(room) ?? [];
    const ids = rows.map((m) => m.id);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    if (twice.length) problems.push(`${room}: ${twice.length} ids stored more than once, e.g. ${twice.slice(0, 5).join(' ')}`);
    const lost = [...acks.keys()].filter((id) => !counts.has(id));
    if (lost.length) {
      const eg = lost.slice(0, 5).map((id) => `${id}(${acks.get(id)!.cid})`);
      problems.push(`${room}: ${lost.length} of ${acks.size} acked messages not stored, e.g. ${eg.join(' ')}`);
    }
    const unacked = ids.filter((id) => !acks.has(id));
    if (unacked.length) problems.push(`${room}: ${unacked.length} stored messages nobody got an ack for, e.g. ${unacked.slice(0, 5).join(' ')}`);
    if (ids.join() !== sortIds(ids).join()) problems.push(`${room}: stored ids not in id order`);
    for (const m of rows) {
      const a = acks.get(m.id);
      if (a && (a.cid !== m.cid || a.user !== m.user.id)) {
        problems.push(`${room}: ${m.id} stored as ${m.user.id}/${m.cid}, acked to ${a.user}/${a.cid}`);
        break;
      }
    }
  }
  return problems;
}
