// The message list of the current room (top-level messages; replies are in the thread panel).
// Keyed reconciliation: each message (by id), pending send (by cid and state) and day divider
// gets one element that is reused across renders — patched in place when the message changes
// (message-item.js) — so live messages append without rebuilding the list and older history
// prepends while the visible messages stay where they are. Consecutive messages by the same
// author within a few minutes are grouped. System lines (membership and room events,
// system-line.js) are merged in by id. A "New messages" divider stands above the first message
// after my read position when the room was opened (store-attention.js), and a "Seen" line under my
// newest message others have read (receipts.js). Every piece of user text goes through textContent.
import { $, h, setText } from './dom.js';
import { formatDay, dayKey } from './format.js';
import { buildMessageItem, isStale, patchMessageItem, pendingItem } from './message-item.js';
import { mountOutboxBar } from './outbox-bar.js';
import { systemLineEl, systemText } from './system-line.js';
import { compareIds } from '../ids.js';
import { roomName } from './room-label.js';
import { mentionsUser } from '../read-state.js';
import { STRINGS } from '../strings.js';

const GROUP_MS = 5 * 60_000;
const NEAR_BOTTOM_PX = 80;
const LOAD_OLDER_PX = 200;

/** The creator's own `joined` right after `created` says nothing new ("alice created the room"). */
const isCreatorJoin = (prev, ev) =>
  !!prev && prev.kind === 'room' && prev.action === 'created' && ev.kind === 'member' && ev.action === 'joined' && ev.member && prev.user && ev.member.id === prev.user.id;

