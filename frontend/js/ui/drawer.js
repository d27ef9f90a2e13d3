// The room list as a drawer on small screens: opened by the ☰ button, closed by ✕, the scrim
// or Escape, with focus moved in and back out.
import { $ } from './dom.js';

export function mountDrawer() {
  function open() {
    document.body.classList.add('sidebar-open');
    $('scrim').hidden = false;
    $('sidebar-open').setAttribute('aria-expanded', 'true');
    const cur = document.querySelector('.room-btn[aria-current="page"]') || $('join-input');
    cur.focus();
  }
  function close() {
    if (!document.body.classList.contains('sidebar-open')) return;
    document.body.classList.remove('sidebar-open');
    $('scrim').hidden = true;
    $('sidebar-open').setAttribute('aria-expanded', 'false');
  }
  $('sidebar-open').addEventListener('click', open);
  $('sidebar-close').addEventListener('click', () => {
    close();
    $('sidebar-open').focus();
  });
  $('scrim').addEventListener('click', close);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && document.body.classList.contains('sidebar-open')) {
      close();
      $('sidebar-open').focus();
    }
  });
  return { close };
}
