// The production store: MongoDB through mongoose, on its own connection (never the global
// mongoose one). Imported dynamically by index.ts only when MONGO_URL is set.
//
// Collections and their indexes:
//   users          _id = user id; usernameLower unique (case-insensitive uniqueness)
//   refresh_tokens _id = tokenHash (unique by construction); familyId; TTL on expiresAt with a
//                  grace period, so an expired token still answers `expired` for a while
//   messages       _id = `${room}|${id}`; {room, ms, seq} unique — the paging index, numeric order
//   rooms          _id = room name; members (DM rooms only, multikey) for listRooms
//
// bufferCommands is off and serverSelectionTimeoutMS small, so with MongoDB down every call
// rejects within seconds instead of queueing forever; callers retry.
//
// Room counters are moved by the number of messages actually inserted (duplicates excluded),
// in a second write after insertMany. Without multi-document transactions (a standalone
// mongod has none) a process killed between the two writes leaves those messages uncounted —
// never double-counted.
import { createConnection, mongo, Schema, type Connection, type Model } from 'mongoose';
import type { Logger } from '../logger.js';
import type { ChatMessage } from '../message.js';
import { parseId } from '../ids.js';
import { DEFAULT_ROOM, dmMembers } from '../rooms.js';
import {
  DuplicateUsernameError,
  ensureGeneral,
  newUserId,
  sameMessage,
  type ConsumeRefreshResult,
  type InsertResult,
  type PublicUser,
  type RefreshTokenRecord,
  type RoomInfo,
  type Store,
  type User,
} from './store.js';

export interface MongoStoreOptions {
  /** Database name; defaults to the one in the URL. Tests use a unique one each. */
  dbName?: string;
  serverSelectionTimeoutMS?: number;
}

/** Expired tokens are deleted this long after expiry (until then they answer `expired`). */
const TOKEN_GRACE_SEC = 7 * 86_400;
const DUPLICATE_KEY = 11000;

interface UserDoc {
  _id: string;
  username: string;
  usernameLower: string;
  passwordHash: string;
  createdAt: number;
}
interface TokenDoc {
  _id: string;
  userId: string;
  familyId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}
interface MessageDoc {
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
}
interface RoomDoc {
  _id: string;
  lastMessageAt: number | null;
  messageCount: number;
  members?: string[];
}

const schemaOptions = { versionKey: false, autoIndex: true, autoCreate: true } as const;

/**
 * Write concern of every write the ingestion worker's XACK depends on (messages and their room
 * counters): acknowledged by a majority of the replica set and journaled, so an acked stream
 * entry is on disk on most nodes, as SQLite's synchronous=FULL puts it on disk before the XACK.
 * Production runs MongoDB as a replica set (README); a standalone mongod accepts w:'majority'
 * as "this node, journaled" — it has no other members to wait for.
 */
export const MESSAGE_WRITE_CONCERN = Object.freeze({ w: 'majority' as const, j: true });

const userSchema = new Schema<UserDoc>(
  {
    _id: { type: String, required: true },
    username: { type: String, required: true },
    usernameLower: { type: String, required: true },
    passwordHash: { type: String, required: true },
    createdAt: { type: Number, required: true },
  },
  { ...schemaOptions, collection: 'users' },
);
userSchema.index({ usernameLower: 1 }, { unique: true });

const tokenSchema = new Schema<TokenDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    familyId: { type: String, required: true },
    expiresAt: { type: Date, required: true },
    usedAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
  },
  { ...schemaOptions, collection: 'refresh_tokens' },
);
tokenSchema.index({ familyId: 1 });
tokenSchema.index({ expiresAt: 1 }, { expireAfterSeconds: TOKEN_GRACE_SEC });

const messageSchema = new Schema<MessageDoc>(
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
  },
  // Every write of a message is majority + journaled (MESSAGE_WRITE_CONCERN).
  { ...schemaOptions, collection: 'messages', writeConcern: MESSAGE_WRITE_CONCERN },
);
messageSchema.index({ room: 1, ms: 1, seq: 1 }, { unique: true });

