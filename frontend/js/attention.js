// Attention (issue 15) wired to the app: the frames of it (`read`, `receipt`, `notify`), read
// positions sent as the user reads (read-marker.js), receipts of the room on screen
// (receipts.js), the notification inbox and its panel (notifications.js, ui/notifications.js),
// desktop notifications (desktop-notify.js), the tab title and favicon (title-badge.js), a room's
// "mute notifications", opening a notification's message (open-message.js) and @name completion
// in both message boxes (ui/mention-complete.js). app.js calls
// these hooks; the counts themselves live in the store (store-attention.js).
import { createReadMarker } from './read-marker.js';
import { isRead } from './read-state.js';
import { createReceipts } from './receipts.js';
import { createNotifications } from './notifications.js';
import { createDesktopNotify } from './desktop-notify.js';
import { createTitleBadge } from './title-badge.js';
import { createOpener } from './open-message.js';
import { mountNotifications } from './ui/notifications.js';
import { mountMentionComplete } from './ui/mention-complete.js';
import { roomName } from './ui/room-label.js';
import { restErrorText } from './room-actions.js';
import { STRINGS } from './strings.js';
import { $ } from './ui/dom.js';
import { shownName } from './ui/avatar.js';

const REFRESH_DEBOUNCE_MS = 500;

export function createAttention({ store, api, getSocket, myRooms, messages, selectRoom, loadOlder, loadAround = null, toast }) {
  let refreshTimer = 0;
  let hellos = 0;
  const receipts = createReceipts({ store, api, onChange: (room) => room === store.state.current && messages.render(), nameOf: (u) => shownName(u.id, u.name) });
  const panel = { render() {} };
  const notifications = createNotifications({ api, onChange: () => panel.render() });
  const opener = createOpener({ store, selectRoom, loadOlder, loadAround, toast, strings: STRINGS.attention });
  const openNotification = (n) => opener.open(n.room, n.sourceId, typeof n.replyTo === 'string' ? n.replyTo : undefined);
  const desktop = createDesktopNotify({ onOpen: openNotification, isDnd: () => notifications.state.dnd });
  const titleBadge = createTitleBadge({ store });
  /** The notification's message is at or before my read position in its room. */
  const readHere = (n) => {
    const r = store.state.rooms.get(n.room);
    const m = r && r.msgs.get(n.sourceId);
    return !!r && isRead(r, n.sourceId, m ? m.seq : null);
  };
  // Reading a room reads its message notifications up to there (a DM read as it arrives leaves
  // no unread notification behind).
  const roomRead = (room) => notifications.readInRoom(room, readHere);
  const scroller = $('messages');
  const marker = createReadMarker({
    store,
    getSocket,
    atBottom: () => messages.atBottom,
    isShown: (id) => !!document.querySelector(`#message-list [data-id="${id}"]`),
    onSeen: roomRead,
  });
  Object.assign(panel, mountNotifications({ store, notifications, desktop, onOpen: openNotification, toast }));
  mountMentionComplete({ input: $('composer-input'), store, roomOf: () => store.state.current, listId: 'mention-list' });
  mountMentionComplete({ input: $('thread-input'), store, roomOf: () => store.state.thread && store.state.thread.room, listId: 'thread-mention-list' });

  // The reader's view changed: the newest message may be on screen now.
  store.subscribe(() => marker.checkSoon());
  scroller.addEventListener('scroll', () => marker.checkSoon(), { passive: true });
  // Hidden or back: the room on screen counts, or stops counting, as unread (sidebar, drawer).
  document.addEventListener('visibilitychange', () => {
    if (store.state.current) store.setCurrent(store.state.current);
    marker.checkSoon();
  });
  window.addEventListener('focus', () => marker.checkSoon());

  /** GET /api/me/rooms again soon (a mention count a `read` frame made uncertain). */
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => myRooms.refresh(), REFRESH_DEBOUNCE_MS);
  }

  return {
    setTitle: (t) => titleBadge.setTitle(t),
    seenLine: (room) => receipts.line(room),
    start(user) {
      hellos = 0;
      notifications.start(user);
      notifications.load();
    },
    stop() {
      clearTimeout(refreshTimer);
      marker.stop();
      receipts.reset();
      notifications.reset();
      panel.close();
    },
    /** The room on screen changed. */
    roomOpened(room) {
      receipts.load(room);
    },
    /** `joined` (after the store applied it): a read that waited for the room goes out. */
    joined(room) {
      marker.flush(room);
    },
    /** Frames of attention; true when handled (nothing more to do with them). */
    handleFrame(f) {
      switch (f.type) {
        case 'read':
          if (typeof f.room !== 'string') return true;
          if (store.applyReadFrame(f)) refreshSoon();
          roomRead(f.room);
          return true;
        case 'receipt':
          receipts.applyFrame(f);
          return true;
        case 'notify': {
          const n = f.notification;
          if (!n || !notifications.add(n)) return true;
          // Already read (it came a moment after its message, which was on screen): not unread.
          if (readHere(n)) roomRead(n.room);
          else desktop.show(n);
          return true;
        }
        case 'hello':
          // A reconnect: `notify` and `receipt` frames of the gap are not replayed.
          if (hellos++ > 0) {
            notifications.load();
            if (store.state.current) receipts.load(store.state.current);
          }
          return false;
        case 'resync':
          notifications.load();
          return false;
        default:
          return false;
      }
    },
    /** An error frame answering one of our `read` frames: not the user's business. */
    ownsError: (f) => marker.ownsError(f),
    /** "Mute notifications" / "Unmute notifications" in the room options menu. */
    async muteRoom(room, muted) {
      try {
        await api.setRoomMuted(room, muted);
        store.setNotifyMuted(room, muted);
        const label = roomName(store, room);
        toast(muted ? STRINGS.attention.muted(label) : STRINGS.attention.unmuted(label));
      } catch (err) {
        toast(restErrorText(err), { kind: 'error' });
      }
    },
  };
}
