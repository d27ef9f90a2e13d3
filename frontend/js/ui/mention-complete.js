// @name completion in a message box: typing "@" and the start of a name lists the room's members
// whose names start with it (then those containing it); ↑/↓ choose, Enter or Tab puts "@name "
// in the text, Escape closes. Members come from the roster (GET …/members), else the peers of a
// DM or group, else who is present; "@room" is offered where the server accepts it (groups, and
// rooms I own or administer). The list is a listbox the box points at (aria-activedescendant).
// Each person shows as member lists show them (avatar, display name, @username); a display name
// matches the typed word too, but what goes in the text is always the @username the server reads.
import { h, clear } from './dom.js';
import { avatarEl, personEls, shownName } from './avatar.js';

const MAX_SHOWN = 8;
// The "@word" that ends at the caret, as the server reads mentions (services/chat/mentions.ts).
const QUERY_RE = /(?:^|[^\w@.+-])@([A-Za-z0-9_.-]{0,32})$/;

/** The @query ending at `caret` in `text`: { start (of the "@"), prefix } or null. */
export function mentionQuery(text, caret) {
  const m = QUERY_RE.exec(text.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[1].length - 1, prefix: m[1] };
}

/**
 * Usernames to offer for `prefix`: starting with it first, then containing it; never me.
 * `alsoKnownAs(u)`: another name of the person that matches too (their display name).
 */
export function suggestNames(people, prefix, meId, extra = [], alsoKnownAs = () => '') {
  const p = prefix.toLowerCase();
  const names = [];
  const other = new Map(); // username -> display name, lower case
  for (const u of people) {
    if (!u || u.id === meId || !u.name || other.has(u.name)) continue;
    other.set(u.name, String(alsoKnownAs(u) || '').toLowerCase());
    names.push(u.name);
  }
  const all = [...names.sort((a, b) => a.localeCompare(b)), ...extra];
  const starts = all.filter((n) => n.toLowerCase().startsWith(p));
  // Then a display name from the start of any of its words ("@lid" finds "Alice Liddell").
  const known = all.filter((n) => !starts.includes(n) && !!p && (other.get(n) || '').split(/\s+/).some((w) => w.startsWith(p)));
  const inside = all.filter((n) => !starts.includes(n) && !known.includes(n) && n.toLowerCase().includes(p));
  return [...starts, ...known, ...inside].slice(0, MAX_SHOWN);
}

/** People of room record `r` to complete from. */
function peopleOf(r) {
  if (!r) return [];
  if (r.roster && r.roster.size) return [...r.roster.values()];
  if (r.peers && r.peers.length) return r.peers;
  return [...r.members.values()];
}

export function mountMentionComplete({ input, store, roomOf, listId }) {
  const list = h('ul', { className: 'mention-list', attrs: { id: listId, role: 'listbox', 'aria-label': 'People to mention' } });
  list.hidden = true;
  input.closest('form').appendChild(list);
  input.setAttribute('aria-controls', listId);
  let query = null;
  let names = [];
  let active = 0;

  function close() {
    query = null;
    names = [];
    list.hidden = true;
    input.removeAttribute('aria-activedescendant');
  }

  function update() {
    const r = store.state.rooms.get(roomOf());
    query = r && r.kind !== 'dm' ? mentionQuery(input.value, input.selectionStart ?? input.value.length) : null;
    if (!query) return close();
    const canRoom = r.kind === 'group' || r.role === 'owner' || r.role === 'admin';
    const people = peopleOf(r);
    const byName = new Map(people.filter((u) => u && u.name).map((u) => [u.name, u]));
    const displayName = (u) => (shownName(u.id, u.name) !== u.name ? shownName(u.id, u.name) : '');
    names = suggestNames(people, query.prefix, store.state.me ? store.state.me.id : null, canRoom ? ['room'] : [], displayName);
    if (!names.length) return close();
    active = Math.min(active, names.length - 1);
    clear(list);
    names.forEach((name, i) => {
      const u = byName.get(name);
      list.appendChild(
        h(
          'li',
          {
            className: 'mention-option' + (i === active ? ' active' : ''),
            attrs: { id: `${listId}-${i}`, role: 'option', 'aria-selected': String(i === active), 'data-name': name },
            on: { mousedown: (ev) => (ev.preventDefault(), choose(i)) },
          },
          // "@room" (no person) and a person without a display name: the @name alone.
          ...(u && displayName(u) ? personEls(u.id, u.name) : [u ? avatarEl(u.id, u.name, 'tiny') : null, h('span', { className: 'person-name', text: `@${name}` })]),
        ),
      );
    });
    list.hidden = false;
    input.setAttribute('aria-activedescendant', `${listId}-${active}`);
  }

  function choose(i) {
    if (!query || !names[i]) return;
    const caret = input.selectionStart ?? input.value.length;
    const before = input.value.slice(0, query.start);
    const after = input.value.slice(caret);
    const insert = `@${names[i]} `;
    input.value = before + insert + after;
    const at = before.length + insert.length;
    input.setSelectionRange(at, at);
    close();
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }

  input.addEventListener('input', () => {
    active = 0;
    update();
  });
  input.addEventListener('click', update);
  input.addEventListener('blur', close);
  // Capture: before the composer's own Enter (send) and ↑ (edit last) handling.
  input.addEventListener(
    'keydown',
    (ev) => {
      if (list.hidden || ev.isComposing) return;
      const move = ev.key === 'ArrowDown' ? 1 : ev.key === 'ArrowUp' ? -1 : 0;
      if (move) {
        active = (active + move + names.length) % names.length;
        update();
      } else if ((ev.key === 'Enter' && !ev.shiftKey) || ev.key === 'Tab') {
        choose(active);
      } else if (ev.key === 'Escape') {
        close();
      } else return;
      ev.preventDefault();
      ev.stopImmediatePropagation();
    },
    true,
  );

  return { close };
}
