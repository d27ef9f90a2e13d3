// Per room: what I have read and what is unread (issue 15). Pure functions over the room record
// (store.js room() spreads attentionFields() into it), unit-tested in Node.
//
// Counts are differences of sequence numbers, never +1s: every top-level message carries its
// room's `seq` (PROTOCOL.md `message`), so unread = lastSeq − readSeq, where lastSeq is the highest
// seq seen (GET /api/me/rooms, live frames, join backlogs) and readSeq my read position (the REST
// answer, `read` frames from my devices, my own messages, what this client saw). Both only move
// forward (max), so a replayed frame, a resume's backlog or a REST answer older than a live frame
// can never count a message twice or undo a read.
//
// Mentions: the REST answer counts my unread mentions up to its lastSeq (`restSeq`); mentions that
// arrived live after that are kept by seq (`liveMentions`, a set: no double count). When my
// position moves to somewhere short of the newest message, the REST count may include mentions
// now read: the caller re-reads GET /api/me/rooms (applyRead says so).
//
// Messages without a seq (a server from before issue 15) fall back to the old +1 (`legacy`).
import { compareIds } from './ids.js';

export const MENTION_ROOM = '@room';

/** A room record's attention fields. */
export function attentionFields() {
  return {
    lastSeq: 0, // newest top-level seq seen
    readSeq: 0, // my read position
    readId: null, // its message id, when known
    known: false, // GET /api/me/rooms has listed this room's counts
    restMentions: 0, // unread mentions the REST answer counted …
    restSeq: 0, // … up to this seq (its lastSeq)
    restReadSeq: 0, // … from this read position
    liveMentions: [], // seqs of unread mentions that arrived after restSeq
    legacy: 0, // unread messages without a seq
    legacyMentions: 0,
    notifyMuted: false, // I muted this room's notifications
    divider: null, // seq after which "New messages" shows (null: none; 'pending': counts not known yet)
    unread: 0, // derived (recount)
    mentions: 0, // derived (recount)
  };
}

const userIdOf = (m) => (m && m.user ? (typeof m.user === 'string' ? m.user : m.user.id) : null);
const validSeq = (s) => Number.isInteger(s) && s > 0;

/** The message mentions `meId` (by id, or @room) and is not mine. */
export function mentionsUser(m, meId) {
  if (!m || !meId || !Array.isArray(m.mentions) || userIdOf(m) === meId) return false;
  return m.mentions.includes(meId) || m.mentions.includes(MENTION_ROOM);
}

/** Recomputes the derived counts; true when they changed. */
export function recount(r) {
  const [unread, mentionsBefore] = [r.unread, r.mentions];
  r.unread = Math.max(0, r.lastSeq - r.readSeq) + r.legacy;
  let mentions = r.legacyMentions;
  if (r.readSeq < r.lastSeq) {
    // The REST count holds mentions up to restSeq above ITS read position: only meaningful while
    // mine has not passed it (else the caller re-reads it and it is treated as 0 meanwhile).
    if (r.readSeq <= r.restReadSeq) mentions += r.restMentions;
    for (const s of r.liveMentions) if (s > r.readSeq) mentions++;
  }
  r.mentions = mentions;
  return unread !== r.unread || mentionsBefore !== r.mentions;
}

/**
 * A message of the room: a live frame, a join backlog's, or mine coming back. `isNew`: the store
 * did not hold it (only then may a seq-less message count, as +1). Thread replies never count.
 * Returns true when the counts changed.
 */
export function noteMessage(r, m, meId, { isNew = true, legacy = true } = {}) {
  if (!m || typeof m.replyTo === 'string') return false;
  const seq = validSeq(m.seq) ? m.seq : null;
  const mine = !!meId && userIdOf(m) === meId;
  if (seq !== null) {
    if (seq > r.lastSeq) r.lastSeq = seq;
    if (mine) {
      // Writing in a room means having seen it up to there.
      moveRead(r, seq, m.id);
    } else if (mentionsUser(m, meId) && seq > r.readSeq && seq > r.restSeq && !r.liveMentions.includes(seq)) {
      r.liveMentions.push(seq);
    }
  } else if (isNew && legacy && !mine) {
    r.legacy += 1;
    if (mentionsUser(m, meId)) r.legacyMentions += 1;
  } else if (isNew && mine) {
    r.legacy = 0;
    r.legacyMentions = 0;
  }
  return recount(r);
}

