// The chaos client's outbox: every send, edit, delete, reaction and thread reply is an entry
// under its own cid, sent when its room is live on the current connection and sent again with
// the SAME cid until the server answers it for good (the server's idempotency answers a re-sent
// cid with the original id):
// - after every (re)join of its room (in flight on a socket that died: maybe accepted, maybe not);
// - after an `internal` / `overloaded` / `rate_limited` error, with backoff;
// - when a live socket leaves it unanswered too long (counted: it should not happen).
// It also keeps the ledger the tests read: every ack (cid -> id, the replica that acked it),
// cids acked twice with different ids, refusals and failures.
import { retryDelay } from './client-backoff.js';
import type { AckedChange, ChangeBody } from './message-state.js';

type Frame = Record<string, any>;

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

/** What the outbox needs of the connection it sends on. */
export interface OutboxLink {
  /** The connection said hello and `room` is joined on it: a send may go out. */
  canSend(room: string): boolean;
  /** Writes one frame on the current socket; false when none is open. */
  send(frame: unknown): boolean;
  /** The replica of the current connection, '?' between connections. */
  replica(): string;
  /** The server says `room` is not joined on this connection: join it again. */
  notJoined(room: string): void;
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

export class Outbox {
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
  /** Sends refused for good (a code that is not retried): the test fails on these. */
  readonly failed: { cid: string; code: string; message: string }[] = [];
  resends = 0;
  ackTimeouts = 0;
  /** Acks with duplicate:true: a re-send of a message the server had already accepted. */
  duplicateAcks = 0;

  /** cid -> entry not answered for good yet, oldest first. */
  private readonly entries = new Map<string, OutboxEntry>();

  constructor(
    private readonly user: string,
    private readonly link: OutboxLink,
    private readonly retry: { baseMs: number; maxMs: number },
  ) {}

  /** Entries neither acked nor failed yet. */
  get size(): number {
    return this.entries.size;
  }

  add(body: ChangeBody, cid: string): void {
    const e: OutboxEntry = { cid, room: body.room, body, state: 'queued', attempts: 0, sentAt: 0 };
    this.entries.set(cid, e);
    this.trySend(e);
  }

  /** The room was joined: its queued entries go out, oldest first (those waiting on a retry timer keep waiting). */
  flush(room: string): void {
    for (const e of this.entries.values()) if (e.room === room && e.state === 'queued') this.trySend(e);
  }

  /**
   * The socket closed: what was in flight on it may or may not have been accepted, so it goes
   * out again (same cid) after the next join.
   */
  requeueInflight(): void {
    for (const e of this.entries.values()) if (e.state === 'inflight') e.state = 'queued';
  }

  /** Sends again what a live socket left unanswered longer than `ackTimeoutMs` (the server answers every one). */
  resendOverdue(now: number, ackTimeoutMs: number): void {
    for (const e of this.entries.values()) {
      if (e.state === 'inflight' && now - e.sentAt > ackTimeoutMs) {
        this.ackTimeouts++;
        e.state = 'queued';
        this.trySend(e);
      }
    }
  }

  ack(f: Frame): void {
    const cid = String(f.cid);
    const e = this.entries.get(cid);
    const prev = this.acks.get(cid);
    if (f.duplicate === true) this.duplicateAcks++;
    if (e && e.body.type !== 'send') {
      const id = f.unchanged === true ? null : String(f.id);
      const before = this.changeAcks.get(cid);
      if (before && before.id !== id) this.ackConflicts.push(`${cid}: ${before.id} then ${id}`);
      if (!before) this.changeAcks.set(cid, { user: this.user, cid, body: e.body, id, replica: this.link.replica(), at: Date.now() });
    } else if (prev) {
      if (prev.id !== f.id) this.ackConflicts.push(`${cid}: ${prev.id} then ${String(f.id)}`);
    } else if (e) {
      this.acks.set(cid, { user: this.user, cid, room: e.room, id: String(f.id), replica: this.link.replica(), at: Date.now(), body: e.body });
    }
    if (e) {
      if (e.timer) clearTimeout(e.timer);
      this.entries.delete(cid);
    }
  }

  /** An `error` frame: false when its `ref` names no entry (then it answers a join). */
  error(f: Frame): boolean {
    const e = typeof f.ref === 'string' ? this.entries.get(f.ref) : undefined;
    if (!e) return false;
    const code = String(f.code);
    switch (code) {
      case 'internal':
      case 'overloaded':
      case 'rate_limited': {
        // Not accepted (or not known to be): re-send with the same cid after a backoff.
        e.state = 'waiting';
        const delay = retryDelay(this.retry.baseMs, this.retry.maxMs, e.attempts, f.retryAfterMs);
        if (e.timer) clearTimeout(e.timer);
        e.timer = setTimeout(() => {
          e.timer = undefined;
          if (!this.entries.has(e.cid)) return;
          e.state = 'queued';
          this.trySend(e);
        }, delay);
        return true;
      }
      case 'not_found':
        // A change (or a thread reply) whose target was deleted meanwhile: answered for good.
        if (e.body.type !== 'send' || e.body.replyTo !== undefined) {
          if (e.timer) clearTimeout(e.timer);
          this.refused.push({ cid: e.cid, body: e.body });
          this.entries.delete(e.cid);
          return true;
        }
        this.failed.push({ cid: e.cid, code, message: String(f.message) });
        this.entries.delete(e.cid);
        return true;
      case 'not_joined':
        e.state = 'queued'; // goes out again after the next `joined`
        this.link.notJoined(e.room);
        return true;
      default:
        this.failed.push({ cid: e.cid, code, message: String(f.message) });
        this.entries.delete(e.cid);
        return true;
    }
  }

  /** Everything acked, sends and changes, for message-state.ts ackedModel. */
  accepted(): AckedChange[] {
    return [...[...this.acks.values()].map((a) => ({ user: a.user, cid: a.cid, body: a.body, id: a.id })), ...this.changeAcks.values()];
  }

  /** Clears every retry timer (the client stops for good). */
  stop(): void {
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
  }

  private trySend(e: OutboxEntry): void {
    if (e.state !== 'queued' || !this.link.canSend(e.room)) return;
    if (!this.link.send({ ...e.body, cid: e.cid })) return;
    if (e.attempts > 0) this.resends++;
    e.attempts++;
    e.state = 'inflight';
    e.sentAt = Date.now();
  }
}
