// The chaos client's outbox: the SDK's (sdk/src/outbox.js — every send, edit, delete, reaction
// and thread reply under its own cid, re-sent with the SAME cid until the server answers it for
// good: after a reconnect, after `internal` / `overloaded` / `rate_limited` with backoff, after
// `not_joined`, after an ack timeout on a live socket), plus the ledger the tests read: every ack
// (cid -> id, the replica that acked it), cids acked twice with different ids, refusals and
// failures.
import { Outbox as SdkOutbox, type OutboxError } from '../../sdk/src/index.js';
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
  rejoin(room: string): void;
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
  /** Acks with duplicate:true: a re-send of a message the server had already accepted. */
  duplicateAcks = 0;

  private readonly sdk: SdkOutbox;
  /** cid -> where and when its (first) ack arrived: the ledger is written when the promise settles. */
  private readonly ackedOn = new Map<string, { replica: string; at: number; id: string | null }>();

  constructor(
    private readonly user: string,
    private readonly link: OutboxLink,
    retry: { baseMs: number; maxMs: number },
    ackTimeoutMs: number,
  ) {
    this.sdk = new SdkOutbox({ canSend: link.canSend, send: (f) => link.send(f), rejoin: link.rejoin }, { retry, ackTimeoutMs });
  }

  /** Entries neither acked nor failed yet. */
  get size(): number {
    return this.sdk.size;
  }
  get resends(): number {
    return this.sdk.resends;
  }
  get ackTimeouts(): number {
    return this.sdk.ackTimeouts;
  }

  add(body: ChangeBody, cid: string): void {
    this.sdk.submit({ ...body, cid } as never).then(
      () => this.record(body, cid),
      (err: OutboxError) => this.refuse(body, cid, err),
    );
  }

  /** The room was joined: its queued entries go out, oldest first. */
  flush(room: string): void {
    this.sdk.flush(room);
  }

  /** The socket closed: what was in flight on it goes out again (same cid) after the next join. */
  requeueInflight(): void {
    this.sdk.requeueInflight();
  }

  ack(f: Frame): void {
    const cid = String(f.cid);
    if (f.duplicate === true) this.duplicateAcks++;
    const id = f.unchanged === true ? null : String(f.id);
    const first = this.ackedOn.get(cid);
    if (first) {
      if (first.id !== id) this.ackConflicts.push(`${cid}: ${first.id} then ${id}`);
      return;
    }
    this.ackedOn.set(cid, { replica: this.link.replica(), at: Date.now(), id });
    this.sdk.handle(f as never);
  }

  /** An `error` frame: false when its `ref` names no entry (then it answers a join). */
  error(f: Frame): boolean {
    return this.sdk.handle(f as never);
  }

  /** Everything acked, sends and changes, for message-state.ts ackedModel. */
  accepted(): AckedChange[] {
    return [...[...this.acks.values()].map((a) => ({ user: a.user, cid: a.cid, body: a.body, id: a.id })), ...this.changeAcks.values()];
  }

  /** Clears every retry timer (the client stops for good); what is pending stays unanswered. */
  stop(): void {
    this.sdk.stop();
  }

  private record(body: ChangeBody, cid: string): void {
    const on = this.ackedOn.get(cid)!;
    if (body.type === 'send') this.acks.set(cid, { user: this.user, cid, room: body.room, id: on.id!, replica: on.replica, at: on.at, body });
    else this.changeAcks.set(cid, { user: this.user, cid, body, id: on.id, replica: on.replica, at: on.at });
  }

  private refuse(body: ChangeBody, cid: string, err: OutboxError): void {
    if (err.code === 'stopped') return;
    // A change (or a thread reply) whose target was deleted meanwhile: answered for good.
    if (err.code === 'not_found' && (body.type !== 'send' || body.replyTo !== undefined)) this.refused.push({ cid, body });
    else this.failed.push({ cid, code: err.code, message: err.message });
  }
}
