// Tells the server what I have read (PROTOCOL.md `read`): when the room on screen shows its
// newest top-level message — the tab visible, the list scrolled to the bottom, the message's
// element rendered — `{"type":"read","room","id"}` goes out for it. At most one per room per
// second, and only forward: the position moves here at once (the badge clears without waiting),
// and the frame follows when the room's second is up — also after the user moved to another room
// (it was seen). A read the socket could not send waits for the room's next `joined`.
// The server answers nothing on success (my devices get a `read` frame); a refusal is an `error`
// naming the room, which `ownsError` recognises so it is not shown to the user.
import { isRead } from './read-state.js';

export const READ_INTERVAL_MS = 1000;
const ERROR_WINDOW_MS = 10_000;
const READ_ERRORS = new Set(['not_found', 'bad_request', 'overloaded', 'internal', 'not_joined', 'rate_limited']);

export function createReadMarker({ store, getSocket, isShown, atBottom, visible = () => document.visibilityState === 'visible', onSeen = () => {} }) {
  const pending = new Map(); // room -> id to send
  const lastSent = new Map(); // room -> ms of the last read frame sent
  const timers = new Map(); // room -> timer of its next allowed send
  let checkQueued = false;

  function send(room) {
    timers.delete(room);
    const id = pending.get(room);
    if (!id) return;
    const socket = getSocket();
    const r = store.state.rooms.get(room);
    if (!r || !r.joined) return void pending.delete(room);
    const wait = (lastSent.get(room) || 0) + READ_INTERVAL_MS - Date.now();
    if (wait > 0) {
      timers.set(room, setTimeout(() => send(room), wait));
      return;
    }
    // Only on a connection that joined the room (else `not_joined`): `flush` retries at `joined`.
    if (!socket || !r.live || !socket.send({ type: 'read', room, id })) return;
    pending.delete(room);
    lastSent.set(room, Date.now());
  }

  function queue(room, id) {
    pending.set(room, id);
    if (!timers.has(room)) send(room);
  }

  /** Marks the room on screen read when its newest message is on screen. */
  function check() {
    checkQueued = false;
    const room = store.state.current;
    const me = store.state.me;
    if (!room || !me || !visible() || !atBottom()) return;
    const r = store.state.rooms.get(room);
    // Not before the position is known: the divider is placed from it when the room opens.
    if (!r || !r.joined || !(store.state.countsLoaded || r.known) || r.ids.length === 0) return;
    const id = r.ids[r.ids.length - 1];
    const m = r.msgs.get(id);
    if (!m || isRead(r, id, m.seq) || !isShown(id)) return;
    store.markSeen(room, id, m.seq);
    onSeen(room);
    // My own message moved my position already (the server does that on its own).
    if (m.user.id !== me.id) queue(room, id);
  }

  /** Checks after the current turn (several triggers of one change coalesce). */
  function checkSoon() {
    if (checkQueued) return;
    checkQueued = true;
    queueMicrotask(check);
  }

  return {
    check,
    checkSoon,
    /** The room was joined on the current connection: a read that could not go out goes now. */
    flush(room) {
      if (pending.has(room) && !timers.has(room)) send(room);
    },
    /** An error frame answering one of our reads (the room is named, no ref): true when ours. */
    ownsError(f) {
      if (!f || f.ref || typeof f.room !== 'string' || !READ_ERRORS.has(f.code)) return false;
      return Date.now() - (lastSent.get(f.room) || 0) < ERROR_WINDOW_MS;
    },
    stop() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      pending.clear();
      lastSent.clear();
    },
  };
}
