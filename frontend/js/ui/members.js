// The presence roster of the current room (from `joined.members` and presence events) and the
// typing line under the messages.
import { $, h, clear, setText } from './dom.js';
import { initials, avatarClass } from './format.js';

export function mountMembers({ store }) {
  const panel = $('members');
  const list = $('member-list');
  const toggle = $('members-toggle');
  const count = $('members-count');
  const headingCount = $('members-heading-count');

  function setOpen(open, { focus = false } = {}) {
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.setAttribute('aria-label', open ? 'Hide people in this room' : 'Show people in this room');
    document.body.classList.toggle('members-open', open);
    if (focus) (open ? $('members-close') : toggle).focus();
  }
  toggle.addEventListener('click', () => setOpen(panel.hidden, { focus: panel.hidden }));
  $('members-close').addEventListener('click', () => setOpen(false, { focus: true }));
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') setOpen(false, { focus: true });
  });
  setOpen(window.matchMedia('(min-width: 1100px)').matches);

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
          you ? h('span', { className: 'you-tag', text: 'you' }) : null,
        ),
      );
    }
    setText(count, members.length ? String(members.length) : '');
    setText(headingCount, members.length ? `— ${members.length} online` : '');
  }

  return { render, setOpen };
}

/** "alice is typing…" / "alice and bob are typing…" / "Several people are typing…" */
export function renderTyping(names) {
  const el = $('typing');
  el.classList.toggle('active', names.length > 0);
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  if (el.textContent === text) return;
  clear(el);
  if (text) el.append(h('span', { className: 'typing-dots', attrs: { 'aria-hidden': 'true' } }, h('span'), h('span'), h('span')), h('span', { text }));
}
