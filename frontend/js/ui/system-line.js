// System lines in the message list: what a `member` or `room` event says in words ("alice invited
// bob", "dave was kicked by alice", "alice changed the topic to …"). Each event carries the
// member's state after it (PROTOCOL.md "Membership events"): a mute's length is its mutedUntil
// less the event's time; a `role` event names the new role. Text only through textContent.
// The people in a line show by profile, kept current in place (ui/avatar.js nameEl): a display
// name set later, or "Deleted user" once an account is gone.
import { h } from './dom.js';
import { formatTime, formatFull } from './format.js';
import { nameEl } from './avatar.js';
import { STRINGS } from '../strings.js';

const S = STRINGS.system;

/** "5 min", "1 hour", "1 day": a mute's length, rounded to the minute (the ids' clocks are ms). */
export function muteLength(ms) {
  const min = Math.round(ms / 60_000);
  if (min < 1) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (min % 1440 === 0) return min === 1440 ? '1 day' : `${min / 1440} days`;
  if (min % 60 === 0) return min === 60 ? '1 hour' : `${min / 60} hours`;
  return `${min} min`;
}

/**
 * The words for one membership or room event, or null for one this client does not know.
 * `nameOf(user)`: how a person is written (their username by default).
 */
export function systemText(ev, nameOf = (u) => u.name) {
  const who = (u) => (u && u.name ? nameOf(u) : '?');
  const a = who(ev.user);
  if (ev.kind === 'room') {
    switch (ev.action) {
      case 'created':
        return ev.roomKind === 'group' ? S.startedGroup(a) : S.created(a);
      case 'topic':
        return ev.topic ? S.topic(a, ev.topic) : S.topicCleared(a);
      case 'archived':
        return S.archived(a);
      case 'unarchived':
        return S.unarchived(a);
      default:
        return null;
    }
  }
  const m = who(ev.member);
  switch (ev.action) {
    case 'joined':
      return S.joined(m);
    case 'invited':
      return S.invited(a, m);
    case 'left':
      return S.left(m);
    case 'kicked':
      return S.kicked(m, a);
    case 'banned':
      return S.banned(m, a);
    case 'unbanned':
      return S.unbanned(m, a);
    case 'muted':
      return S.muted(m, muteLength((ev.mutedUntil || ev.ts) - ev.ts));
    case 'unmuted':
      return S.unmuted(m);
    case 'role':
      // The second event of an ownership transfer: the old owner, by their own hand, an admin.
      if (ev.user && ev.member && ev.user.id === ev.member.id && ev.role === 'admin') return S.nowAdmin(m);
      if (ev.role === 'owner') return S.madeOwner(a, m);
      return ev.role === 'admin' ? S.madeAdmin(a, m) : S.madeMember(a, m);
    default:
      return null;
  }
}

// Stands for the n-th person in the words, then replaced by their name element: the words' order
// stays the strings' (a translation may put the people anywhere).
const SLOT = /\u0001(\d+)\u0002/;

/** The line's words as nodes, each person a live name element. */
function textNodes(ev) {
  const people = [];
  const slot = (u) => `\u0001${people.push(u) - 1}\u0002`;
  // A topic is typed text: it must not fake a slot.
  const safe = typeof ev.topic === 'string' ? { ...ev, topic: ev.topic.replace(/[\u0001\u0002]/g, '') } : ev;
  const parts = (systemText(safe, slot) || '').split(SLOT);
  // split with a capture group: text, index, text, index, …, text
  return parts.map((p, i) => {
    if (i % 2 === 0) return p;
    const u = people[Number(p)];
    return typeof u.id === 'string' ? nameEl(u.id, u.name, 'sys-name') : u.name;
  });
}

/** One system line for the timeline (a list item without message actions). */
export function systemLineEl(ev) {
  return h(
    'li',
    { className: `sys-line sys-${ev.kind}-${ev.action}`, attrs: { 'data-sys-id': ev.id } },
    h('span', { className: 'sys-text' }, ...textNodes(ev)),
    ' ',
    h('time', { className: 'sys-time', text: formatTime(ev.ts), attrs: { datetime: new Date(ev.ts).toISOString(), title: formatFull(ev.ts) } }),
  );
}
