// Membership and room changes as events on the room log (DESIGN.md "Rooms with members"): who
// joined, left, was invited, kicked, banned, muted or given a role (`member` events), and the
// room's own changes — created, topic, archived (`room` events). They travel like every other
// change: their own room log id, the room channel, the partition's ingest stream, `join … since`.
//
// Every event carries the RESULTING state of what it changed, not a delta: a member event the
// member's role (absent: not a member), `banned` and `mutedUntil` after it; a room event the
// room's kind, title, topic and archived flag after it. The script that appends it knows that
// state atomically (membership/member.lua), so a store applies "the newest event wins" per
// (room, member) and per room — idempotent and independent of arrival order without per-field
// versions, and a client applies a frame without knowing what came before.
//
// Room log and ingest stream fields (after `room <room> id <id>` in the ingest stream):
//   member  ev member act <action> uid name cid mid <member id> mname <member name>
//             [role <role>] [ban 1] [mute <until ms>] [sq <the room's newest message seq, on joined/invited>]
//   room    ev room act <action> uid name cid rk <kind> [title <t>] [topic <t>] [arch 1]
import { idTime, isMessageId } from './ids.js';
import { ROOM_KINDS, type RoomKind } from './rooms.js';

export type { MemberAction, Role, RoomAction } from '../../sdk/src/protocol.js';
import type { MemberAction, Role, RoomAction } from '../../sdk/src/protocol.js';
export const ROLES: readonly Role[] = ['owner', 'admin', 'member'];
export const MEMBER_ACTIONS: readonly MemberAction[] = ['joined', 'invited', 'left', 'kicked', 'banned', 'unbanned', 'muted', 'unmuted', 'role'];
/** Actions after which the member's sockets leave the room on every replica. */
export const REMOVING_ACTIONS: readonly MemberAction[] = ['left', 'kicked', 'banned'];

export const ROOM_ACTIONS: readonly RoomAction[] = ['created', 'topic', 'archived', 'unarchived'];

export const MAX_TITLE_CHARS = 80;
export const MAX_TOPIC_CHARS = 250;
/** A group is a DM among this many users, its creator included. */
export const GROUP_MIN_MEMBERS = 3;
export const GROUP_MAX_MEMBERS = 10;

interface Base {
  id: string;
  room: string;
  /** Who made the change (the member themself for joined/left). */
  user: { id: string; name: string };
  ts: number;
  cid: string;
}

/** A change of one member's state; the fields after `member` are that state after it. */
export interface MembershipEvent extends Base {
  kind: 'member';
  action: MemberAction;
  member: { id: string; name: string };
  /** Absent: not a member after this event (left, kicked, banned, or never joined). */
  role?: Role;
  banned?: true;
  /** ms; absent when not muted. */
  mutedUntil?: number;
  /**
   * joined / invited: the room's newest top-level message seq at that moment (member.lua reads
   * the room counter in the same call), where the new member's read position starts — exact
   * whatever order the store applies events and messages in; 0 in a room without messages yet.
   * Absent on events written before seqs existed (the store then uses the room's newest seq).
   */
  seq?: number;
}

/** A change of the room itself; the fields after `action` are the room's state after it. */
export interface RoomChangeEvent extends Base {
  kind: 'room';
  action: RoomAction;
  roomKind: RoomKind;
  title?: string;
  topic?: string;
  archived?: true;
}

export type MembershipLogEntry = MembershipEvent | RoomChangeEvent;

export function isMembershipLogEntry(e: object): e is MembershipLogEntry {
  return 'kind' in e && (e.kind === 'member' || e.kind === 'room');
}

/** Field/value list of a membership log entry AFTER `room <room> id <id>` (log and ingest stream alike). */
export function membershipFields(e: MembershipLogEntry): string[] {
  const f = ['ev', e.kind, 'act', e.action, 'uid', e.user.id, 'name', e.user.name, 'cid', e.cid];
  if (e.kind === 'member') {
    f.push('mid', e.member.id, 'mname', e.member.name);
    if (e.role !== undefined) f.push('role', e.role);
    if (e.banned) f.push('ban', '1');
    if (e.mutedUntil !== undefined) f.push('mute', String(e.mutedUntil));
    if (e.seq !== undefined) f.push('sq', String(e.seq));
  } else {
    f.push('rk', e.roomKind);
    if (e.title !== undefined) f.push('title', e.title);
    if (e.topic !== undefined) f.push('topic', e.topic);
    if (e.archived) f.push('arch', '1');
  }
  return f;
}

/**
 * A membership entry from its fields (`f`: field → value), or the reason it is malformed.
 * `room` and `id` are already checked by the caller (message.ts parseIngestEntry, logEntryOf).
 */
export function parseMembershipFields(room: string, id: string, f: Record<string, string | undefined>): MembershipLogEntry | string {
  if (!isMessageId(id)) return 'invalid event id';
  if (!f.uid || typeof f.name !== 'string' || f.name.length === 0) return 'missing actor';
  if (typeof f.cid !== 'string') return 'missing cid';
  const base = { id, room, user: { id: f.uid, name: f.name }, ts: idTime(id), cid: f.cid };
  if (f.ev === 'member') {
    if (!MEMBER_ACTIONS.includes(f.act as MemberAction)) return 'unknown member action';
    if (!f.mid || typeof f.mname !== 'string' || f.mname.length === 0) return 'missing member';
    const e: MembershipEvent = { ...base, kind: 'member', action: f.act as MemberAction, member: { id: f.mid, name: f.mname } };
    if (f.role !== undefined) {
      if (!ROLES.includes(f.role as Role)) return 'invalid role';
      e.role = f.role as Role;
    }
    if (f.ban === '1') e.banned = true;
    if (f.mute !== undefined) {
      const until = Number(f.mute);
      if (!Number.isSafeInteger(until) || until <= 0) return 'invalid mute';
      e.mutedUntil = until;
    }
    if (f.sq !== undefined) {
      const seq = Number(f.sq);
      if (!Number.isSafeInteger(seq) || seq < 0) return 'invalid seq';
      e.seq = seq;
    }
    return e;
  }
  if (f.ev === 'room') {
    if (!ROOM_ACTIONS.includes(f.act as RoomAction)) return 'unknown room action';
    if (!ROOM_KINDS.includes(f.rk as RoomKind)) return 'invalid room kind';
    const e: RoomChangeEvent = { ...base, kind: 'room', action: f.act as RoomAction, roomKind: f.rk as RoomKind };
    if (f.title !== undefined) {
      if (f.title.length > MAX_TITLE_CHARS) return 'title too long';
      e.title = f.title;
    }
    if (f.topic !== undefined) {
      if (f.topic.length > MAX_TOPIC_CHARS) return 'topic too long';
      e.topic = f.topic;
    }
    if (f.arch === '1') e.archived = true;
    return e;
  }
  return 'unknown event kind';
}

/** What a store keeps of a membership event to tell a redelivery from another event under its id. */
export function sameMembershipEvent(a: MembershipLogEntry, b: MembershipLogEntry): boolean {
  if (a.kind !== b.kind || a.action !== b.action || a.user.id !== b.user.id || a.cid !== b.cid) return false;
  return a.kind === 'member' && b.kind === 'member' ? a.member.id === b.member.id : true;
}
