// Access tokens: JWT HS256 with `sub` (user id), `name` and `exp`, short-lived. Issued by the
// users service, verified by chat replicas at the WebSocket handshake and on in-band `auth`.
// The algorithm is pinned on verify so a token cannot pick its own ("alg":"none" etc.).
import jwt from 'jsonwebtoken';
import type { ChatUser } from './message.js';

export interface AccessToken {
  token: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export type VerifiedToken =
  | { ok: true; user: ChatUser; exp: number }
  | { ok: false; reason: 'expired' | 'invalid' };

export function signAccessToken(secret: string, user: ChatUser, ttlSec: number): AccessToken {
  const exp = Math.floor(Date.now() / 1000) + ttlSec;
  const token = jwt.sign({ sub: user.id, name: user.name, exp }, secret, { algorithm: 'HS256', noTimestamp: false });
  return { token, exp };
}

export function verifyAccessToken(secret: string, token: string): VerifiedToken {
  try {
    const payload = jwt.verify(token, secret, { algorithms: ['HS256'] });
    if (typeof payload !== 'object' || payload === null) return { ok: false, reason: 'invalid' };
    const { sub, name, exp } = payload as { sub?: unknown; name?: unknown; exp?: unknown };
    if (typeof sub !== 'string' || typeof name !== 'string' || typeof exp !== 'number') {
      return { ok: false, reason: 'invalid' };
    }
    return { ok: true, user: { id: sub, name }, exp };
  } catch (err) {
    return { ok: false, reason: err instanceof jwt.TokenExpiredError ? 'expired' : 'invalid' };
  }
}
