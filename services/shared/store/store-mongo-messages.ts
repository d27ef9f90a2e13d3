// The MongoDB store's messages: inserting messages and replies, applying room events, and
// reading history in its current state (collections in store-mongo-schemas.ts, guarantees in
// store.ts).
//
// Without multi-document transactions (a standalone mongod has none) every write here is
// idempotent on its own, so a batch cut short by a crash is simply applied again:
// - an event's effect is an update pipeline guarded by the version (`v`, idSortKey of the event
//   id): the newest edit/toggle wins whatever the order, a delete wins over every edit;
// - an event's document is written FIRST: the unique _id claims (room, event id), so of two
//   different events under one id (Redis reused it) exactly one is applied and the other is a
//   conflict, even with two workers at once. Effects are then applied for every event that is
//   not a conflict, redelivered ones included — so a crash between the claim and the effects
//   leaves nothing unapplied: the redelivery (then counted as a duplicate) applies them;
// - a thread's counters are recounted from the replies (never incremented) for every reply of
//   a batch, new or redelivered, and after every delete of a reply. Two workers recounting one
//   thread at once could each write a count from its own snapshot, so a recount reads again
//   after its write and writes again until the two agree: the last write is always followed by
//   a read that saw every reply stored before it.
// - what a message moves for attention (its room's topSeq, the sender's read position, mention
//   rows: store-mongo-attention.ts) is written for every stored message of a batch, redelivered
//   ones included, by writes that are idempotent (a max, an upsert of a key).
// - linking the uploads a message names, flagging a deleted message's: store-mongo-files.ts.
import type { Connection, Model, mongo } from 'mongoose';
import type { ChatMessage, RoomEvent } from '../message.js';
import { idSortKey } from '../ids.js';
import { historyMessage, orderReactions, type ReactionTally } from './history.js';
import {
  changeSchema,
  duplicateIndexes,
  eventSchema,
  idKey,
  messageSchema,
  MESSAGE_WRITE_CONCERN,
  reactionSchema,
  threadSchema,
  type ChangeDoc,
  type EventDoc,
  type LastMessageDoc,
  type MessageDoc,
  type ReactionDoc,
  type ThreadDoc,
} from './store-mongo-schemas.js';
import { previewText } from './store-common.js';
import { messageSummary } from '../attachments.js';
import { attachmentsField, MongoFiles, withAttachments } from './store-mongo-files.js';
import { sameEvent, sameMessage, type ApplyResult, type HistoryMessage, type InsertResult } from './store.js';

/**
 * Per room, what an insert moves: `count` messages newly inserted, and — from every message of
 * the batch that is stored, redelivered ones included (a first delivery may have died before
 * this write; these moves are idempotent) — the oldest and newest ms and the newest top-level
 * message (the sidebar's preview).
 */
export interface RoomBump {
  count: number;
  first: number;
  last: number;
  top?: LastMessageDoc;
  /** The highest room seq of the batch's top-level messages (0 or absent: none). */
  topSeq?: number;
}
export type RoomBumps = Map<string, RoomBump>;

const docKey = (room: string, id: string) => `${room}|${id}`;
/** The driver's collection under a model: update pipelines reach the server as written. */
const driver = <T extends mongo.Document>(model: Model<T>) => model.collection as unknown as mongo.Collection<T>;
const durable = { writeConcern: MESSAGE_WRITE_CONCERN };
/** Recount passes before giving up on a thread under constant concurrent change (see above). */
const RECOUNT_PASSES = 5;

// Update pipelines (exported to check them without a server): every value that comes from a
// user goes through $literal, so a text such as "$text" stays text, not a field path.
const isNewer = (v: string) => ({ $lt: [{ $ifNull: ['$v', ''] }, v] });

