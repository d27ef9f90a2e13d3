// Read receipts ("Seen", "Seen by Bob, Carol +2"): the other members' read positions in the room
// on screen — GET /api/rooms/:room/reads when it is opened (and after a reconnect: `receipt`
// frames are not replayed on resume), then live `receipt` frames (PROTOCOL.md). Only DMs, groups
// and rooms with at most RECEIPTS_MAX_MEMBERS members have them (the REST answer says
// `receipts:false` otherwise, and no frames come). The line goes under MY newest message that
// someone else has read (their position at or after it: ids order like seqs).
import { compareIds } from './ids.js';
import { STRINGS } from './strings.js';

const NAMES_SHOWN = 3;
const RECEIPTS_MAX_MEMBERS = 20; // the server's default: bigger rooms are not asked

const validRead = (x) => !!x && !!x.user && typeof x.user.id === 'string' && typeof x.id === 'string' && /^\d+-\d+$/.test(x.id);

/**
 * The line to show in room record `r`: { id (my message), text } or null. `reads`: user id ->
 * { user: {id, name}, id } of the others; `nameOf(user)`: how a reader is written.
 */
export function seenLineFor(r, reads, meId, nameOf = (u) => u.name) {
  if (!r || !reads || reads.size === 0 || !meId) return null;
  let furthest = null;
  for (const x of reads.values()) if (x.user.id !== meId && (!furthest || compareIds(x.id, furthest) > 0)) furthest = x.id;
  if (!furthest) return null;
  for (let i = r.ids.length - 1; i >= 0; i--) {
    const id = r.ids[i];
    const m = r.msgs.get(id);
    if (!m || m.user.id !== meId || m.deleted || compareIds(furthest, id) < 0) continue;
    const readers = [...reads.values()].filter((x) => x.user.id !== meId && compareIds(x.id, id) >= 0);
    // Furthest readers first (the REST order), then by name: a stable line.
    readers.sort((a, b) => compareIds(b.id, a.id) || a.user.name.localeCompare(b.user.name));
    if (r.kind === 'dm') return { id, text: STRINGS.attention.seen };
    const names = readers.slice(0, NAMES_SHOWN).map((x) => nameOf(x.user));
    return { id, text: STRINGS.attention.seenBy(names, readers.length - names.length) };
  }
  return null;
}

/** @param o.nameOf (user) => the name to show (display name, "Deleted user"); the username by default */
export function createReceipts({ store, api, onChange, nameOf }) {
  const rooms = new Map(); // room -> Map user id -> { user, id }
  const meId = () => (store.state.me ? store.state.me.id : null);

  function put(map, x) {
    const had = map.get(x.user.id);
    if (had && compareIds(had.id, x.id) >= 0) return false;
    map.set(x.user.id, { user: { id: x.user.id, name: String(x.user.name || x.user.id) }, id: x.id });
    return true;
  }

  return {
    /** The room was opened (or the connection came back while it is on screen). */
    async load(room) {
      const r = store.state.rooms.get(room);
      if (!r || (r.kind !== 'dm' && r.kind !== 'group' && Number.isInteger(r.memberCount) && r.memberCount > RECEIPTS_MAX_MEMBERS)) return;
      let res;
      try {
        res = await api.reads(room);
      } catch {
        return; // no receipts shown: nothing else depends on them
      }
      if (!res || res.receipts !== true) {
        if (rooms.delete(room)) onChange(room);
        return;
      }
      // Frames that arrived while the request was out are newer than it (max per user).
      const map = rooms.get(room) || new Map();
      for (const x of Array.isArray(res.reads) ? res.reads : []) if (validRead(x) && x.user.id !== meId()) put(map, x);
      rooms.set(room, map);
      onChange(room);
    },
    /** A `receipt` frame; my own (another device of mine) is not a receipt for me. */
    applyFrame(f) {
      if (!validRead(f) || typeof f.room !== 'string' || f.user.id === meId()) return;
      let map = rooms.get(f.room);
      if (!map) rooms.set(f.room, (map = new Map()));
      if (put(map, f)) onChange(f.room);
    },
    line(room) {
      return seenLineFor(store.state.rooms.get(room), rooms.get(room), meId(), nameOf);
    },
    reset() {
      rooms.clear();
    },
  };
}
