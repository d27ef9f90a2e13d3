// Who may join a room on a socket (DESIGN.md "Rooms with members"). A DM's name says it (its two
// users); every other room asks member.lua in one call: a public room makes the user a member
// (the first join creates it, a `member joined` event), a banned user is refused; a private room
// or group admits members only — and a non-member hears "not found" for one that exists and one
// that does not alike. And which member events take a user's sockets out of a room.
import { randomBytes } from 'node:crypto';
import type { Config } from '../shared/config.js';
import type { MemberScript } from '../shared/member-script.js';
import { REMOVING_ACTIONS, type MemberAction } from '../shared/membership.js';
import type { ChatUser, LogEntry } from '../shared/message.js';
import { mayAccessRoom, roomKindOf } from '../shared/rooms.js';
import type { LeftReason } from './frames.js';
import type { ErrorCode, SendLimit } from './protocol.js';
import { rateLimitMessage } from './send-script.js';

export interface AccessRefused {
  code: ErrorCode;
  message: string;
  retryAfterMs?: number;
  limit?: SendLimit;
}

/** The same words for a members-only room that exists and one that does not. */
export const NO_SUCH_ROOM = 'no such room, or you are not a member';

/** Null when `user` may join `room` now (made a member of a public room if need be), else why not. */
export async function joinAccess(member: MemberScript, config: Config, user: ChatUser, room: string): Promise<AccessRefused | null> {
  const kind = roomKindOf(room);
  if (!mayAccessRoom(user.id, room)) return { code: 'forbidden', message: 'not your direct message room' };
  if (kind === 'dm') return null;
  const r = await member(room, user, { op: 'join' }, `join-${randomBytes(9).toString('base64url')}`);
  switch (r.kind) {
    case 'ok':
    case 'unchanged':
      return null;
    case 'banned':
      return { code: 'forbidden', message: 'you are banned from this room' };
    case 'archived':
      return { code: 'forbidden', message: 'this room is archived' };
    case 'room_rate':
      return { code: 'rate_limited', message: rateLimitMessage('new_rooms', config), retryAfterMs: r.retryAfterMs, limit: 'new_rooms' };
    case 'overloaded':
      return { code: 'overloaded', message: 'the server is busy, retry later' };
    default:
      return { code: 'forbidden', message: NO_SUCH_ROOM };
  }
}

/** A member event's action that takes the member's sockets out of the room. */
export function isRemoval(action: string | undefined): action is LeftReason {
  return REMOVING_ACTIONS.includes(action as MemberAction);
}

/** The action of the newest member event about `userId` in a backlog when it removed them. */
export function lastRemovalOf(events: readonly LogEntry[], userId: string): LeftReason | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if ('kind' in e && e.kind === 'member' && e.member.id === userId) return isRemoval(e.action) ? e.action : undefined;
  }
  return undefined;
}
