// The MongoDB store's uploads (issue 16; store.ts "files", store-files-types.ts), with the same
// semantics as store-sqlite-files.ts:
//
//   attachments  _id = upload id: the StoredAttachment; `messageId` once a stored message names
//                it, `pending: true` until then, `gone: true` once that message is deleted.
//                {ownerId, size} sums the quota; {pending, createdAt} and {gone, createdAt}
//                (partial: only the flagged documents) are what collection walks, so it never
//                reads the uploads that stay; {room, messageId} finds a deleted message's files.
//
// Messages keep their own copy of the Attachment list (messages.attachments) for history.
// Without multi-document transactions every write here is idempotent on its own and runs for
// every stored message of a batch, redelivered ones included (a first delivery may have died
// before it): a link matches only an upload still pending, `gone` is a flag set again.
// A delete and a link may race (two batches, or an event stored before its message): the delete
// writes `changes` and THEN flags the message's linked files; a link writes messageId and THEN
// reads `changes`. Whichever runs second sees the other's first write, so a deleted message's
// files always end up gone.
import { Schema, type Connection, type Model, type mongo } from 'mongoose';
import type { Attachment } from '../attachments.js';
import type { ChatMessage } from '../message.js';
import { isDuplicateKey, MESSAGE_WRITE_CONCERN, type ChangeDoc } from './store-mongo-schemas.js';
import type { HistoryMessage, StoredAttachment } from './store.js';

export interface AttachmentDoc {
  _id: string;
  room: string;
  ownerId: string;
  name: string;
  type: string;
  size: number;
  width?: number;
  height?: number;
  thumb?: boolean;
  storageKey: string;
  thumbKey?: string;
  createdAt: number;
  messageId?: string;
  pending?: boolean;
  gone?: boolean;
}

// indexes: mongo-migrations.ts (declared here too, checked against it; see store-mongo-schemas.ts)
const durable = { versionKey: false, autoIndex: false, autoCreate: false, writeConcern: MESSAGE_WRITE_CONCERN } as const;

// written through the driver; the schema declares the collection, its indexes and write concern
export const attachmentSchema = new Schema<AttachmentDoc>(
  {
    _id: { type: String, required: true },
    room: String,
    ownerId: String,
    name: String,
    type: String,
    size: Number,
    width: Number,
    height: Number,
    thumb: Boolean,
    storageKey: String,
    thumbKey: String,
    createdAt: Number,
    messageId: String,
    pending: Boolean,
    gone: Boolean,
  },
  { ...durable, collection: 'attachments' },
);
attachmentSchema.index({ ownerId: 1, size: 1 });
attachmentSchema.index({ pending: 1, createdAt: 1, _id: 1 }, { partialFilterExpression: { pending: true } });
attachmentSchema.index({ gone: 1, createdAt: 1, _id: 1 }, { partialFilterExpression: { gone: true } });
attachmentSchema.index({ room: 1, messageId: 1 }, { partialFilterExpression: { messageId: { $exists: true } } });

/** Optional fields absent (never null), in the order SQLite's adapter builds them too. */
function toStored(d: AttachmentDoc): StoredAttachment {
  const a: StoredAttachment = { id: d._id, name: d.name, type: d.type, size: d.size, room: d.room, ownerId: d.ownerId, storageKey: d.storageKey, createdAt: d.createdAt };
  if (typeof d.width === 'number') a.width = d.width;
  if (typeof d.height === 'number') a.height = d.height;
  if (d.thumb === true) a.thumb = true;
  if (typeof d.thumbKey === 'string') a.thumbKey = d.thumbKey;
  if (typeof d.messageId === 'string') a.messageId = d.messageId;
  return a;
}

const oldestFirst = (a: AttachmentDoc, b: AttachmentDoc) =>
  a.createdAt - b.createdAt || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0);

/** A history message with its files, none on a tombstone (its files go with its text). */
export function withAttachments(h: HistoryMessage, list: Attachment[] | undefined): HistoryMessage {
  if (!h.deleted && Array.isArray(list) && list.length > 0) h.attachments = list;
  return h;
}

/** messages.attachments of a new message document (absent for none). */
export function attachmentsField(m: ChatMessage): { attachments?: Attachment[] } {
  return m.attachments !== undefined && m.attachments.length > 0 ? { attachments: m.attachments } : {};
}

export class MongoFiles {
  readonly attachments: Model<AttachmentDoc>;
  private readonly coll: mongo.Collection<AttachmentDoc>;

