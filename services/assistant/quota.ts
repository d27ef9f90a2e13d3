// Per-user limits on the assistant (ASSISTANT_USER_REQUESTS per ASSISTANT_USER_WINDOW_SEC, and
// ASSISTANT_USER_TOKENS_PER_DAY per UTC day), kept in Redis so every assistant process counts
// the same. A question is counted when admitted; its tokens are charged when the answer ends (a
// stopped or failed answer pays for what it used). The day's budget is checked before, so one
// long answer may run past it once; the next question is refused.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { hitFixedWindow } from '../shared/fixed-window.js';
import type { Keys } from '../shared/keys.js';

export type QuotaVerdict = { ok: true } | { ok: false; limit: 'requests' | 'tokens'; retryAfterSec: number };

const DAY_SEC = 86_400;

export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export interface Quota {
  admit(userId: string, now?: number): Promise<QuotaVerdict>;
  charge(userId: string, tokens: number, now?: number): Promise<void>;
}

export function createQuota(
  redis: Redis,
  keys: Pick<Keys, 'assistantRequests' | 'assistantTokens'>,
  config: Pick<Config, 'ASSISTANT_USER_REQUESTS' | 'ASSISTANT_USER_WINDOW_SEC' | 'ASSISTANT_USER_TOKENS_PER_DAY'>,
): Quota {
  return {
    async admit(userId, now = Date.now()) {
      const used = Number((await redis.get(keys.assistantTokens(userId, utcDay(now)))) ?? 0);
      if (used >= config.ASSISTANT_USER_TOKENS_PER_DAY) {
        return { ok: false, limit: 'tokens', retryAfterSec: Math.ceil((DAY_SEC * 1000 - (now % (DAY_SEC * 1000))) / 1000) };
      }
      const { count, ttl } = await hitFixedWindow(redis, keys.assistantRequests(userId), config.ASSISTANT_USER_WINDOW_SEC);
      if (count > config.ASSISTANT_USER_REQUESTS) return { ok: false, limit: 'requests', retryAfterSec: Math.max(1, ttl) };
      return { ok: true };
    },
    async charge(userId, tokens, now = Date.now()) {
      if (tokens <= 0) return;
      const key = keys.assistantTokens(userId, utcDay(now));
      await redis.multi().incrby(key, Math.ceil(tokens)).expire(key, 2 * DAY_SEC).exec();
    },
  };
}

/** The line posted instead of an answer. */
export function refusalText(asker: string, v: Exclude<QuotaVerdict, { ok: true }>): string {
  const wait = v.retryAfterSec >= 3600 ? `${Math.ceil(v.retryAfterSec / 3600)} h` : v.retryAfterSec >= 60 ? `${Math.ceil(v.retryAfterSec / 60)} min` : `${v.retryAfterSec} s`;
  return v.limit === 'requests'
    ? `@${asker} you have asked me too often: try again in ${wait}.`
    : `@${asker} you have used today's assistant budget: try again in ${wait}.`;
}
