// The MongoDB store's profile methods (store.ts "profiles") over the users and refresh_tokens
// collections (store-mongo-users.ts), for store-mongo.ts to delegate to: password change,
// display names, and the profiles (display name, avatar) that user lists are decorated with.
import type { Model } from 'mongoose';
import { toUser, type TokenDoc, type UserDoc } from './store-mongo-users.js';
import type { PublicUser, SetDisabledResult, User } from './store.js';

export class MongoProfiles {
  constructor(
    private readonly users: Model<UserDoc>,
    private readonly tokens: Model<TokenDoc>,
  ) {}

  /**
   * Without a transaction (a standalone mongod has none), as setUserDisabled: the hash first,
   * then the other families read, then their tokens revoked. A token saved after the read (a
   * rotation racing with the change) is revoked too when saved before the update, since the
   * update names the user, not the families; its family is then already in the list.
   */
  async changePassword(userId: string, passwordHash: string, keepFamily: string | undefined): Promise<SetDisabledResult> {
    const r = await this.users.updateOne({ _id: userId }, { $set: { passwordHash } });
    if (r.matchedCount === 0) return { found: false, families: [] };
    const filter = { userId, revokedAt: null, ...(keepFamily !== undefined && { familyId: { $ne: keepFamily } }) };
    const families = (await this.tokens.distinct('familyId', filter)) as string[];
    await this.tokens.updateMany(filter, { $set: { revokedAt: new Date() } });
    return { found: true, families: families.sort() };
  }

  async setDisplayName(userId: string, displayName: string | null): Promise<User | null> {
    const update = displayName === null ? { $unset: { displayName: 1 } } : { $set: { displayName } };
    const d = await this.users.findOneAndUpdate({ _id: userId }, update, { new: true }).lean<UserDoc>();
    return d ? toUser(d) : null;
  }

  /** One atomic update; the document before it names the avatar replaced. */
  async setAvatar(userId: string, avatar: string | null): Promise<{ user: User; previous?: string } | null> {
    const update = avatar === null ? { $unset: { avatar: 1 } } : { $set: { avatar } };
    const before = await this.users.findOneAndUpdate({ _id: userId }, update, { new: false }).lean<UserDoc>();
    if (!before) return null;
    const { avatar: previous, ...rest } = before;
    const user = toUser(avatar === null ? rest : { ...rest, avatar });
    return typeof previous === 'string' ? { user, previous } : { user };
  }

  async isAvatar(id: string): Promise<boolean> {
    return (await this.users.exists({ avatar: id })) !== null;
  }

  async profiles(ids: readonly string[]): Promise<PublicUser[]> {
    if (ids.length === 0) return [];
    const docs = await this.users
      .find({ _id: { $in: [...new Set(ids)] } }, { username: 1, displayName: 1, avatar: 1, deletedAt: 1 })
      .lean<Pick<UserDoc, '_id' | 'username' | 'displayName' | 'avatar' | 'deletedAt'>[]>();
    return docs.map((d) => ({
      id: d._id,
      username: d.username,
      ...(typeof d.displayName === 'string' && { displayName: d.displayName }),
      ...(typeof d.avatar === 'string' && { avatar: d.avatar }),
      ...(typeof d.deletedAt === 'number' && { deleted: true as const }),
    }));
  }
}
