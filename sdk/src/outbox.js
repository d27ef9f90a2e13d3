// Sends and changes (send, edit, delete, react) that are not answered for good yet, each under
// its own cid, re-sent with the SAME cid until the server answers — safe because the server
// answers a cid it has already accepted with the original id (`duplicate: true`). An entry:
// - goes out when its room is joined on the current connection (`flush` after every `joined`);
// - goes out again after a reconnect when it was in flight on a socket that died (maybe
//   accepted, maybe not: `requeueInflight`);
// - goes out again after `internal` / `overloaded` / `rate_limited`, with exponential backoff
//   and full jitter, never sooner than the server's retryAfterMs (timing.js);
// - after `not_joined`, waits for the room's next `joined`;
// - goes out again when a live socket leaves it unanswered for `ackTimeoutMs` (a server answers
//   every frame; this only guards against a half-dead socket the ping has not caught yet).
// Everything else (too_long, forbidden, not_found, muted, …) rejects its promise for good with
// an OutboxError carrying the server's code.
import { newCid } from './ids.js';
import { overloadedRetryDelay } from './timing.js';

export class OutboxError extends Error {
  constructor(code, message, frame) {
    super(message);
    this.name = 'OutboxError';
    this.code = code;
    /** The server's error frame (retryAfterMs, limit…), or null for a local refusal. */
    this.frame = frame;
  }
}

const RETRY_LATER = new Set(['internal', 'overloaded', 'rate_limited']);

export class Outbox {
  /**
   * @param {object} link  what the outbox needs of the connection
   * @param {(room: string) => boolean} link.canSend  connected, and `room` joined on this connection
   * @param {(frame: object) => boolean} link.send    writes one frame now; false when no socket is open
   * @param {(room: string) => void} link.rejoin      the server says `room` is not joined: join it again
   * @param {object} [options]
   * @param {number} [options.ackTimeoutMs]
   * @param {{ baseMs: number, maxMs: number }} [options.retry]  backoff after internal/overloaded/
   *        rate_limited (default 1 s doubling to 30 s, full jitter, at least half the step)
   * @param {(entries: object[]) => void} [options.onChange]  the pending set changed (to persist it)
   */
  constructor(link, { ackTimeoutMs = 15_000, retry = { baseMs: 1_000, maxMs: 30_000 }, onChange = () => {} } = {}) {
    this.link = link;
    this.ackTimeoutMs = ackTimeoutMs;
    this.retry = retry;
    this.onChange = onChange;
    this.entries = new Map(); // cid -> entry, oldest first
    /** Frames sent again (same cid): after a reconnect, a retryable refusal or an ack timeout. */
    this.resends = 0;
    /** Entries a live socket left unanswered past ackTimeoutMs (should stay 0 against a healthy server). */
    this.ackTimeouts = 0;
    this.watchdog = null;
  }

  /**
   * Queues a client frame (send, edit, delete, react; `cid` added when absent) and resolves with
   * its ack frame ({cid,id,ts,duplicate?} or {cid,unchanged:true}).
   */
  submit(frame) {
    const cid = frame.cid || newCid();
    const existing = this.entries.get(cid);
    if (existing) return existing.promise;
    const entry = { cid, room: frame.room, frame: { ...frame, cid }, state: 'queued', attempts: 0, sentAt: 0, timer: null };
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    this.entries.set(cid, entry);
    this.changed();
    this.trySend(entry);
    this.armWatchdog();
    return entry.promise;
  }

  /** Frames not answered for good yet, oldest first. */
  pending() {
    return [...this.entries.values()].map((e) => e.frame);
  }

  get size() {
    return this.entries.size;
  }

  /** `room` was joined: its queued entries go out, oldest first. */
  flush(room) {
    for (const e of this.entries.values()) if (e.room === room && e.state === 'queued') this.trySend(e);
  }

  /** The socket closed: what was in flight on it goes out again (same cid) after the next join. */
  requeueInflight() {
    for (const e of this.entries.values()) if (e.state === 'inflight') e.state = 'queued';
  }

  /** An `ack` or `error` frame: true when it answered an entry of ours. */
  handle(frame) {
    if (frame.type === 'ack') return this.acked(frame);
    if (frame.type === 'error' && typeof frame.ref === 'string') return this.refused(frame);
    return false;
  }

  /** Rejects every entry (the client stops for good). */
  stop(reason = 'client stopped') {
    for (const e of this.entries.values()) {
      if (e.timer) clearTimeout(e.timer);
      e.reject(new OutboxError('stopped', reason, null));
    }
    this.entries.clear();
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.changed();
  }

  acked(frame) {
    const e = this.entries.get(frame.cid);
    if (!e) return false;
    this.settle(e);
    e.resolve(frame);
    return true;
  }

  refused(frame) {
    const e = this.entries.get(frame.ref);
    if (!e) return false;
    if (RETRY_LATER.has(frame.code)) {
      // Not accepted (or not known to be): the same cid again after a backoff.
      e.state = 'waiting';
      const delay = overloadedRetryDelay(e.attempts - 1, frame.retryAfterMs, Math.random, this.retry);
      if (e.timer) clearTimeout(e.timer);
      e.timer = setTimeout(() => {
        e.timer = null;
        if (!this.entries.has(e.cid)) return;
        e.state = 'queued';
        this.trySend(e);
      }, delay);
      return true;
    }
    if (frame.code === 'not_joined') {
      e.state = 'queued'; // out again after the room's next `joined`
      this.link.rejoin(e.room);
      return true;
    }
    this.settle(e);
    e.reject(new OutboxError(frame.code, frame.message, frame));
    return true;
  }

  settle(e) {
    if (e.timer) clearTimeout(e.timer);
    this.entries.delete(e.cid);
    this.changed();
    if (this.entries.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = null;
    }
  }

  trySend(e) {
    if (e.state !== 'queued' || !this.link.canSend(e.room)) return;
    if (!this.link.send(e.frame)) return;
    if (e.attempts > 0) this.resends++;
    e.attempts++;
    e.state = 'inflight';
    e.sentAt = Date.now();
  }

  armWatchdog() {
    if (this.watchdog) return;
    const every = Math.max(250, Math.floor(this.ackTimeoutMs / 3));
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const e of this.entries.values()) {
        if (e.state === 'inflight' && now - e.sentAt > this.ackTimeoutMs) {
          this.ackTimeouts++;
          e.state = 'queued';
          this.trySend(e);
        }
      }
    }, every);
    // Node: a pending send must not keep a finished script alive by this timer alone.
    if (typeof this.watchdog === 'object' && this.watchdog && typeof this.watchdog.unref === 'function') this.watchdog.unref();
  }

  changed() {
    this.onChange(this.pending());
  }
}
