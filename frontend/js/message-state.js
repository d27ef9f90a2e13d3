// The state of one message as the client holds it, and how events change it (DESIGN.md "Wave 2 —
// Room events"). A message arrives as a frame of the room log (text as sent) or from REST history
// (its current state); `edit`, `delete` and `react` events then change it. Events can arrive twice
// (ack + event, a resume replaying what was seen) and out of order (a join backlog, a history page
// landing after live events), so every change is applied by VERSION, never blindly:
// - text/editedAt/deleted: the id of the newest edit or delete applied (`version`); an event at
//   or below it changes nothing; a delete is final.
// - a reaction: the server sends the ABSOLUTE count after the change, so the newest event per
//   (message, emoji) sets `count`, and the newest of MY events sets `me` (each keeps its id).
// - replyCount: absolute too (the parent's count after a reply or a reply's delete), newest wins.
// No DOM, no network: unit-tested in Node.
import { compareIds, idTime } from './ids.js';
import { attachmentsOf } from './attachments.js';
import { answerState } from './assistant-answers.js';

const newer = (id, than) => !than || compareIds(id, than) > 0;
const notOlder = (id, than) => !than || compareIds(id, than) >= 0;

/** A message record from a `message` frame, a `joined` entry, an ack or a REST HistoryMessage. */
export function normalizeMessage(m, room, user) {
  const msg = {
    id: m.id,
    room,
    user,
    text: String(m.text ?? ''),
    ts: typeof m.ts === 'number' ? m.ts : idTime(m.id),
    cid: m.cid || null,
    replyTo: typeof m.replyTo === 'string' ? m.replyTo : null,
    // Top-level messages: the room's counter (read-state.js); mentions: ids and/or "@room".
    seq: Number.isInteger(m.seq) && m.seq > 0 ? m.seq : null,
    mentions: mentionsOf(m),
    editedAt: typeof m.editedAt === 'number' ? m.editedAt : null,
    deleted: m.deleted === true,
    // REST state carries no event id; its editedAt ms is a safe floor (an older edit has an
    // older id; the one it reflects, reapplied, sets the same text).
    version: typeof m.editedAt === 'number' ? `${m.editedAt}-0` : null,
    reactions: new Map(), // emoji -> { count, me, v: newest event id, mv: newest of mine }
    // A top-level message's thread (the live `replyCount` of a reply frame is its PARENT's).
    replyCount: !m.replyTo && Number.isInteger(m.replyCount) ? m.replyCount : 0,
    lastReplyAt: typeof m.lastReplyAt === 'number' ? m.lastReplyAt : null,
    // Files (issue 16): an edit never changes them; a delete takes them away.
    attachments: m.deleted === true ? [] : attachmentsOf(m),
    rcv: null, // id of the frame that set replyCount
    stream: null, // the assistant's answer while it streams: { text, asker } (assistant-answers.js)
    rev: 0, // bumped on every change: renderers patch an element when it moves
  };
  if (msg.deleted) msg.text = '';
  if (Array.isArray(m.reactions) && !msg.deleted) {
    for (const r of m.reactions) {
      if (r && typeof r.emoji === 'string' && Number.isInteger(r.count) && r.count > 0) {
        msg.reactions.set(r.emoji, { count: r.count, me: r.me === true, v: null, mv: null });
      }
    }
  }
  return msg;
}

function mentionsOf(m) {
  return Array.isArray(m.mentions) ? m.mentions.filter((x) => typeof x === 'string').slice(0, 1000) : null;
}

/**
 * A message this client already holds, seen again: my own, added on its ack, gets the seq and
 * mentions only its frame carries. True when something was filled in.
 */
export function fillFromFrame(msg, m) {
  let filled = false;
  if (msg.seq === null && Number.isInteger(m.seq) && m.seq > 0) {
    msg.seq = m.seq;
    filled = true;
  }
  if (msg.mentions === null && Array.isArray(m.mentions)) {
    msg.mentions = mentionsOf(m);
    msg.rev++;
    filled = true;
  }
  if (msg.attachments.length === 0 && !msg.deleted && Array.isArray(m.attachments)) {
    msg.attachments = attachmentsOf(m);
    if (msg.attachments.length) msg.rev++;
    filled = filled || msg.attachments.length > 0;
  }
  return filled;
}

/**
 * Applies an edit/delete/react event to its target; true when something changed. `meId` decides
 * whose reactions are "mine".
 */
