// The store's part for rooms with members (issue 14): each room's own state (kind, title, topic,
// archived, my role and mute), its roster of members with roles, the system lines that
// membership events leave in the timeline, and "my rooms" from GET /api/me/rooms.
// `member` and `room` events carry the RESULTING state (PROTOCOL.md "Membership events"), so the
// newest one per member (and per room) is all that is needed: an older one — a join backlog
// replaying what a REST answer already reflects — changes nothing. The other race goes the
// other way: a REST answer that left the server before an event arrived here is older than that
// event, so every event of the last moments is applied again over a REST answer (`recent`).
import { compareIds, insertSorted } from './ids.js';
import { roomKindOf } from './rooms.js';
import { applyListed } from './read-state.js';

// Per room; the oldest go first. Lines older than the oldest message go with the messages
// (store.js trim), so this bounds only a stretch of many events between few messages.
const SYSTEM_LINES_MAX = 2000;
const RECENT_MAX = 100; // events remembered per room to lay over a REST answer

const userOf = (u) => (u && typeof u.id === 'string' ? { id: u.id, name: String(u.name || u.username || u.id) } : null);

/** A room record's membership fields (store.js room()). */
export function membershipFields(name) {
  return {
    kind: roomKindOf(name),
    title: null, // private rooms
    topic: '',
    ownerId: null,
    archived: false,
    memberCount: null,
    role: null, // mine: owner | admin | member
    mutedUntil: 0, // mine (ms)
    banned: false,
    peers: null, // DMs and groups: the other members
    lastMessage: null,
    listed: false, // in the latest GET /api/me/rooms
    hidden: false, // a closed DM (hidden-dms.js)
    roster: null, // id -> { id, name, role, mutedUntil }: GET …/members kept current by events
    memberV: new Map(), // member id -> newest member event applied
    metaV: null, // newest room event applied
    recent: [], // { at, ev }: membership events lately applied, laid over later REST answers
    sys: [], // ids of system lines (member/room events), ascending
    sysById: new Map(),
  };
}

export function isMembershipEvent(f) {
  return !!f && (f.kind === 'member' || f.kind === 'room') && typeof f.id === 'string' && typeof f.room === 'string';
}

