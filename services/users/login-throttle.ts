// Login throttling in Redis, so every users replica shares it. Two budgets, both checked before
// the password is:
//
// 1. Per username + client IP (IPv6: its /64, ipBucket in ip-limits.ts — one end site holds a
//    whole /64 and could otherwise pick a fresh address per guess). An attempt reserves a slot
//    BEFORE the password is checked (INCR, one round trip with the window's expiry and TTL): a
//    burst of parallel guesses cannot all slip past a "read the count, check, then count the
//    failure" sequence. A successful login deletes the key, so in effect only failures
//    accumulate; after LOGIN_MAX_FAILURES of them within LOGIN_WINDOW_SEC every further attempt,
//    right or wrong, gets 429 until the window (which starts at the first failure and is not
//    extended by later attempts) runs out.
// 2. Per username over ALL IPs (lua/login-account.lua): credential stuffing spreads guesses at
//    one account over many addresses, each far below budget 1. After
//    LOGIN_ACCOUNT_FREE_FAILURES failures every attempt must wait 1 s, 2 s, 4 s … (capped at
//    LOGIN_ACCOUNT_MAX_DELAY_SEC) after the previous failure; earlier ones get 429 with
//    Retry-After at once (no request is held open). A refused attempt does not lengthen the
//    delay and a success resets it; the failures are forgotten LOGIN_WINDOW_SEC after the last
//    one. An attacker who keeps failing could still take every slot as it opens and so keep the
//    real user out for as long as the attack lasts — hence the exemption: a client network
//    (IP, IPv6 /64) this username signed in from within KNOWN_CLIENT_TTL_SEC skips the account
//    delay (budget 1 still applies to it), as OWASP's "device cookie" advice does for lockouts.
//
// If Redis does not answer, logins fail closed (503): no throttle means free brute force.
// A per-IP budget over all usernames (ip-limits.ts) is checked before these.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import { ApiError } from './errors.js';
import { hitFixedWindow, ipBucket, retryAfterSec } from './ip-limits.js';

const LOGIN_ACCOUNT_LUA = readFileSync(new URL('./lua/login-account.lua', import.meta.url), 'utf8');

/** A network a username signed in from skips the per-account delay for this long (30 days). */
export const KNOWN_CLIENT_TTL_SEC = 30 * 86_400;

type LoginAccountCommand = (key: string, freeFailures: number, maxDelayMs: number, forgetAfterSec: number) => Promise<number>;

export interface LoginThrottle {
  /** Counts an attempt; throws ApiError 429 (Retry-After) when over a limit, 503 without Redis. */
  attempt(username: string, ip: string): Promise<void>;
  /** A successful login clears both counters. */
  succeeded(username: string, ip: string): Promise<void>;
}

export function createLoginThrottle(
  redis: Redis,
  keys: Pick<Keys, 'loginFailures' | 'loginAccountFailures' | 'loginKnownClient'>,
  opts: { maxFailures: number; windowSec: number; accountFreeFailures: number; accountMaxDelaySec: number },
): LoginThrottle {
  redis.defineCommand('auroraLoginAccount', { numberOfKeys: 1, lua: LOGIN_ACCOUNT_LUA });
  const loginAccount = (redis as unknown as { auroraLoginAccount: LoginAccountCommand }).auroraLoginAccount.bind(redis);
  const unavailable = () => new ApiError('unavailable', 'login is temporarily unavailable; try again shortly');

  return {
    async attempt(username, ip) {
      let count: number;
      let ttl: number;
      try {
        ({ count, ttl } = await hitFixedWindow(redis, keys.loginFailures(username, ipBucket(ip)), opts.windowSec));
      } catch {
        throw unavailable();
      }
      if (count > opts.maxFailures) {
        const retryAfter = retryAfterSec(ttl, opts.windowSec);
        throw new ApiError('too_many_attempts', `too many failed logins; try again in ${retryAfter} s`, {
          'Retry-After': retryAfter,
        });
      }
      // Last, so an attempt refused above never takes (and delays) one of the account's slots.
      let waitMs: number;
      try {
        if ((await redis.exists(keys.loginKnownClient(username, ipBucket(ip)))) === 1) return;
        waitMs = Number(
          await loginAccount(keys.loginAccountFailures(username), opts.accountFreeFailures, opts.accountMaxDelaySec * 1000, opts.windowSec),
        );
      } catch {
        throw unavailable();
      }
      if (waitMs > 0) {
        const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
        throw new ApiError('too_many_attempts', `too many failed logins for this account; try again in ${retryAfter} s`, {
          'Retry-After': retryAfter,
        });
      }
    },
    async succeeded(username, ip) {
      try {
        // Two commands: the keys are in different slots on a Redis Cluster (one DEL would be CROSSSLOT).
        await Promise.all([
          redis.del(keys.loginFailures(username, ipBucket(ip))),
          redis.del(keys.loginAccountFailures(username)),
          redis.set(keys.loginKnownClient(username, ipBucket(ip)), '1', 'EX', KNOWN_CLIENT_TTL_SEC),
        ]);
      } catch {
        // The login itself succeeded; stale counters only expire later.
      }
    },
  };
}
