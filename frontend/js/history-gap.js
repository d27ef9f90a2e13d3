// Filling a resume gap (socket.js): when a `joined` answers `recovered:false` the room log no
// longer reaches back to the client's `since`, so REST history is paged backwards from the oldest
// message the join brought until it meets `since` — bounded by `gapFillPages` pages of
// `gapFillPageSize`; what is still missing then is reported as a gap.
import { compareIds } from './ids.js';

/**
 * @param history (room, { before, limit }) => Promise<{ messages, hasMore }>
 * @returns {{ filled: object[], gap: boolean }} the messages newer than `since`, oldest first
 */
export async function fillGap(history, room, messages, since, { gapFillPages, gapFillPageSize }) {
  const filled = [];
  let gap = true;
  try {
    let before = messages.length ? messages[0].id : undefined;
    for (let page = 0; page < gapFillPages; page++) {
      const res = await history(room, { before, limit: gapFillPageSize });
      const got = res && Array.isArray(res.messages) ? res.messages : [];
      let reached = false;
      const newer = [];
      for (const m of got) {
        if (compareIds(m.id, since) > 0) newer.push(m);
        else reached = true;
      }
      // Each page is older than the one before: it goes in front.
      filled.unshift(...newer);
      if (reached || !res.hasMore || got.length === 0) {
        gap = false;
        break;
      }
      before = got[0].id;
    }
  } catch {
    /* keep what we have; the gap flag tells the store older history must be re-paged */
  }
  return { filled, gap };
}
