// The people of the current room — its members with their roles (GET …/members, kept live by
// `member` events), each with their presence status (presence.js: online, away, do not disturb,
// offline with "last seen …"; pulled when the list opens and every minute while it is open), a
// DM's two users — with a menu per member for moderators (member-menu.js) and
// "Invite people"; and the typing line under the messages. On a wide screen the roster sits
// beside the chat, open unless the user closed it; narrower, it is drawn over the chat, so there
// it opens only when asked for: a panel open on a wide screen closes when the window narrows (a
// rotated tablet, a resized window) and comes back when it widens again.
import { $, h, clear, setText, reconcile } from './dom.js';
import { avatarEl, isDeletedUser, shownName } from './avatar.js';
import { memberMenuItems, openMemberMenu } from './member-menu.js';
import { presenceWords, setDot } from './presence-dot.js';
import { dmPartner } from '../rooms.js';
import { POLL_MS } from '../presence.js';
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

export function mountMembers({ store, actions, dialogs, presence, onRefresh = () => {} }) {
  const panel = $('members');
  const list = $('member-list');
  const toggle = $('members-toggle');
  const count = $('members-count');
  const headingCount = $('members-heading-count');

  const wide = window.matchMedia(WIDE);
  let openWhenWide = true;
  let shownRoom = null;

  // Statuses are pulled, not pushed: the room's list again when it opens and every minute while
  // it is open and someone may be looking.
  const refresh = () => {
    if (!panel.hidden && store.state.current) onRefresh(store.state.current);
  };
  setInterval(() => {
    if (document.visibilityState === 'visible') refresh();
  }, POLL_MS);

  function setOpen(open, { focus = false } = {}) {
    const opening = open && panel.hidden;
    if (wide.matches) openWhenWide = open;
    // Closed under the keyboard's focus: give focus to the button that reopens it.
    if (!open && panel.contains(document.activeElement)) focus = true;
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    document.body.classList.toggle('members-open', open);
    if (focus) (open ? $('members-close') : toggle).focus();
    if (opening) refresh();
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

  function row(p, me, r, info, now) {
    const you = me && p.id === me.id;
    const muted = p.mutedUntil > now;
    const items = memberMenuItems(r, p, me ? me.id : null, actions);
    const sig = [p.name, shownName(p.id, p.name), p.role, muted, you, items.map((i) => i.label).join('|')].join('\n');
    let it = rows.get(p.id);
    if (!it || it.sig !== sig) it = build(p, me, r, items, muted, you, sig);
    // The status changes in place (a "last seen" minute ticks over): no rebuild for it.
    const words = presenceWords(info, now);
    setDot(it.dot, info, words);
    const online = info.status !== 'offline';
    const cls = `member ${online ? 'online' : 'offline'}`;
    if (it.li.className !== cls) it.li.className = cls;
    if (it.li.dataset.status !== info.status) it.li.dataset.status = info.status;
    // The words, not only the dot: shown unless plain online (the dot says that alone).
    const statusCls = info.status === 'online' ? 'sr-only' : 'member-status';
    if (it.status.className !== statusCls) it.status.className = statusCls;
    setText(it.status, info.status === 'online' ? `, ${words}` : words);
    return it.li;
  }

  function build(p, me, r, items, muted, you, sig) {
    const menuBtn = items.length
      ? h('button', {
          className: 'icon-btn member-menu-btn',
          text: '⋯',
          attrs: { type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': STRINGS.people.actionsFor(p.name), title: STRINGS.people.actionsFor(p.name) },
          on: { click: (ev) => openMemberMenu(ev.currentTarget, store.state.rooms.get(r.name), p, me.id, actions) },
        })
      : null;
    const role = STRINGS.people.roles[p.role] || '';
    const dot = h('span', { attrs: { 'aria-hidden': 'true' } });
    const status = h('span');
    const li = h(
      'li',
      { className: 'member', attrs: { 'data-user-id': p.id } },
      avatarWithDot(p, dot),
      h('span', { className: 'member-main' }, memberName(p), status),
      you ? h('span', { className: 'you-tag', text: STRINGS.people.you }) : null,
      role ? h('span', { className: `role-tag role-${p.role}`, text: role }) : null,
      muted ? h('span', { className: 'role-tag muted-tag', text: STRINGS.people.muted }) : null,
      menuBtn,
    );
    const it = { li, sig, dot, status };
    rows.set(p.id, it);
    return it;
  }

  // "Display Name @username": the handle stays visible where two people may share a name. A
  // deleted account: "Deleted user" alone (its old name is gone with it).
  function memberName(p) {
    const shown = shownName(p.id, p.name);
    if (isDeletedUser(p.id)) return h('span', { className: 'member-name', text: shown });
    if (shown === p.name) return h('span', { className: 'member-name', text: p.name });
    return h('span', { className: 'member-name' }, shown, ' ', h('span', { className: 'member-handle', text: `@${p.name}` }));
  }

  function avatarWithDot(p, dot) {
    const av = avatarEl(p.id, p.name, 'small');
    av.appendChild(dot);
    return av;
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
    const now = Date.now();
    const status = new Map(everyone.map((p) => [p.id, presence.statusOf(p.id)]));
    const seen = new Set();
    const lis = everyone.map((p) => {
      seen.add(p.id);
      return row(p, me, r, status.get(p.id), now);
    });
    for (const id of rows.keys()) if (!seen.has(id)) rows.delete(id);
    reconcile(list, lis);
    const n = everyone.length;
    const on = everyone.filter((p) => status.get(p.id).status !== 'offline').length;
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
