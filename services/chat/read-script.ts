// A `read` frame's one Redis round trip: lua/read.lua moves the user's read position in a room
// forward, queues it for the store, tells the user's other devices and — where receipts are on —
// the room. See the script header for KEYS/ARGV.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { ChatUser } from '../shared/message.js';
import { roomKindOf } from '../shared/rooms.js';
import { readFrameHead, receiptFrameHead } from './frames.js';
import { corkPerTurn } from './scripts.js';

const READ_LUA = readFileSync(new URL('./lua/read.lua', import.meta.url), 'utf8');

export type ReadResult =
  | { kind: 'ok'; seq: number }
  /** At or behind the position already stored (another device was ahead): nothing written. */
  | { kind: 'unchanged' }
  | { kind: 'not_found' }
  /** A thread reply or an event: only top-level messages are read positions. */
  | { kind: 'not_top_level' }
  | { kind: 'overloaded'; backlog: number };

export type ReadScript = (room: string, user: ChatUser, id: string) => Promise<ReadResult>;

type ReadCommand = (k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: (string | number)[]) => Promise<[string, number?]>;

/** DMs and groups always show receipts; other rooms up to RECEIPTS_MAX_MEMBERS members. */
export const receiptsAlwaysOn = (room: string): boolean => {
  const kind = roomKindOf(room);
  return kind === 'dm' || kind === 'group';
};

export function createReadScript(redis: Redis, keys: Keys, config: Pick<Config, 'RECEIPTS_MAX_MEMBERS' | 'ROOM_LOG_IDLE_TTL_SEC' | 'INGEST_MAX_BACKLOG'>): ReadScript {
  redis.defineCommand('auroraRead', { numberOfKeys: 5, lua: READ_LUA });
  const run = (redis as unknown as { auroraRead: ReadCommand }).auroraRead.bind(redis);
  const cork = corkPerTurn(redis);
  return async (room, user, id) => {
    cork();
    const reply = await run(
      keys.roomLog(room),
      keys.roomReads(room),
      keys.ingestStreamOfRoom(room),
      keys.roomSeq(room),
      keys.roomAcl(room),
      user.id,
      user.name,
      id,
      room,
      keys.userChannel(user.id),
      keys.roomChannel(room),
      receiptsAlwaysOn(room) ? '1' : 'n',
      config.RECEIPTS_MAX_MEMBERS,
      readFrameHead(room, id),
      receiptFrameHead(room, user, id),
      config.ROOM_LOG_IDLE_TTL_SEC,
      config.INGEST_MAX_BACKLOG,
    );
    switch (reply[0]) {
      case 'ok':
        return { kind: 'ok', seq: Number(reply[1]) };
      case 'unchanged':
      case 'not_found':
      case 'not_top_level':
        return { kind: reply[0] };
      case 'overloaded':
        return { kind: 'overloaded', backlog: Number(reply[1]) };
      default:
        throw new Error(`unexpected read script reply: ${String(reply[0])}`);
    }
  };
}
