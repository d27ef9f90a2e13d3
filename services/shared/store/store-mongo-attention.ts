// The MongoDB store's attention side (issue 15; store.ts "attention"): read positions, mention
// rows, receipts, the counters' rebuild, mute/DND and the notifications inbox.
//
//   user_rooms     _id = `${userId}|${room}`: readSeq, readId (null when a join set only the
//                  seq), muted; {room, readSeq, userId} for receipts
//   mentions       _id = `${userId}|${room}|${message id}`: seq (the message's room seq; null for
//                  a reply: notified, never counted); {userId, room, seq} for the unread range
//   notifications  _id = `${userId}|${room}|${sourceId}`: the inbox; ms/seq the source id's
//                  parts; {userId, ms, seq, room} pages it, {userId, read, ...} the unread ones
// A room's counter is `rooms.topSeq` (store-mongo-room-updates.ts bumpUpdate).
//
// As everywhere in this adapter (no multi-document transactions), every write is idempotent on
// its own: a position is raised by an update pipeline that keeps the max by seq, a mention row
// is an upsert of its key. So what a message moves is written for every message of a batch that
// is stored, redelivered ones included (their first delivery may have died before these
// writes) — a redelivery still changes no count. A join's raise is the exception: it reads the
// room's counter NOW, so it is written only when the event is applied for the first time.
import { Schema, type Connection, type Model, type mongo } from 'mongoose';
import { parseId } from '../ids.js';
import { MENTION_ROOM, type ChatMessage, type ReadMark } from '../message.js';
import { dmMembers } from '../rooms.js';
import { duplicateIndexes, idKey, MESSAGE_WRITE_CONCERN, type MembershipDoc, type RoomDoc } from './store-mongo-schemas.js';
import { notificationId, parseNotificationId, previewText } from './store-common.js';
import type { AppNotification, InsertedNotification, NewNotification, NotificationKind, NotifyPrefs, RoomRead } from './store.js';

export interface UserRoomDoc {
  _id: string;
  userId: string;
  room: string;
  readSeq: number;
  readId: string | null;
  muted: boolean;
}
export interface MentionDoc {
  _id: string;
  userId: string;
  room: string;
  id: string;
  seq: number | null;
}
export interface NotificationDoc {
  _id: string;
  userId: string;
  room: string;
  sourceId: string;
  ms: number;
  seq: number;
  kind: NotificationKind;
  actor: { id: string; name: string };
  text: string;
  ts: number;
  read: boolean;
  replyTo?: string;
}

// indexes: mongo-migrations.ts (declared here too, checked against it; see store-mongo-schemas.ts)
const durable = { versionKey: false, autoIndex: false, autoCreate: false, writeConcern: MESSAGE_WRITE_CONCERN } as const;

export const userRoomSchema = new Schema<UserRoomDoc>(
  { _id: { type: String, required: true }, userId: String, room: String, readSeq: Number, readId: String, muted: Boolean },
  { ...durable, collection: 'user_rooms' },
);
userRoomSchema.index({ room: 1, readSeq: -1, userId: 1 });

export const mentionSchema = new Schema<MentionDoc>(
  { _id: { type: String, required: true }, userId: String, room: String, id: String, seq: Number },
  { ...durable, collection: 'mentions' },
);
mentionSchema.index({ userId: 1, room: 1, seq: 1 });

export const notificationSchema = new Schema<NotificationDoc>(
  {
    _id: { type: String, required: true },
    userId: String,
    room: String,
    sourceId: String,
    ms: Number,
    seq: Number,
    kind: String,
    actor: { type: Schema.Types.Mixed },
    text: String,
    ts: Number,
    read: Boolean,
    replyTo: String,
  },
  { ...durable, collection: 'notifications' },
);
notificationSchema.index({ userId: 1, ms: -1, seq: -1, room: -1 });
notificationSchema.index({ userId: 1, read: 1, ms: -1, seq: -1, room: -1 });

const driver = <T extends mongo.Document>(model: Model<T>) => model.collection as unknown as mongo.Collection<T>;
const writeOpts = { writeConcern: MESSAGE_WRITE_CONCERN };
const userRoomKey = (userId: string, room: string) => `${userId}|${room}`;

/**
 * Raises a read position to (id, seq) when it is further (max by seq; at an equal seq a position
 * without an id takes the id: seq is unique in a room, so it is the same message). Exported to
 * check it without a server; every value from outside goes through $literal.
 */
