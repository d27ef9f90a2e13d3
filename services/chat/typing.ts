// Typing indicators leave through lua/typing.lua: one round trip that throttles per USER per ROOM
// (SET NX PX — over all the user's sockets, on every replica), drops the frame in rooms with more
// presence entries than PRESENCE_EVENTS_MAX_MEMBERS, and PUBLISHes it. Without it a user with
// several sockets multiplied the per-socket throttle (connection.ts), and every typing frame
// reached every member of any size of room.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { ChatUser } from '../shared/message.js';
import { typingFrame } from './frames.js';

const TYPING_LUA = readFileSync(new URL('./lua/typing.lua', import.meta.url), 'utf8');

/** At most one typing frame per user per room within this, over all the user's sockets. */
export const TYPING_USER_INTERVAL_MS = 1_000;

export type TypingResult =
  | { kind: 'published' }
  /** The user's window in this room runs for `retryInMs` more (another socket published). */
  | { kind: 'throttled'; retryInMs: number }
  /** The room has more members than PRESENCE_EVENTS_MAX_MEMBERS: typing reaches nobody. */
  | { kind: 'big_room' };

export type TypingScript = (room: string, user: ChatUser, active: boolean) => Promise<TypingResult>;

type TypingCommand = (throttle: string, presence: string, channel: string, intervalMs: number, eventsMax: number, payload: string) => Promise<number>;

export function createTypingScript(
  redis: Redis,
  keys: Keys,
  config: Pick<Config, 'PRESENCE_EVENTS_MAX_MEMBERS'>,
  intervalMs = TYPING_USER_INTERVAL_MS,
): TypingScript {
  redis.defineCommand('auroraTyping', { numberOfKeys: 2, lua: TYPING_LUA });
  const run = (redis as unknown as { auroraTyping: TypingCommand }).auroraTyping.bind(redis);
  return async (room, user, active) => {
    const payload = typingFrame(room, user, active);
    const reply = Number(
      await run(keys.typingThrottle(room, user.id), keys.presence(room), keys.roomChannel(room), intervalMs, config.PRESENCE_EVENTS_MAX_MEMBERS, payload),
    );
    if (reply === 0) return { kind: 'published' };
    if (reply < 0) return { kind: 'big_room' };
    return { kind: 'throttled', retryInMs: reply };
  };
}
