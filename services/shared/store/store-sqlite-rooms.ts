// The SQLite store's room rows as store.ts shows them: a room's meta (RoomMeta) and "my rooms"
// (MyRoom), whose one statement is here (store-sqlite-membership.ts runs it).
import { GROUP_MAX_MEMBERS, type Role } from '../membership.js';
import { roomKindOf, type RoomKind } from '../rooms.js';
import { previewText } from './store-common.js';
import type { MyRoom, RoomMeta } from './store.js';

export interface RoomRow {
  name: string;
  kind: string | null;
  title: string | null;
  topic: string;
  owner_id: string | null;
  archived: number;
  member_count: number;
  last_message_at: number | null;
  message_count: number;
}
export interface MyRoomRow extends RoomRow {
  role: Role;
  muted_until: number | null;
  member_a: string | null;
  member_b: string | null;
  last_ms: number | null;
  last_seq: number | null;
  last_user_id: string | null;
  last_user_name: string | null;
  last_text: string | null;
  last_ts: number | null;
  edited_text: string | null;
  deleted: number | null;
  /** Groups: JSON [[id, username], …] of the other members; DMs: the other user's username. */
  peers: string | null;
  top_seq: number;
  read_seq: number | null;
  read_id: string | null;
  muted: number | null;
  mention_count: number;
}

export const ROOM_COLUMNS = 'r.name, r.kind, r.title, r.topic, r.owner_id, r.archived, r.member_count, r.last_message_at, r.message_count';
// since: the newest joined/invited event, or, before one is applied, the newest event's ms.
export const SINCE = 'COALESCE(since, CAST(substr(v, 1, 16) AS INTEGER))';

// One statement whatever the number of rooms: the user's memberships (memberships_mine) and
// the DMs they are in once a message is stored (rooms_member_a/b), each joined to its rooms row
// by key, the last message's edit/delete by key, and a group's other members (at most
// GROUP_MAX_MEMBERS, memberships_list) or a DM peer's name from users. Attention adds two keys
// per room: the user's user_rooms row (read position, mute) by primary key and, only when
// something is unread, the count of their mention rows past the position — a range of
// mentions_unread (user, room, room_seq) that holds the user's own rows only.
export const MY_ROOMS = `
WITH mine(room, role, muted_until, since) AS (
  SELECT room, role, muted_until, ${SINCE} FROM memberships INDEXED BY memberships_mine
  WHERE user_id = @user AND rank IS NOT NULL AND room NOT GLOB 'dm:*'
  UNION ALL
  SELECT name, 'member', NULL, NULL FROM rooms INDEXED BY rooms_member_a WHERE member_a = @user AND last_message_at IS NOT NULL
  UNION ALL
  SELECT name, 'member', NULL, NULL FROM rooms INDEXED BY rooms_member_b WHERE member_b = @user AND last_message_at IS NOT NULL
)
SELECT ${ROOM_COLUMNS}, m.role, m.muted_until, r.member_a, r.member_b,
  r.last_ms, r.last_seq, r.last_user_id, r.last_user_name, r.last_text, r.last_ts, c.text AS edited_text, c.deleted,
  CASE
    WHEN r.kind = 'group' THEN (
      SELECT json_group_array(json_array(user_id, username)) FROM (
        SELECT user_id, username FROM memberships INDEXED BY memberships_list
        WHERE room = r.name AND rank IS NOT NULL AND user_id <> @user ORDER BY username LIMIT ${GROUP_MAX_MEMBERS}))
    WHEN r.member_a IS NOT NULL THEN (
      SELECT username FROM users WHERE id = CASE WHEN r.member_a = @user THEN r.member_b ELSE r.member_a END)
  END AS peers,
  r.top_seq, ur.read_seq, ur.read_id, ur.muted,
  CASE WHEN r.top_seq > COALESCE(ur.read_seq, 0) THEN (
    SELECT count(*) FROM mentions INDEXED BY mentions_unread
    WHERE user_id = @user AND room = r.name AND room_seq > COALESCE(ur.read_seq, 0)) ELSE 0
  END AS mention_count
FROM mine m
JOIN rooms r ON r.name = m.room
LEFT JOIN changes c ON c.room = r.name AND c.ms = r.last_ms AND c.seq = r.last_seq
LEFT JOIN user_rooms ur ON ur.user_id = @user AND ur.room = r.name
ORDER BY COALESCE(r.last_message_at, m.since) DESC, r.name
LIMIT @limit`;

/** The kind a room row holds, or the one its name says (rows written before kinds were stored). */
const kindOfRow = (r: { name: string; kind: string | null }): RoomKind => (r.kind as RoomKind | null) ?? roomKindOf(r.name) ?? 'public';

export function toRoomMeta(r: RoomRow): RoomMeta {
  const kind = kindOfRow(r);
  const meta: RoomMeta = {
    name: r.name,
    kind,
    topic: r.topic,
    archived: r.archived === 1,
    memberCount: kind === 'dm' ? 2 : r.member_count,
    lastMessageAt: r.last_message_at,
    messageCount: r.message_count,
  };
  if (r.title !== null) meta.title = r.title;
  if (r.owner_id !== null && kind !== 'dm') meta.ownerId = r.owner_id;
  return meta;
}

export function toMyRoom(r: MyRoomRow, userId: string): MyRoom {
  const readSeq = r.read_seq ?? 0;
  const room: MyRoom = {
    ...toRoomMeta(r),
    role: r.role,
    ...(r.muted_until !== null && { mutedUntil: r.muted_until }),
    lastSeq: r.top_seq,
    readSeq,
    ...(r.read_id !== null && { readId: r.read_id }),
    // two integers, never a scan; a position past the counter (a Redis loss) is not negative
    unread: Math.max(0, r.top_seq - readSeq),
    mentions: r.mention_count,
    muted: r.muted === 1,
  };
  if (room.kind === 'group') {
    const peers = r.peers === null ? [] : (JSON.parse(r.peers) as [string, string][]);
    room.peers = peers.map(([id, username]) => ({ id, username }));
  } else if (room.kind === 'dm' && r.member_a !== null) {
    const id = r.member_a === userId ? r.member_b! : r.member_a;
    room.peers = [{ id, username: r.peers ?? id }];
  }
  if (r.last_ms !== null) {
    const text = r.deleted === 1 ? '' : previewText(r.edited_text ?? r.last_text ?? '');
    room.lastMessage = { id: `${r.last_ms}-${r.last_seq}`, user: { id: r.last_user_id!, name: r.last_user_name! }, text, ts: r.last_ts! };
  }
  return room;
}
