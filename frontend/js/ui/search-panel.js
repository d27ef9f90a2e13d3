// The message search box (a modal <dialog>, index.html #search-dialog): Ctrl+K (Cmd+K on a Mac)
// or the 🔍 in the header opens it; typing searches (debounced); results come grouped by room,
// each with its author, time and a snippet whose matches are <mark>s built here from the server's
// offsets (search.js snippet; text only through textContent). The input is a combobox over a
// listbox: ↑/↓ move through the results (aria-activedescendant), Enter or a click opens one —
// the room at that message (open-message.js) — and Escape closes. "More results" pages on.
// Authors show by profile (a deleted account as "Deleted user"); the results of an account whose
// messages were removed (store.state.removedAuthors) leave the list at once.
import { $, h, setText } from './dom.js';
import { nameEl } from './avatar.js';
import { formatDay, formatFull, formatTime } from './format.js';
import { dmName, roomLabel } from './room-label.js';
import { roomKindOf } from '../rooms.js';
import { createSearch, groupByRoom, MAX_QUERY, snippet } from '../search.js';
import { SEARCH } from '../strings-files.js';

const DEBOUNCE_MS = 250;

/** What the group of a room's results is called, also for a room this client does not hold. */
function groupLabel(store, room) {
  if (store.state.rooms.has(room.name)) return roomLabel(store, room.name);
  const kind = room.kind || roomKindOf(room.name);
  if (kind === 'public') return `# ${room.name}`;
  if (kind === 'private') return room.title || SEARCH.privateRoom;
  if (kind === 'group') return room.title || SEARCH.group;
  return `@ ${dmName(store, room.name)}`;
}

const optionId = (r) => `sr-${r.message.id}`;

