// Refresh tokens: opaque, 32 bytes (base64url), stored only as their sha256. Each login starts a
// family (its id is the session id `sid` carried by the access tokens); every refresh spends the
// presented token and issues the next one in the same family. Presenting a token that was
// already spent means two parties hold the family (a stolen token, or a copy replayed), so the
// whole family is revoked — and with it the session's live sockets (onFamilyRevoked).
//
// Reuse grace window (REFRESH_REUSE_GRACE_SEC, default 30 s; Auth0 and Okta call it the "reuse
// interval"): honest clients re-present a spent token now and then — a refresh whose response
// was lost (retry), two browser tabs refreshing with the one token they share, a rotation whose
// successor failed to save. Within the window such a re-presentation gets THE SAME successor
// pair as the first one, not a new one: the successor refresh token is derived from the spent
// token (HMAC with a key derived from JWT_SECRET: unguessable without the secret, never stored in
// plaintext) and the access token is signed with the spend time as `iat`, so the answer is
// byte-identical. The family never forks, so a replay inside the window gains a thief nothing
// the victim does not also hold, and the family's next rotation leaves one of them behind.
// Only ONE re-presentation is honoured: a second one (a third presentation of the token) is
// treated as theft and revokes the family. The count lives in Redis (one key per spent token,
// living as long as the window): it only matters within the window, every users replica must
// see it, and without Redis the re-presentation fails closed (503) rather than being honoured
// blindly. Revoked and expired tokens never get a grace answer; 0 turns the window off.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { Store } from '../shared/store/store.js';
import { ApiError } from './errors.js';

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export type RotateResult =
  | {
      ok: true;
      userId: string;
      familyId: string;
      refreshToken: string;
      /** When the presented token was spent (ms): the successor access token's `iat`. */
      issuedAt: number;
      /** `grace`: the token was already spent, within the reuse grace window (see above). */
      grace: boolean;
    }
  | { ok: false; reason: 'reused' | 'expired' | 'revoked' | 'unknown' };

export interface RefreshTokens {
  /** Starts a new family (a login). */
  issue(userId: string): Promise<{ refreshToken: string; familyId: string }>;
  /** Spends `token` and issues its successor; a reused token revokes its family unless within the grace window. */
  rotate(token: string): Promise<RotateResult>;
  /** Revokes the family `token` belongs to (logout). Unknown tokens are ignored. */
  revokeFamilyOf(token: string): Promise<void>;
  /** Revokes a family and ends its session (a login or refresh of a disabled account). */
  revokeFamily(familyId: string, userId: string): Promise<void>;
}

export interface RefreshTokenOptions {
  ttlSec: number;
  reuseGraceSec: number;
  /** The key successors are derived with (from JWT_SECRET). */
  secret: string;
  redis: Redis;
  keys: Pick<Keys, 'refreshReuse'>;
  /** Called after a family was revoked (logout, theft): ends the session's live sockets. */
  onFamilyRevoked?: (familyId: string, userId: string) => Promise<void>;
}

export function createRefreshTokens(store: Store, log: Logger, opts: RefreshTokenOptions): RefreshTokens {
  const { ttlSec, reuseGraceSec, redis, keys } = opts;
  const successorKey = createHmac('sha256', opts.secret).update('aurora refresh-token successor v1').digest();
  const successorOf = (token: string) => createHmac('sha256', successorKey).update(token, 'utf8').digest('base64url');

  const save = async (token: string, userId: string, familyId: string, expiresAt: number) => {
    await store.saveRefreshToken({ tokenHash: hashRefreshToken(token), userId, familyId, expiresAt });
  };
  /** Saves a derived successor; a concurrent grace answer may have saved the same one first. */
  const saveSuccessor = async (token: string, userId: string, familyId: string, expiresAt: number) => {
    try {
      await save(token, userId, familyId, expiresAt);
    } catch (err) {
      if ((await store.refreshTokenFamily(hashRefreshToken(token))) !== familyId) throw err;
    }
  };

  const revoke = async (familyId: string, userId: string) => {
    await store.revokeRefreshFamily(familyId);
    await opts.onFamilyRevoked?.(familyId, userId);
  };

  /** Counts one re-presentation of a spent token within the window; true for the first only. */
  const firstReuse = async (tokenHash: string): Promise<boolean> => {
    const key = keys.refreshReuse(tokenHash);
    let count: number;
    try {
      const r = await redis.multi().incr(key).expire(key, Math.max(1, reuseGraceSec), 'NX').exec();
      if (!r || r.some(([err]) => err)) throw new Error('reuse counter transaction failed');
      count = Number(r[0]![1]);
    } catch {
      throw new ApiError('unavailable', 'refresh is temporarily unavailable; try again shortly');
    }
    return count === 1;
  };

  return {
    async issue(userId) {
      const familyId = randomBytes(16).toString('base64url');
      const refreshToken = randomBytes(32).toString('base64url');
      await save(refreshToken, userId, familyId, Date.now() + ttlSec * 1000);
      return { refreshToken, familyId };
    },

    async rotate(token) {
      const now = Date.now();
      const tokenHash = hashRefreshToken(token);
      const result = await store.consumeRefreshToken(tokenHash, now);
      if (result.status === 'ok') {
        const { userId, familyId } = result.record;
        const refreshToken = successorOf(token);
        await saveSuccessor(refreshToken, userId, familyId, now + ttlSec * 1000);
        return { ok: true, userId, familyId, refreshToken, issuedAt: now, grace: false };
      }
      if (result.status === 'reused') {
        const { userId, familyId, expiresAt } = result.record;
        if (now - result.usedAt < reuseGraceSec * 1000) {
          if (expiresAt <= now) return { ok: false, reason: 'expired' };
          if (await firstReuse(tokenHash)) {
            // A retry or a second tab: the same successor as the first rotation. Saved again if
            // that rotation's save failed (consume succeeded, save threw).
            const refreshToken = successorOf(token);
            if ((await store.refreshTokenFamily(hashRefreshToken(refreshToken))) === null) {
              await saveSuccessor(refreshToken, userId, familyId, result.usedAt + ttlSec * 1000);
            }
            log.info({ userId, familyId, spentMsAgo: now - result.usedAt }, 'spent refresh token re-presented within the grace window: same successor');
            return { ok: true, userId, familyId, refreshToken, issuedAt: result.usedAt, grace: true };
          }
          log.warn({ userId, familyId }, 'spent refresh token presented a third time within the grace window: family revoked');
        } else {
          log.warn({ userId, familyId }, 'spent refresh token presented again: family revoked');
        }
        await revoke(familyId, userId);
        return { ok: false, reason: 'reused' };
      }
      return { ok: false, reason: result.status };
    },

    async revokeFamilyOf(token) {
      const tokenHash = hashRefreshToken(token);
      const familyId = await store.refreshTokenFamily(tokenHash);
      if (!familyId) return;
      await store.revokeRefreshFamily(familyId);
      await opts.onFamilyRevoked?.(familyId, '');
    },

    revokeFamily: revoke,
  };
}
