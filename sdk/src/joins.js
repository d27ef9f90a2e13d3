// Which answer belongs to which `join` (connection.js). A socket's frames are answered in the order
// sent and each join gets exactly one answer: `joined`, or an error that names its `room`
// (forbidden, rate_limited, bad_request, internal — PROTOCOL.md `join`). Errors that name no
// room still exist: the frame budget's rate_limited, and every refusal of a server from before
// rooms were named, which the order alone has to tell. Pure bookkeeping, one connection's worth.

// Tries of one room's join refused for now (rate_limited, internal) on one connection.
export const JOIN_RETRIES = 3;

export class JoinAnswers {
  constructor() {
    this.pending = new Map(); // room -> the `since` sent with its latest join, in the order sent
    this.tries = new Map(); // room -> joins of it refused for now on this connection
    this.namesRooms = false; // this server names the room of a refused join
  }

  /** A new connection: nothing sent on it yet, and perhaps another server version. */
  reset() {
    this.pending.clear();
    this.tries.clear();
    this.namesRooms = false;
  }

  sent(room, since) {
    this.pending.set(room, since || null);
  }

  forget(room) {
    this.pending.delete(room);
  }

  /**
   * The `joined` of `room`: the `since` its join was sent with, and the joins sent before it
   * that are still waiting — answered before it, in order, by an error that named no room.
   */
  joined(room) {
    const since = this.pending.get(room) || null;
    const unanswered = [];
    if (this.pending.has(room)) {
      for (const earlier of this.pending.keys()) {
        if (earlier === room) break;
        unanswered.push(earlier);
      }
    }
    for (const r of unanswered) this.pending.delete(r);
    this.pending.delete(room);
    this.tries.delete(room);
    return { since, unanswered };
  }

  /**
   * An error frame: null when it answers no join; else `{ room, forbidden }`. A server that names
   * rooms is believed (for a room whose join is waiting); one that does not yet is guessed from the order (a `forbidden` without
   * ref answers the oldest join still waiting) — never again once it named one, so an unrelated
   * room-less error (an `auth` token of another user) cannot be taken for a join's.
   */
  refusal(frame) {
    if (!frame || frame.ref) return null;
    if (typeof frame.room === 'string' && frame.room) {
      this.namesRooms = true;
      // Other frames' refusals name their room too (a `read`'s not_found): not a join's answer.
      if (!this.pending.has(frame.room)) return null;
      this.pending.delete(frame.room);
      return { room: frame.room, forbidden: frame.code === 'forbidden' };
    }
    if (this.namesRooms || frame.code !== 'forbidden' || this.pending.size === 0) return null;
    const room = this.pending.keys().next().value;
    this.pending.delete(room);
    return { room, forbidden: true };
  }

  /**
   * Whether a join refused for now is worth sending again, and after how long (ms):
   * - rate_limited (the join/leave budget) after its retryAfterMs, at most JOIN_RETRIES times per
   *   room and connection — a client that keeps being told to slow down stops asking;
   * - internal (the replica could not reach Redis) after `backoff(try)`, for as long as the
   *   connection lives: a Redis restart can outlast any small number of tries, and a room that
   *   silently stays unjoined would lose its live messages until the next reconnect.
   * null: not (bad_request — too many rooms on this socket — stays refused).
   */
  retryDelay(room, frame, backoff) {
    if (frame.code !== 'rate_limited' && frame.code !== 'internal') return null;
    const tries = (this.tries.get(room) || 0) + 1;
    this.tries.set(room, tries);
    if (frame.code === 'rate_limited' && tries > JOIN_RETRIES) return null;
    const wait = frame.code === 'rate_limited' ? Number(frame.retryAfterMs) || 1000 : backoff(tries);
    return Math.max(100, Math.min(wait, 60_000));
  }
}
