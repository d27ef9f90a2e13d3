// The SQLite store's messages: inserting messages and replies, applying room events, and
// reading history in its current state. The tables are in store-sqlite-schema.ts; the
// guarantees in store.ts.
//
// A page is ONE query of index range scans whatever the room's size: it walks the partial
// index messages_top (no step over thread replies), joins each row's change, thread counters
// and reaction summary by primary key, and, for a message with reactions, seeks the viewer's
// own (each reaction's `me`) in reactions_mine. Nothing grows with the number of people who
// reacted: the summary is recounted when a reaction is toggled, not when read.
//
// A newly inserted message also moves what attention counts (store-sqlite-attention.ts): its
// room's top_seq, the sender's read position and its mention rows, in the same transaction;
// and it links the uploads it names (store-sqlite-files.ts), in that transaction too.
import type Database from 'better-sqlite3';
import type { ChatMessage, RoomEvent } from '../message.js';
import { parseId } from '../ids.js';
import { dmMembers, roomKindOf } from '../rooms.js';
import { historyMessage, orderReactions } from './history.js';
import { previewText } from './store-common.js';
import { messageSummary } from '../attachments.js';
import type { SqliteAttention } from './store-sqlite-attention.js';
import { attachmentsColumn, attachmentsOf, type SqliteFiles } from './store-sqlite-files.js';
import { sameEvent, sameMessage, type ApplyResult, type HistoryMessage, type InsertResult, type Reaction } from './store.js';

type Seq = number | bigint;

function idKey(id: string): [number, Seq] {
  const { ms, seq } = parseId(id);
  return [ms, seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : seq];
}

// History rows are read in raw mode (arrays, not objects): better-sqlite3 builds a row object
// property by property, which made up a third of a page's time. The columns of HISTORY:
type HistoryRow = [
  id: string, room: string, userId: string, userName: string, text: string, ts: number, cid: string,
  ms: number, seq: number, replyMs: number | null, replySeq: number | null, roomSeq: number | null, mentions: string | null,
  editedText: string | null, editedAt: number | null, deleted: number | null,
  replyCount: number | null, lastReplyAt: number | null, reactions: string | null, mine: string | null,
  attachments: string | null,
];
/** Named parameters of the history statements (each uses those it names). */
interface PageParams {
  room: string;
  viewer: string | null;
  ms?: number;
  seq?: Seq;
  limit?: number;
}

const HISTORY = `
SELECT m.id, m.room, m.user_id, m.user_name, m.text, m.ts, m.cid, m.ms, m.seq, m.reply_ms, m.reply_seq, m.room_seq, m.mentions,
       c.text AS edited_text, c.edited_at, c.deleted, t.reply_count, t.last_reply_at, r.reactions,
       CASE WHEN r.reactions IS NOT NULL AND @viewer IS NOT NULL THEN (
         SELECT group_concat(emoji, char(0)) FROM reactions INDEXED BY reactions_mine
         WHERE room = m.room AND user_id = @viewer AND target_ms = m.ms AND target_seq = m.seq AND active = 1
       ) END AS mine, m.attachments
FROM messages m INDEXED BY <index>
LEFT JOIN changes c ON c.room = m.room AND c.ms = m.ms AND c.seq = m.seq
LEFT JOIN threads t ON t.room = m.room AND t.parent_ms = m.ms AND t.parent_seq = m.seq
LEFT JOIN reaction_summary r ON r.room = m.room AND r.ms = m.ms AND r.seq = m.seq`;
// INDEXED BY: for top-level paging the planner would otherwise prefer the covering primary
// key and filter out replies row by row, which degrades with the size of the threads.
const TOP = HISTORY.replace('<index>', 'messages_top');
const THREAD = HISTORY.replace('<index>', 'messages_thread');
const ANY = HISTORY.replace('INDEXED BY <index>', '');

export class SqliteMessages {
  private readonly s;
  private readonly insertBatch;
  private readonly applyBatch;

