// Wiring: session → chat. Decides between the sign-in screen and the chat, connects the socket
// to the store, turns server frames into state, hands sends (sender.js) and changes to messages
// (changes.js) their acks and errors, pages older history, and renders what changed.
import { createApi, ApiError } from './api.js';
import { ChatSocket } from './socket.js';
import { createStore } from './store.js';
import { createSender } from './sender.js';
import { createChanges } from './changes.js';
import { createOutboxPersistence } from './outbox-persist.js';
import { createRoomListSync } from './room-list-sync.js';
import { DEFAULT_ROOM, isValidRoom, dmMembers } from './rooms.js';
import { $, setText } from './ui/dom.js';
import { mountAuth } from './ui/auth.js';
import { mountSidebar, roomLabel, dmName } from './ui/sidebar.js';
import { mountMessages } from './ui/messages.js';
import { mountComposer } from './ui/composer.js';
import { mountStatus } from './ui/status.js';
import { mountMembers, renderTyping } from './ui/members.js';
import { createMessageActions } from './ui/message-actions.js';
import { mountThread } from './ui/thread.js';
import { mountDrawer } from './ui/drawer.js';
import { toast } from './ui/toast.js';
import { STRINGS, errorText } from './strings.js';

const NAMES_KEY = 'aurora.names';

const store = createStore();
const api = createApi({ onSignedOut: (reason) => endChat(reason === 'switched' ? STRINGS.auth.switchedUser : STRINGS.auth.sessionEnded) });
let socket = null;
let typingTimer = 0;
const getSocket = () => socket;
const outboxStore = createOutboxPersistence({ store });
const changes = createChanges({ store, getSocket });
const roomList = createRoomListSync({ store, api, getSocket, saveRooms, saveNames });

const auth = mountAuth({
  async onSubmit(mode, username, password) {
    if (mode === 'register') await api.register(username, password);
    const user = await api.login(username, password);
    auth.hide();
    await startChat(user);
  },
});
const sidebar = mountSidebar({ store, api, onSelect: selectRoom, onLogout: logout });
const actions = createMessageActions({ store, changes, onOpenThread: (room, id) => store.openThread(room, id) });
const discard = (cid) => store.discard(cid);
const messages = mountMessages({ store, actions, onLoadOlder: loadOlder, onRetry: retrySend, onDiscard: discard });
const composer = mountComposer({
  onSend: send,
  onTyping: sendTyping,
  onEditLast: () => !!store.state.current && actions.editLast($('message-list'), store.state.current, null, $('composer-input')),
});
const sender = createSender({ store, getSocket, composerFor: (p) => (p.replyTo ? thread.composer : composer) });
const thread = mountThread({ store, api, actions, sender, onRetry: retrySend, onDiscard: discard });
const status = mountStatus({ onRetry: () => socket && socket.reconnectNow() });
const members = mountMembers({ store });
const drawer = mountDrawer({ store });

// --- rendering ------------------------------------------------------------------------------

store.subscribe((topics) => {
  const cur = store.state.current;
  const all = topics.has('all');
  if (all || topics.has('rooms') || topics.has('me') || topics.has('current')) {
    sidebar.render();
    renderHeader();
  }
  if (all || topics.has('current') || topics.has('outbox') || (cur && topics.has('messages:' + cur))) messages.render();
  const tr = thread.room;
  if (all || topics.has('thread') || topics.has('rooms') || topics.has('outbox') || (tr && topics.has('messages:' + tr))) thread.render();
  if (all || topics.has('current') || (cur && topics.has('members:' + cur))) {
    members.render();
    renderHeader();
  }
  if (all || topics.has('current') || (cur && topics.has('typing:' + cur))) updateTyping();
  if (all || topics.has('connection')) status.render(store.state.connection);
  if (topics.has('outbox')) outboxStore.save();
});

