// The people of the current room — its members with their roles (GET …/members, kept live by
// `member` events), each marked online when they have a socket in any room this client holds
// (presence), a DM's two users — with a menu per member for moderators (member-menu.js) and
// "Invite people"; and the typing line under the messages. On a wide screen the roster sits
// beside the chat, open unless the user closed it; narrower, it is drawn over the chat, so there
// it opens only when asked for: a panel open on a wide screen closes when the window narrows (a
// rotated tablet, a resized window) and comes back when it widens again.
import { $, h, clear, setText, reconcile } from './dom.js';
import { initials, avatarClass } from './format.js';
import { memberMenuItems, openMemberMenu } from './member-menu.js';
import { dmPartner } from '../rooms.js';
import { STRINGS } from '../strings.js';

// The width from which app.css lays the roster beside the chat instead of over it.
const WIDE = '(min-width: 1100px)';

const RANK = { member: 0, admin: 1, owner: 2 };

/** Invitations: any member of a public room or group; the owner and admins of a private room. */
export function canInvite(r) {
  if (!r || r.archived) return false;
  if (r.kind === 'public' || r.kind === 'group') return true;
  return r.kind === 'private' && (r.role === 'owner' || r.role === 'admin');
}

export function mountMembers({ store, actions, dialogs }) {
  const panel = $('members');
  const list = $('member-list');
  const toggle = $('members-toggle');
  const count = $('members-count');
  const headingCount = $('members-heading-count');

  const wide = window.matchMedia(WIDE);
  let openWhenWide = true;
  let shownRoom = null;

  function setOpen(open, { focus = false } = {}) {
    if (wide.matches) openWhenWide = open;
    // Closed under the keyboard's focus: give focus to the button that reopens it.
    if (!open && panel.contains(document.activeElement)) focus = true;
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('members-open', open);
    if (focus) (open ? $('members-close') : toggle).focus();
  }
  toggle.addEventListener('click', () => setOpen(panel.hidden, { focus: panel.hidden }));
  $('members-close').addEventListener('click', () => setOpen(false, { focus: true }));
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') setOpen(false, { focus: true });
  });
  wide.addEventListener('change', () => setOpen(wide.matches && openWhenWide));
  setOpen(wide.matches);

  // One row per person, kept across renders and rebuilt only when what it shows changed, so a
  // presence change elsewhere neither closes an open member menu nor moves keyboard focus.
  const rows = new Map(); // user id -> { li, sig }
  $('members-invite').addEventListener('click', () => {
    if (store.state.current) dialogs.openInvite(store.state.current);
  });

  function row(p, me, r, online) {
    const you = me && p.id === me.id;
    const muted = p.mutedUntil > Date.now();
    const items = memberMenuItems(r, p, me ? me.id : null, actions);
    const sig = [p.name, p.role, online, muted, you, items.map((i) => i.label).join('|')].join('\n');
    const old = rows.get(p.id);
    if (old && old.sig === sig) return old.li;
    const menuBtn = items.length
      ? h('button', {
          className: 'icon-btn member-menu-btn',
          text: '⋯',
          attrs: { type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': STRINGS.people.actionsFor(p.name), title: STRINGS.people.actionsFor(p.name) },
          on: { click: (ev) => openMemberMenu(ev.currentTarget, store.state.rooms.get(r.name), p, me.id, actions) },
        })
      : null;
    const role = STRINGS.people.roles[p.role] || '';
    const li = h(
      'li',
      { className: `member ${online ? 'online' : 'offline'}`, attrs: { 'data-user-id': p.id } },
      h('span', { className: `avatar small ${avatarClass(p.id)}`, text: initials(p.name), attrs: { 'aria-hidden': 'true' } }, h('span', { className: 'presence-dot' })),
      h('span', { className: 'member-name', text: p.name }),
      h('span', { className: 'sr-only', text: `, ${online ? STRINGS.people.isOnline : STRINGS.people.isOffline}` }),
      you ? h('span', { className: 'you-tag', text: STRINGS.people.you }) : null,
      role ? h('span', { className: `role-tag role-${p.role}`, text: role }) : null,
      muted ? h('span', { className: 'role-tag muted-tag', text: STRINGS.people.muted }) : null,
      menuBtn,
    );
    rows.set(p.id, { li, sig });
    return li;
  }

  /** Who is in the room: a DM's two users; otherwise the roster (REST, kept live by events), with
   *  presence filling in until it has loaded (and for public rooms, whose joins it may trail). */
  function people(r, me) {
    if (!r) return [];
    if (r.kind === 'dm') {
      const partner = dmPartner(r.name, me ? me.id : '');
      const list = me ? [{ id: me.id, name: me.username, role: null, mutedUntil: 0 }] : [];
      if (partner) list.push({ id: partner, name: store.state.names.get(partner) || 'Direct message', role: null, mutedUntil: 0 });
      return list;
    }
    const byId = new Map(r.roster ? [...r.roster.values()].map((m) => [m.id, m]) : []);
    if (!r.roster || r.kind === 'public') {
      for (const u of r.members.values()) if (!byId.has(u.id)) byId.set(u.id, { id: u.id, name: u.name, role: 'member', mutedUntil: 0 });
    }
    return [...byId.values()].sort((a, b) => (RANK[b.role] ?? 0) - (RANK[a.role] ?? 0) || a.name.localeCompare(b.name));
  }

  function render() {
    const r = store.state.current ? store.state.rooms.get(store.state.current) : null;
    const me = store.state.me;
    if (r !== shownRoom) rows.clear();
    shownRoom = r;
    const everyone = people(r, me);
    const online = store.onlineIds();
    const seen = new Set();
    const lis = everyone.map((p) => {
      seen.add(p.id);
      return row(p, me, r, online.has(p.id));
    });
    for (const id of rows.keys()) if (!seen.has(id)) rows.delete(id);
    reconcile(list, lis);
    const n = everyone.length;
    const on = everyone.filter((p) => online.has(p.id)).length;
    setText(count, n ? String(n) : '');
    setText(headingCount, n ? STRINGS.people.summary(n, on) : '');
    $('members-invite').hidden = !canInvite(r);
  }

  return { render, setOpen };
}

/** "alice is typing…" / "alice and bob are typing…" / "Several people are typing…" */
export function renderTyping(names) {
  const el = $('typing');
  el.classList.toggle('active', names.length > 0);
  let text = '';
  if (names.length === 1) text = STRINGS.typing.one(names[0]);
  else if (names.length === 2) text = STRINGS.typing.two(names[0], names[1]);
  else if (names.length > 2) text = STRINGS.typing.several;
  if (el.textContent === text) return;
  clear(el);
  if (text) el.append(h('span', { className: 'typing-dots', attrs: { 'aria-hidden': 'true' } }, h('span'), h('span'), h('span')), h('span', { text }));
}
