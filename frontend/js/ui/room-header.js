// The chat header of the room on screen: its name by kind (a lock for a private room), its topic
// and member count (a DM: its peer's presence status — "online", "away", "last seen 5 min ago"), Leave (a confirmation first; "Close" for a DM) and the room options menu —
// invite people, edit the topic (owner and admins), archive (the owner), and for everyone mute
// or unmute the room's notifications (a DM's menu has only that). Also what the
// composer may do there: nothing while the user is muted ("You are muted until 14:05", lifted
// on time) or the room is archived, and never again in a DM whose peer deleted their account.
import { $, h, clear, setText } from './dom.js';
import { formatTime } from './format.js';
import { openMenu } from './popup-menu.js';
import { canInvite } from './members.js';
import { dmName, roomLabel, roomName } from './room-label.js';
import { isDeletedUser } from './avatar.js';
import { presenceDot, presenceWords } from './presence-dot.js';
import { DEFAULT_ROOM, dmPartner } from '../rooms.js';
import { STRINGS } from '../strings.js';

const moderator = (r) => r.role === 'owner' || r.role === 'admin';

export function mountRoomHeader({ store, composer, actions, dialogs, presence = null, setTitle = (t) => (document.title = t), onMuteNotifications = null }) {
  const menuBtn = $('room-menu-btn');
  const sub = $('room-sub');
  let unmuteTimer = 0;
  let subSig = '';

  function menuItems(r) {
    const items = [];
    if (canInvite(r)) items.push({ label: STRINGS.rooms.invite, onSelect: () => dialogs.openInvite(r.name) });
    if (!r.archived && (moderator(r) || r.kind === 'group')) items.push({ label: STRINGS.rooms.editTopic, onSelect: () => dialogs.openTopic(r.name) });
    if (r.role === 'owner' && r.kind !== 'group') {
      items.push(r.archived
        ? { label: STRINGS.rooms.unarchive, onSelect: () => actions.archive(r.name, false) }
        : { label: STRINGS.rooms.archive, danger: true, onSelect: () => actions.archive(r.name, true) });
    }
    if (onMuteNotifications) {
      const muted = r.notifyMuted;
      items.push({ label: muted ? STRINGS.attention.unmuteRoom : STRINGS.attention.muteRoom, onSelect: () => onMuteNotifications(r.name, !muted) });
    }
    return items;
  }

  menuBtn.addEventListener('click', () => {
    const r = store.state.current ? store.state.rooms.get(store.state.current) : null;
    if (r) openMenu(menuBtn, $('room-menu'), menuItems(r));
  });
  $('room-leave').addEventListener('click', () => {
    const cur = store.state.current;
    const r = cur ? store.state.rooms.get(cur) : null;
    if (!r || cur === DEFAULT_ROOM) return;
    if (r.kind === 'dm') actions.closeDm(cur);
    else actions.leave(cur);
  });

  /** Muted or archived: what the composer says instead of sending. */
  function lockText(r) {
    clearTimeout(unmuteTimer);
    if (r.archived) return STRINGS.rooms.archivedNotice;
    const left = r.mutedUntil - Date.now();
    if (left > 0) {
      // Lifted on time, without waiting for another render.
      unmuteTimer = setTimeout(render, Math.min(left + 50, 2 ** 31 - 1));
      return STRINGS.rooms.mutedUntil(formatTime(r.mutedUntil));
    }
    return '';
  }

  function render() {
    const cur = store.state.current;
    if (!cur) return;
    const r = store.room(cur);
    const label = roomLabel(store, cur);
    setText($('room-title'), label);
    $('room-lock').hidden = r.kind !== 'private';
    const parts = [];
    if (r.kind === 'dm') parts.push(STRINGS.chat.dmWith(dmName(store, cur)));
    else {
      if (r.topic) parts.push(r.topic);
      const n = r.roster ? r.roster.size : r.memberCount;
      if (Number.isInteger(n) && n > 0) parts.push(STRINGS.chat.members(n));
      if (r.archived) parts.push(STRINGS.chat.archived);
    }
    const me = store.state.me;
    const partner = r.kind === 'dm' && me ? dmPartner(cur, me.id) : null;
    const gone = !!partner && isDeletedUser(partner);
    setSub(parts.join(' · '), partner && presence && !gone ? presence.statusOf(partner) : null);
    $('room-leave').hidden = cur === DEFAULT_ROOM;
    setText($('room-leave'), r.kind === 'dm' ? STRINGS.chat.close : STRINGS.chat.leave);
    menuBtn.hidden = menuItems(r).length === 0;
    setTitle(STRINGS.chat.title(label));
    composer.setRoom(cur, r.kind === 'public' ? `#${cur}` : roomName(store, cur));
    // A DM with a deleted account stays readable; nothing can be sent to nobody.
    if (gone) composer.setLock(STRINGS.account.peerDeleted, { final: true });
    else composer.setLock(lockText(r));
  }

  /** The line under the title; a DM's ends with its peer's status (a dot and the words). */
  function setSub(text, info) {
    const words = info ? presenceWords(info) : '';
    const sig = `${text}\n${info ? info.status : ''}\n${words}`;
    if (sig === subSig) return;
    subSig = sig;
    clear(sub);
    if (text) sub.append(text);
    if (info) sub.append(' · ', presenceDot(info, words, 'inline'), h('span', { className: 'room-peer-status', text: words }));
  }

  return { render };
}
