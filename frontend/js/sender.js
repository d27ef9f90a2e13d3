// Sending messages with an outbox: optimistic (shown as "Sending…" at once), the same cid on
// every resend (the server dedups it), sent when the room is live and again after every
// (re)join, failed with a reason the user can act on (Retry / Discard). Thread replies go the
// same way with `replyTo`. The composer a message was typed in shows its send errors.
// A `rate_limited` refusal starts a cooldown (cooldown.js) instead of failing the message: it
// and everything sent in that room meanwhile wait ('queued', with a live countdown) and go out
// after it in the order they were typed, ONE AT A TIME (a burst would be refused again, and a
// refusal in the middle of a burst is what reorders messages). Retries queue the same way.
import { newCid } from './ids.js';
import { fillFromFrame } from './message-state.js';
import { overloadedRetryDelay } from './socket.js';
import { cooldowns as sharedCooldowns } from './cooldown.js';
import { countdownEl, formatWait } from './ui/countdown.js';
import { formatTime } from './ui/format.js';
import { STRINGS } from './strings.js';
import { FILES } from './strings-files.js';

const ACK_TIMEOUT_MS = 15_000;
// Longer waits (the new-room cap is per hour) fail the message with a countdown instead: the
// user decides whether it is still worth sending then.
const QUEUE_MAX_WAIT_MS = 2 * 60_000;

/** What each send limit means to the user (the `limit` of a rate_limited error). */
const RATE_LIMIT_REASONS = {
  room: 'you are sending too fast',
  account: 'you have sent a lot in the last minute, across all rooms',
  new_rooms: 'you have started many new rooms this hour',
};

/**
 * @param o.composerFor (p) => the composer of an outbox entry (the room's or its thread's)
 */
