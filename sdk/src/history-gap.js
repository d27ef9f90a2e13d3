// REST history pages (GET /api/rooms/:room/messages, docs/REST.md) and filling a resume gap.
// A page holds every message AND membership/room event from its oldest item up to `before`, so
// the next page is asked for with `before` = the oldest id among both (pageCursor): paging by
// the oldest message alone would skip the events of a page cut by its event bound, and a page of
// events only (hasMore:true, no message) would look like the end.
// fillGap (connection.js): when a `joined` answers `recovered:false` the room log no longer reaches
// back to the client's `since`, so history is paged backwards from the oldest message the join
// brought until it meets `since` — bounded by `gapFillPages` pages of `gapFillPageSize`; what is
// still missing then is reported as a gap.
import { compareIds } from './ids.js';

const isId = (x) => !!x && typeof x.id === 'string';

/** A page's messages and its membership/room events (`event` frames of kind member or room). */
export function pageItems(res) {
  const messages = res && Array.isArray(res.messages) ? res.messages.filter(isId) : [];
  const events = res && Array.isArray(res.events) ? res.events.filter((e) => isId(e) && (e.kind === 'member' || e.kind === 'room')) : [];
  return { messages, events };
}

/** The `before` of the next (older) page: the oldest id on this one, messages and events alike. */
export function pageCursor(res) {
  let oldest = null;
  const { messages, events } = pageItems(res);
  for (const x of [...messages, ...events]) if (oldest === null || compareIds(x.id, oldest) < 0) oldest = x.id;
  return oldest;
}

/**
 * @param history (room, { before, limit }) => Promise<{ messages, hasMore, events }>
 * @returns {{ filled: object[], events: object[], gap: boolean }} the messages and the
 *   membership/room events newer than `since`, each oldest first
 */
export async function fillGap(history, room, messages, since, { gapFillPages, gapFillPageSize }) {
  const filled = [];
  const events = [];
  let gap = true;
  try {
    let before = messages.length ? messages[0].id : undefined;
    for (let page = 0; page < gapFillPages; page++) {
      const res = await history(room, { before, limit: gapFillPageSize });
      const got = pageItems(res);
      const cursor = pageCursor(res);
      const newer = (list) => list.filter((x) => compareIds(x.id, since) > 0);
      // Each page is older than the one before: it goes in front.
      filled.unshift(...newer(got.messages));
      events.unshift(...newer(got.events));
      // The page reaches `since` when its oldest item is not newer: everything after is held.
      const reached = cursor !== null && compareIds(cursor, since) <= 0;
      if (reached || !res.hasMore || cursor === null) {
        gap = false;
        break;
      }
      before = cursor;
    }
  } catch {
    /* keep what we have; the gap flag tells the store older history must be re-paged */
  }
  return { filled, events, gap };
}
