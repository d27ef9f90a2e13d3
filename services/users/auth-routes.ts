// /api/auth/* (register, login, refresh, logout) and /api/me.
import { Router, type Request, type RequestHandler } from 'express';
import type { Counter } from 'prom-client';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { DuplicateUsernameError, type Store, type User } from '../shared/store/store.js';
import { signAccessToken, tokenScope } from '../shared/tokens.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import type { IpLimit } from './ip-limits.js';
import type { LoginThrottle } from './login-throttle.js';
import type { Passwords } from './passwords.js';
import type { RefreshTokens } from './refresh-tokens.js';
import { credentialsBody, refreshTokenBody } from './schemas/auth.js';
import { parseBody } from './validation.js';

export interface AuthDeps {
  /** bearerAuth + the per-user request budget (app.ts), for the signed-in routes. */
  authenticated: RequestHandler;
  config: Pick<Config, 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE' | 'ACCESS_TOKEN_TTL_SEC'>;
  log: Logger;
  store: Store;
  passwords: Passwords;
  throttle: LoginThrottle;
  /** Per-client-IP budgets (any username): every login / registration costs a bcrypt computation. */
  loginPerIp: IpLimit;
  registerPerIp: IpLimit;
  refreshTokens: RefreshTokens;
  /**
   * True when the session (refresh family) was ended (sessions.ts): a rotation that raced with a
   * password change may have saved its successor after that change revoked the family.
   */
  sessionRevoked: (familyId: string) => Promise<boolean>;
  /** aurora_users_auth_events_total{event}: register, register_throttled, login_ok, login_failed, login_throttled, login_disabled, refresh_ok, ... */
  events: Counter<'event'>;
}

const publicUser = (u: Pick<User, 'id' | 'username' | 'displayName' | 'avatar'>) => ({
  id: u.id,
  username: u.username,
  // profiles (profile-routes.ts): absent when not set
  ...(u.displayName !== undefined && { displayName: u.displayName }),
  ...(u.avatar !== undefined && { avatar: u.avatar }),
});

const clientIp = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';


