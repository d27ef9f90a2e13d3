// The SQLite store's attention side (issue 15; store.ts "attention"): read positions, mention
// rows, receipts, the per-room counters' rebuild, mute/DND and the notifications inbox. Tables in
// store-sqlite-schema.ts. The writes an insert or a member event makes (`onInserted`, `onJoined`)
// run inside the caller's transaction, so they land with the rows that caused them or not at all.
//
// A read position only moves forward: max by read_seq (the room's counter, so order-independent
// and idempotent). At an equal seq a position without an id (a join sets only the seq) takes the
// id: it is the same message, seq being unique within a room.
import type Database from 'better-sqlite3';
import { parseId } from '../ids.js';
import { MENTION_ROOM, type ChatMessage, type ReadMark } from '../message.js';
import { dmMembers } from '../rooms.js';
import { notificationId, parseNotificationId, previewText } from './store-common.js';
import type { AppNotification, InsertedNotification, NewNotification, NotificationKind, NotifyPrefs, RoomRead } from './store.js';

interface NotificationRow {
  room: string;
  source_id: string;
  kind: NotificationKind;
  actor_id: string;
  actor_name: string;
  text: string;
  ts: number;
  is_read: number;
  reply_to: string | null;
}
interface ReadRow {
  user_id: string;
  username: string;
  read_id: string;
  read_seq: number;
}
interface InboxParams {
  user: string;
  ms: number;
  seq: number;
  room: string;
  limit: number;
}

// Above every real id's ms (ids.ts: parts are at most 2^53 - 1): the cursor of a first page.
const NO_CURSOR = { ms: 2 ** 53, seq: 0, room: '' };

const NOTIFICATION_COLUMNS = 'room, source_id, kind, actor_id, actor_name, text, ts, is_read, reply_to';
const toNotification = (r: NotificationRow): AppNotification => ({
  id: notificationId(r.room, r.source_id),
  kind: r.kind,
  room: r.room,
  sourceId: r.source_id,
  actor: { id: r.actor_id, name: r.actor_name },
  text: r.text,
  ts: r.ts,
  read: r.is_read === 1,
  ...(r.reply_to === null ? {} : { replyTo: r.reply_to }),
});

const numericId = (id: string) => {
  const { ms, seq } = parseId(id);
  return { ms, seq: Number(seq) };
};

export class SqliteAttention {
  private readonly s;
  private readonly readsBatch;
  private readonly notifyBatch;
  private readonly markBatch;

