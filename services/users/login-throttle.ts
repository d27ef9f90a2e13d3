// Login throttling per username + client IP, in Redis so every users replica shares it.
//
// An attempt reserves a slot BEFORE the password is checked (INCR, one round trip with the
// window's expiry and TTL): a burst of parallel guesses cannot all slip past a "read the count,
// check, then count the failure" sequence. A successful login deletes the key, so in effect
// only failures accumulate; after LOGIN_MAX_FAILURES of them within LOGIN_WINDOW_SEC every
// further attempt, right or wrong, gets 429 until the window (which starts at the first
// failure and is not extended by later attempts) runs out.
//
// If Redis does not answer, logins fail closed (503): no throttle means free brute force.
// A per-IP budget over all usernames (ip-limits.ts) is checked before this one.
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import { ApiError } from './errors.js';
import { hitFixedWindow, retryAfterSec } from './ip-limits.js';

export interface LoginThrottle {
  /** Counts an attempt; throws ApiError 429 (Retry-After) when over the limit, 503 without Redis. */
  attempt(username: string, ip: string): Promise<void>;
  /** A successful login clears the counter. */
  succeeded(username: string, ip: string): Promise<void>;
}

export function createLoginThrottle(
  redis: Redis,
  keys: Pick<Keys, 'loginFailures'>,
  opts: { maxFailures: number; windowSec: number },
): LoginThrottle {
  return {
    async attempt(username, ip) {
      let count: number;
      let ttl: number;
      try {
        ({ count, ttl } = await hitFixedWindow(redis, keys.loginFailures(username, ip), opts.windowSec));
      } catch {
        throw new ApiError('unavailable', 'login is temporarily unavailable; try again shortly');
      }
      if (count > opts.maxFailures) {
        const retryAfter = retryAfterSec(ttl, opts.windowSec);
        throw new ApiError('too_many_attempts', `too many failed logins; try again in ${retryAfter} s`, {
          'Retry-After': retryAfter,
        });
      }
    },
    async succeeded(username, ip) {
      try {
        await redis.del(keys.loginFailures(username, ip));
      } catch {
        // The login itself succeeded; a stale counter only expires later.
      }
    },
  };
}
