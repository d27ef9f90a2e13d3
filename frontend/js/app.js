// Wiring: session → chat. Decides between the sign-in screen and the chat, connects the socket
// to the store, turns server frames into state, hands sends (sender.js) and changes to messages
// (changes.js) their acks and errors, the user's rooms and their frames to my-rooms.js, read
// positions, receipts and notifications to attention.js, presence status to presence.js, pages
// older history, and renders what changed.
import { createApi, ApiError } from './api.js';
import { ChatSocket } from './socket.js';
import { createStore } from './store.js';
import { createSender } from './sender.js';
import { createChanges } from './changes.js';
import { createOutboxPersistence } from './outbox-persist.js';
import { createMyRooms } from './my-rooms.js';
import { createHiddenDms } from './hidden-dms.js';
import { createRoomActions } from './room-actions.js';
import { createAttention } from './attention.js';
import { createPresence, awayAfterMsOf } from './presence.js';
import { DEFAULT_ROOM, isValidRoom } from './rooms.js';
import { $ } from './ui/dom.js';
import { mountAuth } from './ui/auth.js';
import { mountSidebar } from './ui/sidebar.js';
import { mountRoomHeader } from './ui/room-header.js';
import { mountRoomDialogs } from './ui/room-dialogs.js';
import { mountMessages } from './ui/messages.js';
import { mountComposer } from './ui/composer.js';
import { mountStatus } from './ui/status.js';
import { mountMembers, renderTyping } from './ui/members.js';
import { shownName } from './ui/avatar.js';
import { announce } from './ui/announcer.js';
import { loadNames, saveNames } from './names-cache.js';
import { createMessageActions } from './ui/message-actions.js';
import { mountThread } from './ui/thread.js';
import { mountDrawer } from './ui/drawer.js';
import { mountMyPresence } from './ui/presence-dot.js';
import { mountAttach } from './ui/attach.js';
import { createFind } from './find.js';
import { setupProfiles } from './profiles-setup.js';
import { toast } from './ui/toast.js';
import { STRINGS, errorText } from './strings.js';

const store = createStore();
const api = createApi({ onSignedOut: (reason) => endChat(reason === 'switched' ? STRINGS.auth.switchedUser : STRINGS.auth.sessionEnded) });
let socket = null;
let typingTimer = 0;
const getSocket = () => socket;
const outboxStore = createOutboxPersistence({ store });
const profiles = setupProfiles({ api, store, onChange: () => renderPresence(), onDeleted: () => logout(STRINGS.account.deleted) }); // names, avatars; account deletion
const changes = createChanges({ store, getSocket });
const hiddenDms = createHiddenDms({ store });
const myRooms = createMyRooms({ store, api, getSocket, hiddenDms, onRemoved: roomGone, toast });
// Reads the statuses every members and rooms answer of `api` carries, whoever asked.
const presence = createPresence({ store, api, getSocket, refreshRooms: () => myRooms.refresh(), onChange: renderPresence });
const roomActions = createRoomActions({ store, api, myRooms, hiddenDms, onSelect: selectRoom, toast });
const dialogs = mountRoomDialogs({ store, api, actions: roomActions });

const auth = mountAuth({
  async onSubmit(mode, username, password) {
    if (mode === 'register') await api.register(username, password);
    const user = await api.login(username, password);
    auth.hide();
    await startChat(user);
  },
});
const sidebar = mountSidebar({
  store,
  api,
  presence,
  onSelect: selectRoom,
  onOpenByName: openByName,
  onCreateRoom: () => dialogs.openCreate(),
  onNewGroup: () => dialogs.openGroup(),
  onLogout: logout,
});
const actions = createMessageActions({
  store,
  changes,
  onOpenThread: (room, id) => store.openThread(room, id),
  // an answer that ended meanwhile is a 404: its final text is on its way, nothing to say
  onStopAnswer: (room, id) => api.stopAnswer(room, id).catch((err) => err.status !== 404 && toast(errorText(err), { kind: 'error' })),
});
const discard = (cid) => store.discard(cid);
// Search and jumps to a message far back (find.js); files to send (ui/attach.js).
const find = createFind({ store, api, selectRoom, loadOlder, toast, render: () => messages.render() });
const messages = mountMessages({ store, actions, onLoadOlder: loadOlder, onRetry: retrySend, onDiscard: discard, seenLine: (room) => attention.seenLine(room), gapAfter: find.gapAfter });
const composer = mountComposer({
  onSend: send,
  onTyping: sendTyping,
  onEditLast: () => !!store.state.current && actions.editLast($('message-list'), store.state.current, null, $('composer-input')),
});
const attach = mountAttach({ store, api, composer, toast });
const sender = createSender({ store, getSocket, composerFor: (p) => (p.replyTo ? thread.composer : composer) });
const thread = mountThread({ store, api, actions, sender, toast, onRetry: retrySend, onDiscard: discard });
const status = mountStatus({ onRetry: () => socket && socket.reconnectNow() });
const members = mountMembers({ store, actions: roomActions, dialogs, presence, onRefresh: loadRoomDetails });
const attention = createAttention({ store, api, getSocket, myRooms, messages, selectRoom, loadOlder, loadAround: find.loadAround, toast });
const header = mountRoomHeader({ store, composer, actions: roomActions, dialogs, presence, setTitle: attention.setTitle, onMuteNotifications: attention.muteRoom });
const drawer = mountDrawer({ store });
const myPresence = mountMyPresence({ presence });

