// The embedded store: one SQLite file through better-sqlite3 in WAL mode. better-sqlite3 is
// synchronous; every method is an async function so a thrown SQLite error (closed, locked,
// read-only database, constraint) becomes a rejected promise, as store.ts promises, never a
// crash. The schema is in store-sqlite-schema.ts (migration 1) and sqlite-migrations.ts (the
// ordered migrations, run at every open), messages and room events in
// store-sqlite-messages.ts, membership in store-sqlite-membership.ts, read positions, mentions
// and notifications in store-sqlite-attention.ts, message search (FTS5) in
// store-sqlite-search.ts, uploads in store-sqlite-files.ts, users and refresh tokens in
// store-sqlite-users.ts, profiles in store-sqlite-profiles.ts; this file opens the database,
// keeps the rooms list and hands every other call to its module.
import Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import type { MembershipLogEntry } from '../membership.js';
import type { ChatMessage, ReadMark, RoomEvent } from '../message.js';
import { DEFAULT_ROOM } from '../rooms.js';
import { SqliteAttention } from './store-sqlite-attention.js';
import { SqliteAccountDeletion } from './store-sqlite-deletion.js';
import { SqliteFiles } from './store-sqlite-files.js';
import { SqliteMembership } from './store-sqlite-membership.js';
import { SqliteMessages } from './store-sqlite-messages.js';
import { SqliteSearch } from './store-sqlite-search.js';
import { SqliteProfiles } from './store-sqlite-profiles.js';
import { SqliteUsers } from './store-sqlite-users.js';
import { migrateSqlite } from './sqlite-migrations.js';
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

