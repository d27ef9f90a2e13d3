// The MongoDB store's account collections: users and refresh tokens, their documents, indexes,
// conversion to the Store's types, and the Store's account methods (MongoAccounts, which
// store-mongo.ts delegates to).
//
//   users          _id = user id; usernameLower unique (case-insensitive uniqueness); `disabled`
//                  and `dnd` absent on documents written before them (read as false)
//   refresh_tokens _id = tokenHash (unique by construction); familyId; userId (disabling a
//                  user); TTL on expiresAt with a grace period, so an expired token still
//                  answers `expired` for a while
import { Schema, type Model } from 'mongoose';
import { isDuplicateKey } from './store-mongo-schemas.js';
import {
  DuplicateUsernameError,
  newUserId,
  type ConsumeRefreshResult,
  type PublicUser,
  type RefreshTokenRecord,
  type SetDisabledResult,
  type User,
} from './store.js';

/** Expired tokens are deleted this long after expiry (until then they answer `expired`). */
const TOKEN_GRACE_SEC = 7 * 86_400;

export interface UserDoc {
  _id: string;
  username: string;
  usernameLower: string;
  passwordHash: string;
  createdAt: number;
  disabled?: boolean;
  /** Do not disturb; absent on documents written before it (read as false). */
  dnd?: boolean;
  /** Profiles (store-mongo-profiles.ts); absent when not set. */
  displayName?: string;
  avatar?: string;
  /** DELETE /api/me (store-mongo-deletion.ts): when the account was deleted. */
  deletedAt?: number;
}
export interface TokenDoc {
  _id: string;
  userId: string;
  familyId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

// indexes: mongo-migrations.ts (declared here too, checked against it; see store-mongo-schemas.ts)
const schemaOptions = { versionKey: false, autoIndex: false, autoCreate: false } as const;

export const userSchema = new Schema<UserDoc>(
  {
    _id: { type: String, required: true },
    username: { type: String, required: true },
    usernameLower: { type: String, required: true },
    passwordHash: { type: String, required: true },
    createdAt: { type: Number, required: true },
    disabled: { type: Boolean, default: false },
    dnd: { type: Boolean, default: false },
    displayName: { type: String, required: false },
    avatar: { type: String, required: false },
    deletedAt: { type: Number, required: false },
  },
  { ...schemaOptions, collection: 'users' },
);
userSchema.index({ usernameLower: 1 }, { unique: true });
// GET /avatars/:id: is it someone's current avatar (store-mongo-profiles.ts)
userSchema.index({ avatar: 1 }, { sparse: true });

export const tokenSchema = new Schema<TokenDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    familyId: { type: String, required: true },
    expiresAt: { type: Date, required: true },
    usedAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
  },
  { ...schemaOptions, collection: 'refresh_tokens' },
);
tokenSchema.index({ familyId: 1 });
tokenSchema.index({ userId: 1 });
tokenSchema.index({ expiresAt: 1 }, { expireAfterSeconds: TOKEN_GRACE_SEC });

export const toUser = (d: UserDoc): User => ({
  id: d._id,
  username: d.username,
  passwordHash: d.passwordHash,
  createdAt: d.createdAt,
  disabled: d.disabled === true,
  dnd: d.dnd === true,
  ...(typeof d.displayName === 'string' && { displayName: d.displayName }),
  ...(typeof d.avatar === 'string' && { avatar: d.avatar }),
  ...(typeof d.deletedAt === 'number' && { deleted: true as const }),
});
export const toToken = (d: TokenDoc): RefreshTokenRecord => ({
  tokenHash: d._id,
  userId: d.userId,
  familyId: d.familyId,
  expiresAt: d.expiresAt.getTime(),
});

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class MongoAccounts {
  constructor(
    private readonly users: Model<UserDoc>,
    private readonly tokens: Model<TokenDoc>,
  ) {}

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
      await this.users.create({
        _id: user.id,
        username: user.username,
        usernameLower: user.username.toLowerCase(),
        passwordHash: user.passwordHash,
        createdAt: user.createdAt,
        disabled: false,
        dnd: false,
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
    const d = await this.users.findOne({ usernameLower: username.toLowerCase() }).lean<UserDoc>();
    return d ? toUser(d) : null;
  }

  async findUserById(id: string): Promise<User | null> {
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
    if (limit <= 0) return [];
    const q = escapeRegex(query.toLowerCase());
    const find = (filter: object, n: number) =>
      this.users.find(filter, { username: 1 }).sort({ usernameLower: 1 }).limit(n).lean<Pick<UserDoc, '_id' | 'username'>[]>();
    const docs = await find({ usernameLower: { $regex: `^${q}` }, deletedAt: { $exists: false } }, limit);
    if (query && docs.length < limit) {
      docs.push(...(await find({ usernameLower: { $regex: q, $not: new RegExp(`^${q}`) }, deletedAt: { $exists: false } }, limit - docs.length)));
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
    const r = await this.users.updateOne({ _id: userId }, { $set: { disabled } });
    if (r.matchedCount === 0) return { found: false, families: [] };
    if (!disabled) return { found: true, families: [] };
    const families = (await this.tokens.distinct('familyId', { userId, revokedAt: null })) as string[];
    await this.tokens.updateMany({ userId, revokedAt: null }, { $set: { revokedAt: new Date() } });
    return { found: true, families: families.sort() };
  }

  async saveRefreshToken(record: RefreshTokenRecord): Promise<void> {
    await this.tokens.create({
      _id: record.tokenHash,
      userId: record.userId,
      familyId: record.familyId,
      expiresAt: new Date(record.expiresAt),
      usedAt: null,
      revokedAt: null,
    });
    // Without a transaction: checked after the insert, so a revocation either saw this token
    // (and revoked it) or wrote its mark before this read.
    const revoked = await this.tokens.findOne({ familyId: record.familyId, revokedAt: { $ne: null } }, { revokedAt: 1 }).lean<TokenDoc>();
    if (revoked) await this.tokens.updateOne({ _id: record.tokenHash, revokedAt: null }, { $set: { revokedAt: revoked.revokedAt } });
  }

  async consumeRefreshToken(tokenHash: string, now: number): Promise<ConsumeRefreshResult> {
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
    await this.tokens.updateMany({ familyId, revokedAt: null }, { $set: { revokedAt: new Date() } });
  }

  async refreshTokenFamily(tokenHash: string): Promise<string | null> {
    const d = await this.tokens.findById(tokenHash, { familyId: 1 }).lean<Pick<TokenDoc, 'familyId'>>();
    return d?.familyId ?? null;
  }

  async setDnd(userId: string, dnd: boolean): Promise<void> {
    await this.users.updateOne({ _id: userId }, { $set: { dnd } });
  }
}
