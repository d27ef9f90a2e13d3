// Wiring: session → chat. Decides between the sign-in screen and the chat, connects the socket
// to the store, turns server frames into state, sends with an outbox (optimistic, same cid on
// every resend), pages older history, and renders what changed.
import { createApi, ApiError } from './api.js';
import { ChatSocket, overloadedRetryDelay } from './socket.js';
import { createStore } from './store.js';
import { DEFAULT_ROOM, isValidRoom, dmMembers } from './rooms.js';
import { $, setText } from './ui/dom.js';
import { mountAuth } from './ui/auth.js';
import { mountSidebar, roomLabel, dmName } from './ui/sidebar.js';
import { mountMessages } from './ui/messages.js';
import { mountComposer } from './ui/composer.js';
import { mountStatus } from './ui/status.js';
import { mountMembers, renderTyping } from './ui/members.js';
import { toast } from './ui/toast.js';

const ACK_TIMEOUT_MS = 15_000;
const ROOM_LIST_EVERY_MS = 30_000;
const MAX_AUTO_DMS = 20; // direct messages joined automatically (most recent first)
const NAMES_KEY = 'aurora.names';
// Unsent messages are kept across reloads and re-sent with their cid. The server remembers a
// cid for IDEMPOTENCY_TTL_SEC (10 min by default); older ones are shown as failed instead, so
// a retry is the user's choice.
const OUTBOX_MAX_AGE_MS = 5 * 60_000;

const store = createStore();
const api = createApi({
  onSignedOut: (reason) =>
    endChat(
      reason === 'switched'
        ? 'You signed in as another user in another tab. Please sign in again.'
        : 'Your session has ended. Please sign in again.',
    ),
});
let socket = null;
let roomListTimer = 0;
let typingTimer = 0;
const ackTimers = new Map();
const overloadTimers = new Map(); // cid -> timer of the next re-send after `overloaded`

const auth = mountAuth({
  async onSubmit(mode, username, password) {
    if (mode === 'register') await api.register(username, password);
    const user = await api.login(username, password);
    auth.hide();
    await startChat(user);
  },
});
const sidebar = mountSidebar({ store, api, onSelect: selectRoom, onLogout: logout });
const messages = mountMessages({ store, onLoadOlder: loadOlder, onRetry: retrySend, onDiscard: (cid) => store.discard(cid) });
const composer = mountComposer({ onSend: send, onTyping: sendTyping });
const status = mountStatus({ onRetry: () => socket && socket.reconnectNow() });
const members = mountMembers({ store });

// --- rendering ------------------------------------------------------------------------------

store.subscribe((topics) => {
  const cur = store.state.current;
  const all = topics.has('all');
  if (all || topics.has('rooms') || topics.has('me') || topics.has('current')) {
    sidebar.render();
    renderHeader();
  }
  if (all || topics.has('current') || topics.has('outbox') || (cur && topics.has('messages:' + cur))) messages.render();
  if (all || topics.has('current') || (cur && topics.has('members:' + cur))) {
    members.render();
    renderHeader();
  }
  if (all || topics.has('current') || (cur && topics.has('typing:' + cur))) updateTyping();
  if (all || topics.has('connection')) status.render(store.state.connection);
  if (topics.has('outbox')) saveOutbox();
});

function renderHeader() {
  const cur = store.state.current;
  if (!cur) return;
  const r = store.state.rooms.get(cur);
  const isDm = !!dmMembers(cur);
  const label = roomLabel(store, cur);
  setText($('room-title'), label);
  const parts = [];
  if (isDm) parts.push(`Direct messages with ${dmName(store, cur)}`);
  else if (r && r.members.size) parts.push(`${r.members.size} online`);
  setText($('room-sub'), parts.join(' · '));
  $('room-leave').hidden = cur === DEFAULT_ROOM;
  setText($('room-leave'), isDm ? 'Close' : 'Leave');
  document.title = `${label} · AuroraChat`;
  composer.setRoom(cur, isDm ? dmName(store, cur) : `#${cur}`);
}

