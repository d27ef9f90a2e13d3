// The room list as a drawer on small screens: opened by the ☰ button, closed by ✕, the scrim
// or Escape, with focus moved in and back out. While closed, the ☰ button is the only sign of
// the other rooms, so it carries the number of rooms (and DMs) with unread messages, in its
// badge and in its accessible name — the same counts as the sidebar and the title (read-state.js).
import { $, setText } from './dom.js';
import { STRINGS } from '../strings.js';
import { totals } from '../read-state.js';

export function mountDrawer({ store }) {
  const button = $('sidebar-open');
  const badge = $('sidebar-unread');

  function open() {
    document.body.classList.add('sidebar-open');
    $('scrim').hidden = false;
    button.setAttribute('aria-expanded', 'true');
    const cur = document.querySelector('.room-btn[aria-current="page"]') || $('join-input');
    cur.focus();
  }
  function close() {
    if (!document.body.classList.contains('sidebar-open')) return;
    document.body.classList.remove('sidebar-open');
    $('scrim').hidden = true;
    button.setAttribute('aria-expanded', 'false');
  }
  button.addEventListener('click', open);
  $('sidebar-close').addEventListener('click', () => {
    close();
    button.focus();
  });
  $('scrim').addEventListener('click', close);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && document.body.classList.contains('sidebar-open')) {
      close();
      button.focus();
    }
  });

  function renderUnread() {
    // The room on screen is left out even in a hidden tab: the drawer is about the other rooms.
    const { rooms } = totals([...store.state.rooms.values()].filter((r) => r.name !== store.state.current), {
      current: store.state.current,
      visible: true,
      countsLoaded: store.state.countsLoaded,
    });
    badge.hidden = rooms === 0;
    setText(badge, rooms ? String(rooms) : '');
    const label = rooms ? STRINGS.drawer.openWithUnread(rooms) : STRINGS.drawer.open;
    if (button.getAttribute('aria-label') !== label) button.setAttribute('aria-label', label);
  }
  store.subscribe((topics) => {
    if (topics.has('all') || topics.has('rooms') || topics.has('current')) renderUnread();
  });

  return { close };
}
