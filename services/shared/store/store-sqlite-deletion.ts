// The SQLite store's account deletion (store.ts "account deletion"): the account tombstoned and
// its sessions and personal state dropped in one transaction, and the listing of a user's
// remaining messages that DELETE_MESSAGES_WITH_ACCOUNT removes in batches
// (users/account-purge.ts). store-sqlite.ts delegates to it.
import type Database from 'better-sqlite3';
import type { DeleteAccountResult, UserMessageRef } from './store.js';

interface MessageRefRow {
  room: string;
  id: string;
  reply_ms: number | null;
  reply_seq: number | null;
}

export class SqliteAccountDeletion {
  private readonly deleteTx;
  private readonly listMessages;

  constructor(db: Database.Database) {
    const account = db.prepare<[string], { avatar: string | null; deleted_at: number | null }>(
      'SELECT avatar, deleted_at FROM users WHERE id = ?',
    );
    // '' is no bcrypt hash: passwords.verify answers false for it, whatever the password
    const tombstone = db.prepare<[number, string]>(
      "UPDATE users SET deleted_at = ?, disabled = 1, dnd = 0, password_hash = '', display_name = NULL, avatar = NULL WHERE id = ?",
    );
    // by refresh_tokens_user; one row per token, deduplicated below
    const revokeAll = db.prepare<[number, string], { family_id: string }>(
      'UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING family_id',
    );
    // each by its primary key's user_id prefix
    const dropState = [
      db.prepare<[string]>('DELETE FROM user_rooms WHERE user_id = ?'),
      db.prepare<[string]>('DELETE FROM mentions WHERE user_id = ?'),
      db.prepare<[string]>('DELETE FROM notifications WHERE user_id = ?'),
    ];
    this.listMessages = db.prepare<[string, number], MessageRefRow>(
      `SELECT m.room, m.id, m.reply_ms, m.reply_seq FROM messages m
       LEFT JOIN changes c ON c.room = m.room AND c.ms = m.ms AND c.seq = m.seq
       WHERE m.user_id = ? AND c.deleted IS NOT 1 LIMIT ?`,
    );

    // One transaction: no refresh spends a token between the tombstone and the revocation.
    this.deleteTx = db.transaction((userId: string): DeleteAccountResult => {
      const row = account.get(userId);
      if (!row) return { found: false, families: [] };
      tombstone.run(row.deleted_at ?? Date.now(), userId);
      const families = new Set(revokeAll.all(Date.now(), userId).map((r) => r.family_id));
      for (const s of dropState) s.run(userId);
      return { found: true, families: [...families].sort(), ...(row.avatar !== null && { avatar: row.avatar }) };
    });
  }

  deleteAccount(userId: string): DeleteAccountResult {
    return this.deleteTx.immediate(userId);
  }

  messagesOf(userId: string, limit: number): UserMessageRef[] {
    if (limit <= 0) return [];
    return this.listMessages.all(userId, limit).map((r) => ({
      room: r.room,
      id: r.id,
      ...(r.reply_ms !== null && { replyTo: `${r.reply_ms}-${r.reply_seq}` }),
    }));
  }
}