export function raiseUpdate(userId: string, room: string, id: string | null, seq: number): mongo.Document[] {
  const cur = { $ifNull: ['$readSeq', 0] };
  const further = {
    $or: [
      { $gt: [{ $literal: seq }, cur] },
      { $and: [{ $eq: [{ $literal: seq }, cur] }, { $eq: [{ $ifNull: ['$readId', null] }, null] }, { $ne: [{ $literal: id }, null] }] },
    ],
  };
  return [
    { $set: { _further: further } },
    {
      $set: {
        userId: { $literal: userId },
        room: { $literal: room },
        muted: { $ifNull: ['$muted', false] },
        readSeq: { $cond: ['$_further', { $literal: seq }, cur] },
        readId: { $cond: ['$_further', { $literal: id }, { $ifNull: ['$readId', null] }] },
      },
    },
    { $unset: '_further' },
  ];
}

const raiseOp = (userId: string, room: string, id: string | null, seq: number): mongo.AnyBulkWriteOperation<UserRoomDoc> => ({
  updateOne: { filter: { _id: userRoomKey(userId, room) }, update: raiseUpdate(userId, room, id, seq), upsert: true },
});

const toNotification = (d: NotificationDoc): AppNotification => ({
  id: notificationId(d.room, d.sourceId),
  kind: d.kind,
  room: d.room,
  sourceId: d.sourceId,
  actor: { id: d.actor.id, name: d.actor.name },
  text: d.text,
  ts: d.ts,
  read: d.read === true,
  ...(d.replyTo ? { replyTo: d.replyTo } : {}),
});

export class MongoAttention {
  readonly userRooms: Model<UserRoomDoc>;
  private readonly mentions: Model<MentionDoc>;
  private readonly inbox: Model<NotificationDoc>;

  constructor(
    conn: Connection,
    private readonly rooms: Model<RoomDoc>,
    private readonly memberships: Model<MembershipDoc>,
    private readonly users: mongo.Collection<{ _id: string; username: string; dnd?: boolean }>,
  ) {
    this.userRooms = conn.model<UserRoomDoc>('UserRoom', userRoomSchema);
    this.mentions = conn.model<MentionDoc>('Mention', mentionSchema);
    this.inbox = conn.model<NotificationDoc>('Notification', notificationSchema);
  }

  async init(): Promise<void> {
    await Promise.all([this.userRooms.init(), this.mentions.init(), this.inbox.init()]);
  }

  /**
   * What stored messages move (see the top: redelivered ones too): each sender's position to
   * their own top-level message, and one mention row per mentioned user (MENTION_ROOM: the
   * room's members now, never the sender). The room's topSeq is raised with its counters.
   */
  async onStored(messages: readonly ChatMessage[]): Promise<void> {
    const own = new Map<string, ChatMessage>();
    const rows = new Map<string, MentionDoc>();
    const wholeRoom = [...new Set(messages.filter((m) => m.mentions?.includes(MENTION_ROOM)).map((m) => m.room))];
    const membersOf = new Map<string, string[]>();
    if (wholeRoom.length > 0) {
      const docs = await this.memberships.find({ room: { $in: wholeRoom }, rank: { $gte: 0 } }, { room: 1, userId: 1 }).lean<Pick<MembershipDoc, 'room' | 'userId'>[]>();
      for (const d of docs) membersOf.set(d.room, [...(membersOf.get(d.room) ?? []), d.userId]);
    }
    for (const m of messages) {
      const top = m.replyTo === undefined && m.seq !== undefined;
      if (top) {
        // one write per sender and room: their newest message of the batch
        const key = userRoomKey(m.user.id, m.room);
        const prev = own.get(key);
        if (!prev || prev.seq! < m.seq!) own.set(key, m);
      }
      const seq = top ? m.seq! : null;
      for (const who of new Set(m.mentions ?? [])) {
        for (const userId of who === MENTION_ROOM ? (membersOf.get(m.room) ?? []) : [who]) {
          if (userId === m.user.id) continue;
          const _id = `${userId}|${m.room}|${m.id}`;
          rows.set(_id, { _id, userId, room: m.room, id: m.id, seq });
        }
      }
    }
    const raises = [...own.values()].map((m) => raiseOp(m.user.id, m.room, m.id, m.seq!));
    const mentionOps = [...rows.values()].map((d): mongo.AnyBulkWriteOperation<MentionDoc> => ({
      updateOne: { filter: { _id: d._id }, update: { $setOnInsert: { userId: d.userId, room: d.room, id: d.id, seq: d.seq } }, upsert: true },
    }));
    await Promise.all([
      raises.length > 0 ? driver(this.userRooms).bulkWrite(raises, { ordered: false, ...writeOpts }) : null,
      mentionOps.length > 0 ? driver(this.mentions).bulkWrite(mentionOps, { ordered: false, ...writeOpts }) : null,
    ]);
  }

