// The MongoDB store's rooms and membership (membership.ts, store.ts "membership"): room
// counters moved by inserts, member and room events applied, and the reads REST and the ACL
// rebuild need. Collections and indexes in store-mongo-schemas.ts.
//
// As for message events (store-mongo-messages.ts), without multi-document transactions every
// write is idempotent on its own: an event's document is inserted FIRST (the unique _id claims
// (room, event id), so a different event under a reused id is a conflict even with two workers
// at once), then the effects of every non-conflicting event of the batch, redelivered ones
// included, are applied as update pipelines guarded by the event's version (idSortKey): the
// newest member event per (room, member) wins, the newest created/topic event sets the topic,
// the newest archived/unarchived the flag. A room's member count and owner are recounted from
// the memberships after the writes, and re-read until two reads agree (another worker may be
// writing the same room). A joined/invited event claimed for the first time (not a redelivery)
// moves that member's read position up to the room's newest message (store-mongo-attention.ts).
import type { Connection, Model, mongo } from 'mongoose';
import { idSortKey } from '../ids.js';
import { GROUP_MAX_MEMBERS, sameMembershipEvent, type MembershipLogEntry, type Role } from '../membership.js';
import { dmMembers } from '../rooms.js';
import type { RoomBumps } from './store-mongo-messages.js';
import { bumpUpdate, memberUpdate, roomDefaults, roomUpdate, toRoomMeta } from './store-mongo-room-updates.js';
import {
  duplicateIndexes,
  memberEventSchema,
  membershipSchema,
  MESSAGE_WRITE_CONCERN,
  type ChangeDoc,
  type MemberEventDoc,
  type MembershipDoc,
  type MessageDoc,
  type RoomDoc,
} from './store-mongo-schemas.js';
import { addAclRow, previewText } from './store-common.js';
import type { ApplyMembershipResult, MemberState, MyRoom, PublicUser, RoomAclSnapshot, RoomMember, RoomMeta } from './store.js';

const driver = <T extends mongo.Document>(model: Model<T>) => model.collection as unknown as mongo.Collection<T>;
const durable = { writeConcern: MESSAGE_WRITE_CONCERN };
const docKey = (room: string, id: string) => `${room}|${id}`;
const RECOUNT_PASSES = 5;
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface MyRoomDoc {
  room: string;
  role: Role;
  mutedUntil?: number | null;
  r: RoomDoc;
  groupPeers: PublicUser[];
  dmPeer: string | null;
  dmUser: { username: string }[];
  lastChange: Pick<ChangeDoc, 'text' | 'deleted'>[];
  /** My user_rooms document (read position, mute), when I have one. */
  ur?: { readSeq?: number; readId?: string | null; muted?: boolean };
  readSeq: number;
  topSeq: number;
  mentionCount: { n: number }[];
}

/**
 * Fills in room documents written before membership (no kind): their state's defaults and the
 * preview of their newest top-level message. Part of migration 1 (mongo-migrations.ts): only such
 * documents are visited, and each update keeps what is already set, so a rerun changes nothing.
 */
export async function backfillRoomState(rooms: mongo.Collection<RoomDoc>, messages: mongo.Collection<MessageDoc>): Promise<number> {
  let n = 0;
  for await (const d of rooms.find({ kind: { $exists: false } }, { projection: { _id: 1, messageCount: 1 } })) {
    const set: mongo.Document[] = [{ $set: roomDefaults(d._id) }];
    if (d.messageCount > 0) {
      // null matches a missing field too: messages from before threads have none
      const topLevel = { room: d._id, replyMs: null, replySeq: null } as unknown as mongo.Filter<MessageDoc>;
      const top = await messages.find(topLevel).sort({ ms: -1, seq: -1 }).limit(1).next();
      if (top) {
        const last = { id: top.id, k: idSortKey(top.id), userId: top.userId, userName: top.userName, text: previewText(top.text), ts: top.ts };
        set.push({ $set: { last: { $ifNull: ['$last', { $literal: last }] } } });
      }
    }
    await rooms.updateOne({ _id: d._id }, set, durable);
    n++;
  }
  return n;
}

