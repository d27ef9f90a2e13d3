// The MongoDB store's message-side collections (messages, room events and the state they
// leave), their indexes and write concern, and the classification of insertMany failures.
// Users, tokens and rooms are in store-mongo.ts.
//
//   messages   _id = `${room}|${id}`; {room, ms, seq} unique; {room, replyMs, replySeq, ms, seq}
//              pages both the room (replyMs null: top-level; documents written before threads
//              have no replyMs and match null too) and a thread; `roomSeq` (a top-level
//              message's room counter value: `seq` is the id's part), `mentions` and
//              `attachments` (its Attachment list, store-mongo-files.ts) when set
//   events     _id = `${room}|${id}`: one per room event, its key tells new from already held;
//              kind, target, userId and cid tell a redelivery from another event under a reused id
//   changes    _id = `${room}|${target}`: edit/delete state of a message; `v` is idSortKey of the
//              newest edit/delete applied (the version), compared as a string
//   reactions  _id = `${room}|${target}|${emoji}|${userId}`; `v` the newest toggle applied;
//              {room, target, active} for a page's tallies
//   threads    _id = `${room}|${parent}`: replyCount, lastReplyAt, recounted from the replies
//   rooms      _id = room name: message counters, the room's own state (membership.ts: kind,
//              title, topic, archived, each with the version of the event that set it), member
//              count and owner, the preview of its newest top-level message; members for DMs
//   memberships   _id = `${room}|${userId}`: the state the newest member event left (`v`);
//              rank 0/1/2 (owner/admin/member) for members now, null otherwise
//   member_events _id = `${room}|${id}`: one per member/room event, as `events` for message events;
//              `k` (idSortKey) and `body` (the event as JSON) keep it whole for history, {room, k}
//              pages it (documents written before have neither and are not listed)
// The state collections are keyed by the message they change, never written into it: an event
// may be stored before its message, and joining at read time makes arrival order irrelevant.
import { mongo, Schema } from 'mongoose';
import type { Attachment } from '../attachments.js';
import { parseId } from '../ids.js';

const DUPLICATE_KEY = 11000;
// Collections and indexes are made by the migrations (mongo-migrations.ts), never by mongoose at
// model init: index builds are explicit, ordered and run once under a lock, in production and in
// tests alike. The `index()` declarations below stay as the schema's documentation, and
// mongo-migrations.test.ts fails when they and the migrations disagree.
const schemaOptions = { versionKey: false, autoIndex: false, autoCreate: false } as const;

/**
 * Write concern of every write the ingestion worker's XACK depends on (messages, events, the
 * state they change and room counters): acknowledged by a majority of the replica set and
 * journaled, so an acked stream entry is on disk on most nodes, as SQLite's synchronous=FULL
 * puts it on disk before the XACK. Production runs MongoDB as a replica set (README); a
 * standalone mongod accepts w:'majority' as "this node, journaled" — it has no other members
 * to wait for.
 */
export const MESSAGE_WRITE_CONCERN = Object.freeze({ w: 'majority' as const, j: true });
const durable = { ...schemaOptions, writeConcern: MESSAGE_WRITE_CONCERN };

export interface MessageDoc {
  _id: string;
  room: string;
  ms: number;
  seq: number;
  id: string;
  userId: string;
  userName: string;
  text: string;
  ts: number;
  cid: string;
  /** A thread reply: its parent's id parts (absent on a top-level message). */
  replyMs?: number;
  replySeq?: number;
  /** A top-level message's room seq (ChatMessage.seq); absent on replies and older messages. */
  roomSeq?: number;
  mentions?: string[];
  attachments?: Attachment[];
}
export interface EventDoc {
  _id: string;
  room: string;
  kind: string;
  target: string;
  userId: string;
  cid: string;
}
export interface ChangeDoc {
  _id: string;
  room: string;
  target: string;
  v: string;
  text?: string | null;
  editedAt?: number | null;
  deleted: boolean;
}
export interface ReactionDoc {
  _id: string;
  room: string;
  target: string;
  emoji: string;
  userId: string;
  active: boolean;
  v: string;
}
export interface ThreadDoc {
  _id: string;
  replyCount: number;
  lastReplyAt: number | null;
}

export const messageSchema = new Schema<MessageDoc>(
  {
    _id: { type: String, required: true },
    room: { type: String, required: true },
    ms: { type: Number, required: true },
    seq: { type: Number, required: true },
    id: { type: String, required: true },
    userId: { type: String, required: true },
    userName: { type: String, required: true },
    text: { type: String, required: true },
    ts: { type: Number, required: true },
    cid: { type: String, required: true },
    replyMs: { type: Number },
    replySeq: { type: Number },
    roomSeq: { type: Number },
    mentions: { type: [String], default: undefined },
    attachments: { type: Schema.Types.Mixed, default: undefined },
  },
  { ...durable, collection: 'messages' },
);
messageSchema.index({ room: 1, ms: 1, seq: 1 }, { unique: true });
messageSchema.index({ room: 1, replyMs: 1, replySeq: 1, ms: 1, seq: 1 });

export const eventSchema = new Schema<EventDoc>(
  {
    _id: { type: String, required: true },
    room: { type: String, required: true },
    kind: { type: String, required: true },
    target: { type: String, required: true },
    userId: { type: String, required: true },
    cid: { type: String, required: true },
  },
  { ...durable, collection: 'events' },
);

// changes, reactions and threads are written through the driver (update pipelines guarded by
// the version); the schemas declare the collections, their indexes and write concern.
export const changeSchema = new Schema<ChangeDoc>(
  {
    _id: { type: String, required: true },
    room: String,
    target: String,
    v: String,
    text: { type: String, default: undefined },
    editedAt: { type: Number, default: undefined },
    deleted: Boolean,
  },
  { ...durable, collection: 'changes' },
);