function updateTyping() {
  const cur = store.state.current;
  const names = cur ? store.typingIn(cur) : [];
  renderTyping(names);
  clearTimeout(typingTimer);
  if (names.length) typingTimer = setTimeout(updateTyping, 1000); // expire stale indicators
}

function announce(m) {
  const box = $('announcer');
  const line = document.createElement('p');
  line.textContent = `${m.user.name}: ${m.text}`;
  box.appendChild(line);
  while (box.childElementCount > 5) box.firstElementChild.remove();
}

// --- session --------------------------------------------------------------------------------

function joinedKey() {
  return `aurora.rooms.${store.state.me.id}`;
}
function savedRooms() {
  try {
    const list = JSON.parse(localStorage.getItem(joinedKey()) || '[]');
    return Array.isArray(list) ? list.filter(isValidRoom) : [];
  } catch {
    return [];
  }
}
function saveRooms() {
  const joined = [...store.state.rooms.values()].filter((r) => r.joined).map((r) => r.name);
  localStorage.setItem(joinedKey(), JSON.stringify(joined));
  localStorage.setItem(`aurora.current.${store.state.me.id}`, store.state.current || DEFAULT_ROOM);
}
function outboxKey() {
  return `aurora.outbox.${store.state.me.id}`;
}
// Every tab of the same user shares this key: each tab read-modify-writes it by cid, replacing
// only the entries it owns (sent or restored by it) and keeping the other tabs' entries.
let ownedCids = new Set();
const FOREIGN_OUTBOX_MAX_AGE_MS = 24 * 60 * 60_000; // a closed tab's leftovers are dropped after this
function readStoredOutbox() {
  try {
    const items = JSON.parse(localStorage.getItem(outboxKey()) || '[]');
    return Array.isArray(items) ? items.filter((it) => it && typeof it.cid === 'string') : [];
  } catch {
    return [];
  }
}
function saveOutbox() {
  if (!store.state.me) return;
  const mine = [...store.state.outbox.values()].map(({ cid, room, text, state, error, createdAt }) => ({ cid, room, text, state, error, createdAt }));
  const mineCids = new Set(mine.map((it) => it.cid));
  const others = readStoredOutbox().filter(
    (it) => !mineCids.has(it.cid) && !ownedCids.has(it.cid) && Date.now() - (Number(it.createdAt) || 0) < FOREIGN_OUTBOX_MAX_AGE_MS,
  );
  ownedCids = mineCids;
  const items = [...others, ...mine];
  if (items.length) localStorage.setItem(outboxKey(), JSON.stringify(items));
  else localStorage.removeItem(outboxKey());
}
function restoreOutbox() {
  ownedCids = new Set();
  for (const it of readStoredOutbox()) {
    if (!it || typeof it.cid !== 'string' || !isValidRoom(it.room) || typeof it.text !== 'string') continue;
    const p = store.addPending(it.room, it.text, it.cid);
    p.createdAt = Number(it.createdAt) || Date.now();
    if (it.state === 'failed') store.markFailed(it.cid, it.error || 'not delivered');
    else if (Date.now() - p.createdAt > OUTBOX_MAX_AGE_MS) store.markFailed(it.cid, 'not sent before the page was closed');
    if (!store.room(it.room).joined) {
      store.setJoined(it.room, true);
      if (socket) socket.join(it.room);
    }
  }
}

function loadNames() {
  try {
    const saved = JSON.parse(localStorage.getItem(NAMES_KEY) || '{}');
    for (const [id, name] of Object.entries(saved)) if (!store.state.names.has(id)) store.state.names.set(id, String(name));
  } catch {
    /* ignore */
  }
}
function saveNames() {
  const obj = Object.fromEntries([...store.state.names].slice(-500));
  localStorage.setItem(NAMES_KEY, JSON.stringify(obj));
}

async function boot() {
  if (!api.session) {
    $('boot').hidden = true;
    auth.show();
    return;
  }
  let user = api.user;
  try {
    const res = await api.me();
    user = res.user || user;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.code === 'signed_out')) {
      $('boot').hidden = true;
      auth.show({ message: 'Please sign in again.' });
      return;
    }
    // Network trouble: start with the stored user; the socket retries on its own.
  }
  await startChat(user);
}

