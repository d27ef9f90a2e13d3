// The embedded store: one SQLite file through better-sqlite3 in WAL mode. better-sqlite3 is
// synchronous; every method is an async function so a thrown SQLite error (closed, locked,
// read-only database, constraint) becomes a rejected promise, as store.ts promises, never a
// crash. Messages are keyed (room, ms, seq) with INTEGER columns, so the primary-key index
// orders them numerically and paging is an index range scan.
import Database from 'better-sqlite3';
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

export interface SqliteStoreOptions {
  /** How long a statement waits for another connection's write lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  family_id  TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
CREATE TABLE IF NOT EXISTS messages (
  room      TEXT NOT NULL,
  ms        INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  id        TEXT NOT NULL,
  user_id   TEXT NOT NULL,
  user_name TEXT NOT NULL,
  text      TEXT NOT NULL,
  ts        INTEGER NOT NULL,
  cid       TEXT NOT NULL,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rooms (
  name            TEXT PRIMARY KEY,
  last_message_at INTEGER,
  message_count   INTEGER NOT NULL DEFAULT 0,
  -- the two members of a DM room (NULL for a public room), so listRooms needs no name parsing
  member_a        TEXT,
  member_b        TEXT
);
CREATE INDEX IF NOT EXISTS rooms_member_a ON rooms(member_a) WHERE member_a IS NOT NULL;
CREATE INDEX IF NOT EXISTS rooms_member_b ON rooms(member_b) WHERE member_b IS NOT NULL;
`;

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
}
interface TokenRow {
  token_hash: string;
  user_id: string;
  family_id: string;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}
interface MessageRow {
  id: string;
  room: string;
  user_id: string;
  user_name: string;
  text: string;
  ts: number;
  cid: string;
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
});
const toToken = (r: TokenRow): RefreshTokenRecord => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  familyId: r.family_id,
  expiresAt: r.expires_at,
});
const toMessage = (r: MessageRow): ChatMessage => ({
  id: r.id,
  room: r.room,
  user: { id: r.user_id, name: r.user_name },
  text: r.text,
  ts: r.ts,
  cid: r.cid,
});
const toRoom = (r: RoomRow): RoomInfo => ({
  name: r.name,
  lastMessageAt: r.last_message_at,
  messageCount: r.message_count,
});

function idKey(id: string): [number, number | bigint] {
  const { ms, seq } = parseId(id);
  return [ms, seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : seq];
}

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
    db.exec(SCHEMA);
    db.prepare('INSERT OR IGNORE INTO rooms (name) VALUES (?)').run(DEFAULT_ROOM);
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
  private readonly insertBatch;
  private readonly consume;

  constructor(private readonly db: Database.Database) {
    this.s = {
      insertUser: db.prepare(
        'INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)',
      ),
      userByName: db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?'),
      userById: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
      searchUsers: db.prepare<[string, number], PublicUser>(
        "SELECT id, username FROM users WHERE username LIKE ? ESCAPE '\\' ORDER BY username LIMIT ?",
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
      insertMessage: db.prepare(
        `INSERT OR IGNORE INTO messages (room, ms, seq, id, user_id, user_name, text, ts, cid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      storedAuthor: db.prepare<[string, number, number | bigint], { user_id: string; cid: string }>(
        'SELECT user_id, cid FROM messages WHERE room = ? AND ms = ? AND seq = ?',
      ),
      bumpRoom: db.prepare(
        `INSERT INTO rooms (name, last_message_at, message_count, member_a, member_b)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET
           message_count = message_count + excluded.message_count,
           last_message_at = MAX(COALESCE(last_message_at, 0), excluded.last_message_at)`,
      ),
      newest: db.prepare<[string, number], MessageRow>(
        'SELECT * FROM messages WHERE room = ? ORDER BY ms DESC, seq DESC LIMIT ?',
      ),
      before: db.prepare<[string, number, number | bigint, number], MessageRow>(
        'SELECT * FROM messages WHERE room = ? AND (ms, seq) < (?, ?) ORDER BY ms DESC, seq DESC LIMIT ?',
      ),
      after: db.prepare<[string, number, number | bigint, number], MessageRow>(
        'SELECT * FROM messages WHERE room = ? AND (ms, seq) > (?, ?) ORDER BY ms, seq LIMIT ?',
      ),
      listRooms: db.prepare<[string, string, number], RoomRow>(
        `SELECT name, last_message_at, message_count FROM rooms
         WHERE member_a IS NULL OR member_a = ? OR member_b = ?
         ORDER BY last_message_at IS NULL, last_message_at DESC, name
         LIMIT ?`,
      ),
      getRoom: db.prepare<[string], RoomRow>(
        'SELECT name, last_message_at, message_count FROM rooms WHERE name = ?',
      ),
      ping: db.prepare('SELECT 1'),
    };

    // One transaction per batch: INSERT OR IGNORE reports per row whether it was new, and the
    // room counters move by exactly the rows inserted, so a redelivered batch changes nothing.
    this.insertBatch = db.transaction((messages: readonly ChatMessage[]): InsertResult => {
      const perRoom = new Map<string, { count: number; last: number }>();
      let inserted = 0;
      const conflicts: ChatMessage[] = [];
      for (const m of messages) {
        const [ms, seq] = idKey(m.id);
        const r = this.s.insertMessage.run(m.room, ms, seq, m.id, m.user.id, m.user.name, m.text, m.ts, m.cid);
        if (r.changes === 0) {
          // Taken: a redelivery of this message, or another message under a reused id.
          const stored = this.s.storedAuthor.get(m.room, ms, seq);
          if (stored && !sameMessage({ userId: stored.user_id, cid: stored.cid }, m)) conflicts.push(m);
          continue;
        }
        inserted++;
        const room = perRoom.get(m.room);
        if (room) {
          room.count++;
          if (ms > room.last) room.last = ms;
        } else perRoom.set(m.room, { count: 1, last: ms });
      }
      for (const [name, { count, last }] of perRoom) {
        const members = dmMembers(name);
        this.s.bumpRoom.run(name, last, count, members?.[0] ?? null, members?.[1] ?? null);
      }
      return { inserted, duplicates: messages.length - inserted - conflicts.length, conflicts };
    });

    this.consume = db.transaction((tokenHash: string, now: number): ConsumeRefreshResult => {
      const spent = this.s.spendToken.get(now, tokenHash, now);
      if (spent) return { status: 'ok', record: toToken(spent) };
      const row = this.s.tokenByHash.get(tokenHash);
      if (!row) return { status: 'unknown' };
      if (row.revoked_at !== null) return { status: 'revoked' };
      if (row.used_at !== null) return { status: 'reused', record: toToken(row), usedAt: row.used_at };
      return { status: 'expired' };
    });
  }

  async createUser(input: { username: string; passwordHash: string }): Promise<User> {
    const user: User = {
      id: newUserId(),
      username: input.username,
      passwordHash: input.passwordHash,
      createdAt: Date.now(),
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

  async searchUsers(prefix: string, limit: number): Promise<PublicUser[]> {
    return this.s.searchUsers.all(`${escapeLike(prefix)}%`, limit).map((r) => ({ id: r.id, username: r.username }));
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
    if (messages.length === 0) return { inserted: 0, duplicates: 0, conflicts: [] };
    return this.insertBatch.immediate(messages);
  }

  async messagesBefore(room: string, beforeId: string | undefined, limit: number): Promise<ChatMessage[]> {
    if (limit <= 0) return [];
    const rows =
      beforeId === undefined
        ? this.s.newest.all(room, limit)
        : this.s.before.all(room, ...idKey(beforeId), limit);
    return rows.reverse().map(toMessage);
  }

  async messagesAfter(room: string, afterId: string, limit: number): Promise<ChatMessage[]> {
    if (limit <= 0) return [];
    return this.s.after.all(room, ...idKey(afterId), limit).map(toMessage);
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

  async ping(): Promise<void> {
    this.s.ping.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
