// Per-client-IP budgets for the endpoints that cost a bcrypt computation each (login, register),
// in Redis so every users replica shares them. The per-username + IP login throttle
// (login-throttle.ts) stops password guessing against one account; these stop one client from
// spraying new usernames (or new accounts) to keep libuv's bcrypt threads busy for ever.
//
// Fixed window: the first counted request starts it (INCR + EXPIRE NX + TTL in one MULTI, so
// parallel requests cannot slip past a read-then-check), later requests do not extend it, and
// every request counts — right or wrong password, taken username or not — because each one
// would have cost a hash. Over the budget: 429 too_many_attempts with Retry-After. Without
// Redis: 503 (fail closed; no budget means unbounded hashing).
//
// IPv6 clients are counted per /64: one end site usually holds a whole /64 and could otherwise
// pick a fresh address per request.
import { isIPv4, isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import { ApiError } from './errors.js';

/** One request counted in the fixed window of `key`: the count so far and the seconds left. */
export async function hitFixedWindow(redis: Redis, key: string, windowSec: number): Promise<{ count: number; ttl: number }> {
  const replies = await redis.multi().incr(key).expire(key, windowSec, 'NX').ttl(key).exec();
  if (!replies || replies.some(([err]) => err)) throw new Error('fixed-window transaction failed');
  return { count: Number(replies[0]![1]), ttl: Number(replies[2]![1]) };
}

/** Whole seconds until the window ends, at least 1 (for Retry-After). */
export const retryAfterSec = (ttl: number, windowSec: number) => String(Math.max(1, ttl > 0 ? ttl : windowSec));

/** The address a per-IP budget is kept for: IPv4 as is (also when v4-mapped), IPv6 as its /64. */
export function ipBucket(ip: string): string {
  if (isIPv4(ip)) return ip;
  const addr = ip.split('%')[0]!;
  if (!isIPv6(addr)) return ip; // 'unknown' or anything odd: count it under its own name
  const lower = addr.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1]!;
  const groups = (part: string): string[] => {
    if (!part) return [];
    const out = part.split(':');
    const last = out[out.length - 1]!;
    if (last.includes('.')) {
      // embedded IPv4 (the low 32 bits): two groups
      const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
      out.splice(out.length - 1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    }
    return out;
  };
  const [head = '', tail] = lower.split('::');
  const h = groups(head);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - groups(tail).length).fill('0'), ...groups(tail)];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

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
