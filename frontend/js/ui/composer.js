// A message box (the room's, and the thread panel's): Enter sends, Shift+Enter adds a line, Up
// arrow in an empty box edits your last message, a counter appears near the length limit, and
// typing notifications are throttled (at most one `typing:true` per 2 s while keys keep
// coming; `typing:false` on send, on blur, after a pause, or when emptied).
import { $, setText } from './dom.js';
import { MAX_TEXT_CHARS } from '../rooms.js';

const TYPING_EVERY_MS = 2_000;
const TYPING_IDLE_MS = 4_000;

const MAIN_IDS = { form: 'composer', input: 'composer-input', count: 'composer-count', error: 'composer-error' };

export function mountComposer({ ids = MAIN_IDS, onSend, onTyping = () => {}, onEditLast = () => false }) {
  const form = $(ids.form);
  const input = $(ids.input);
  const count = $(ids.count);
  const error = $(ids.error);
  let typingRoom = null;
  let lastTypingAt = 0;
  let idleTimer = 0;
  let room = null;
  let errorTimer = 0;

  function stopTyping() {
    clearTimeout(idleTimer);
    if (typingRoom) onTyping(typingRoom, false);
    typingRoom = null;
    lastTypingAt = 0;
  }

  function updateCount() {
    const n = input.value.length;
    const over = n > MAX_TEXT_CHARS;
    setText(count, n > MAX_TEXT_CHARS - 500 ? `${n.toLocaleString()} / ${MAX_TEXT_CHARS.toLocaleString()}` : '');
    count.classList.toggle('over', over);
    input.setAttribute('aria-invalid', String(over));
  }

  input.addEventListener('input', () => {
    updateCount();
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
    if (!text.trim()) return;
    if (text.length > MAX_TEXT_CHARS) {
      showError(`Your message is too long: ${text.length.toLocaleString()} characters, the limit is ${MAX_TEXT_CHARS.toLocaleString()}.`);
      return;
    }
    stopTyping();
    if (onSend(text) !== false) {
      input.value = '';
      updateCount();
      clearError();
    }
    input.focus();
  });

  function showError(msg, { autoHideMs = 0 } = {}) {
    clearTimeout(errorTimer);
    error.textContent = msg;
    if (autoHideMs) errorTimer = setTimeout(clearError, autoHideMs);
  }
  function clearError() {
    clearTimeout(errorTimer);
    error.textContent = '';
  }

  return {
    setRoom(next, label) {
      if (next !== room) stopTyping();
      room = next;
      input.placeholder = `Message ${label}`;
    },
    focus() {
      input.focus();
    },
    input,
    showError,
    clearError,
  };
}
