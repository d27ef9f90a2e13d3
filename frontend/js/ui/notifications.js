// The bell in the chat header and its panel (a non-modal dialog): my notifications newest first,
// unread ones marked, each line saying what happened (kind icon and label), who, where, a preview
// and when; a click marks it read and opens the message. "Mark all read", "Load more", the
// "Do not disturb" toggle (shown in the header as 🔕 and a pill) and "Enable desktop
// notifications" (the permission asked from that click). Escape or a click elsewhere closes it.
// Text only through textContent (dom.js h()).
import { $, h, setText, reconcile } from './dom.js';
import { formatAgo, formatFull } from './format.js';
import { roomLabel } from './room-label.js';
import { shownName } from './avatar.js';
import { roomKindOf } from '../rooms.js';
import { STRINGS } from '../strings.js';

const A = STRINGS.attention;

/** Where a notification happened, also for a room this client does not hold (an invitation). */
function whereLabel(store, room) {
  if (store.state.rooms.has(room)) return roomLabel(store, room);
  const kind = roomKindOf(room);
  if (kind === 'public') return `# ${room}`;
  return kind === 'private' ? A.privateRoom : kind === 'group' ? A.group : A.dm;
}

export function mountNotifications({ store, notifications, desktop, onOpen, toast }) {
  const btn = $('notif-btn');
  const panel = $('notif-panel');
  const list = $('notif-list');
  const count = $('notif-count');
  const more = $('notif-more');
  const stateLine = $('notif-state');
  const dndBtn = $('notif-dnd');
  const desktopBtn = $('notif-desktop');
  const desktopState = $('notif-desktop-state');
  const items = new Map(); // notification id -> { li, btn }
  const N = notifications.state;

  setText($('notif-title'), A.notifications);
  setText($('notif-read-all'), A.markAllRead);
  setText(dndBtn, A.dnd);
  setText($('notif-dnd-hint'), A.dndHint);
  setText(desktopBtn, A.enableDesktop);
  setText(more, A.loadMore);
  setText($('dnd-pill'), A.dndOn);

  const isOpen = () => !panel.hidden;
  function open() {
    panel.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    document.addEventListener('mousedown', onDocDown, true);
    document.addEventListener('keydown', onKey);
    if (!N.loaded && !N.loading) notifications.load();
    render();
    const first = list.querySelector('button') || dndBtn;
    first.focus();
  }
  function close({ focus = false } = {}) {
    if (!isOpen()) return;
    panel.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', onDocDown, true);
    document.removeEventListener('keydown', onKey);
    if (focus) btn.focus();
  }
  // On the document: the focused control may have gone (the desktop button hides once used).
  function onKey(ev) {
    if (ev.key === 'Escape' && !ev.defaultPrevented) {
      ev.preventDefault();
      close({ focus: true });
    }
  }
  function onDocDown(ev) {
    if (!panel.contains(ev.target) && !btn.contains(ev.target)) close();
  }

  btn.addEventListener('click', () => (isOpen() ? close() : open()));
  $('notif-close').addEventListener('click', () => close({ focus: true }));
  $('notif-read-all').addEventListener('click', () => notifications.markAllRead());
  more.addEventListener('click', () => notifications.loadMore());
  dndBtn.addEventListener('click', async () => {
    try {
      await notifications.setDnd(!N.dnd);
    } catch {
      toast(STRINGS.errors.fallback, { kind: 'error' });
    }
  });
  desktopBtn.addEventListener('click', async () => {
    await desktop.request(); // from this click: the one moment a browser lets a page ask
    render();
  });

  function line(n) {
    const did = (A.did[n.kind] || A.did.dm)(n.actor.name ? shownName(n.actor.id, n.actor.name) : '?');
    const b = h(
      'button',
      { className: 'notif-item', attrs: { type: 'button', 'data-id': n.id, 'data-kind': n.kind }, on: { click: () => choose(n) } },
      h('span', { className: `notif-icon notif-${n.kind}`, text: A.icons[n.kind] || '•', attrs: { 'aria-hidden': 'true' } }),
      h(
        'span',
        { className: 'notif-body' },
        h('span', { className: 'notif-what' }, h('span', { className: 'notif-kind', text: A.kinds[n.kind] || n.kind }), ' ', h('span', { className: 'notif-did', text: did })),
        h('span', { className: 'notif-where' }),
        n.text ? h('span', { className: 'notif-text', text: n.text }) : null,
      ),
      h('time', { className: 'notif-time', attrs: { datetime: new Date(n.ts).toISOString(), title: formatFull(n.ts) } }),
      h('span', { className: 'sr-only notif-unread-tag', text: `, ${A.unreadTag}` }),
    );
    return { li: h('li', {}, b), btn: b };
  }

  function choose(n) {
    close();
    if (!n.read) notifications.markRead([n.id]);
    onOpen(n);
  }

  function renderBell() {
    const n = N.unread;
    count.hidden = n === 0;
    setText(count, n > 99 ? '99+' : n ? String(n) : '');
    // The name is these words and the visible count (aria-labelledby): "Notifications, unread 3".
    setText($('notif-label'), A.bellLabel(n, N.dnd));
    btn.title = A.bell(n, N.dnd);
    setText($('notif-icon'), N.dnd ? '🔕' : '🔔');
    $('dnd-pill').hidden = !N.dnd;
    btn.classList.toggle('dnd', N.dnd);
  }

  function render() {
    renderBell();
    if (!isOpen()) return;
    const now = Date.now();
    const wanted = [];
    const keep = new Set();
    for (const n of N.list) {
      let it = items.get(n.id);
      if (!it) items.set(n.id, (it = line(n)));
      keep.add(n.id);
      it.li.className = n.read ? 'notif' : 'notif unread';
      it.btn.querySelector('.notif-unread-tag').hidden = n.read;
      setText(it.btn.querySelector('.notif-where'), whereLabel(store, n.room));
      setText(it.btn.querySelector('.notif-time'), formatAgo(n.ts, now));
      wanted.push(it.li);
    }
    for (const id of items.keys()) if (!keep.has(id)) items.delete(id);
    reconcile(list, wanted);
    more.hidden = !N.hasMore;
    more.disabled = N.loading;
    setText(stateLine, N.loading ? A.loading : N.error ? A.loadFailed : N.list.length === 0 && N.loaded ? A.empty : '');
    dndBtn.setAttribute('aria-pressed', String(N.dnd));
    $('notif-read-all').disabled = N.unread === 0 && N.list.every((x) => x.read);
    const perm = desktop.permission();
    desktopBtn.hidden = perm !== 'default';
    desktopState.hidden = perm !== 'granted' && perm !== 'denied';
    setText(desktopState, perm === 'granted' ? A.desktopOn : perm === 'denied' ? A.desktopBlocked : '');
  }

  return { render, close };
}
