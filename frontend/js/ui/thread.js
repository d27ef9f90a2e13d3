// The thread panel beside the room: the parent message, its replies (the first pages from
// REST, then live), the reply count, and a composer of its own whose sends carry `replyTo`, with
// files attached as in the room's box (ui/attach.js: its own queue, button, paste and drop).
// Replies never show in the timeline; the parent there shows "N replies", live. The panel
// follows the store: `state.thread` says which thread is open.
import { $, reconcile, setText } from './dom.js';
import { compareIds } from '../ids.js';
import { mountComposer } from './composer.js';
import { mountAttach } from './attach.js';
import { buildMessageItem, isStale, patchMessageItem, pendingItem } from './message-item.js';
import { mentionsUser } from '../read-state.js';
import { roomLabel } from './room-label.js';

const PAGE = 100;
const MAX_PAGES_AT_OPEN = 10; // a longer thread offers "Load more replies"
const NEAR_BOTTOM_PX = 60;
const ATTACH_IDS = { strip: 'thread-attach-strip', input: 'thread-attach-input', button: 'thread-attach-btn', area: 'thread', drop: 'thread-drop-zone' };

export function mountThread({ store, api, actions, sender, toast, onRetry, onDiscard }) {
  const panel = $('thread');
  const scroller = $('thread-scroller');
  const parentList = $('thread-parent');
  const list = $('thread-list');
  const count = $('thread-replies');
  const more = $('thread-more');
  const stateLine = $('thread-state');
  let shown = null; // "room parent" on screen
  let cache = new Map(); // key -> element
  const current = () => store.state.thread;
  const roomOf = () => (current() ? current().room : null);

  const composer = mountComposer({
    ids: { form: 'thread-composer', input: 'thread-input', count: 'thread-chars', error: 'thread-error' },
    onSend(text) {
      const t = current();
      if (!t || !attach.send(t.room, text, sender, t.parent)) return false;
      queueMicrotask(() => (scroller.scrollTop = scroller.scrollHeight));
      return true;
    },
    onEditLast() {
      const t = current();
      return !!t && actions.editLast(list, t.room, t.parent, composer.input);
    },
  });
  const attach = mountAttach({ store, api, composer, toast, ids: ATTACH_IDS, roomOf, topics: ['thread'] });
  actions.attach(parentList, { roomOf, composer: composer.input });
  actions.attach(list, { roomOf, composer: composer.input });

  $('thread-close').addEventListener('click', () => store.closeThread());
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !ev.defaultPrevented) store.closeThread();
  });
  more.addEventListener('click', () => {
    const t = current();
    if (t) load(t.room, t.parent, 1);
  });

  /** Pages replies in (oldest first) after the last one loaded. */
  async function load(room, parent, pages) {
    const t = store.thread(room, parent);
    if (t.loading) return;
    store.setThreadLoading(room, parent, true);
    try {
      for (let i = 0; i < pages; i++) {
        const res = await api.replies(room, parent, { after: t.after || undefined, limit: PAGE });
        store.addThreadPage(room, parent, res);
        const open = current();
        if (!t.hasMore || !open || open.room !== room || open.parent !== parent) break;
      }
    } catch (err) {
      store.setThreadLoading(room, parent, false, (err && err.message) || 'failed');
    }
  }

  function item(key, make, stale, patch) {
    let el = cache.get(key);
    if (!el) cache.set(key, (el = make()));
    else if (stale(el)) patch(el);
    return el;
  }

  function messageItem(room, id, inThread) {
    const m = store.state.rooms.get(room).msgs.get(id);
    const r = store.state.rooms.get(room);
    const moderate = !!r && (r.role === 'owner' || r.role === 'admin');
    const meId = store.state.me ? store.state.me.id : null;
    const o = { own: !!meId && m.user.id === meId, moderate, inThread, editing: actions.isEditing(room, id), mentionsMe: mentionsUser(m, meId) };
    return item(
      `m:${id}`,
      () => buildMessageItem(store.view(room, id), m.rev, o),
      (el) => isStale(el, m.rev),
      (el) => patchMessageItem(el, store.view(room, id), m.rev, o),
    );
  }

  function render() {
    const t = current();
    const me = store.state.me;
    document.body.classList.toggle('thread-open', !!t);
    if (!t || !me) {
      panel.hidden = true;
      shown = null;
      return;
    }
    const key = `${t.room} ${t.parent}`;
    const opening = key !== shown;
    if (opening) {
      actions.cancelEdit();
      shown = key;
      cache = new Map();
      parentList.replaceChildren();
      list.replaceChildren();
      composer.clearError();
      panel.hidden = false;
      setText($('thread-room'), roomLabel(store, t.room));
      const th = store.thread(t.room, t.parent);
      if (!th.loaded) load(t.room, t.parent, MAX_PAGES_AT_OPEN);
      composer.focus();
    }
    const wasAtBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
    const r = store.state.rooms.get(t.room);
    const th = store.thread(t.room, t.parent);
    const parent = store.view(t.room, t.parent);
    reconcile(parentList, parent ? [messageItem(t.room, t.parent, true)] : []);
    const n = parent ? parent.replyCount : 0;
    setText(count, parent ? (n ? `${n} ${n === 1 ? 'reply' : 'replies'}` : 'No replies yet') : '');

    // While older pages are still to come, show only the replies up to the last one loaded:
    // live replies past it would otherwise sit after a hole.
    const ids = th.hasMore && th.after ? th.ids.filter((id) => compareIds(id, th.after) <= 0) : th.ids;
    const wanted = ids.filter((id) => r.msgs.has(id)).map((id) => messageItem(t.room, id, true));
    for (const p of store.pendingIn(t.room, t.parent)) {
      wanted.push(item(`p:${p.cid}:${p.state}:${p.error || ''}:${p.note || ''}`, () => pendingItem(p, me, { onRetry, onDiscard }), () => false, () => {}));
    }
    const keep = new Set(wanted);
    for (const [k, el] of cache) if (!keep.has(el) && !parentList.contains(el)) cache.delete(k);
    reconcile(list, wanted);

    more.hidden = !(th.loaded && th.hasMore) || th.loading;
    setText(stateLine, th.loading ? 'Loading replies…' : th.error ? `Couldn’t load replies: ${th.error}` : !parent ? 'Loading…' : '');
    if (opening || wasAtBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  return {
    render,
    /** The room the open thread belongs to (null when none). */
    get room() {
      return roomOf();
    },
    composer,
  };
}
