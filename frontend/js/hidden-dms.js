// "Close" on a direct message hides it from the sidebar — on THIS device only: the server keeps no
// "closed" flag (a DM has no membership to leave), so the choice lives in localStorage like the
// other per-device view state (the room on screen, the outbox). The DM stays joined, so its
// messages still arrive, and the first message newer than the close brings the row back. "Newer"
// is by server time: the close records the newest message time the room had (a local clock
// running ahead must not swallow the next message).
const keyOf = (userId) => `aurora.hidden.${userId}`;
const MAX_HIDDEN = 500;

export function createHiddenDms({ store, storage = window.localStorage }) {
  let closedAt = new Map(); // room -> ts (server ms) of its newest message when it was closed
  let key = null;

  function save() {
    if (!key) return;
    try {
      storage.setItem(key, JSON.stringify(Object.fromEntries([...closedAt].slice(-MAX_HIDDEN))));
    } catch {
      /* full or blocked storage: the row comes back after a reload, nothing worse */
    }
  }

  return {
    /** Reads this user's closed DMs (after sign-in). */
    load(userId) {
      key = keyOf(userId);
      closedAt = new Map();
      try {
        const saved = JSON.parse(storage.getItem(key) || '{}');
        for (const [room, at] of Object.entries(saved)) if (Number.isFinite(at)) closedAt.set(room, at);
        for (const room of closedAt.keys()) store.setHidden(room, true);
      } catch {
        /* ignore a damaged entry */
      }
    },
    hide(room) {
      const r = store.state.rooms.get(room);
      closedAt.set(room, (r && r.lastMessageAt) || 0);
      save();
      store.setHidden(room, true);
    },
    /** Applies the closed state to `room`, whose newest known message is at `lastAt` (ms). */
    sync(room, lastAt) {
      const at = closedAt.get(room);
      if (at === undefined) return;
      if (lastAt && lastAt > at) {
        closedAt.delete(room);
        save();
        store.setHidden(room, false);
      } else {
        store.setHidden(room, true);
      }
    },
    /** Shows `room` again however old its messages (the user opened it). */
    show(room) {
      if (!closedAt.delete(room)) return;
      save();
      store.setHidden(room, false);
    },
  };
}
