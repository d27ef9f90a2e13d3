// The production store: MongoDB through mongoose, on its own connection (never the global
// mongoose one), opened by store-mongo-open.ts — which index.ts imports dynamically only when
// MONGO_URL is set. This file is the Store's methods, each delegating to the module of its part.
//
// Collections and their indexes (declared with each schema, created by the migrations in
// mongo-migrations.ts — with a `migrations` collection recording the versions applied):
//   users, refresh_tokens: store-mongo-users.ts
//   messages, events, changes, reactions, threads: store-mongo-schemas.ts (and
//                  store-mongo-messages.ts, which reads and writes them)
//   rooms, memberships, member_events: store-mongo-schemas.ts (and store-mongo-membership.ts)
//   user_rooms, mentions, notifications: store-mongo-attention.ts
//   attachments: store-mongo-files.ts (through store-mongo-messages.ts, which links them)
//   search_docs: store-mongo-search.ts (written after each message and edit/delete batch)
//
// bufferCommands is off and serverSelectionTimeoutMS small, so with MongoDB down every call
// rejects within seconds instead of queueing forever; callers retry.
//
// Room counters are moved by the number of messages actually inserted (duplicates excluded),
// in a second write after insertMany. Without multi-document transactions (a standalone
// mongod has none) a process killed between the two writes leaves those messages uncounted —
// never double-counted.
import type { Connection, Model, mongo } from 'mongoose';
import type { MembershipLogEntry } from '../membership.js';
import type { ChatMessage, ReadMark, RoomEvent } from '../message.js';
import { DEFAULT_ROOM } from '../rooms.js';
import { MongoAccountDeletion } from './store-mongo-deletion.js';
import { MongoAttention } from './store-mongo-attention.js';
import { MongoMembership } from './store-mongo-membership.js';
import { MongoMessages } from './store-mongo-messages.js';
import { MongoSearch } from './store-mongo-search.js';
import { MongoProfiles } from './store-mongo-profiles.js';
import { roomSchema, type RoomDoc } from './store-mongo-schemas.js';
import { MongoAccounts, tokenSchema, userSchema, type TokenDoc, type UserDoc } from './store-mongo-users.js';
import {
  ensureGeneral,
  withProfiles,
  type AppNotification,
  type InsertedNotification,
  type ApplyMembershipResult,
  type ApplyResult,
  type ConsumeRefreshResult,
  type DeleteAccountResult,
  type HistoryMessage,
  type InsertResult,
  type MemberState,
  type MyRoom,
  type NewNotification,
  type NotifyPrefs,
  type PublicUser,
  type RefreshTokenRecord,
  type RoomAclSnapshot,
  type RoomInfo,
  type RoomMember,
  type RoomMeta,
  type RoomRead,
  type SearchHit,
  type SearchQuery,
  type SetDisabledResult,
  type Store,
  type StoredAttachment,
  type User,
  type UserMessageRef,
} from './store.js';

const toRoom = (d: RoomDoc): RoomInfo => ({
  name: d._id,
  lastMessageAt: d.lastMessageAt ?? null,
  messageCount: d.messageCount,
});

export class MongoStore implements Store {
  readonly kind = 'mongo' as const;
  private closed = false;
  private readonly users: Model<UserDoc>;
  private readonly tokens: Model<TokenDoc>;
  private readonly rooms: Model<RoomDoc>;
  private readonly messages: MongoMessages;
  private readonly membership: MongoMembership;
  private readonly attention: MongoAttention;
  private readonly accounts: MongoAccounts;
  private readonly search: MongoSearch;
  private readonly profiles: MongoProfiles;
  private readonly deletion: MongoAccountDeletion;

