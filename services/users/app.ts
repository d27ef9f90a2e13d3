// Builds the users service's Express app from its dependencies (no listening, no signals:
// main.ts does that). Middleware order matters:
//   /healthz (unlogged) -> request log + metrics -> security headers ->
//   CORS -> no-store on /api -> attachments (raw streamed bodies: before the JSON parser) ->
//   JSON body (16 KiB) -> auth routes -> user/room routes -> static client ->
//   404 JSON -> error handler (every error becomes {"error":{code,message}}).
// /readyz and /metrics are not here: main.ts serves `ops` on ADMIN_PORT (shared/ops.ts).
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { handleLiveness, type Ops } from '../shared/ops.js';
import type { Store } from '../shared/store/store.js';
import { authRouter } from './auth-routes.js';
import { errorHandler, notFound } from './errors.js';
import { createIpLimit } from './ip-limits.js';
import { createLoginThrottle } from './login-throttle.js';
import { createPasswords } from './passwords.js';
import { createRefreshTokens } from './refresh-tokens.js';
import { requestLog } from './request-log.js';
import { createUsersMetrics } from './metrics.js';
import { roomsRouter } from './rooms-routes.js';
import { membershipRouter } from './membership-routes.js';
import { attentionRouter } from './attention-routes.js';
import { searchRouter } from './search-routes.js';
import { messageRouter } from './message-routes.js';
import { RoomChanges } from './room-changes.js';
import { createMemberScript } from '../shared/member-script.js';
import { bearerAuth } from './bearer-auth.js';
import { isSessionRevoked, revokeSession } from '../shared/sessions.js';
import { readPresence, setPresenceDnd } from '../shared/user-status.js';
import { userRequestBudget } from './user-budget.js';
import { securityHeaders, webRouter } from './web.js';
import { apiDocsRouter } from './api-docs.js';
import type { FileStorage } from './files/file-storage.js';
import { filesRouter } from './files-routes.js';
import { createAccountDeletion } from './account-deletion.js';
import { assistantRouter } from './assistant-routes.js';
import { profileRouter } from './profile-routes.js';
import { avatarRouter } from './avatar-routes.js';
import { createProfilePublisher } from './profile-live.js';

/** Auth bodies are two short strings; anything near this is not a real client. */
export const JSON_BODY_LIMIT = '16kb';
/** POST /api/rooms/:room/messages: 4,000 characters escaped as \\uXXXX, with the other fields. */
export const MESSAGE_BODY_LIMIT = '32kb';

export interface AppDeps {
  config: Config;
  log: Logger;
  store: Store;
  redis: Redis;
  registry: Registry;
  /** Where uploads live (files/file-storage.ts createFileStorage). */
  storage: FileStorage;
}

export interface UsersApp {
  app: Express;
  ops: Ops;
  /** Turns /readyz red for good (SIGTERM). */
  startDraining(): void;
}

