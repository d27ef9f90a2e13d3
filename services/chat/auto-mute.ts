// ChatKet's flood control: a member who keeps sending into a room past its rate limit — a
// client that ignores `retryAfterMs` — is muted there for AUTO_MUTE_SEC, as a moderator would
// mute them (member.lua `automute`: a `member` event "muted" by the system user, so everyone
// sees why, and the mute is lifted by a moderator like any other). Only refusals pay for this
// (one INCR), never an accepted send; the count is in the room's `{p}` slot, shared by replicas.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { SYSTEM_USER, type MemberScript } from '../shared/member-script.js';
import type { ChatUser } from '../shared/message.js';
import { roomKindOf } from '../shared/rooms.js';

const STRIKE_WINDOW_SEC = 60;

export type AutoMute = (room: string, user: ChatUser) => Promise<void>;

export function createAutoMute(redis: Redis, keys: Keys, config: Config, member: MemberScript, log: Logger): AutoMute {
  return async (room, user) => {
    if (config.AUTO_MUTE_SEC === 0 || roomKindOf(room) === 'dm') return;
    const key = keys.rateStrikes(room, user.id);
    const replies = (await redis.multi().incr(key).expire(key, STRIKE_WINDOW_SEC, 'NX').exec()) ?? [];
    const strikes = Number(replies[0]?.[1] ?? 0);
    if (strikes !== config.AUTO_MUTE_AFTER) return;
    const r = await member(room, SYSTEM_USER, { op: 'automute', target: user, seconds: config.AUTO_MUTE_SEC }, `automute-${Date.now()}`);
    log.warn({ room, user: user.id, strikes, result: r.kind }, 'flooding past the rate limit: muted automatically');
    await redis.del(key);
  };
}
