// The production store: MongoDB through mongoose, on its own connection (never the global
// mongoose one). Imported dynamically by index.ts only when MONGO_URL is set.
//
// Collections and their indexes:
//   users, refresh_tokens: store-mongo-users.ts
//   messages, events, changes, reactions, threads: store-mongo-schemas.ts (and
//                  store-mongo-messages.ts, which reads and writes them)
//   rooms, memberships, member_events: store-mongo-schemas.ts (and store-mongo-membership.ts)
//
// bufferCommands is off and serverSelectionTimeoutMS small, so with MongoDB down every call
// rejects within seconds instead of queueing forever; callers retry.
//
// Room counters are moved by the number of messages actually inserted (duplicates excluded),
// in a second write after insertMany. Without multi-document transactions (a standalone
// mongod has none) a process killed between the two writes leaves those messages uncounted —
// never double-counted.
import { createConnection, type Connection, type Model, type mongo } from 'mongoose';
import type { Logger } from '../logger.js';
import type { MembershipLogEntry } from '../membership.js';
import type { ChatMessage, RoomEvent } from '../message.js';
import { DEFAULT_ROOM } from '../rooms.js';
import { MongoMembership } from './store-mongo-membership.js';
import { MongoMessages } from './store-mongo-messages.js';
import {
  changeSchema,
  eventSchema,
  isDuplicateKey,
  memberEventSchema,
  membershipSchema,
  messageSchema,
  reactionSchema,
  roomSchema,
  threadSchema,
  type RoomDoc,
} from './store-mongo-schemas.js';
import { tokenSchema, toToken, toUser, userSchema, type TokenDoc, type UserDoc } from './store-mongo-users.js';
import {
  DuplicateUsernameError,
  ensureGeneral,
  newUserId,
  type ApplyMembershipResult,
  type ApplyResult,
  type ConsumeRefreshResult,
  type HistoryMessage,
  type InsertResult,
  type MemberState,
  type MyRoom,
  type PublicUser,
  type RefreshTokenRecord,
  type RoomAclSnapshot,
  type RoomInfo,
  type RoomMember,
  type RoomMeta,
  type SetDisabledResult,
  type Store,
  type User,
} from './store.js';

export interface MongoStoreOptions {
  /** Database name; defaults to the one in the URL. Tests use a unique one each. */
  dbName?: string;
  serverSelectionTimeoutMS?: number;
}

export { duplicateIndexes, MESSAGE_WRITE_CONCERN } from './store-mongo-schemas.js';

const schemas = {
  messages: messageSchema,
  events: eventSchema,
  changes: changeSchema,
  reactions: reactionSchema,
  threads: threadSchema,
  rooms: roomSchema,
  memberships: membershipSchema,
  member_events: memberEventSchema,
  users: userSchema,
  refresh_tokens: tokenSchema,
};

