// The user's rooms, the same on every device: GET /api/me/rooms (no polling) kept live by frames.
// - At start and after every reconnect the list is read and each room joined on the socket (a
//   reconnect may have missed frames of the user's own channel). Rooms an earlier answer listed
//   and a newer one does not were left, kicked or banned meanwhile: they go. Such rooms are not
//   rejoined blindly at a reconnect, nor the room last on screen at start: a join makes the user
//   a member of a public room again, undoing a leave made on another device meanwhile — they
//   wait (socket.js `deferred`) until the list confirms them.
// - Frames for a room this socket has NOT joined come from the user's own channel (PROTOCOL.md
//   "Membership events"): an invitation, a room created on another device, the first message of a
//   new DM. The room is added and joined at once (a DM within a second, no waiting for storage),
//   and the list re-read (debounced) for its title and peers.
// - `left` with a reason: the server took the socket out of the room (left on another device,
//   kicked, banned): the row goes, with a toast when someone else did it. `resync`: re-read.
import { DEFAULT_ROOM, isConversation, isValidRoom } from './rooms.js';
import { roomName } from './ui/room-label.js';
import { STRINGS } from './strings.js';

const REFRESH_DEBOUNCE_MS = 150;
const RETRY_MS = 5_000;
// A socket may be in MAX_ROOMS_PER_CONNECTION (100) rooms: the most recently active are joined,
// with room to spare for rooms opened by hand; older ones are joined when opened.
const MAX_AUTO_JOINED = 90;
// After the user left a room, frames the room channel sent before the server took the socket out
// may still arrive: for this long they must not bring the room back (an invitation still does).
const REMOVED_QUIET_MS = 10_000;