  constructor(
    conn: Connection,
    private readonly changes: Model<ChangeDoc>,
  ) {
    this.attachments = conn.model<AttachmentDoc>('Attachment', attachmentSchema);
    this.coll = this.attachments.collection as unknown as mongo.Collection<AttachmentDoc>;
  }

  async init(): Promise<void> {
    await this.attachments.init();
  }

  async save(a: StoredAttachment): Promise<void> {
    const doc: Omit<AttachmentDoc, '_id'> = { room: a.room, ownerId: a.ownerId, name: a.name, type: a.type, size: a.size, storageKey: a.storageKey, createdAt: a.createdAt };
    if (a.width !== undefined) doc.width = a.width;
    if (a.height !== undefined) doc.height = a.height;
    if (a.thumb) doc.thumb = true;
    if (a.thumbKey !== undefined) doc.thumbKey = a.thumbKey;
    if (a.messageId !== undefined) doc.messageId = a.messageId;
    else doc.pending = true;
    try {
      await this.coll.updateOne({ _id: a.id }, { $setOnInsert: doc }, { upsert: true, writeConcern: MESSAGE_WRITE_CONCERN });
    } catch (err) {
      // two saves of one id at once: the other one inserted it, which is all this one wanted
      if (!isDuplicateKey(err)) throw err;
    }
    if (a.messageId !== undefined) await this.goneIfDeleted([{ room: a.room, id: a.messageId }]);
  }

  async get(id: string): Promise<StoredAttachment | null> {
    const d = await this.coll.findOne({ _id: id });
    return d ? toStored(d) : null;
  }

  async bytesOf(userId: string): Promise<number> {
    const [r] = await this.coll.aggregate<{ n: number }>([{ $match: { ownerId: userId } }, { $group: { _id: null, n: { $sum: '$size' } } }]).toArray();
    return r?.n ?? 0;
  }

  async collectable(createdBefore: number, limit: number): Promise<StoredAttachment[]> {
    if (limit <= 0) return [];
    const sort = { createdAt: 1, _id: 1 } as const;
    const [unsent, gone] = await Promise.all([
      this.coll.find({ pending: true, createdAt: { $lt: createdBefore } }).sort(sort).limit(limit).toArray(),
      this.coll.find({ gone: true }).sort(sort).limit(limit).toArray(),
    ]);
    return [...unsent, ...gone].sort(oldestFirst).slice(0, limit).map(toStored);
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.coll.deleteMany({ _id: { $in: [...ids] } }, { writeConcern: MESSAGE_WRITE_CONCERN });
  }

  /**
   * Links the uploads each stored message names: only an upload of its room, by its author,
   * still pending (send.lua checked as much; the store does not take its word for it).
   */
  async link(messages: readonly ChatMessage[]): Promise<void> {
    const ops: mongo.AnyBulkWriteOperation<AttachmentDoc>[] = [];
    const named: { room: string; id: string }[] = [];
    for (const m of messages) {
      if (m.attachments === undefined || m.attachments.length === 0) continue;
      named.push({ room: m.room, id: m.id });
      for (const a of m.attachments) {
        ops.push({
          updateOne: {
            filter: { _id: a.id, room: m.room, ownerId: m.user.id, pending: true },
            update: { $set: { messageId: m.id }, $unset: { pending: '' } },
          },
        });
      }
    }
    if (ops.length === 0) return;
    await this.coll.bulkWrite(ops, { ordered: false, writeConcern: MESSAGE_WRITE_CONCERN });
    // after the link (see the header): a delete stored before its message
    await this.goneIfDeleted(named);
  }

  /** The files of messages just deleted (every delete applied, redelivered ones included). */
  async markGone(messages: readonly { room: string; id: string }[]): Promise<void> {
    if (messages.length === 0) return;
    const ops: mongo.AnyBulkWriteOperation<AttachmentDoc>[] = messages.map(({ room, id }) => ({
      updateMany: { filter: { room, messageId: id }, update: { $set: { gone: true } } },
    }));
    await this.coll.bulkWrite(ops, { ordered: false, writeConcern: MESSAGE_WRITE_CONCERN });
  }

  private async goneIfDeleted(messages: readonly { room: string; id: string }[]): Promise<void> {
    if (messages.length === 0) return;
    const deleted = await this.changes
      .find({ _id: { $in: messages.map((m) => `${m.room}|${m.id}`) }, deleted: true }, { room: 1, target: 1 })
      .lean<Pick<ChangeDoc, 'room' | 'target'>[]>();
    await this.markGone(deleted.map((c) => ({ room: c.room, id: c.target })));
  }
}