  constructor(db: Database.Database) {
    this.s = {
      // See the top: forward only, an id fills in at an equal seq.
      raise: db.prepare<{ user: string; room: string; id: string | null; seq: number }>(
        `INSERT INTO user_rooms (user_id, room, read_id, read_seq) VALUES (@user, @room, @id, @seq)
         ON CONFLICT (user_id, room) DO UPDATE SET read_id = excluded.read_id, read_seq = excluded.read_seq
         WHERE excluded.read_seq > user_rooms.read_seq
            OR (excluded.read_seq = user_rooms.read_seq AND user_rooms.read_id IS NULL AND excluded.read_id IS NOT NULL)`,
      ),
      topSeq: db.prepare<[string], { top_seq: number }>('SELECT top_seq FROM rooms WHERE name = ?'),
      mention: db.prepare<{ user: string; room: string; id: string; seq: number | null }>(
        'INSERT OR IGNORE INTO mentions (user_id, room, id, room_seq) VALUES (@user, @room, @id, @seq)',
      ),
      // @room: the members at the time of the insert (memberships_list holds members only), not the sender
      mentionMembers: db.prepare<{ sender: string; room: string; id: string; seq: number | null }>(
        `INSERT OR IGNORE INTO mentions (user_id, room, id, room_seq)
         SELECT user_id, @room, @id, @seq FROM memberships INDEXED BY memberships_list
         WHERE room = @room AND rank IS NOT NULL AND user_id <> @sender`,
      ),
      reads: db.prepare<{ room: string; limit: number }, ReadRow>(
        `SELECT ur.user_id, m.username, ur.read_id, ur.read_seq FROM user_rooms ur INDEXED BY user_rooms_reads
         JOIN memberships m ON m.room = ur.room AND m.user_id = ur.user_id
         WHERE ur.room = @room AND ur.read_id IS NOT NULL AND m.rank IS NOT NULL
         ORDER BY ur.read_seq DESC, ur.user_id LIMIT @limit`,
      ),
      // a DM's members are the two users its name holds
      dmReads: db.prepare<{ room: string; a: string; b: string; limit: number }, ReadRow>(
        `SELECT ur.user_id, COALESCE(u.username, ur.user_id) AS username, ur.read_id, ur.read_seq
         FROM user_rooms ur LEFT JOIN users u ON u.id = ur.user_id
         WHERE ur.user_id IN (@a, @b) AND ur.room = @room AND ur.read_id IS NOT NULL
         ORDER BY ur.read_seq DESC, ur.user_id LIMIT @limit`,
      ),
      roomSeqs: db.prepare<{ after: string; limit: number }, { name: string; top_seq: number }>(
        'SELECT name, top_seq FROM rooms WHERE name > @after AND top_seq > 0 ORDER BY name LIMIT @limit',
      ),
      mute: db.prepare<{ user: string; room: string; muted: number }>(
        `INSERT INTO user_rooms (user_id, room, muted) VALUES (@user, @room, @muted)
         ON CONFLICT (user_id, room) DO UPDATE SET muted = excluded.muted`,
      ),
      prefs: db.prepare<{ room: string; ids: string }, { id: string; dnd: number; rank: number | null; muted: number | null }>(
        `SELECT u.id, u.dnd, m.rank, ur.muted FROM users u
         LEFT JOIN memberships m ON m.room = @room AND m.user_id = u.id
         LEFT JOIN user_rooms ur ON ur.user_id = u.id AND ur.room = @room
         WHERE u.id IN (SELECT value FROM json_each(@ids))`,
      ),
      notify: db.prepare<{ user: string; room: string; sourceId: string; ms: number; seq: number; kind: string; actorId: string; actorName: string; text: string; ts: number; replyTo: string | null }>(
        `INSERT OR IGNORE INTO notifications (user_id, room, source_id, source_ms, source_seq, kind, actor_id, actor_name, text, ts, reply_to)
         VALUES (@user, @room, @sourceId, @ms, @seq, @kind, @actorId, @actorName, @text, @ts, @replyTo)`,
      ),
      // Newest first from the cursor (exclusive): one backward range of the index, cut at the limit.
      inbox: db.prepare<InboxParams, NotificationRow>(
        `SELECT ${NOTIFICATION_COLUMNS} FROM notifications INDEXED BY notifications_inbox
         WHERE user_id = @user AND (source_ms, source_seq, room) < (@ms, @seq, @room)
         ORDER BY source_ms DESC, source_seq DESC, room DESC LIMIT @limit`,
      ),
      unreadInbox: db.prepare<InboxParams, NotificationRow>(
        `SELECT ${NOTIFICATION_COLUMNS} FROM notifications INDEXED BY notifications_unread
         WHERE user_id = @user AND is_read = 0 AND (source_ms, source_seq, room) < (@ms, @seq, @room)
         ORDER BY source_ms DESC, source_seq DESC, room DESC LIMIT @limit`,
      ),
      markRead: db.prepare<[string, string, string]>(
        'UPDATE notifications SET is_read = 1 WHERE user_id = ? AND room = ? AND source_id = ? AND is_read = 0',
      ),
      markAllRead: db.prepare<[string]>('UPDATE notifications INDEXED BY notifications_unread SET is_read = 1 WHERE user_id = ? AND is_read = 0'),
      unreadCount: db.prepare<[string], { n: number }>(
        'SELECT count(*) AS n FROM notifications INDEXED BY notifications_unread WHERE user_id = ? AND is_read = 0',
      ),
    };

    this.readsBatch = db.transaction((marks: readonly ReadMark[]) => {
      for (const r of marks) this.s.raise.run({ user: r.user.id, room: r.room, id: r.id, seq: r.seq });
    });

    this.notifyBatch = db.transaction((list: readonly NewNotification[]): InsertedNotification[] => {
      const inserted: InsertedNotification[] = [];
      for (const n of list) {
        const text = previewText(n.text);
        const r = this.s.notify.run({
          user: n.userId, room: n.room, sourceId: n.sourceId, ...numericId(n.sourceId),
          kind: n.kind, actorId: n.actor.id, actorName: n.actor.name, text, ts: n.ts, replyTo: n.replyTo ?? null,
        });
        if (r.changes === 0) continue; // held already: a redelivery
        const notification: AppNotification = { id: notificationId(n.room, n.sourceId), kind: n.kind, room: n.room, sourceId: n.sourceId, actor: { id: n.actor.id, name: n.actor.name }, text, ts: n.ts, read: false, ...(n.replyTo === undefined ? {} : { replyTo: n.replyTo }) };
        inserted.push({ userId: n.userId, notification });
      }
      return inserted;
    });

    this.markBatch = db.transaction((userId: string, keys: readonly { room: string; sourceId: string }[]) => {
      for (const k of keys) this.s.markRead.run(userId, k.room, k.sourceId);
    });
  }

