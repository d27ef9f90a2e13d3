// One message as an element, shared by the timeline (messages.js) and the thread panel
// (thread.js): built once per message id and PATCHED in place when its state moves (an edit, a
// delete, a reaction, a new reply), so a list never rebuilds and an open inline editor survives
// a reaction arriving on the message it edits. The buttons carry `data-action`; one delegated
// handler per list (message-actions.js) acts on them. User text only through textContent; a
// message's text through rich-text-dom.js (links and light formatting as DOM nodes).
import { h } from './dom.js';
import { formatTime, formatFull } from './format.js';
import { reactionsEl } from './reactions.js';
import { countdownEl } from './countdown.js';
import { renderRichText } from './rich-text-dom.js';
import { attachmentsEl } from './attachment-view.js';
import { avatarEl, nameEl } from './avatar.js';

const rendered = new WeakMap(); // li -> rev it shows

/**
 * @param view   store.view(): the message with own unconfirmed changes laid over it
 * @param o.own      the signed-in user wrote it
 * @param o.moderate the signed-in user is the room's owner or an admin (may delete it)
 * @param o.inThread shown in the thread panel (no "reply in thread", no reply summary)
 * @param o.mentionsMe it mentions the signed-in user (or @room): highlighted as a whole
 */
export function buildMessageItem(view, rev, o) {
  const li = h(
    'li',
    { className: 'msg' + (o.own ? ' own' : ''), attrs: { 'data-id': view.id, 'data-author': view.user.name } },
    avatarEl(view.user.id, view.user.name),
    h('span', { className: 'msg-gutter-time', text: formatTime(view.ts), attrs: { 'aria-hidden': 'true' } }),
    h(
      'div',
      { className: 'msg-body' },
      h(
        'div',
        { className: 'msg-head' },
        nameEl(view.user.id, view.user.name, 'msg-author'),
        o.own ? h('span', { className: 'you-tag', text: 'you' }) : null,
        h('time', { className: 'msg-time', text: formatTime(view.ts), attrs: { datetime: new Date(view.ts).toISOString(), title: formatFull(view.ts) } }),
      ),
      h('div', { className: 'msg-line' }),
    ),
  );
  patchMessageItem(li, view, rev, o);
  return li;
}

/** Whether `li` shows an older state than `rev`. */
export const isStale = (li, rev) => rendered.get(li) !== rev;

/** Brings `li` up to date with `view` (o.editing: leave the inline editor where it is). */
export function patchMessageItem(li, view, rev, o) {
  rendered.set(li, rev);
  const body = li.querySelector('.msg-body');
  li.classList.toggle('deleted', view.deleted);
  li.classList.toggle('mentions-me', !!o.mentionsMe && !view.deleted);
  li.classList.toggle('change-pending', view.pending !== null);
  li.classList.toggle('answer-streaming', !!view.streaming || !!view.thinking);
  if (!o.editing || view.deleted) {
    const line = body.querySelector('.msg-line') || body.querySelector('.msg-editor');
    line.replaceWith(lineEl(view));
  }
  syncFiles(body, view);
  // The parts under the text, in this order, rebuilt together (each is small).
  for (const el of body.querySelectorAll(':scope > .msg-change, :scope > .answer-stop, :scope > .reactions, :scope > .thread-summary')) el.remove();
  if (view.pending) body.appendChild(h('div', { className: 'msg-status msg-change', text: view.pending === 'delete' ? 'Deleting…' : 'Saving…' }));
  if (view.canStop) body.appendChild(stopEl());
  if (view.reactions.length) body.appendChild(reactionsEl(view.reactions));
  if (!o.inThread && view.replyCount > 0) body.appendChild(summaryEl(view));
  const actions = li.querySelector(':scope > .msg-actions');
  if (actions) actions.remove();
  if (!view.deleted && view.pending !== 'delete') li.appendChild(actionsEl(o));
}

/** The text line: text and "(edited)", or the tombstone of a deleted message. */
export function lineEl(view) {
  if (view.deleted) return h('div', { className: 'msg-line' }, h('p', { className: 'msg-tombstone', text: 'message deleted' }));
  // The assistant's answer before its first words, and while they arrive (assistant-answers.js).
  if (view.thinking) return h('div', { className: 'msg-line' }, h('p', { className: 'msg-thinking', text: view.text }));
  if (view.streaming) return h('div', { className: 'msg-line' }, textEl(view.text), h('span', { className: 'msg-caret', attrs: { 'aria-hidden': 'true' } }));
  return h(
    'div',
    { className: 'msg-line' },
    textEl(view.text),
    view.editedAt ? h('span', { className: 'msg-edited', text: '(edited)', attrs: { title: `Edited ${formatFull(view.editedAt)}` } }) : null,
  );
}

