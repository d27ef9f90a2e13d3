// The SQLite store's uploads (issue 16; store.ts "files", store-files-types.ts): one row per
// stored upload, linked to the message that names it by insertMessages, in the same transaction
// as the message (store-sqlite-messages.ts calls link()). The message row keeps its own copy of
// the Attachment list (messages.attachments, JSON) for history, so a page never reads this table.
//
// Collection (collectableAttachments) must not grow with the number of uploads ever kept: the
// partial index attachments_collectable holds only the rows that can be collected — never sent
// (message_ms NULL) or named by a deleted message (`gone`). `gone` is set by the triggers below
// when a delete lands in `changes` (in the delete's own transaction), and by link() when the
// delete was stored before its message (a claimed batch is not in id order), so it never
// depends on arrival order.
import type Database from 'better-sqlite3';
import type { Attachment } from '../attachments.js';
import { parseId } from '../ids.js';
import type { ChatMessage } from '../message.js';
import type { StoredAttachment } from './store.js';

// Part of migration 1 (store-sqlite-schema.ts), frozen: a change is a new migration in sqlite-migrations.ts.
export const ATTACHMENT_SCHEMA = `
CREATE TABLE IF NOT EXISTS attachments (
  id          TEXT PRIMARY KEY,
  room        TEXT NOT NULL,
  owner_id    TEXT NOT NULL,
  name        TEXT NOT NULL,
  type        TEXT NOT NULL,
  size        INTEGER NOT NULL,
  width       INTEGER,
  height      INTEGER,
  thumb       INTEGER NOT NULL DEFAULT 0,
  storage_key TEXT NOT NULL,
  thumb_key   TEXT,
  created_at  INTEGER NOT NULL,
  -- the message that names it (NULL until a stored message does)
  message_ms  INTEGER,
  message_seq INTEGER,
  -- 1 once that message is deleted: collectable at once
  gone        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- the quota: a covering range of the owner's rows
CREATE INDEX IF NOT EXISTS attachments_owner ON attachments(owner_id, size);
-- what collection may take, oldest first (nothing else is in this index)
CREATE INDEX IF NOT EXISTS attachments_collectable ON attachments(created_at, id) WHERE message_ms IS NULL OR gone = 1;
-- a message's uploads, for the delete triggers
CREATE INDEX IF NOT EXISTS attachments_message ON attachments(room, message_ms, message_seq) WHERE message_ms IS NOT NULL;
CREATE TRIGGER IF NOT EXISTS attachments_gone_on_insert AFTER INSERT ON changes WHEN new.deleted = 1 BEGIN
  UPDATE attachments SET gone = 1 WHERE room = new.room AND message_ms = new.ms AND message_seq = new.seq;
END;
CREATE TRIGGER IF NOT EXISTS attachments_gone_on_update AFTER UPDATE OF deleted ON changes
WHEN new.deleted = 1 AND old.deleted = 0 BEGIN
  UPDATE attachments SET gone = 1 WHERE room = new.room AND message_ms = new.ms AND message_seq = new.seq;
END;
`;

interface AttachmentRow {
  id: string;
  room: string;
  owner_id: string;
  name: string;
  type: string;
  size: number;
  width: number | null;
  height: number | null;
  thumb: number;
  storage_key: string;
  thumb_key: string | null;
  created_at: number;
  message_ms: number | null;
  message_seq: number | null;
}

const COLUMNS = 'id, room, owner_id, name, type, size, width, height, thumb, storage_key, thumb_key, created_at, message_ms, message_seq';

/** Optional fields absent (never null), in the order Mongo's adapter builds them too. */
function toStored(r: AttachmentRow): StoredAttachment {
  const a: StoredAttachment = { id: r.id, name: r.name, type: r.type, size: r.size, room: r.room, ownerId: r.owner_id, storageKey: r.storage_key, createdAt: r.created_at };
  if (r.width !== null) a.width = r.width;
  if (r.height !== null) a.height = r.height;
  if (r.thumb === 1) a.thumb = true;
  if (r.thumb_key !== null) a.thumbKey = r.thumb_key;
  if (r.message_ms !== null) a.messageId = `${r.message_ms}-${r.message_seq}`;
  return a;
}