export function editUpdate(e: RoomEvent & { kind: 'edit' }): mongo.Document[] {
  const v = idSortKey(e.id);
  const apply = { $and: [{ $ne: ['$deleted', true] }, isNewer(v)] };
  return [
    {
      $set: {
        room: { $literal: e.room },
        target: { $literal: e.target },
        v: { $cond: [apply, { $literal: v }, '$v'] },
        text: { $cond: [apply, { $literal: e.text }, '$text'] },
        editedAt: { $cond: [apply, { $literal: e.ts }, '$editedAt'] },
        deleted: { $ifNull: ['$deleted', false] },
      },
    },
  ];
}

export function deleteUpdate(e: RoomEvent): mongo.Document[] {
  const v = idSortKey(e.id);
  return [
    {
      $set: {
        room: { $literal: e.room },
        target: { $literal: e.target },
        v: { $cond: [isNewer(v), { $literal: v }, '$v'] },
        text: null,
        editedAt: null,
        deleted: true,
      },
    },
  ];
}

export function reactUpdate(e: RoomEvent & { kind: 'react' }): mongo.Document[] {
  const v = idSortKey(e.id);
  const newer = isNewer(v);
  return [
    {
      $set: {
        room: { $literal: e.room },
        target: { $literal: e.target },
        emoji: { $literal: e.emoji },
        userId: { $literal: e.user.id },
        active: { $cond: [newer, { $literal: e.on }, '$active'] },
        v: { $cond: [newer, { $literal: v }, '$v'] },
      },
    },
  ];
}

interface TallyDoc {
  _id: { t: string; e: string };
  n: number;
  me: boolean;
  first: string;
}

export class MongoMessages {
  readonly messages: Model<MessageDoc>;
  private readonly events: Model<EventDoc>;
  private readonly changes: Model<ChangeDoc>;
  private readonly reactions: Model<ReactionDoc>;
  private readonly threads: Model<ThreadDoc>;
  readonly files: MongoFiles;

  constructor(
    conn: Connection,
    private readonly bumpRooms: (bumps: RoomBumps) => Promise<void>,
    private readonly onStored: (messages: readonly ChatMessage[]) => Promise<void>,
  ) {
    this.messages = conn.model<MessageDoc>('Message', messageSchema);
    this.events = conn.model<EventDoc>('Event', eventSchema);
    this.changes = conn.model<ChangeDoc>('Change', changeSchema);
    this.reactions = conn.model<ReactionDoc>('Reaction', reactionSchema);
    this.threads = conn.model<ThreadDoc>('Thread', threadSchema);
    this.files = new MongoFiles(conn, this.changes);
  }

  /** The models' own init (collections and indexes are made by mongo-migrations.ts, before). */
  async init(): Promise<void> {
    await Promise.all([this.messages, this.events, this.changes, this.reactions, this.threads, this.files.attachments].map((m) => m.init()));
  }