export class MongoMembership {
  readonly memberships: Model<MembershipDoc>;
  private readonly memberEvents: Model<MemberEventDoc>;

  constructor(
    conn: Connection,
    private readonly rooms: Model<RoomDoc>,
    private readonly users: mongo.Collection<{ _id: string; username: string }>,
    private readonly messages: Model<MessageDoc>,
    private readonly onJoined: (joins: { room: string; userId: string; seq?: number | undefined }[]) => Promise<void>,
  ) {
    this.memberships = conn.model<MembershipDoc>('Membership', membershipSchema);
    this.memberEvents = conn.model<MemberEventDoc>('MemberEvent', memberEventSchema);
  }

  /** The models' own init (collections and indexes are made by mongo-migrations.ts, before). */
  async init(): Promise<void> {
    await Promise.all([this.memberships.init(), this.memberEvents.init()]);
  }

  /** A room named by a member event is known from then on (roomMeta), messages or not. */
  async ensureRoom(room: string): Promise<void> {
    await driver(this.rooms).updateOne({ _id: room }, [{ $set: roomDefaults(room) }], { upsert: true, ...durable });
  }

  /** Moves room counters and previews after an insert (store-mongo-messages.ts). */
  async bumpRooms(bumps: RoomBumps): Promise<void> {
    await driver(this.rooms).bulkWrite(
      [...bumps].map(([room, b]) => ({ updateOne: { filter: { _id: room }, update: bumpUpdate(room, b), upsert: true } })),
      { ordered: false, ...durable },
    );
  }

  async apply(events: readonly MembershipLogEntry[]): Promise<ApplyMembershipResult> {
    if (events.length === 0) return { applied: 0, duplicates: 0, conflicts: [] };
    const { held, taken, conflicting } = await this.claim(events);
    const memberOps: mongo.AnyBulkWriteOperation<MembershipDoc>[] = [];
    const roomOps: mongo.AnyBulkWriteOperation<RoomDoc>[] = [];
    const touched = new Set<string>();
    events.forEach((e, i) => {
      if (conflicting.has(i)) return;
      if (e.kind === 'member') {
        memberOps.push({ updateOne: { filter: { _id: docKey(e.room, e.member.id) }, update: memberUpdate(e), upsert: true } });
        touched.add(e.room);
      } else roomOps.push({ updateOne: { filter: { _id: e.room }, update: roomUpdate(e), upsert: true } });
    });
    // ordered: updates of one document one after the other (two upserts of one new _id could race)
    if (roomOps.length > 0) await driver(this.rooms).bulkWrite(roomOps, { ordered: true, ...durable });
    if (memberOps.length > 0) await driver(this.memberships).bulkWrite(memberOps, { ordered: true, ...durable });
    for (const room of touched) await this.recount(room);
    const joins = events.flatMap((e, i) =>
      !taken.has(i) && e.kind === 'member' && (e.action === 'joined' || e.action === 'invited') ? [{ room: e.room, userId: e.member.id, seq: e.seq }] : [],
    );
    await this.onJoined(joins);
    const conflicts = [...conflicting].sort((a, b) => a - b).map((i) => events[i]!);
    return { applied: events.length - held, duplicates: held - conflicts.length, conflicts };
  }

