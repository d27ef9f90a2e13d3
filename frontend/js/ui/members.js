// The presence roster of the current room (from `joined.members` and presence events) and the
// typing line under the messages. On a wide screen the roster sits beside the chat, open unless
// the user closed it; narrower, it is drawn over the chat, so there it opens only when asked
// for: a panel open on a wide screen closes when the window narrows (a rotated tablet, a
// resized window) and comes back when it widens again.
import { $, h, clear, setText } from './dom.js';
import { initials, avatarClass } from './format.js';
import { STRINGS } from '../strings.js';

// The width from which app.css lays the roster beside the chat instead of over it.
const WIDE = '(min-width: 1100px)';

export function mountMembers({ store }) {
  const panel = $('members');
  const list = $('member-list');
  const toggle = $('members-toggle');
  const count = $('members-count');
  const headingCount = $('members-heading-count');

  const wide = window.matchMedia(WIDE);
  let openWhenWide = true;

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

  function render() {
    const r = store.state.current ? store.state.rooms.get(store.state.current) : null;
    const me = store.state.me;
    const members = r ? [...r.members.values()].sort((a, b) => a.name.localeCompare(b.name)) : [];
    clear(list);
    for (const u of members) {
      const you = me && u.id === me.id;
      list.appendChild(
        h(
          'li',
          { className: 'member' },
          h('span', { className: `avatar small ${avatarClass(u.id)}`, text: initials(u.name), attrs: { 'aria-hidden': 'true' } }, h('span', { className: 'presence-dot' })),
          h('span', { className: 'member-name', text: u.name }),
          you ? h('span', { className: 'you-tag', text: STRINGS.people.you }) : null,
        ),
      );
    }
    setText(count, members.length ? String(members.length) : '');
    setText(headingCount, members.length ? STRINGS.people.online(members.length) : '');
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
