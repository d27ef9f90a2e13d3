// Pages around one message (GET /api/rooms/:room/messages?around=<id>, docs/REST.md): opening a
// search result (or any message) far back in a room fetches the page centred on it instead of
// paging back to it page by page. The page goes into the room's timeline like older history;
// when it does not reach the messages held after it, the timeline has a GAP there: "messages
// between this id and the next one held may be missing". A gap shows as a line that loads the
// next page as it scrolls into view (ui/newer-gap.js) — the history route pages only backwards
// (`before`), so newer pages are `around` pages too, centred on the gap's first side: each
// brings up to limit/2 newer messages, until one reaches the next message held and closes it.
// Gaps are kept here, per room, by the id they follow; a gap whose id the store dropped (trim,
// a stale resume) is simply never shown.
import { compareIds } from './ids.js';
import { getJson } from './authed.js';

export const AROUND_LIMIT = 50;

const isId = (s) => typeof s === 'string' && /^\d+-\d+$/.test(s);

/** The first element of sorted `ids` greater than `id` (binary search), or undefined. */
function nextAfter(ids, id) {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareIds(ids[mid], id) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return ids[lo];
}

/**
 * The gaps after a page is added. `held`: the timeline's ids before (sorted); `gaps`: ids of
 * `held` followed by unknown messages; `hasMoreBefore`: older history exists before held[0]
 * (also unknown). `page`: the page's ids (sorted; every stored top-level message in its range),
 * `hasOlder` / `hasNewer`: messages exist before / after it. Returns the new set of gaps.
 *
 * An unknown region that the page falls in is cut in two: below the page it stays unknown while
 * the page has older messages; above it, a gap after the page's last id while the page has newer
 * messages and something held lies beyond (else the page reached everything stored).
 */
export function nextGaps(held, gaps, hasMoreBefore, page, { hasOlder, hasNewer }) {
  const out = new Set();
  if (!page.length) return new Set(gaps);
  const pMin = page[0];
  const pMax = page[page.length - 1];
  const inPage = new Set(page);
  const overlaps = (a, b) => (a === null || compareIds(a, pMax) < 0) && (b === undefined || compareIds(b, pMin) > 0);
  const upper = (b) => {
    if (hasNewer && b !== undefined && compareIds(b, pMax) > 0 && !inPage.has(b)) out.add(pMax);
  };
  for (const g of gaps) {
    const n = nextAfter(held, g);
    if (n === undefined) continue; // nothing after it any more: no gap to show
    if (!overlaps(g, n)) {
      out.add(g);
      continue;
    }
    // The page is inside (g, n): the part below it stays unknown unless the page reaches g.
    if (compareIds(g, pMin) < 0 && hasOlder && !inPage.has(g)) out.add(g);
    upper(n);
  }
  // Older than everything held: the region below held[0] was unknown (or there was nothing).
  const first = held[0];
  if ((first === undefined || compareIds(pMin, first) < 0) && (hasMoreBefore || first === undefined)) upper(first);
  return out;
}

/**
 * @param o.request (path) => Promise<json> (tests replace it; default: signed-in GET)
 */
export function createAroundLoader({ store, api, request = null, limit = AROUND_LIMIT }) {
  const get = request || ((path) => getJson(api, path));
  const gaps = new Map(); // room -> Set of ids followed by a gap
  const busy = new Map(); // room -> gap id being filled
  const listeners = new Set();
  const changed = (room) => {
    for (const fn of listeners) fn(room);
  };

  /** The page around `id`, or null when the server answered something that is not one. */
  async function fetchPage(room, id) {
    const q = new URLSearchParams({ around: id, limit: String(limit) });
    const res = await get(`/api/rooms/${encodeURIComponent(room)}/messages?${q}`);
    // A server without `around` answers the newest page (no hasOlder/hasNewer): not usable.
    if (!res || !Array.isArray(res.messages) || typeof res.hasOlder !== 'boolean' || typeof res.hasNewer !== 'boolean') return null;
    const messages = res.messages.filter((m) => m && isId(m.id) && !m.replyTo).sort((a, b) => compareIds(a.id, b.id));
    return { messages, hasOlder: res.hasOlder, hasNewer: res.hasNewer };
  }

  /** Puts a page into the room's timeline and works out its gaps. */
  function apply(room, page) {
    const r = store.room(room);
    const held = [...r.ids];
    const before = gaps.get(room) || new Set();
    const hasMoreBefore = r.hasMore;
    const ids = page.messages.map((m) => m.id);
    const older = !held.length || (ids.length && compareIds(ids[0], held[0]) < 0);
    // prependHistory adds messages the way history pages do; it also decides `hasMore`, which
    // only a page older than everything held may (the room's beginning is known then).
    store.prependHistory(room, page.messages, older ? page.hasOlder : hasMoreBefore, []);
    if (!older) r.hasMore = hasMoreBefore;
    const next = nextGaps(held, before, hasMoreBefore, ids, page);
    for (const g of next) if (!r.ids.includes(g)) next.delete(g);
    if (next.size) gaps.set(room, next);
    else gaps.delete(room);
    changed(room);
  }

  return {
    limit,
    /** Listens to gaps opening, closing and loading: fn(room). */
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /** Loads the page around `id` of `room`; true when a page came (the message may be in it). */
    async open(room, id) {
      const page = await fetchPage(room, id);
      if (!page) return false;
      apply(room, page);
      return true;
    },
    /** A gap follows `id` in `room`. */
    hasGap: (room, id) => !!gaps.get(room)?.has(id),
    loading: (room, id) => busy.get(room) === id,
    /** Fills the gap after `id` with the next page (newer messages); rejects on failure. */
    async loadNewer(room, id) {
      if (!gaps.get(room)?.has(id) || busy.has(room)) return;
      busy.set(room, id);
      changed(room);
      try {
        const page = await fetchPage(room, id);
        if (page && gaps.get(room)?.has(id)) apply(room, page);
        else if (!page) gaps.get(room)?.delete(id); // cannot be filled from here: paging older still works
      } finally {
        busy.delete(room);
        changed(room);
      }
    },
    reset() {
      gaps.clear();
      busy.clear();
    },
  };
}