  /**
   * What NEWLY inserted messages move, inside the insert's transaction (the rooms' top_seq is
   * raised by the caller): each sender's read position to their own newest top-level message of
   * the batch (one write per sender and room), and one mention row per mentioned user
   * (MENTION_ROOM: the room's members now, never the sender).
   */
  onInserted(messages: readonly ChatMessage[]): void {
    const own = new Map<string, ChatMessage>();
    for (const m of messages) {
      const top = m.replyTo === undefined && m.seq !== undefined;
      if (top) {
        const key = `${m.user.id}\u0000${m.room}`;
        const prev = own.get(key);
        if (!prev || prev.seq! < m.seq!) own.set(key, m);
      }
      if (!m.mentions) continue;
      // a reply's rows carry no seq: it notifies, it is never counted
      const seq = top ? m.seq! : null;
      for (const who of new Set(m.mentions)) {
        if (who === MENTION_ROOM) this.s.mentionMembers.run({ sender: m.user.id, room: m.room, id: m.id, seq });
        else if (who !== m.user.id) this.s.mention.run({ user: who, room: m.room, id: m.id, seq });
      }
    }
    for (const m of own.values()) this.s.raise.run({ user: m.user.id, room: m.room, id: m.id, seq: m.seq! });
  }

  /**
   * A member joined or was invited (the event applied for the first time), inside the apply's
   * transaction: their position moves up to the room's newest message, so a new member does not
   * inherit its history as unread — the seq the event carries (member.lua read the room counter
   * at the join: exact whatever order events and messages arrive in), or for an older event
   * without one, the room's top seq now. Only the seq: they have not seen that message (no receipt).
   */
  onJoined(room: string, userId: string, eventSeq: number | undefined): void {
    const seq = eventSeq ?? this.s.topSeq.get(room)?.top_seq ?? 0;
    if (seq > 0) this.s.raise.run({ user: userId, room, id: null, seq });
  }

  applyReads(marks: readonly ReadMark[]): void {
    if (marks.length > 0) this.readsBatch.immediate(marks);
  }

  roomReads(room: string, limit: number): RoomRead[] {
    if (limit <= 0) return [];
    const dm = dmMembers(room);
    const rows = dm ? this.s.dmReads.all({ room, a: dm[0], b: dm[1], limit }) : this.s.reads.all({ room, limit });
    return rows.map((r) => ({ user: { id: r.user_id, name: r.username }, id: r.read_id, seq: r.read_seq }));
  }

  roomSeqs(afterRoom: string | undefined, limit: number): { room: string; lastSeq: number }[] {
    if (limit <= 0) return [];
    return this.s.roomSeqs.all({ after: afterRoom ?? '', limit }).map((r) => ({ room: r.name, lastSeq: r.top_seq }));
  }

  setRoomMuted(userId: string, room: string, muted: boolean): void {
    this.s.mute.run({ user: userId, room, muted: muted ? 1 : 0 });
  }

  notifyPrefs(room: string, userIds: readonly string[]): Map<string, NotifyPrefs> {
    const prefs = new Map<string, NotifyPrefs>();
    if (userIds.length === 0) return prefs;
    const dm = dmMembers(room);
    for (const r of this.s.prefs.all({ room, ids: JSON.stringify([...new Set(userIds)]) })) {
      // rank is NULL for anyone without a role or banned
      const member = dm ? dm.includes(r.id) : r.rank !== null;
      prefs.set(r.id, { member, muted: r.muted === 1, dnd: r.dnd === 1 });
    }
    return prefs;
  }

  insertNotifications(list: readonly NewNotification[]): InsertedNotification[] {
    if (list.length === 0) return [];
    return this.notifyBatch.immediate(list);
  }

  notifications(userId: string, opts: { beforeId?: string; limit: number; unreadOnly?: boolean }): AppNotification[] {
    if (opts.limit <= 0) return [];
    let cursor = NO_CURSOR;
    if (opts.beforeId !== undefined) {
      const key = parseNotificationId(opts.beforeId);
      if (!key) return []; // not an id this store gave out: nothing is after it
      cursor = { ...numericId(key.sourceId), room: key.room };
    }
    const params = { user: userId, ...cursor, limit: opts.limit };
    return (opts.unreadOnly ? this.s.unreadInbox : this.s.inbox).all(params).map(toNotification);
  }

  markNotificationsRead(userId: string, ids: readonly string[] | 'all'): void {
    if (ids === 'all') {
      this.s.markAllRead.run(userId);
      return;
    }
    const keys = ids.map(parseNotificationId).filter((k) => k !== null);
    if (keys.length > 0) this.markBatch.immediate(userId, keys);
  }

  unreadNotificationCount(userId: string): number {
    return this.s.unreadCount.get(userId)?.n ?? 0;
  }
}