function renderHeader() {
  const cur = store.state.current;
  if (!cur) return;
  const r = store.state.rooms.get(cur);
  const isDm = !!dmMembers(cur);
  const label = roomLabel(store, cur);
  setText($('room-title'), label);
  const parts = [];
  if (isDm) parts.push(STRINGS.chat.dmWith(dmName(store, cur)));
  else if (r && r.members.size) parts.push(STRINGS.chat.online(r.members.size));
  setText($('room-sub'), parts.join(' · '));
  $('room-leave').hidden = cur === DEFAULT_ROOM;
  setText($('room-leave'), isDm ? STRINGS.chat.close : STRINGS.chat.leave);
  document.title = STRINGS.chat.title(label);
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
function restoreOutbox() {
  for (const room of outboxStore.restore()) {
    if (store.room(room).joined) continue;
    store.setJoined(room, true);
    if (socket) socket.join(room);
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
      auth.show({ message: STRINGS.auth.signInAgain });
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
  roomList.start();
}

function endChat(message) {
  if (socket) socket.stop();
  socket = null;
  roomList.stop();
  sender.stop();
  changes.stop();
  store.reset();
  $('app').hidden = true;
  document.body.classList.remove('sidebar-open');
  auth.show({ message });
}

async function logout() {
  if (socket) socket.stop();
  outboxStore.forget(); // signing out drops unsent messages
  await api.logout();
  endChat(STRINGS.auth.signedOut);
}

// --- rooms ----------------------------------------------------------------------------------

function selectRoom(name, { focusComposer = false } = {}) {
  if (!socket) return;
  const r = store.room(name);
  if (!r.joined) {
    store.setJoined(name, true);
    socket.join(name);
  }
  if (store.state.thread && store.state.thread.room !== name) store.closeThread();
  store.setCurrent(name);
  saveRooms();
  drawer.close();
  if (focusComposer) composer.focus();
}

$('room-leave').addEventListener('click', () => {
  const cur = store.state.current;
  if (!cur || cur === DEFAULT_ROOM || !socket) return;
  socket.leave(cur);
  store.removeRoom(cur);
  selectRoom(DEFAULT_ROOM, { focusComposer: true });
  roomList.refresh();
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
      sender.flush(f.room);
      changes.flush(f.room);
      return;
    case 'message': {
      // The room on screen is trimmed too while the reader is at the bottom (bounded memory).
      const m = store.applyMessage(f, { canTrimCurrent: messages.atBottom });
      if (m && !m.replyTo && f.room === store.state.current && (!store.state.me || m.user.id !== store.state.me.id)) {
        announce(m);
        messages.noteIncoming();
      }
      if (m && dmMembers(f.room)) saveNames();
      return;
    }
    case 'ack':
      if (!changes.onAck(f)) sender.onAck(f);
      return;
    case 'event':
      store.applyEvent(f);
      return;
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

function handleError(f) {
  if (sender.onError(f) || changes.onError(f)) return;
  const msg = errorText(f);
  if (f.ref && store.state.rooms.has(f.ref)) {
    store.setRoomError(f.ref, msg);
    toast(STRINGS.roomError(roomLabel(store, f.ref), msg), { kind: 'error' });
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
    composer.showError(STRINGS.slowDown(secs), { autoHideMs: secs * 1000 + 500 });
    return;
  }
  toast(msg, { kind: 'error' });
}

// --- sending --------------------------------------------------------------------------------

function send(text) {
  if (!sender.send(store.state.current, text)) return false;
  messages.scrollToBottom();
  queueMicrotask(() => messages.scrollToBottom());
  return true;
}

function retrySend(cid) {
  const p = sender.retry(cid);
  (p && p.replyTo ? thread.composer : composer).focus();
}

function sendTyping(room, active) {
  if (socket && room) socket.send({ type: 'typing', room, active });
}

// Coming back to the tab clears the unread count of the room on screen.
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && store.state.current) store.setCurrent(store.state.current);
});

boot();
