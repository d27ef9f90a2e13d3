// The per-user budget of the signed-in REST API (REST_MAX_PER_USER per REST_WINDOW_SEC), in Redis
// so every users replica shares it. Runs right after bearerAuth on every authenticated route:
// history pages read the store, and without a budget one account could page a big room in a
// loop. Fixed window (hitFixedWindow: INCR + EXPIRE NX + TTL in one MULTI). Over it: 429
// `too_many_requests` with Retry-After. Without Redis: 503 — fail closed, as the login
// throttles do (no budget means an unbounded store load).
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import { authedUser } from './bearer-auth.js';
import { ApiError } from './errors.js';
import { hitFixedWindow, retryAfterSec } from './ip-limits.js';

export function userRequestBudget(
  redis: Redis,
  keys: Pick<Keys, 'restRequestsPerUser'>,
  opts: { max: number; windowSec: number },
): RequestHandler {
  return (_req, res, next) => {
    const user = authedUser(res);
    hitFixedWindow(redis, keys.restRequestsPerUser(user.id), opts.windowSec).then(
      ({ count, ttl }) => {
        if (count <= opts.max) return next();
        const retryAfter = retryAfterSec(ttl, opts.windowSec);
        next(new ApiError('too_many_requests', `too many requests; try again in ${retryAfter} s`, { 'Retry-After': retryAfter }));
      },
      () => next(new ApiError('unavailable', 'the service is temporarily unavailable; try again shortly')),
    );
  };
}
