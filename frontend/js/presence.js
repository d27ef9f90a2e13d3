// Presence status (issue 15; PROTOCOL.md `status`, REST.md member lists and GET /api/me/rooms):
// what this client says about me and what it knows about everyone else.
// - Me: `away` after `awayAfterSec` (GET /config.json) without input here (idle.js), `online` when
//   input comes back — one `status` frame per change, and the current one again after every
//   reconnect (the server forgets a socket's status when it closes). Do not disturb is chosen by
//   the user (PUT /api/me/status, notifications.js) and wins over both.
// - Others: PULLED, never pushed (one status flip in a room of 10,000 would be 10,000 frames).
//   Every answer of GET /api/rooms/:room/members and GET /api/me/rooms carries each person's
//   `status` and `lastSeen`; both api calls are wrapped here, so each answer counts whoever
//   asked for it (app.js, my-rooms.js, the member list's own refresh). The room list is re-read
//   every POLL_MS while the tab is visible (one request); ui/members.js re-reads its list while
//   it is open. A live `presence` join or leave (PROTOCOL.md) that came after the last answer
//   about someone says more than that answer: they came online, or they went (offline, last
//   seen then) — until the next answer.
import { createIdleTracker, watchInput } from './idle.js';

export const POLL_MS = 60_000;
export const DEFAULT_AWAY_SEC = 300;
/** Opening a DM re-reads the room list for its peer's status unless it was read this recently. */
const PEERS_FRESH_MS = 10_000;
const KNOWN_MAX = 5_000; // people remembered; the oldest answers go first
const STATUSES = new Set(['online', 'away', 'dnd', 'offline']);

/** `awayAfterSec` of GET /config.json in ms (the default when absent or odd). */
export function awayAfterMsOf(cfg) {
  const s = cfg && cfg.awayAfterSec;
  return (Number.isInteger(s) && s >= 1 && s <= 86_400 ? s : DEFAULT_AWAY_SEC) * 1000;
}

/**
 * A person's status as shown: `known` is the last REST answer about them ({status, lastSeen?, at}
 * with `at` when it was asked for), `heardAt` when the last presence frame about them came (0:
 * none), `liveOnline` whether presence shows a socket of theirs in a room this client holds.
 */
export function effectiveStatus(known, heardAt, liveOnline) {
  if (known && known.at >= heardAt) {
    // The answer is the newer news; presence may still show a socket it did not see yet.
    if (known.status === 'offline' && liveOnline) return { status: 'online' };
    return known.lastSeen ? { status: known.status, lastSeen: known.lastSeen } : { status: known.status };
  }
  if (liveOnline) return { status: known && known.status !== 'offline' ? known.status : 'online' };
  if (heardAt) return { status: 'offline', lastSeen: heardAt };
  return { status: 'offline' };
}