/** The message's files under its text: built once (an edit keeps them), gone with a delete. */
function syncFiles(body, view) {
  const shown = body.querySelector(':scope > .msg-files');
  const list = view.deleted ? [] : view.attachments || [];
  if (!list.length) return shown && shown.remove();
  if (!shown) body.querySelector(':scope > .msg-line, :scope > .msg-editor').after(attachmentsEl(view.room, list));
}

// A div, not a p: formatted text may hold a code block or a quote.
const textEl = (text) => renderRichText(h('div', { className: 'msg-text' }), text);

function summaryEl(view) {
  const n = view.replyCount;
  const count = `${n} ${n === 1 ? 'reply' : 'replies'}`;
  const last = view.lastReplyAt ? `Last reply ${formatTime(view.lastReplyAt)}` : '';
  // The name says all the visible text, then what the button does (a name that leaves out
  // visible words fails people who speak to their screen: "click last reply"). The space
  // between the parts keeps them separate words in the text (the flex layout ignores it).
  const label = [count, last, 'open the thread'].filter(Boolean).join(', ');
  return h(
    'button',
    { className: 'thread-summary link-btn', attrs: { type: 'button', 'data-action': 'reply', 'aria-label': label } },
    h('span', { className: 'thread-count', text: count }),
    last ? ' ' : null,
    last ? h('span', { className: 'thread-last', text: last }) : null,
  );
}

/** The asker's stop button while the assistant writes its answer (message-actions.js 'stop-answer'). */
const stopEl = () =>
  h('button', { className: 'answer-stop link-btn', text: '■ Stop', attrs: { type: 'button', 'data-action': 'stop-answer', 'aria-label': 'Stop the answer' } });

function actionsEl(o) {
  const btn = (action, icon, label) =>
    h('button', { className: 'msg-action', text: icon, attrs: { type: 'button', 'data-action': action, 'aria-label': label, title: label } });
  return h(
    'div',
    { className: 'msg-actions', attrs: { role: 'toolbar', 'aria-label': 'Message actions' } },
    btn('react', '☺', 'Add reaction'),
    o.inThread ? null : btn('reply', '💬', 'Reply in thread'),
    o.own ? btn('edit', '✎', 'Edit message') : null,
    o.own || o.moderate ? btn('delete', '🗑', 'Delete message') : null,
  );
}

/** An unsent message of mine (outbox entry): "Sending…", waiting out a rate limit with a live
 *  countdown (the same for every message waiting in the room), or why it failed with Retry/Discard. */
export function pendingItem(p, me, { onRetry, onDiscard }) {
  let status;
  if (p.state === 'failed') {
    status = h(
      'div',
      { className: 'msg-status failed', attrs: { role: 'alert' } },
      h('span', { text: `Not delivered: ${p.error || 'unknown error'}` }),
      p.retryAt ? h('span', { text: ' — try again ' }, countdownEl({ until: p.retryAt })) : null,
      h('button', { className: 'link-btn', text: 'Retry', attrs: { type: 'button' }, on: { click: () => onRetry(p.cid) } }),
      h('button', { className: 'link-btn', text: 'Discard', attrs: { type: 'button' }, on: { click: () => onDiscard(p.cid) } }),
    );
  } else if (p.state === 'queued') {
    status = h('div', { className: 'msg-status queued' }, 'Waiting to send ', countdownEl({ room: p.room, done: 'shortly' }));
  } else {
    status = h('div', { className: 'msg-status', text: p.note || 'Sending…' });
  }
  return h(
    'li',
    { className: `msg own ${p.state}`, attrs: { 'data-cid': p.cid, 'data-author': me.username } },
    avatarEl(me.id, me.username),
    h('span', { className: 'msg-gutter-time', text: '', attrs: { 'aria-hidden': 'true' } }),
    h(
      'div',
      { className: 'msg-body' },
      h('div', { className: 'msg-head' }, nameEl(me.id, me.username, 'msg-author'), h('span', { className: 'you-tag', text: 'you' })),
      textEl(p.text),
      p.attachments && p.attachments.length ? attachmentsEl(p.room, p.attachments) : null,
      status,
    ),
  );
}
