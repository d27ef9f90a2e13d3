// The life of a socket's access token (DESIGN.md: short-lived tokens, refreshed in band): a
// timer that closes the socket with 4001 when the token runs out, re-armed by an accepted `auth`
// frame, and the checks that frame's token must pass — valid, the same user, a session not
// revoked (also not one revoked a moment ago on this replica's revocation channel).
import type { ChatContext } from './chat-context.js';
import type { ErrorCode } from './protocol.js';
import { isSessionRevoked } from '../shared/sessions.js';
import { withTimeout } from '../shared/timeout.js';
import { tokenScope, verifyAccessToken } from '../shared/tokens.js';
import { REDIS_TIMEOUT_MS } from './changes.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

export class TokenExpiry {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private exp: number,
    private readonly onExpired: () => void,
  ) {}

  /** (Re)starts the timer for `exp` (seconds since the epoch); past already: expires now. */
  arm(exp = this.exp): void {
    this.exp = exp;
    this.stop();
    const ms = this.exp * 1000 - Date.now();
    if (ms <= 0) return this.onExpired();
    // setTimeout caps at 2^31-1 ms (~24.8 days): a longer token re-arms on the way.
    this.timer = setTimeout(() => this.arm(), Math.min(ms, MAX_TIMER_MS));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

export type ReauthResult = { ok: true; sid: string | undefined; exp: number } | { ok: false; code: ErrorCode; message: string };

/** Whether `token` may replace the socket's token (an in-band `auth` of user `userId`). */
export async function checkReauth(ctx: Pick<ChatContext, 'config' | 'redis' | 'keys' | 'recentlyRevoked'>, userId: string, token: string): Promise<ReauthResult> {
  const v = verifyAccessToken(ctx.config.JWT_SECRET, token, tokenScope(ctx.config));
  if (!v.ok) return { ok: false, code: 'bad_request', message: v.reason === 'expired' ? 'token expired' : 'invalid token' };
  if (v.user.id !== userId) return { ok: false, code: 'forbidden', message: 'token belongs to another user' };
  // A revocation published while this check is in flight is in the replica's recent record.
  if ((await withTimeout(isSessionRevoked(ctx.redis, ctx.keys, v.sid), REDIS_TIMEOUT_MS)) || ctx.recentlyRevoked(v.sid)) {
    return { ok: false, code: 'bad_request', message: 'this session has ended; sign in again' };
  }
  return { ok: true, sid: v.sid, exp: v.exp };
}
