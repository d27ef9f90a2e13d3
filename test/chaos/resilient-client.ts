// A chat client for chaos tests built on the client SDK — its Connection (sdk/src/connection.js:
// replica rotation, jittered reconnect, hello timeout, rejoin with `since`, join answers and
// retries, ping) and its Outbox (client-outbox.ts: the SDK's, plus the ledger) — so the faults
// here test the SDK a bot or the browser runs, and it records everything a test needs to prove
// "nothing acked was lost, nothing arrived twice, nothing out of order":
// - on every `hello` the connection rejoins its rooms with `since` = the newest entry seen in
//   that room (client-rooms.ts); this client records every join it cannot prove gap-free:
//   `joined` with recovered:false after a `since` (no REST gap fill here: it would hide the gap),
//   or a re-join with nothing to resume from;
// - `message`, `event` and `joined` frames go to its rooms (client-rooms.ts), `ack` and `error`
//   frames to its outbox;
// - with `traffic` set, it also edits, deletes, reacts and replies in threads (issue 13).
// delivery-checks.ts holds what the tests prove with these records.
import { WebSocket } from 'ws';
import { Connection, jwtPayload, type ConnectionState } from '../../sdk/src/index.js';
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
  private readonly outbox: Outbox;
  private readonly conn: Connection;
  private ready = false;
  private stopped = true;
  private seq = 0;
  private sendTimer: NodeJS.Timeout | null = null;
  /** room -> the `since` its latest join was sent with (read by the connection at send time). */
  private readonly sinceSent = new Map<string, string | null>();

  constructor(private readonly o: ResilientClientOptions) {
    this.user = o.user;
    this.opt = {
      sendIntervalMs: o.sendIntervalMs ?? 40,
      baseDelayMs: o.baseDelayMs ?? 100,
      maxDelayMs: o.maxDelayMs ?? 2_000,
      retryBaseMs: o.retryBaseMs ?? 100,
      retryMaxMs: o.retryMaxMs ?? 2_000,
      helloTimeoutMs: o.helloTimeoutMs ?? 5_000,
      ackTimeoutMs: o.ackTimeoutMs ?? 10_000,
      traffic: o.traffic ?? ((m, user, n) => ({ type: 'send', room: m.name, text: `${user} #${n}` })),
    };
    for (const name of o.rooms) this.rooms.set(name, newRoomRecord(name));
    const exp = Number(jwtPayload(o.token)?.exp);
    this.conn = new Connection({
      urls: o.urls.map((u) => u.replace(/^http/, 'ws').replace(/\/$/, '') + '/ws'),
      // A chaos test's token outlives the test: "refreshing" hands the same one back.
      auth: { token: o.token, tokenExpiresAt: Number.isFinite(exp) ? exp * 1000 : Date.now() + 3_600_000, refresh: async () => o.token },
      sinceFor: (room) => this.sinceFor(room),
      onFrame: (f) => this.receive(f as Frame),
      onState: (state) => this.state(state),
      WebSocket: WebSocket as never,
      wsOptions: { headers: { origin: o.origin } },
      options: { baseDelayMs: this.opt.baseDelayMs, maxDelayMs: this.opt.maxDelayMs, helloTimeoutMs: this.opt.helloTimeoutMs },
    });
    this.outbox = new Outbox(
      o.user,
      {
        canSend: (room) => this.ready && !!this.rooms.get(room)?.live,
        send: (frame) => this.conn.send(frame as never),
        replica: () => (this.ready ? (this.conn.replica ?? '?') : '?'),
        rejoin: (room) => {
          this.rooms.get(room)!.live = false;
          this.conn.join(room);
        },
      },
      { baseMs: this.opt.retryBaseMs, maxMs: this.opt.retryMaxMs },
      this.opt.ackTimeoutMs,
    );
  }

  // --- public surface ---------------------------------------------------------------------

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const room of this.rooms.keys()) this.conn.join(room);
    this.conn.start();
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
    return this.ready ? this.conn.replica : null;
  }

  /** Connected and every room joined on this connection. */
  get allLive(): boolean {
    return this.ready && [...this.rooms.values()].every((r) => r.live);
  }

  /** A network failure: the socket dies under the client, which reconnects as after any drop. */
  drop(): void {
    (this.conn as unknown as { ws: WebSocket | null }).ws?.terminate();
  }

  /** Closes for good and clears every timer. */
  stop(): void {
    this.stopped = true;
    this.stopSending();
    this.outbox.stop();
    this.conn.stop();
    this.ready = false;
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

  // --- connection and frames ---------------------------------------------------------------

  private state(st: ConnectionState): void {
    if (st.url !== undefined && st.state !== 'connected') this.connectAttempts++;
    if (st.state === 'connected') return;
    // The socket is gone (or never was): nothing is joined on the next one until its `joined`,
    // and what was in flight goes out again after it.
    if (this.ready && st.state === 'reconnecting' && st.closeCode !== undefined) this.closes.push(st.closeCode);
    this.ready = false;
    for (const r of this.rooms.values()) r.live = false;
    this.outbox.requeueInflight();
  }

  /** The connection asks what to resume `room` from, as it sends the join: that is the join's record. */
  private sinceFor(room: string): string | null {
    const r = this.rooms.get(room);
    const since = r?.head ?? null;
    if (r && !since && r.joins > 0) {
      // A re-join without a resume point cannot be proved gap-free (latest N only).
      this.gaps.push({ room, since: null, replica: this.conn.replica ?? '?', at: Date.now(), why: 're-join without since' });
    }
    this.sinceSent.set(room, since);
    return since;
  }

  private receive(f: Frame): void {
    const replica = this.conn.replica ?? '?';
    switch (f.type) {
      case 'hello':
        this.ready = true;
        this.connections.push({ replica: String(f.replica), url: String((this.conn as unknown as { ws: WebSocket | null }).ws?.url ?? ''), at: Date.now() });
        return;
      case 'joined':
        return this.joined(f, replica);
      case 'message': {
        const r = this.rooms.get(f.room);
        if (r) recordMessage(r, f, 'live', replica);
        return;
      }
      case 'event': {
        const r = this.rooms.get(f.room);
        if (r) recordEvent(r, f);
        return;
      }
      case 'ack':
        return this.outbox.ack(f);
      case 'error': {
        const code = String(f.code);
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
        this.outbox.error(f);
        return;
      }
      default:
        return; // presence, typing, pong, left
    }
  }

  private joined(f: Frame, replica: string): void {
    const r = this.rooms.get(f.room);
    if (!r) return;
    const since = this.sinceSent.get(f.room) ?? null;
    this.sinceSent.delete(f.room);
    // The connection hands a `joined` on with gap:true when it answered recovered:false to a
    // `since` (no REST history given to it to fill the gap from).
    if (since && f.gap === true) {
      this.gaps.push({ room: r.name, since, replica, at: Date.now(), why: 'recovered:false' });
    } else if (since) {
      r.resumes++;
    }
    recordBacklog(r, f, replica);
    r.live = true;
    r.joins++;
    this.outbox.flush(r.name);
  }
}
