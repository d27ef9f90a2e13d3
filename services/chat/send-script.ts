// The send path's one Redis round trip: lua/send.lua registered once per client with
// defineCommand (EVALSHA, falling back to EVAL after a Redis restart flushed the script cache),
// sends batched per event-loop turn (scripts.ts), and the reply turned into a typed result. See
// the script header for KEYS/ARGV.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { ChatUser } from '../shared/message.js';
import { dmMembers, isMembersOnlyRoom } from '../shared/rooms.js';
import { logEntryFrame, messageFrameHead } from './frames.js';
import { mentionArgs } from './mentions.js';
import type { SendLimit } from './protocol.js';
import { replicaAckOptions, scriptCaller, type Publication } from '../shared/replica-ack.js';
import { corkPerTurn, luaWithLimits } from './scripts.js';

const SEND_LUA = luaWithLimits('send');

export type SendResult =
  | { kind: 'ok'; id: string; ts: number }
  | { kind: 'duplicate'; id: string; ts: number }
  /**
   * scope: `room` = the per-user-per-room limit, `account` = the account-wide message/byte
   * budget, `new_rooms` = the cap on rooms one account may create per window.
   */
  | { kind: 'rate_limited'; retryAfterMs: number; scope: SendLimit }
  | { kind: 'overloaded'; backlog: number }
  /** replyTo is unknown, deleted or older than the change window; or it is a reply itself. */
  | { kind: 'bad_parent'; reason: 'not_found' | 'not_top_level' }
  /** An attachment id that is not an unsent upload of this sender in this room. */
  | { kind: 'bad_attachment'; id: string }
  | AccessRefusal;

/** The room's ACL refused the change (lib/limits.lua access_check): send and event scripts alike. */
export type AccessRefusal =
  /** A private room or group the user is not (or no longer) a member of. */
  | { kind: 'no_access' }
  | { kind: 'banned' }
  /** Archived rooms are read only. */
  | { kind: 'archived' }
  | { kind: 'muted'; retryAfterMs: number };

/** The access refusal a script answered, or null when the reply is something else. */
export function accessRefusalOf(reply: readonly (string | number | undefined)[]): AccessRefusal | null {
  switch (reply[0]) {
    case 'no_access':
    case 'banned':
    case 'archived':
      return { kind: reply[0] };
    case 'muted':
      return { kind: 'muted', retryAfterMs: Number(reply[1]) };
    default:
      return null;
  }
}

/** The scripts' membersOnly argument: '1' when the room's name says it is private or a group. */
export const membersOnlyArg = (room: string): string => (isMembersOnlyRoom(room) ? '1' : '0');

/** A DM's other user (send.lua tells them about a new DM on their user channel), or undefined. */
export function dmPeer(room: string, userId: string): string | undefined {
  const pair = dmMembers(room);
  return pair === null ? undefined : pair[0] === userId ? pair[1] : pair[0];
}

/** send.lua's reply: see its header. */
type SendReply = [string, string | number, number?, string?, string?];

/**
 * REDIS_ACK_REPLICAS: a retry answered `dup` is published again — its first publish may have
 * failed with the master that took it (the writer then answered an error, not an ack), and an
 * ack must follow a publish. The frame is rebuilt from the log, byte for byte what was first
 * published (logEntryFrame, as fan-out's recovery); a message the log no longer holds is old
 * enough that every member has it. Members that got it twice dedupe by id.
 */
export async function republish(redis: Redis, keys: Keys, room: string, id: string): Promise<Publication[]> {
  const [entry] = (await redis.xrange(keys.roomLog(room), id, id)) as [string, string[]][];
  return entry ? [[keys.roomChannel(room), logEntryFrame(room, entry[0], entry[1]).json, true]] : [];
}

/** keys.thread's argument when a script names no thread: a key of the right slot, never touched. */
export const NO_THREAD = '-';

/** The text of a send's `rate_limited` error: says which limit, so a user (or client) knows what to wait for. */
export function rateLimitMessage(
  scope: SendLimit,
  config: Pick<Config, 'USER_SEND_MAX_MESSAGES' | 'USER_SEND_MAX_BYTES' | 'USER_SEND_WINDOW_MS' | 'ROOM_CREATE_MAX' | 'ROOM_CREATE_WINDOW_SEC'>,
): string {
  switch (scope) {
    case 'room':
      return 'too many messages, slow down';
    case 'account':
      return `account-wide send budget spent (all rooms together: ${config.USER_SEND_MAX_MESSAGES} messages or ${config.USER_SEND_MAX_BYTES} bytes per ${Math.round(config.USER_SEND_WINDOW_MS / 1000)} s), slow down`;
    case 'new_rooms':
      return `too many new rooms: at most ${config.ROOM_CREATE_MAX} per ${Math.round(config.ROOM_CREATE_WINDOW_SEC / 60)} min per account (a room unused for a long time counts as new); existing rooms still work`;
  }
}