export function applyEventTo(msg, ev, meId) {
  switch (ev.kind) {
    case 'edit':
      if (msg.deleted || !newer(ev.id, msg.version) || typeof ev.text !== 'string') return false;
      msg.version = ev.id;
      if (msg.text === ev.text && msg.editedAt === ev.ts) return false;
      msg.text = ev.text;
      msg.editedAt = ev.ts;
      msg.rev++;
      return true;
    case 'delete':
      if (!markDeleted(msg)) return false;
      if (newer(ev.id, msg.version)) msg.version = ev.id;
      return true;
    case 'react': {
      if (msg.deleted || typeof ev.emoji !== 'string') return false;
      let rx = msg.reactions.get(ev.emoji);
      if (!rx) {
        rx = { count: 0, me: false, v: null, mv: null };
        msg.reactions.set(ev.emoji, rx);
      }
      let changed = false;
      if (Number.isInteger(ev.count) && notOlder(ev.id, rx.v)) {
        changed = rx.count !== ev.count;
        rx.count = Math.max(0, ev.count);
        rx.v = ev.id;
      }
      const user = ev.user && ev.user.id;
      if (meId && user === meId && notOlder(ev.id, rx.mv)) {
        changed = changed || rx.me !== ev.on;
        rx.me = ev.on === true;
        rx.mv = ev.id;
      }
      // A zero-count entry stays (hidden) so an older event cannot bring it back.
      if (changed) msg.rev++;
      return changed;
    }
    default:
      return false;
  }
}

/** Makes `msg` a tombstone (a delete is final); true when it was not one yet. */
export function markDeleted(msg) {
  if (msg.deleted) return false;
  msg.deleted = true;
  msg.text = '';
  msg.reactions.clear();
  msg.attachments = [];
  msg.rev++;
  return true;
}

/** Sets a parent's reply count from the frame `id` that carries it (newest wins). */
export function applyReplyCount(parent, id, count, replyTs) {
  if (!Number.isInteger(count) || count < 0 || !newer(id, parent.rcv)) return false;
  parent.rcv = id;
  const was = [parent.replyCount, parent.lastReplyAt];
  parent.replyCount = count;
  if (count === 0) parent.lastReplyAt = null;
  else if (typeof replyTs === 'number' && (!parent.lastReplyAt || replyTs > parent.lastReplyAt)) parent.lastReplyAt = replyTs;
  if (was[0] === parent.replyCount && was[1] === parent.lastReplyAt) return false;
  parent.rev++;
  return true;
}

/**
 * What to show for a message: its state with this client's own changes that are not confirmed
 * yet laid over it (in the order they were made). `changes` are the pending changes on it.
 * An answer of the assistant also says whether it is still being written (and, to its asker
 * `meId`, that it can be stopped).
 */
export function messageView(msg, changes = [], meId = null) {
  let text = msg.text;
  let deleted = msg.deleted;
  let editedAt = msg.editedAt;
  let pending = null;
  const rx = new Map();
  for (const [emoji, r] of msg.reactions) rx.set(emoji, { emoji, count: r.count, me: r.me });
  for (const c of changes) {
    if (c.kind === 'edit' && !deleted) {
      text = c.text;
      editedAt = editedAt || c.createdAt;
      pending = 'edit';
    } else if (c.kind === 'delete') {
      deleted = true;
      pending = 'delete';
    } else if (c.kind === 'react' && !deleted) {
      const r = rx.get(c.emoji) || { emoji: c.emoji, count: 0, me: false };
      if (r.me !== c.on) r.count = Math.max(0, r.count + (c.on ? 1 : -1));
      r.me = c.on;
      rx.set(c.emoji, r);
    }
  }
  const answer = answerState(msg, deleted);
  return {
    id: msg.id,
    room: msg.room,
    user: msg.user,
    ts: msg.ts,
    replyTo: msg.replyTo,
    seq: msg.seq,
    mentions: msg.mentions,
    text: deleted ? '' : answer.streaming ? answer.text : text,
    deleted,
    // an answer's edit is its completion, not a correction
    editedAt: deleted || answer.answer ? null : editedAt,
    answer: answer.answer,
    thinking: answer.thinking,
    streaming: answer.streaming,
    asker: answer.asker,
    canStop: answer.streaming && meId !== null && answer.asker === meId,
    pending,
    reactions: deleted ? [] : [...rx.values()].filter((r) => r.count > 0),
    replyCount: msg.replyCount,
    lastReplyAt: msg.lastReplyAt,
    attachments: deleted ? [] : msg.attachments,
  };
}
