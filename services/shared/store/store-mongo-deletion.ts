// The MongoDB store's account deletion (store.ts "account deletion"), for store-mongo.ts to
// delegate to: the account tombstoned, its sessions revoked and its personal state dropped, and
// the listing of a user's remaining messages that DELETE_MESSAGES_WITH_ACCOUNT removes in
// batches (users/account-purge.ts).
import type { Connection, Model } from 'mongoose';
import type { TokenDoc, UserDoc } from './store-mongo-users.js';
import type { DeleteAccountResult, UserMessageRef } from './store.js';

interface MessageRefDoc {
  room: string;
  id: string;
  replyMs?: number;
  replySeq?: number;
}

export class MongoAccountDeletion {
  constructor(
    private readonly conn: Connection,
    private readonly users: Model<UserDoc>,
    private readonly tokens: Model<TokenDoc>,
  ) {}

  /**
   * Without a transaction (a standalone mongod has none), like setUserDisabled: the tombstone
   * first (its `disabled` refuses every later refresh and login), then the families read and
   * revoked, then the personal state removed. A repeat finishes what a crash left undone.
   */
  async deleteAccount(userId: string): Promise<DeleteAccountResult> {
    const before = await this.users
      .findOneAndUpdate(
        { _id: userId },
        // '' is no bcrypt hash: passwords.verify answers false for it, whatever the password
        { $set: { disabled: true, dnd: false, passwordHash: '' }, $unset: { displayName: 1, avatar: 1 } },
        { new: false },
      )
      .lean<UserDoc>();
    if (!before) return { found: false, families: [] };
    if (before.deletedAt === undefined) await this.users.updateOne({ _id: userId, deletedAt: { $exists: false } }, { $set: { deletedAt: Date.now() } });
    const families = (await this.tokens.distinct('familyId', { userId, revokedAt: null })) as string[];
    await this.tokens.updateMany({ userId, revokedAt: null }, { $set: { revokedAt: new Date() } });
    await Promise.all(['user_rooms', 'mentions', 'notifications'].map((c) => this.conn.collection(c).deleteMany({ userId })));
    return { found: true, families: families.sort(), ...(typeof before.avatar === 'string' && { avatar: before.avatar }) };
  }

  async messagesOf(userId: string, limit: number): Promise<UserMessageRef[]> {
    if (limit <= 0) return [];
    // change documents are keyed by the message document's _id (store-mongo-schemas.ts)
    const docs = await this.conn
      .collection('messages')
      .aggregate<MessageRefDoc>([
        { $match: { userId } },
        { $lookup: { from: 'changes', localField: '_id', foreignField: '_id', as: 'change' } },
        { $match: { 'change.deleted': { $ne: true } } },
        { $limit: limit },
        { $project: { _id: 0, room: 1, id: 1, replyMs: 1, replySeq: 1 } },
      ])
      .toArray();
    return docs.map((d) => ({ room: d.room, id: d.id, ...(d.replyMs !== undefined && { replyTo: `${d.replyMs}-${d.replySeq}` }) }));
  }
}
