// Refresh tokens: opaque, 32 random bytes (base64url), stored only as their sha256. Each login
// starts a family; every refresh spends the presented token and issues the next one in the
// same family. Presenting a token that was already spent means two parties hold the family
// (a stolen token, or a copy replayed), so the whole family is revoked: the thief's and the
// victim's newest tokens both stop working and the user signs in again.
//
// Reuse grace window (REFRESH_REUSE_GRACE_SEC, default 30 s; Auth0 and Okta call it the
// "reuse interval"): a token re-presented less than that long after it was spent gets a fresh
// pair in the SAME family and revokes nothing. Honest clients re-present a spent token all the
// time: a refresh whose response was lost (retry), two browser tabs refreshing with the one token
// they share in localStorage, or a rotation whose successor failed to save (consume succeeded,
// save threw). Without the window each of those logs the user out.
// The trade-off: for those seconds a stolen token that was just spent also works, and its thief
// gets a live token of the family — but so does the victim, and the family stays one family:
// the first replay after the window, or a logout, still revokes both. Revoked and expired
// tokens never get a grace pair; 0 turns the window off (strict one-use tokens).
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../shared/store/store.js';
import type { Logger } from '../shared/logger.js';

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export type RotateResult =
  /** `grace`: the token was already spent, within the reuse grace window (see above). */
  | { ok: true; userId: string; refreshToken: string; grace: boolean }
  | { ok: false; reason: 'reused' | 'expired' | 'revoked' | 'unknown' };

export interface RefreshTokens {
  /** Starts a new family (a login). */
  issue(userId: string): Promise<string>;
  /** Spends `token` and issues its successor; a reused token revokes its family unless within the grace window. */
  rotate(token: string): Promise<RotateResult>;
  /** Revokes the family `token` belongs to (logout). Unknown tokens are ignored. */
  revokeFamilyOf(token: string): Promise<void>;
}

export function createRefreshTokens(
  store: Store,
  log: Logger,
  { ttlSec, reuseGraceSec }: { ttlSec: number; reuseGraceSec: number },
): RefreshTokens {
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
      const now = Date.now();
      const result = await store.consumeRefreshToken(hashRefreshToken(token), now);
      if (result.status === 'ok') {
        const { userId, familyId } = result.record;
        return { ok: true, userId, refreshToken: await save(userId, familyId), grace: false };
      }
      if (result.status === 'reused') {
        const { userId, familyId, expiresAt } = result.record;
        if (now - result.usedAt < reuseGraceSec * 1000) {
          // Within the window: a retry or a second tab, not (yet) a sign of theft.
          if (expiresAt <= now) return { ok: false, reason: 'expired' };
          log.info({ userId, familyId, spentMsAgo: now - result.usedAt }, 'spent refresh token re-presented within the grace window');
          return { ok: true, userId, refreshToken: await save(userId, familyId), grace: true };
        }
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