const roomSchema = new Schema<RoomDoc>(
  {
    _id: { type: String, required: true },
    lastMessageAt: { type: Number, default: null },
    messageCount: { type: Number, required: true, default: 0 },
    members: { type: [String], default: undefined },
  },
  { ...schemaOptions, collection: 'rooms', writeConcern: MESSAGE_WRITE_CONCERN },
);
roomSchema.index({ members: 1 }, { sparse: true });
roomSchema.index({ lastMessageAt: -1, _id: 1 });

/** The write concern mongoose applies to a collection's writes (a test checks messages and rooms). */
export function schemaWriteConcern(collection: 'messages' | 'rooms' | 'users' | 'refresh_tokens'): unknown {
  const schema = { messages: messageSchema, rooms: roomSchema, users: userSchema, refresh_tokens: tokenSchema }[collection];
  return schema.get('writeConcern');
}

/** (ms, seq) of an id as exact JS numbers (Mongo stores doubles). */
function idKey(id: string): { ms: number; seq: number } {
  const { ms, seq } = parseId(id);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`message id sequence too large to store: ${id}`);
  return { ms, seq: Number(seq) };
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const toUser = (d: UserDoc): User => ({
  id: d._id,
  username: d.username,
  passwordHash: d.passwordHash,
  createdAt: d.createdAt,
});
const toToken = (d: TokenDoc): RefreshTokenRecord => ({
  tokenHash: d._id,
  userId: d.userId,
  familyId: d.familyId,
  expiresAt: d.expiresAt.getTime(),
});
const toMessage = (d: MessageDoc): ChatMessage => ({
  id: d.id,
  room: d.room,
  user: { id: d.userId, name: d.userName },
  text: d.text,
  ts: d.ts,
  cid: d.cid,
});
const toRoom = (d: RoomDoc): RoomInfo => ({
  name: d._id,
  lastMessageAt: d.lastMessageAt ?? null,
  messageCount: d.messageCount,
});

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

const isDuplicateKey = (err: unknown) =>
  err instanceof mongo.MongoServerError && err.code === DUPLICATE_KEY;

export async function openMongoStore(url: string, log: Logger, options: MongoStoreOptions = {}): Promise<Store> {
  const conn = createConnection(url, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
    bufferCommands: false,
    autoIndex: true,
    autoCreate: true,
    ...(options.dbName ? { dbName: options.dbName } : {}),
  });
  try {
    await conn.asPromise();
    const store = new MongoStore(conn);
    await store.init();
    log.info({ db: conn.name }, 'mongo store open');
    return store;
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
  }
}

/** Drops a database (tests: each run gets its own and throws it away). */
export async function dropMongoDatabase(url: string, dbName: string): Promise<void> {
  const conn = createConnection(url, { dbName, serverSelectionTimeoutMS: 5000, bufferCommands: false });
  try {
    await conn.asPromise();
    await conn.dropDatabase();
  } finally {
    await conn.close();
  }
}

class MongoStore implements Store {
  readonly kind = 'mongo' as const;
  private closed = false;
  private readonly users: Model<UserDoc>;
  private readonly tokens: Model<TokenDoc>;
  private readonly messages: Model<MessageDoc>;
  private readonly rooms: Model<RoomDoc>;

  constructor(private readonly conn: Connection) {
    this.users = conn.model<UserDoc>('User', userSchema);
    this.tokens = conn.model<TokenDoc>('RefreshToken', tokenSchema);
    this.messages = conn.model<MessageDoc>('Message', messageSchema);
    this.rooms = conn.model<RoomDoc>('Room', roomSchema);
  }

  /** Creates the collections and indexes (idempotent) and the `general` room. */
  async init(): Promise<void> {
    await Promise.all([this.users.init(), this.tokens.init(), this.messages.init(), this.rooms.init()]);
    await this.rooms.updateOne(
      { _id: DEFAULT_ROOM },
      { $setOnInsert: { lastMessageAt: null, messageCount: 0 } },
      { upsert: true },
    );
  }

