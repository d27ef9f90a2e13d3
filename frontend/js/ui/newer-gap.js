// The line in the timeline where newer messages may be missing (history-around.js: after a jump
// to an old message). It loads the next page by itself as it scrolls into view — "scrolling
// down loads newer" — and is a button too (keyboard, or a failed load to retry).
import { $, h, setText } from './dom.js';
import { SEARCH } from '../strings-files.js';

export function mountNewerGaps({ loader, onChange }) {
  const lines = new Map(); // `${room}\n${id}` -> { li, btn, room, id, failed }
  const scroller = $('messages');
  const observer =
    typeof IntersectionObserver === 'function'
      ? new IntersectionObserver(
          (entries) => {
            for (const e of entries) {
              const line = e.isIntersecting && [...lines.values()].find((l) => l.li === e.target);
              if (line && !line.failed) load(line);
            }
          },
          { root: scroller, rootMargin: '300px 0px' },
        )
      : null;

  async function load(line) {
    if (loader.loading(line.room, line.id)) return;
    line.failed = false;
    try {
      await loader.loadNewer(line.room, line.id);
    } catch {
      line.failed = true;
    }
    paint(line);
    onChange();
  }

  function paint(line) {
    const loading = loader.loading(line.room, line.id);
    setText(line.btn, loading ? SEARCH.loadingNewer : line.failed ? SEARCH.newerFailed : SEARCH.loadNewer);
    line.btn.disabled = loading;
  }

  loader.subscribe((room) => {
    for (const line of lines.values()) if (line.room === room) paint(line);
  });

  return {
    /** The gap line to show after message `id` of `room`, or null (messages.js). */
    gapAfter(room, id) {
      const key = `${room}\n${id}`;
      if (!loader.hasGap(room, id)) {
        const old = lines.get(key);
        if (old) {
          if (observer) observer.unobserve(old.li);
          lines.delete(key);
        }
        return null;
      }
      let line = lines.get(key);
      if (!line) {
        const btn = h('button', { className: 'btn btn-ghost btn-small', attrs: { type: 'button' } });
        line = { li: h('li', { className: 'newer-gap', attrs: { 'data-after': id } }, btn), btn, room, id, failed: false };
        btn.addEventListener('click', () => load(line));
        lines.set(key, line);
        paint(line);
        if (observer) observer.observe(line.li);
      }
      return line.li;
    },
    reset() {
      if (observer) observer.disconnect();
      lines.clear();
      loader.reset();
    },
  };
}
