// The sidebar: public rooms (joined ones first-class, others to browse) with last activity and
// unread counts, the join/create form (validated like the server), direct messages and the
// people search that opens them, and the signed-in user with "Sign out".
import { $, h, clear, setText } from './dom.js';
import { formatAgo, initials, avatarClass } from './format.js';
import { dmMembers, dmPartner, dmRoomName, roomNameProblem, DEFAULT_ROOM } from '../rooms.js';

export function roomLabel(store, name) {
  if (!dmMembers(name)) return `# ${name}`;
  return `@ ${dmName(store, name)}`;
}

export function dmName(store, name) {
  const me = store.state.me;
  const partner = dmPartner(name, me ? me.id : '');
  return (partner && store.state.names.get(partner)) || 'Direct message';
}

export function mountSidebar({ store, api, onSelect, onLogout }) {
  const roomList = $('room-list');
  const dmList = $('dm-list');
  const joinForm = $('join-form');
  const joinInput = $('join-input');
  const joinError = $('join-error');
  const dmInput = $('dm-input');
  const dmResults = $('dm-results');
  const dmError = $('dm-error');

  joinForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = joinInput.value.trim().replace(/^#/, '').toLowerCase();
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

  // People search for direct messages (debounced; results are buttons, Escape closes).
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
      const users = (res.users || []).filter((u) => !me || u.id !== me.id);
      clear(dmResults);
      if (users.length === 0) {
        dmResults.appendChild(h('li', { className: 'dm-none', text: 'No one found' }));
      }
      for (const u of users) {
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
              h('span', { className: `avatar tiny ${avatarClass(u.id)}`, text: initials(u.username), attrs: { 'aria-hidden': 'true' } }),
              h('span', { text: u.username }),
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

  function roomItem(r, label, meta) {
    const current = store.state.current === r.name;
    const btn = h(
      'button',
      {
        className: 'room-btn' + (r.joined ? ' joined' : '') + (r.unread ? ' has-unread' : ''),
        attrs: { type: 'button', 'aria-current': current ? 'page' : null, 'data-room': r.name },
        on: { click: () => onSelect(r.name, { focusComposer: true }) },
      },
      label,
      h('span', { className: 'room-meta', text: meta }),
      r.unread
        ? h('span', { className: 'badge', text: r.unread > 99 ? '99+' : String(r.unread), attrs: { 'aria-label': `${r.unread} unread` } })
        : null,
    );
    return h('li', { className: current ? 'current' : '' }, btn);
  }

  function render() {
    // Rebuilding the lists must not steal keyboard focus from a room button.
    const active = document.activeElement;
    const focusedRoom = active && active.classList.contains('room-btn') ? active.dataset.room : null;
    const now = Date.now();
    const rooms = [...store.state.rooms.values()];
    const publicRooms = rooms
      .filter((r) => !dmMembers(r.name))
      .sort((a, b) => (a.name === DEFAULT_ROOM ? -1 : b.name === DEFAULT_ROOM ? 1 : Number(b.joined) - Number(a.joined) || a.name.localeCompare(b.name)));
    const dms = rooms.filter((r) => dmMembers(r.name)).sort((a, b) => (b.lastMessageAt || 0) - (a.lastMessageAt || 0));
    clear(roomList);
    for (const r of publicRooms) {
      const label = h('span', { className: 'room-name' }, h('span', { className: 'hash', text: '#', attrs: { 'aria-hidden': 'true' } }), r.name);
      roomList.appendChild(roomItem(r, label, formatAgo(r.lastMessageAt, now)));
    }
    clear(dmList);
    for (const r of dms) {
      const name = dmName(store, r.name);
      const partner = dmPartner(r.name, store.state.me ? store.state.me.id : '');
      const label = h(
        'span',
        { className: 'room-name' },
        h('span', { className: `avatar tiny ${avatarClass(partner || r.name)}`, text: initials(name), attrs: { 'aria-hidden': 'true' } }),
        name,
      );
      dmList.appendChild(roomItem(r, label, formatAgo(r.lastMessageAt, now)));
    }
    if (dms.length === 0) dmList.appendChild(h('li', { className: 'nav-empty', text: 'Find someone above to start a conversation.' }));
    if (focusedRoom) {
      for (const b of document.querySelectorAll('.room-btn')) if (b.dataset.room === focusedRoom) b.focus();
    }
    const me = store.state.me;
    if (me) {
      setText($('me-name'), me.username);
      const av = $('me-avatar');
      av.className = `avatar ${avatarClass(me.id)}`;
      setText(av, initials(me.username));
    }
  }

  return { render };
}
