// Sending messages with an outbox: optimistic (shown as "Sending…" at once), the same cid on
// every resend (the server dedups it), sent when the room is live and again after every
// (re)join, failed with a reason the user can act on (Retry / Discard). Thread replies go the
// same way with `replyTo`. The composer a message was typed in shows its send errors.
import { newCid } from './ids.js';
import { overloadedRetryDelay } from './socket.js';

const ACK_TIMEOUT_MS = 15_000;

/** What each send limit means to the user (the `limit` of a rate_limited error). */
const RATE_LIMIT_REASONS = {
  room: 'you are sending too fast',
  account: 'you have sent a lot in the last minute, across all rooms',
  new_rooms: 'you have started many new rooms this hour',
};

/**
 * @param o.composerFor (p) => the composer of an outbox entry (the room's or its thread's)
 */
export function createSender({ store, getSocket, composerFor }) {
  const ackTimers = new Map();
  const overloadTimers = new Map(); // cid -> timer of the next re-send after `overloaded`

  function clearAckTimer(cid) {
    clearTimeout(ackTimers.get(cid));
    ackTimers.delete(cid);
  }

  /** Sends (or re-sends, same cid) one outbox entry if the room is live; else it waits. */
  function resend(p) {
    const socket = getSocket();
    if (!socket || !store.state.outbox.has(p.cid)) return;
    const r = store.state.rooms.get(p.room);
    if (!r || !r.live) return; // flush sends it once the room is (re)joined
    const frame = { type: 'send', room: p.room, text: p.text, cid: p.cid };
    if (p.replyTo) frame.replyTo = p.replyTo;
    if (!socket.send(frame)) return;
    store.markSent(p.cid);
    clearAckTimer(p.cid);
    ackTimers.set(
      p.cid,
      setTimeout(() => {
        ackTimers.delete(p.cid);
        // Connected but unanswered: let the user retry (the same cid keeps it single).
        const s = getSocket();
        if (s && s.connected) store.markFailed(p.cid, 'no answer from the server');
      }, ACK_TIMEOUT_MS),
    );
  }

  return {
    /** A new message (or thread reply) typed by the user; false when it cannot be queued. */
    send(room, text, replyTo = null) {
      if (!room || !getSocket()) return false;
      resend(store.addPending(room, text, newCid(), replyTo));
      return true;
    },
    resend,
    /** After (re)joining a room: send everything still pending there, oldest first. */
    flush(room) {
      for (const p of store.state.outbox.values()) {
        if (p.room === room && p.state === 'pending' && !overloadTimers.has(p.cid)) resend(p);
      }
    },
    retry(cid) {
      clearTimeout(overloadTimers.get(cid));
      overloadTimers.delete(cid);
      const p = store.markPending(cid);
      if (p) resend(p);
      return p;
    },
    /** An ack of a send; returns the outbox entry it confirmed, or null. */
    onAck(f) {
      clearAckTimer(f.cid);
      clearTimeout(overloadTimers.get(f.cid));
      overloadTimers.delete(f.cid);
      const p = store.applyAck(f);
      if (p) composerFor(p).clearError();
      return p;
    },
    /** An error frame about one of our sends: true when handled. */
    onError(f) {
      const p = f.ref ? store.state.outbox.get(f.ref) : null;
      if (!p) return false;
      clearAckTimer(p.cid);
      const composer = composerFor(p);
      switch (f.code) {
        case 'rate_limited': {
          const secs = Math.max(1, Math.ceil((f.retryAfterMs || 1000) / 1000));
          // The server names the limit that refused the send (protocol.ts, `limit`).
          const why = RATE_LIMIT_REASONS[f.limit] || RATE_LIMIT_REASONS.room;
          store.markFailed(p.cid, `${why} — try again in ${secs} s`);
          composer.showError(`Slow down: you can send again in ${secs} s.`, { autoHideMs: secs * 1000 + 500 });
          return true;
        }
        case 'too_long':
          store.markFailed(p.cid, 'message too long (4,000 characters at most)');
          composer.showError(f.message || 'too long');
          return true;
        case 'overloaded': {
          // The server asks us to come back later: keep it pending and resend (same cid) with a
          // per-message exponential backoff (capped at 30 s) that honours retryAfterMs.
          const retries = p.overloadedRetries || 0;
          const p2 = store.markPending(p.cid);
          if (p2) {
            p2.overloadedRetries = retries + 1;
            p2.note = 'Server busy — retrying…';
            clearTimeout(overloadTimers.get(p2.cid));
            overloadTimers.set(
              p2.cid,
              setTimeout(() => {
                overloadTimers.delete(p2.cid);
                resend(p2);
              }, overloadedRetryDelay(retries, Number(f.retryAfterMs))),
            );
          }
          return true;
        }
        case 'not_joined': {
          const socket = getSocket();
          if (socket) socket.join(p.room); // flush runs again on `joined`
          return true;
        }
        case 'not_found':
          // A reply whose parent was deleted (or is too old) meanwhile.
          store.markFailed(p.cid, p.replyTo ? 'the message you replied to was deleted' : f.message || 'not found');
          return true;
        default:
          store.markFailed(p.cid, f.message || f.code || 'error');
          return true;
      }
    },
    /** Sign-out: stop every timer. */
    stop() {
      for (const t of ackTimers.values()) clearTimeout(t);
      ackTimers.clear();
      for (const t of overloadTimers.values()) clearTimeout(t);
      overloadTimers.clear();
    },
  };
}