/**
 * send.lua's ARGV[7]: the thirteen config values it needs, in the script's order, as ONE argument
 * built once — every send used to carry them as thirteen bulk strings, which ioredis encodes and
 * Redis parses per call (the replica's share of the send path, issue 15's profile).
 */
export function sendLimitsArg(config: Config): string {
  return [
    config.RATE_LIMIT_MESSAGES,
    config.RATE_LIMIT_WINDOW_MS,
    config.IDEMPOTENCY_TTL_SEC,
    config.INGEST_MAX_BACKLOG,
    config.ROOM_LOG_MAXLEN,
    config.ROOM_LOG_IDLE_TTL_SEC,
    config.USER_SEND_MAX_MESSAGES,
    config.USER_SEND_MAX_BYTES,
    config.USER_SEND_WINDOW_MS,
    config.ROOM_CREATE_MAX,
    config.ROOM_CREATE_WINDOW_SEC,
    config.MESSAGE_CHANGE_WINDOW_SEC,
    config.ROOM_MENTION_MAX_MEMBERS,
  ]
    .map((value) => {
      if (!Number.isSafeInteger(value) || value < 0) throw new Error(`send limits must be whole numbers ≥ 0, got ${value}`);
      return String(value);
    })
    .join(' ');
}

export type SendScript = (
  room: string,
  user: ChatUser,
  text: string,
  cid: string,
  replyTo?: string,
  attachments?: readonly string[],
) => Promise<SendResult>;

/**
 * `anyRoom`: the assistant's writes (services/assistant/): it answers in a private room or group a
 * member summoned it to without being a member, so the members-only check is skipped for it (bans,
 * archive and mutes still apply). Never set for a user's socket.
 */
export interface ScriptOptions {
  anyRoom?: boolean;
}

export function createSendScript(redis: Redis, keys: Keys, config: Config, opts: ScriptOptions = {}): SendScript {
  redis.defineCommand('auroraSend', { numberOfKeys: 11, lua: SEND_LUA });
  const call = scriptCaller<SendReply>(redis, 'auroraSend', replicaAckOptions(config), corkPerTurn(redis));
  // REDIS_ACK_REPLICAS: the script returns its frame instead of publishing it (send.lua, replica-ack.ts)
  const deferPublish = config.REDIS_ACK_REPLICAS > 0;
  const publishLater =
    (room: string) =>
    (reply: SendReply): Publication[] | Promise<Publication[]> => {
      if (reply[0] === 'dup') return republish(redis, keys, room, String(reply[1]));
      return reply[0] === 'ok' && reply[3] !== undefined ? [[keys.roomChannel(room), reply[3], true], ...(reply[4] ? [[reply[4], reply[3], false] as Publication] : [])] : [];
    };
  const limits = sendLimitsArg(config);
  return async (room, user, text, cid, replyTo, attachments) => {
    const peer = dmPeer(room, user.id);
    const mentions = mentionArgs(room, text);
    const reply = await call(keys.partitionOf(room), [
      keys.sendIdempotency(room, user.id, cid),
      keys.sendRate(room, user.id),
      keys.roomLog(room),
      keys.ingestStreamOfRoom(room),
      keys.userSendBudget(room, user.id),
      keys.userRoomCreates(room, user.id),
      keys.messageIndex(room),
      keys.thread(room, replyTo ?? NO_THREAD),
      keys.roomAcl(room),
      keys.roomSeq(room),
      keys.roomUploads(room),
      deferPublish ? '' : keys.roomChannel(room),
      room,
      user.id,
      user.name,
      text,
      cid,
      limits,
      messageFrameHead(room, user, text, cid, replyTo),
      replyTo ?? '',
      opts.anyRoom ? '0' : membersOnlyArg(room),
      peer === undefined ? '' : keys.userChannel(peer),
      mentions.roomMention,
      mentions.names,
      attachments === undefined ? '' : attachments.join(','),
    ], deferPublish ? publishLater(room) : undefined);
    const refused = accessRefusalOf(reply);
    if (refused) return refused;
    switch (reply[0]) {
      case 'ok':
        return { kind: 'ok', id: String(reply[1]), ts: Number(reply[2]) };
      case 'dup':
        return { kind: 'duplicate', id: String(reply[1]), ts: Number(reply[2]) };
      case 'rate':
        return { kind: 'rate_limited', retryAfterMs: Number(reply[1]), scope: 'room' };
      case 'user_rate':
        return { kind: 'rate_limited', retryAfterMs: Number(reply[1]), scope: 'account' };
      case 'room_rate':
        return { kind: 'rate_limited', retryAfterMs: Number(reply[1]), scope: 'new_rooms' };
      case 'overloaded':
        return { kind: 'overloaded', backlog: Number(reply[1]) };
      case 'bad_attachment':
        return { kind: 'bad_attachment', id: String(reply[1]) };
      case 'not_found':
      case 'not_top_level':
        return { kind: 'bad_parent', reason: reply[0] as 'not_found' | 'not_top_level' };
      default:
        throw new Error(`unexpected send script reply: ${String(reply[0])}`);
    }
  };
}