export function mountMessages({ store, actions, onLoadOlder, onRetry, onDiscard, seenLine = () => null, gapAfter = () => null }) {
  const scroller = $('messages');
  const list = $('message-list');
  const loadOlderBtn = $('load-older');
  const historyState = $('history-state');
  const empty = $('empty-room');
  let cache = new Map(); // key -> element
  let shownRoom = null;
  let oldestShown = null; // key of the first item on screen: when it changes, history was prepended
  let jumpBtn = null;
  const days = new WeakMap(); // message -> dayKey(ts)
  actions.attach(list, { roomOf: () => shownRoom, composer: $('composer-input') });
  const outboxBar = mountOutboxBar({ store, onRetry, onDiscard });

  const atBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;

  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < LOAD_OLDER_PX) maybeLoadOlder();
    if (atBottom()) hideJump();
  }, { passive: true });
  // At the very top a further wheel-up fires no scroll event: listen for the wheel itself.
  scroller.addEventListener('wheel', (ev) => {
    if (ev.deltaY < 0 && scroller.scrollTop < LOAD_OLDER_PX) maybeLoadOlder();
  }, { passive: true });
  loadOlderBtn.addEventListener('click', () => {
    const r = store.state.rooms.get(shownRoom);
    if (r) r.historyError = null;
    maybeLoadOlder();
  });

  function maybeLoadOlder() {
    const r = shownRoom && store.state.rooms.get(shownRoom);
    if (!r || !r.hasMore || r.loadingOlder || r.historyError) return;
    onLoadOlder(r.name);
  }

  function showJump() {
    if (!jumpBtn) {
      jumpBtn = h('button', {
        className: 'jump-btn btn btn-primary btn-small',
        text: 'New messages ↓',
        attrs: { type: 'button' },
        on: { click: () => scrollToBottom() },
      });
      scroller.parentElement.insertBefore(jumpBtn, $('typing'));
    }
    jumpBtn.hidden = false;
  }
  function hideJump() {
    if (jumpBtn) jumpBtn.hidden = true;
  }
  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    hideJump();
  }

  function render({ stickToBottom = false } = {}) {
    const name = store.state.current;
    const r = name ? store.state.rooms.get(name) : null;
    const me = store.state.me;
    if (!r || !me) return;
    if (name !== shownRoom) {
      actions.cancelEdit();
      shownRoom = name;
      cache = new Map();
      oldestShown = null;
      list.replaceChildren();
      hideJump();
      stickToBottom = true;
    }
    const wasAtBottom = atBottom();
    // The room's owner and admins delete anyone's message (PROTOCOL.md `delete`).
    const moderate = r.role === 'owner' || r.role === 'admin';
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;

    // Build the wanted sequence of (key, element, grouped).
    const wanted = [];
    let prev = null; // { userId, ts, day }
    const push = (key, make, grouped) => {
      let el = cache.get(key);
      if (!el) {
        el = make();
        cache.set(key, el);
      }
      el.classList.toggle('continued', grouped);
      wanted.push([key, el]);
      return el;
    };
    const divider = (ts, day) => {
      if (!prev || prev.day !== day) {
        // A plain item, not role=separator: a list may hold only list items, and a separator's
        // text would not be read.
        push(`d:${day}`, () => h('li', { className: 'day-divider' }, h('span', { text: formatDay(ts) })), false);
        prev = null;
      }
    };
    // System lines older than `upTo` (all of them when null), in id order among the messages.
    let si = 0;
    let lastEv = null;
    const systemLinesBefore = (upTo) => {
      for (; si < r.sys.length && (upTo === null || compareIds(r.sys[si], upTo) < 0); si++) {
        const ev = r.sysById.get(r.sys[si]);
        const after = lastEv;
        lastEv = ev;
        if (!ev || !systemText(ev) || isCreatorJoin(after, ev)) continue;
        const day = dayKey(ev.ts);
        divider(ev.ts, day);
        push(`s:${ev.id}`, () => systemLineEl(ev), false);
        prev = { userId: null, ts: ev.ts, day };
      }
    };
    const unreadAfter = store.dividerSeq(name);
    let newPlaced = unreadAfter === null;
    const seen = seenLine(name); // { id, text } | null
    for (const id of r.ids) {
      systemLinesBefore(id);
      const m = r.msgs.get(id);
      // The walk is O(messages) per render (bounded by the store's per-room cap); keep each
      // step cheap by computing a message's day once.
      const day = days.get(m) ?? days.set(m, dayKey(m.ts)).get(m);
      divider(m.ts, day);
      if (!newPlaced && m.seq !== null && m.seq > unreadAfter) {
        newPlaced = true;
        push('new', () => h('li', { className: 'new-divider', attrs: { 'data-after-seq': String(unreadAfter) } }, h('span', { text: STRINGS.attention.newMessages })), false);
        prev = null;
      }
      const grouped = !!prev && prev.userId === m.user.id && m.ts - prev.ts < GROUP_MS;
      const o = { own: m.user.id === me.id, moderate, inThread: false, editing: actions.isEditing(name, id), mentionsMe: mentionsUser(m, me.id) };
      const el = push(`m:${id}`, () => buildMessageItem(store.view(name, id), m.rev, o), grouped);
      if (isStale(el, m.rev)) patchMessageItem(el, store.view(name, id), m.rev, o);
      prev = { userId: m.user.id, ts: m.ts, day };
      if (seen && seen.id === id) setText(push('seen', () => h('li', { className: 'seen-line', attrs: { 'aria-live': 'off' } }), false), seen.text);
      // Newer messages may be missing here (a jump to an old message: ui/newer-gap.js).
      const gap = gapAfter(name, id);
      if (gap) {
        push(`g:${id}`, () => gap, false);
        prev.userId = null; // no grouping across it (same day: no second divider)
      }
    }
    systemLinesBefore(null);
    for (const p of store.pendingIn(name)) {
      const grouped = !!prev && prev.userId === me.id;
      push(`p:${p.cid}:${p.state}:${p.error || ''}:${p.note || ''}`, () => pendingItem(p, me, { onRetry, onDiscard }), grouped);
      prev = { userId: me.id, ts: Date.now(), day: prev ? prev.day : '' };
    }

    // Reconcile the DOM with `wanted`, moving/creating only what changed.
    const keep = new Set();
    let cursor = list.firstChild;
    for (const [key, el] of wanted) {
      keep.add(key);
      if (el === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(el, cursor);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      list.removeChild(cursor);
      cursor = next;
    }
    for (const key of cache.keys()) if (!keep.has(key)) cache.delete(key);

    // The first item, message or system line: a page of history may bring events only.
    const oldest = wanted.length ? wanted[0][0] : null;
    const prepended = oldestShown !== null && oldest !== oldestShown && !stickToBottom;
    oldestShown = oldest;

    empty.hidden = r.ids.length > 0 || r.sys.length > 0 || store.pendingIn(name).length > 0 || r.hasMore;
    outboxBar.render(name);
    loadOlderBtn.hidden = !r.hasMore || r.loadingOlder;
    loadOlderBtn.textContent = r.historyError ? 'Couldn’t load older messages — retry' : 'Load older messages';
    setText(
      historyState,
      r.loadingOlder ? 'Loading older messages…' : !r.hasMore ? `This is the beginning of ${r.kind === 'dm' || r.kind === 'group' ? 'your conversation' : r.kind === 'private' ? roomName(store, name) : '#' + name}.` : '',
    );
    scroller.setAttribute('aria-busy', String(r.loadingOlder));

    if (stickToBottom || wasAtBottom) scrollToBottom();
    else if (prepended) scroller.scrollTop = scroller.scrollHeight - fromBottom;

    // Not enough history to fill the screen: fetch more right away (also makes the first
    // page of a room whose Redis log is empty come from the store).
    if (scroller.scrollHeight <= scroller.clientHeight + LOAD_OLDER_PX) queueMicrotask(maybeLoadOlder);
  }

  return {
    render,
    scrollToBottom,
    /** A new message from someone else arrived in the shown room. */
    noteIncoming() {
      if (!atBottom()) showJump();
    },
    get atBottom() {
      return atBottom();
    },
  };
}
