// The embedded store: one SQLite file through better-sqlite3 in WAL mode. better-sqlite3 is
// synchronous; every method is an async function so a thrown SQLite error (closed, locked,
// read-only database, constraint) becomes a rejected promise, as store.ts promises, never a
// crash. The schema is in store-sqlite-schema.ts, messages and room events in
// store-sqlite-messages.ts, membership in store-sqlite-membership.ts, read positions, mentions
// and notifications in store-sqlite-attention.ts, message search (FTS5) in
// store-sqlite-search.ts; this file opens the database and keeps users, tokens and rooms.
import Database from 'better-sqlite3';
import type { Logger } from '../logger.js';
import type { MembershipLogEntry } from '../membership.js';
import type { ChatMessage, ReadMark, RoomEvent } from '../message.js';
import { DEFAULT_ROOM } from '../rooms.js';
import { SqliteAttention } from './store-sqlite-attention.js';
import { SqliteFiles } from './store-sqlite-files.js';
import { SqliteMembership } from './store-sqlite-membership.js';
import { SqliteMessages } from './store-sqlite-messages.js';
import { SqliteSearch } from './store-sqlite-search.js';
import { SqliteProfiles } from './store-sqlite-profiles.js';
import { migrate } from './store-sqlite-schema.js';
import {
  DuplicateUsernameError,
  ensureGeneral,
  newUserId,
  withProfiles,
  type AppNotification,
  type InsertedNotification,
  type ApplyMembershipResult,
  type ApplyResult,
  type ConsumeRefreshResult,
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
} from './store.js';

