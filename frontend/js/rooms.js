// Room names, the same rules as the server (services/shared/rooms.ts): public rooms match
// PUBLIC_ROOM_RE; a direct message room is `dm:<idA>:<idB>` with the two user ids sorted; a
// private room is `p:<16 random characters>` and a group (a DM among 3–10 people) `g:<…>` —
// random names, shown by their title (private) or their members' names (group).

export const PUBLIC_ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const DM_RE = /^dm:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{1,64})$/;
const MEMBER_ROOM_RE = /^([pg]):[A-Za-z0-9_-]{16}$/;
export const DEFAULT_ROOM = 'general';
export const MAX_TEXT_CHARS = 4000;

export function isPublicRoom(room) {
  return typeof room === 'string' && PUBLIC_ROOM_RE.test(room);
}

/** The two member ids of a DM room, or null when `room` is not a canonical DM name. */
export function dmMembers(room) {
  const m = typeof room === 'string' ? DM_RE.exec(room) : null;
  if (!m) return null;
  return m[1] < m[2] ? [m[1], m[2]] : null;
}

/** 'public' | 'private' | 'group' | 'dm', or null for a name that is no room's. */
export function roomKindOf(room) {
  if (isPublicRoom(room)) return 'public';
  const m = typeof room === 'string' ? MEMBER_ROOM_RE.exec(room) : null;
  if (m) return m[1] === 'p' ? 'private' : 'group';
  return dmMembers(room) ? 'dm' : null;
}

/** Private rooms and groups: only their members know they exist. */
export function isMembersOnlyRoom(room) {
  return typeof room === 'string' && MEMBER_ROOM_RE.test(room);
}

/** DMs and groups: conversations with people, listed under "Direct messages". */
export function isConversation(room) {
  const kind = roomKindOf(room);
  return kind === 'dm' || kind === 'group';
}

export function isValidRoom(room) {
  return roomKindOf(room) !== null;
}

export function dmRoomName(a, b) {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The other user's id in a DM room (null for public rooms). */
export function dmPartner(room, myId) {
  const members = dmMembers(room);
  if (!members) return null;
  return members[0] === myId ? members[1] : members[0];
}

/** Why a typed room name is not acceptable, or null when it is (after trimming/lowercasing). */
export function roomNameProblem(name) {
  if (!name) return 'Enter a room name.';
  if (name.length > 64) return 'Room names are at most 64 characters.';
  if (!PUBLIC_ROOM_RE.test(name))
    return 'Use lowercase letters, digits, "-" or "_", starting with a letter or digit.';
  return null;
}