export const reactionSchema = new Schema<ReactionDoc>(
  {
    _id: { type: String, required: true },
    room: String,
    target: String,
    emoji: String,
    userId: String,
    active: Boolean,
    v: String,
  },
  { ...durable, collection: 'reactions' },
);
reactionSchema.index({ room: 1, target: 1, active: 1 });

export const threadSchema = new Schema<ThreadDoc>(
  {
    _id: { type: String, required: true },
    replyCount: Number,
    lastReplyAt: Number,
  },
  { ...durable, collection: 'threads' },
);

/** The newest stored top-level message of a room, as the sidebar previews it. */
export interface LastMessageDoc {
  id: string;
  /** idSortKey(id): compared as a string to keep the newest whatever the arrival order. */
  k: string;
  userId: string;
  userName: string;
  /** Cut to the preview length. */
  text: string;
  ts: number;
}
export interface RoomDoc {
  _id: string;
  lastMessageAt: number | null;
  messageCount: number;
  /** DM rooms only: its two users. */
  members?: string[];
  /** Rooms written before membership have none until init() backfills them. */
  kind?: string;
  title?: string | null;
  topic?: string;
  topicV?: string;
  archived?: boolean;
  archivedV?: string;
  createdAt?: number | null;
  createdV?: string;
  memberCount?: number;
  ownerId?: string | null;
  firstMessageAt?: number;
  last?: LastMessageDoc;
  /** The highest room seq of a stored top-level message (absent: none yet). */
  topSeq?: number;
}
export interface MembershipDoc {
  _id: string;
  room: string;
  userId: string;
  username: string;
  role: string | null;
  rank: number | null;
  banned: boolean;
  mutedUntil: number | null;
  since: number | null;
  v: string;
}
export interface MemberEventDoc {
  _id: string;
  room: string;
  kind: string;
  action: string;
  userId: string;
  cid: string;
  memberId: string | null;
  /** idSortKey(id); absent on documents written before events were kept whole. */
  k?: string;
  /** The MembershipLogEntry as JSON, exactly as first applied. */
  body?: string;
}

export const roomSchema = new Schema<RoomDoc>(
  {
    _id: { type: String, required: true },
    lastMessageAt: { type: Number, default: null },
    messageCount: { type: Number, required: true, default: 0 },
    members: { type: [String], default: undefined },
    kind: String,
    title: String,
    topic: String,
    topicV: String,
    archived: Boolean,
    archivedV: String,
    createdAt: Number,
    createdV: String,
    memberCount: Number,
    ownerId: String,
    firstMessageAt: Number,
    last: { type: Schema.Types.Mixed, default: undefined },
    topSeq: Number,
  },
  { ...durable, collection: 'rooms' },
);
roomSchema.index({ members: 1 }, { sparse: true });
roomSchema.index({ lastMessageAt: -1, _id: 1 });
// the public directory, most members first (publicRooms)
roomSchema.index({ kind: 1, archived: 1, memberCount: -1, _id: 1 });

// memberships and member_events are written through the driver (update pipelines guarded by `v`).
export const membershipSchema = new Schema<MembershipDoc>(
  {
    _id: { type: String, required: true },
    room: String,
    userId: String,
    username: String,
    role: String,
    rank: Number,
    banned: Boolean,
    mutedUntil: Number,
    since: Number,
    v: String,
  },
  { ...durable, collection: 'memberships' },
);
// "my rooms" (rank >= 0: members now) and a member list in order / member count / owner
membershipSchema.index({ userId: 1, rank: 1 });
membershipSchema.index({ room: 1, rank: 1, username: 1 });

export const memberEventSchema = new Schema<MemberEventDoc>(
  {
    _id: { type: String, required: true },
    room: { type: String, required: true },
    kind: { type: String, required: true },
    action: { type: String, required: true },
    userId: { type: String, required: true },
    cid: { type: String, required: true },
    memberId: { type: String, default: null },
    k: String,
    body: String,
  },
  { ...durable, collection: 'member_events' },
);
// a room's events in id order, for history pages (membershipEventsBetween)
memberEventSchema.index({ room: 1, k: 1 });

/** (ms, seq) of an id as exact JS numbers (Mongo stores doubles). */
export function idKey(id: string): { ms: number; seq: number } {
  const { ms, seq } = parseId(id);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`message id sequence too large to store: ${id}`);
  return { ms, seq: Number(seq) };
}

interface WriteErrorLike {
  code?: number;
  index?: number;
  err?: { code?: number; index?: number };
}

/**
 * Indexes (into the inserted array) of documents refused as duplicates by an unordered
 * insertMany. Any other failure — a non-duplicate write error, a write concern error, a
 * network or server error — is rethrown: the batch is then retried as a whole.
 */
export function duplicateIndexes(err: unknown, batchSize: number): Set<number> {
  const e = err as { code?: number; writeErrors?: WriteErrorLike[] | WriteErrorLike; writeConcernError?: unknown };
  if (e === null || typeof e !== 'object') throw err;
  if (e.writeConcernError) throw err;
  const writeErrors = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : null;
  if (writeErrors && writeErrors.length > 0) {
    const dup = new Set<number>();
    for (const we of writeErrors) {
      const code = we.code ?? we.err?.code;
      const index = we.index ?? we.err?.index;
      if (code !== DUPLICATE_KEY || typeof index !== 'number') throw err;
      dup.add(index);
    }
    return dup;
  }
  // A lone duplicate-key server error can only be attributed when the batch had one document.
  if (e.code === DUPLICATE_KEY && batchSize === 1) return new Set([0]);
  throw err;
}

export const isDuplicateKey = (err: unknown) => err instanceof mongo.MongoServerError && err.code === DUPLICATE_KEY;