/** config.json: wsUrls (required) and, optionally, the client's heartbeat timing. */
async function socketConfig() {
  const fallback = [`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.hostname}:8080/ws`];
  try {
    const cfg = await api.config();
    const urls = cfg && Array.isArray(cfg.wsUrls) && cfg.wsUrls.length ? cfg.wsUrls : fallback;
    const options = {};
    const ms = (v) => Number.isInteger(v) && v >= 500 && v <= 120_000;
    if (cfg && ms(cfg.pingIntervalMs)) options.pingIntervalMs = cfg.pingIntervalMs;
    if (cfg && ms(cfg.pongTimeoutMs)) options.pongTimeoutMs = cfg.pongTimeoutMs;
    return { urls, options };
  } catch {
    return { urls: fallback, options: {} };
  }
}

async function startChat(user) {
  $('boot').hidden = true;
  auth.hide();
  store.setMe(user);
  loadNames();
  $('app').hidden = false;
  const { urls, options } = await socketConfig();
  if (!api.session) return; // signed out meanwhile

  socket = new ChatSocket({
    urls,
    options,
    auth: {
      get token() {
        return api.token;
      },
      get tokenExpiresAt() {
        return api.tokenExpiresAt;
      },
      refresh: () => api.refresh(),
    },
    history: (room, opts) => api.history(room, opts),
    sinceFor: (room) => store.resumeFrom(room),
    onFrame,
    onState,
  });

  const rooms = savedRooms();
  if (!rooms.includes(DEFAULT_ROOM)) rooms.unshift(DEFAULT_ROOM);
  for (const name of rooms) {
    store.setJoined(name, true);
    socket.join(name);
  }
  restoreOutbox();
  const last = localStorage.getItem(`aurora.current.${user.id}`);
  selectRoom(last && rooms.includes(last) ? last : DEFAULT_ROOM, { focusComposer: true });
  socket.start();
  refreshRoomList();
  roomListTimer = setInterval(refreshRoomList, ROOM_LIST_EVERY_MS);
}

function endChat(message) {
  if (socket) socket.stop();
  socket = null;
  clearInterval(roomListTimer);
  for (const t of ackTimers.values()) clearTimeout(t);
  ackTimers.clear();
  for (const t of overloadTimers.values()) clearTimeout(t);
  overloadTimers.clear();
  store.reset();
  $('app').hidden = true;
  document.body.classList.remove('sidebar-open');
  auth.show({ message });
}

async function logout() {
  if (socket) socket.stop();
  if (store.state.me) localStorage.removeItem(outboxKey()); // signing out drops unsent messages
  await api.logout();
  endChat('You have signed out.');
}

async function refreshRoomList() {
  try {
    const res = await api.rooms();
    const list = res.rooms || [];
    store.setRoomList(list);
    joinDirectMessages(list);
    await learnDmNames(list);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) return; // retried next time
  }
}

const activityTime = (item) =>
  typeof item.lastMessageAt === 'number' ? item.lastMessageAt : Date.parse(item.lastMessageAt || '') || 0;

/** Someone may have written to us: join our DM rooms so their messages arrive live (the
 *  server delivers only to sockets that joined), most recently active first. */
function joinDirectMessages(list) {
  if (!socket) return;
  const dms = list
    .filter((item) => item && dmMembers(item.name))
    .sort((a, b) => activityTime(b) - activityTime(a))
    .slice(0, MAX_AUTO_DMS);
  let added = false;
  for (const item of dms) {
    const r = store.room(item.name);
    if (r.joined) continue;
    store.setJoined(item.name, true);
    socket.join(item.name);
    added = true;
  }
  if (added) saveRooms();
}

/** DM rooms from /api/rooms carry ids only: find the partner's name in the latest messages. */
async function learnDmNames(rooms) {
  const me = store.state.me;
  for (const item of rooms) {
    const pair = dmMembers(item.name);
    if (!pair || !me) continue;
    const partner = pair[0] === me.id ? pair[1] : pair[0];
    if (store.state.names.has(partner)) continue;
    try {
      const res = await api.history(item.name, { limit: 50 });
      const m = (res.messages || []).find((x) => x.user && x.user.id === partner);
      if (m) store.rememberName(partner, m.user.name);
    } catch {
      /* keep the generic label */
    }
  }
  saveNames();
}