export async function createApp({ config, log, store, redis, registry, storage }: AppDeps): Promise<UsersApp> {
  let draining = false;
  const ops: Ops = {
    registry,
    draining: () => draining,
    checks: [
      {
        name: 'redis',
        check: async () => {
          if (redis.status !== 'ready') throw new Error(`redis ${redis.status}`);
          await redis.ping();
        },
      },
      { name: 'store', check: () => store.ping() },
    ],
  };

  const metrics = createUsersMetrics(registry);

  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY trusts exactly ONE proxy hop (the ingress in front of us): req.ip is the
  // address that proxy saw, so a client cannot pick its own IP (and dodge the login throttle)
  // by sending X-Forwarded-For entries of its own.
  app.set('trust proxy', config.TRUST_PROXY ? 1 : false);

  app.use((req, res, next) => {
    if (!handleLiveness(req, res)) next();
  });
  app.use(requestLog(log, metrics));
  app.use(securityHeaders(config));
  app.use(
    cors({
      origin: [...config.ALLOWED_ORIGINS],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Content-Type', 'Authorization'],
      maxAge: 600,
    }),
  );
  // API answers are per user and carry tokens: no cache (browser or proxy) may keep them.
  app.use('/api', (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  const keys = keysFor(config.PARTITIONS);
  // Every signed-in route: a valid access token, then one request from the user's budget.
  const authenticated = chain(
    bearerAuth(config, (sid) => isSessionRevoked(redis, keys, sid)),
    userRequestBudget(redis, keys, { max: config.REST_MAX_PER_USER, windowSec: config.REST_WINDOW_SEC }),
  );
  // Uploads stream their raw body: mounted before express.json, which would otherwise read a
  // body sent as application/json whole into memory.
  app.use(filesRouter({ config, store, redis, keys, storage, log, auth: authenticated }));
  const publishProfile = createProfilePublisher({ redis, keys, store, log });
  app.use(avatarRouter({ auth: authenticated, store, storage, log, publishProfile }));

  // A message is up to 4,000 characters, which a client's JSON encoder may escape as \uXXXX —
  // 24 KB, over the API's body limit: the message route parses its own body first, up to
  // MESSAGE_BODY_LIMIT (express.json then skips a body already read). Text length is the send
  // parser's rule (too_long), as on the WebSocket.
  app.post('/api/rooms/:room/messages', express.json({ limit: MESSAGE_BODY_LIMIT, strict: false }));
  // strict: false so a JSON body that is not an object ("x", 42, null) gets invalid_body, not invalid_json.
  app.use(express.json({ limit: JSON_BODY_LIMIT, strict: false }));

  // shared by login and the password change (profile-routes.ts): one throttle per username
  const passwords = await createPasswords(config.BCRYPT_COST);
  const throttle = createLoginThrottle(redis, keys, {
    maxFailures: config.LOGIN_MAX_FAILURES,
    windowSec: config.LOGIN_WINDOW_SEC,
    accountFreeFailures: config.LOGIN_ACCOUNT_FREE_FAILURES,
    accountMaxDelaySec: config.LOGIN_ACCOUNT_MAX_DELAY_SEC,
  });
  // membership changes: the REST routes' and an account deletion's (leaving every room)
  const roomChanges = new RoomChanges(redis, keys, store, createMemberScript(redis, keys, config), log);
  const deleteAccount = createAccountDeletion({ config, store, redis, keys, log, storage, changes: roomChanges, publishProfile });
  // before authRouter: PATCH and DELETE /api/me are here, GET /api/me (and the 405 for the rest) there
  app.use(profileRouter({ auth: authenticated, config, store, redis, keys, log, passwords, throttle, publishProfile, deleteAccount }));
  app.use(assistantRouter({ auth: authenticated, redis, keys }));
  app.use(
    authRouter({
      authenticated,
      config,
      log,
      store,
      sessionRevoked: (familyId) => isSessionRevoked(redis, keys, familyId),
      events: metrics.authEvents,
      passwords,
      throttle,
      loginPerIp: createIpLimit(redis, keys.loginAttemptsPerIp, {
        max: config.LOGIN_MAX_PER_IP,
        windowSec: config.LOGIN_WINDOW_SEC,
        what: 'login',
      }),
      registerPerIp: createIpLimit(redis, keys.registerAttemptsPerIp, {
        max: config.REGISTER_MAX_PER_IP,
        windowSec: config.REGISTER_WINDOW_SEC,
        what: 'registration',
      }),
      refreshTokens: createRefreshTokens(store, log, {
        ttlSec: config.REFRESH_TOKEN_TTL_SEC,
        reuseGraceSec: config.REFRESH_REUSE_GRACE_SEC,
        secret: config.JWT_SECRET,
        redis,
        keys,
        // Logout and theft detection end the session's live sockets and access tokens at once.
        onFamilyRevoked: (familyId) => revokeSession(redis, keys, familyId, config.ACCESS_TOKEN_TTL_SEC),
      }),
    }),
  );
  app.use(membershipRouter(store, roomChanges, { auth: authenticated, presence: (ids) => readPresence(redis, keys, ids, config.AWAY_AFTER_SEC * 1000) }));
  app.use(
    attentionRouter(store, {
      auth: authenticated,
      receiptsMaxMembers: config.RECEIPTS_MAX_MEMBERS,
      presenceDnd: (userId, dnd) => setPresenceDnd(redis, keys, userId, dnd),
    }),
  );
  app.use(messageRouter({ auth: authenticated, config, redis, keys, log })); // POST …/messages: before roomsRouter
  // before roomsRouter: it answers GET /api/rooms/:room/messages?around=… (other history requests pass on)
  app.use(searchRouter(store, { auth: authenticated, historyMaxBytes: config.HISTORY_PAGE_MAX_BYTES }));
  app.use(roomsRouter(store, { auth: authenticated, historyMaxBytes: config.HISTORY_PAGE_MAX_BYTES }));
  // /api/openapi.json and /api/docs: public, cacheable (they override the no-store above)
  app.use(apiDocsRouter());
  app.use(webRouter(config));

  app.use(notFound);
  app.use(errorHandler(log));

  return {
    app,
    ops,
    startDraining: () => {
      draining = true;
    },
  };
}

/** Two middlewares as one (a route takes it like any handler); a throw in `a` reaches Express. */
function chain(a: RequestHandler, b: RequestHandler): RequestHandler {
  return (req, res, next) => a(req, res, (err?: unknown) => (err ? next(err) : b(req, res, next)));
}
