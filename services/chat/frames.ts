// Every frame a chat replica sends to a client: the ServerFrame union (the protocol's server
// side, DESIGN.md "WebSocket protocol v1" and "Wave 2 — Room events") and the one builder of
// each. The replica, the Lua scripts' tests and the browser client's tests all use this module.
//
// `message` and `event` frames are built in two halves because their id is only known inside
// the script that appends them: the replica serialises the HEAD (everything up to the comma
// before the script-made fields), the script appends the TAIL — optional counts it computed
// (`replyCount`, `count`, the parent of a deleted reply) and then `"id":"<id>","ts":<ms>}` — and
// PUBLISHes the string, which every replica forwards verbatim. id and ts are always last so
// fan-out reads them from the end without parsing the text (fanout.ts publishedFrameOf).
// logEntryFrame rebuilds the same bytes from a room log entry (join replay, subscriber recovery).
import type { MemberAction, MembershipLogEntry, Role, RoomAction } from '../shared/membership.js';
import { isChatMessage, logEntryOf, type ChatUser, type LogEntry } from '../shared/message.js';
import type { RoomKind } from '../shared/rooms.js';
import { attachmentJson, type Attachment } from '../shared/attachments.js';
import type { ErrorCode, SendLimit } from './protocol.js';

// The frame types are the client SDK's (sdk/src/protocol.d.ts), the one definition of the wire:
// frames.test.ts checks every builder here against them.
export type {
  EventFrame,
  LeftReason,
  MemberEventFrame,
  MessageFrame,
  RoomEventFrame,
  ServerFrame,
} from '../../sdk/src/protocol.js';
import type { LeftReason } from '../../sdk/src/protocol.js';

const userJson = (user: ChatUser) => JSON.stringify({ id: user.id, name: user.name });

/** The `message` frame up to the script-made tail (see above). */
export function messageFrameHead(room: string, user: ChatUser, text: string, cid: string, replyTo?: string): string {
  const reply = replyTo === undefined ? '' : `"replyTo":${JSON.stringify(replyTo)},`;
  return `{"type":"message","room":${JSON.stringify(room)},"user":${userJson(user)},"text":${JSON.stringify(text)},"cid":${JSON.stringify(cid)},${reply}`;
}

/** What an event frame's head needs from the change (no id yet: the script assigns it). */
export type EventHeadInput =
  | { kind: 'edit'; target: string; text: string }
  | { kind: 'delete'; target: string }
  | { kind: 'react'; target: string; emoji: string; on: boolean };

/** The `event` frame up to the script-made tail. */
export function eventFrameHead(room: string, user: ChatUser, cid: string, e: EventHeadInput): string {
  let body = '';
  if (e.kind === 'edit') body = `"text":${JSON.stringify(e.text)},`;
  if (e.kind === 'react') body = `"emoji":${JSON.stringify(e.emoji)},"on":${e.on},`;
  return `{"type":"event","kind":"${e.kind}","room":${JSON.stringify(room)},"user":${userJson(user)},"target":${JSON.stringify(e.target)},${body}"cid":${JSON.stringify(cid)},`;
}

/**
 * A `member` event frame up to the state the script appends (`"role":..,"banned":true,
 * "mutedUntil":..,` — each only when set) before the `"id","ts"` tail (membership/member.lua).
 */
export function memberFrameHead(room: string, user: ChatUser, action: MemberAction, member: ChatUser, cid: string): string {
  return `{"type":"event","kind":"member","room":${JSON.stringify(room)},"user":${userJson(user)},"action":"${action}","member":${userJson(member)},"cid":${JSON.stringify(cid)},`;
}

/** The state part of a member frame, as the script appends it. */
export function memberFrameState(e: { role?: Role | undefined; banned?: true | undefined; mutedUntil?: number | undefined }): string {
  let s = '';
  if (e.role !== undefined) s += `"role":"${e.role}",`;
  if (e.banned) s += '"banned":true,';
  if (e.mutedUntil !== undefined) s += `"mutedUntil":${e.mutedUntil},`;
  return s;
}

/** A `room` event frame up to the `"id","ts"` tail (nothing is script-made but the id). */
export function roomFrameHead(
  room: string,
  user: ChatUser,
  action: RoomAction,
  roomKind: RoomKind,
  cid: string,
  state: { title?: string | undefined; topic?: string | undefined },
): string {
  let body = '';
  if (state.title !== undefined) body += `"title":${JSON.stringify(state.title)},`;
  if (state.topic !== undefined) body += `"topic":${JSON.stringify(state.topic)},`;
  return `{"type":"event","kind":"room","room":${JSON.stringify(room)},"user":${userJson(user)},"action":"${action}","roomKind":"${roomKind}",${body}"cid":${JSON.stringify(cid)},`;
}

