// My notification inbox (docs/REST.md `GET /api/me/notifications`): the newest page at sign-in and
// after a reconnect or `resync` (the user channel may have missed `notify` frames), older pages on
// "load more" (`before` = the oldest id held), live `notify` frames added on top, and the unread
// count the server keeps (every mark-read answers it). Also my "do not disturb" status (PUT
// /api/me/status): the server stores notifications but pushes none while it is on; it is
// remembered on this device too, for the header at the next start (GET /api/me may not say).
// No DOM: ui/notifications.js draws it.
import { compareIds } from './ids.js';

export const PAGE = 30;
const MAX_HELD = 500;
const MARK_BATCH_MS = 500; // mark-read requests of a burst (a DM read as it arrives) go as one
const MARK_MAX_IDS = 100; // the server's limit per request
// Kinds whose cause is a top-level message of the room: reading the room up to it reads them.
const READ_WITH_ROOM = new Set(['mention', 'dm', 'group']);

const isId = (s) => typeof s === 'string' && /^\d+-\d+$/.test(s);

/** Newest first: by the cause's id (a message or event id; numeric order), then by ts. */
export function newerFirst(a, b) {
  if (isId(a.sourceId) && isId(b.sourceId)) return compareIds(b.sourceId, a.sourceId) || (b.ts || 0) - (a.ts || 0);
  return (b.ts || 0) - (a.ts || 0);
}

export function validNotification(n) {
  return !!n && typeof n.id === 'string' && typeof n.kind === 'string' && typeof n.room === 'string' && typeof n.sourceId === 'string';
}

export function createNotifications({ api, onChange, storage = window.localStorage }) {
  const state = { list: [], unread: 0, hasMore: false, loading: false, error: false, loaded: false, dnd: false };
  let gen = 0; // a newer first-page load wins over an older one still out
  let dndKey = null;
  let toMark = new Set(); // ids marked read here, not yet told to the server
  let markTimer = 0;

  const changed = () => onChange(state);

  function insert(n) {
    if (!validNotification(n) || state.list.some((x) => x.id === n.id)) return false;
    const item = { ...n, actor: n.actor && typeof n.actor.id === 'string' ? { id: n.actor.id, name: String(n.actor.name || '') } : { id: '', name: '' }, text: String(n.text || ''), read: n.read === true };
    let i = 0;
    while (i < state.list.length && newerFirst(state.list[i], item) <= 0) i++;
    state.list.splice(i, 0, item);
    if (state.list.length > MAX_HELD) {
      state.list.length = MAX_HELD;
      state.hasMore = true;
    }
    return true;
  }

  const setUnread = (res) => {
    if (res && Number.isInteger(res.unread) && res.unread >= 0) state.unread = res.unread;
  };

  /** Marks these read here at once; the server hears it shortly, in one request per burst. */
  function markLocal(ids) {
    const mine = state.list.filter((n) => ids.includes(n.id) && !n.read);
    if (mine.length === 0) return false;
    for (const n of mine) {
      n.read = true;
      toMark.add(n.id);
    }
    state.unread = Math.max(0, state.unread - mine.length);
    clearTimeout(markTimer);
    markTimer = setTimeout(flushMarks, MARK_BATCH_MS);
    changed();
    return true;
  }

  async function flushMarks() {
    clearTimeout(markTimer);
    const ids = [...toMark].slice(0, MARK_MAX_IDS);
    for (const id of ids) toMark.delete(id);
    if (toMark.size) markTimer = setTimeout(flushMarks, 0);
    if (ids.length === 0) return;
    try {
      // The answer counts what the server had then: marks still waiting here come off it.
      const res = await api.markNotificationsRead(ids);
      if (res && Number.isInteger(res.unread)) state.unread = Math.max(0, res.unread - toMark.size);
    } catch {
      /* the next load shows the server's state */
    }
    changed();
  }

  return {
    state,
    /** Starts for `user` (its dnd from GET /api/me when the server says, else this device's memory). */
    start(user) {
      dndKey = `aurora.dnd.${user.id}`;
      const told = user.status === 'dnd' || user.dnd === true ? true : user.status || user.dnd === false ? false : null;
      state.dnd = told ?? storage.getItem(dndKey) === '1';
      changed();
    },
    /** The newest page (replaces what is held: pages are re-read from the top). */
    async load() {
      const g = ++gen;
      state.loading = true;
      state.error = false;
      changed();
      try {
        const res = await api.notifications({ limit: PAGE });
        if (g !== gen) return;
        const page = Array.isArray(res && res.notifications) ? res.notifications : [];
        state.list = [];
        for (const n of page) insert(n);
        state.hasMore = page.length >= PAGE;
        setUnread(res);
        state.loaded = true;
      } catch {
        if (g === gen) state.error = true;
      } finally {
        if (g === gen) {
          state.loading = false;
          changed();
        }
      }
    },
    async loadMore() {
      if (state.loading || !state.hasMore || state.list.length === 0) return;
      const g = gen;
      state.loading = true;
      state.error = false;
      changed();
      try {
        const res = await api.notifications({ before: state.list[state.list.length - 1].id, limit: PAGE });
        if (g !== gen) return;
        const page = Array.isArray(res && res.notifications) ? res.notifications : [];
        for (const n of page) insert(n);
        state.hasMore = page.length >= PAGE;
        setUnread(res);
      } catch {
        state.error = true;
      } finally {
        if (g === gen) {
          state.loading = false;
          changed();
        }
      }
    },
    /** A live `notify` frame. True when it is new here. */
    add(n) {
      if (!insert(n)) return false;
      if (n.read !== true) state.unread += 1;
      changed();
      return true;
    },
    /** Marks these read (shown at once; the server's count follows). */
    markRead(ids) {
      if (markLocal(ids)) return flushMarks();
      return Promise.resolve();
    },
    /**
     * The room was read up to message `id` (here or on another device): its message notifications
     * up to there are read too. `isRead(n)` decides for each unread one of the room.
     */
    readInRoom(room, isRead) {
      const ids = state.list.filter((n) => !n.read && n.room === room && READ_WITH_ROOM.has(n.kind) && isRead(n)).map((n) => n.id);
      if (ids.length) markLocal(ids);
    },
    async markAllRead() {
      for (const n of state.list) n.read = true;
      state.unread = 0;
      changed();
      try {
        setUnread(await api.markNotificationsRead('all'));
      } catch {
        /* as above */
      }
      changed();
    },
    /** Do not disturb on or off; throws when the server refused (the toggle stays as it was). */
    async setDnd(on) {
      await api.setStatus(on ? 'dnd' : 'online');
      state.dnd = on;
      if (dndKey) storage.setItem(dndKey, on ? '1' : '0');
      changed();
    },
    reset() {
      gen++;
      clearTimeout(markTimer);
      toMark = new Set();
      Object.assign(state, { list: [], unread: 0, hasMore: false, loading: false, error: false, loaded: false, dnd: false });
      dndKey = null;
      changed();
    },
  };
}
