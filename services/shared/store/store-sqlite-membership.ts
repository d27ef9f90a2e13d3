// The SQLite store's membership side (membership.ts, store.ts "membership"): applying member and
// room events, and the reads REST and the ACL rebuild need. Tables in store-sqlite-schema.ts.
//
// Every event carries the resulting state of what it changed, so applying one is an upsert
// guarded by a version (the event id's idSortKey): a member row takes the whole state of the
// newest member event, a room's topic/archived/created fields each take the newest event that
// sets them. Arrival order and redelivery change nothing; member_events tells a redelivery from
// another event under a reused id, and keeps each event whole for history's system lines.
//
// A room's member count and owner are kept on its rooms row, recounted from the memberships
// index once per room a batch touched, so "my rooms" and the directory read one row per room.
// A joined/invited event applied for the first time moves that member's read position up to the
// room's newest message (store-sqlite-attention.ts onJoined), in the same transaction.
import type Database from 'better-sqlite3';
import { idSortKey, parseId } from '../ids.js';
import { sameMembershipEvent, type MembershipLogEntry, type Role } from '../membership.js';
import { dmMembers, roomKindOf, type RoomKind } from '../rooms.js';
import { addAclRow } from './store-common.js';
import type { SqliteAttention } from './store-sqlite-attention.js';
import { MY_ROOMS, ROOM_COLUMNS, SINCE, toMyRoom, toRoomMeta, type MyRoomRow, type RoomRow } from './store-sqlite-rooms.js';
import type { ApplyMembershipResult, MemberState, MyRoom, PublicUser, RoomAclSnapshot, RoomMember, RoomMeta } from './store.js';

/** Position in a member list, and the marker of a member now: NULL for anyone without a role or banned. */
const RANK: Record<Role, number> = { owner: 0, admin: 1, member: 2 };

