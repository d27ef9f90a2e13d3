// Room names, their kinds, and what a name alone says about who may enter.
//   public   `general`, `random` …  anyone not banned may join by name (the first join creates it)
//   dm       `dm:<idA>:<idB>`       exactly those two users (ids sorted, distinct), authorised
//                                   from the name alone: no lookup to join one
//   private  `p:<id>`               invite only; its display name is its title (store)
//   group    `g:<id>`               a DM among 3–10 users, named by its members
// Private and group rooms have RANDOM names, never chosen by a user: a name says nothing about
// whether such a room exists, so a non-member gets the same answer for one that exists and one
// that does not, and creating a public room can never collide with a private one. Who is a
// member of those is in the room's ACL in Redis (membership/acl.ts) and in the store.
import { randomBytes } from 'node:crypto';

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

export type RoomKind = 'public' | 'private' | 'dm' | 'group';
export const ROOM_KINDS: readonly RoomKind[] = ['public', 'private', 'dm', 'group'];
const MEMBER_ROOM_RE = /^([pg]):[A-Za-z0-9_-]{16}$/;

/** The kind a room name says, or null for a name that is no room's. */
export function roomKindOf(room: unknown): RoomKind | null {
  if (typeof room !== 'string') return null;
  if (isPublicRoom(room)) return 'public';
  const m = MEMBER_ROOM_RE.exec(room);
  if (m) return m[1] === 'p' ? 'private' : 'group';
  return dmMembers(room) !== null ? 'dm' : null;
}

/** Rooms whose members are listed in their ACL (private rooms and groups). */
export function isMembersOnlyRoom(room: string): boolean {
  return MEMBER_ROOM_RE.test(room);
}

/** A fresh private (`p:`) or group (`g:`) room name: 12 random bytes, 16 base64url characters. */
export function newMembersOnlyRoom(kind: 'private' | 'group'): string {
  return `${kind === 'private' ? 'p' : 'g'}:${randomBytes(12).toString('base64url')}`;
}

export function isValidRoom(room: unknown): room is string {
  return roomKindOf(room) !== null;
}

export function dmRoomName(userA: string, userB: string): string {
  if (userA === userB) throw new Error('a direct message needs two different users');
  return userA < userB ? `dm:${userA}:${userB}` : `dm:${userB}:${userA}`;
}

/**
 * What the NAME decides about `userId` and `room` (which must already be valid): a DM of two
 * other users is refused; a public room is open (bans are in its ACL); a private room or group
 * needs its ACL (membership/acl.ts). `true` means "the name does not refuse".
 */
export function mayAccessRoom(userId: string, room: string): boolean {
  const members = dmMembers(room);
  return members === null ? isPublicRoom(room) || isMembersOnlyRoom(room) : members.includes(userId);
}
