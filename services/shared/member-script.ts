// One membership or room change in one Redis round trip: lua/member.lua authorises it against
// the room's ACL and appends it as events on the room log (see the script header for who may
// do what). Used by the users service (REST) and by chat replicas (a `join` of a public room
// makes the user a member; a join of a private room or group checks it).
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { memberFrameHead, roomFrameHead } from '../chat/frames.js';
import type { Config } from './config.js';
import type { Keys } from './keys.js';
import { replicaAckOptions, scriptCaller, type Publication } from './replica-ack.js';
import { GROUP_MAX_MEMBERS, type MemberAction, type Role } from './membership.js';
import type { ChatUser } from './message.js';
import { roomKindOf } from './rooms.js';

/** The actor of what the system does by itself (an automatic mute): no account has this id (ids are 12 characters). */
export const SYSTEM_USER: ChatUser = { id: 'aurora', name: 'AuroraChat' };

const MEMBER_LUA = readFileSync(new URL('./lua/member.lua', import.meta.url), 'utf8');

export type MemberOp =
  | { op: 'create'; title?: string; topic?: string }
  | { op: 'join' }
  | { op: 'leave' }
  | { op: 'invite'; target: ChatUser }
  | { op: 'kick'; target: ChatUser }
  | { op: 'ban'; target: ChatUser }
  | { op: 'unban'; target: ChatUser }
  | { op: 'mute'; target: ChatUser; seconds: number }
  /** The replica's automatic mute of a member flooding past the rate limit (auto-mute.ts). */
  | { op: 'automute'; target: ChatUser; seconds: number }
  | { op: 'unmute'; target: ChatUser }
  | { op: 'role'; target: ChatUser; role: Role }
  | { op: 'topic'; topic: string }
  | { op: 'archive' }
  | { op: 'unarchive' };

export type MemberRefusal =
  | 'unchanged'
  | 'not_found'
  | 'forbidden'
  | 'banned'
  | 'archived'
  | 'exists'
  | 'full'
  | 'not_member'
  | 'owner_must_transfer';

export type MemberResult =
  | { kind: 'ok'; id: string; ts: number; /** The second event of a create (creator joined) or an ownership transfer. */ secondId?: string }
  | { kind: MemberRefusal }
  | { kind: 'overloaded'; backlog: number }
  | { kind: 'room_rate'; retryAfterMs: number };

export type MemberScript = (room: string, actor: ChatUser, change: MemberOp, cid: string) => Promise<MemberResult>;

const ACTION_OF: Record<Exclude<MemberOp['op'], 'create' | 'topic' | 'archive' | 'unarchive'>, MemberAction> = {
  join: 'joined',
  leave: 'left',
  invite: 'invited',
  kick: 'kicked',
  ban: 'banned',
  unban: 'unbanned',
  mute: 'muted',
  automute: 'muted',
  unmute: 'unmuted',
  role: 'role',
};

const REFUSALS: readonly string[] = ['unchanged', 'not_found', 'forbidden', 'banned', 'archived', 'exists', 'full', 'not_member', 'owner_must_transfer'];

/** member.lua's reply: see its header. */
type MemberReply = [string, (string | number)?, (string | number)?, string?, ...string[]];

export function createMemberScript(
  redis: Redis,
  keys: Keys,
  config: Pick<Config, 'ROOM_LOG_MAXLEN' | 'ROOM_LOG_IDLE_TTL_SEC' | 'INGEST_MAX_BACKLOG' | 'ROOM_CREATE_MAX' | 'ROOM_CREATE_WINDOW_SEC' | 'PRESENCE_EVENTS_MAX_MEMBERS' | 'REDIS_ACK_REPLICAS' | 'REDIS_ACK_TIMEOUT_MS'>,
): MemberScript {
  redis.defineCommand('auroraMember', { numberOfKeys: 5, lua: MEMBER_LUA });
  const call = scriptCaller<MemberReply>(redis, 'auroraMember', replicaAckOptions(config));
  // REDIS_ACK_REPLICAS: the script returns its frames instead of publishing them (member.lua)
  const deferPublish = config.REDIS_ACK_REPLICAS > 0;
  const publishLater =
    (room: string) =>
    (reply: MemberReply): Publication[] => {
      if (reply[0] !== 'ok') return [];
      const out: Publication[] = [];
      for (let i = 4; i + 1 < reply.length; i += 2) {
        const channel = String(reply[i]);
        out.push(channel === '' ? [keys.roomChannel(room), String(reply[i + 1]), true] : [channel, String(reply[i + 1]), false]);
      }
      return out;
    };

  return async (room, actor, change, cid) => {
    const kind = roomKindOf(room);
    if (kind === null || kind === 'dm') throw new Error(`no membership changes in ${kind ?? 'an invalid'} room ${room}`);
    const target = 'target' in change ? change.target : actor;
    let headA: string;
    let headB = '';
    if (change.op === 'create') {
      headA = roomFrameHead(room, actor, 'created', kind, cid, { title: change.title || undefined, topic: change.topic ?? '' });
      headB = memberFrameHead(room, actor, 'joined', actor, cid);
    } else if (change.op === 'topic') {
      headA = roomFrameHead(room, actor, 'topic', kind, cid, { topic: change.topic });
    } else if (change.op === 'archive' || change.op === 'unarchive') {
      headA = roomFrameHead(room, actor, change.op === 'archive' ? 'archived' : 'unarchived', kind, cid, {});
    } else {
      headA = memberFrameHead(room, actor, ACTION_OF[change.op], target, cid);
      if (change.op === 'role' && change.role === 'owner') headB = memberFrameHead(room, actor, 'role', actor, cid);
    }
    const arg = change.op === 'mute' || change.op === 'automute' ? String(change.seconds) : change.op === 'role' ? change.role : '';
    const reply = await call(keys.partitionOf(room), [
      keys.roomAcl(room),
      keys.roomLog(room),
      keys.ingestStreamOfRoom(room),
      keys.userRoomCreates(room, actor.id),
      keys.roomSeq(room),
      deferPublish ? '' : keys.roomChannel(room),
      room,
      actor.id,
      actor.name,
      cid,
      change.op,
      target.id,
      target.name,
      arg,
      kind,
      headA,
      headB,
      config.ROOM_LOG_MAXLEN,
      config.ROOM_LOG_IDLE_TTL_SEC,
      config.INGEST_MAX_BACKLOG,
      keys.userChannel(target.id),
      keys.userChannel(actor.id),
      change.op === 'create' ? (change.title ?? '') : '',
      change.op === 'create' ? (change.topic ?? '') : change.op === 'topic' ? change.topic : '',
      GROUP_MAX_MEMBERS,
      config.ROOM_CREATE_MAX,
      config.ROOM_CREATE_WINDOW_SEC,
      config.PRESENCE_EVENTS_MAX_MEMBERS,
    ], deferPublish ? publishLater(room) : undefined);
    const [status] = reply;
    if (status === 'ok') {
      const r: MemberResult = { kind: 'ok', id: String(reply[1]), ts: Number(reply[2]) };
      if (reply[3]) r.secondId = String(reply[3]);
      return r;
    }
    if (status === 'overloaded') return { kind: 'overloaded', backlog: Number(reply[1]) };
    if (status === 'room_rate') return { kind: 'room_rate', retryAfterMs: Number(reply[1]) };
    if (REFUSALS.includes(status)) return { kind: status as MemberRefusal };
    throw new Error(`unexpected member script reply: ${String(status)}`);
  };
}