// --- rendering ------------------------------------------------------------------------------

store.subscribe((topics) => {
  const cur = store.state.current;
  const all = topics.has('all');
  if (all || topics.has('rooms') || topics.has('me') || topics.has('current')) {
    sidebar.render();
    header.render();
  }
  if (all || topics.has('current') || topics.has('outbox') || (cur && topics.has('messages:' + cur))) messages.render();
  const tr = thread.room;
  if (all || topics.has('thread') || topics.has('rooms') || topics.has('outbox') || (tr && topics.has('messages:' + tr))) thread.render();
  // Online marks come from the presence of every room: any room's members may change them.
  if (all || topics.has('current') || [...topics].some((t) => t.startsWith('members:'))) {
    members.render();
    header.render();
  }
  if (all || topics.has('current') || (cur && topics.has('typing:' + cur))) updateTyping();
  if (all || topics.has('connection')) status.render(store.state.connection);
  if (topics.has('outbox')) outboxStore.save();
});

/** Statuses were pulled, or mine changed. */
function renderPresence() {
  sidebar.render();
  header.render();
  members.render();
  myPresence.render();
}

function updateTyping() {
  const cur = store.state.current;
  const typers = cur ? store.typingIn(cur) : [];
  const names = typers.map((id) => shownName(id, store.state.rooms.get(cur).typing.get(id).name));
  renderTyping(names);
  clearTimeout(typingTimer);
  if (names.length) typingTimer = setTimeout(updateTyping, 1000); // expire stale indicators
}

// --- session --------------------------------------------------------------------------------