  async insert(messages: readonly ChatMessage[]): Promise<InsertResult> {
    if (messages.length === 0) return { inserted: 0, duplicates: 0, conflicts: [] };
    const docs: MessageDoc[] = messages.map((m) => {
      const d: MessageDoc = {
        _id: docKey(m.room, m.id),
        room: m.room,
        ...idKey(m.id),
        id: m.id,
        userId: m.user.id,
        userName: m.user.name,
        text: m.text,
        ts: m.ts,
        cid: m.cid,
        ...attachmentsField(m),
      };
      if (m.replyTo !== undefined) {
        const p = idKey(m.replyTo);
        d.replyMs = p.ms;
        d.replySeq = p.seq;
      } else if (m.seq !== undefined) d.roomSeq = m.seq; // a reply has no seq (threads are not counted)
      if (m.mentions !== undefined && m.mentions.length > 0) d.mentions = [...m.mentions];
      return d;
    });
    let duplicates = new Set<number>();
    try {
      // lean: the documents are already in shape; skip hydration and validation
      await this.messages.insertMany(docs, { ordered: false, lean: true });
    } catch (err) {
      duplicates = duplicateIndexes(err, docs.length);
    }
    // A taken _id is a redelivery of the same message, or another message under a reused id.
    const conflicting = new Set<number>();
    if (duplicates.size > 0) {
      const ids = [...duplicates].map((i) => docs[i]!._id);
      const stored = await this.messages
        .find({ _id: { $in: ids } }, { userId: 1, cid: 1 })
        .lean<Pick<MessageDoc, '_id' | 'userId' | 'cid'>[]>();
      const byId = new Map(stored.map((d) => [d._id, d]));
      for (const i of duplicates) {
        const s = byId.get(docs[i]!._id);
        if (s && !sameMessage(s, messages[i]!)) conflicting.add(i);
      }
    }
    const bumps: RoomBumps = new Map();
    docs.forEach((d, i) => {
      if (conflicting.has(i)) return;
      const fresh = duplicates.has(i) ? 0 : 1;
      let r = bumps.get(d.room);
      if (!r) bumps.set(d.room, (r = { count: 0, first: d.ms, last: d.ms }));
      r.count += fresh;
      r.first = Math.min(r.first, d.ms);
      r.last = Math.max(r.last, d.ms);
      if (d.replyMs === undefined) {
        const k = idSortKey(d.id);
        if (!r.top || r.top.k < k) r.top = { id: d.id, k, userId: d.userId, userName: d.userName, text: previewText(messageSummary(messages[i]!)), ts: d.ts };
        if (d.roomSeq !== undefined) r.topSeq = Math.max(r.topSeq ?? 0, d.roomSeq);
      }
    });
    if (bumps.size > 0) await this.bumpRooms(bumps);
    const stored = messages.filter((_, i) => !conflicting.has(i));
    await this.onStored(stored);
    await this.files.link(stored);
    // redelivered replies too: their first delivery may have died before its recount
    const parents = new Map<string, [string, string]>();
    messages.forEach((m, i) => {
      if (m.replyTo !== undefined && !conflicting.has(i)) parents.set(docKey(m.room, m.replyTo), [m.room, m.replyTo]);
    });
    for (const [room, parent] of parents.values()) await this.recountThread(room, parent);
    const conflicts = [...conflicting].sort((a, b) => a - b).map((i) => messages[i]!);
    return { inserted: docs.length - duplicates.size, duplicates: duplicates.size - conflicts.length, conflicts };
  }

  async apply(events: readonly RoomEvent[]): Promise<ApplyResult> {
    if (events.length === 0) return { applied: 0, duplicates: 0, conflicts: [] };
    const { held, conflicting } = await this.claimEvents(events);
    const effective = events.filter((_, i) => !conflicting.has(i));
    const changeOps: mongo.AnyBulkWriteOperation<ChangeDoc>[] = [];
    const reactionOps: mongo.AnyBulkWriteOperation<ReactionDoc>[] = [];
    const parents = new Map<string, [string, string]>();
    const unknownParent: string[] = [];
    for (const e of effective) {
      const filter = { _id: docKey(e.room, e.target) };
      if (e.kind === 'react') {
        const _id = `${docKey(e.room, e.target)}|${e.emoji}|${e.user.id}`;
        reactionOps.push({ updateOne: { filter: { _id }, update: reactUpdate(e), upsert: true } });
      } else if (e.kind === 'edit') {
        changeOps.push({ updateOne: { filter, update: editUpdate(e), upsert: true } });
      } else {
        changeOps.push({ updateOne: { filter, update: deleteUpdate(e), upsert: true } });
        if (e.replyTo !== undefined) parents.set(docKey(e.room, e.replyTo), [e.room, e.replyTo]);
        else unknownParent.push(filter._id);
      }
    }
    if (changeOps.length > 0) await driver(this.changes).bulkWrite(changeOps, { ordered: false, ...durable });
    await this.files.markGone(effective.filter((e) => e.kind === 'delete').map((e) => ({ room: e.room, id: e.target })));
    if (reactionOps.length > 0) await driver(this.reactions).bulkWrite(reactionOps, { ordered: false, ...durable });
    // A deleted reply whose event did not name its parent: the stored reply does. When it is
    // not stored yet, its own insert recounts the parent.
    if (unknownParent.length > 0) {
      const replies = await this.messages
        .find({ _id: { $in: unknownParent }, replyMs: { $ne: null } }, { room: 1, replyMs: 1, replySeq: 1 })
        .lean<Pick<MessageDoc, 'room' | 'replyMs' | 'replySeq'>[]>();
      for (const r of replies) {
        const parent = `${r.replyMs}-${r.replySeq}`;
        parents.set(docKey(r.room, parent), [r.room, parent]);
      }
    }
    for (const [room, parent] of parents.values()) await this.recountThread(room, parent);
    const conflicts = [...conflicting].sort((a, b) => a - b).map((i) => events[i]!);
    return { applied: events.length - held, duplicates: held - conflicts.length, conflicts };
  }

