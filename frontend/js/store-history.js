// The store's part for older history (GET /api/rooms/:room/messages): pages of messages and
// membership events prepended as the reader scrolls up, and where the next page starts. A page
// holds every message and event from its oldest item up to `before` (docs/REST.md), so the next
// `before` is the oldest of both (sdk/src/history-gap.js pageCursor) — an event when the page was cut by
// its event bound. The room keeps that event as `historyFloor` while it is older than its oldest
// message; store.js resets it whenever messages are dropped (they are paged in again).
import { compareIds } from './ids.js';
import { isMembershipEvent } from './store-rooms.js';

export function createHistoryOps({ state, room, emit, addMessage, roomOps }) {
  return {
    /** The `before` of the next older history page: the oldest message or history event held. */
    historyCursor(name) {
      const r = state.rooms.get(name);
      if (!r) return null;
      const oldest = r.ids.length ? r.ids[0] : null;
      if (r.historyFloor && (!oldest || compareIds(r.historyFloor, oldest) < 0)) return r.historyFloor;
      return oldest;
    },
    /**
     * A page of older history: messages and membership events (each oldest first), the events
     * as system lines only — each once, however often live frames, a join backlog or pages bring
     * it. The roster and room state come from their own REST answers and live events, which an
     * old event must not overwrite.
     */
    prependHistory(name, messages, hasMore, events = []) {
      const r = room(name);
      for (const m of messages) addMessage(r, m);
      const evs = (Array.isArray(events) ? events : []).filter((e) => isMembershipEvent(e) && e.room === name);
      roomOps.addHistoryLines(r, evs);
      for (const e of evs) if (!r.historyFloor || compareIds(e.id, r.historyFloor) < 0) r.historyFloor = e.id;
      // A page of events only (cut by its event bound) does not end the history.
      r.hasMore = Boolean(hasMore) && messages.length + evs.length > 0;
      r.loadingOlder = false;
      r.historyError = null;
      emit('messages:' + name);
    },
    setLoadingOlder(name, loading, error = null) {
      const r = room(name);
      r.loadingOlder = loading;
      r.historyError = error;
      emit('messages:' + name);
    },
  };
}