  constructor(private readonly conn: Connection) {
    this.users = conn.model<UserDoc>('User', userSchema);
    this.tokens = conn.model<TokenDoc>('RefreshToken', tokenSchema);
    this.rooms = conn.model<RoomDoc>('Room', roomSchema);
    const users = this.users.collection as unknown as mongo.Collection<{ _id: string; username: string; dnd?: boolean }>;
    this.messages = new MongoMessages(
      conn,
      (bumps) => this.membership.bumpRooms(bumps),
      (stored) => this.attention.onStored(stored),
    );
    this.membership = new MongoMembership(conn, this.rooms, users, this.messages.messages, (joins) => this.attention.onJoined(joins));
    this.attention = new MongoAttention(conn, this.rooms, this.membership.memberships, users);
    this.accounts = new MongoAccounts(this.users, this.tokens);
    this.profiles = new MongoProfiles(this.users, this.tokens);
    this.deletion = new MongoAccountDeletion(conn, this.users, this.tokens);
    this.search = new MongoSearch(conn, (room, id, viewerId) => this.messages.one(room, id, viewerId));
  }

  /**
   * The models' own init and the `general` room. Collections, indexes and the upgrade of older
   * room documents are migrations (mongo-migrations.ts), run by openMongoStore before this.
   */
  async init(): Promise<void> {
    await Promise.all([this.users.init(), this.tokens.init(), this.messages.init(), this.rooms.init()]);
    await Promise.all([this.membership.init(), this.attention.init(), this.search.init()]);
    await this.membership.ensureRoom(DEFAULT_ROOM);
  }

  /** The driver would silently reconnect after close(); a closed store refuses instead. */
  private live(): void {
    if (this.closed) throw new Error('store is closed');
  }

  async createUser(input: { username: string; passwordHash: string }): Promise<User> {
    this.live();
    return this.accounts.createUser(input);
  }

  async findUserByUsername(username: string): Promise<User | null> {
    this.live();
    return this.accounts.findUserByUsername(username);
  }

  async findUserById(id: string): Promise<User | null> {
    this.live();
    return this.accounts.findUserById(id);
  }

  async searchUsers(query: string, limit: number): Promise<PublicUser[]> {
    this.live();
    const found = await this.accounts.searchUsers(query, limit);
    return withProfiles(found, await this.profiles.profiles(found.map((u) => u.id)));
  }

  async setUserDisabled(userId: string, disabled: boolean): Promise<SetDisabledResult> {
    this.live();
    return this.accounts.setUserDisabled(userId, disabled);
  }

  async setDnd(userId: string, dnd: boolean): Promise<void> {
    this.live();
    return this.accounts.setDnd(userId, dnd);
  }

  async saveRefreshToken(record: RefreshTokenRecord): Promise<void> {
    this.live();
    return this.accounts.saveRefreshToken(record);
  }

  async consumeRefreshToken(tokenHash: string, now: number): Promise<ConsumeRefreshResult> {
    this.live();
    return this.accounts.consumeRefreshToken(tokenHash, now);
  }

  async revokeRefreshFamily(familyId: string): Promise<void> {
    this.live();
    return this.accounts.revokeRefreshFamily(familyId);
  }

  async refreshTokenFamily(tokenHash: string): Promise<string | null> {
    this.live();
    return this.accounts.refreshTokenFamily(tokenHash);
  }

  async insertMessages(messages: readonly ChatMessage[]): Promise<InsertResult> {
    this.live();
    const result = await this.messages.insert(messages);
    // the search documents follow the stored state (store-mongo-search.ts), redelivered messages too
    await this.search.onInserted(result.conflicts.length === 0 ? messages : messages.filter((m) => !result.conflicts.includes(m)));
    return result;
  }

  async applyEvents(events: readonly RoomEvent[]): Promise<ApplyResult> {
    this.live();
    const result = await this.messages.apply(events);
    await this.search.onEvents(result.conflicts.length === 0 ? events : events.filter((e) => !result.conflicts.includes(e)));
    return result;
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
    const members = await this.membership.roomMembers(room, limit);
    return withProfiles(members, await this.profiles.profiles(members.map((m) => m.id)));
  }

  async myRooms(userId: string, limit: number): Promise<MyRoom[]> {
    this.live();
    const rooms = await this.membership.myRooms(userId, limit);
    const peers = rooms.flatMap((r) => r.peers ?? []);
    withProfiles(peers, await this.profiles.profiles(peers.map((p) => p.id)));
    return rooms;
  }

