// Room names and their kinds — the rules the server enforces (services/shared/rooms.ts imports
// them from here):
//   public   `general`, `random` …  anyone not banned may join by name (the first join creates it)
//   dm       `dm:<idA>:<idB>`       exactly those two users (ids sorted, distinct)
//   private  `p:<16 chars>`         invite only; shown by its title
//   group    `g:<16 chars>`         a DM among 3–10 users, shown by its members' names
// Private and group names are random and made by the server (POST /api/rooms).

export const PUBLIC_ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const USER_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const DM_RE = /^dm:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{1,64})$/;
const MEMBER_ROOM_RE = /^([pg]):[A-Za-z0-9_-]{16}$/;
export const DEFAULT_ROOM = 'general';
export const ROOM_KINDS = Object.freeze(['public', 'private', 'dm', 'group']);

export function isPublicRoom(room) {
  return typeof room === 'string' && PUBLIC_ROOM_RE.test(room);
}

/** The two member ids of a DM room, or null when `room` is not a canonical DM name. */
export function dmMembers(room) {
  const m = typeof room === 'string' ? DM_RE.exec(room) : null;
  if (!m) return null;
  return m[1] < m[2] ? [m[1], m[2]] : null; // sorted and distinct: one name per pair
}

/** 'public' | 'private' | 'group' | 'dm', or null for a name that is no room's. */
export function roomKindOf(room) {
  if (typeof room !== 'string') return null;
  if (isPublicRoom(room)) return 'public';
  const m = MEMBER_ROOM_RE.exec(room);
  if (m) return m[1] === 'p' ? 'private' : 'group';
  return dmMembers(room) !== null ? 'dm' : null;
}

/** Private rooms and groups: only their members know they exist. */
export function isMembersOnlyRoom(room) {
  return typeof room === 'string' && MEMBER_ROOM_RE.test(room);
}

export function isValidRoom(room) {
  return roomKindOf(room) !== null;
}

/** DMs and groups: conversations with people. */
export function isConversation(room) {
  const kind = roomKindOf(room);
  return kind === 'dm' || kind === 'group';
}

export function dmRoomName(a, b) {
  if (a === b) throw new Error('a direct message needs two different users');
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The other user's id in a DM room (null for other rooms). */
export function dmPartner(room, myId) {
  const members = dmMembers(room);
  if (!members) return null;
  return members[0] === myId ? members[1] : members[0];
}