  /**
   * Inserts the batch's event documents (the claim of each (room, event id)) and returns the
   * indexes of the events whose id holds a DIFFERENT event (`conflicting`), and how many ids
   * were already held (`held`: duplicates and conflicts).
   */
  private async claimEvents(events: readonly RoomEvent[]): Promise<{ held: number; conflicting: Set<number> }> {
    const docs: EventDoc[] = events.map((e) => ({
      _id: docKey(e.room, e.id),
      room: e.room,
      kind: e.kind,
      target: e.target,
      userId: e.user.id,
      cid: e.cid,
    }));
    let taken = new Set<number>();
    try {
      await this.events.insertMany(docs, { ordered: false, lean: true });
    } catch (err) {
      taken = duplicateIndexes(err, docs.length);
    }
    const conflicting = new Set<number>();
    if (taken.size === 0) return { held: 0, conflicting };
    const ids = [...taken].map((i) => docs[i]!._id);
    const stored = await this.events
      .find({ _id: { $in: ids } }, { kind: 1, target: 1, userId: 1, cid: 1 })
      .lean<Pick<EventDoc, '_id' | 'kind' | 'target' | 'userId' | 'cid'>[]>();
    const byId = new Map(stored.map((d) => [d._id, d]));
    for (const i of taken) {
      const s = byId.get(docs[i]!._id);
      if (s && !sameEvent(s, events[i]!)) conflicting.add(i);
    }
    return { held: taken.size, conflicting };
  }

  private async countReplies(room: string, parent: string): Promise<{ replyCount: number; lastReplyAt: number | null }> {
    const { ms, seq } = idKey(parent);
    const [r] = await this.messages.aggregate<{ n: number; last: number }>([
      { $match: { room, replyMs: ms, replySeq: seq } },
      { $lookup: { from: 'changes', localField: '_id', foreignField: '_id', as: 'c' } },
      { $match: { 'c.deleted': { $ne: true } } },
      { $group: { _id: null, n: { $sum: 1 }, last: { $max: '$ts' } } },
    ]);
    return r ? { replyCount: r.n, lastReplyAt: r.last } : { replyCount: 0, lastReplyAt: null };
  }

  private async recountThread(room: string, parent: string): Promise<void> {
    const _id = docKey(room, parent);
    let counts = await this.countReplies(room, parent);
    for (let pass = 0; pass < RECOUNT_PASSES; pass++) {
      await driver(this.threads).updateOne({ _id }, { $set: counts }, { upsert: true, ...durable });
      const again = await this.countReplies(room, parent);
      if (again.replyCount === counts.replyCount && again.lastReplyAt === counts.lastReplyAt) return;
      counts = again;
    }
  }

  async before(room: string, beforeId: string | undefined, limit: number, viewerId?: string): Promise<HistoryMessage[]> {
    if (limit <= 0) return [];
    // replyMs/replySeq null: top-level (documents from before threads have neither)
    const filter: Record<string, unknown> = { room, replyMs: null, replySeq: null };
    if (beforeId !== undefined) {
      const { ms, seq } = idKey(beforeId);
      Object.assign(filter, { ms: { $lte: ms }, $or: [{ ms: { $lt: ms } }, { seq: { $lt: seq } }] });
    }
    const docs = await this.messages.find(filter).sort({ ms: -1, seq: -1 }).limit(limit).lean<MessageDoc[]>();
    return this.withState(room, docs.reverse(), viewerId);
  }

