// Fixed-window counters in Redis and the client address they are kept for, shared by the users
// service (login/register budgets, the REST budget) and chat replicas (handshake budgets).
//
// Fixed window: the first counted request starts it (INCR + EXPIRE NX + TTL in one MULTI, so
// parallel requests cannot slip past a read-then-check), later requests do not extend it.
//
// IPv6 clients are counted per /64: one end site usually holds a whole /64 and could otherwise
// pick a fresh address per request.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';

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

/**
 * The client address of a plain node request, as Express computes req.ip with
 * `trust proxy` = 1 (services/users/app.ts): with `trustProxy`, the LAST X-Forwarded-For entry
 * (the one the single trusted proxy appended — entries before it are the client's own and could
 * be anything); otherwise, or without a valid one, the socket's peer.
 */
export function clientIp(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: boolean): string {
  if (trustProxy && forwardedFor !== undefined) {
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
    const last = header.split(',').map((s) => s.trim()).filter(Boolean).at(-1);
    if (last !== undefined && isIP(last) !== 0) return last;
  }
  return remoteAddress ?? 'unknown';
}
