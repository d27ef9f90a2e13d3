// Opens a room at one message (a notification's cause, a search result): the room is selected
// (joined when it is not yet); a message not held comes with the page around it when `loadAround`
// is given (history-around.js: one request however far back), else history is paged back — at
// most MAX_PAGES pages — until the message is held; then it is scrolled into view and flashed. A thread reply opens its thread (the notification names the
// parent: the thread is loaded first); an invitation's member event is a system line. What
// cannot be found after that says so.
import { compareIds } from './ids.js';

export const MAX_PAGES = 10;
const JOIN_WAIT_MS = 10_000;
const FLASH_MS = 2500;

export function createOpener({ store, selectRoom, loadOlder, toast, strings, loadAround = null }) {
  let seq = 0; // a newer open wins

  /** Resolves when `pred()` holds (checked at every store change) or after `ms`, with its value. */
  function until(pred, ms) {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v) => {
        clearTimeout(timer);
        off();
        resolve(v);
      };
      const off = store.subscribe(() => pred() && done(true));
      const timer = setTimeout(() => done(pred()), ms);
    });
  }

  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));

  async function reveal(selector) {
    // Rendered on the store's next turn; give the renderers a frame.
    await frame();
    await frame();
    const el = document.querySelector(selector);
    if (!el) return false;
    el.scrollIntoView({ block: 'center' });
    el.classList.remove('flash');
    void el.offsetWidth; // restart the animation when the same message is opened twice
    el.classList.add('flash');
    setTimeout(() => el.classList.remove('flash'), FLASH_MS);
    return true;
  }

  /** Where `id` is in room record `r` now: a selector to reveal, 'thread' (opened), or null. */
  function locate(room, r, id) {
    const m = r.msgs.get(id);
    if (m && !m.replyTo) return `#message-list [data-id="${id}"]`;
    if (m && m.replyTo) {
      store.openThread(room, m.replyTo);
      return `#thread-list [data-id="${id}"], #thread-parent [data-id="${id}"]`;
    }
    if (r.sysById && r.sysById.has(id)) return `#message-list [data-sys-id="${id}"]`;
    return null;
  }

  return {
    /** `replyTo`: the id is a thread reply to this parent (a notification says so). */
    async open(room, id, replyTo) {
      const mine = ++seq;
      if (!/^\d+-\d+$/.test(id)) return false;
      selectRoom(room, { focusComposer: false });
      const r = store.room(room);
      const here = () => store.state.current === room && mine === seq;
      await until(() => r.live || !here(), JOIN_WAIT_MS);
      if (!here()) return false;
      if (replyTo && /^\d+-\d+$/.test(replyTo) && !r.msgs.has(id)) {
        store.openThread(room, replyTo); // loads the thread's replies
        await until(() => r.msgs.has(id) || !here(), JOIN_WAIT_MS);
        if (!here()) return false;
      }
      if (loadAround && !r.msgs.has(id) && !(r.sysById && r.sysById.has(id))) {
        await until(() => !r.loadingOlder || !here(), JOIN_WAIT_MS);
        if (!here()) return false;
        // false or a failure: not a page this server gives; paging back below still may find it.
        await loadAround(room, id).catch(() => false);
        if (!here()) return false;
      }
      for (let page = 0; ; page++) {
        const where = locate(room, r, id);
        if (where) return reveal(where);
        const oldest = store.historyCursor(room);
        // Newer than the oldest held and still not here: not a message history can bring (a
        // reply in a thread not loaded, or gone).
        const older = !oldest || compareIds(id, oldest) < 0;
        if (page >= MAX_PAGES || !r.hasMore || !older) break;
        await until(() => !r.loadingOlder || !here(), JOIN_WAIT_MS);
        if (!here()) return false;
        await loadOlder(room);
        if (!here()) return false;
        if (r.historyError) break;
      }
      toast(strings.notFound, { kind: 'error' });
      return false;
    },
  };
}