  /** Inserts the events' documents; returns which ids were already held (`taken`) and which hold a DIFFERENT event. */
  private async claim(events: readonly MembershipLogEntry[]): Promise<{ held: number; taken: Set<number>; conflicting: Set<number> }> {
    const docs: MemberEventDoc[] = events.map((e) => ({
      _id: docKey(e.room, e.id),
      room: e.room,
      kind: e.kind,
      action: e.action,
      userId: e.user.id,
      cid: e.cid,
      memberId: e.kind === 'member' ? e.member.id : null,
      // kept whole: the first copy stays, a redelivery's insert is refused with the rest
      k: idSortKey(e.id),
      body: JSON.stringify(e),
    }));
    let taken = new Set<number>();
    try {
      await this.memberEvents.insertMany(docs, { ordered: false, lean: true });
    } catch (err) {
      taken = duplicateIndexes(err, docs.length);
    }
    const conflicting = new Set<number>();
    if (taken.size === 0) return { held: 0, taken, conflicting };
    const stored = await this.memberEvents.find({ _id: { $in: [...taken].map((i) => docs[i]!._id) } }).lean<MemberEventDoc[]>();
    const byId = new Map(stored.map((d) => [d._id, d]));
    for (const i of taken) {
      const s = byId.get(docs[i]!._id);
      if (!s) continue;
      const base = { kind: s.kind, action: s.action, user: { id: s.userId }, cid: s.cid };
      const asEvent = (s.kind === 'member' ? { ...base, member: { id: s.memberId } } : base) as unknown as MembershipLogEntry;
      if (!sameMembershipEvent(asEvent, events[i]!)) conflicting.add(i);
    }
    return { held: taken.size, taken, conflicting };
  }

  /** See store.ts membershipEventsBetween: newest first from the upper bound, cut, reversed. */
  async eventsBetween(room: string, afterId: string | undefined, beforeId: string | undefined, limit: number): Promise<MembershipLogEntry[]> {
    if (limit <= 0) return [];
    // '' is below every idSortKey, and a range on a string never matches a document without k.
    const k: Record<string, string> = { $gt: afterId === undefined ? '' : idSortKey(afterId) };
    if (beforeId !== undefined) k.$lt = idSortKey(beforeId);
    const docs = await this.memberEvents
      .find({ room, k }, { _id: 0, body: 1 })
      .sort({ k: -1 })
      .limit(limit)
      .lean<Pick<MemberEventDoc, 'body'>[]>();
    return docs.reverse().flatMap((d) => (d.body === undefined ? [] : [JSON.parse(d.body) as MembershipLogEntry]));
  }

  private async counts(room: string): Promise<{ memberCount: number; ownerId: string | null }> {
    const [memberCount, owner] = await Promise.all([
      this.memberships.countDocuments({ room, rank: { $gte: 0 } }),
      this.memberships.findOne({ room, rank: 0 }, { userId: 1 }).sort({ username: 1 }).lean<Pick<MembershipDoc, 'userId'>>(),
    ]);
    return { memberCount, ownerId: owner?.userId ?? null };
  }

  private async recount(room: string): Promise<void> {
    await this.ensureRoom(room);
    let counts = await this.counts(room);
    for (let pass = 0; pass < RECOUNT_PASSES; pass++) {
      await driver(this.rooms).updateOne({ _id: room }, { $set: counts }, durable);
      const again = await this.counts(room);
      if (again.memberCount === counts.memberCount && again.ownerId === counts.ownerId) return;
      counts = again;
    }
  }

  async roomMeta(room: string): Promise<RoomMeta | null> {
    const d = await this.rooms.findById(room).lean<RoomDoc>();
    return d ? toRoomMeta(d) : null;
  }

  async memberState(room: string, userId: string): Promise<MemberState> {
    const dm = dmMembers(room);
    if (dm) return dm.includes(userId) ? { role: 'member', banned: false } : { banned: false };
    const d = await this.memberships.findById(docKey(room, userId)).lean<MembershipDoc>();
    const state: MemberState = { banned: d?.banned === true };
    if (d && typeof d.rank === 'number' && d.role) state.role = d.role as Role;
    if (d && typeof d.mutedUntil === 'number') state.mutedUntil = d.mutedUntil;
    return state;
  }

