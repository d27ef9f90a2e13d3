// The bar above the composer when several of my messages in the room on screen are unsent —
// failed, or waiting out a rate limit: how many, "Retry all" (they queue and go out in the
// order typed, sender.js) and "Discard all". One message needs no bar: its row has the buttons.
import { $, h, setText } from './dom.js';

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export function mountOutboxBar({ store, onRetry, onDiscard }) {
  const bar = $('outbox-bar');
  const text = h('span', { className: 'outbox-bar-text' });
  let room = null;
  const unsent = () => [...store.state.outbox.values()].filter((p) => p.room === room && (p.state === 'failed' || p.state === 'queued'));
  const retryAll = h('button', {
    className: 'btn btn-small',
    text: 'Retry all',
    attrs: { type: 'button' },
    on: { click: () => unsent().filter((p) => p.state === 'failed').forEach((p) => onRetry(p.cid)) },
  });
  const discardAll = h('button', {
    className: 'btn btn-ghost btn-small',
    text: 'Discard all',
    attrs: { type: 'button' },
    on: { click: () => unsent().forEach((p) => onDiscard(p.cid)) },
  });
  bar.replaceChildren(text, retryAll, discardAll);

  return {
    /** Shows the bar for `name` (the room on screen). */
    render(name) {
      room = name;
      const list = unsent();
      const failed = list.filter((p) => p.state === 'failed').length;
      const waiting = list.length - failed;
      bar.hidden = list.length < 2;
      if (bar.hidden) return;
      const parts = [];
      if (failed) parts.push(plural(failed, 'message not sent', 'messages not sent'));
      if (waiting) parts.push(plural(waiting, 'message waiting to send', 'messages waiting to send'));
      setText(text, parts.join(' · '));
      retryAll.hidden = failed === 0;
    },
  };
}