export interface SqliteStoreOptions {
  /** How long a statement waits for another connection's write lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/** The file opened with the store's pragmas, not yet migrated (openSqliteStore, `cli store migrate`). */
export function openSqliteDatabase(path: string, options: SqliteStoreOptions = {}): Database.Database {
  const db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
  try {
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: in WAL mode NORMAL does not fsync at commit, so a power failure can
    // lose a committed batch after the ingestion worker has XACKed it and the trimmer has
    // deleted the Redis copy. Inserts are batched, so FULL costs one fsync per batch.
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}


interface RoomRow {
  name: string;
  last_message_at: number | null;
  message_count: number;
}

const toRoom = (r: RoomRow): RoomInfo => ({
  name: r.name,
  lastMessageAt: r.last_message_at,
  messageCount: r.message_count,
});

export async function openSqliteStore(
  path: string,
  log: Logger,
  options: SqliteStoreOptions = {},
): Promise<Store> {
  const db = openSqliteDatabase(path, options);
  let schemaVersion: number;
  try {
    // Every process that opens the file migrates it; safe with several at once (sqlite-migrations.ts).
    schemaVersion = migrateSqlite(db, { log, where: path }).to;
    db.prepare("INSERT OR IGNORE INTO rooms (name, kind) VALUES (?, 'public')").run(DEFAULT_ROOM);
  } catch (err) {
    db.close();
    throw err;
  }
  log.info({ path, journalMode: db.pragma('journal_mode', { simple: true }), schemaVersion }, 'sqlite store open');
  return new SqliteStore(db);
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly s;
  private readonly messages: SqliteMessages;
  private readonly membership: SqliteMembership;
  private readonly attention: SqliteAttention;
  private readonly files: SqliteFiles;
  private readonly search: SqliteSearch;
  private readonly profiles: SqliteProfiles;
  private readonly users: SqliteUsers;
  private readonly deletion: SqliteAccountDeletion;

  constructor(private readonly db: Database.Database) {
    this.attention = new SqliteAttention(db);
    this.files = new SqliteFiles(db);
    this.messages = new SqliteMessages(db, this.attention, this.files);
    this.membership = new SqliteMembership(db, this.attention);
    this.search = new SqliteSearch(db, (room, id, viewerId) => this.messages.one(room, id, viewerId));
    this.profiles = new SqliteProfiles(db);
    this.users = new SqliteUsers(db, this.profiles);
    this.deletion = new SqliteAccountDeletion(db);
    this.s = {
      // Public rooms (no ':' in the name: not p:, g: or dm:) and the caller's DMs; private rooms
      // and groups are listed by myRooms, to their members only.
      listRooms: db.prepare<[string, string, number], RoomRow>(
        `SELECT name, last_message_at, message_count FROM rooms
         WHERE (member_a IS NULL AND instr(name, ':') = 0) OR member_a = ? OR member_b = ?
         ORDER BY last_message_at IS NULL, last_message_at DESC, name
         LIMIT ?`,
      ),
      getRoom: db.prepare<[string], RoomRow>(
        'SELECT name, last_message_at, message_count FROM rooms WHERE name = ?',
      ),
      ping: db.prepare('SELECT 1'),
    };

  }

  async createUser(input: { username: string; passwordHash: string }): Promise<User> {
    return this.users.create(input);
  }

  async findUserByUsername(username: string): Promise<User | null> {
    return this.users.byName(username);
  }

  async findUserById(id: string): Promise<User | null> {
    return this.users.byId(id);
  }

  async searchUsers(query: string, limit: number): Promise<PublicUser[]> {
    return this.users.search(query, limit);
  }

  async setUserDisabled(userId: string, disabled: boolean): Promise<SetDisabledResult> {
    return this.users.setDisabled.immediate(userId, disabled);
  }

  async saveRefreshToken(record: RefreshTokenRecord): Promise<void> {
    this.users.saveToken(record);
  }

  async consumeRefreshToken(tokenHash: string, now: number): Promise<ConsumeRefreshResult> {
    return this.users.consume.immediate(tokenHash, now);
  }

  async revokeRefreshFamily(familyId: string): Promise<void> {
    this.users.revokeFamily(familyId);
  }

  async refreshTokenFamily(tokenHash: string): Promise<string | null> {
    return this.users.familyOf(tokenHash);
  }

  async insertMessages(messages: readonly ChatMessage[]): Promise<InsertResult> {
    return this.messages.insert(messages);
  }

  async applyEvents(events: readonly RoomEvent[]): Promise<ApplyResult> {
    return this.messages.apply(events);
  }

  async messagesBefore(room: string, beforeId: string | undefined, limit: number, viewerId?: string): Promise<HistoryMessage[]> {
    return this.messages.before(room, beforeId, limit, viewerId);
  }

  async messagesAfter(room: string, afterId: string, limit: number, viewerId?: string): Promise<HistoryMessage[]> {
    return this.messages.after(room, afterId, limit, viewerId);
  }

  async getMessage(room: string, id: string, viewerId?: string): Promise<HistoryMessage | null> {
    return this.messages.one(room, id, viewerId);
  }

  async repliesAfter(
    room: string,
    parentId: string,
    afterId: string | undefined,
    limit: number,
    viewerId?: string,
  ): Promise<HistoryMessage[]> {
    return this.messages.replies(room, parentId, afterId, limit, viewerId);
  }

  async listRooms(userId: string, limit: number): Promise<RoomInfo[]> {
    if (limit <= 0) return [];
    const rooms = this.s.listRooms.all(userId, userId, limit).map(toRoom);
    if (rooms.some((r) => r.name === DEFAULT_ROOM)) return rooms;
    const general = this.s.getRoom.get(DEFAULT_ROOM);
    return ensureGeneral(rooms, limit, general ? toRoom(general) : null);
  }

  async getRoom(name: string): Promise<RoomInfo | null> {
    const row = this.s.getRoom.get(name);
    return row ? toRoom(row) : null;
  }

  async applyMembershipEvents(events: readonly MembershipLogEntry[]): Promise<ApplyMembershipResult> {
    return this.membership.apply(events);
  }

  async membershipEventsBetween(room: string, afterId: string | undefined, beforeId: string | undefined, limit: number): Promise<MembershipLogEntry[]> {
    return this.membership.eventsBetween(room, afterId, beforeId, limit);
  }

  async roomMeta(room: string): Promise<RoomMeta | null> {
    return this.membership.roomMeta(room);
  }

  async memberState(room: string, userId: string): Promise<MemberState> {
    return this.membership.memberState(room, userId);
  }

  async roomMembers(room: string, limit: number): Promise<RoomMember[]> {
    const members = await this.membership.roomMembers(room, limit);
    return withProfiles(members, this.profiles.profiles(members.map((m) => m.id)));
  }

  async myRooms(userId: string, limit: number): Promise<MyRoom[]> {
    const rooms = await this.membership.myRooms(userId, limit);
    const peers = rooms.flatMap((r) => r.peers ?? []);
    withProfiles(peers, this.profiles.profiles(peers.map((p) => p.id)));
    return rooms;
  }

  async publicRooms(query: string, limit: number): Promise<RoomMeta[]> {
    return this.membership.publicRooms(query, limit);
  }

  async roomAcls(afterRoom: string | undefined, limit: number): Promise<RoomAclSnapshot[]> {
    return this.membership.roomAcls(afterRoom, limit);
  }

  async applyReads(marks: readonly ReadMark[]): Promise<void> {
    this.attention.applyReads(marks);
  }

  async roomReads(room: string, limit: number): Promise<RoomRead[]> {
    return this.attention.roomReads(room, limit);
  }

  async roomSeqs(afterRoom: string | undefined, limit: number): Promise<{ room: string; lastSeq: number }[]> {
    return this.attention.roomSeqs(afterRoom, limit);
  }

  async setRoomMuted(userId: string, room: string, muted: boolean): Promise<void> {
    this.attention.setRoomMuted(userId, room, muted);
  }

  async setDnd(userId: string, dnd: boolean): Promise<void> {
    this.users.setDnd(userId, dnd);
  }

  async notifyPrefs(room: string, userIds: readonly string[]): Promise<Map<string, NotifyPrefs>> {
    return this.attention.notifyPrefs(room, userIds);
  }

  async insertNotifications(list: readonly NewNotification[]): Promise<InsertedNotification[]> {
    return this.attention.insertNotifications(list);
  }

  async notifications(userId: string, opts: { beforeId?: string; limit: number; unreadOnly?: boolean }): Promise<AppNotification[]> {
    return this.attention.notifications(userId, opts);
  }

  async markNotificationsRead(userId: string, ids: readonly string[] | 'all'): Promise<void> {
    this.attention.markNotificationsRead(userId, ids);
  }

  async unreadNotificationCount(userId: string): Promise<number> {
    return this.attention.unreadNotificationCount(userId);
  }

  async saveAttachment(attachment: StoredAttachment): Promise<void> {
    this.files.save(attachment);
  }

  async getAttachment(id: string): Promise<StoredAttachment | null> {
    return this.files.get(id);
  }

  async attachmentBytesOf(userId: string): Promise<number> {
    return this.files.bytesOf(userId);
  }

  async collectableAttachments(createdBefore: number, limit: number): Promise<StoredAttachment[]> {
    return this.files.collectable(createdBefore, limit);
  }

  async deleteAttachments(ids: readonly string[]): Promise<void> {
    this.files.delete(ids);
  }

  async searchMessages(query: SearchQuery): Promise<SearchHit[]> {
    return this.search.search(query);
  }

  // --- profiles (store-sqlite-profiles.ts)
  async changePassword(userId: string, passwordHash: string, keepFamily: string | undefined): Promise<SetDisabledResult> {
    return this.profiles.changePassword(userId, passwordHash, keepFamily);
  }

  async setDisplayName(userId: string, displayName: string | null): Promise<User | null> {
    return this.profiles.setDisplayName(userId, displayName) ? this.findUserById(userId) : null;
  }

  async userProfiles(ids: readonly string[]): Promise<PublicUser[]> {
    return this.profiles.profiles(ids);
  }

  async setAvatar(userId: string, avatar: string | null): Promise<{ user: User; previous?: string } | null> {
    const r = this.profiles.setAvatar(userId, avatar);
    const user = r && (await this.findUserById(userId));
    if (!r || !user) return null;
    return r.previous === null ? { user } : { user, previous: r.previous };
  }

  async isAvatar(id: string): Promise<boolean> {
    return this.profiles.isAvatar(id);
  }

  // --- account deletion (store-sqlite-deletion.ts)
  async deleteAccount(userId: string): Promise<DeleteAccountResult> {
    return this.deletion.deleteAccount(userId);
  }

  async messagesOfUser(userId: string, limit: number): Promise<UserMessageRef[]> {
    return this.deletion.messagesOf(userId, limit);
  }

  async ping(): Promise<void> {
    this.s.ping.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