// --- rooms ----------------------------------------------------------------------------------

function selectRoom(name, { focusComposer = false } = {}) {
  if (!socket) return;
  const r = store.room(name);
  if (!r.joined) {
    store.setJoined(name, true);
    socket.join(name);
  }
  store.setCurrent(name);
  saveRooms();
  closeSidebar();
  if (focusComposer) composer.focus();
}

$('room-leave').addEventListener('click', () => {
  const cur = store.state.current;
  if (!cur || cur === DEFAULT_ROOM || !socket) return;
  socket.leave(cur);
  store.removeRoom(cur);
  selectRoom(DEFAULT_ROOM, { focusComposer: true });
  refreshRoomList();
});

async function loadOlder(name) {
  const before = store.oldestId(name);
  store.setLoadingOlder(name, true);
  try {
    const res = await api.history(name, { before: before || undefined, limit: 50 });
    store.prependHistory(name, res.messages || [], res.hasMore);
  } catch (err) {
    store.setLoadingOlder(name, false, err.message || 'failed');
  }
}

// --- frames ---------------------------------------------------------------------------------

function onState(s) {
  store.setConnection(s);
}

function onFrame(f) {
  switch (f.type) {
    case 'joined':
      store.applyJoined(f, { canTrimCurrent: messages.atBottom });
      flushOutbox(f.room);
      return;
    case 'message': {
      // The room on screen is trimmed too while the reader is at the bottom (bounded memory).
      const m = store.applyMessage(f, { canTrimCurrent: messages.atBottom });
      if (m && f.room === store.state.current && (!store.state.me || m.user.id !== store.state.me.id)) {
        announce(m);
        messages.noteIncoming();
      }
      if (m && dmMembers(f.room)) saveNames();
      return;
    }
    case 'ack': {
      clearTimeout(ackTimers.get(f.cid));
      ackTimers.delete(f.cid);
      clearTimeout(overloadTimers.get(f.cid));
      overloadTimers.delete(f.cid);
      const p = store.applyAck(f);
      if (p && p.room === store.state.current) composer.clearError();
      return;
    }
    case 'typing':
      store.applyTyping(f);
      return;
    case 'presence':
      store.applyPresence(f);
      return;
    case 'left':
      return;
    case 'error':
      handleError(f);
      return;
    default:
      return; // hello, authed and future frame types need nothing here
  }
}

/** What each send limit means to the user (the `limit` of a rate_limited error). */
const RATE_LIMIT_REASONS = {
  room: 'you are sending too fast',
  account: 'you have sent a lot in the last minute, across all rooms',
  new_rooms: 'you have started many new rooms this hour',
};

function handleError(f) {
  const msg = f.message || f.code || 'error';
  const p = f.ref ? store.state.outbox.get(f.ref) : null;
  if (p) {
    clearTimeout(ackTimers.get(p.cid));
    ackTimers.delete(p.cid);
    switch (f.code) {
      case 'rate_limited': {
        const secs = Math.max(1, Math.ceil((f.retryAfterMs || 1000) / 1000));
        // The server names the limit that refused the send (protocol.ts, `limit`).
        const why = RATE_LIMIT_REASONS[f.limit] || RATE_LIMIT_REASONS.room;
        store.markFailed(p.cid, `${why} — try again in ${secs} s`);
        composer.showError(`Slow down: you can send again in ${secs} s.`, { autoHideMs: secs * 1000 + 500 });
        return;
      }
      case 'too_long':
        store.markFailed(p.cid, 'message too long (4,000 characters at most)');
        composer.showError(msg);
        return;
      case 'overloaded': {
        // The server asks us to come back later: keep it pending and resend (same cid) with a
        // per-message exponential backoff (capped at 30 s) that honours retryAfterMs.
        const retries = p.overloadedRetries || 0;
        const p2 = store.markPending(p.cid);
        if (p2) {
          p2.overloadedRetries = retries + 1;
          p2.note = 'Server busy — retrying…';
          clearTimeout(overloadTimers.get(p2.cid));
          overloadTimers.set(
            p2.cid,
            setTimeout(() => {
              overloadTimers.delete(p2.cid);
              resend(p2);
            }, overloadedRetryDelay(retries, Number(f.retryAfterMs))),
          );
        }
        return;
      }
      case 'not_joined':
        if (socket) socket.join(p.room); // flushOutbox runs again on `joined`
        return;
      default:
        store.markFailed(p.cid, msg);
        return;
    }
  }
  if (f.ref && store.state.rooms.has(f.ref)) {
    store.setRoomError(f.ref, msg);
    toast(`${roomLabel(store, f.ref)}: ${msg}`, { kind: 'error' });
    if (f.code === 'forbidden' || f.code === 'invalid_room') {
      if (socket) socket.leave(f.ref);
      store.removeRoom(f.ref);
      if (store.state.current === f.ref) selectRoom(DEFAULT_ROOM);
      saveRooms();
    }
    return;
  }
  if (f.code === 'rate_limited') {
    const secs = Math.max(1, Math.ceil((f.retryAfterMs || 1000) / 1000));
    composer.showError(`Slow down: you can send again in ${secs} s.`, { autoHideMs: secs * 1000 + 500 });
    return;
  }
  toast(msg, { kind: 'error' });
}