/** A membership log entry's frame, as the script published it. */
export function membershipFrame(e: MembershipLogEntry): string {
  if (e.kind === 'member') {
    return memberFrameHead(e.room, e.user, e.action, e.member, e.cid) + memberFrameState(e) + frameTail({}, e.id, e.ts);
  }
  return roomFrameHead(e.room, e.user, e.action, e.roomKind, e.cid, e) + frameTail({}, e.id, e.ts);
}

/** Script-computed fields, in the order the scripts append them. */
export interface TailCounts {
  attachments?: readonly Attachment[] | undefined;
  mentions?: readonly string[] | undefined;
  seq?: number | undefined;
  replyTo?: string | undefined;
  replyCount?: number | undefined;
  count?: number | undefined;
}

/** The tail the scripts append (their Lua twin: send.lua, event.lua). */
export function frameTail(counts: TailCounts, id: string, ts: number): string {
  let s = '';
  // The registered JSONs verbatim in the live frame; canonical (attachmentJson) key order makes
  // this the same bytes when a log entry is replayed.
  if (counts.attachments !== undefined && counts.attachments.length > 0) s += `"attachments":[${counts.attachments.map(attachmentJson).join(',')}],`;
  if (counts.mentions !== undefined && counts.mentions.length > 0) s += `"mentions":${JSON.stringify(counts.mentions)},`;
  if (counts.seq !== undefined) s += `"seq":${counts.seq},`;
  if (counts.replyTo !== undefined) s += `"replyTo":${JSON.stringify(counts.replyTo)},`;
  if (counts.replyCount !== undefined) s += `"replyCount":${counts.replyCount},`;
  if (counts.count !== undefined) s += `"count":${counts.count},`;
  return `${s}"id":"${id}","ts":${ts}}`;
}

/** A room log entry as the frame its script published, byte for byte (join replay, recovery). */
export function logEntryFrame(room: string, id: string, fields: readonly string[]): { json: string; entry: LogEntry } {
  const record = logEntryOf(room, id, fields);
  const e = record.entry;
  if (isChatMessage(e)) {
    const replyCount = 'replyCount' in record ? record.replyCount : undefined;
    const json = messageFrameHead(room, e.user, e.text, e.cid, e.replyTo) + frameTail({ attachments: e.attachments, mentions: e.mentions, seq: e.seq, replyCount }, id, e.ts);
    return { json, entry: e };
  }
  if (e.kind === 'member' || e.kind === 'room') return { json: membershipFrame(e), entry: e };
  const head = eventFrameHead(room, e.user, e.cid, e);
  const counts: TailCounts =
    e.kind === 'delete'
      ? { replyTo: e.replyTo, replyCount: 'replyCount' in record ? record.replyCount : undefined }
      : e.kind === 'react'
        ? { count: 'count' in record ? (record.count ?? 0) : 0 }
        : {};
  return { json: head + frameTail(counts, id, e.ts), entry: e };
}

export function helloFrame(user: ChatUser, replica: string, heartbeatMs: number): string {
  return JSON.stringify({ type: 'hello', user: { id: user.id, name: user.name }, replica, heartbeatMs });
}

export function pongFrame(t: number | string): string {
  return JSON.stringify({ type: 'pong', t });
}

/** The user channel may have missed frames (a subscriber reconnect): re-read GET /api/me/rooms. */
export function resyncFrame(): string {
  return '{"type":"resync"}';
}

export function leftFrame(room: string, reason?: LeftReason): string {
  return JSON.stringify(reason === undefined ? { type: 'left', room } : { type: 'left', room, reason });
}

export function ackFrame(cid: string, id: string, ts: number, duplicate = false): string {
  return JSON.stringify(duplicate ? { type: 'ack', cid, id, ts, duplicate: true } : { type: 'ack', cid, id, ts });
}

export function unchangedAckFrame(cid: string): string {
  return JSON.stringify({ type: 'ack', cid, unchanged: true });
}

export function authedFrame(exp: number): string {
  return JSON.stringify({ type: 'authed', exp });
}

/** An error frame (never a stack trace). */
export function errorFrame(code: ErrorCode, message: string, ref?: string, retryAfterMs?: number, limit?: SendLimit, room?: string): string {
  const o: Record<string, unknown> = { type: 'error', code, message };
  if (ref !== undefined) o.ref = ref;
  if (retryAfterMs !== undefined) o.retryAfterMs = retryAfterMs;
  if (limit !== undefined) o.limit = limit;
  if (room !== undefined) o.room = room;
  return JSON.stringify(o);
}

