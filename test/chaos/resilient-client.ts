// A chat client for chaos tests that behaves like the browser client (frontend/js/socket.js,
// store.js, app.js), minus the DOM, and records everything a test needs to prove "nothing acked
// was lost, nothing arrived twice, nothing out of order". This file is its connection:
// - holds a list of replica URLs and moves to the next one after every failure or close;
// - reconnects with jittered backoff (the first retry after a working connection goes out fast);
// - on every `hello` joins its rooms with `since` = the newest entry seen in that room
//   (client-rooms.ts), and records every join it cannot prove gap-free: `joined` with
//   recovered:false after a `since`, or a re-join with nothing to resume from;
// - hands `message`, `event` and `joined` frames to its rooms (client-rooms.ts) and `ack` and
//   `error` frames to its outbox of sends and changes, retried with the same cid (client-outbox.ts);
// - with `traffic` set, also edits, deletes, reacts and replies in threads (issue 13).
// Frames from a socket that is no longer the current one are ignored, as in the browser.
// delivery-checks.ts holds what the tests prove with these records.
import { WebSocket } from 'ws';
import { jitter, reconnectDelay, retryDelay } from './client-backoff.js';
import { Outbox, type AckRecord, type ChangeAckRecord } from './client-outbox.js';
import { newRoomRecord, recordBacklog, recordEvent, recordMessage, type GapRecord, type RoomRecord } from './client-rooms.js';
import type { AckedChange, ChangeBody, RoomModel } from './message-state.js';

export type { AckRecord, ChangeAckRecord } from './client-outbox.js';
export type { GapRecord, Receipt, RoomRecord } from './client-rooms.js';

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

type Frame = Record<string, any> & { type: string };

export class ResilientClient {
  readonly user: string;
  readonly rooms = new Map<string, RoomRecord>();
  readonly gaps: GapRecord[] = [];
  /** Error frames by code (every one, with or without ref). */
  readonly errors = new Map<string, number>();
  /** Every connection that reached `hello`, in order. */
  readonly connections: { replica: string; url: string; at: number }[] = [];
  /** Close codes of connections that had reached `hello`. */
  readonly closes: number[] = [];
  connectAttempts = 0;

  private readonly opt: Required<Omit<ResilientClientOptions, 'user' | 'token' | 'urls' | 'rooms' | 'origin'>>;
  private readonly urls: string[];
  private readonly outbox: Outbox;
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
    for (const name of o.rooms) this.rooms.set(name, newRoomRecord(name));
    this.outbox = new Outbox(
      o.user,
      {
        canSend: (room) => this.ready && !!this.rooms.get(room)?.live,
        send: (frame) => this.raw(frame),
        replica: () => this.currentReplica ?? '?',
        notJoined: (room) => {
          this.rooms.get(room)!.live = false;
          this.rejoinWaiting();
        },
      },
      { baseMs: this.opt.retryBaseMs, maxMs: this.opt.retryMaxMs },
    );
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
    this.outbox.add(body, cid);
  }

  /** Everything this client was acked, sends and changes, for message-state.ts ackedModel. */
  accepted(): AckedChange[] {
    return this.outbox.accepted();
  }

  // The outbox's ledger (client-outbox.ts documents each record).
  get acks(): Map<string, AckRecord> {
    return this.outbox.acks;
  }
  get changeAcks(): Map<string, ChangeAckRecord> {
    return this.outbox.changeAcks;
  }
  get refused(): Outbox['refused'] {
    return this.outbox.refused;
  }
  get ackConflicts(): string[] {
    return this.outbox.ackConflicts;
  }
  get failed(): Outbox['failed'] {
    return this.outbox.failed;
  }
  get resends(): number {
    return this.outbox.resends;
  }
  get ackTimeouts(): number {
    return this.outbox.ackTimeouts;
  }
  get duplicateAcks(): number {
    return this.outbox.duplicateAcks;
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
    this.outbox.stop();
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
    this.outbox.requeueInflight();
    if (this.stopped) return;
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const delay =
      wasReady && this.attempt === 0 ? jitter(this.opt.baseDelayMs) : reconnectDelay(this.opt.baseDelayMs, this.opt.maxDelayMs, this.attempt);
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private raw(frame: unknown): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
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
      case 'message': {
        const r = this.rooms.get(f.room);
        if (r) recordMessage(r, f, 'live', this.currentReplica ?? '?');
        return;
      }
      case 'event': {
        const r = this.rooms.get(f.room);
        if (r) recordEvent(r, f);
        return;
      }
      case 'ack':
        return this.outbox.ack(f);
      case 'error':
        return this.error(f);
      default:
        return; // presence, typing, pong, left
    }
  }

  private error(f: Frame): void {
    const code = String(f.code);
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    if (this.outbox.error(f)) return;
    // A failed join answers `internal` without a ref (a refused one `rate_limited`): join the
    // rooms still waiting again, backing off (re-joins are charged to a join budget).
    if ((code === 'internal' || code === 'rate_limited') && !this.rejoinTimer) {
      const delay = retryDelay(this.opt.retryBaseMs, this.opt.retryMaxMs, this.joinRetries++, f.retryAfterMs);
      this.rejoinTimer = setTimeout(() => {
        this.rejoinTimer = null;
        this.rejoinWaiting();
      }, delay);
    }
  }

  // --- joins ------------------------------------------------------------------------------

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
    recordBacklog(r, f, this.currentReplica ?? '?');
    r.live = true;
    r.joins++;
    this.joinRetries = 0;
    this.outbox.flush(r.name);
  }

  private rejoinWaiting(): void {
    if (!this.ready) return;
    for (const r of this.rooms.values()) if (!r.live) this.sendJoin(r.name);
  }

  /** Unanswered sends and joins on a live socket are sent again (the server answers every one). */
  private sweep(): void {
    if (!this.ready) return;
    const now = Date.now();
    this.outbox.resendOverdue(now, this.opt.ackTimeoutMs);
    for (const [room, p] of this.pendingJoins) {
      if (now - p.at > this.opt.joinTimeoutMs && !this.rooms.get(room)!.live) this.sendJoin(room);
    }
  }
}
