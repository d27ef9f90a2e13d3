// WebSocket handshake budgets, per user and per client IP, across replicas (Redis fixed windows,
// services/shared/fixed-window.ts). A handshake is the most expensive thing a client can ask
// for repeatedly: a socket, then a join of each of its rooms (a presence script and a bounded
// room log read each). MAX_CONNECTIONS_PER_USER bounds the sockets OPEN per replica; this bounds
// how fast they can be opened, over all replicas: HANDSHAKE_MAX_PER_USER per user and
// HANDSHAKE_MAX_PER_IP per client IP (IPv6 per /64) per HANDSHAKE_WINDOW_SEC.
//
// Counted after the cheap local checks (path, origin, token, connection caps), so an
// unauthenticated flood costs no Redis call. Both counters are hit in parallel (one MULTI per
// key: the keys are not in one slot). Over either: 429 with Retry-After (the window's end).
// Redis connected but failing or silent for HANDSHAKE_BUDGET_TIMEOUT_MS: 503 — fail closed.
// (Redis disconnected altogether is decided in server.ts: the socket is admitted unchecked,
// inert until Redis is back, and its session re-checked then.)
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { hitFixedWindow, ipBucket, retryAfterSec } from '../shared/fixed-window.js';
import type { Keys } from '../shared/keys.js';
import { withTimeout } from '../shared/timeout.js';

/** The handshake's Redis checks (budget, revoked session) give up after this (503): an upgrade never hangs on a stalled Redis. */
export const HANDSHAKE_BUDGET_TIMEOUT_MS = 3_000;

export type HandshakeVerdict =
  | { ok: true }
  | { ok: false; status: 429 | 503; message: string; why: string; retryAfterSec?: string };

export type HandshakeLimits = (userId: string, ip: string) => Promise<HandshakeVerdict>;

export function createHandshakeLimits(
  redis: Redis,
  keys: Keys,
  config: Pick<Config, 'HANDSHAKE_MAX_PER_USER' | 'HANDSHAKE_MAX_PER_IP' | 'HANDSHAKE_WINDOW_SEC'>,
  timeoutMs = HANDSHAKE_BUDGET_TIMEOUT_MS,
): HandshakeLimits {
  const windowSec = config.HANDSHAKE_WINDOW_SEC;
  return async (userId, ip) => {
    let user: { count: number; ttl: number };
    let net: { count: number; ttl: number };
    try {
      [user, net] = await withTimeout(
        Promise.all([
          hitFixedWindow(redis, keys.handshakesPerUser(userId), windowSec),
          hitFixedWindow(redis, keys.handshakesPerIp(ipBucket(ip)), windowSec),
        ]),
        timeoutMs,
      );
    } catch {
      return { ok: false, status: 503, message: 'try again shortly', why: 'handshake budget: redis' };
    }
    if (user.count > config.HANDSHAKE_MAX_PER_USER) {
      const retryAfter = retryAfterSec(user.ttl, windowSec);
      return { ok: false, status: 429, message: `too many connection attempts for this user; retry in ${retryAfter} s`, why: 'handshakes per user', retryAfterSec: retryAfter };
    }
    if (net.count > config.HANDSHAKE_MAX_PER_IP) {
      const retryAfter = retryAfterSec(net.ttl, windowSec);
      return { ok: false, status: 429, message: `too many connection attempts from your network; retry in ${retryAfter} s`, why: 'handshakes per ip', retryAfterSec: retryAfter };
    }
    return { ok: true };
  };
}
