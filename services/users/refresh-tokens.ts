// Refresh tokens: opaque, 32 random bytes (base64url), stored only as their sha256. Each login
// starts a family; every refresh spends the presented token and issues the next one in the
// same family. Presenting a token that was already spent means two parties hold the family
// (a stolen token, or a copy replayed), so the whole family is revoked: the thief's and the
// victim's newest tokens both stop working and the user signs in again.
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../shared/store/store.js';
import type { Logger } from '../shared/logger.js';

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export type RotateResult =
  | { ok: true; userId: string; refreshToken: string }
  | { ok: false; reason: 'reused' | 'expired' | 'revoked' | 'unknown' };

export interface RefreshTokens {
  /** Starts a new family (a login). */
  issue(userId: string): Promise<string>;
  /** Spends `token` and issues its successor; a reused token revokes its family. */
  rotate(token: string): Promise<RotateResult>;
  /** Revokes the family `token` belongs to (logout). Unknown tokens are ignored. */
  revokeFamilyOf(token: string): Promise<void>;
}

export function createRefreshTokens(store: Store, log: Logger, ttlSec: number): RefreshTokens {
  const save = async (userId: string, familyId: string): Promise<string> => {
    const token = randomBytes(32).toString('base64url');
    await store.saveRefreshToken({
      tokenHash: hashRefreshToken(token),
      userId,
      familyId,
      expiresAt: Date.now() + ttlSec * 1000,
    });
    return token;
  };

  return {
    issue: (userId) => save(userId, randomBytes(16).toString('base64url')),

    async rotate(token) {
      const result = await store.consumeRefreshToken(hashRefreshToken(token), Date.now());
      if (result.status === 'ok') {
        return { ok: true, userId: result.record.userId, refreshToken: await save(result.record.userId, result.record.familyId) };
      }
      if (result.status === 'reused') {
        await store.revokeRefreshFamily(result.record.familyId);
        log.warn(
          { userId: result.record.userId, familyId: result.record.familyId },
          'spent refresh token presented again: family revoked',
        );
      }
      return { ok: false, reason: result.status };
    },

    async revokeFamilyOf(token) {
      const familyId = await store.refreshTokenFamily(hashRefreshToken(token));
      if (familyId) await store.revokeRefreshFamily(familyId);
    },
  };
}