/** @param o.onOpen (room, id, replyTo?) => void: shows the room at that message */
export function mountSearch({ store, api, onOpen }) {
  const dialog = $('search-dialog');
  const input = $('search-input');
  const list = $('search-results');
  const stateLine = $('search-state');
  const more = $('search-more');
  let timer = 0;
  let active = null; // message id of the highlighted result
  let flat = []; // results in the order shown (grouped)
  const search = createSearch({ api, onChange: render });
  store.subscribe((topics) => topics.has('removedAuthors') && render());

  setText($('search-hint'), SEARCH.hint);
  setText(more, SEARCH.more);
  input.placeholder = SEARCH.placeholder;

  function open() {
    if ($('app').hidden) return;
    if (!dialog.open) dialog.showModal();
    input.focus();
    input.select();
    render();
  }
  function close() {
    clearTimeout(timer);
    if (dialog.open) dialog.close();
  }

  document.addEventListener('keydown', (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && !ev.shiftKey && ev.key.toLowerCase() === 'k') {
      if ($('app').hidden) return;
      ev.preventDefault(); // the browser's own Ctrl+K (its search bar) is not what is meant here
      open();
    }
  });
  $('search-btn').addEventListener('click', open);
  $('search-close').addEventListener('click', close);
  dialog.addEventListener('click', (ev) => ev.target === dialog && close()); // the backdrop
  more.addEventListener('click', () => search.more());

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => search.run(input.value), DEBOUNCE_MS);
  });
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const r = flat.find((x) => x.message.id === active);
    if (r) return choose(r);
    clearTimeout(timer);
    if (input.value.trim() !== search.state.q || !search.state.done) search.run(input.value);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      move(ev.key === 'ArrowDown' ? 1 : -1);
    } else if (ev.key === 'Escape') {
      // A search field's own Escape would only empty it: here it closes the search.
      ev.preventDefault();
      close();
    }
  });

  function move(step) {
    if (!flat.length) return;
    const i = flat.findIndex((x) => x.message.id === active);
    const next = i < 0 ? (step > 0 ? 0 : flat.length - 1) : Math.max(0, Math.min(flat.length - 1, i + step));
    setActive(flat[next].message.id);
  }

  function setActive(id) {
    active = id;
    for (const el of list.querySelectorAll('[role="option"]')) el.setAttribute('aria-selected', String(el.dataset.id === id));
    const el = id ? document.getElementById(`sr-${id}`) : null;
    if (el) {
      input.setAttribute('aria-activedescendant', el.id);
      el.scrollIntoView({ block: 'nearest' });
    } else input.removeAttribute('aria-activedescendant');
  }

  function choose(r) {
    close();
    const m = r.message;
    onOpen(r.room.name, m.id, typeof m.replyTo === 'string' ? m.replyTo : undefined);
  }

  function snippetEl(r) {
    const m = r.message;
    const el = h('span', { className: 'search-snippet' });
    if (!m.text) {
      const n = Array.isArray(m.attachments) ? m.attachments.length : 0;
      el.appendChild(h('em', { text: n ? SEARCH.attachmentsOnly(n) : '' }));
      return el;
    }
    const s = snippet(m.text, r.highlights);
    if (s.cutStart) el.appendChild(document.createTextNode('…'));
    for (const p of s.parts) el.appendChild(p.mark ? h('mark', { text: p.text }) : document.createTextNode(p.text));
    if (s.cutEnd) el.appendChild(document.createTextNode('…'));
    return el;
  }

  function resultEl(r) {
    const m = r.message;
    const ts = typeof m.ts === 'number' ? m.ts : Date.now();
    return h(
      'div',
      {
        className: 'search-result',
        attrs: { role: 'option', id: optionId(r), 'data-id': m.id, 'data-room': r.room.name, 'aria-selected': String(m.id === active) },
        on: { click: () => choose(r), mousemove: () => m.id !== active && setActive(m.id) },
      },
      h(
        'span',
        { className: 'search-meta' },
        nameEl(m.user.id, m.user.name, 'search-author'),
        ' ',
        h('time', { className: 'search-time', text: `${formatDay(ts)} ${formatTime(ts)}`, attrs: { datetime: new Date(ts).toISOString(), title: formatFull(ts) } }),
        m.replyTo ? h('span', { className: 'search-thread', text: ` · ${SEARCH.inThread}` }) : null,
      ),
      snippetEl(r),
    );
  }

  function render() {
    const S = search.state;
    const removed = store.state.removedAuthors;
    const results = removed && removed.size ? S.results.filter((r) => !removed.has(r.message.user.id)) : S.results;
    const groups = groupByRoom(results);
    flat = groups.flatMap((g) => g.results);
    if (active && !flat.some((x) => x.message.id === active)) active = null;
    const els = groups.map((g, i) =>
      h(
        'div',
        { className: 'search-group', attrs: { role: 'group', 'aria-labelledby': `sg-${i}` } },
        h('div', { className: 'search-room', text: groupLabel(store, g.room), attrs: { id: `sg-${i}`, role: 'presentation', 'data-room': g.room.name } }),
        ...g.results.map(resultEl),
      ),
    );
    list.replaceChildren(...els);
    list.hidden = els.length === 0;
    input.setAttribute('aria-expanded', String(els.length > 0));
    setActive(active);
    more.hidden = !S.nextCursor;
    more.disabled = S.loadingMore;
    setText(more, S.loadingMore ? SEARCH.loadingMore : SEARCH.more);
    const q = input.value.trim();
    setText(
      stateLine,
      q.length > MAX_QUERY
        ? SEARCH.tooLong
        : S.loading
          ? SEARCH.searching
          : S.error
            ? S.error.code === 'invalid_query'
              ? SEARCH.needWord
              : SEARCH.failed
            : S.done && !results.length
              ? SEARCH.none(S.q)
              : S.done
                ? SEARCH.count(results.length, !!S.nextCursor)
                : '',
    );
  }

  return {
    open,
    close,
    /** Sign-out: nothing of the last user's search stays. */
    reset() {
      close();
      search.reset();
      input.value = '';
      active = null;
      render();
    },
  };
}
