// The SQLite store's profile methods (store.ts "profiles"): password change (the hash and the
// revocation of the user's other sessions in one transaction, like setUserDisabled), display
// names, and the profiles (display name, avatar) that user lists are decorated with — for
// store-sqlite.ts to delegate to.
import type Database from 'better-sqlite3';
import type { PublicUser, SetDisabledResult } from './store.js';

interface ProfileRow {
  id: string;
  username: string;
  display_name: string | null;
  avatar: string | null;
  deleted_at: number | null;
}

export const toProfile = (r: ProfileRow): PublicUser => ({
  id: r.id,
  username: r.username,
  ...(r.display_name !== null && { displayName: r.display_name }),
  ...(r.avatar !== null && { avatar: r.avatar }),
  ...(r.deleted_at !== null && { deleted: true as const }),
});

export class SqliteProfiles {
  private readonly changePasswordTx;
  private readonly setAvatarTx;
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      setDisplayName: db.prepare<[string | null, string]>('UPDATE users SET display_name = ? WHERE id = ?'),
      avatarOf: db.prepare<[string], { avatar: string | null }>('SELECT avatar FROM users WHERE id = ?'),
      setAvatar: db.prepare<[string | null, string]>('UPDATE users SET avatar = ? WHERE id = ?'),
      // by users_avatar
      isAvatar: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM users WHERE avatar = ? LIMIT 1'),
      // by the primary key: one probe per id (json_each: any number of ids in one statement)
      profiles: db.prepare<[string], ProfileRow>(
        'SELECT id, username, display_name, avatar, deleted_at FROM users WHERE id IN (SELECT value FROM json_each(?))',
      ),
    };
    const setHash = db.prepare<[string, string]>('UPDATE users SET password_hash = ? WHERE id = ?');
    // by refresh_tokens_user; one row per token, deduplicated below
    const revokeOthers = db.prepare<[number, string, string], { family_id: string }>(
      'UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND family_id <> ? RETURNING family_id',
    );
    // One transaction: no refresh can spend a token of another session between the new hash and
    // the revocation, and a crash leaves either both or neither.
    // the previous avatar read and replaced in one transaction: two uploads at once each get
    // back the one they replaced, so no file is left behind unowned
    this.setAvatarTx = db.transaction((userId: string, avatar: string | null): { previous: string | null } | null => {
      const row = this.s.avatarOf.get(userId);
      if (!row) return null;
      this.s.setAvatar.run(avatar, userId);
      return { previous: row.avatar };
    });
    this.changePasswordTx = db.transaction((userId: string, passwordHash: string, keepFamily: string | undefined): SetDisabledResult => {
      if (setHash.run(passwordHash, userId).changes === 0) return { found: false, families: [] };
      // '' is no family's id (they are 16 random bytes, base64url): undefined keeps none
      const families = new Set(revokeOthers.all(Date.now(), userId, keepFamily ?? '').map((r) => r.family_id));
      return { found: true, families: [...families].sort() };
    });
  }

  changePassword(userId: string, passwordHash: string, keepFamily: string | undefined): SetDisabledResult {
    return this.changePasswordTx.immediate(userId, passwordHash, keepFamily);
  }

  /** False when no user has that id. */
  setDisplayName(userId: string, displayName: string | null): boolean {
    return this.s.setDisplayName.run(displayName, userId).changes > 0;
  }

  /** null: no such user; else the avatar replaced (null when none). */
  setAvatar(userId: string, avatar: string | null): { previous: string | null } | null {
    return this.setAvatarTx.immediate(userId, avatar);
  }

  isAvatar(id: string): boolean {
    return this.s.isAvatar.get(id) !== undefined;
  }

  profiles(ids: readonly string[]): PublicUser[] {
    if (ids.length === 0) return [];
    return this.s.profiles.all(JSON.stringify([...new Set(ids)])).map(toProfile);
  }
}