export function createRoomOps({ state, room, emit, advanceHead, attention }) {
  const meId = () => (state.me ? state.me.id : null);
  let online = null; // { v: state.presenceV it was computed at, ids }

  function changed(r) {
    emit('messages:' + r.name);
    emit('members:' + r.name);
    emit('rooms');
  }

  function addSystemLine(r, ev) {
    if (r.sysById.has(ev.id)) return;
    r.sysById.set(ev.id, ev);
    insertSorted(r.sys, ev.id);
    while (r.sys.length > SYSTEM_LINES_MAX) r.sysById.delete(r.sys.shift());
  }

  /** One member's state after `ev` (role absent: no longer a member). */
  function applyMember(r, ev, force) {
    const member = userOf(ev.member);
    if (!member) return;
    const seen = r.memberV.get(member.id);
    if (!force && seen && compareIds(ev.id, seen) <= 0) return;
    r.memberV.set(member.id, ev.id);
    state.names.set(member.id, member.name);
    const mutedUntil = Number.isFinite(ev.mutedUntil) ? ev.mutedUntil : 0;
    if (r.roster) {
      if (ev.role) r.roster.set(member.id, { id: member.id, name: member.name, role: ev.role, mutedUntil });
      else r.roster.delete(member.id);
      r.memberCount = r.roster.size;
    }
    if (ev.role === 'owner') r.ownerId = member.id;
    else if (r.ownerId === member.id) r.ownerId = null;
    if (member.id === meId()) {
      r.role = ev.role || null;
      r.mutedUntil = mutedUntil;
      r.banned = ev.banned === true;
    }
  }

  /** The room's own state after `ev`: every room event carries kind, title and topic. */
  function applyRoom(r, ev, force) {
    if (!force && r.metaV && compareIds(ev.id, r.metaV) <= 0) return;
    r.metaV = ev.id;
    if (typeof ev.roomKind === 'string') r.kind = ev.roomKind;
    if (typeof ev.title === 'string') r.title = ev.title;
    r.topic = typeof ev.topic === 'string' ? ev.topic : '';
    if (ev.action === 'archived') r.archived = true;
    else if (ev.action === 'unarchived') r.archived = false;
  }

  function applyOne(r, ev, force = false) {
    if (ev.kind === 'member') applyMember(r, ev, force);
    else applyRoom(r, ev, force);
  }

  /** Events applied since `t0` (local ms), again: they are newer than a REST answer asked for then. */
  function reapplySince(r, t0) {
    // In id order: a gap fill's events arrive after live ones that are newer than them.
    const again = r.recent.filter(({ at }) => at >= t0).map(({ ev }) => ev);
    again.sort((a, b) => compareIds(a.id, b.id));
    for (const ev of again) applyOne(r, ev, true);
  }

  /** REST's RoomMeta (+ role, mutedUntil, peers, lastMessage of a MyRoom) onto the room. */
  function assignMeta(r, m) {
    if (typeof m.kind === 'string') r.kind = m.kind;
    if (typeof m.title === 'string') r.title = m.title;
    if (typeof m.topic === 'string') r.topic = m.topic;
    r.ownerId = typeof m.ownerId === 'string' ? m.ownerId : null;
    if (typeof m.archived === 'boolean') r.archived = m.archived;
    if (Number.isInteger(m.memberCount) && !r.roster) r.memberCount = m.memberCount;
    r.role = typeof m.role === 'string' ? m.role : null;
    r.mutedUntil = Number.isFinite(m.mutedUntil) ? m.mutedUntil : 0;
    if (Array.isArray(m.peers)) {
      r.peers = m.peers.map(userOf).filter(Boolean);
      for (const p of r.peers) state.names.set(p.id, p.name);
    }
    if (m.lastMessage && typeof m.lastMessage.id === 'string') r.lastMessage = m.lastMessage;
    if (typeof m.lastMessageAt === 'number' && (!r.lastMessageAt || m.lastMessageAt > r.lastMessageAt)) r.lastMessageAt = m.lastMessageAt;
    if (Number.isInteger(m.messageCount)) r.messageCount = m.messageCount;
  }

  return {
    /** A live `event` frame of kind member/room, or one of a `joined` backlog. */
    applyMembershipEvent(ev) {
      if (!isMembershipEvent(ev)) return;
      const r = room(ev.room);
      advanceHead(r, ev.id);
      addSystemLine(r, ev);
      applyOne(r, ev);
      r.recent.push({ at: Date.now(), ev });
      if (r.recent.length > RECENT_MAX) r.recent.shift();
      changed(r);
    },
    /**
     * GET /api/me/rooms, asked for at `t0` (local ms). Every listed room is in the user's list
     * (joined). Returns the rooms an EARLIER answer listed and this one does not: the user is no
     * longer in them (left, kicked or banned while this client was not told).
     */
    setMyRooms(list, t0) {
      const listed = new Set();
      for (const item of Array.isArray(list) ? list : []) {
        if (!item || typeof item.name !== 'string') continue;
        const r = room(item.name);
        assignMeta(r, item);
        reapplySince(r, t0);
        applyListed(r, item); // unread, mentions, read position, notifications muted
        r.joined = true;
        r.listed = true;
        listed.add(item.name);
      }
      const gone = [];
      for (const r of state.rooms.values()) {
        if (r.listed && !listed.has(r.name)) {
          r.listed = false;
          // Re-confirmed by an event since the request left (a new invitation): keep it.
          if (!r.recent.some(({ at, ev }) => at >= t0 && ev.kind === 'member' && ev.member && ev.member.id === meId() && ev.role)) gone.push(r.name);
        }
      }
      if (attention) attention.listed();
      emit('rooms');
      return gone;
    },
    /** GET /api/rooms/:room or POST /api/rooms (RoomMeta + role), asked for at `t0`. */
    applyRoomMeta(meta, t0) {
      if (!meta || typeof meta.name !== 'string') return;
      const r = room(meta.name);
      assignMeta(r, meta);
      reapplySince(r, t0);
      emit('rooms');
      emit('members:' + r.name);
    },
    /** GET /api/rooms/:room/members, asked for at `t0`. */
    setRoster(name, members, t0) {
      const r = room(name);
      r.roster = new Map();
      for (const m of Array.isArray(members) ? members : []) {
        const u = userOf(m);
        if (!u || typeof m.role !== 'string') continue;
        r.roster.set(u.id, { id: u.id, name: u.name, role: m.role, mutedUntil: Number.isFinite(m.mutedUntil) ? m.mutedUntil : 0 });
        state.names.set(u.id, u.name);
      }
      reapplySince(r, t0);
      r.memberCount = r.roster.size;
      const mine = r.roster.get(meId());
      if (mine) {
        r.role = mine.role;
        r.mutedUntil = mine.mutedUntil;
      }
      emit('members:' + name);
      emit('rooms');
    },
    /** A `muted` refusal: the server says how long (retryAfterMs) even when no event told us. */
    setMutedUntil(name, until) {
      const r = room(name);
      if (until > r.mutedUntil) r.mutedUntil = until;
      emit('rooms');
    },
    setHidden(name, hidden) {
      const r = state.rooms.get(name);
      if (!r || r.hidden === hidden) return;
      r.hidden = hidden;
      emit('rooms');
    },
    /** Users with a socket in any room this client holds (presence): who is online, as far as we can see. */
    onlineIds() {
      if (online && online.v === state.presenceV) return online.ids;
      const ids = new Set();
      for (const r of state.rooms.values()) for (const id of r.members.keys()) ids.add(id);
      if (state.me) ids.add(state.me.id);
      online = { v: state.presenceV, ids };
      return ids;
    },
    /** Events of a REST history page: system lines only (each once, by id), no state. */
    addHistoryLines(r, events) {
      for (const ev of events) {
        addSystemLine(r, ev);
        for (const u of [userOf(ev.user), userOf(ev.member)]) if (u) state.names.set(u.id, u.name);
      }
    },
    /** Drops the system lines older than `id` (the messages around them were dropped). */
    dropSystemLinesBefore(r, id) {
      if (!id) return;
      let n = 0;
      while (n < r.sys.length && compareIds(r.sys[n], id) < 0) r.sysById.delete(r.sys[n++]);
      if (n) r.sys.splice(0, n);
    },
    /** The system lines of a room, oldest first: [id, event]. */
    systemLines(name) {
      const r = state.rooms.get(name);
      return r ? r.sys.map((id) => [id, r.sysById.get(id)]) : [];
    },
  };
}
