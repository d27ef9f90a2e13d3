// The SQLite store's accounts: users (create, look up, search, disable, DND) and refresh tokens
// (save, spend atomically, revoke a family). store-sqlite.ts delegates to it; display names and
// avatars are store-sqlite-profiles.ts's.
import Database from 'better-sqlite3';
import type { SqliteProfiles } from './store-sqlite-profiles.js';
import {
  DuplicateUsernameError,
  newUserId,
  withProfiles,
  type ConsumeRefreshResult,
  type PublicUser,
  type RefreshTokenRecord,
  type SetDisabledResult,
  type User,
} from './store.js';

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
  disabled: number;
  dnd: number;
  display_name?: string | null;
  avatar?: string | null;
  deleted_at?: number | null;
}
interface TokenRow {
  token_hash: string;
  user_id: string;
  family_id: string;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
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
  ...(typeof r.deleted_at === 'number' && { deleted: true as const }),
});
const toToken = (r: TokenRow): RefreshTokenRecord => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  familyId: r.family_id,
  expiresAt: r.expires_at,
});

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export class SqliteUsers {
  private readonly s;
  /** Spends a live token, or says why not (store.ts consumeRefreshToken); run with .immediate. */
  readonly consume;
  /** store.ts setUserDisabled; run with .immediate. */
  readonly setDisabled;

  constructor(db: Database.Database, private readonly profiles: SqliteProfiles) {
    this.s = {
      insertUser: db.prepare(
        'INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)',
      ),
      userByName: db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?'),
      userById: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
      // Names that start with the query: a range of the username index (NOCASE, like LIKE).
      usersByPrefix: db.prepare<[string, number], PublicUser>(
        "SELECT id, username FROM users WHERE username LIKE ? ESCAPE '\\' AND deleted_at IS NULL ORDER BY username LIMIT ?",
      ),
      // Names that contain it further in: the username index walked in order, stopping at the
      // limit — at worst one pass over the names, for a query that few of them contain.
      usersContaining: db.prepare<[string, string, number], PublicUser>(
        "SELECT id, username FROM users WHERE username LIKE ? ESCAPE '\\' AND username NOT LIKE ? ESCAPE '\\' AND deleted_at IS NULL ORDER BY username LIMIT ?",
      ),
      // One statement: a token of a revoked family is born revoked (store.ts saveRefreshToken).
      saveToken: db.prepare(
        `INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, (SELECT MAX(revoked_at) FROM refresh_tokens WHERE family_id = ?))`,
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

  create(input: { username: string; passwordHash: string }): User {
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

  byName(username: string): User | null {
    const row = this.s.userByName.get(username);
    return row ? toUser(row) : null;
  }

  byId(id: string): User | null {
    const row = this.s.userById.get(id);
    return row ? toUser(row) : null;
  }

  /**
   * Names that contain `query` (case-insensitive), those that start with it first. The substring
   * half cannot use the index as a range; it is acceptable because the users table is bounded
   * (registration is rate-limited per IP), the walk is of the index only and ends at `limit`
   * matches, and each search is charged to the caller's request budget.
   */
  search(query: string, limit: number): PublicUser[] {
    if (limit <= 0) return [];
    const q = escapeLike(query);
    const found = this.s.usersByPrefix.all(`${q}%`, limit);
    if (query && found.length < limit) found.push(...this.s.usersContaining.all(`%${q}%`, `${q}%`, limit - found.length));
    return withProfiles(found.map((r) => ({ id: r.id, username: r.username })), this.profiles.profiles(found.map((r) => r.id)));
  }

  saveToken(record: RefreshTokenRecord): void {
    this.s.saveToken.run(record.tokenHash, record.userId, record.familyId, record.expiresAt, record.familyId);
  }

  revokeFamily(familyId: string): void {
    this.s.revokeFamily.run(Date.now(), familyId);
  }

  familyOf(tokenHash: string): string | null {
    return this.s.tokenByHash.get(tokenHash)?.family_id ?? null;
  }

  setDnd(userId: string, dnd: boolean): void {
    this.s.setDnd.run(dnd ? 1 : 0, userId);
  }
}