interface StoredEventRow {
  kind: 'member' | 'room';
  action: string;
  user_id: string;
  cid: string;
  member_id: string | null;
}
interface MemberRow {
  room: string;
  user_id: string;
  username: string;
  role: Role | null;
  banned: number;
  muted_until: number | null;
  since: number;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export class SqliteMembership {
  private readonly s;
  private readonly applyBatch;

  constructor(db: Database.Database, attention: SqliteAttention) {
    this.s = {
      // The first copy of an event is kept whole (body); a redelivery changes nothing.
      claim: db.prepare(
        `INSERT OR IGNORE INTO member_events (room, id, kind, action, user_id, cid, member_id, ms, seq, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      claimed: db.prepare<[string, string], StoredEventRow>(
        'SELECT kind, action, user_id, cid, member_id FROM member_events WHERE room = ? AND id = ?',
      ),
      // A room named by an event is known from then on (roomMeta), messages or not.
      ensureRoom: db.prepare(
        'INSERT INTO rooms (name, member_a, member_b, kind) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING',
      ),
      // The newest member event wins, in any order; every column is decided on the OLD row
      // (SQLite evaluates all SET expressions before assigning any). since only moves forward.
      member: db.prepare<{
        room: string; userId: string; username: string; role: Role | null; rank: number | null;
        banned: number; mutedUntil: number | null; since: number | null; v: string;
      }>(
        `INSERT INTO memberships (room, user_id, username, role, rank, banned, muted_until, since, v)
         VALUES (@room, @userId, @username, @role, @rank, @banned, @mutedUntil, @since, @v)
         ON CONFLICT (room, user_id) DO UPDATE SET
           username = CASE WHEN memberships.v < excluded.v THEN excluded.username ELSE memberships.username END,
           role = CASE WHEN memberships.v < excluded.v THEN excluded.role ELSE memberships.role END,
           rank = CASE WHEN memberships.v < excluded.v THEN excluded.rank ELSE memberships.rank END,
           banned = CASE WHEN memberships.v < excluded.v THEN excluded.banned ELSE memberships.banned END,
           muted_until = CASE WHEN memberships.v < excluded.v THEN excluded.muted_until ELSE memberships.muted_until END,
           since = COALESCE(MAX(memberships.since, excluded.since), memberships.since, excluded.since),
           v = MAX(memberships.v, excluded.v)`,
      ),
      roomChange: db.prepare<{
        room: string; v: string; ts: number; created: number; setsTopic: number; setsArchived: number;
        kind: RoomKind; title: string | null; topic: string; archived: number;
      }>(
        `UPDATE rooms SET
           kind = CASE WHEN @created AND (created_v IS NULL OR created_v < @v) THEN @kind ELSE kind END,
           title = CASE WHEN @created AND (created_v IS NULL OR created_v < @v) THEN @title ELSE title END,
           created_at = CASE WHEN @created AND (created_v IS NULL OR created_v < @v) THEN @ts ELSE created_at END,
           created_v = CASE WHEN @created AND (created_v IS NULL OR created_v < @v) THEN @v ELSE created_v END,
           topic = CASE WHEN @setsTopic AND (topic_v IS NULL OR topic_v < @v) THEN @topic ELSE topic END,
           topic_v = CASE WHEN @setsTopic AND (topic_v IS NULL OR topic_v < @v) THEN @v ELSE topic_v END,
           archived = CASE WHEN @setsArchived AND (archived_v IS NULL OR archived_v < @v) THEN @archived ELSE archived END,
           archived_v = CASE WHEN @setsArchived AND (archived_v IS NULL OR archived_v < @v) THEN @v ELSE archived_v END
         WHERE name = @room`,
      ),
      recount: db.prepare<{ room: string }>(
        `UPDATE rooms SET
           member_count = (SELECT count(*) FROM memberships INDEXED BY memberships_list WHERE room = @room AND rank IS NOT NULL),
           owner_id = (SELECT user_id FROM memberships INDEXED BY memberships_list WHERE room = @room AND rank = 0 ORDER BY username LIMIT 1)
         WHERE name = @room`,
      ),
      roomMeta: db.prepare<[string], RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms r WHERE r.name = ?`),
      memberState: db.prepare<[string, string], { rank: number | null; role: Role | null; banned: number; muted_until: number | null }>(
        'SELECT rank, role, banned, muted_until FROM memberships WHERE room = ? AND user_id = ?',
      ),
      members: db.prepare<[string, number], MemberRow>(
        `SELECT room, user_id, username, role, banned, muted_until, ${SINCE} AS since FROM memberships INDEXED BY memberships_list
         WHERE room = ? AND rank IS NOT NULL ORDER BY rank, username LIMIT ?`,
      ),
      usernames: db.prepare<[string, string], PublicUser>('SELECT id, username FROM users WHERE id IN (?, ?)'),
      firstMessageAt: db.prepare<[string], { ts: number }>('SELECT ts FROM messages WHERE room = ? ORDER BY ms, seq LIMIT 1'),
      myRooms: db.prepare<{ user: string; limit: number }, MyRoomRow>(MY_ROOMS),
      directory: db.prepare<{ q: string; limit: number }, RoomRow>(
        `SELECT ${ROOM_COLUMNS} FROM rooms r INDEXED BY rooms_directory
         WHERE r.kind = 'public' AND r.archived = 0 AND r.name LIKE @q ESCAPE '\\'
         ORDER BY r.member_count DESC, r.name LIMIT @limit`,
      ),
      // Newest first from the upper bound, cut at the limit: the caller reverses the page.
      eventsBetween: db.prepare<{ room: string; aMs: number; aSeq: number; bMs: number; bSeq: number; limit: number }, { body: string }>(
        `SELECT body FROM member_events INDEXED BY member_events_log
         WHERE room = @room AND body IS NOT NULL AND (ms, seq) > (@aMs, @aSeq) AND (ms, seq) < (@bMs, @bSeq)
         ORDER BY ms DESC, seq DESC LIMIT @limit`,
      ),
      aclRooms: db.prepare<{ after: string; limit: number }, RoomRow>(
        `SELECT ${ROOM_COLUMNS} FROM rooms r WHERE r.name > @after AND r.member_a IS NULL AND r.kind <> 'dm' ORDER BY r.name LIMIT @limit`,
      ),
      // Every row of the page's rooms in one range of the primary key (rooms sort by name).
      aclRows: db.prepare<{ after: string; last: string }, MemberRow>(
        `SELECT room, user_id, username, role, banned, muted_until, 0 AS since FROM memberships
         WHERE room > @after AND room <= @last AND (rank IS NOT NULL OR banned = 1 OR muted_until IS NOT NULL)
         ORDER BY room, user_id`,
      ),
    };

    this.applyBatch = db.transaction((events: readonly MembershipLogEntry[]): ApplyMembershipResult => {
      const touched = new Set<string>();
      const conflicts: MembershipLogEntry[] = [];
      let applied = 0;
      for (const e of events) {
        const memberId = e.kind === 'member' ? e.member.id : null;
        const { ms, seq } = parseId(e.id);
        const claimed = this.s.claim.run(e.room, e.id, e.kind, e.action, e.user.id, e.cid, memberId, ms, Number(seq), JSON.stringify(e));
        if (claimed.changes === 0) {
          // Taken: a redelivery (already in the state), or another event under a reused id.
          const stored = this.s.claimed.get(e.room, e.id);
          if (stored && !sameMembershipEvent(storedEvent(stored), e)) conflicts.push(e);
          continue;
        }
        applied++;
        const dm = dmMembers(e.room);
        this.s.ensureRoom.run(e.room, dm?.[0] ?? null, dm?.[1] ?? null, roomKindOf(e.room) ?? 'public');
        const v = idSortKey(e.id);
        if (e.kind === 'member') {
          const member = e.role !== undefined && !e.banned;
          this.s.member.run({
            room: e.room,
            userId: e.member.id,
            username: e.member.name,
            role: e.role ?? null,
            rank: member ? RANK[e.role!] : null,
            banned: e.banned ? 1 : 0,
            mutedUntil: e.mutedUntil ?? null,
            since: e.action === 'joined' || e.action === 'invited' ? e.ts : null,
            v,
          });
          if (e.action === 'joined' || e.action === 'invited') attention.onJoined(e.room, e.member.id, e.seq);
          touched.add(e.room);
        } else {
          this.s.roomChange.run({
            room: e.room,
            v,
            ts: e.ts,
            created: e.action === 'created' ? 1 : 0,
            setsTopic: e.action === 'created' || e.action === 'topic' ? 1 : 0,
            setsArchived: e.action === 'archived' || e.action === 'unarchived' ? 1 : 0,
            kind: e.roomKind,
            title: e.title ?? null,
            topic: e.topic ?? '',
            archived: e.archived ? 1 : 0,
          });
        }
      }
      for (const room of touched) this.s.recount.run({ room });
      return { applied, duplicates: events.length - applied - conflicts.length, conflicts };
    });
  }

  apply(events: readonly MembershipLogEntry[]): ApplyMembershipResult {
    if (events.length === 0) return { applied: 0, duplicates: 0, conflicts: [] };
    return this.applyBatch.immediate(events);
  }

  eventsBetween(room: string, afterId: string | undefined, beforeId: string | undefined, limit: number): MembershipLogEntry[] {
    if (limit <= 0) return [];
    // Open bounds as ids no real one reaches: ids have parts 0..2^53-1 (ids.ts isMessageId).
    const a = afterId === undefined ? { ms: -1, seq: 0 } : numericId(afterId);
    const b = beforeId === undefined ? { ms: 2 ** 53, seq: 0 } : numericId(beforeId);
    const rows = this.s.eventsBetween.all({ room, aMs: a.ms, aSeq: a.seq, bMs: b.ms, bSeq: b.seq, limit });
    return rows.reverse().map((r) => JSON.parse(r.body) as MembershipLogEntry);
  }

  roomMeta(room: string): RoomMeta | null {
    const row = this.s.roomMeta.get(room);
    return row ? toRoomMeta(row) : null;
  }

  memberState(room: string, userId: string): MemberState {
    const dm = dmMembers(room);
    if (dm) return dm.includes(userId) ? { role: 'member', banned: false } : { banned: false };
    const row = this.s.memberState.get(room, userId);
    const state: MemberState = { banned: row?.banned === 1 };
    if (row && row.rank !== null) state.role = row.role!;
    if (row && row.muted_until !== null) state.mutedUntil = row.muted_until;
    return state;
  }

  roomMembers(room: string, limit: number): RoomMember[] {
    if (limit <= 0) return [];
    const dm = dmMembers(room);
    if (dm) {
      // Members by name: the two users, since the DM's first message (0 before one).
      const names = new Map(this.s.usernames.all(dm[0], dm[1]).map((u) => [u.id, u.username]));
      const since = this.s.firstMessageAt.get(room)?.ts ?? 0;
      return dm
        .map((id): RoomMember => ({ id, username: names.get(id) ?? id, role: 'member', since }))
        .sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0))
        .slice(0, limit);
    }
    return this.s.members.all(room, limit).map((r) => {
      const m: RoomMember = { id: r.user_id, username: r.username, role: r.role!, since: r.since };
      if (r.muted_until !== null) m.mutedUntil = r.muted_until;
      return m;
    });
  }

  myRooms(userId: string, limit: number): MyRoom[] {
    if (limit <= 0) return [];
    return this.s.myRooms.all({ user: userId, limit }).map((r) => toMyRoom(r, userId));
  }

  publicRooms(query: string, limit: number): RoomMeta[] {
    if (limit <= 0) return [];
    return this.s.directory.all({ q: `%${escapeLike(query)}%`, limit }).map(toRoomMeta);
  }

  roomAcls(afterRoom: string | undefined, limit: number): RoomAclSnapshot[] {
    if (limit <= 0) return [];
    const after = afterRoom ?? '';
    const rooms = this.s.aclRooms.all({ after, limit });
    if (rooms.length === 0) return [];
    const snapshots = new Map<string, RoomAclSnapshot>();
    for (const r of rooms) {
      const meta = toRoomMeta(r);
      const snap: RoomAclSnapshot = { room: r.name, kind: meta.kind, topic: meta.topic, archived: meta.archived, members: [], banned: [], mutedNonMembers: [] };
      if (meta.title !== undefined) snap.title = meta.title;
      snapshots.set(r.name, snap);
    }
    for (const row of this.s.aclRows.all({ after, last: rooms[rooms.length - 1]!.name })) {
      const snap = snapshots.get(row.room);
      if (snap) addAclRow(snap, row);
    }
    return [...snapshots.values()];
  }
}

function numericId(id: string): { ms: number; seq: number } {
  const { ms, seq } = parseId(id);
  return { ms, seq: Number(seq) };
}

/** What member_events keeps of an event, shaped for membership.ts sameMembershipEvent. */
function storedEvent(r: StoredEventRow): MembershipLogEntry {
  const base = { kind: r.kind, action: r.action, user: { id: r.user_id }, cid: r.cid };
  return (r.kind === 'member' ? { ...base, member: { id: r.member_id } } : base) as unknown as MembershipLogEntry;
}
