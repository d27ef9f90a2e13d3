// The store's part for attention (issue 15): each room's unread and mention counts and read
// position (read-state.js does the arithmetic), moved by messages, `read` frames, what this
// client saw and GET /api/me/rooms (store-rooms.js setMyRooms); and the divider position of the
// room on screen. `state.countsLoaded`: the REST list answered once — before that a room's
// counts are not shown (a join backlog would count the whole log as unread for a moment).
import { applyRead, fixDivider, markSeen, noteMessage, openRoom } from './read-state.js';

export function createAttentionOps({ state, room, emit }) {
  const meId = () => (state.me ? state.me.id : null);

  return {
    internal: {
      /** Messages of a frame (live or a join backlog); `isNew(m)`: the store did not hold it. */
      note(r, m, isNew, { legacy = true } = {}) {
        return noteMessage(r, m, meId(), { isNew, legacy });
      },
      /** The room was put on screen. */
      open(r) {
        return openRoom(r, state.countsLoaded || r.known);
      },
      /** GET /api/me/rooms answered (its rooms' counts are applied by store-rooms.js). */
      listed() {
        state.countsLoaded = true;
        const cur = state.current && state.rooms.get(state.current);
        if (cur) fixDivider(cur);
      },
    },
    ops: {
      /** A `read` frame (my position, from one of my devices). True: re-read GET /api/me/rooms. */
      applyReadFrame(f) {
        const r = state.rooms.get(f.room);
        if (!r) return false;
        const { changed, refresh } = applyRead(r, f.seq, f.id);
        if (r.name === state.current) fixDivider(r);
        if (changed) emit('rooms');
        return refresh;
      },
      /** This client saw `name` up to `id` (read-marker.js sends the frame). */
      markSeen(name, id, seq) {
        const r = state.rooms.get(name);
        if (r && markSeen(r, id, seq)) emit('rooms');
      },
      /** I muted or unmuted the room's notifications (PATCH /api/me/rooms/:room). */
      setNotifyMuted(name, muted) {
        const r = room(name);
        if (r.notifyMuted === muted) return;
        r.notifyMuted = muted;
        emit('rooms');
      },
      /** The seq after which the room on screen shows "New messages" (null: none). */
      dividerSeq(name) {
        const r = state.rooms.get(name);
        return r && typeof r.divider === 'number' ? r.divider : null;
      },
    },
  };
}