  /**
   * Members who joined or were invited (events applied for the first time): their position starts
   * at the room's newest message — the seq the event carries (member.lua read it at the join: exact
   * in any order of arrival), or for an older event without one, the room's topSeq now.
   */
  async onJoined(joins: readonly { room: string; userId: string; seq?: number | undefined }[]): Promise<void> {
    if (joins.length === 0) return;
    const unknown = [...new Set(joins.filter((j) => j.seq === undefined).map((j) => j.room))];
    const rooms = unknown.length === 0 ? [] : await this.rooms.find({ _id: { $in: unknown } }, { topSeq: 1 }).lean<Pick<RoomDoc, '_id' | 'topSeq'>[]>();
    const top = new Map(rooms.map((r) => [r._id, r.topSeq ?? 0]));
    const ops = joins.flatMap((j) => {
      const seq = j.seq ?? top.get(j.room) ?? 0;
      return seq > 0 ? [raiseOp(j.userId, j.room, null, seq)] : [];
    });
    if (ops.length > 0) await driver(this.userRooms).bulkWrite(ops, { ordered: true, ...writeOpts });
  }

  async applyReads(marks: readonly ReadMark[]): Promise<void> {
    if (marks.length === 0) return;
    await driver(this.userRooms).bulkWrite(marks.map((r) => raiseOp(r.user.id, r.room, r.id, r.seq)), { ordered: true, ...writeOpts });
  }