// The room on screen is remembered per device; the rooms themselves come from the server.
const currentKey = () => `aurora.current.${store.state.me.id}`;
function restoreOutbox() {
  for (const room of outboxStore.restore()) {
    if (!store.room(room).joined) myRooms.add(room);
  }
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
    // dnd (chosen on any device) rides along with the user for notifications.js
    user = res.user ? { ...res.user, ...(typeof res.dnd === 'boolean' ? { dnd: res.dnd } : {}) } : user;
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

/** config.json: wsUrls (required) and, optionally, the client's heartbeat timing and awayAfterSec. */
async function socketConfig() {
  const fallback = [`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.hostname}:8080/ws`];
  try {
    const cfg = await api.config();
    const urls = cfg && Array.isArray(cfg.wsUrls) && cfg.wsUrls.length ? cfg.wsUrls : fallback;
    const options = {};
    const ms = (v) => Number.isInteger(v) && v >= 500 && v <= 120_000;
    if (cfg && ms(cfg.pingIntervalMs)) options.pingIntervalMs = cfg.pingIntervalMs;
    if (cfg && ms(cfg.pongTimeoutMs)) options.pongTimeoutMs = cfg.pongTimeoutMs;
    return { urls, options, awayAfterMs: awayAfterMsOf(cfg) };
  } catch {
    return { urls: fallback, options: {}, awayAfterMs: awayAfterMsOf(null) };
  }
}

async function startChat(user) {
  $('boot').hidden = true;
  auth.hide();
  store.setMe(user);
  profiles.start(user);
  loadNames(store);
  hiddenDms.load(user.id);
  $('app').hidden = false;
  const { urls, options, awayAfterMs } = await socketConfig();
  if (!api.session) return; // signed out meanwhile

  socket = new ChatSocket({
    urls,
    options,
    auth: api.connectionAuth,
    history: (room, opts) => api.history(room, opts),
    sinceFor: (room) => store.resumeFrom(room),
    onFrame,
    onState,
    deferRejoin: (room) => myRooms.deferRejoin(room),
  });

  // `general` and the room last on screen now; every other room of the user's as soon as
  // GET /api/me/rooms answers (my-rooms.js).
  attention.start(user);
  presence.start(user, awayAfterMs);
  myRooms.add(DEFAULT_ROOM);
  myRooms.migrateSavedRooms(user.id);
  restoreOutbox();
  const last = localStorage.getItem(currentKey());
  selectRoom(last && isValidRoom(last) ? last : DEFAULT_ROOM, { focusComposer: true, confirm: true });
  socket.start();
  myRooms.start();
}

function endChat(message) {
  if (socket) socket.stop();
  socket = null;
  myRooms.stop();
  attention.stop();
  presence.stop();
  myPresence.hide();
  sender.stop();
  changes.stop();
  attach.stop();
  find.reset();
  profiles.stop();
  store.reset();
  $('app').hidden = true;
  document.body.classList.remove('sidebar-open');
  auth.show({ message });
}

async function logout(message = STRINGS.auth.signedOut) {
  if (socket) socket.stop();
  outboxStore.forget(); // signing out drops unsent messages
  await api.logout();
  endChat(message);
}

// --- rooms ----------------------------------------------------------------------------------

function selectRoom(name, { focusComposer = false, confirm = false } = {}) {
  if (!socket) return;
  const r = myRooms.add(name, { confirm });
  if (r.kind === 'dm') hiddenDms.show(name);
  if (store.state.thread && store.state.thread.room !== name) store.closeThread();
  store.setCurrent(name);
  localStorage.setItem(currentKey(), name);
  drawer.close();
  if (focusComposer) composer.focus();
  loadRoomDetails(name);
  attention.roomOpened(name);
}

/** The roster with roles (and the room's own state when "my rooms" has not brought it yet). */
async function loadRoomDetails(name) {
  const r = store.room(name);
  if (r.kind === 'dm') return presence.refreshPeers(); // the peer's status comes with my rooms
  const t0 = Date.now();
  try {
    if (!r.listed) store.applyRoomMeta((await api.room(name)).room, t0);
    const res = await api.members(name);
    if (store.state.rooms.get(name) === r) store.setRoster(name, res.members, t0);
  } catch {
    /* the presence roster stands in; the next visit asks again */
  }
}

/** A private room's or group's own name typed or pasted: open it when the user is a member. */
async function openByName(name) {
  const t0 = Date.now();
  try {
    const res = await api.room(name);
    if (!res.room || !res.room.role) return false;
    store.applyRoomMeta(res.room, t0);
    selectRoom(name, { focusComposer: true });
    return true;
  } catch {
    return false;
  }
}

/** The user is no longer in `name` (my-rooms.js removed it): show another room if it was on screen. */
function roomGone(name) {
  const cur = store.state.current;
  if (cur && cur !== name && store.state.rooms.has(cur)) return;
  const next = name !== DEFAULT_ROOM ? DEFAULT_ROOM : [...store.state.rooms.values()].find((r) => r.joined && r.name !== name)?.name;
  if (next) selectRoom(next, { focusComposer: true });
}

async function loadOlder(name) {
  // Paged by the oldest item held, message or membership event (store-history.js).
  const before = store.historyCursor(name);
  store.setLoadingOlder(name, true);
  try {
    const res = await api.history(name, { before: before || undefined, limit: 50 });
    store.prependHistory(name, res.messages || [], res.hasMore, res.events || []);
  } catch (err) {
    store.setLoadingOlder(name, false, err.message || 'failed');
  }
}

// --- frames ---------------------------------------------------------------------------------

function onState(s) {
  store.setConnection(s);
  profiles.connection(s);
}

function onFrame(f) {
  presence.sawFrame(f);
  if (attention.handleFrame(f) || myRooms.handleFrame(f)) return;
  switch (f.type) {
    case 'joined':
      store.applyJoined(f, { canTrimCurrent: messages.atBottom });
      sender.flush(f.room);
      changes.flush(f.room);
      attention.joined(f.room);
      return;
    case 'message': {
      // The room on screen is trimmed too while the reader is at the bottom (bounded memory).
      const m = store.applyMessage(f, { canTrimCurrent: messages.atBottom });
      if (m && !m.replyTo && f.room === store.state.current && (!store.state.me || m.user.id !== store.state.me.id)) {
        announce(m);
        messages.noteIncoming();
      }
      if (m && store.room(f.room).kind === 'dm') saveNames(store);
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
    case 'delta':
      store.applyDelta(f);
      return;
    case 'presence':
      store.applyPresence(f);
      return;
    case 'profile':
      profiles.frame(f);
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
  if (sender.onError(f) || changes.onError(f) || attention.ownsError(f)) return;
  const msg = errorText(f);
  if (f.code === 'rate_limited') {
    const secs = Math.max(1, Math.ceil((f.retryAfterMs || 1000) / 1000));
    composer.showError(STRINGS.slowDown(secs), { autoHideMs: secs * 1000 + 500 });
    return;
  }
  toast(msg, { kind: 'error' });
}

// --- sending --------------------------------------------------------------------------------

function send(text) {
  if (!attach.send(store.state.current, text, sender)) return false; // with the files ready
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

boot();