function moveRead(r, seq, id) {
  if (seq < r.readSeq) return false;
  if (seq === r.readSeq && (!id || (r.readId && compareIds(id, r.readId) <= 0))) return false;
  r.readSeq = seq;
  if (typeof id === 'string') r.readId = id;
  if (seq > r.lastSeq) r.lastSeq = seq;
  r.liveMentions = r.liveMentions.filter((s) => s > seq);
  return true;
}

/**
 * My read position moved to (seq, id): a `read` frame from one of my devices, or this client
 * seeing the newest message. Returns { changed, refresh }: `refresh` — the mention count may now
 * include read mentions (the position stopped short of the newest message): re-read the REST list.
 */
export function applyRead(r, seq, id) {
  if (!validSeq(seq)) return { changed: false, refresh: false };
  const moved = moveRead(r, seq, id);
  if (r.readSeq >= r.lastSeq) {
    r.legacy = 0;
    r.legacyMentions = 0;
  }
  const changed = recount(r) || moved;
  return { changed, refresh: moved && r.readSeq < r.lastSeq && r.restMentions > 0 && r.readSeq > r.restReadSeq };
}

/** This client saw the room up to `id` (seq may be unknown: a message of an old server). */
export function markSeen(r, id, seq) {
  if (validSeq(seq)) applyRead(r, seq, id);
  else if (typeof id === 'string' && (!r.readId || compareIds(id, r.readId) > 0)) r.readId = id;
  r.legacy = 0;
  r.legacyMentions = 0;
  return recount(r);
}

/** Whether this client has seen `id` (seq when known) already. */
export function isRead(r, id, seq) {
  if (validSeq(seq)) return seq <= r.readSeq;
  return !!r.readId && compareIds(id, r.readId) <= 0;
}

/** One room of GET /api/me/rooms (a MyRoom with lastSeq, readSeq, readId, mentions, muted). */
export function applyListed(r, item) {
  r.known = true;
  if (typeof item.muted === 'boolean') r.notifyMuted = item.muted;
  if (!Number.isInteger(item.lastSeq)) return recount(r); // a server without counts: keep ours
  const readSeq = Number.isInteger(item.readSeq) ? item.readSeq : 0;
  if (item.lastSeq > r.lastSeq) r.lastSeq = item.lastSeq;
  if (readSeq > r.readSeq || (readSeq === r.readSeq && typeof item.readId === 'string' && !r.readId)) {
    r.readSeq = readSeq;
    if (typeof item.readId === 'string') r.readId = item.readId;
  }
  r.restMentions = Number.isInteger(item.mentions) && item.mentions > 0 ? item.mentions : 0;
  r.restSeq = item.lastSeq;
  r.restReadSeq = readSeq;
  r.liveMentions = r.liveMentions.filter((s) => s > item.lastSeq && s > r.readSeq);
  // Everything the REST answer covers is counted by seq from now on.
  r.legacy = 0;
  r.legacyMentions = 0;
  return recount(r);
}

/**
 * The room was opened: "New messages" goes above the first message after my position, and stays
 * there until the room is left (new arrivals do not move it). `countsKnown`: false while the
 * position is not known yet (fixDivider sets it when it is).
 */
export function openRoom(r, countsKnown) {
  r.divider = countsKnown ? dividerOf(r) : 'pending';
  r.legacy = 0;
  r.legacyMentions = 0;
  return recount(r);
}

export function fixDivider(r) {
  if (r.divider === 'pending') r.divider = dividerOf(r);
}

const dividerOf = (r) => (r.lastSeq > r.readSeq ? r.readSeq : null);

/**
 * What the sidebar, title and drawer show for a room: nothing for the room on screen while the
 * tab is visible (it is being read), nothing before the counts are known. A muted room counts
 * only its mentions in totals (`total`), but still shows its (dimmed) unread badge.
 */
export function shownCounts(r, { current, visible, countsLoaded }) {
  if ((r.name === current && visible) || !(countsLoaded || r.known)) return { unread: 0, mentions: 0, total: 0 };
  return { unread: r.unread, mentions: r.mentions, total: r.notifyMuted ? r.mentions : r.unread };
}

/** The unread total over the user's rooms (title, favicon) and how many rooms have some (drawer). */
export function totals(rooms, view) {
  let total = 0;
  let roomsWithUnread = 0;
  for (const r of rooms) {
    if (!r.joined || r.hidden) continue;
    const c = shownCounts(r, view);
    total += c.total;
    if (c.total > 0) roomsWithUnread++;
  }
  return { total, rooms: roomsWithUnread };
}
