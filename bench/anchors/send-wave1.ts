// ANCHOR for `npm run bench -- chat` (issue 13): the send path's script wrapper as it was before
// issue 13 (`git show a631ef1:services/chat/send-script.ts`), driving bench/anchors/send-wave1.lua
// — six keys, no message index, no thread counters. Kept to the old code (its own frame head, its
// own per-turn cork) so the A/B against today's createSendScript differs only where the issue
// changed the send path. Registered under its own command name: both run on one connection.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Config } from '../../services/shared/config.js';
import type { Keys } from '../../services/shared/keys.js';
import type { ChatUser } from '../../services/shared/message.js';

const SEND_LUA = readFileSync(new URL('./send-wave1.lua', import.meta.url), 'utf8');

type SendCommand = (
  k1: string, k2: string, k3: string, k4: string, k5: string, k6: string,
  ...argv: (string | number)[]
) => Promise<[string, string | number, number?]>;

function messageFrameHead(room: string, user: ChatUser, text: string, cid: string): string {
  return `{"type":"message","room":${JSON.stringify(room)},"user":${JSON.stringify({ id: user.id, name: user.name })},"text":${JSON.stringify(text)},"cid":${JSON.stringify(cid)},`;
}

/** Resolves to the script's first reply field: 'ok', 'dup', 'rate', ... */
export type Wave1SendScript = (room: string, user: ChatUser, text: string, cid: string) => Promise<string>;

export function createWave1SendScript(redis: Redis, keys: Keys, config: Config): Wave1SendScript {
  redis.defineCommand('auroraSendWave1', { numberOfKeys: 6, lua: SEND_LUA });
  const run = (redis as unknown as { auroraSendWave1: SendCommand }).auroraSendWave1.bind(redis);
  let corked = false;
  const corkForThisTurn = () => {
    if (corked || redis.status !== 'ready') return;
    const stream = redis.stream;
    corked = true;
    stream.cork();
    setImmediate(() => {
      corked = false;
      stream.uncork();
    });
  };
  return async (room, user, text, cid) => {
    corkForThisTurn();
    const reply = await run(
      keys.sendIdempotency(room, user.id, cid),
      keys.sendRate(room, user.id),
      keys.roomLog(room),
      keys.ingestStreamOfRoom(room),
      keys.userSendBudget(room, user.id),
      keys.userRoomCreates(room, user.id),
      keys.roomChannel(room),
      room,
      user.id,
      user.name,
      text,
      cid,
      config.RATE_LIMIT_MESSAGES,
      config.RATE_LIMIT_WINDOW_MS,
      config.IDEMPOTENCY_TTL_SEC,
      config.INGEST_MAX_BACKLOG,
      config.ROOM_LOG_MAXLEN,
      messageFrameHead(room, user, text, cid),
      config.ROOM_LOG_IDLE_TTL_SEC,
      config.USER_SEND_MAX_MESSAGES,
      config.USER_SEND_MAX_BYTES,
      config.USER_SEND_WINDOW_MS,
      config.ROOM_CREATE_MAX,
      config.ROOM_CREATE_WINDOW_SEC,
    );
    return String(reply[0]);
  };
}