  async roomMembers(room: string, limit: number): Promise<RoomMember[]> {
    if (limit <= 0) return [];
    const dm = dmMembers(room);
    if (dm) {
      const [users, first] = await Promise.all([
        this.users.find({ _id: { $in: dm } }, { projection: { username: 1 } }).toArray(),
        this.messages.findOne({ room }, { ts: 1 }).sort({ ms: 1, seq: 1 }).lean<Pick<MessageDoc, 'ts'>>(),
      ]);
      const names = new Map(users.map((u) => [u._id, u.username]));
      return dm
        .map((id): RoomMember => ({ id, username: names.get(id) ?? id, role: 'member', since: first?.ts ?? 0 }))
        .sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0))
        .slice(0, limit);
    }
    const docs = await this.memberships
      .find({ room, rank: { $gte: 0 } })
      .sort({ rank: 1, username: 1 })
      .limit(limit)
      .lean<MembershipDoc[]>();
    return docs.map((d) => {
      const m: RoomMember = { id: d.userId, username: d.username, role: d.role as Role, since: d.since ?? Number(d.v.slice(0, 16)) };
      if (typeof d.mutedUntil === 'number') m.mutedUntil = d.mutedUntil;
      return m;
    });
  }

  /**
   * One aggregate: the user's memberships (index userId+rank) and, through $unionWith, the DMs
   * they are in with a message stored (index members); each joined to its room by _id, sorted by
   * activity and cut at `limit` BEFORE the per-room lookups (group peers, a DM peer's name, the
   * preview's edit/delete), so those run for at most `limit` rooms, each by index. Attention
   * adds two per room: my user_rooms document by _id and, only when something is unread, the
   * count of my mention rows past my position (index userId+room+seq: my own rows only).
   */
  async myRooms(userId: string, limit: number): Promise<MyRoom[]> {
    if (limit <= 0) return [];
    const me = { $literal: userId };
    const docs = await this.memberships.aggregate<MyRoomDoc>([
      { $match: { userId, rank: { $gte: 0 }, room: { $not: /^dm:/ } } },
      { $project: { _id: 0, room: 1, role: 1, mutedUntil: 1, since: { $ifNull: ['$since', { $toLong: { $substrBytes: ['$v', 0, 16] } }] } } },
      {
        $unionWith: {
          coll: 'rooms',
          pipeline: [
            { $match: { members: userId, lastMessageAt: { $ne: null } } },
            { $project: { _id: 0, room: '$_id', role: { $literal: 'member' }, since: { $literal: null } } },
          ],
        },
      },
      { $lookup: { from: 'rooms', localField: 'room', foreignField: '_id', as: 'r' } },
      { $unwind: '$r' },
      { $addFields: { activity: { $ifNull: ['$r.lastMessageAt', '$since'] } } },
      { $sort: { activity: -1, room: 1 } },
      { $limit: limit },
      {
        $lookup: {
          from: 'memberships',
          let: { room: '$room', kind: '$r.kind' },
          pipeline: [
            { $match: { $expr: { $and: [{ $eq: ['$$kind', 'group'] }, { $eq: ['$room', '$$room'] }] } } },
            { $match: { rank: { $gte: 0 }, userId: { $ne: userId } } },
            { $sort: { username: 1 } },
            { $limit: GROUP_MAX_MEMBERS },
            { $project: { _id: 0, id: '$userId', username: 1 } },
          ],
          as: 'groupPeers',
        },
      },
      {
        $addFields: {
          dmPeer: { $cond: [{ $isArray: '$r.members' }, { $arrayElemAt: [{ $filter: { input: '$r.members', cond: { $ne: ['$$this', me] } } }, 0] }, null] },
          lastKey: { $cond: [{ $ifNull: ['$r.last', false] }, { $concat: ['$room', '|', '$r.last.id'] }, null] },
          urKey: { $concat: [{ $literal: `${userId}|` }, '$room'] },
        },
      },
      { $lookup: { from: 'users', localField: 'dmPeer', foreignField: '_id', as: 'dmUser' } },
      { $lookup: { from: 'changes', localField: 'lastKey', foreignField: '_id', as: 'lastChange' } },
      { $lookup: { from: 'user_rooms', localField: 'urKey', foreignField: '_id', as: 'ur' } },
      { $addFields: { ur: { $arrayElemAt: ['$ur', 0] } } },
      { $addFields: { readSeq: { $ifNull: ['$ur.readSeq', 0] }, topSeq: { $ifNull: ['$r.topSeq', 0] } } },
      {
        $lookup: {
          from: 'mentions',
          let: { room: '$room', readSeq: '$readSeq', topSeq: '$topSeq' },
          pipeline: [
            { $match: { userId, $expr: { $and: [{ $gt: ['$$topSeq', '$$readSeq'] }, { $eq: ['$room', '$$room'] }, { $gt: ['$seq', '$$readSeq'] }] } } },
            { $count: 'n' },
          ],
          as: 'mentionCount',
        },
      },
    ]);
    return docs.map((d) => {
      const room: MyRoom = {
        ...toRoomMeta(d.r),
        role: d.role,
        ...(typeof d.mutedUntil === 'number' && { mutedUntil: d.mutedUntil }),
        lastSeq: d.topSeq,
        readSeq: d.readSeq,
        ...(typeof d.ur?.readId === 'string' && { readId: d.ur.readId }),
        // two integers, never a scan; a position past the counter (a Redis loss) is not negative
        unread: Math.max(0, d.topSeq - d.readSeq),
        mentions: d.mentionCount[0]?.n ?? 0,
        muted: d.ur?.muted === true,
      };
      if (room.kind === 'group') room.peers = d.groupPeers.map((p) => ({ id: p.id, username: p.username }));
      else if (room.kind === 'dm' && d.dmPeer) room.peers = [{ id: d.dmPeer, username: d.dmUser[0]?.username ?? d.dmPeer }];
      const last = d.r.last;
      if (last) {
        const change = d.lastChange[0];
        const text = change?.deleted ? '' : previewText(change?.text ?? last.text);
        room.lastMessage = { id: last.id, user: { id: last.userId, name: last.userName }, text, ts: last.ts };
      }
      return room;
    });
  }

  async publicRooms(query: string, limit: number): Promise<RoomMeta[]> {
    if (limit <= 0) return [];
    const filter: Record<string, unknown> = { kind: 'public', archived: false };
    if (query) filter._id = { $regex: escapeRegex(query), $options: 'i' };
    const docs = await this.rooms.find(filter).sort({ memberCount: -1, _id: 1 }).limit(limit).lean<RoomDoc[]>();
    return docs.map(toRoomMeta);
  }

  async roomAcls(afterRoom: string | undefined, limit: number): Promise<RoomAclSnapshot[]> {
    if (limit <= 0) return [];
    const rooms = await this.rooms
      .find({ _id: { $gt: afterRoom ?? '' }, kind: { $ne: 'dm' }, members: { $exists: false } })
      .sort({ _id: 1 })
      .limit(limit)
      .lean<RoomDoc[]>();
    if (rooms.length === 0) return [];
    const snapshots = new Map<string, RoomAclSnapshot>();
    for (const d of rooms) {
      const meta = toRoomMeta(d);
      const snap: RoomAclSnapshot = { room: d._id, kind: meta.kind, topic: meta.topic, archived: meta.archived, members: [], banned: [], mutedNonMembers: [] };
      if (meta.title !== undefined) snap.title = meta.title;
      snapshots.set(d._id, snap);
    }
    const rows = await this.memberships
      .find({ room: { $in: [...snapshots.keys()] }, $or: [{ rank: { $gte: 0 } }, { banned: true }, { mutedUntil: { $ne: null } }] })
      .lean<MembershipDoc[]>();
    rows.sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
    for (const r of rows) {
      addAclRow(snapshots.get(r.room)!, {
        user_id: r.userId,
        username: r.username,
        role: typeof r.rank === 'number' ? (r.role as Role) : null,
        banned: r.banned === true,
        muted_until: typeof r.mutedUntil === 'number' ? r.mutedUntil : null,
      });
    }
    return [...snapshots.values()];
  }
}
