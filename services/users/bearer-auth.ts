// `Authorization: Bearer <access token>` for the /api routes that need a signed-in user. The
// verified user is put on res.locals.user; a missing or bad token is 401 `unauthorized`, an
// expired one 401 `token_expired` (the client then refreshes and retries), a token of a revoked
// session (logout, refresh theft: services/shared/sessions.ts) 401 `unauthorized`. Without Redis
// the revocation check cannot be made: 503, never a pass.
import type { RequestHandler, Response } from 'express';
import type { ChatUser } from '../shared/message.js';
import { tokenScope, verifyAccessToken } from '../shared/tokens.js';
import { ApiError } from './errors.js';

export function bearerAuth(
  config: { JWT_SECRET: string; JWT_ISSUER: string; JWT_AUDIENCE: string },
  sessionRevoked: (sid: string | undefined) => Promise<boolean>,
): RequestHandler {
  const secret = config.JWT_SECRET;
  const scope = tokenScope(config);
  return (req, res, next) => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header) : null;
    if (!m) {
      throw new ApiError('unauthorized', 'sign in first: missing bearer token', { 'WWW-Authenticate': 'Bearer' });
    }
    const verified = verifyAccessToken(secret, m[1]!, scope);
    if (!verified.ok) {
      if (verified.reason === 'expired') {
        throw new ApiError('token_expired', 'access token expired; refresh it', {
          'WWW-Authenticate': 'Bearer error="invalid_token", error_description="expired"',
        });
      }
      throw new ApiError('unauthorized', 'invalid access token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    }
    sessionRevoked(verified.sid).then(
      (revoked) => {
        if (revoked) return next(new ApiError('unauthorized', 'this session has ended; sign in again', { 'WWW-Authenticate': 'Bearer error="invalid_token"' }));
        res.locals.user = verified.user;
        next();
      },
      () => next(new ApiError('unavailable', 'the service is temporarily unavailable; try again shortly')),
    );
  };
}

/** The user bearerAuth verified for this request. */
export function authedUser(res: Response): ChatUser {
  const user = res.locals.user as ChatUser | undefined;
  if (!user) throw new ApiError('unauthorized', 'sign in first');
  return user;
}
