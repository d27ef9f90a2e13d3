// What a user can do to a message: react (picker or a chip), reply in a thread, edit their own
// (inline; also Up arrow in an empty composer), delete their own — or anyone's, as the room's
// owner or an admin — after a confirmation. One
// delegated click handler per list reads the `data-action` of the button (message-item.js,
// reactions.js). On touch screens, where there is no hover, a long press shows the actions.
// Changes go through `changes` (changes.js): optimistic, pending until acked, rolled back with
// a toast when refused.
import { confirmDialog } from './confirm.js';
import { editorEl } from './editor.js';
import { openEmojiPicker } from './emoji-picker.js';
import { lineEl } from './message-item.js';
import { MAX_TEXT_CHARS } from '../rooms.js';

const LONG_PRESS_MS = 450;
const LONG_PRESS_SLOP_PX = 10;

export function createMessageActions({ store, changes, onOpenThread, onStopAnswer = () => {} }) {
  let editing = null; // { room, id, li, returnFocus }
  let pressed = null; // li showing its actions after a long press

  const own = (v) => !!v && !!store.state.me && v.user.id === store.state.me.id;

  function startEdit(li, room, id, returnFocus) {
    const view = store.view(room, id);
    const line = li.querySelector('.msg-line');
    if (!own(view) || view.deleted || !line) return false;
    stopEdit({ focus: false });
    const ed = editorEl(view.text, { onSave: (text) => save(room, id, text), onCancel: () => stopEdit() });
    line.replaceWith(ed.el);
    li.classList.add('editing');
    editing = { room, id, li, returnFocus };
    ed.focus();
    li.scrollIntoView({ block: 'nearest' });
    return true;
  }

  /** Puts the text line back (from the current state) and focus where the edit started. */
  function stopEdit({ focus = true } = {}) {
    if (!editing) return;
    const { room, id, li, returnFocus } = editing;
    editing = null;
    li.classList.remove('editing');
    const ed = li.querySelector('.msg-editor');
    const view = store.view(room, id);
    if (ed && view) ed.replaceWith(lineEl(view));
    if (focus && returnFocus && returnFocus.isConnected) returnFocus.focus();
  }

  function save(room, id, text) {
    const view = store.view(room, id);
    if (!view || view.deleted) return stopEdit();
    if (!text.trim()) {
      // Emptying a message is asking to delete it (Slack and Discord do the same).
      stopEdit();
      return void confirmDelete(room, id);
    }
    if (text.length > MAX_TEXT_CHARS) {
      return `Too long: ${text.length.toLocaleString()} characters, the limit is ${MAX_TEXT_CHARS.toLocaleString()}.`;
    }
    if (text !== view.text) changes.edit(room, id, text);
    stopEdit();
  }

  async function confirmDelete(room, id) {
    const view = store.view(room, id);
    const r = store.state.rooms.get(room);
    const moderator = !!r && (r.role === 'owner' || r.role === 'admin');
    if (!view || view.deleted || (!own(view) && !moderator)) return;
    const ok = await confirmDialog({
      title: 'Delete message',
      message: 'Delete this message for everyone? This cannot be undone.',
      preview: view.text,
      confirmLabel: 'Delete',
    });
    if (ok) changes.remove(room, id);
  }

  function toggleReaction(room, id, emoji) {
    const view = store.view(room, id);
    if (!view || view.deleted) return;
    const mine = view.reactions.some((r) => r.emoji === emoji && r.me);
    changes.react(room, id, emoji, !mine);
  }

  function showActions(li) {
    if (pressed && pressed !== li) pressed.classList.remove('show-actions');
    pressed = li;
    if (li) li.classList.add('show-actions');
  }
  document.addEventListener('pointerdown', (ev) => {
    if (pressed && !pressed.contains(ev.target) && !ev.target.closest('.emoji-picker')) showActions(null);
  });

  return {
    /**
     * Handles the actions of the messages in `list`. roomOf(): the room they belong to;
     * composer: the message box to give focus back to after an edit.
     */
    attach(list, { roomOf, composer }) {
      list.addEventListener('click', (ev) => {
        const btn = ev.target.closest('button[data-action]');
        const li = btn && btn.closest('li[data-id]');
        if (!li || !list.contains(li)) return;
        const room = roomOf();
        const id = li.dataset.id;
        switch (btn.dataset.action) {
          case 'react':
            return openEmojiPicker(btn, (emoji) => toggleReaction(room, id, emoji));
          case 'toggle-reaction':
            return toggleReaction(room, id, btn.dataset.emoji);
          case 'reply':
            return onOpenThread(room, id);
          case 'edit':
            return void startEdit(li, room, id, composer);
          case 'delete':
            return void confirmDelete(room, id);
          case 'stop-answer':
            btn.disabled = true;
            return void onStopAnswer(room, id);
          default:
        }
      });
      // Long press on touch screens (no hover there).
      let timer = 0;
      let start = null;
      const cancel = () => {
        clearTimeout(timer);
        start = null;
      };
      list.addEventListener('pointerdown', (ev) => {
        if (ev.pointerType === 'mouse') return;
        const li = ev.target.closest('li[data-id]');
        if (!li || ev.target.closest('button, textarea')) return;
        start = { x: ev.clientX, y: ev.clientY };
        timer = setTimeout(() => showActions(li), LONG_PRESS_MS);
      });
      list.addEventListener('pointermove', (ev) => {
        if (start && Math.hypot(ev.clientX - start.x, ev.clientY - start.y) > LONG_PRESS_SLOP_PX) cancel();
      });
      for (const type of ['pointerup', 'pointercancel', 'pointerleave']) list.addEventListener(type, cancel);
      // The browser's own long-press menu would cover the actions.
      list.addEventListener('contextmenu', (ev) => {
        if (pressed && pressed.contains(ev.target)) ev.preventDefault();
      });
    },
    /** An inline editor is open on this message (renderers leave it in place). */
    isEditing(room, id) {
      return !!editing && editing.room === room && editing.id === id;
    },
    /** Its message went away (deleted, room switched): close without saving. */
    cancelEdit() {
      stopEdit({ focus: false });
    },
    /** Up arrow in an empty composer: edit my newest message in `list` (the timeline or a thread). */
    editLast(list, room, parentId, composer) {
      const v = store.lastOwnMessage(room, parentId);
      const li = v && list.querySelector(`li[data-id="${v.id}"]`);
      return li ? startEdit(li, room, v.id, composer) : false;
    },
  };
}