  /** The driver would silently reconnect after close(); a closed store refuses instead. */
  private live(): void {
    if (this.closed) throw new Error('store is closed');
  }

  async createUser(input: { username: string; passwordHash: string }): Promise<User> {
    this.live();
    const user: User = {
      id: newUserId(),
      username: input.username,
      passwordHash: input.passwordHash,
      createdAt: Date.now(),
    };
    try {
      await this.users.create({
        _id: user.id,
        username: user.username,
        usernameLower: user.username.toLowerCase(),
        passwordHash: user.passwordHash,
        createdAt: user.createdAt,
      });
    } catch (err) {
      if (isDuplicateKey(err) && /usernameLower/.test((err as Error).message)) {
        throw new DuplicateUsernameError(input.username);
      }
      throw err;
    }
    return user;
  }

  async findUserByUsername(username: string): Promise<User | null> {
    this.live();
    const d = await this.users.findOne({ usernameLower: username.toLowerCase() }).lean<UserDoc>();
    return d ? toUser(d) : null;
  }

  async findUserById(id: string): Promise<User | null> {
    this.live();
    const d = await this.users.findById(id).lean<UserDoc>();
    return d ? toUser(d) : null;
  }

  async searchUsers(prefix: string, limit: number): Promise<PublicUser[]> {
    this.live();
    if (limit <= 0) return [];
    // an anchored, case-sensitive regex on the lowercased name is a range scan of its index
    const docs = await this.users
      .find({ usernameLower: { $regex: `^${escapeRegex(prefix.toLowerCase())}` } }, { username: 1 })
      .sort({ usernameLower: 1 })
      .limit(limit)
      .lean<Pick<UserDoc, '_id' | 'username'>[]>();
    return docs.map((d) => ({ id: d._id, username: d.username }));
  }

  async saveRefreshToken(record: RefreshTokenRecord): Promise<void> {
    this.live();
    await this.tokens.create({
      _id: record.tokenHash,
      userId: record.userId,
      familyId: record.familyId,
      expiresAt: new Date(record.expiresAt),
      usedAt: null,
      revokedAt: null,
    });
  }

  async consumeRefreshToken(tokenHash: string, now: number): Promise<ConsumeRefreshResult> {
    this.live();
    const at = new Date(now);
    // one atomic conditional update: of concurrent consumers exactly one matches
    const spent = await this.tokens
      .findOneAndUpdate(
        { _id: tokenHash, usedAt: null, revokedAt: null, expiresAt: { $gt: at } },
        { $set: { usedAt: at } },
      )
      .lean<TokenDoc>();
    if (spent) return { status: 'ok', record: toToken(spent) };
    const d = await this.tokens.findById(tokenHash).lean<TokenDoc>();
    if (!d) return { status: 'unknown' };
    if (d.revokedAt) return { status: 'revoked' };
    if (d.usedAt) return { status: 'reused', record: toToken(d), usedAt: d.usedAt.getTime() };
    return { status: 'expired' };
  }

  async revokeRefreshFamily(familyId: string): Promise<void> {
    this.live();
    await this.tokens.updateMany({ familyId, revokedAt: null }, { $set: { revokedAt: new Date() } });
  }

  async refreshTokenFamily(tokenHash: string): Promise<string | null> {
    this.live();
    const d = await this.tokens.findById(tokenHash, { familyId: 1 }).lean<Pick<TokenDoc, 'familyId'>>();
    return d?.familyId ?? null;
  }

