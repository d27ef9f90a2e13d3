// When the connection (connection.js) tries again: reconnect backoff with full jitter, the
// re-send delay after `overloaded`, and how a configured URL resolves against the page — pure
// functions — and the named timers the connection keeps them in.

/** Full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
export function backoffDelay(attempt, { baseDelayMs, maxDelayMs }, random = Math.random) {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 20));
  return Math.floor(random() * ceiling);
}

/**
 * Delay before re-sending a message the server refused with `overloaded` (or `internal`,
 * `rate_limited`) for the `retries`-th time (0-based): exponential with full jitter (1 s base,
 * 30 s cap unless `step` says otherwise), at least half the exponential step so retries really
 * spread out, never sooner than the server's retryAfterMs.
 */
export function overloadedRetryDelay(retries, retryAfterMs, random = Math.random, { baseMs = 1_000, maxMs = 30_000 } = {}) {
  const jittered = backoffDelay(retries, { baseDelayMs: baseMs, maxDelayMs: maxMs }, random);
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retries, 20));
  const delay = Math.max(jittered, Math.floor(ceiling / 2));
  const floor = Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? Math.min(retryAfterMs, 5 * 60_000) : 0;
  return Math.max(delay, floor);
}

/** Close codes after which the server wants us to back off (slow consumer, policy violation). */
const PENALTY_CODES = new Set([4008, 1008]);

/**
 * Delay before the next connection attempt. Only the FIRST retry after losing a working
 * connection goes out fast (0..base); any further retry — including after a server that
 * closes right after `hello` — backs off exponentially (`attempt` is only reset once a
 * connection has proved stable), and a 4008/1008 close waits at least penaltyDelayMs.
 */
export function reconnectDelay({ wasReady = false, attempt = 0, code = 0 }, opt, random = Math.random) {
  const penalty = PENALTY_CODES.has(code);
  let delay = wasReady && attempt === 0 && !penalty ? Math.floor(random() * opt.baseDelayMs) : backoffDelay(attempt, opt, random);
  if (penalty) delay = Math.max(delay, opt.penaltyDelayMs + Math.floor(random() * opt.baseDelayMs));
  return delay;
}

/**
 * Resolves a configured URL (absolute ws(s):// or http(s)://, or in a browser a path like /ws
 * against the page) to a ws(s) URL.
 */
export function resolveWsUrl(u, location = globalThis.location) {
  const url = location ? new URL(u, location.href) : new URL(u);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  return url.toString();
}

/** Named one-shot timers (connection.js): setting a name again replaces its timer. */
export class Timers {
  constructor() {
    this.byName = new Map();
  }

  set(name, ms, fn) {
    this.clear(name);
    this.byName.set(
      name,
      setTimeout(() => {
        this.byName.delete(name);
        fn();
      }, ms),
    );
  }

  has(name) {
    return this.byName.has(name);
  }

  clear(name) {
    if (!this.byName.has(name)) return;
    clearTimeout(this.byName.get(name));
    this.byName.delete(name);
  }

  clearAll() {
    for (const name of [...this.byName.keys()]) this.clear(name);
  }
}
