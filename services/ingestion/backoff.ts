// Capped exponential backoff with jitter, and a sleep that a shutdown can cut short. Used by
// every retry in the worker: a store that is down, Redis that is unreachable, a failed ack.

export interface BackoffPolicy {
  /** Delay of the first retry (before jitter). */
  baseMs: number;
  /** No delay exceeds this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 5000 };

/**
 * Delay before retry number `attempt` (0-based): "equal jitter" — half of the capped
 * exponential step is fixed, the other half random — so workers that failed together do not
 * retry together, and no retry comes back almost at once.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random = Math.random): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
