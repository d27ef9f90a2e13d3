// The MongoDB store's account collections: users and refresh tokens, their documents, indexes
// and conversion to the Store's types (store-mongo.ts reads and writes them).
//
//   users          _id = user id; usernameLower unique (case-insensitive uniqueness); `disabled`
//                  absent on documents written before it (read as false)
//   refresh_tokens _id = tokenHash (unique by construction); familyId; userId (disabling a
//                  user); TTL on expiresAt with a grace period, so an expired token still
//                  answers `expired` for a while
import { Schema } from 'mongoose';
import type { RefreshTokenRecord, User } from './store.js';

/** Expired tokens are deleted this long after expiry (until then they answer `expired`). */
const TOKEN_GRACE_SEC = 7 * 86_400;

export interface UserDoc {
  _id: string;
  username: string;
  usernameLower: string;
  passwordHash: string;
  createdAt: number;
  disabled?: boolean;
}
export interface TokenDoc {
  _id: string;
  userId: string;
  familyId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

const schemaOptions = { versionKey: false, autoIndex: true, autoCreate: true } as const;

export const userSchema = new Schema<UserDoc>(
  {
    _id: { type: String, required: true },
    username: { type: String, required: true },
    usernameLower: { type: String, required: true },
    passwordHash: { type: String, required: true },
    createdAt: { type: Number, required: true },
    disabled: { type: Boolean, default: false },
  },
  { ...schemaOptions, collection: 'users' },
);
userSchema.index({ usernameLower: 1 }, { unique: true });

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
});
export const toToken = (d: TokenDoc): RefreshTokenRecord => ({
  tokenHash: d._id,
  userId: d.userId,
  familyId: d.familyId,
  expiresAt: d.expiresAt.getTime(),
});