export function createPresence({ store, api, getSocket, refreshRooms, onChange = () => {}, storage = window.localStorage, win = window, doc = document }) {
  const known = new Map(); // user id -> { status, lastSeen?, at }
  const heard = new Map(); // user id -> ms of the last presence frame about them
  let running = false; // signed in: answers arriving after sign-out are not kept
  let idle = null;
  let unwatch = null;
  let dnd = false;
  let sent = null; // the status last sent on the current connection
  let roomsAt = 0; // when the last GET /api/me/rooms that answered was asked for
  let pollTimer = 0;
  let sendTimer = 0;
  let changeQueued = false;

  const visible = () => doc.visibilityState === 'visible';
  const changed = () => onChange();
  /** After the current turn: a presence frame is applied to the store after it passed here. */
  function changedSoon() {
    if (changeQueued) return;
    changeQueued = true;
    queueMicrotask(() => {
      changeQueued = false;
      onChange();
    });
  }

  /** People of a REST answer asked for at `t0` ({id, status, lastSeen?}). */
  function note(people, t0) {
    for (const p of Array.isArray(people) ? people : []) {
      if (!p || typeof p.id !== 'string' || !STATUSES.has(p.status)) continue;
      const old = known.get(p.id);
      if (old && old.at > t0) continue; // an answer asked for later came first
      known.delete(p.id); // re-inserted: the Map's order is the age of the answers
      known.set(p.id, { status: p.status, lastSeen: Number.isFinite(p.lastSeen) && p.lastSeen > 0 ? p.lastSeen : 0, at: t0 });
    }
    for (const id of known.keys()) {
      if (known.size <= KNOWN_MAX) break;
      known.delete(id);
    }
    changed();
  }

  /** Wraps `api[name]` so every answer also goes to `record(answer, t0, args)`. */
  function tap(name, record) {
    const call = api[name];
    api[name] = async (...args) => {
      const t0 = Date.now();
      const res = await call(...args);
      if (running) record(res, t0, args);
      return res;
    };
  }
  tap('members', (res, t0) => note(res && res.members, t0));
  tap('myRooms', (res, t0) => {
    roomsAt = Math.max(roomsAt, t0);
    const rooms = Array.isArray(res && res.rooms) ? res.rooms : [];
    note(rooms.flatMap((r) => (r && Array.isArray(r.peers) ? r.peers : [])), t0);
  });
  tap('setStatus', (_res, _t0, [status]) => {
    dnd = status === 'dnd';
    changed();
  });

  function sendStatus() {
    clearTimeout(sendTimer);
    const s = idle ? idle.state : 'online';
    if (s === sent) return;
    const socket = getSocket();
    if (socket && socket.send({ type: 'status', status: s })) sent = s;
  }

  /** The room list again when the last answer is POLL_MS old and someone may be looking. */
  function pollRooms() {
    clearTimeout(pollTimer);
    const wait = roomsAt + POLL_MS - Date.now();
    pollTimer = setTimeout(pollRooms, wait > 0 ? wait : POLL_MS);
    if (wait <= 0 && visible()) refreshRooms();
  }
  const onVisibility = () => {
    if (visible()) pollRooms();
  };

  const mine = () => (dnd ? 'dnd' : idle ? idle.state : 'online');

  return {
    /** My status here: 'online' | 'away' | 'dnd'. */
    mine,
    /** Someone's status as shown: { status: online|away|dnd|offline, lastSeen? (ms) }. */
    statusOf(id) {
      const me = store.state.me;
      if (me && id === me.id) return { status: mine() };
      return effectiveStatus(known.get(id), heard.get(id) || 0, store.onlineIds().has(id));
    },
    /** Opening a DM: its peer's status from a fresh room list (unless it is fresh already). */
    refreshPeers() {
      if (Date.now() - roomsAt >= PEERS_FRESH_MS) refreshRooms();
    },
    /** `user`: the signed-in user (dnd as GET /api/me said); `awayAfterMs`: awayAfterMsOf(config). */
    start(user, awayAfterMs) {
      // As notifications.js decides it: the server's word, else this device's memory of it.
      const told = user.status === 'dnd' || user.dnd === true ? true : user.status || user.dnd === false ? false : null;
      dnd = told ?? storage.getItem(`aurora.dnd.${user.id}`) === '1';
      running = true;
      idle = createIdleTracker({
        awayAfterMs,
        onChange: () => {
          sendStatus();
          changed();
        },
      });
      unwatch = watchInput(idle, win, doc);
      doc.addEventListener('visibilitychange', onVisibility);
      roomsAt = Date.now(); // my-rooms.js reads the list at start
      pollRooms();
      changed();
    },
    stop() {
      running = false;
      if (idle) idle.stop();
      if (unwatch) unwatch();
      doc.removeEventListener('visibilitychange', onVisibility);
      clearTimeout(pollTimer);
      clearTimeout(sendTimer);
      idle = null;
      unwatch = null;
      known.clear();
      heard.clear();
      sent = null;
      dnd = false;
      roomsAt = 0;
    },
    /** Every frame passes here first (nothing is consumed). */
    sawFrame(f) {
      if (f.type === 'hello') {
        // A new connection: the server holds no status for it. Sent after the rejoins this hello
        // starts (the same turn), as a `join` counts as activity there and would undo an `away`.
        sent = null;
        clearTimeout(sendTimer);
        sendTimer = setTimeout(sendStatus, 0);
      } else if (f.type === 'presence' && f.user && typeof f.user.id === 'string') {
        heard.delete(f.user.id);
        heard.set(f.user.id, Date.now());
        if (heard.size > KNOWN_MAX) heard.delete(heard.keys().next().value);
        changedSoon();
      }
    },
  };
}