  async roomReads(room: string, limit: number): Promise<RoomRead[]> {
    if (limit <= 0) return [];
    const dm = dmMembers(room);
    if (dm) {
      const [docs, users] = await Promise.all([
        this.userRooms.find({ _id: { $in: dm.map((u) => userRoomKey(u, room)) }, readId: { $ne: null } }).lean<UserRoomDoc[]>(),
        this.users.find({ _id: { $in: dm } }, { projection: { username: 1 } }).toArray(),
      ]);
      const names = new Map(users.map((u) => [u._id, u.username]));
      return docs
        .sort((a, b) => b.readSeq - a.readSeq || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
        .slice(0, limit)
        .map((d) => ({ user: { id: d.userId, name: names.get(d.userId) ?? d.userId }, id: d.readId!, seq: d.readSeq }));
    }
    const docs = await this.userRooms.aggregate<{ userId: string; readId: string; readSeq: number; m: Pick<MembershipDoc, 'username' | 'rank'>[] }>([
      { $match: { room, readId: { $ne: null } } },
      { $sort: { readSeq: -1, userId: 1 } },
      { $addFields: { mKey: { $concat: [{ $literal: `${room}|` }, '$userId'] } } },
      { $lookup: { from: 'memberships', localField: 'mKey', foreignField: '_id', as: 'm' } },
      { $match: { 'm.rank': { $gte: 0 } } },
      { $limit: limit },
      { $project: { _id: 0, userId: 1, readId: 1, readSeq: 1, 'm.username': 1 } },
    ]);
    return docs.map((d) => ({ user: { id: d.userId, name: d.m[0]!.username }, id: d.readId, seq: d.readSeq }));
  }

  async roomSeqs(afterRoom: string | undefined, limit: number): Promise<{ room: string; lastSeq: number }[]> {
    if (limit <= 0) return [];
    const docs = await this.rooms
      .find({ _id: { $gt: afterRoom ?? '' }, topSeq: { $gt: 0 } }, { topSeq: 1 })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<Pick<RoomDoc, '_id' | 'topSeq'>[]>();
    return docs.map((d) => ({ room: d._id, lastSeq: d.topSeq ?? 0 }));
  }

  async setRoomMuted(userId: string, room: string, muted: boolean): Promise<void> {
    const update = [
      {
        $set: {
          userId: { $literal: userId },
          room: { $literal: room },
          muted: { $literal: muted },
          readSeq: { $ifNull: ['$readSeq', 0] },
          readId: { $ifNull: ['$readId', null] },
        },
      },
    ];
    await driver(this.userRooms).updateOne({ _id: userRoomKey(userId, room) }, update, { upsert: true, ...writeOpts });
  }

  async notifyPrefs(room: string, userIds: readonly string[]): Promise<Map<string, NotifyPrefs>> {
    const prefs = new Map<string, NotifyPrefs>();
    const ids = [...new Set(userIds)];
    if (ids.length === 0) return prefs;
    const dm = dmMembers(room);
    const [users, members, rows] = await Promise.all([
      this.users.find({ _id: { $in: ids } }, { projection: { dnd: 1 } }).toArray(),
      dm ? [] : this.memberships.find({ _id: { $in: ids.map((id) => `${room}|${id}`) } }, { userId: 1, rank: 1 }).lean<Pick<MembershipDoc, 'userId' | 'rank'>[]>(),
      this.userRooms.find({ _id: { $in: ids.map((id) => userRoomKey(id, room)) } }, { userId: 1, muted: 1 }).lean<Pick<UserRoomDoc, 'userId' | 'muted'>[]>(),
    ]);
    // rank is a number for members now, null for anyone without a role or banned
    const memberIds = new Set(members.filter((m) => typeof m.rank === 'number').map((m) => m.userId));
    const mutedIds = new Set(rows.filter((r) => r.muted === true).map((r) => r.userId));
    for (const u of users) {
      prefs.set(u._id, { member: dm ? dm.includes(u._id) : memberIds.has(u._id), muted: mutedIds.has(u._id), dnd: u.dnd === true });
    }
    return prefs;
  }

  async insertNotifications(list: readonly NewNotification[]): Promise<InsertedNotification[]> {
    if (list.length === 0) return [];
    const docs: NotificationDoc[] = list.map((n) => ({
      _id: `${n.userId}|${n.room}|${n.sourceId}`,
      userId: n.userId,
      room: n.room,
      sourceId: n.sourceId,
      ...idKey(n.sourceId),
      kind: n.kind,
      actor: { id: n.actor.id, name: n.actor.name },
      text: previewText(n.text),
      ts: n.ts,
      read: false,
      ...(n.replyTo === undefined ? {} : { replyTo: n.replyTo }),
    }));
    let held = new Set<number>();
    try {
      await this.inbox.insertMany(docs, { ordered: false, lean: true });
    } catch (err) {
      held = duplicateIndexes(err, docs.length);
    }
    return docs.filter((_, i) => !held.has(i)).map((d) => ({ userId: d.userId, notification: toNotification(d) }));
  }

  async notifications(userId: string, opts: { beforeId?: string; limit: number; unreadOnly?: boolean }): Promise<AppNotification[]> {
    if (opts.limit <= 0) return [];
    const filter: Record<string, unknown> = { userId };
    if (opts.unreadOnly) filter.read = false;
    if (opts.beforeId !== undefined) {
      const key = parseNotificationId(opts.beforeId);
      if (!key) return []; // not an id this store gave out: nothing is after it
      const { ms, seq } = parseId(key.sourceId);
      const s = Number(seq);
      filter.$or = [{ ms: { $lt: ms } }, { ms, seq: { $lt: s } }, { ms, seq: s, room: { $lt: key.room } }];
    }
    const docs = await this.inbox.find(filter).sort({ ms: -1, seq: -1, room: -1 }).limit(opts.limit).lean<NotificationDoc[]>();
    return docs.map(toNotification);
  }

  async markNotificationsRead(userId: string, ids: readonly string[] | 'all'): Promise<void> {
    if (ids === 'all') {
      await driver(this.inbox).updateMany({ userId, read: false }, { $set: { read: true } }, writeOpts);
      return;
    }
    const keys = ids.flatMap((id) => {
      const k = parseNotificationId(id);
      return k ? [`${userId}|${k.room}|${k.sourceId}`] : [];
    });
    if (keys.length > 0) await driver(this.inbox).updateMany({ _id: { $in: keys }, read: false }, { $set: { read: true } }, writeOpts);
  }

  async unreadNotificationCount(userId: string): Promise<number> {
    return this.inbox.countDocuments({ userId, read: false });
  }
}
