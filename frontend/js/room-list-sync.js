// Keeps the room list in step with the server (GET /api/rooms, every ROOM_LIST_EVERY_MS and on
// demand): activity and counts for the sidebar, the user's direct-message rooms joined so their
// messages arrive live, and the names of DM partners (the list carries their ids only).
import { ApiError } from './api.js';
import { dmMembers } from './rooms.js';

const ROOM_LIST_EVERY_MS = 30_000;
const MAX_AUTO_DMS = 20; // direct messages joined automatically (most recent first)

const activityTime = (item) =>
  typeof item.lastMessageAt === 'number' ? item.lastMessageAt : Date.parse(item.lastMessageAt || '') || 0;

export function createRoomListSync({ store, api, getSocket, saveRooms, saveNames }) {
  let timer = 0;

  /** Someone may have written to us: join our DM rooms so their messages arrive live (the
   *  server delivers only to sockets that joined), most recently active first. */
  function joinDirectMessages(list) {
    const socket = getSocket();
    if (!socket) return;
    const dms = list
      .filter((item) => item && dmMembers(item.name))
      .sort((a, b) => activityTime(b) - activityTime(a))
      .slice(0, MAX_AUTO_DMS);
    let added = false;
    for (const item of dms) {
      const r = store.room(item.name);
      if (r.joined) continue;
      store.setJoined(item.name, true);
      socket.join(item.name);
      added = true;
    }
    if (added) saveRooms();
  }

  /** DM rooms from /api/rooms carry ids only: find the partner's name in the latest messages. */
  async function learnDmNames(rooms) {
    const me = store.state.me;
    for (const item of rooms) {
      const pair = dmMembers(item.name);
      if (!pair || !me) continue;
      const partner = pair[0] === me.id ? pair[1] : pair[0];
      if (store.state.names.has(partner)) continue;
      try {
        const res = await api.history(item.name, { limit: 50 });
        const m = (res.messages || []).find((x) => x.user && x.user.id === partner);
        if (m) store.rememberName(partner, m.user.name);
      } catch {
        /* keep the generic label */
      }
    }
    saveNames();
  }

  async function refresh() {
    try {
      const res = await api.rooms();
      const list = res.rooms || [];
      store.setRoomList(list);
      joinDirectMessages(list);
      await learnDmNames(list);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) return; // retried next time
    }
  }

  return {
    refresh,
    start() {
      refresh();
      clearInterval(timer);
      timer = setInterval(refresh, ROOM_LIST_EVERY_MS);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
