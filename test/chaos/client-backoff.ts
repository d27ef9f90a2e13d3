// Backoff delays of the chaos client (resilient-client.ts). Reconnects use full jitter so a
// replica's clients do not all come back in one wave; re-sends and re-joins wait at least half
// their ceiling (a refusal answered at once would only be refused again) and never less than
// the server's `retryAfterMs`.

export const jitter = (ceiling: number): number => Math.floor(Math.random() * Math.max(1, ceiling));

/** Full jitter on base * 2^attempt, capped at max. */
export function reconnectDelay(baseMs: number, maxMs: number, attempt: number): number {
  return jitter(Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 10)));
}

/** Half of the capped base * 2^attempt plus jitter on the other half, or the server's wish if longer. */
export function retryDelay(baseMs: number, maxMs: number, attempt: number, retryAfterMs: unknown): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 10));
  return Math.max(Number(retryAfterMs) || 0, Math.floor(ceiling / 2) + jitter(ceiling / 2));
}
