// System lines in the message list: what a `member` or `room` event says in words ("alice invited
// bob", "dave was kicked by alice", "alice changed the topic to …"). Each event carries the
// member's state after it (PROTOCOL.md "Membership events"): a mute's length is its mutedUntil
// less the event's time; a `role` event names the new role. Text only through textContent.
import { h } from './dom.js';
import { formatTime, formatFull } from './format.js';
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

/** The words for one membership or room event, or null for one this client does not know. */
export function systemText(ev) {
  const a = ev.user && ev.user.name ? ev.user.name : '?';
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
  const m = ev.member && ev.member.name ? ev.member.name : '?';
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

/** One system line for the timeline (a list item without message actions). */
export function systemLineEl(ev) {
  const text = systemText(ev) || '';
  return h(
    'li',
    { className: `sys-line sys-${ev.kind}-${ev.action}`, attrs: { 'data-sys-id': ev.id } },
    h('span', { className: 'sys-text', text }),
    ' ',
    h('time', { className: 'sys-time', text: formatTime(ev.ts), attrs: { datetime: new Date(ev.ts).toISOString(), title: formatFull(ev.ts) } }),
  );
}
