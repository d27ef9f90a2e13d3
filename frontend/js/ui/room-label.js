// What a room is called on screen, by kind: a public room `# name`, a private room its title, a
// group its other members' names ("alice, bob, carol"), a DM `@ ` and the other user's name.
// Titles and peers come from GET /api/me/rooms (store-rooms.js); until they are known, a
// generic word stands in (never the random `p:`/`g:` name).
import { dmPartner } from '../rooms.js';
import { STRINGS } from '../strings.js';
import { shownName } from './avatar.js';

export function dmName(store, name) {
  const me = store.state.me;
  const partner = dmPartner(name, me ? me.id : '');
  return (partner && shownName(partner, store.state.names.get(partner) || '')) || 'Direct message';
}

function groupName(store, r) {
  const me = store.state.me ? store.state.me.id : null;
  let people = r && r.peers ? r.peers : null;
  if ((!people || !people.length) && r && r.roster) people = [...r.roster.values()].filter((m) => m.id !== me);
  const names = (people || []).map((p) => shownName(p.id, p.name)).filter(Boolean);
  return names.length ? names.join(', ') : STRINGS.chat.group;
}

/** The name without its prefix (composer placeholder, toasts, dialogs). */
export function roomName(store, name) {
  const r = store.state.rooms.get(name);
  switch (r ? r.kind : null) {
    case 'dm':
      return dmName(store, name);
    case 'private':
      return (r && r.title) || STRINGS.chat.privateRoom;
    case 'group':
      return groupName(store, r);
    default:
      return name.startsWith('dm:') ? dmName(store, name) : name;
  }
}

/** The name as the header and the sidebar show it: `# general`, `@ bob`, a title, a group. */
export function roomLabel(store, name) {
  const r = store.state.rooms.get(name);
  const kind = r ? r.kind : null;
  if (kind === 'private' || kind === 'group') return roomName(store, name);
  if (kind === 'dm' || name.startsWith('dm:')) return `@ ${dmName(store, name)}`;
  return `# ${name}`;
}
