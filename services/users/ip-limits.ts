// Per-client-IP budgets for the endpoints that cost a bcrypt computation each (login, register),
// in Redis so every users replica shares them. The per-username + IP login throttle
// (login-throttle.ts) stops password guessing against one account; these stop one client from
// spraying new usernames (or new accounts) to keep libuv's bcrypt threads busy for ever.
//
// Fixed window (services/shared/fixed-window.ts, shared with the chat replicas' handshake
// budgets): every request counts — right or wrong password, taken username or not — because
// each one would have cost a hash. Over the budget: 429 too_many_attempts with Retry-After.
// Without Redis: 503 (fail closed; no budget means unbounded hashing). IPv6 per /64.
import type { Redis } from 'ioredis';
import { hitFixedWindow, ipBucket, retryAfterSec } from '../shared/fixed-window.js';
import { ApiError } from './errors.js';

// Re-exported: login-throttle.ts and user-budget.ts import them from here.
export { hitFixedWindow, ipBucket, retryAfterSec };

export interface IpLimit {
  /** Counts one request from `ip`; throws ApiError 429 (Retry-After) over the budget, 503 without Redis. */
  hit(ip: string): Promise<void>;
}

export function createIpLimit(
  redis: Redis,
  keyOf: (ipBucket: string) => string,
  opts: { max: number; windowSec: number; /** e.g. "login", "registration" */ what: string },
): IpLimit {
  return {
    async hit(ip) {
      let count: number;
      let ttl: number;
      try {
        ({ count, ttl } = await hitFixedWindow(redis, keyOf(ipBucket(ip)), opts.windowSec));
      } catch {
        throw new ApiError('unavailable', `${opts.what} is temporarily unavailable; try again shortly`);
      }
      if (count > opts.max) {
        const retryAfter = retryAfterSec(ttl, opts.windowSec);
        throw new ApiError('too_many_attempts', `too many ${opts.what} attempts from your network; try again in ${retryAfter} s`, {
          'Retry-After': retryAfter,
        });
      }
    },
  };
}