  async publicRooms(query: string, limit: number): Promise<RoomMeta[]> {
    this.live();
    return this.membership.publicRooms(query, limit);
  }

  async roomAcls(afterRoom: string | undefined, limit: number): Promise<RoomAclSnapshot[]> {
    this.live();
    return this.membership.roomAcls(afterRoom, limit);
  }

  async applyReads(marks: readonly ReadMark[]): Promise<void> {
    this.live();
    return this.attention.applyReads(marks);
  }

  async roomReads(room: string, limit: number): Promise<RoomRead[]> {
    this.live();
    return this.attention.roomReads(room, limit);
  }

  async roomSeqs(afterRoom: string | undefined, limit: number): Promise<{ room: string; lastSeq: number }[]> {
    this.live();
    return this.attention.roomSeqs(afterRoom, limit);
  }

  async setRoomMuted(userId: string, room: string, muted: boolean): Promise<void> {
    this.live();
    return this.attention.setRoomMuted(userId, room, muted);
  }

  async notifyPrefs(room: string, userIds: readonly string[]): Promise<Map<string, NotifyPrefs>> {
    this.live();
    return this.attention.notifyPrefs(room, userIds);
  }

  async insertNotifications(list: readonly NewNotification[]): Promise<InsertedNotification[]> {
    this.live();
    return this.attention.insertNotifications(list);
  }

  async notifications(userId: string, opts: { beforeId?: string; limit: number; unreadOnly?: boolean }): Promise<AppNotification[]> {
    this.live();
    return this.attention.notifications(userId, opts);
  }

  async markNotificationsRead(userId: string, ids: readonly string[] | 'all'): Promise<void> {
    this.live();
    return this.attention.markNotificationsRead(userId, ids);
  }

  async unreadNotificationCount(userId: string): Promise<number> {
    this.live();
    return this.attention.unreadNotificationCount(userId);
  }

  async saveAttachment(attachment: StoredAttachment): Promise<void> {
    this.live();
    return this.messages.files.save(attachment);
  }

  async getAttachment(id: string): Promise<StoredAttachment | null> {
    this.live();
    return this.messages.files.get(id);
  }

  async attachmentBytesOf(userId: string): Promise<number> {
    this.live();
    return this.messages.files.bytesOf(userId);
  }

  async collectableAttachments(createdBefore: number, limit: number): Promise<StoredAttachment[]> {
    this.live();
    return this.messages.files.collectable(createdBefore, limit);
  }

  async deleteAttachments(ids: readonly string[]): Promise<void> {
    this.live();
    return this.messages.files.delete(ids);
  }

  async searchMessages(query: SearchQuery): Promise<SearchHit[]> {
    this.live();
    return this.search.search(query);
  }

  // --- profiles (store-mongo-profiles.ts)
  async changePassword(userId: string, passwordHash: string, keepFamily: string | undefined): Promise<SetDisabledResult> {
    this.live();
    return this.profiles.changePassword(userId, passwordHash, keepFamily);
  }

  async setDisplayName(userId: string, displayName: string | null): Promise<User | null> {
    this.live();
    return this.profiles.setDisplayName(userId, displayName);
  }

  async userProfiles(ids: readonly string[]): Promise<PublicUser[]> {
    this.live();
    return this.profiles.profiles(ids);
  }

  async setAvatar(userId: string, avatar: string | null): Promise<{ user: User; previous?: string } | null> {
    this.live();
    return this.profiles.setAvatar(userId, avatar);
  }

  async isAvatar(id: string): Promise<boolean> {
    this.live();
    return this.profiles.isAvatar(id);
  }

  // --- account deletion (store-mongo-deletion.ts)
  async deleteAccount(userId: string): Promise<DeleteAccountResult> {
    this.live();
    return this.deletion.deleteAccount(userId);
  }

  async messagesOfUser(userId: string, limit: number): Promise<UserMessageRef[]> {
    this.live();
    return this.deletion.messagesOf(userId, limit);
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
