// Profiles (issue 16): the display name (PATCH /api/me), the profiles of given users (GET
// /api/users/profiles: what a client needs to show message authors by id), and the password.
//
// /api/me/password: a signed-in user changes their password. The current
// password is checked like a login (the same throttle, keyed by their username and client IP, so
// a stolen access token cannot be used to guess the password at full speed); the new hash is
// stored and every OTHER session of the user is ended in the same store call (their refresh
// families revoked), then revokeSession closes those sessions' sockets and refuses their access
// tokens at once. The caller's own session (its access token's `sid`) keeps working.
//
// DELETE /api/me {password}: the account goes (account-deletion.ts). The password is asked again,
// checked under the login throttle like a change, so a stolen access token alone cannot delete it.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { revokeSession } from '../shared/sessions.js';
import type { PublicUser, Store, User } from '../shared/store/store.js';
import { tokenScope, verifyAccessToken } from '../shared/tokens.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import type { DeleteAccount } from './account-deletion.js';
import type { LoginThrottle } from './login-throttle.js';
import type { Passwords } from './passwords.js';
import type { PublishProfile } from './profile-live.js';
import { accountDeletionBody, displayNameBody, passwordChangeBody, profilesQuery } from './schemas/auth.js';
import { parse, parseBody } from './validation.js';

export interface ProfileDeps {
  /** bearerAuth + the per-user request budget (app.ts). */
  auth: RequestHandler;
  config: Pick<Config, 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'ACCESS_TOKEN_TTL_SEC'>;
  store: Store;
  redis: Redis;
  keys: Keys;
  log: Logger;
  passwords: Passwords;
  /** The login throttle (one instance with auth-routes.ts: failures here count for login too). */
  throttle: LoginThrottle;
  /** The live `profile` frame (profile-live.ts). */
  publishProfile: PublishProfile;
  /** DELETE /api/me (account-deletion.ts). */
  deleteAccount: DeleteAccount;
}

const clientIp = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** A user as profiles show them: optional fields absent when not set. */
export const profileOf = (u: PublicUser | User): PublicUser => ({
  id: u.id,
  username: u.username,
  ...(u.displayName !== undefined && { displayName: u.displayName }),
  ...(u.avatar !== undefined && { avatar: u.avatar }),
  ...(u.deleted && { deleted: true as const }),
});

export function profileRouter(deps: ProfileDeps): Router {
  const { auth, config, store, redis, keys, log, passwords, throttle, publishProfile, deleteAccount } = deps;
  const scope = tokenScope(config);
  const router = Router();

  /**
   * The caller's session id. bearerAuth (run before) verified this token and put only the user
   * on res.locals, so it is read again here; undefined for a token minted outside a session.
   */
  const callerSid = (req: Request): string | undefined => {
    const token = /^Bearer +(\S+)/i.exec(req.headers.authorization ?? '')?.[1];
    const verified = token ? verifyAccessToken(config.JWT_SECRET, token, scope) : null;
    return verified?.ok ? verified.sid : undefined;
  };

  /** The caller's password, checked like a login (throttled per username + IP); the user when right. */
  const checkPassword = async (req: Request, res: Response, password: string): Promise<User> => {
    const me = authedUser(res);
    const ip = clientIp(req);
    await throttle.attempt(me.name, ip);
    const user = await store.findUserById(me.id);
    // always one bcrypt comparison (passwords.ts), also for an account deleted meanwhile
    const ok = await passwords.verify(password, user?.passwordHash ?? null);
    if (!user || user.deleted) throw new ApiError('unauthorized', 'this account no longer exists');
    if (!ok) throw new ApiError('invalid_credentials', 'the password is wrong');
    await throttle.succeeded(me.name, ip);
    return user;
  };

  // PATCH and DELETE here: GET /api/me and its 405 live in auth-routes.ts (this router is mounted first).
  router
    .route('/api/me')
    .patch(auth, async (req, res) => {
      const { displayName } = parseBody(req, displayNameBody);
      const user = await store.setDisplayName(authedUser(res).id, displayName);
      if (!user) throw new ApiError('unauthorized', 'this account no longer exists');
      await publishProfile(profileOf(user));
      res.json({ user: profileOf(user) });
    })
    .delete(auth, async (req, res) => {
      const { password } = parseBody(req, accountDeletionBody);
      const user = await checkPassword(req, res, password);
      const { found } = await deleteAccount({ id: user.id, name: user.username });
      if (!found) throw new ApiError('unauthorized', 'this account no longer exists');
      res.status(204).end();
    });

  router
    .route('/api/users/profiles')
    .get(auth, async (req, res) => {
      const { ids } = parse(profilesQuery, req.query);
      const found = new Map((await store.userProfiles(ids)).map((p) => [p.id, p]));
      const profiles = ids.flatMap((id) => (found.has(id) ? [profileOf(found.get(id)!)] : []));
      res.json({ profiles });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/me/password')
    .put(auth, async (req, res) => {
      const { currentPassword, newPassword } = parseBody(req, passwordChangeBody);
      const user = await checkPassword(req, res, currentPassword);
      const sid = callerSid(req);
      const { found, families } = await store.changePassword(user.id, await passwords.hash(newPassword), sid);
      if (!found) throw new ApiError('unauthorized', 'this account no longer exists');
      // Their refresh tokens are already refused; this ends their sockets and access tokens now.
      await Promise.all(families.map((f) => revokeSession(redis, keys, f, config.ACCESS_TOKEN_TTL_SEC)));
      log.info({ userId: user.id, endedSessions: families.length }, 'password changed');
      res.status(204).end();
    })
    .all(methodNotAllowed(['PUT']));

  return router;
}
