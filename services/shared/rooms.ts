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

// The name rules are the client SDK's (sdk/src/rooms.js): what the browser and bots accept is
// exactly what the server does. Server-only decisions (fresh names, access) stay here.
import {
  DEFAULT_ROOM,
  PUBLIC_ROOM_RE,
  ROOM_KINDS,
  USER_ID_RE,
  dmMembers,
  dmRoomName,
  isMembersOnlyRoom,
  isPublicRoom,
  isValidRoom,
  roomKindOf,
} from '../../sdk/src/rooms.js';
import type { RoomKind } from '../../sdk/src/protocol.js';

export { DEFAULT_ROOM, PUBLIC_ROOM_RE, ROOM_KINDS, USER_ID_RE, dmMembers, dmRoomName, isMembersOnlyRoom, isPublicRoom, isValidRoom, roomKindOf };
export type { RoomKind };

/** A fresh private (`p:`) or group (`g:`) room name: 12 random bytes, 16 base64url characters. */
export function newMembersOnlyRoom(kind: 'private' | 'group'): string {
  return `${kind === 'private' ? 'p' : 'g'}:${randomBytes(12).toString('base64url')}`;
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
