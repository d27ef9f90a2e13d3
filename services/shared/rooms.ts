// Room names and who may enter them. Public rooms are open to every signed-in user; a direct
// message room `dm:<idA>:<idB>` (ids sorted, distinct) is open to exactly those two users and
// is authorised from its name alone, so no replica needs a database lookup to join one.

export const PUBLIC_ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const USER_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const DM_RE = /^dm:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{1,64})$/;
export const DEFAULT_ROOM = 'general';

export function isPublicRoom(room: string): boolean {
  return PUBLIC_ROOM_RE.test(room);
}

/** The two members of a DM room, or null when `room` is not a well-formed DM name. */
export function dmMembers(room: string): [string, string] | null {
  const m = DM_RE.exec(room);
  if (!m) return null;
  const a = m[1]!;
  const b = m[2]!;
  return a < b ? [a, b] : null; // sorted and distinct: one canonical name per pair
}

export function isValidRoom(room: unknown): room is string {
  return typeof room === 'string' && (isPublicRoom(room) || dmMembers(room) !== null);
}

export function dmRoomName(userA: string, userB: string): string {
  if (userA === userB) throw new Error('a direct message needs two different users');
  return userA < userB ? `dm:${userA}:${userB}` : `dm:${userB}:${userA}`;
}

/** Whether `userId` may read and write `room` (which must already be valid). */
export function mayAccessRoom(userId: string, room: string): boolean {
  const members = dmMembers(room);
  return members === null ? isPublicRoom(room) : members.includes(userId);
}
