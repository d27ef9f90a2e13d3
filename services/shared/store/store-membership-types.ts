// The store's membership types (issue 14: rooms with members — a room's state, its members, my
// rooms, the ACL snapshot), apart from store.ts so the interface file stays readable. store.ts
// re-exports them: import them from there.
import type { MembershipLogEntry, Role } from '../membership.js';
import type { RoomKind } from '../rooms.js';
import type { PublicUser } from './store.js';

/** A room's own state (membership.ts RoomChangeEvent) and counts. */
export interface RoomMeta {
  name: string;
  kind: RoomKind;
  /** Private rooms: their display name; absent for public rooms (their name), DMs and groups. */
  title?: string;
  /** '' when none. */
  topic: string;
  /** The member with role owner; absent for DMs, groups and rooms nobody created through REST. */
  ownerId?: string;
  archived: boolean;
  /** Members now (role set), banned users excluded. DMs: 2. */
  memberCount: number;
  lastMessageAt: number | null;
  messageCount: number;
}

/** One member of a room as a member list shows it. */
export interface RoomMember {
  id: string;
  username: string;
  role: Role;
  /** ms, only while in the future at the time of the event that set it (clients compare with now). */
  mutedUntil?: number;
  /** ts of the event that made them a member (the newest joined/invited). */
  since: number;
  displayName?: string;
  avatar?: string;
}

/** One user's state in one room, as REST authorisation needs it. */
export interface MemberState {
  /** Absent: not a member. */
  role?: Role;
  banned: boolean;
  mutedUntil?: number;
}

/** A room in "my rooms": the room, my role, and what the sidebar shows. */
export interface MyRoom extends RoomMeta {
  role: Role;
  mutedUntil?: number;
  /** The room's newest top-level message seq (0 when none). */
  lastSeq: number;
  /** My read position's seq (0: nothing read, e.g. a DM I never opened). */
  readSeq: number;
  /** My read position's message id, when I have one. */
  readId?: string;
  /** max(0, lastSeq - readSeq): two integers, never a scan. */
  unread: number;
  /** My mention rows in this room with seq > readSeq. */
  mentions: number;
  /** I muted this room's notifications (PATCH /api/me/rooms/:room). */
  muted: boolean;
  /** DMs and groups: the other members (id, username), at most GROUP_MAX_MEMBERS. */
  peers?: PublicUser[];
  /** The newest stored top-level message, for the sidebar's preview (text cut to 140 chars). */
  lastMessage?: { id: string; user: { id: string; name: string }; text: string; ts: number };
}

/** Everything the Redis ACL of one room holds (membership/acl-rebuild.ts). */
export interface RoomAclSnapshot {
  room: string;
  kind: RoomKind;
  title?: string;
  topic: string;
  archived: boolean;
  /** `username`: the ACL maps `u:<lowercased username>` to the id, for @mentions (send.lua). */
  members: { userId: string; username: string; role: Role; mutedUntil?: number }[];
  banned: string[];
  /** Users muted while not members (a mute outlives a leave). */
  mutedNonMembers: { userId: string; mutedUntil: number }[];
}

/** What applyMembershipEvents reports (as ApplyResult for message events). */
export type ApplyMembershipResult = { applied: number; duplicates: number; conflicts: MembershipLogEntry[] };