/** messages.attachments: the list as JSON, NULL for none. */
export function attachmentsColumn(m: ChatMessage): string | null {
  return m.attachments !== undefined && m.attachments.length > 0 ? JSON.stringify(m.attachments) : null;
}

/** The list a history row carries, none on a tombstone (its files go with its text). */
export function attachmentsOf(column: string | null, deleted: boolean): Attachment[] | undefined {
  return column === null || deleted ? undefined : (JSON.parse(column) as Attachment[]);
}

function idParts(id: string): [number, number | bigint] {
  const { ms, seq } = parseId(id);
  return [ms, seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : seq];
}

export class SqliteFiles {
  private readonly s;
  private readonly deleteBatch;

  constructor(db: Database.Database) {
    this.s = {
      // a message already deleted when it (or the upload) is stored: gone at once
      save: db.prepare(
        `INSERT OR IGNORE INTO attachments (${COLUMNS}, gone)
         VALUES (@id, @room, @ownerId, @name, @type, @size, @width, @height, @thumb, @storageKey, @thumbKey, @createdAt, @ms, @seq,
           coalesce((SELECT deleted FROM changes WHERE room = @room AND ms = @ms AND seq = @seq), 0))`,
      ),
      get: db.prepare<[string], AttachmentRow>(`SELECT ${COLUMNS} FROM attachments WHERE id = ?`),
      bytesOf: db.prepare<[string], number>('SELECT coalesce(sum(size), 0) FROM attachments WHERE owner_id = ?').pluck(),
      collectable: db.prepare<{ before: number; limit: number }, AttachmentRow>(
        `SELECT ${COLUMNS} FROM attachments INDEXED BY attachments_collectable
         WHERE (message_ms IS NULL OR gone = 1) AND (created_at < @before OR gone = 1)
         ORDER BY created_at, id LIMIT @limit`,
      ),
      delete: db.prepare<[string]>('DELETE FROM attachments WHERE id = ?'),
      // Only an upload of this room, by this message's author, not yet sent (send.lua checked
      // as much; the store does not take its word for it).
      link: db.prepare<{ id: string; room: string; owner: string; ms: number; seq: number | bigint }>(
        `UPDATE attachments SET message_ms = @ms, message_seq = @seq,
           gone = coalesce((SELECT deleted FROM changes WHERE room = @room AND ms = @ms AND seq = @seq), 0)
         WHERE id = @id AND room = @room AND owner_id = @owner AND message_ms IS NULL`,
      ),
    };
    this.deleteBatch = db.transaction((ids: readonly string[]) => {
      for (const id of ids) this.s.delete.run(id);
    });
  }

  save(a: StoredAttachment): void {
    const [ms, seq] = a.messageId === undefined ? [null, null] : idParts(a.messageId);
    this.s.save.run({
      id: a.id,
      room: a.room,
      ownerId: a.ownerId,
      name: a.name,
      type: a.type,
      size: a.size,
      width: a.width ?? null,
      height: a.height ?? null,
      thumb: a.thumb ? 1 : 0,
      storageKey: a.storageKey,
      thumbKey: a.thumbKey ?? null,
      createdAt: a.createdAt,
      ms,
      seq,
    });
  }

  get(id: string): StoredAttachment | null {
    const row = this.s.get.get(id);
    return row ? toStored(row) : null;
  }

  bytesOf(userId: string): number {
    return this.s.bytesOf.get(userId) ?? 0;
  }

  collectable(createdBefore: number, limit: number): StoredAttachment[] {
    if (limit <= 0) return [];
    return this.s.collectable.all({ before: createdBefore, limit }).map(toStored);
  }

  delete(ids: readonly string[]): void {
    if (ids.length > 0) this.deleteBatch.immediate(ids);
  }

  /** Inside insertMessages' transaction, for a message stored for the first time. */
  link(m: ChatMessage, ms: number, seq: number | bigint): void {
    for (const a of m.attachments ?? []) this.s.link.run({ id: a.id, room: m.room, owner: m.user.id, ms, seq });
  }
}
