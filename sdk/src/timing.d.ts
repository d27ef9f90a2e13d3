export interface BackoffOptions { baseDelayMs: number; maxDelayMs: number }
/** Full jitter: uniform in [0, min(cap, base · 2^attempt)]. */
export declare function backoffDelay(attempt: number, opt: BackoffOptions, random?: () => number): number;
/** Re-send delay after `overloaded` (exponential, full jitter, never before retryAfterMs). */
export declare function overloadedRetryDelay(retries: number, retryAfterMs?: number, random?: () => number, step?: { baseMs?: number; maxMs?: number }): number;
export declare function reconnectDelay(state: { wasReady?: boolean; attempt?: number; code?: number }, opt: BackoffOptions & { penaltyDelayMs: number }, random?: () => number): number;
export declare function resolveWsUrl(u: string, location?: { href: string }): string;
export declare class Timers {
  set(name: string, ms: number, fn: () => void): void;
  has(name: string): boolean;
  clear(name: string): void;
  clearAll(): void;
}
