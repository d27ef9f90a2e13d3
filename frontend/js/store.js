// Client state: the signed-in user, rooms (joined or merely listed), each room's messages by id
// (deduplicated, kept in numeric id order), older-history paging state, members, typing users,
// and the outbox of sends by cid (pending → sent on ack, or failed with a reason). The store
// knows nothing about the network or the DOM; it mutates and tells subscribers what changed.
import { compareIds, idTime } from './ids.js';

// Rooms are trimmed to this many messages: always when not on screen, and the room on screen
// too while its view is at the bottom (scrolling up pages the dropped ones in from REST again).
export const MAX_MESSAGES_PER_ROOM = 2000;
const TYPING_TTL_MS = 6_000;

function userOf(u) {
  if (!u) return null;
  if (typeof u === 'string') return { id: u, name: u };
  if (typeof u.id === 'string') return { id: u.id, name: String(u.name || u.username || u.id) };
  return null;
}

export function createStore() {
  const listeners = new Set();
  const state = {
    me: null,
    rooms: new Map(),
    current: null,
    connection: { state: 'idle' },
    outbox: new Map(), // cid -> { cid, room, text, state: 'pending'|'failed', error, createdAt }
    names: new Map(), // user id -> username (for DM titles)
  };
  let changed = new Set();
  let scheduled = false;

  /** Coalesces changes and notifies once per turn of the event loop. */
  function emit(topic) {
    changed.add(topic);
    if (scheduled) return;
    scheduled = true;
    Promise.resolve().then(() => {
      scheduled = false;
      const topics = changed;
      changed = new Set();
      for (const fn of listeners) fn(topics);
    });
  }

  function room(name) {
    let r = state.rooms.get(name);
    if (!r) {
      r = {
        name,
        joined: false, // in the user's room list (the socket joins it on every connect)
        live: false, // `joined` received on the current connection: sends may go out
        lastMessageAt: null,
        messageCount: null,
        unread: 0,
        msgs: new Map(),
        ids: [], // sorted ascending (numeric id order)
        // Newest id received from the room's stream itself (`message`, `joined`, gap fill): the
        // `since` of a resume. Acks do not move it: an ack can overtake an older message by
        // someone else that this client has not received yet.
        head: null,
        hasMore: true, // older history may exist
        loadingOlder: false,
        historyError: null,
        members: new Map(),
        typing: new Map(),
        error: null,
      };
      state.rooms.set(name, r);
    }
    return r;
  }

  function insertId(r, id) {
    const ids = r.ids;
    if (ids.length === 0 || compareIds(ids[ids.length - 1], id) < 0) {
      ids.push(id);
      return;
    }
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareIds(ids[mid], id) < 0) lo = mid + 1;
      else hi = mid;
    }
    ids.splice(lo, 0, id);
  }

  /** Adds one message if new; returns true when it was added. */
  function addMessage(r, m) {
    if (!m || typeof m.id !== 'string' || r.msgs.has(m.id)) return false;
    const user = userOf(m.user) || { id: '?', name: 'unknown' };
    const msg = {
      id: m.id,
      room: r.name,
      user,
      text: String(m.text ?? ''),
      ts: typeof m.ts === 'number' ? m.ts : idTime(m.id),
      cid: m.cid || null,
    };
    r.msgs.set(msg.id, msg);
    insertId(r, msg.id);
    state.names.set(user.id, user.name);
    const at = msg.ts;
    if (!r.lastMessageAt || at > r.lastMessageAt) r.lastMessageAt = at;
    // Our own message came back: it is no longer pending.
    if (msg.cid && state.me && user.id === state.me.id) {
      const p = state.outbox.get(msg.cid);
      if (p && p.room === r.name) {
        state.outbox.delete(msg.cid);
        emit('outbox');
      }
    }
    r.typing.delete(user.id);
    return true;
  }

  /** Moves the room's stream head forward (never back). */
  function advanceHead(r, id) {
    if (typeof id === 'string' && (!r.head || compareIds(id, r.head) > 0)) r.head = id;
  }

  function trim(r, canTrimCurrent = false) {
    if (r.ids.length <= MAX_MESSAGES_PER_ROOM || (r.name === state.current && !canTrimCurrent)) return;
    const drop = r.ids.splice(0, r.ids.length - MAX_MESSAGES_PER_ROOM);
    for (const id of drop) r.msgs.delete(id);
    r.hasMore = true;
  }

  return {
    state,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    room,
    reset() {
      state.me = null;
      state.rooms.clear();
      state.current = null;
      state.outbox.clear();
      emit('all');
    },
    setMe(user) {
      state.me = user;
      if (user) state.names.set(user.id, user.username || user.name);
      emit('me');
    },
    setConnection(c) {
      state.connection = c;
      if (c.state !== 'connected') for (const r of state.rooms.values()) r.live = false;
      emit('connection');
    },
    setCurrent(name) {
      const r = room(name);
      state.current = name;
      r.unread = 0;
      emit('current');
      emit('rooms');
    },
    setJoined(name, joined) {
      room(name).joined = joined;
      emit('rooms');
    },
    removeRoom(name) {
      state.rooms.delete(name);
      for (const [cid, p] of state.outbox) if (p.room === name) state.outbox.delete(cid);
      emit('rooms');
    },
    /** Rooms from GET /api/rooms: adds/updates activity, keeps joined state. */
    setRoomList(list) {
      for (const item of list) {
        if (!item || typeof item.name !== 'string') continue;
        const r = room(item.name);
        if (item.lastMessageAt != null) {
          const t = typeof item.lastMessageAt === 'number' ? item.lastMessageAt : Date.parse(item.lastMessageAt);
          if (Number.isFinite(t) && (!r.lastMessageAt || t > r.lastMessageAt)) r.lastMessageAt = t;
        }
        if (typeof item.messageCount === 'number') r.messageCount = item.messageCount;
      }
      emit('rooms');
    },
    rememberName(id, name) {
      if (id && name) state.names.set(id, name);
      emit('rooms');
    },
    newestId(name) {
      const r = state.rooms.get(name);
      return r && r.ids.length ? r.ids[r.ids.length - 1] : null;
    },
    /** The `since` to resume a room with: the newest id seen on its stream (acks excluded). */
    resumeFrom(name) {
      const r = state.rooms.get(name);
      return r ? r.head : null;
    },
    oldestId(name) {
      const r = state.rooms.get(name);
      return r && r.ids.length ? r.ids[0] : null;
    },
    /** A `joined` frame (already gap-filled by the socket when recovery failed). */
    applyJoined(frame, { canTrimCurrent = false } = {}) {
      const r = room(frame.room);
      r.joined = true;
      r.live = true;
      r.error = null;
      if (frame.gap && frame.messages.length) {
        // History between what we had and what we got could not be fetched: drop the older
        // part so that scrolling up pages it in again, instead of showing a silent hole.
        const oldest = frame.messages[0].id;
        r.ids = r.ids.filter((id) => {
          if (compareIds(id, oldest) < 0) {
            r.msgs.delete(id);
            return false;
          }
          return true;
        });
        r.hasMore = true;
      }
      let added = 0;
      for (const m of frame.messages) {
        if (addMessage(r, m)) added++;
        if (m) advanceHead(r, m.id);
      }
      r.members = new Map();
      for (const u of Array.isArray(frame.members) ? frame.members : []) {
        const user = userOf(u);
        if (user) {
          r.members.set(user.id, user);
          state.names.set(user.id, user.name);
        }
      }
      if (state.me && !r.members.has(state.me.id)) r.members.set(state.me.id, { id: state.me.id, name: state.me.username });
      trim(r, canTrimCurrent);
      emit('messages:' + r.name);
      emit('members:' + r.name);
      emit('rooms');
      return added;
    },
    /** A live `message` frame; returns the stored message when it was new. */
    applyMessage(frame, { canTrimCurrent = false } = {}) {
      const r = room(frame.room);
      advanceHead(r, frame.id);
      if (!addMessage(r, frame)) return null;
      if (frame.room !== state.current || document.hidden) {
        if (!state.me || r.msgs.get(frame.id).user.id !== state.me.id) r.unread += 1;
      }
      const stored = r.msgs.get(frame.id) || null;
      trim(r, canTrimCurrent);
      emit('messages:' + r.name);
      emit('rooms');
      return stored;
    },
    /** Older history from REST (oldest first). */
    prependHistory(name, messages, hasMore) {
      const r = room(name);
      for (const m of messages) addMessage(r, m);
      r.hasMore = Boolean(hasMore) && messages.length > 0;
      r.loadingOlder = false;
      r.historyError = null;
      emit('messages:' + name);
    },
    setLoadingOlder(name, loading, error = null) {
      const r = room(name);
      r.loadingOlder = loading;
      r.historyError = error;
      emit('messages:' + name);
    },
    applyPresence(frame) {
      const r = room(frame.room);
      const user = userOf(frame.user);
      if (!user) return;
      if (frame.event === 'join') r.members.set(user.id, user);
      else if (frame.event === 'leave' && (!state.me || user.id !== state.me.id)) r.members.delete(user.id);
      state.names.set(user.id, user.name);
      emit('members:' + r.name);
    },
    applyTyping(frame) {
      const r = room(frame.room);
      const user = userOf(frame.user);
      if (!user || (state.me && user.id === state.me.id)) return;
      if (frame.active) r.typing.set(user.id, { name: user.name, until: Date.now() + TYPING_TTL_MS });
      else r.typing.delete(user.id);
      emit('typing:' + r.name);
    },
    /** Names of users typing in `name` now (expired entries dropped). */
    typingIn(name) {
      const r = state.rooms.get(name);
      if (!r) return [];
      const now = Date.now();
      const out = [];
      for (const [id, t] of r.typing) {
        if (t.until <= now) r.typing.delete(id);
        else out.push(t.name);
      }
      return out;
    },
    setRoomError(name, error) {
      room(name).error = error;
      emit('messages:' + name);
    },

    // --- outbox -------------------------------------------------------------------------------
    addPending(name, text, cid) {
      const p = { cid, room: name, text, state: 'pending', error: null, createdAt: Date.now(), sentAt: 0 };
      state.outbox.set(cid, p);
      emit('outbox');
      return p;
    },
    markSent(cid) {
      const p = state.outbox.get(cid);
      if (p) p.sentAt = Date.now();
    },
    /** An ack: the pending send becomes a real message with the server's id. */
    applyAck(frame) {
      const p = state.outbox.get(frame.cid);
      if (!p) return null;
      state.outbox.delete(frame.cid);
      const r = room(p.room);
      addMessage(r, {
        id: frame.id,
        user: { id: state.me.id, name: state.me.username },
        text: p.text,
        ts: typeof frame.ts === 'number' ? frame.ts : undefined,
        cid: p.cid,
      });
      emit('outbox');
      emit('messages:' + p.room);
      emit('rooms');
      return p;
    },
    markFailed(cid, error) {
      const p = state.outbox.get(cid);
      if (!p) return null;
      p.state = 'failed';
      p.error = error;
      emit('outbox');
      return p;
    },
    markPending(cid) {
      const p = state.outbox.get(cid);
      if (!p) return null;
      p.state = 'pending';
      p.error = null;
      p.note = null;
      emit('outbox');
      return p;
    },
    discard(cid) {
      state.outbox.delete(cid);
      emit('outbox');
    },
    pendingIn(name) {
      return [...state.outbox.values()].filter((p) => p.room === name);
    },
  };
}