  async after(room: string, afterId: string, limit: number, viewerId?: string): Promise<HistoryMessage[]> {
    if (limit <= 0) return [];
    const { ms, seq } = idKey(afterId);
    const docs = await this.messages
      .find({ room, replyMs: null, replySeq: null, ms: { $gte: ms }, $or: [{ ms: { $gt: ms } }, { seq: { $gt: seq } }] })
      .sort({ ms: 1, seq: 1 })
      .limit(limit)
      .lean<MessageDoc[]>();
    return this.withState(room, docs, viewerId);
  }

  async one(room: string, id: string, viewerId?: string): Promise<HistoryMessage | null> {
    const d = await this.messages.findById(docKey(room, id)).lean<MessageDoc>();
    if (!d) return null;
    return (await this.withState(room, [d], viewerId))[0]!;
  }

  async replies(room: string, parentId: string, afterId: string | undefined, limit: number, viewerId?: string): Promise<HistoryMessage[]> {
    if (limit <= 0) return [];
    const p = idKey(parentId);
    const filter: Record<string, unknown> = { room, replyMs: p.ms, replySeq: p.seq };
    if (afterId !== undefined) {
      const { ms, seq } = idKey(afterId);
      Object.assign(filter, { ms: { $gte: ms }, $or: [{ ms: { $gt: ms } }, { seq: { $gt: seq } }] });
    }
    const docs = await this.messages.find(filter).sort({ ms: 1, seq: 1 }).limit(limit).lean<MessageDoc[]>();
    return this.withState(room, docs, viewerId);
  }

  /** The page's changes, thread counters and reaction tallies: three queries by key, in parallel. */
  private async withState(room: string, docs: MessageDoc[], viewerId: string | undefined): Promise<HistoryMessage[]> {
    if (docs.length === 0) return [];
    const keys = docs.map((d) => d._id);
    const [changes, threads, tallies] = await Promise.all([
      this.changes.find({ _id: { $in: keys } }).lean<ChangeDoc[]>(),
      this.threads.find({ _id: { $in: keys } }).lean<ThreadDoc[]>(),
      this.reactions.aggregate<TallyDoc>([
        { $match: { room, target: { $in: docs.map((d) => d.id) }, active: true } },
        {
          $group: {
            _id: { t: '$target', e: '$emoji' },
            n: { $sum: 1 },
            me: { $max: { $eq: ['$userId', { $literal: viewerId ?? null }] } },
            first: { $min: '$v' },
          },
        },
      ]),
    ]);
    const changeOf = new Map(changes.map((c) => [c._id, c]));
    const threadOf = new Map(threads.map((t) => [t._id, t]));
    const talliesOf = new Map<string, ReactionTally[]>();
    for (const t of tallies) {
      const tally = { emoji: t._id.e, count: t.n, me: t.me === true, first: t.first };
      const list = talliesOf.get(t._id.t);
      if (list) list.push(tally);
      else talliesOf.set(t._id.t, [tally]);
    }
    return docs.map((d) => {
      const m: ChatMessage = { id: d.id, room: d.room, user: { id: d.userId, name: d.userName }, text: d.text, ts: d.ts, cid: d.cid };
      if (d.replyMs !== undefined && d.replyMs !== null) m.replyTo = `${d.replyMs}-${d.replySeq}`;
      if (typeof d.roomSeq === 'number') m.seq = d.roomSeq;
      if (Array.isArray(d.mentions) && d.mentions.length > 0) m.mentions = d.mentions;
      const c = changeOf.get(d._id);
      const t = threadOf.get(d._id);
      const list = talliesOf.get(d.id);
      const h = historyMessage(m, {
        editedText: c?.text,
        editedAt: c?.editedAt,
        deleted: c?.deleted,
        reactions: list ? orderReactions(list) : undefined,
        replyCount: t?.replyCount,
        lastReplyAt: t?.lastReplyAt,
      });
      return withAttachments(h, d.attachments);
    });
  }
}
