// What a user does to rooms and their members, over REST (docs/REST.md "Rooms and members"):
// create a room or a group, invite, leave (after a confirmation), close a DM, kick, ban, mute,
// change roles, hand the room over, change the topic, archive. The server decides and appends
// the change as an event, which comes back live (store-rooms.js applies it): these functions
// only ask, confirm what cannot be undone, and say why a refusal happened.
import { ApiError } from './api.js';
import { DEFAULT_ROOM } from './rooms.js';
import { STRINGS, errorText } from './strings.js';
import { confirmDialog } from './ui/confirm.js';
import { roomLabel, roomName } from './ui/room-label.js';

/** What to tell the user about a refused membership request. */
export function restErrorText(err) {
  const code = err instanceof ApiError || (err && err.code) ? err.code : null;
  // A 409 says what the room's state does not allow now, in words meant for people ("the owner
  // leaves only after making someone else the owner"): shown as the server words it.
  if (code === 'conflict' && err.message) return err.message;
  if (code === 'forbidden') return STRINGS.rooms.notAllowed;
  if (code === 'not_found') return /not a member/.test(err.message || '') ? STRINGS.rooms.notMember : STRINGS.rooms.noSuchRoom;
  return errorText(err);
}

export function createRoomActions({ store, api, myRooms, hiddenDms, onSelect, toast }) {
  const me = () => store.state.me;

  /** Runs a request; a refusal becomes a toast. Resolves to the answer, or null when refused. */
  async function ask(request) {
    try {
      return await request();
    } catch (err) {
      toast(restErrorText(err), { kind: 'error' });
      return null;
    }
  }

  return {
    /**
     * POST /api/rooms: {kind:'public',name} | {kind:'private',title} | {kind:'group',members}
     * (+ topic, members). Throws on refusal: the dialog shows why next to the fields.
     */
    async create(body) {
      const t0 = Date.now();
      const res = await api.createRoom(body);
      const meta = res && res.room;
      if (!meta || typeof meta.name !== 'string') throw new ApiError(500, 'internal', 'no room in the answer');
      store.applyRoomMeta(meta, t0);
      myRooms.add(meta.name);
      onSelect(meta.name, { focusComposer: true });
      myRooms.refresh(); // peers of a group, the creation as the other devices see it
      return meta;
    },
    /** Invites each user; returns the names of those who were invited. Throws on the first refusal. */
    async invite(room, users) {
      const done = [];
      for (const u of users) {
        await api.addMember(room, u.id);
        done.push(u.username || u.name);
      }
      return done;
    },
    /** Leave, after a confirmation: the row goes once the server agreed. */
    async leave(room) {
      const r = store.state.rooms.get(room);
      if (!r || room === DEFAULT_ROOM) return false;
      const ok = await confirmDialog({
        title: STRINGS.rooms.leaveTitle(roomLabel(store, room)),
        message: r.kind === 'public' ? STRINGS.rooms.leavePublic : STRINGS.rooms.leaveMembersOnly,
        confirmLabel: STRINGS.rooms.leaveOk,
      });
      if (!ok) return false;
      const res = await ask(() => api.removeMember(room, me().id));
      if (!res) return false;
      myRooms.remove(room);
      return true;
    },
    /** "Close" on a DM: hidden here until a new message arrives (hidden-dms.js). */
    closeDm(room) {
      hiddenDms.hide(room);
      if (store.state.current === room) onSelect(DEFAULT_ROOM, { focusComposer: true });
    },
    kick: (room, user) => ask(() => api.removeMember(room, user.id)),
    async ban(room, user) {
      const ok = await confirmDialog({ title: STRINGS.moderation.banTitle(user.name), message: STRINGS.moderation.banMessage, confirmLabel: STRINGS.moderation.banOk });
      return ok ? ask(() => api.ban(room, user.id)) : null;
    },
    mute: (room, user, seconds) => ask(() => api.mute(room, user.id, seconds)),
    unmute: (room, user) => ask(() => api.unmute(room, user.id)),
    setRole: (room, user, role) => ask(() => api.setRole(room, user.id, role)),
    async transfer(room, user) {
      const ok = await confirmDialog({
        title: STRINGS.moderation.transferTitle(user.name),
        message: STRINGS.moderation.transferMessage,
        confirmLabel: STRINGS.moderation.transferOk,
      });
      return ok ? ask(() => api.setRole(room, user.id, 'owner')) : null;
    },
    /** Throws on refusal (the topic dialog shows why). */
    setTopic: (room, topic) => api.updateRoom(room, { topic }),
    async archive(room, archived) {
      if (archived) {
        const ok = await confirmDialog({
          title: STRINGS.rooms.archiveTitle(roomName(store, room)),
          message: STRINGS.rooms.archiveMessage,
          confirmLabel: STRINGS.rooms.archive,
        });
        if (!ok) return null;
      }
      return ask(() => api.updateRoom(room, { archived }));
    },
  };
}
