// Access tokens: JWT HS256 with `sub` (user id), `name`, `sid` (the session: the refresh-token
// family that issued it), `iss`, `aud`, `iat` and `exp`, short-lived. Issued by the users service,
// verified by chat replicas at the WebSocket handshake and on in-band `auth`, and by the users
// service's bearer auth. The algorithm is pinned on verify so a token cannot pick its own
// ("alg":"none" etc.); `iss` and `aud` are required and checked (JWT_ISSUER, JWT_AUDIENCE), so
// environments that share a secret by mistake still do not accept each other's tokens.
// `sid` lets a logout or a detected refresh-token theft revoke the session's live sockets and
// its not-yet-expired access tokens (services/shared/sessions.ts).
import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { ChatUser } from './message.js';

const secretKeys = new Map<string, KeyObject>();

/**
 * The HMAC key of `secret`, made once. Given a string, jsonwebtoken builds a KeyObject on every
 * sign and verify (createPublicKey/createPrivateKey, which throw for a secret, then
 * createSecretKey): ~14 % of a replica's CPU while 100,000 sockets connected (issue 21's
 * connections benchmark). A KeyObject is a documented input of both calls; the tokens are the
 * same. An empty secret stays a string so that jsonwebtoken refuses it as before.
 */
function keyOf(secret: string): KeyObject | string {
  if (secret === '') return secret;
  let key = secretKeys.get(secret);
  if (!key) {
    if (secretKeys.size >= 8) secretKeys.clear(); // a process knows one or two (rotation)
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    secretKeys.set(secret, key);
  }
  return key;
}

export const DEFAULT_TOKEN_ISSUER = 'aurorachat';
export const DEFAULT_TOKEN_AUDIENCE = 'aurorachat';

export interface AccessToken {
  token: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export interface TokenScope {
  issuer?: string;
  audience?: string;
}

export interface SignOptions extends TokenScope {
  /** The session (refresh family) id; tokens minted outside a session (tests, benches) have none. */
  sid?: string;
  /** Issue time in seconds; given, the token is a pure function of its inputs (the refresh grace). */
  iat?: number;
  /**
   * RFC 8693 actor: who really holds a token issued to act as `sub` (an operator's support token,
   * services/cli/token.ts). Verification ignores it; it is there for audit.
   */
  act?: { sub: string };
}

/** The issuer and audience a service signs and verifies with (JWT_ISSUER, JWT_AUDIENCE). */
export function tokenScope(config: { JWT_ISSUER: string; JWT_AUDIENCE: string }): TokenScope {
  return { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
}

export type VerifiedToken =
  | { ok: true; user: ChatUser; exp: number; sid?: string | undefined }
  | { ok: false; reason: 'expired' | 'invalid' };

export function signAccessToken(secret: string, user: ChatUser, ttlSec: number, opts: SignOptions = {}): AccessToken {
  const iat = opts.iat ?? Math.floor(Date.now() / 1000);
  const exp = iat + ttlSec;
  const payload: Record<string, unknown> = {
    sub: user.id,
    name: user.name,
    iss: opts.issuer ?? DEFAULT_TOKEN_ISSUER,
    aud: opts.audience ?? DEFAULT_TOKEN_AUDIENCE,
    iat,
    exp,
  };
  if (opts.sid !== undefined) payload.sid = opts.sid;
  if (opts.act !== undefined) payload.act = { sub: opts.act.sub };
  const token = jwt.sign(payload, keyOf(secret), { algorithm: 'HS256', noTimestamp: true });
  return { token, exp };
}

export function verifyAccessToken(secret: string, token: string, scope: TokenScope = {}): VerifiedToken {
  try {
    const payload = jwt.verify(token, keyOf(secret), {
      algorithms: ['HS256'],
      issuer: scope.issuer ?? DEFAULT_TOKEN_ISSUER,
      audience: scope.audience ?? DEFAULT_TOKEN_AUDIENCE,
    });
    if (typeof payload !== 'object' || payload === null) return { ok: false, reason: 'invalid' };
    const { sub, name, exp, sid } = payload as { sub?: unknown; name?: unknown; exp?: unknown; sid?: unknown };
    if (typeof sub !== 'string' || typeof name !== 'string' || typeof exp !== 'number') {
      return { ok: false, reason: 'invalid' };
    }
    if (sid !== undefined && typeof sid !== 'string') return { ok: false, reason: 'invalid' };
    return { ok: true, user: { id: sub, name }, exp, sid };
  } catch (err) {
    return { ok: false, reason: err instanceof jwt.TokenExpiredError ? 'expired' : 'invalid' };
  }
}