export function createMyRooms({ store, api, getSocket, hiddenDms, onRemoved, toast }) {
  let inFlight = null;
  let again = false;
  let timer = 0;
  let retryTimer = 0;
  let hellos = 0;
  let stopped = true;
  const removedAt = new Map(); // room -> when this client removed it
  const me = () => (store.state.me ? store.state.me.id : null);

  /**
   * In the user's list and joined on the socket (which rejoins it on every reconnect).
   * `confirm`: a room of a membership the list has not confirmed yet waits for it.
   */
  function add(name, { confirm = false } = {}) {
    removedAt.delete(name);
    const socket = getSocket();
    const r = store.room(name);
    if (!r.joined) store.setJoined(name, true);
    const defer = confirm && !r.listed && name !== DEFAULT_ROOM && r.kind !== 'dm';
    if (socket && (!socket.rooms.has(name) || (socket.deferred.has(name) && !defer))) socket.join(name, { defer });
    return r;
  }

  /**
   * Out of the user's list; `why` ('kicked' | 'banned') says so in a toast. `tellServer`: the
   * server may still count this socket in the room (it did not say `left`), so leave it.
   */
  function remove(name, why = null, { tellServer = false } = {}) {
    const socket = getSocket();
    if (socket && tellServer && socket.rooms.has(name)) socket.leave(name);
    else if (socket) socket.forget(name);
    if (!store.state.rooms.has(name)) return;
    removedAt.set(name, Date.now());
    const label = roomName(store, name);
    store.removeRoom(name);
    if (why === 'kicked') toast(STRINGS.rooms.removed(label), { kind: 'error' });
    else if (why === 'banned') toast(STRINGS.rooms.banned(label), { kind: 'error' });
    onRemoved(name);
  }

  async function load() {
    const t0 = Date.now();
    const res = await api.myRooms();
    if (stopped) return;
    const list = Array.isArray(res && res.rooms) ? res.rooms : [];
    const gone = store.setMyRooms(list, t0);
    for (const name of gone) if (name !== DEFAULT_ROOM) remove(name, null, { tellServer: true });
    let joined = 0;
    for (const item of list) {
      const r = store.state.rooms.get(item.name);
      if (!r) continue;
      if (r.kind === 'dm') hiddenDms.sync(item.name, r.lastMessageAt);
      if (joined++ < MAX_AUTO_JOINED || item.name === store.state.current) add(item.name);
    }
    // Waiting for a confirmation the list did not give: not the user's room (any more).
    const socket = getSocket();
    for (const name of socket ? [...socket.deferred] : []) if (!store.room(name).listed) remove(name);
  }

  /** Reads the list now (one request at a time; a call meanwhile reads it again after). */
  function refresh() {
    if (stopped) return Promise.resolve();
    if (inFlight) {
      again = true;
      return inFlight;
    }
    clearTimeout(retryTimer);
    inFlight = load()
      .catch(() => {
        // Offline or the server busy: keep what we have and try again shortly. Rooms waiting
        // for a confirmation are joined meanwhile: silent rooms would be worse.
        const socket = getSocket();
        if (socket) socket.joinDeferred();
        if (!stopped) retryTimer = setTimeout(refresh, RETRY_MS);
      })
      .finally(() => {
        inFlight = null;
        if (again) {
          again = false;
          refresh();
        }
      });
    return inFlight;
  }

  function refreshSoon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_DEBOUNCE_MS);
  }

  /** A frame of the user's channel: about a room this socket has not joined. */
  function userChannelFrame(f) {
    const invitation = f.kind === 'member' && f.member && f.member.id === me() && f.role;
    if (!invitation && Date.now() - (removedAt.get(f.room) || 0) < REMOVED_QUIET_MS) return;
    if (f.type === 'message') {
      // The first message of a new DM (or of a room we were just added to): show it now.
      add(f.room);
      hiddenDms.show(f.room);
      store.applyMessage(f);
      if (f.user && f.user.id !== me()) {
        store.rememberName(f.user.id, f.user.name);
        if (isConversation(f.room)) toast(STRINGS.rooms.newDm(f.user.name));
      }
      refreshSoon();
      return;
    }
    if (f.kind === 'member' && f.member && f.member.id === me()) {
      if (!f.role) return remove(f.room, f.action === 'left' ? null : f.action);
      const invited = f.action === 'invited' && f.user && f.user.id !== me();
      add(f.room);
      store.applyEvent(f);
      const said = () => (isConversation(f.room) ? STRINGS.rooms.addedToGroup(f.user.name) : STRINGS.rooms.added(f.user.name, roomName(store, f.room)));
      if (invited) refresh().then(() => toast(said()));
      else refreshSoon();
      return;
    }
    // Someone else's membership changed by our hand on another device, or a room change.
    if (store.state.rooms.has(f.room)) store.applyEvent(f);
    refreshSoon();
  }

  return {
    start() {
      stopped = false;
      hellos = 0;
      return refresh();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(retryTimer);
    },
    refresh,
    add,
    remove,
    /** socket.js asks at a `hello`: a reconnect waits for the list before rejoining a listed room. */
    deferRejoin(name) {
      const r = store.state.rooms.get(name);
      return hellos > 1 && !!r && r.listed && r.kind !== 'dm' && name !== DEFAULT_ROOM;
    },
    /** The room list of the client before issue 14 (localStorage): joined once, then forgotten. */
    migrateSavedRooms(userId, storage = window.localStorage) {
      const key = `aurora.rooms.${userId}`;
      let saved = [];
      try {
        saved = JSON.parse(storage.getItem(key) || '[]');
      } catch {
        /* a damaged entry: nothing to migrate */
      }
      storage.removeItem(key);
      for (const name of Array.isArray(saved) ? saved : []) if (isValidRoom(name)) add(name);
    },
    /**
     * Frames this module owns; true when handled (app.js does nothing more with it). Others pass
     * through, some after a look (a message may bring a closed DM back).
     */
    handleFrame(f) {
      const socket = getSocket();
      switch (f.type) {
        case 'hello':
          if (hellos++ > 0) refresh(); // a reconnect: the user channel may have missed something
          return false;
        case 'resync':
          refresh();
          return true;
        case 'left':
          if (f.reason) remove(f.room, f.reason === 'left' ? null : f.reason);
          return true;
        case 'error': {
          if (!f.joinRefused) return false;
          // socket.js matched a refused join to its room: banned, archived, or not (any more) a member.
          const label = store.state.rooms.has(f.room) ? roomName(store, f.room) : f.room;
          const why = /banned/.test(f.message || '') ? STRINGS.rooms.bannedHere : /archived/.test(f.message || '') ? STRINGS.rooms.archivedHere : STRINGS.rooms.noSuchRoom;
          remove(f.room);
          toast(STRINGS.rooms.cannotOpen(label, why), { kind: 'error' });
          return true;
        }
        case 'message':
        case 'event':
          if (typeof f.room !== 'string') return false;
          if (socket && !socket.rooms.has(f.room)) {
            userChannelFrame(f);
            return true;
          }
          if (f.type === 'message') hiddenDms.sync(f.room, f.ts);
          return false;
        default:
          return false;
      }
    },
  };
}