export function createSender({ store, getSocket, composerFor, cooldowns = sharedCooldowns }) {
  const ackTimers = new Map();
  const overloadTimers = new Map(); // cid -> timer of the next re-send after `overloaded`
  const draining = new Map(); // room -> cid of the queued send that is out now
  const noticed = new Map(); // room -> composers showing its rate-limit notice

  function clearAckTimer(cid) {
    clearTimeout(ackTimers.get(cid));
    ackTimers.delete(cid);
  }

  /** Sends (or re-sends, same cid) one outbox entry if the room is live; else it waits. */
  function resend(p) {
    const socket = getSocket();
    if (!socket || store.state.outbox.get(p.cid) !== p || p.state !== 'pending') return;
    const r = store.state.rooms.get(p.room);
    if (!r || !r.live) return; // flush sends it once the room is (re)joined
    const frame = { type: 'send', room: p.room, text: p.text, cid: p.cid };
    if (p.replyTo) frame.replyTo = p.replyTo;
    // The same upload ids on every re-send (the server dedups the cid before it looks at them).
    if (p.attachments && p.attachments.length) frame.attachments = p.attachments.map((a) => a.id);
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

  // --- the queue of a room under (or just out of) a cooldown --------------------------------

  const queuedIn = (room) => [...store.state.outbox.values()].filter((p) => p.room === room && p.state === 'queued');

  /** The queued send out now in `room`, if it is still waiting for its answer. */
  function inFlight(room) {
    const p = store.state.outbox.get(draining.get(room));
    if (p && p.state === 'pending') return p;
    draining.delete(room);
    return null;
  }

  const mustWait = (room) => cooldowns.remaining(room) > 0 || !!inFlight(room) || queuedIn(room).length > 0;

  /** Sends the oldest queued message of `room` once nothing holds it back. */
  function pump(room) {
    if (cooldowns.remaining(room) === 0 && !inFlight(room)) {
      const next = queuedIn(room)[0];
      if (next) {
        draining.set(room, next.cid);
        store.markPending(next.cid);
        resend(next);
      }
    }
    updateNotice(room);
  }

  function pumpAll() {
    const rooms = new Set([...draining.keys(), ...noticed.keys()]);
    for (const p of store.state.outbox.values()) if (p.state === 'queued') rooms.add(p.room);
    for (const room of rooms) pump(room);
  }

  /** Puts `p` in its room's queue (it keeps its place: the outbox is in the order typed). */
  function enqueue(p) {
    clearTimeout(overloadTimers.get(p.cid));
    overloadTimers.delete(p.cid);
    clearAckTimer(p.cid);
    store.markQueued(p.cid);
    pump(p.room);
  }

  /** The composers that saw a send of `room` refused say so while its cooldown or queue lasts. */
  function updateNotice(room) {
    const composers = noticed.get(room);
    if (!composers) return;
    if (mustWait(room)) return;
    noticed.delete(room);
    for (const c of composers) c.setNotice(room, null);
  }

  function notice(p) {
    const c = composerFor(p);
    let composers = noticed.get(p.room);
    if (!composers) noticed.set(p.room, (composers = new Set()));
    if (composers.has(c)) return;
    composers.add(c);
    c.setNotice(p.room, () => [
      'Slow down: you can send again ',
      countdownEl({ room: p.room }),
      '. What you send meanwhile waits and goes out in order.',
    ]);
  }

  function rateLimited(p, f) {
    const wait = Math.max(0, Number(f.retryAfterMs) || 1000);
    // The server names the limit that refused the send (protocol.ts, `limit`); none is the
    // per-socket frame budget, which holds back every room like the account-wide one.
    const why = RATE_LIMIT_REASONS[f.limit] || RATE_LIMIT_REASONS.room;
    if (wait > QUEUE_MAX_WAIT_MS) {
      if (draining.get(p.room) === p.cid) draining.delete(p.room);
      store.markFailed(p.cid, why, Date.now() + wait);
      composerFor(p).showError(`Not sent: ${why}. You can send again in ${formatWait(wait)}.`);
      pump(p.room);
      return;
    }
    cooldowns.start(f.limit === 'room' || f.limit === 'new_rooms' ? p.room : '*', wait);
    if (draining.get(p.room) === p.cid) draining.delete(p.room);
    enqueue(p);
    notice(p);
  }

  // A cooldown ending, a send answered, delivered or discarded: the next queued one may go.
  cooldowns.subscribe(() => pumpAll());
  store.subscribe((topics) => {
    if (topics.has('outbox') || topics.has('all')) pumpAll();
  });

  return {
    /** A new message (or thread reply) typed by the user, with its uploaded files (attachments.js
     *  items' `attachment`); false when it cannot be queued. */
    send(room, text, replyTo = null, attachments = []) {
      if (!room || !getSocket()) return false;
      const wait = mustWait(room);
      const p = store.addPending(room, text, newCid(), replyTo);
      if (attachments.length) p.attachments = attachments;
      if (wait) enqueue(p);
      else resend(p);
      return true;
    },
    resend,
    /** After (re)joining a room: send everything still pending there, oldest first. */
    flush(room) {
      for (const p of store.state.outbox.values()) {
        if (p.room === room && p.state === 'pending' && !overloadTimers.has(p.cid)) resend(p);
      }
      pump(room);
    },
    /** Retry (a failed message): it queues behind what waits in its room and goes in order. */
    retry(cid) {
      const p = store.state.outbox.get(cid);
      if (!p || p.state !== 'failed') return p || null;
      enqueue(p);
      return p;
    },
    /** An ack of a send; returns the outbox entry it confirmed, or null. */
    onAck(f) {
      clearAckTimer(f.cid);
      clearTimeout(overloadTimers.get(f.cid));
      overloadTimers.delete(f.cid);
      const p = store.applyAck(f);
      if (p) composerFor(p).clearError();
      // The message the ack made shows its files at once, not when its own frame comes back.
      const m = p && p.attachments && store.state.rooms.get(p.room)?.msgs.get(f.id);
      if (m) fillFromFrame(m, p);
      return p;
    },
    /** An error frame about one of our sends: true when handled. */
    onError(f) {
      const p = f.ref ? store.state.outbox.get(f.ref) : null;
      if (!p) return false;
      clearAckTimer(p.cid);
      const composer = composerFor(p);
      switch (f.code) {
        case 'rate_limited':
          rateLimited(p, f);
          return true;
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
        case 'muted': {
          // A moderator muted us here: not retried (unlike rate_limited) — it fails with the time
          // it ends, and the composer says so until then (room-header.js).
          const until = Date.now() + Math.max(0, Number(f.retryAfterMs) || 0);
          store.setMutedUntil(p.room, until);
          store.markFailed(p.cid, STRINGS.rooms.mutedFailed(formatTime(until)), until);
          return true;
        }
        case 'not_joined': {
          const socket = getSocket();
          if (socket) socket.join(p.room); // flush runs again on `joined`
          return true;
        }
        case 'bad_attachment':
          // An upload that is gone (collected) or already in another message: a retry cannot help.
          store.markFailed(p.cid, FILES.badAttachment);
          return true;
        case 'not_found':
          // A reply whose parent was deleted (or is too old) meanwhile.
          store.markFailed(p.cid, p.replyTo ? 'the message you replied to was deleted' : f.message || 'not found');
          return true;
        default:
          store.markFailed(p.cid, f.message || f.code || 'error');
          return true;
      }
    },
    /** Sign-out: stop every timer, forget every cooldown and queue. */
    stop() {
      for (const t of ackTimers.values()) clearTimeout(t);
      ackTimers.clear();
      for (const t of overloadTimers.values()) clearTimeout(t);
      overloadTimers.clear();
      draining.clear();
      for (const [room, composers] of noticed) for (const c of composers) c.setNotice(room, null);
      noticed.clear();
      cooldowns.clear();
    },
  };
}