  constructor(db: Database.Database, attention: SqliteAttention, files: SqliteFiles) {
    this.s = {
      insertMessage: db.prepare(
        `INSERT OR IGNORE INTO messages (room, ms, seq, id, user_id, user_name, text, ts, cid, reply_ms, reply_seq, room_seq, mentions, attachments)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      storedAuthor: db.prepare<[string, number, Seq], { user_id: string; cid: string }>(
        'SELECT user_id, cid FROM messages WHERE room = ? AND ms = ? AND seq = ?',
      ),
      bumpRoom: db.prepare(
        `INSERT INTO rooms (name, last_message_at, message_count, member_a, member_b, kind, top_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET
           message_count = message_count + excluded.message_count,
           last_message_at = MAX(COALESCE(last_message_at, 0), excluded.last_message_at),
           top_seq = MAX(top_seq, excluded.top_seq)`,
      ),
      // The sidebar's preview: moves forward only, so batches may land in any order.
      setPreview: db.prepare<{ room: string; ms: number; seq: Seq; userId: string; userName: string; text: string; ts: number }>(
        `UPDATE rooms SET last_ms = @ms, last_seq = @seq, last_user_id = @userId, last_user_name = @userName,
           last_text = @text, last_ts = @ts
         WHERE name = @room AND (last_ms IS NULL OR (last_ms, last_seq) < (@ms, @seq))`,
      ),
      // From the rows, never +1/-1: a redelivered or late reply cannot skew the count.
      recountThread: db.prepare<{ room: string; ms: number; seq: Seq }>(
        `INSERT INTO threads (room, parent_ms, parent_seq, reply_count, last_reply_at)
         SELECT @room, @ms, @seq, count(*), max(m.ts) FROM messages m INDEXED BY messages_thread
         LEFT JOIN changes c ON c.room = m.room AND c.ms = m.ms AND c.seq = m.seq
         WHERE m.room = @room AND m.reply_ms = @ms AND m.reply_seq = @seq AND c.deleted IS NOT 1
         ON CONFLICT (room, parent_ms, parent_seq) DO UPDATE SET
           reply_count = excluded.reply_count, last_reply_at = excluded.last_reply_at`,
      ),
      insertEvent: db.prepare(
        `INSERT OR IGNORE INTO events (room, ms, seq, kind, target_ms, target_seq, user_id, cid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      storedEvent: db.prepare<[string, number, Seq], { kind: string; target: string; user_id: string; cid: string }>(
        `SELECT kind, target_ms || '-' || target_seq AS target, user_id, cid FROM events WHERE room = ? AND ms = ? AND seq = ?`,
      ),
      // An edit moves the version forward only; nothing revives a deleted message.
      edit: db.prepare(
        `INSERT INTO changes (room, ms, seq, v_ms, v_seq, text, edited_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, 0)
         ON CONFLICT (room, ms, seq) DO UPDATE SET
           v_ms = excluded.v_ms, v_seq = excluded.v_seq, text = excluded.text, edited_at = excluded.edited_at
         WHERE changes.deleted = 0 AND (changes.v_ms, changes.v_seq) < (excluded.v_ms, excluded.v_seq)`,
      ),
      // A delete wins whatever the order (final): the state never depends on arrival order.
      delete: db.prepare(
        `INSERT INTO changes (room, ms, seq, v_ms, v_seq, text, edited_at, deleted) VALUES (?, ?, ?, ?, ?, NULL, NULL, 1)
         ON CONFLICT (room, ms, seq) DO UPDATE SET
           deleted = 1, text = NULL, edited_at = NULL,
           v_ms = CASE WHEN (changes.v_ms, changes.v_seq) < (excluded.v_ms, excluded.v_seq) THEN excluded.v_ms ELSE changes.v_ms END,
           v_seq = CASE WHEN (changes.v_ms, changes.v_seq) < (excluded.v_ms, excluded.v_seq) THEN excluded.v_seq ELSE changes.v_seq END`,
      ),
      react: db.prepare(
        `INSERT INTO reactions (room, target_ms, target_seq, emoji, user_id, active, v_ms, v_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (room, target_ms, target_seq, emoji, user_id) DO UPDATE SET
           active = excluded.active, v_ms = excluded.v_ms, v_seq = excluded.v_seq
         WHERE (reactions.v_ms, reactions.v_seq) < (excluded.v_ms, excluded.v_seq)`,
      ),
      parentOf: db.prepare<[string, number, Seq], { reply_ms: number | null; reply_seq: number | null }>(
        'SELECT reply_ms, reply_seq FROM messages WHERE room = ? AND ms = ? AND seq = ?',
      ),
      newest: db.prepare<PageParams, HistoryRow>(
        `${TOP} WHERE m.room = @room AND m.reply_ms IS NULL ORDER BY m.ms DESC, m.seq DESC LIMIT @limit`,
      ).raw(),
      before: db.prepare<PageParams, HistoryRow>(
        `${TOP} WHERE m.room = @room AND m.reply_ms IS NULL AND (m.ms, m.seq) < (@ms, @seq)
         ORDER BY m.ms DESC, m.seq DESC LIMIT @limit`,
      ).raw(),
      after: db.prepare<PageParams, HistoryRow>(
        `${TOP} WHERE m.room = @room AND m.reply_ms IS NULL AND (m.ms, m.seq) > (@ms, @seq) ORDER BY m.ms, m.seq LIMIT @limit`,
      ).raw(),
      one: db.prepare<PageParams, HistoryRow>(`${ANY} WHERE m.room = @room AND m.ms = @ms AND m.seq = @seq`).raw(),
      replies: db.prepare<PageParams & { pMs: number; pSeq: Seq }, HistoryRow>(
        `${THREAD} WHERE m.room = @room AND m.reply_ms = @pMs AND m.reply_seq = @pSeq AND (m.ms, m.seq) > (@ms, @seq)
         ORDER BY m.ms, m.seq LIMIT @limit`,
      ).raw(),
      tally: db.prepare<[string, number, Seq], [emoji: string, count: number, first: string]>(
        `SELECT emoji, count(*), min(printf('%016d-%020d', v_ms, v_seq)) FROM reactions
         WHERE room = ? AND target_ms = ? AND target_seq = ? AND active = 1 GROUP BY emoji`,
      ).raw(),
      saveSummary: db.prepare(
        `INSERT INTO reaction_summary (room, ms, seq, reactions) VALUES (?, ?, ?, ?)
         ON CONFLICT (room, ms, seq) DO UPDATE SET reactions = excluded.reactions`,
      ),
      dropSummary: db.prepare('DELETE FROM reaction_summary WHERE room = ? AND ms = ? AND seq = ?'),
    };

    // One transaction per batch: INSERT OR IGNORE reports per row whether it was new, the room
    // counters move by exactly the rows inserted, and each thread that gained a reply is
    // recounted once, so a redelivered batch changes nothing.
    this.insertBatch = db.transaction((messages: readonly ChatMessage[]): InsertResult => {
      const perRoom = new Map<string, { count: number; last: number; topSeq: number }>();
      const newestTop = new Map<string, { m: ChatMessage; ms: number; seq: Seq }>();
      const threads = new ThreadSet();
      let inserted = 0;
      const conflicts: ChatMessage[] = [];
      const fresh: ChatMessage[] = [];
      for (const m of messages) {
        const [ms, seq] = idKey(m.id);
        const [replyMs, replySeq] = m.replyTo === undefined ? [null, null] : idKey(m.replyTo);
        // a reply has no seq (threads are not counted as unread)
        const roomSeq = replyMs === null ? (m.seq ?? null) : null;
        const mentions = m.mentions && m.mentions.length > 0 ? m.mentions.join(',') : null;
        const r = this.s.insertMessage.run(
          m.room, ms, seq, m.id, m.user.id, m.user.name, m.text, m.ts, m.cid, replyMs, replySeq, roomSeq, mentions, attachmentsColumn(m),
        );
        if (r.changes === 0) {
          // Taken: a redelivery of this message, or another message under a reused id.
          const stored = this.s.storedAuthor.get(m.room, ms, seq);
          if (stored && !sameMessage({ userId: stored.user_id, cid: stored.cid }, m)) conflicts.push(m);
          continue;
        }
        inserted++;
        fresh.push(m);
        if (m.attachments !== undefined) files.link(m, ms, seq);
        if (replyMs !== null) threads.add(m.room, replyMs, replySeq!);
        else {
          const top = newestTop.get(m.room);
          if (!top || ms > top.ms || (ms === top.ms && seq > top.seq)) newestTop.set(m.room, { m, ms, seq });
        }
        const room = perRoom.get(m.room);
        if (room) {
          room.count++;
          if (ms > room.last) room.last = ms;
          if (roomSeq !== null && roomSeq > room.topSeq) room.topSeq = roomSeq;
        } else perRoom.set(m.room, { count: 1, last: ms, topSeq: roomSeq ?? 0 });
      }
      for (const [name, { count, last, topSeq }] of perRoom) {
        const members = dmMembers(name);
        this.s.bumpRoom.run(name, last, count, members?.[0] ?? null, members?.[1] ?? null, roomKindOf(name) ?? 'public', topSeq);
      }
      for (const [room, { m, ms, seq }] of newestTop) {
        this.s.setPreview.run({ room, ms, seq, userId: m.user.id, userName: m.user.name, text: previewText(messageSummary(m)), ts: m.ts });
      }
      threads.forEach((room, ms, seq) => this.s.recountThread.run({ room, ms, seq }));
      attention.onInserted(fresh);
      return { inserted, duplicates: messages.length - inserted - conflicts.length, conflicts };
    });

    this.applyBatch = db.transaction((events: readonly RoomEvent[]): ApplyResult => {
      const threads = new ThreadSet();
      const reacted = new Map<string, [string, number, Seq]>();
      let applied = 0;
      const conflicts: RoomEvent[] = [];
      for (const e of events) {
        const [ms, seq] = idKey(e.id);
        const [tMs, tSeq] = idKey(e.target);
        if (this.s.insertEvent.run(e.room, ms, seq, e.kind, tMs, tSeq, e.user.id, e.cid).changes === 0) {
          // Taken: a redelivery (its effect is already in the state), or another event under a
          // reused id, which must not change the state either but is reported, not swallowed.
          const stored = this.s.storedEvent.get(e.room, ms, seq);
          if (stored && !sameEvent({ kind: stored.kind, target: stored.target, userId: stored.user_id, cid: stored.cid }, e)) {
            conflicts.push(e);
          }
          continue;
        }
        applied++;
        if (e.kind === 'edit') this.s.edit.run(e.room, tMs, tSeq, ms, seq, e.text, e.ts);
        else if (e.kind === 'react') {
          this.s.react.run(e.room, tMs, tSeq, e.emoji, e.user.id, e.on ? 1 : 0, ms, seq);
          reacted.set(`${e.room}\u0000${e.target}`, [e.room, tMs, tSeq]);
        }
        else {
          this.s.delete.run(e.room, tMs, tSeq, ms, seq);
          // The parent of a deleted reply: named by the event, or by the stored reply. When
          // neither knows (a reply not stored yet), the reply's own insert recounts it.
          if (e.replyTo !== undefined) threads.add(e.room, ...idKey(e.replyTo));
          else {
            const p = this.s.parentOf.get(e.room, tMs, tSeq);
            if (p && p.reply_ms !== null) threads.add(e.room, p.reply_ms, p.reply_seq!);
          }
        }
      }
      threads.forEach((room, pMs, pSeq) => this.s.recountThread.run({ room, ms: pMs, seq: pSeq }));
      for (const [room, tMs, tSeq] of reacted.values()) this.summarise(room, tMs, tSeq);
      return { applied, duplicates: events.length - applied - conflicts.length, conflicts };
    });
  }

  insert(messages: readonly ChatMessage[]): InsertResult {
    if (messages.length === 0) return { inserted: 0, duplicates: 0, conflicts: [] };
    return this.insertBatch.immediate(messages);
  }

  apply(events: readonly RoomEvent[]): ApplyResult {
    if (events.length === 0) return { applied: 0, duplicates: 0, conflicts: [] };
    return this.applyBatch.immediate(events);
  }

  before(room: string, beforeId: string | undefined, limit: number, viewerId?: string): HistoryMessage[] {
    if (limit <= 0) return [];
    const viewer = viewerId ?? null;
    if (beforeId === undefined) return this.s.newest.all({ room, viewer, limit }).reverse().map(toHistory);
    const [ms, seq] = idKey(beforeId);
    return this.s.before.all({ room, viewer, ms, seq, limit }).reverse().map(toHistory);
  }

  after(room: string, afterId: string, limit: number, viewerId?: string): HistoryMessage[] {
    if (limit <= 0) return [];
    const [ms, seq] = idKey(afterId);
    return this.s.after.all({ room, viewer: viewerId ?? null, ms, seq, limit }).map(toHistory);
  }

  one(room: string, id: string, viewerId?: string): HistoryMessage | null {
    const [ms, seq] = idKey(id);
    const row = this.s.one.get({ room, viewer: viewerId ?? null, ms, seq });
    return row ? toHistory(row) : null;
  }

  replies(room: string, parentId: string, afterId: string | undefined, limit: number, viewerId?: string): HistoryMessage[] {
    if (limit <= 0) return [];
    const [pMs, pSeq] = idKey(parentId);
    const [ms, seq] = afterId === undefined ? [-1, -1] : idKey(afterId);
    return this.s.replies.all({ room, viewer: viewerId ?? null, pMs, pSeq, ms, seq, limit }).map(toHistory);
  }

  /** Recounts a message's reaction summary from its reactions rows. */
  private summarise(room: string, ms: number, seq: Seq): void {
    const tallies = this.s.tally.all(room, ms, seq);
    if (tallies.length === 0) {
      this.s.dropSummary.run(room, ms, seq);
      return;
    }
    // display order without `me`; the reader adds each viewer's own
    const ordered = orderReactions(tallies.map(([emoji, count, first]) => ({ emoji, count, me: false, first })));
    this.s.saveSummary.run(room, ms, seq, JSON.stringify(ordered.map(({ emoji, count }) => ({ emoji, count }))));
  }
}

/** The distinct thread parents a batch touched, each recounted once at its end. */
class ThreadSet {
  private readonly parents = new Map<string, [string, number, Seq]>();
  add(room: string, ms: number, seq: Seq): void {
    this.parents.set(`${room}\u0000${ms}-${seq}`, [room, ms, seq]);
  }
  forEach(fn: (room: string, ms: number, seq: Seq) => void): void {
    for (const [room, ms, seq] of this.parents.values()) fn(room, ms, seq);
  }
}

/** A row as history shows it. */
function toHistory(row: HistoryRow): HistoryMessage {
  const [id, room, userId, userName, text, ts, cid, , , replyMs, replySeq, roomSeq, mentions, editedText, editedAt, deleted, replyCount, lastReplyAt, summary, mine, files] =
    row;
  const m: ChatMessage = { id, room, user: { id: userId, name: userName }, text, ts, cid };
  if (replyMs !== null) m.replyTo = `${replyMs}-${replySeq}`;
  if (roomSeq !== null) m.seq = roomSeq;
  if (mentions !== null) m.mentions = mentions.split(',');
  let reactions: Reaction[] | undefined;
  if (summary !== null && !deleted) {
    // the viewer's own emoji on this message, NUL-separated (emoji never contain NUL)
    const own = mine === null ? [] : mine.split('\u0000');
    reactions = (JSON.parse(summary) as { emoji: string; count: number }[]).map(({ emoji, count }) => ({
      emoji,
      count,
      me: own.includes(emoji),
    }));
  }
  const h = historyMessage(m, { editedText, editedAt, deleted, reactions, replyCount, lastReplyAt });
  const attachments = attachmentsOf(files, Boolean(deleted));
  if (attachments) h.attachments = attachments;
  return h;
}
