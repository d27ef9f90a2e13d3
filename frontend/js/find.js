// Finding messages (issue 16) wired to the app: the search panel (ui/search-panel.js) opens a
// result through the same opener as notifications (open-message.js), given pages around a
// message (history-around.js) so a result far back is one request away, and the timeline's
// "newer messages may be missing" lines after such a page (ui/newer-gap.js). app.js hands
// `gapAfter` to the message list and calls `reset` at sign-out.
import { createAroundLoader } from './history-around.js';
import { createOpener } from './open-message.js';
import { mountNewerGaps } from './ui/newer-gap.js';
import { mountSearch } from './ui/search-panel.js';
import { SEARCH } from './strings-files.js';

/** @param o.render () => void: renders the message list again (a gap closed without new messages) */
export function createFind({ store, api, selectRoom, loadOlder, toast, render }) {
  const around = createAroundLoader({ store, api });
  const loadAround = (room, id) => around.open(room, id);
  const gaps = mountNewerGaps({ loader: around, onChange: render });
  const opener = createOpener({ store, selectRoom, loadOlder, toast, strings: { notFound: SEARCH.notFound }, loadAround });
  const panel = mountSearch({ store, api, onOpen: (room, id, replyTo) => opener.open(room, id, replyTo) });
  return {
    gapAfter: gaps.gapAfter,
    /** For other openers (notifications): the page around a message. */
    loadAround,
    reset() {
      panel.reset();
      gaps.reset();
    },
  };
}
