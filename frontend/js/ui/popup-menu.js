// A small menu that opens under its button (the room options, a member's actions): role=menu with
// menuitem buttons, the first focused on open, arrows move, Escape or a click elsewhere closes
// it and focus goes back to the button. One menu is open at a time.
import { h, clear } from './dom.js';

let open = null; // { menu, button, onDocClick }

export function closeMenu({ focus = false } = {}) {
  if (!open) return;
  const { menu, button, onDocClick, temporary } = open;
  open = null;
  document.removeEventListener('mousedown', onDocClick, true);
  button.setAttribute('aria-expanded', 'false');
  if (temporary) menu.remove();
  else menu.hidden = true;
  if (focus && button.isConnected) button.focus();
}

/**
 * Opens `menu` (an element, or null to make one after `button`) with `items`:
 * [{ label, onSelect, danger? }]. Returns the menu element.
 */
export function openMenu(button, menu, items) {
  const wasOpen = open && open.button === button;
  closeMenu();
  if (wasOpen) return null; // a second click on the button closes it
  const temporary = !menu;
  if (!menu) {
    menu = h('ul', { className: 'popup-menu', attrs: { role: 'menu', 'aria-label': button.getAttribute('aria-label') || '' } });
    button.after(menu);
  }
  clear(menu);
  for (const item of items) {
    const btn = h('button', {
      className: 'menu-item' + (item.danger ? ' danger' : ''),
      text: item.label,
      attrs: { type: 'button', role: 'menuitem', tabindex: '-1' },
      on: {
        click: () => {
          closeMenu({ focus: true });
          item.onSelect();
        },
      },
    });
    menu.appendChild(h('li', { attrs: { role: 'none' } }, btn));
  }
  menu.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  const onDocClick = (ev) => {
    if (!menu.contains(ev.target) && ev.target !== button && !button.contains(ev.target)) closeMenu();
  };
  document.addEventListener('mousedown', onDocClick, true);
  open = { menu, button, onDocClick, temporary };
  menu.onkeydown = (ev) => {
    const buttons = [...menu.querySelectorAll('[role="menuitem"]')];
    const i = buttons.indexOf(document.activeElement);
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const next = ev.key === 'ArrowDown' ? (i + 1) % buttons.length : (i - 1 + buttons.length) % buttons.length;
      buttons[next].focus();
    } else if (ev.key === 'Escape' || ev.key === 'Tab') {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        ev.stopPropagation(); // the menu closes, not the panel it is in
      }
      closeMenu({ focus: ev.key === 'Escape' });
    }
  };
  const first = menu.querySelector('[role="menuitem"]');
  if (first) first.focus();
  return menu;
}