  async insertMessages(messages: readonly ChatMessage[]): Promise<InsertResult> {
    this.live();
    if (messages.length === 0) return { inserted: 0, duplicates: 0, conflicts: [] };
    const docs: MessageDoc[] = messages.map((m) => ({
      _id: `${m.room}|${m.id}`,
      room: m.room,
      ...idKey(m.id),
      id: m.id,
      userId: m.user.id,
      userName: m.user.name,
      text: m.text,
      ts: m.ts,
      cid: m.cid,
    }));
    let duplicates = new Set<number>();
    try {
      // lean: the documents are already in shape; skip hydration and validation
      await this.messages.insertMany(docs, { ordered: false, lean: true });
    } catch (err) {
      duplicates = duplicateIndexes(err, docs.length);
    }
    // A taken _id is a redelivery of the same message, or another message under a reused id.
    const conflicts: ChatMessage[] = [];
    if (duplicates.size > 0) {
      const ids = [...duplicates].map((i) => docs[i]!._id);
      const stored = await this.messages
        .find({ _id: { $in: ids } }, { userId: 1, cid: 1 })
        .lean<Pick<MessageDoc, '_id' | 'userId' | 'cid'>[]>();
      const byId = new Map(stored.map((d) => [d._id, d]));
      for (const i of duplicates) {
        const s = byId.get(docs[i]!._id);
        if (s && !sameMessage(s, messages[i]!)) conflicts.push(messages[i]!);
      }
    }
    const perRoom = new Map<string, { count: number; last: number }>();
    docs.forEach((d, i) => {
      if (duplicates.has(i)) return;
      const r = perRoom.get(d.room);
      if (r) {
        r.count++;
        if (d.ms > r.last) r.last = d.ms;
      } else perRoom.set(d.room, { count: 1, last: d.ms });
    });
    if (perRoom.size > 0) {
      await this.rooms.bulkWrite(
        [...perRoom].map(([name, { count, last }]) => {
          const members = dmMembers(name);
          return {
            updateOne: {
              filter: { _id: name },
              update: {
                $inc: { messageCount: count },
                $max: { lastMessageAt: last },
                ...(members ? { $setOnInsert: { members } } : {}),
              },
              upsert: true,
            },
          };
        }),
        { ordered: false, writeConcern: MESSAGE_WRITE_CONCERN },
      );
    }
    return { inserted: docs.length - duplicates.size, duplicates: duplicates.size - conflicts.length, conflicts };
  }

  async messagesBefore(room: string, beforeId: string | undefined, limit: number): Promise<ChatMessage[]> {
    this.live();
    if (limit <= 0) return [];
    let filter: Record<string, unknown> = { room };
    if (beforeId !== undefined) {
      const { ms, seq } = idKey(beforeId);
      filter = { room, $or: [{ ms: { $lt: ms } }, { ms, seq: { $lt: seq } }] };
    }
    const docs = await this.messages.find(filter).sort({ ms: -1, seq: -1 }).limit(limit).lean<MessageDoc[]>();
    return docs.reverse().map(toMessage);
  }

  async messagesAfter(room: string, afterId: string, limit: number): Promise<ChatMessage[]> {
    this.live();
    if (limit <= 0) return [];
    const { ms, seq } = idKey(afterId);
    const docs = await this.messages
      .find({ room, $or: [{ ms: { $gt: ms } }, { ms, seq: { $gt: seq } }] })
      .sort({ ms: 1, seq: 1 })
      .limit(limit)
      .lean<MessageDoc[]>();
    return docs.map(toMessage);
  }

  async listRooms(userId: string, limit: number): Promise<RoomInfo[]> {
    this.live();
    if (limit <= 0) return [];
    // lastMessageAt desc puts null (no messages) last: null sorts below every number in BSON
    const docs = await this.rooms
      .find({ $or: [{ members: { $exists: false } }, { members: userId }] })
      .sort({ lastMessageAt: -1, _id: 1 })
      .limit(limit)
      .lean<RoomDoc[]>();
    const rooms = docs.map(toRoom);
    if (rooms.some((r) => r.name === DEFAULT_ROOM)) return rooms;
    const general = await this.rooms.findById(DEFAULT_ROOM).lean<RoomDoc>();
    return ensureGeneral(rooms, limit, general ? toRoom(general) : null);
  }

  async getRoom(name: string): Promise<RoomInfo | null> {
    this.live();
    const d = await this.rooms.findById(name).lean<RoomDoc>();
    return d ? toRoom(d) : null;
  }

  async ping(): Promise<void> {
    this.live();
    const db = this.conn.db;
    if (!db) throw new Error('mongo connection is not open');
    await db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.conn.close();
  }
}