export interface SqliteStoreOptions {
  /** How long a statement waits for another connection's write lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}


interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
  disabled: number;
  dnd: number;
  display_name?: string | null;
  avatar?: string | null;
}
interface TokenRow {
  token_hash: string;
  user_id: string;
  family_id: string;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}
interface RoomRow {
  name: string;
  last_message_at: number | null;
  message_count: number;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  disabled: r.disabled === 1,
  dnd: r.dnd === 1,
  ...(typeof r.display_name === 'string' && { displayName: r.display_name }),
  ...(typeof r.avatar === 'string' && { avatar: r.avatar }),
});
const toToken = (r: TokenRow): RefreshTokenRecord => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  familyId: r.family_id,
  expiresAt: r.expires_at,
});
const toRoom = (r: RoomRow): RoomInfo => ({
  name: r.name,
  lastMessageAt: r.last_message_at,
  messageCount: r.message_count,
});

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export async function openSqliteStore(
  path: string,
  log: Logger,
  options: SqliteStoreOptions = {},
): Promise<Store> {
  const db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
  try {
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: in WAL mode NORMAL does not fsync at commit, so a power failure can
    // lose a committed batch after the ingestion worker has XACKed it and the trimmer has
    // deleted the Redis copy. Inserts are batched, so FULL costs one fsync per batch.
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    db.pragma('foreign_keys = ON');
    migrate(db);
    db.prepare("INSERT OR IGNORE INTO rooms (name, kind) VALUES (?, 'public')").run(DEFAULT_ROOM);
  } catch (err) {
    db.close();
    throw err;
  }
  log.info({ path, journalMode: db.pragma('journal_mode', { simple: true }) }, 'sqlite store open');
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
  private readonly consume;
  private readonly setDisabled;

  constructor(private readonly db: Database.Database) {
    this.attention = new SqliteAttention(db);
    this.files = new SqliteFiles(db);
    this.messages = new SqliteMessages(db, this.attention, this.files);
    this.membership = new SqliteMembership(db, this.attention);
    this.search = new SqliteSearch(db, (room, id, viewerId) => this.messages.one(room, id, viewerId));
    this.profiles = new SqliteProfiles(db);
    this.s = {
      insertUser: db.prepare(
        'INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)',
      ),
      userByName: db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?'),
      userById: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
      // Names that start with the query: a range of the username index (NOCASE, like LIKE).
      usersByPrefix: db.prepare<[string, number], PublicUser>(
        "SELECT id, username FROM users WHERE username LIKE ? ESCAPE '\\' ORDER BY username LIMIT ?",
      ),
      // Names that contain it further in: the username index walked in order, stopping at the
      // limit — at worst one pass over the names, for a query that few of them contain.
      usersContaining: db.prepare<[string, string, number], PublicUser>(
        "SELECT id, username FROM users WHERE username LIKE ? ESCAPE '\\' AND username NOT LIKE ? ESCAPE '\\' ORDER BY username LIMIT ?",
      ),
      saveToken: db.prepare(
        'INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES (?, ?, ?, ?)',
      ),
      spendToken: db.prepare<[number, string, number], TokenRow>(
        `UPDATE refresh_tokens SET used_at = ?
         WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?
         RETURNING *`,
      ),
      tokenByHash: db.prepare<[string], TokenRow>('SELECT * FROM refresh_tokens WHERE token_hash = ?'),
      revokeFamily: db.prepare(
        'UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL',
      ),
      setDisabled: db.prepare<[number, string]>('UPDATE users SET disabled = ? WHERE id = ?'),
      setDnd: db.prepare<[number, string]>('UPDATE users SET dnd = ? WHERE id = ?'),
      // by refresh_tokens_user; RETURNING gives one row per token, deduplicated below
      revokeUserTokens: db.prepare<[number, string], { family_id: string }>(
        'UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING family_id',
      ),
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

    this.consume = db.transaction((tokenHash: string, now: number): ConsumeRefreshResult => {
      const spent = this.s.spendToken.get(now, tokenHash, now);
      if (spent) return { status: 'ok', record: toToken(spent) };
      const row = this.s.tokenByHash.get(tokenHash);
      if (!row) return { status: 'unknown' };
      if (row.revoked_at !== null) return { status: 'revoked' };
      if (row.used_at !== null) return { status: 'reused', record: toToken(row), usedAt: row.used_at };
      return { status: 'expired' };
    });

    // One transaction: a refresh cannot spend a token between the flag and the revocation.
    this.setDisabled = db.transaction((userId: string, disabled: boolean): SetDisabledResult => {
      if (this.s.setDisabled.run(disabled ? 1 : 0, userId).changes === 0) return { found: false, families: [] };
      if (!disabled) return { found: true, families: [] };
      const families = new Set(this.s.revokeUserTokens.all(Date.now(), userId).map((r) => r.family_id));
      return { found: true, families: [...families].sort() };
    });
  }

  async createUser(input: { username: string; passwordHash: string }): Promise<User> {
    const user: User = {
      id: newUserId(),
      username: input.username,
      passwordHash: input.passwordHash,
      createdAt: Date.now(),
      disabled: false,
      dnd: false,
    };
    try {
      this.s.insertUser.run(user.id, user.username, user.passwordHash, user.createdAt);
    } catch (err) {
      if (err instanceof Database.SqliteError && err.code === 'SQLITE_CONSTRAINT_UNIQUE' && err.message.includes('users.username')) {
        throw new DuplicateUsernameError(input.username);
      }
      throw err;
    }
    return user;
  }

  async findUserByUsername(username: string): Promise<User | null> {
    const row = this.s.userByName.get(username);
    return row ? toUser(row) : null;
  }

  async findUserById(id: string): Promise<User | null> {
    const row = this.s.userById.get(id);
    return row ? toUser(row) : null;
  }

  /**
   * Names that contain `query` (case-insensitive), those that start with it first. The substring
   * half cannot use the index as a range; it is acceptable because the users table is bounded
   * (registration is rate-limited per IP), the walk is of the index only and ends at `limit`
   * matches, and each search is charged to the caller's request budget.
   */
  async searchUsers(query: string, limit: number): Promise<PublicUser[]> {
    if (limit <= 0) return [];
    const q = escapeLike(query);
    const found = this.s.usersByPrefix.all(`${q}%`, limit);
    if (query && found.length < limit) found.push(...this.s.usersContaining.all(`%${q}%`, `${q}%`, limit - found.length));
    return withProfiles(found.map((r) => ({ id: r.id, username: r.username })), this.profiles.profiles(found.map((r) => r.id)));
  }

  async setUserDisabled(userId: string, disabled: boolean): Promise<SetDisabledResult> {
    return this.setDisabled.immediate(userId, disabled);
  }

  async saveRefreshToken(record: RefreshTokenRecord): Promise<void> {
    this.s.saveToken.run(record.tokenHash, record.userId, record.familyId, record.expiresAt);
  }

  async consumeRefreshToken(tokenHash: string, now: number): Promise<ConsumeRefreshResult> {
    return this.consume.immediate(tokenHash, now);
  }

  async revokeRefreshFamily(familyId: string): Promise<void> {
    this.s.revokeFamily.run(Date.now(), familyId);
  }

  async refreshTokenFamily(tokenHash: string): Promise<string | null> {
    return this.s.tokenByHash.get(tokenHash)?.family_id ?? null;
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
    this.s.setDnd.run(dnd ? 1 : 0, userId);
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

  async ping(): Promise<void> {
    this.s.ping.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
