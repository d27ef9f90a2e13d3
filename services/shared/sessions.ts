// Session revocation: a logout, or a refresh-token family revoked because a spent token came
// back (theft), must end the session NOW — not when its access tokens expire (up to
// ACCESS_TOKEN_TTL_SEC later). The session id is the refresh family id, carried by every access
// token as `sid` (tokens.ts).
//
// revokeSession records the sid in Redis for as long as any access token of it can still be
// valid (ACCESS_TOKEN_TTL_SEC) and publishes it on one channel. Every chat replica listens and
// closes the session's sockets with 4001 (services/chat/revocations.ts); the chat handshake, the
// in-band `auth` frame and the users service's bearer auth refuse a token whose sid is in the set.
// The record is written before the publish (one MULTI), so a replica that missed the publish
// (its subscriber was reconnecting) finds it when it re-checks its sockets after the reconnect.
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { eachCommand } from './redis.js';

type SessionKeys = Pick<Keys, 'revokedSession' | 'sessionRevocations'>;

export async function revokeSession(redis: Redis, keys: SessionKeys, sid: string, ttlSec: number): Promise<void> {
  const r = await redis.multi().set(keys.revokedSession(sid), '1', 'EX', Math.max(1, ttlSec)).publish(keys.sessionRevocations(), sid).exec();
  if (!r || r.some(([err]) => err)) throw new Error('session revocation transaction failed');
}

/** True when `sid` was revoked; tokens without a sid (minted outside a session) never are. */
export async function isSessionRevoked(redis: Redis, keys: SessionKeys, sid: string | undefined): Promise<boolean> {
  if (sid === undefined) return false;
  return (await redis.exists(keys.revokedSession(sid))) === 1;
}

/** The subset of `sids` that are revoked (one round trip): a replica's re-check after a reconnect. */
export async function revokedSessions(redis: Redis, keys: SessionKeys, sids: readonly string[]): Promise<Set<string>> {
  if (sids.length === 0) return new Set();
  const replies = await eachCommand(redis, sids, (c, sid) => c.exists(keys.revokedSession(sid)));
  const out = new Set<string>();
  replies.forEach(([err, n], i) => {
    if (err) throw err;
    if (Number(n) === 1) out.add(sids[i]!);
  });
  return out;
}
