// Client state: the signed-in user, rooms (joined or merely listed), each room's messages by id
// (deduplicated; the timeline's top-level ids kept in numeric id order, thread replies filed
// under their parent), older-history paging state, members, typing users, and the outbox of
// sends by cid (pending → sent on ack, queued during a rate-limit cooldown, or failed with a
// reason). Events that change messages, threads and this client's unconfirmed changes are in
// store-events.js; membership (kinds, titles, roles, rosters, system lines, "my rooms") in
// store-rooms.js; unread and mention counts and read positions in store-attention.js. The store
// knows nothing about the network or the DOM; it mutates and tells subscribers what changed.
import { compareIds, insertSorted } from './ids.js';
import { fillFromFrame, normalizeMessage } from './message-state.js';
import { createAttentionOps } from './store-attention.js';
import { attentionFields } from './read-state.js';
import { createEventOps } from './store-events.js';
import { createHistoryOps } from './store-history.js';
import { createRoomOps, isMembershipEvent, membershipFields } from './store-rooms.js';

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
    outbox: new Map(), // cid -> { cid, room, text, replyTo, state: 'pending'|'queued'|'failed', error, retryAt, createdAt } (in the order typed)
    changes: new Map(), // cid -> an edit/delete/react of ours not confirmed yet (store-events.js)
    thread: null, // { room, parent } of the open thread panel
    names: new Map(), // user id -> username (for DM titles)
    removedAuthors: new Set(), // deleted accounts whose messages were removed (store-events.js)
    presenceV: 0, // bumped whenever any room's presence changes (store-rooms.js onlineIds)
    countsLoaded: false, // GET /api/me/rooms answered once (store-attention.js)
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
        msgs: new Map(), // id -> message (message-state.js), timeline and thread replies alike
        ids: [], // the timeline: top-level ids, sorted ascending (numeric id order)
        threads: new Map(), // parent id -> { ids (replies, ascending), hasMore, loaded, loading, error, after }
        orphans: new Map(), // target id -> events that arrived before their message
        orphanCount: 0,
        // Newest id received from the room's stream itself (`message`, `joined`, gap fill): the
        // `since` of a resume. Acks do not move it: an ack can overtake an older message by
        // someone else that this client has not received yet.
        head: null,
        hasMore: true, // older history may exist
        historyFloor: null, // store-history.js
        loadingOlder: false,
        historyError: null,
        members: new Map(), // presence: users with a socket in the room now
        typing: new Map(),
        error: null,
        ...membershipFields(name), // store-rooms.js
        ...attentionFields(), // read-state.js: unread, mentions, read position
      };
      state.rooms.set(name, r);
    }
    return r;
  }

  /** Adds one message (or thread reply) if new; returns true when it was added. */
  function addMessage(r, m) {
    if (!m || typeof m.id !== 'string') return false;
    if (r.msgs.has(m.id)) {
      if (fillFromFrame(r.msgs.get(m.id), m)) emit('messages:' + r.name);
      // Our own reply, added on its ack: its frame still brings the parent's new count.
      if (typeof m.replyTo === 'string') events.countReply(r, m.replyTo, m.id, m.replyCount, m.ts);
      return false;
    }
    const user = userOf(m.user) || { id: '?', name: 'unknown' };
    const msg = normalizeMessage(m, r.name, user);
    r.msgs.set(msg.id, msg);
    // A reply frame's replyCount is its parent's count with it (frames.ts).
    if (msg.replyTo) events.addReply(r, msg, m.replyCount);
    else insertSorted(r.ids, msg.id);
    events.adoptOrphans(r, msg);
    events.removeIfGone(r, msg);
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
    events.dropThreadsOf(r);
    roomOps.dropSystemLinesBefore(r, r.ids[0]);
    r.hasMore = true;
    r.historyFloor = null;
  }

  const { internal: events, ops: eventOps } = createEventOps({ state, room, emit, addMessage, advanceHead });
  const { internal: attention, ops: attentionOps } = createAttentionOps({ state, room, emit });
  const roomOps = createRoomOps({ state, room, emit, advanceHead, attention });
  const historyOps = createHistoryOps({ state, room, emit, addMessage, roomOps });

  return {
    state,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    room,
    ...eventOps,
    ...roomOps,
    ...historyOps,
    ...attentionOps,
    /** A live `event` frame: a change to a message, or a membership/room change. */
    applyEvent(frame) {
      if (isMembershipEvent(frame)) roomOps.applyMembershipEvent(frame);
      else eventOps.applyEvent(frame);
    },
    reset() {
      state.me = null;
      state.rooms.clear();
      state.presenceV++;
      state.current = null;
      state.countsLoaded = false;
      state.outbox.clear();
      state.changes.clear();
      state.removedAuthors.clear();
      state.thread = null;
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
      const opened = state.current !== name;
      state.current = name;
      if (opened) attention.open(r);
      emit('current');
      emit('rooms');
    },
    setJoined(name, joined) {
      room(name).joined = joined;
      emit('rooms');
    },
    removeRoom(name) {
      state.rooms.delete(name);
      state.presenceV++;
      for (const [cid, p] of state.outbox) if (p.room === name) state.outbox.delete(cid);
      for (const [cid, c] of state.changes) if (c.room === name) state.changes.delete(cid);
      if (state.thread && state.thread.room === name) state.thread = null;
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
      if ((frame.gap || frame.stale) && frame.messages.length) {
        // History between what we had and what we got could not be fetched (gap), or the
        // events that changed what we hold are gone from the room log (stale): drop the older
        // part so that scrolling up pages it in again, in its current state, instead of
        // showing a silent hole or an edit that never happened.
        const oldest = frame.messages[0].id;
        r.ids = r.ids.filter((id) => {
          if (compareIds(id, oldest) < 0) {
            r.msgs.delete(id);
            return false;
          }
          return true;
        });
        events.dropThreadsOf(r);
        r.hasMore = true;
        r.historyFloor = null;
      }
      let added = 0;
      for (const m of frame.messages) {
        const isNew = addMessage(r, m);
        if (isNew && m && !m.replyTo) added++;
        // A backlog counts by seq only: a seq-less one is what was on screen before (no +1s).
        if (m) attention.note(r, m, isNew, { legacy: false });
        if (m) advanceHead(r, m.id);
      }
      const backlog = Array.isArray(frame.events) ? frame.events : [];
      eventOps.applyJoinedEvents(r, backlog.filter((e) => !isMembershipEvent(e)));
      for (const e of backlog) if (isMembershipEvent(e) && e.room === r.name) roomOps.applyMembershipEvent(e);
      r.members = new Map();
      for (const u of Array.isArray(frame.members) ? frame.members : []) {
        const user = userOf(u);
        if (user) {
          r.members.set(user.id, user);
          state.names.set(user.id, user.name);
        }
      }
      if (state.me && !r.members.has(state.me.id)) r.members.set(state.me.id, { id: state.me.id, name: state.me.username });
      state.presenceV++;
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
      const isNew = addMessage(r, frame);
      // Counted by seq (read-state.js): my own message coming back after its ack moves my read
      // position too. Thread replies live in their thread: never unread in the room (as in Slack).
      // A seq-less message of an old server counts +1 unless it is on screen.
      const onScreen = frame.room === state.current && !document.hidden;
      if (attention.note(r, frame, isNew, { legacy: !onScreen })) emit('rooms');
      if (!isNew) return null;
      const stored = r.msgs.get(frame.id) || null;
      trim(r, canTrimCurrent);
      emit('messages:' + r.name);
      // Its author stopped typing (addMessage cleared them): the indicator goes with the message,
      // not a second later with their trailing typing:false.
      emit('typing:' + r.name);
      emit('rooms');
      return stored;
    },
    applyPresence(frame) {
      const r = room(frame.room);
      const user = userOf(frame.user);
      if (!user) return;
      if (frame.event === 'join') r.members.set(user.id, user);
      else if (frame.event === 'leave' && (!state.me || user.id !== state.me.id)) r.members.delete(user.id);
      state.presenceV++;
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
    /** Who is typing in room `name`: their ids (the UI shows each one's display name). */
    typingIn(name) {
      const r = state.rooms.get(name);
      if (!r) return [];
      const now = Date.now();
      const out = [];
      for (const [id, t] of r.typing) {
        if (t.until <= now) r.typing.delete(id);
        else out.push(id);
      }
      return out;
    },

    // --- outbox -------------------------------------------------------------------------------
    addPending(name, text, cid, replyTo = null) {
      const p = { cid, room: name, text, replyTo, state: 'pending', error: null, createdAt: Date.now(), sentAt: 0 };
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
        replyTo: p.replyTo || undefined,
      });
      emit('outbox');
      emit('messages:' + p.room);
      emit('rooms');
      return p;
    },
    /** Not delivered, and why; `retryAt` (epoch ms): a retry before then would be refused too. */
    markFailed(cid, error, retryAt = 0) {
      const p = state.outbox.get(cid);
      if (!p) return null;
      p.state = 'failed';
      p.error = error;
      p.retryAt = retryAt;
      emit('outbox');
      return p;
    },
    markPending(cid) {
      const p = state.outbox.get(cid);
      if (!p) return null;
      p.state = 'pending';
      p.error = null;
      p.note = null;
      p.retryAt = 0;
      emit('outbox');
      return p;
    },
    /** Held back by a rate-limit cooldown: sent by sender.js, in order, when it ends. */
    markQueued(cid) {
      const p = state.outbox.get(cid);
      if (!p) return null;
      p.state = 'queued';
      p.error = null;
      p.note = null;
      p.retryAt = 0;
      emit('outbox');
      return p;
    },
    discard(cid) {
      state.outbox.delete(cid);
      emit('outbox');
    },
    /** Unsent messages of the timeline (replyTo null) or of one thread. */
    pendingIn(name, replyTo = null) {
      return [...state.outbox.values()].filter((p) => p.room === name && (p.replyTo || null) === replyTo);
    },
  };
}
