// A change to a message in one Redis round trip (two for a delete): lua/event.lua authorises it
// against the room's message index and appends it to the room log as an event, atomically. See
// the script header for KEYS/ARGV and why authorship comes from the index.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import { MAX_REACTION_EMOJI, type ChatUser } from '../shared/message.js';
import { eventFrameHead, type EventHeadInput } from './frames.js';
import { replicaAckOptions, scriptCaller, type Publication } from '../shared/replica-ack.js';
import { corkPerTurn, luaWithLimits } from './scripts.js';
import { accessRefusalOf, membersOnlyArg, NO_THREAD, republish, type ScriptOptions, type SendResult } from './send-script.js';

const EVENT_LUA = luaWithLimits('event');

export type EventResult =
  | Exclude<SendResult, { kind: 'bad_parent' }>
  /** Unknown, deleted or older than MESSAGE_CHANGE_WINDOW_SEC. */
  | { kind: 'not_found' }
  /** An edit or delete of another user's message. */
  | { kind: 'forbidden' }
  /** A reaction that already was as asked: nothing appended. */
  | { kind: 'unchanged' }
  /** MAX_REACTION_EMOJI different emoji on the target already. */
  | { kind: 'limit' };

export type EventScript = (room: string, user: ChatUser, cid: string, change: EventHeadInput) => Promise<EventResult>;

/** event.lua's reply: see its header. */
type EventReply = [string, (string | number)?, number?, string?];

export function createEventScript(redis: Redis, keys: Keys, config: Config, opts: ScriptOptions = {}): EventScript {
  redis.defineCommand('auroraEvent', { numberOfKeys: 9, lua: EVENT_LUA });
  const call = scriptCaller<EventReply>(redis, 'auroraEvent', replicaAckOptions(config), corkPerTurn(redis));
  // REDIS_ACK_REPLICAS: the script returns its frame instead of publishing it (event.lua, replica-ack.ts)
  const deferPublish = config.REDIS_ACK_REPLICAS > 0;
  const publishLater =
    (room: string) =>
    (reply: EventReply): Publication[] | Promise<Publication[]> => {
      if (reply[0] === 'dup') return republish(redis, keys, room, String(reply[1]));
      return reply[0] === 'ok' && reply[3] !== undefined ? [[keys.roomChannel(room), reply[3], true]] : [];
    };

  /**
   * The parent of a reply, read before a delete: the script must name the thread key it
   * decrements in KEYS (single-slot on a cluster), and only the index knows the parent. Index
   * entries never change, so the script's own check of it cannot disagree with this read.
   */
  const parentOf = async (room: string, id: string): Promise<string> => {
    const [entry] = (await redis.xrange(keys.messageIndex(room), id, id)) as [string, string[]][];
    const fields = entry?.[1] ?? [];
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'p') return fields[i + 1]!;
    return '';
  };

  return async (room, user, cid, change) => {
    const parent = change.kind === 'delete' ? await parentOf(room, change.target) : '';
    const reply = await call(keys.partitionOf(room), [
      keys.sendIdempotency(room, user.id, cid),
      keys.sendRate(room, user.id),
      keys.roomLog(room),
      keys.ingestStreamOfRoom(room),
      keys.userSendBudget(room, user.id),
      keys.messageIndex(room),
      keys.reactions(room, change.target),
      keys.thread(room, parent || NO_THREAD),
      keys.roomAcl(room),
      deferPublish ? '' : keys.roomChannel(room),
      room,
      user.id,
      user.name,
      cid,
      change.kind,
      change.target,
      change.kind === 'edit' ? change.text : '',
      change.kind === 'react' ? change.emoji : '',
      change.kind === 'react' && change.on ? '1' : '0',
      config.RATE_LIMIT_MESSAGES,
      config.RATE_LIMIT_WINDOW_MS,
      config.IDEMPOTENCY_TTL_SEC,
      config.INGEST_MAX_BACKLOG,
      config.ROOM_LOG_MAXLEN,
      eventFrameHead(room, user, cid, change),
      config.ROOM_LOG_IDLE_TTL_SEC,
      config.USER_SEND_MAX_MESSAGES,
      config.USER_SEND_MAX_BYTES,
      config.USER_SEND_WINDOW_MS,
      config.MESSAGE_CHANGE_WINDOW_SEC,
      MAX_REACTION_EMOJI,
      parent,
      opts.anyRoom ? '0' : membersOnlyArg(room),
    ], deferPublish ? publishLater(room) : undefined);
    const refused = accessRefusalOf(reply);
    if (refused) return refused;
    switch (reply[0]) {
      case 'ok':
        return { kind: 'ok', id: String(reply[1]), ts: Number(reply[2]) };
      case 'dup':
        return { kind: 'duplicate', id: String(reply[1]), ts: Number(reply[2]) };
      case 'not_found':
      case 'forbidden':
      case 'unchanged':
      case 'limit':
        return { kind: reply[0] };
      case 'rate':
        return { kind: 'rate_limited', retryAfterMs: Number(reply[1]), scope: 'room' };
      case 'user_rate':
        return { kind: 'rate_limited', retryAfterMs: Number(reply[1]), scope: 'account' };
      case 'overloaded':
        return { kind: 'overloaded', backlog: Number(reply[1]) };
      default:
        // 'bad_parent' included: the pre-read and the script disagree, which entries that
        // never change rule out — a bug, reported as an internal error.
        throw new Error(`unexpected event script reply: ${String(reply[0])}`);
    }
  };
}