export function presenceFrame(room: string, event: 'join' | 'leave', user: ChatUser): string {
  return JSON.stringify({ type: 'presence', room, event, user: { id: user.id, name: user.name } });
}

/**
 * The head of the `read` frame read.lua publishes on the user channel (it appends `"seq":N}`),
 * and of the `receipt` frame on the room channel.
 */
export function readFrameHead(room: string, id: string): string {
  return `{"type":"read","room":${JSON.stringify(room)},"id":${JSON.stringify(id)},`;
}

export function receiptFrameHead(room: string, user: ChatUser, id: string): string {
  return `{"type":"receipt","room":${JSON.stringify(room)},"user":${userJson(user)},"id":${JSON.stringify(id)},`;
}

/**
 * A user's profile changed (display name, avatar) or the account was deleted: published by the
 * users service (profile-live.ts) on the user's channel and on every room channel they are a
 * member of. Transient, like `receipt`: no id, not on the room log.
 */
/**
 * A user's profile changed (users/profile-live.ts). `deleted`: the account is gone (shown as a
 * deleted user); `messagesRemoved`: with DELETE_MESSAGES_WITH_ACCOUNT, their messages are being
 * removed from the store, and a client hides those it holds.
 */
export function profileFrame(
  user: { id: string; name: string; displayName?: string; avatar?: string },
  state: { deleted?: boolean; messagesRemoved?: boolean } = {},
): string {
  const u = { id: user.id, name: user.name, ...(user.displayName !== undefined && { displayName: user.displayName }), ...(user.avatar !== undefined && { avatar: user.avatar }) };
  return JSON.stringify({
    type: 'profile',
    user: u,
    ...(state.deleted && { deleted: true }),
    ...(state.deleted && state.messagesRemoved && { messagesRemoved: true }),
  });
}

/** A new notification for the user channel (services/notify/): the inbox entry as REST lists it. */
export function notifyFrame(notification: object): string {
  return JSON.stringify({ type: 'notify', notification });
}

/**
 * The assistant's answer so far (services/assistant/writer.ts), published on the room channel
 * while it streams: transient (never logged, never stored, not replayed on resume), at most one
 * per ASSISTANT_DELTA_INTERVAL_MS per answer. `text` is the WHOLE answer so far, so a lost frame
 * costs nothing and a client that joins mid-answer shows it from the next one. `asker`: whose
 * question it is (their client offers the stop button). The final text arrives as an `edit`.
 */
export function deltaFrame(room: string, id: string, text: string, asker: string): string {
  return JSON.stringify({ type: 'delta', room, id, text, asker });
}

export function typingFrame(room: string, user: ChatUser, active: boolean): string {
  return JSON.stringify({ type: 'typing', room, user: { id: user.id, name: user.name }, active });
}

/**
 * The `joined` frame, assembled from per-entry JSON (join.ts serialises each message and event
 * once). `members` is the JSON of the member list (membersJson).
 */
export function joinedFrame(room: string, messages: readonly string[], events: readonly string[], recovered: boolean, members: string): string {
  return `${joinedHead(room)}${messages.join(',')}],"events":[${events.join(',')}${joinedTail(recovered, members)}`;
}

const joinedHead = (room: string) => `{"type":"joined","room":${JSON.stringify(room)},"messages":[`;
const joinedTail = (recovered: boolean, members: string) => `],"recovered":${recovered},"members":${members}}`;

/** Bytes of a `joined` frame apart from its messages and events (recovered:false, the longer one). */
export function joinedOverhead(room: string, members: string): number {
  return Buffer.byteLength(joinedHead(room), 'utf8') + Buffer.byteLength(`],"events":[`, 'utf8') + Buffer.byteLength(joinedTail(false, members), 'utf8');
}

/**
 * The member list as JSON, at most `maxBytes` of it (a huge room's list is already capped at
 * MEMBER_LIST_MAX entries; this keeps a reply under REPLY_MAX_BYTES with long names too).
 */
export function membersJson(members: readonly ChatUser[], maxBytes: number): string {
  const parts: string[] = [];
  let bytes = 2;
  for (const m of members) {
    const j = userJson(m);
    const b = Buffer.byteLength(j, 'utf8') + 1;
    if (bytes + b > maxBytes) break;
    bytes += b;
    parts.push(j);
  }
  return `[${parts.join(',')}]`;
}
