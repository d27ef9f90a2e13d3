// The inline editor that takes a message's text line while it is edited: Enter saves,
// Shift+Enter adds a line, Escape cancels, as in Slack and Discord. It only collects the text;
// the caller (message-actions.js) decides what a save means.
import { h } from './dom.js';
import { MAX_TEXT_CHARS } from '../rooms.js';

/**
 * Builds the editor for `text`. onSave(newText) returns an error string to show (and stay
 * open), or nothing; onCancel() closes it.
 */
export function editorEl(text, { onSave, onCancel }) {
  const input = h('textarea', { className: 'msg-editor-input', attrs: { 'aria-label': 'Edit message' } });
  input.rows = 1;
  input.value = text;
  input.maxLength = MAX_TEXT_CHARS * 2; // over the limit is refused with a message, not cut silently
  const error = h('p', { className: 'msg-editor-error', attrs: { role: 'alert' } });
  const save = () => {
    const problem = onSave(input.value);
    error.textContent = problem || '';
  };
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      save();
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      onCancel();
    }
  });
  const form = h(
    'form',
    { className: 'msg-editor', attrs: { 'aria-label': 'Edit message' }, on: { submit: (ev) => (ev.preventDefault(), save()) } },
    input,
    error,
    h(
      'div',
      { className: 'msg-editor-foot' },
      h('span', { className: 'msg-editor-help', text: 'Enter to save · Esc to cancel' }),
      h('button', { className: 'btn btn-ghost btn-small', text: 'Cancel', attrs: { type: 'button' }, on: { click: () => onCancel() } }),
      h('button', { className: 'btn btn-primary btn-small', text: 'Save', attrs: { type: 'submit' } }),
    ),
  );
  return {
    el: form,
    focus() {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    },
  };
}