/** The write concern mongoose applies to a collection's writes (a test checks the durable ones). */
export function schemaWriteConcern(collection: keyof typeof schemas): unknown {
  return schemas[collection].get('writeConcern');
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const toRoom = (d: RoomDoc): RoomInfo => ({
  name: d._id,
  lastMessageAt: d.lastMessageAt ?? null,
  messageCount: d.messageCount,
});

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
  private readonly rooms: Model<RoomDoc>;
  private readonly messages: MongoMessages;
  private readonly membership: MongoMembership;

  constructor(private readonly conn: Connection) {
    this.users = conn.model<UserDoc>('User', userSchema);
    this.tokens = conn.model<TokenDoc>('RefreshToken', tokenSchema);
    this.rooms = conn.model<RoomDoc>('Room', roomSchema);
    this.messages = new MongoMessages(conn, (bumps) => this.membership.bumpRooms(bumps));
    this.membership = new MongoMembership(
      conn,
      this.rooms,
      this.users.collection as unknown as mongo.Collection<{ _id: string; username: string }>,
      this.messages.messages,
    );
  }

  /** Creates the collections and indexes (idempotent), upgrades older room documents, and the `general` room. */
  async init(): Promise<void> {
    await Promise.all([this.users.init(), this.tokens.init(), this.messages.init(), this.rooms.init()]);
    await this.membership.init();
    await this.membership.ensureRoom(DEFAULT_ROOM);
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
      disabled: false,
    };
    try {
      await this.users.create({
        _id: user.id,
        username: user.username,
        usernameLower: user.username.toLowerCase(),
        passwordHash: user.passwordHash,
        createdAt: user.createdAt,
        disabled: false,
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

  /**
   * Names that contain `query` (case-insensitive), those that start with it first. Matching the
   * lowercased query against `usernameLower` is a case-insensitive regex that keeps the index: the
   * anchored half is a range scan of it; the unanchored half walks its keys in order (no document
   * is read until a key matches) and stops at `limit` matches. That walk is acceptable because the
   * users collection is bounded (registration is rate-limited per IP), the query is escaped (no
   * pattern of the caller's can backtrack) and each search is charged to the caller's request budget.
   */
  async searchUsers(query: string, limit: number): Promise<PublicUser[]> {
    this.live();
    if (limit <= 0) return [];
    const q = escapeRegex(query.toLowerCase());
    const find = (filter: object, n: number) =>
      this.users.find(filter, { username: 1 }).sort({ usernameLower: 1 }).limit(n).lean<Pick<UserDoc, '_id' | 'username'>[]>();
    const docs = await find({ usernameLower: { $regex: `^${q}` } }, limit);
    if (query && docs.length < limit) {
      docs.push(...(await find({ usernameLower: { $regex: q, $not: new RegExp(`^${q}`) } }, limit - docs.length)));
    }
    return docs.map((d) => ({ id: d._id, username: d.username }));
  }

  /**
   * Without a transaction: the flag first, then the families read, then their tokens revoked.
   * A token saved after the read (a concurrent login or refresh) is revoked too (the update
   * names the user, not the families) but not returned; the users service re-checks the flag
   * after a login and on every refresh, so that session is refused all the same.
   */
  async setUserDisabled(userId: string, disabled: boolean): Promise<SetDisabledResult> {
    this.live();
    const r = await this.users.updateOne({ _id: userId }, { $set: { disabled } });
    if (r.matchedCount === 0) return { found: false, families: [] };
    if (!disabled) return { found: true, families: [] };
    const families = (await this.tokens.distinct('familyId', { userId, revokedAt: null })) as string[];
    await this.tokens.updateMany({ userId, revokedAt: null }, { $set: { revokedAt: new Date() } });
    return { found: true, families: families.sort() };
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
    return this.messages.insert(messages);
  }

  async applyEvents(events: readonly RoomEvent[]): Promise<ApplyResult> {
    this.live();
    return this.messages.apply(events);
  }

  async messagesBefore(room: string, beforeId: string | undefined, limit: number, viewerId?: string): Promise<HistoryMessage[]> {
    this.live();
    return this.messages.before(room, beforeId, limit, viewerId);
  }

  async messagesAfter(room: string, afterId: string, limit: number, viewerId?: string): Promise<HistoryMessage[]> {
    this.live();
    return this.messages.after(room, afterId, limit, viewerId);
  }

  async getMessage(room: string, id: string, viewerId?: string): Promise<HistoryMessage | null> {
    this.live();
    return this.messages.one(room, id, viewerId);
  }

  async repliesAfter(
    room: string,
    parentId: string,
    afterId: string | undefined,
    limit: number,
    viewerId?: string,
  ): Promise<HistoryMessage[]> {
    this.live();
    return this.messages.replies(room, parentId, afterId, limit, viewerId);
  }

  async listRooms(userId: string, limit: number): Promise<RoomInfo[]> {
    this.live();
    if (limit <= 0) return [];
    // lastMessageAt desc puts null (no messages) last: null sorts below every number in BSON.
    // Public rooms have no ':' in their name; private rooms and groups are for myRooms only.
    const docs = await this.rooms
      .find({ $or: [{ members: { $exists: false }, _id: { $not: /:/ } }, { members: userId }] })
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

  async applyMembershipEvents(events: readonly MembershipLogEntry[]): Promise<ApplyMembershipResult> {
    this.live();
    return this.membership.apply(events);
  }

  async membershipEventsBetween(room: string, afterId: string | undefined, beforeId: string | undefined, limit: number): Promise<MembershipLogEntry[]> {
    this.live();
    return this.membership.eventsBetween(room, afterId, beforeId, limit);
  }

  async roomMeta(room: string): Promise<RoomMeta | null> {
    this.live();
    return this.membership.roomMeta(room);
  }

  async memberState(room: string, userId: string): Promise<MemberState> {
    this.live();
    return this.membership.memberState(room, userId);
  }

  async roomMembers(room: string, limit: number): Promise<RoomMember[]> {
    this.live();
    return this.membership.roomMembers(room, limit);
  }

  async myRooms(userId: string, limit: number): Promise<MyRoom[]> {
    this.live();
    return this.membership.myRooms(userId, limit);
  }

  async publicRooms(query: string, limit: number): Promise<RoomMeta[]> {
    this.live();
    return this.membership.publicRooms(query, limit);
  }

  async roomAcls(afterRoom: string | undefined, limit: number): Promise<RoomAclSnapshot[]> {
    this.live();
    return this.membership.roomAcls(afterRoom, limit);
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
