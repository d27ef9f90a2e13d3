// A member's menu in the people panel, for the room's owner and admins: remove (kick), ban, mute
// for 5 min / 1 hour / 1 day (or unmute), and for the owner make admin / member and hand the
// room over. Moderators act only on members of a LOWER role (owner > admin > member), as the
// server decides (member.lua); a group has no owner, so nobody moderates there.
import { openMenu } from './popup-menu.js';
import { STRINGS } from '../strings.js';

const RANK = { member: 0, admin: 1, owner: 2 };
const M = STRINGS.moderation;

/** Whether `myRole` may moderate someone with `theirRole`. */
export function outranks(myRole, theirRole) {
  if (!myRole || RANK[myRole] < RANK.admin) return false;
  return RANK[myRole] > RANK[theirRole || 'member'];
}

/** The menu items `me` gets for `member` in room `r` (empty: no menu). */
export function memberMenuItems(r, member, meId, actions) {
  if (!r || r.kind === 'dm' || r.kind === 'group' || member.id === meId || r.archived) return [];
  const items = [];
  const user = { id: member.id, name: member.name };
  if (outranks(r.role, member.role)) {
    items.push({ label: M.kick, onSelect: () => actions.kick(r.name, user) });
    items.push({ label: M.ban, danger: true, onSelect: () => actions.ban(r.name, user) });
    if (member.mutedUntil > Date.now()) items.push({ label: M.unmute, onSelect: () => actions.unmute(r.name, user) });
    else for (const d of M.durations) items.push({ label: M.mute(d.label), onSelect: () => actions.mute(r.name, user, d.seconds) });
  }
  if (r.role === 'owner') {
    if (member.role === 'member') items.push({ label: M.makeAdmin, onSelect: () => actions.setRole(r.name, user, 'admin') });
    if (member.role === 'admin') items.push({ label: M.makeMember, onSelect: () => actions.setRole(r.name, user, 'member') });
    items.push({ label: M.transfer, onSelect: () => actions.transfer(r.name, user) });
  }
  return items;
}

export function openMemberMenu(button, r, member, meId, actions) {
  const items = memberMenuItems(r, member, meId, actions);
  if (items.length) openMenu(button, null, items);
}
