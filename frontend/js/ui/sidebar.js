// The sidebar: the user's rooms (GET /api/me/rooms, my-rooms.js) — public and private rooms, then
// DMs and groups — with last activity, unread counts (dimmed when I muted the room) and a separate
// "@ N" badge for unread mentions (read-state.js), the join form (a public name, validated
// like the server; a private room's `p:` name is checked over REST first), "+" to create a room
// or start a group, the people search that opens DMs, and the signed-in user with "Sign out".
// Closed DMs (hidden-dms.js) are left out until a new message arrives. A DM's row shows its
// peer's presence status (presence.js) as a dot on the avatar, in words for screen readers.
import { $, h, clear, setText } from './dom.js';
import { formatAgo, initials, avatarClass } from './format.js';
import { dmPartner, dmRoomName, isMembersOnlyRoom, roomNameProblem, DEFAULT_ROOM } from '../rooms.js';
import { dmName, roomName } from './room-label.js';
import { bindAvatar, isDeletedUser, personEls, shownName } from './avatar.js';
import { STRINGS } from '../strings.js';
import { shownCounts } from '../read-state.js';
import { presenceWords, setDot } from './presence-dot.js';

export function mountSidebar({ store, api, presence = null, onSelect, onOpenByName, onCreateRoom, onNewGroup, onLogout }) {
  const roomList = $('room-list');
  const dmList = $('dm-list');
  const joinForm = $('join-form');
  const joinInput = $('join-input');
  const joinError = $('join-error');
  const dmInput = $('dm-input');
  const dmResults = $('dm-results');
  const dmError = $('dm-error');

  const joinProblem = (text) => {
    joinError.textContent = text;
    joinInput.setAttribute('aria-invalid', 'true');
    joinInput.focus();
  };
  $('room-create').addEventListener('click', () => onCreateRoom());
  $('group-create').addEventListener('click', () => onNewGroup());

  joinForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const typed = joinInput.value.trim();
    if (isMembersOnlyRoom(typed)) {
      // A private room's or group's own name (a pasted link): only its members may open it.
      joinError.textContent = '';
      if (!(await onOpenByName(typed))) return joinProblem(STRINGS.rooms.noSuchRoom);
      joinInput.removeAttribute('aria-invalid');
      joinInput.value = '';
      return;
    }
    const name = typed.replace(/^#/, '').toLowerCase();
    const problem = roomNameProblem(name);
    if (problem) {
      joinError.textContent = problem;
      joinInput.setAttribute('aria-invalid', 'true');
      joinInput.focus();
      return;
    }
    joinInput.removeAttribute('aria-invalid');
    joinError.textContent = '';
    joinInput.value = '';
    onSelect(name, { focusComposer: true });
  });
  joinInput.addEventListener('input', () => {
    if (!joinInput.value) {
      joinError.textContent = '';
      joinInput.removeAttribute('aria-invalid');
    }
  });

  // People search for direct messages (debounced; results are buttons, Escape closes). Names
  // match anywhere (`ro` finds carol); the signed-in user is listed as "you", not as a button.
  let searchTimer = 0;
  let searchSeq = 0;
  dmInput.addEventListener('input', () => {
    clearTimeout(searchTimer);
    const q = dmInput.value.trim();
    dmError.textContent = '';
    if (!q) {
      dmResults.hidden = true;
      return;
    }
    searchTimer = setTimeout(() => search(q), 200);
  });
  dmInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      dmInput.value = '';
      dmResults.hidden = true;
    } else if (ev.key === 'ArrowDown' && !dmResults.hidden) {
      ev.preventDefault();
      const first = dmResults.querySelector('button');
      if (first) first.focus();
    }
  });
  $('dm-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const first = dmResults.querySelector('button');
    if (first) first.click();
  });
  dmResults.addEventListener('keydown', (ev) => {
    const buttons = [...dmResults.querySelectorAll('button')];
    const i = buttons.indexOf(document.activeElement);
    if (ev.key === 'ArrowDown' && i < buttons.length - 1) {
      ev.preventDefault();
      buttons[i + 1].focus();
    } else if (ev.key === 'ArrowUp') {
      ev.preventDefault();
      (i > 0 ? buttons[i - 1] : dmInput).focus();
    } else if (ev.key === 'Escape') {
      dmResults.hidden = true;
      dmInput.focus();
    }
  });

  async function search(q) {
    const seq = ++searchSeq;
    try {
      const res = await api.searchUsers(q);
      if (seq !== searchSeq) return;
      const me = store.state.me;
      // In the server's order: names that start with the query first, then those containing it.
      const users = res.users || [];
      clear(dmResults);
      if (users.length === 0) {
        dmResults.appendChild(h('li', { className: 'dm-none', text: 'No one found' }));
      }
      for (const u of users) {
        if (me && u.id === me.id) {
          // Yourself: found (so not "No one found"), but there is no conversation to open.
          dmResults.appendChild(h('li', { className: 'dm-none dm-self' }, h('span', { text: u.username }), ' ', h('span', { className: 'you-tag', text: 'you' })));
          continue;
        }
        dmResults.appendChild(
          h(
            'li',
            {},
            h(
              'button',
              {
                className: 'dm-result',
                attrs: { type: 'button' },
                on: {
                  click: () => {
                    store.rememberName(u.id, u.username);
                    dmInput.value = '';
                    dmResults.hidden = true;
                    const room = dmRoomName(me.id, u.id);
                    onSelect(room, { focusComposer: true });
                  },
                },
              },
              ...personEls(u.id, u.username),
            ),
          ),
        );
      }
      dmResults.hidden = false;
    } catch (err) {
      if (seq === searchSeq) dmError.textContent = err.message || 'Search failed.';
    }
  }

  $('logout').addEventListener('click', () => onLogout());

  // One <li><button> per room, kept across renders and updated in place (class, aria-current,
  // name, activity, unread badge), so an incoming message neither rebuilds the list nor moves
  // keyboard focus or a screen reader's position.
  const items = new Map(); // room name -> { li, btn, name, meta, badge, mention, avatar }
  let emptyDms = null;

  function roomItem(r, dm) {
    let it = items.get(r.name);
    if (!it) {
      const name = h('span', { className: 'room-name-text' });
      const avatar = dm ? h('span', { attrs: { 'aria-hidden': 'true' } }) : h('span', { className: 'hash', text: '#', attrs: { 'aria-hidden': 'true' } });
      const meta = h('span', { className: 'room-meta' });
      const badge = h('span', { className: 'badge' });
      const mention = h('span', { className: 'badge mention-badge' });
      const priv = r.kind === 'private' ? h('span', { className: 'sr-only', text: ` ${STRINGS.chat.privateTag}` }) : null;
      const btn = h(
        'button',
        { className: 'room-btn', attrs: { type: 'button', 'data-room': r.name, 'data-kind': r.kind }, on: { click: () => onSelect(r.name, { focusComposer: true }) } },
        h('span', { className: 'room-name' }, avatar, name, priv),
        meta,
      );
      it = { li: h('li', {}, btn), btn, name, meta, badge, mention, avatar };
      items.set(r.name, it);
    }
    return it;
  }

  const attentionView = () => ({ current: store.state.current, visible: document.visibilityState === 'visible', countsLoaded: store.state.countsLoaded });

  /** Shows `text` in `badge` (with its accessible name) at the end of the button, or removes it. */
  function setBadge(it, badge, text, aria) {
    if (!text) {
      if (badge.parentNode) badge.remove();
      return;
    }
    setText(badge, text);
    if (badge.getAttribute('aria-label') !== aria) badge.setAttribute('aria-label', aria);
    // The mention badge goes before the unread one.
    if (badge.parentNode !== it.btn) it.btn.insertBefore(badge, badge === it.mention && it.badge.parentNode === it.btn ? it.badge : null);
  }

  function updateItem(it, r, label, meta, avatarText, avatarCls, view) {
    const current = store.state.current === r.name;
    const shown = shownCounts(r, view);
    const cls = 'room-btn' + (r.joined ? ' joined' : '') + (shown.total ? ' has-unread' : '') + (r.notifyMuted ? ' notify-muted' : '');
    if (it.btn.className !== cls) it.btn.className = cls;
    if (current) it.btn.setAttribute('aria-current', 'page');
    else it.btn.removeAttribute('aria-current');
    const liCls = current ? 'current' : '';
    if (it.li.className !== liCls) it.li.className = liCls;
    setText(it.name, label);
    setText(it.meta, meta);
    if (avatarCls !== undefined) {
      if (it.avatar.className !== avatarCls) it.avatar.className = avatarCls;
      setText(it.avatar, avatarText);
    }
    const A = STRINGS.attention;
    setBadge(it, it.mention, shown.mentions ? A.mentionBadge(shown.mentions) : '', A.mentions(shown.mentions));
    setBadge(it, it.badge, shown.unread ? (shown.unread > 99 ? '99+' : String(shown.unread)) : '', A.unread(shown.unread));
  }

  /** A DM peer's status: a dot on the avatar (title: the words), the words for screen readers. */
  function setPeerStatus(it, partner) {
    if (!presence || !partner) return;
    if (!it.dot) {
      it.dot = h('span');
      it.said = h('span', { className: 'sr-only' });
      it.name.after(it.said);
    }
    const info = presence.statusOf(partner);
    const words = presenceWords(info);
    setDot(it.dot, info, words);
    // setText on the avatar (its initials) drops what is inside it: put the dot back.
    if (it.dot.parentNode !== it.avatar) it.avatar.appendChild(it.dot);
    setText(it.said, `, ${words}`);
  }

  /** Puts `lis` into `list` in order, moving only what is out of place. */
  function reconcile(list, lis) {
    let cursor = list.firstChild;
    for (const li of lis) {
      if (li === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(li, cursor);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      list.removeChild(cursor);
      cursor = next;
    }
  }

  function render() {
    // Reordering may move a focused button (moving a node blurs it): give its focus back.
    const active = document.activeElement;
    const focused = active && active.classList && active.classList.contains('room-btn') ? active : null;
    const now = Date.now();
    const view = attentionView();
    // The user's rooms only (a frame may have made a record of another), closed DMs left out.
    const rooms = [...store.state.rooms.values()].filter((r) => r.joined && !r.hidden);
    const isDmOrGroup = (r) => r.kind === 'dm' || r.kind === 'group';
    const label = (r) => (r.kind === 'public' ? r.name : roomName(store, r.name));
    const publicRooms = rooms
      .filter((r) => !isDmOrGroup(r))
      .sort((a, b) => (a.name === DEFAULT_ROOM ? -1 : b.name === DEFAULT_ROOM ? 1 : label(a).localeCompare(label(b))));
    const dms = rooms.filter(isDmOrGroup).sort((a, b) => (b.lastMessageAt || 0) - (a.lastMessageAt || 0));
    const shown = new Set(rooms.map((r) => r.name));
    for (const name of items.keys()) if (!shown.has(name)) items.delete(name);
    const publicLis = [];
    for (const r of publicRooms) {
      const it = roomItem(r, false);
      updateItem(it, r, label(r), formatAgo(r.lastMessageAt, now), r.kind === 'private' ? '🔒' : '#', 'hash', view);
      publicLis.push(it.li);
    }
    reconcile(roomList, publicLis);
    const dmLis = [];
    for (const r of dms) {
      const it = roomItem(r, true);
      if (r.kind === 'group') {
        const name = roomName(store, r.name);
        const people = r.peers ? r.peers.length + 1 : null;
        updateItem(it, r, name, formatAgo(r.lastMessageAt, now), people ? String(people) : '👥', 'avatar tiny avatar-group', view);
      } else {
        const name = dmName(store, r.name);
        const partner = dmPartner(r.name, store.state.me ? store.state.me.id : '');
        // A deleted peer: "?" on the neutral grey (ui/avatar.js), as everywhere else.
        const gone = !!partner && isDeletedUser(partner);
        updateItem(it, r, name, formatAgo(r.lastMessageAt, now), gone ? '?' : initials(name), `avatar tiny ${avatarClass(partner || r.name)}${gone ? ' avatar-deleted' : ''}`, view);
        setPeerStatus(it, partner);
      }
      dmLis.push(it.li);
    }
    if (dms.length === 0) {
      if (!emptyDms) emptyDms = h('li', { className: 'nav-empty', text: 'Find someone above to start a conversation.' });
      dmLis.push(emptyDms);
    }
    reconcile(dmList, dmLis);
    if (focused && focused.isConnected && document.activeElement !== focused) focused.focus();
    const me = store.state.me;
    if (me) {
      setText($('me-name'), shownName(me.id, me.username));
      const av = $('me-avatar');
      const cls = `avatar ${avatarClass(me.id)}`;
      if (!av.classList.contains(cls.split(' ')[1])) av.className = cls;
      bindAvatar(av, me.id, me.username);
    }
  }

  return { render };
}
