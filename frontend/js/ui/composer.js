// A message box (the room's, and the thread panel's): Enter sends, Shift+Enter adds a line, Up
// arrow in an empty box edits your last message, and typing notifications are throttled (at
// most one `typing:true` per 2 s while keys keep coming; `typing:false` on send, on blur, after
// a pause, or when emptied).
// What the line above the box says is derived, never left over (issue 20): "too long" exists
// exactly while the text is over the limit; a send's error lasts until the user types again;
// a rate-limit notice (sender.js) lasts as long as its cooldown and queue; a lock (muted until
// 14:05, an archived room) lasts until it is lifted and holds sends back; a final one (a DM with
// a deleted account) disables the whole box. The counter shows
// from the first character, the limit is the server's (no other cap: a paste is never cut).
import { $, setText } from './dom.js';
import { MAX_TEXT_CHARS } from '../rooms.js';
import { FILES } from '../strings-files.js';

const TYPING_EVERY_MS = 2_000;
const TYPING_IDLE_MS = 4_000;
const NEAR_LIMIT = MAX_TEXT_CHARS - 500;
const TOO_LONG = `Your message is too long: the limit is ${MAX_TEXT_CHARS.toLocaleString()} characters.`;

const MAIN_IDS = { form: 'composer', input: 'composer-input', count: 'composer-count', error: 'composer-error' };

export function mountComposer({ ids = MAIN_IDS, onSend, onTyping = () => {}, onEditLast = () => false }) {
  const form = $(ids.form);
  const input = $(ids.input);
  const count = $(ids.count);
  const error = $(ids.error);
  const sendBtn = form.querySelector('button[type="submit"]');
  let typingRoom = null;
  let lastTypingAt = 0;
  let idleTimer = 0;
  let room = null;
  let sendError = ''; // the last refused send, until the user types again
  let errorTimer = 0;
  const notices = new Map(); // room -> { id, make } of a rate-limit notice (sender.js)
  let lastNotice = null; // a box with no room of its own (the thread's) shows the newest
  let lock = ''; // why nothing can be sent here now (muted, archived): '' when it can
  let lockFinal = false; // nothing will ever be sent here: the box and its buttons are disabled
  // Files to send (ui/attach.js): `ready` may go without text; a send waits for `busy` uploads.
  let files = { ready: 0, busy: 0 };
  const sendLabel = sendBtn ? sendBtn.textContent : '';

  function stopTyping() {
    clearTimeout(idleTimer);
    if (typingRoom) onTyping(typingRoom, false);
    typingRoom = null;
    lastTypingAt = 0;
  }

  const over = () => input.value.length > MAX_TEXT_CHARS;

  /** Repaints the counter and the line above the box from the current state. */
  function paint() {
    const n = input.value.length;
    setText(count, n ? `${n.toLocaleString()} / ${MAX_TEXT_CHARS.toLocaleString()}` : '');
    count.classList.toggle('near', n > NEAR_LIMIT && !over());
    count.classList.toggle('over', over());
    input.setAttribute('aria-invalid', String(over()));
    if (sendBtn) {
      sendBtn.disabled = over() || !!lock || files.busy > 0;
      setText(sendBtn, files.busy > 0 ? FILES.sendBusy : sendLabel);
      sendBtn.title = files.busy > 0 ? FILES.sendBusyTitle : '';
    }
    // One line, by precedence: the text in the box, a lock, a running cooldown, a refusal.
    const notice = over() || lock ? null : room !== null ? notices.get(room) : lastNotice;
    if (notice) {
      // Built once per notice: its countdown ticks by itself (countdown.js).
      if (error.dataset.notice !== String(notice.id)) {
        error.replaceChildren(...notice.make());
        error.dataset.notice = String(notice.id);
      }
      return;
    }
    delete error.dataset.notice;
    setText(error, over() ? TOO_LONG : lock || sendError);
  }

  input.addEventListener('input', () => {
    if (sendError) {
      clearTimeout(errorTimer);
      sendError = '';
    }
    paint();
    if (!input.value.trim()) return stopTyping();
    const now = Date.now();
    if (typingRoom !== room || now - lastTypingAt >= TYPING_EVERY_MS) {
      if (typingRoom && typingRoom !== room) onTyping(typingRoom, false);
      typingRoom = room;
      lastTypingAt = now;
      onTyping(room, true);
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });
  input.addEventListener('blur', stopTyping);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    } else if (ev.key === 'ArrowUp' && !input.value && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
      if (onEditLast()) ev.preventDefault();
    }
  });

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    if ((!text.trim() && !files.ready) || over() || lock || files.busy) return paint();
    stopTyping();
    if (onSend(text) !== false) {
      input.value = '';
      clearError();
    }
    input.focus();
  });

  /** A refused send (or another one-off problem): shown until the user types or `autoHideMs`. */
  function showError(msg, { autoHideMs = 0 } = {}) {
    clearTimeout(errorTimer);
    sendError = String(msg);
    if (autoHideMs) errorTimer = setTimeout(clearError, autoHideMs);
    paint();
  }
  function clearError() {
    clearTimeout(errorTimer);
    sendError = '';
    paint();
  }

  let noticeIds = 0;
  return {
    setRoom(next, label) {
      if (next !== room) {
        stopTyping();
        sendError = '';
      }
      room = next;
      input.placeholder = `Message ${label}`;
      paint();
    },
    focus() {
      input.focus();
    },
    input,
    showError,
    /**
     * Why sending is impossible now ('' lifts it): the text stays in the box meanwhile. `final`:
     * it never will be (the peer's account is gone): the box and its buttons are disabled too.
     */
    setLock(text, { final = false } = {}) {
      final = final && !!text;
      if (lock === (text || '') && lockFinal === final) return;
      lock = text || '';
      if (lockFinal !== final) {
        lockFinal = final;
        if (final) stopTyping();
        for (const el of form.elements) el.disabled = final;
      }
      paint();
    },
    clearError,
    /** The files waiting under the box (counts): ready ones may go alone, busy ones hold sends. */
    setFiles(next) {
      files = { ready: next.ready || 0, busy: next.busy || 0 };
      paint();
    },
    /** A rate-limit notice about `room` (make: () => strings and elements), or null to take it down. */
    setNotice(forRoom, make) {
      if (make) {
        const notice = { id: ++noticeIds, make };
        notices.set(forRoom, notice);
        lastNotice = notice;
      } else {
        if (lastNotice && notices.get(forRoom) === lastNotice) lastNotice = null;
        notices.delete(forRoom);
      }
      paint();
    },
  };
}