export function authRouter(deps: AuthDeps): Router {
  const { authenticated, config, log, store, passwords, throttle, loginPerIp, registerPerIp, refreshTokens, sessionRevoked, events } = deps;

  /** Runs a limiter; a 429 from it is counted as `event` before it goes on to the error handler. */
  const limited = async (event: string, check: () => Promise<void>) => {
    try {
      await check();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'too_many_attempts') events.inc({ event });
      throw err;
    }
  };
  const router = Router();
  const accountDisabled = () => {
    events.inc({ event: 'login_disabled' });
    return new ApiError('account_disabled', 'this account is disabled; contact the operator');
  };

  /**
   * The login/refresh response: an access token of session `sid` issued at `issuedAt` (ms) plus
   * the given refresh token. Signed with an explicit iat, so the refresh grace answer (the same
   * spend time) is the same token.
   */
  const session = (user: Pick<User, 'id' | 'username'>, refreshToken: string, sid: string, issuedAt = Date.now()) => {
    const access = signAccessToken(config.JWT_SECRET, { id: user.id, name: user.username }, config.ACCESS_TOKEN_TTL_SEC, {
      ...tokenScope(config),
      sid,
      iat: Math.floor(issuedAt / 1000),
    });
    return {
      token: access.token,
      refreshToken,
      expiresIn: Math.max(0, access.exp - Math.floor(Date.now() / 1000)),
      user: publicUser(user),
    };
  };

  router
    .route('/api/auth/register')
    .post(async (req, res) => {
      const { username, password } = parseBody(req, credentialsBody);
      // Counted before the hash, also when the name turns out to be taken: the hash is the cost.
      await limited('register_throttled', () => registerPerIp.hit(clientIp(req)));
      const passwordHash = await passwords.hash(password);
      let user: User;
      try {
        user = await store.createUser({ username, passwordHash });
      } catch (err) {
        if (err instanceof DuplicateUsernameError) throw new ApiError('username_taken', 'that username is taken');
        throw err;
      }
      events.inc({ event: 'register' });
      log.info({ userId: user.id }, 'user registered');
      res.status(201).json({ user: publicUser(user) });
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/api/auth/login')
    .post(async (req, res) => {
      const { username, password } = parseBody(req, credentialsBody);
      const ip = clientIp(req);
      // The per-IP budget first (any username: caps the bcrypt work one client can cause), then
      // the per-username ones (login-throttle.ts: per username + IP, then per username over all
      // IPs — together they cap guesses at one account).
      await limited('login_throttled', async () => {
        await loginPerIp.hit(ip);
        await throttle.attempt(username, ip);
      });
      const user = await store.findUserByUsername(username);
      // Always one bcrypt comparison, also for an unknown user (see passwords.ts).
      const ok = await passwords.verify(password, user?.passwordHash ?? null);
      if (!user || !ok) {
        events.inc({ event: 'login_failed' });
        throw new ApiError('invalid_credentials', 'wrong username or password');
      }
      await throttle.succeeded(username, ip);
      // After the password check, so the answer tells only someone holding the password that
      // the account exists and is disabled.
      if (user.disabled) throw accountDisabled();
      const { refreshToken, familyId } = await refreshTokens.issue(user.id);
      // An operator may have disabled the account since it was read: their revocation would
      // miss this family if it was saved after they listed the user's families. The flag is set
      // before that listing, so reading it again after the save closes the gap.
      if ((await store.findUserById(user.id))?.disabled !== false) {
        await refreshTokens.revokeFamily(familyId, user.id);
        throw accountDisabled();
      }
      events.inc({ event: 'login_ok' });
      res.json(session(user, refreshToken, familyId));
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/api/auth/refresh')
    .post(async (req, res) => {
      const presented = parseBody(req, refreshTokenBody).refreshToken;
      const rotated = await refreshTokens.rotate(presented);
      if (!rotated.ok) {
        events.inc({ event: rotated.reason === 'reused' ? 'refresh_reused' : 'refresh_rejected' });
        throw new ApiError(
          'invalid_refresh_token',
          rotated.reason === 'reused'
            ? 'refresh token was already used; the session has been revoked, sign in again'
            : 'refresh token is not valid; sign in again',
        );
      }
      const user = await store.findUserById(rotated.userId);
      if (!user) throw new ApiError('invalid_refresh_token', 'refresh token is not valid; sign in again');
      // Disabling and a password change revoke the user's families (the change all but the
      // caller's), so either of these is only a rotation that raced with one. Its successor,
      // saved after the store's revocation, was saved revoked (store.ts saveRefreshToken); one
      // saved before it was revoked with the family. This also ends the new access token at once.
      if (user.disabled || (await sessionRevoked(rotated.familyId))) {
        await refreshTokens.revokeFamily(rotated.familyId, user.id);
        events.inc({ event: 'refresh_rejected' });
        throw new ApiError('invalid_refresh_token', 'refresh token is not valid; sign in again');
      }
      events.inc({ event: rotated.grace ? 'refresh_grace' : 'refresh_ok' });
      res.json(session(user, rotated.refreshToken, rotated.familyId, rotated.issuedAt));
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/api/auth/logout')
    .post(async (req, res) => {
      // Idempotent: an unknown or already-revoked token is still a successful logout.
      await refreshTokens.revokeFamilyOf(parseBody(req, refreshTokenBody).refreshToken);
      events.inc({ event: 'logout' });
      res.status(204).end();
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/api/me')
    .get(authenticated, async (_req, res) => {
      const user = await store.findUserById(authedUser(res).id);
      if (!user || user.deleted) throw new ApiError('unauthorized', 'this account no longer exists');
      // dnd: the client shows (and keeps) the status the user chose on another device
      res.json({ user: publicUser(user), dnd: user.dnd });
    })
    .all(methodNotAllowed(['GET', 'HEAD', 'PATCH', 'DELETE'])); // PATCH, DELETE: profile-routes.ts, mounted first

  return router;
}