// --- sending --------------------------------------------------------------------------------

/** A client message id: the idempotency key the server dedups resends by. */
function newCid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function send(text) {
  const room = store.state.current;
  if (!room || !socket) return false;
  const p = store.addPending(room, text, newCid());
  resend(p);
  messages.scrollToBottom();
  queueMicrotask(() => messages.scrollToBottom());
  return true;
}

/** Sends (or re-sends, same cid) one outbox entry if the room is live; else it waits. */
function resend(p) {
  if (!socket || !store.state.outbox.has(p.cid)) return;
  const r = store.state.rooms.get(p.room);
  if (!r || !r.live) return; // flushOutbox sends it once the room is (re)joined
  if (!socket.send({ type: 'send', room: p.room, text: p.text, cid: p.cid })) return;
  store.markSent(p.cid);
  clearTimeout(ackTimers.get(p.cid));
  ackTimers.set(
    p.cid,
    setTimeout(() => {
      ackTimers.delete(p.cid);
      // Connected but unanswered: let the user retry (the same cid keeps it single).
      if (socket && socket.connected) store.markFailed(p.cid, 'no answer from the server');
    }, ACK_TIMEOUT_MS),
  );
}

/** After (re)joining a room: send everything still pending there, oldest first. */
function flushOutbox(room) {
  for (const p of store.pendingIn(room)) if (p.state === 'pending' && !overloadTimers.has(p.cid)) resend(p);
}

function retrySend(cid) {
  clearTimeout(overloadTimers.get(cid));
  overloadTimers.delete(cid);
  const p = store.markPending(cid);
  if (p) resend(p);
  composer.focus();
}

function sendTyping(room, active) {
  if (socket && room) socket.send({ type: 'typing', room, active });
}

// --- small-screen drawer ------------------------------------------------------------------

function openSidebar() {
  document.body.classList.add('sidebar-open');
  $('scrim').hidden = false;
  $('sidebar-open').setAttribute('aria-expanded', 'true');
  const cur = document.querySelector('.room-btn[aria-current="page"]') || $('join-input');
  cur.focus();
}
function closeSidebar() {
  if (!document.body.classList.contains('sidebar-open')) return;
  document.body.classList.remove('sidebar-open');
  $('scrim').hidden = true;
  $('sidebar-open').setAttribute('aria-expanded', 'false');
}
$('sidebar-open').addEventListener('click', openSidebar);
$('sidebar-close').addEventListener('click', () => {
  closeSidebar();
  $('sidebar-open').focus();
});
$('scrim').addEventListener('click', closeSidebar);
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && document.body.classList.contains('sidebar-open')) {
    closeSidebar();
    $('sidebar-open').focus();
  }
});
// Coming back to the tab clears the unread count of the room on screen.
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && store.state.current) store.setCurrent(store.state.current);
});

boot();
