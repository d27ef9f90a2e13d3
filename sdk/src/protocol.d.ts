// The AuroraChat WebSocket protocol `aurora.v1`, as types: every frame a client sends
// (ClientFrame) and every frame a server sends (ServerFrame). This file is the one definition:
// the server's frame builders (services/chat/frames.ts) and validator (services/chat/protocol.ts)
// import these types, so a frame the server emits in another shape fails its type-check.
// docs/PROTOCOL.md describes each frame in prose, with examples.

export interface ChatUser {
  id: string;
  name: string;
}

/** A file a message carries, as the upload registered it (bytes sniffed server-side). */
export interface Attachment {
  id: string;
  name: string;
  /** MIME type sniffed from the bytes. */
  type: string;
  size: number;
  width?: number;
  height?: number;
  /** Images: a thumbnail exists (GET …/attachments/:id?variant=thumb). */
  thumb?: true;
}

export type Role = 'owner' | 'admin' | 'member';
export type MemberAction = 'joined' | 'invited' | 'left' | 'kicked' | 'banned' | 'unbanned' | 'muted' | 'unmuted' | 'role';
export type RoomAction = 'created' | 'topic' | 'archived' | 'unarchived';
export type RoomKind = 'public' | 'private' | 'dm' | 'group';

/** A message as `joined` and REST history carry it. */
export interface WireMessage {
  /** Room log id `<ms>-<seq>`: compare with compareIds (ids.js), never as strings. */
  id: string;
  room: string;
  user: ChatUser;
  text: string;
  ts: number;
  cid: string;
  replyTo?: string;
  seq?: number;
  mentions?: string[];
  attachments?: Attachment[];
  replyCount?: number;
}

export interface MessageFrame {
  type: 'message';
  room: string;
  user: ChatUser;
  text: string;
  cid: string;
  /** A thread reply: its top-level parent. */
  replyTo?: string;
  attachments?: Attachment[];
  /** Members mentioned (user ids) and/or "@room". */
  mentions?: string[];
  /** Top-level messages: the room's counter (unread = newest seq − read seq). */
  seq?: number;
  /** With replyTo: the parent's reply count with this reply. */
  replyCount?: number;
  id: string;
  ts: number;
}

interface EventFrameBase {
  type: 'event';
  room: string;
  /** Who made the change. */
  user: ChatUser;
  /** The message changed. */
  target: string;
  cid: string;
  id: string;
  ts: number;
}

/** A change to a message; apply it by `target` (each carries the resulting state). */
export type EventFrame =
  | (EventFrameBase & { kind: 'edit'; text: string })
  | (EventFrameBase & { kind: 'delete'; replyTo?: string; replyCount?: number })
  | (EventFrameBase & { kind: 'react'; emoji: string; on: boolean; count: number });

export type LeftReason = 'left' | 'kicked' | 'banned';

/** A membership change and the member's state after it (role absent: not a member). */
export interface MemberEventFrame {
  type: 'event';
  kind: 'member';
  room: string;
  user: ChatUser;
  action: MemberAction;
  member: ChatUser;
  cid: string;
  role?: Role;
  banned?: true;
  mutedUntil?: number;
  id: string;
  ts: number;
}

/** A change of the room itself. */
export interface RoomEventFrame {
  type: 'event';
  kind: 'room';
  room: string;
  user: ChatUser;
  action: RoomAction;
  roomKind: RoomKind;
  title?: string;
  topic?: string;
  cid: string;
  id: string;
  ts: number;
}

/** Error codes of `{"type":"error"}` frames (docs/PROTOCOL.md "Errors"). The socket stays open. */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_room'
  | 'too_long'
  | 'not_joined'
  | 'not_found'
  | 'limit_reached'
  | 'rate_limited'
  | 'forbidden'
  | 'muted'
  | 'overloaded'
  | 'bad_attachment'
  | 'internal';

/** Which send limit refused a send (`limit` of a rate_limited error). */
export type SendLimit = 'room' | 'account' | 'new_rooms';

export interface HelloFrame { type: 'hello'; user: ChatUser; replica: string; heartbeatMs: number }
export interface PongFrame { type: 'pong'; t: number | string }
export interface JoinedFrame { type: 'joined'; room: string; messages: WireMessage[]; events: (EventFrame | MemberEventFrame | RoomEventFrame)[]; recovered: boolean; members: ChatUser[] }
export interface LeftFrame { type: 'left'; room: string; reason?: LeftReason }
export interface AckFrame { type: 'ack'; cid: string; id: string; ts: number; duplicate?: true }
/** A reaction that was already as asked: nothing appended. */
export interface UnchangedAckFrame { type: 'ack'; cid: string; unchanged: true }
export interface AuthedFrame { type: 'authed'; exp: number }
export interface ErrorFrame { type: 'error'; code: ErrorCode; message: string; ref?: string; retryAfterMs?: number; limit?: SendLimit; room?: string }
export interface ResyncFrame { type: 'resync' }
export interface PresenceFrame { type: 'presence'; room: string; event: 'join' | 'leave'; user: ChatUser }
export interface ReadFrame { type: 'read'; room: string; id: string; seq: number }
export interface ReceiptFrame { type: 'receipt'; room: string; user: ChatUser; id: string; seq: number }
export interface NotifyFrame { type: 'notify'; notification: Record<string, unknown> }
export interface TypingFrame { type: 'typing'; room: string; user: ChatUser; active: boolean }
export interface ProfileFrame { type: 'profile'; user: ChatUser & { displayName?: string; avatar?: string }; deleted?: true; messagesRemoved?: true }
/** The assistant's answer so far (transient; the final text arrives as an `edit`). */
export interface DeltaFrame { type: 'delta'; room: string; id: string; text: string; asker: string }

export type ServerFrame =
  | HelloFrame
  | PongFrame
  | JoinedFrame
  | LeftFrame
  | AckFrame
  | UnchangedAckFrame
  | AuthedFrame
  | ErrorFrame
  | MessageFrame
  | EventFrame
  | MemberEventFrame
  | RoomEventFrame
  | ResyncFrame
  | PresenceFrame
  | ReadFrame
  | ReceiptFrame
  | NotifyFrame
  | TypingFrame
  | ProfileFrame
  | DeltaFrame;

export type ClientFrame =
  | { type: 'join'; room: string; since?: string }
  | { type: 'leave'; room: string }
  | { type: 'send'; room: string; text: string; cid: string; replyTo?: string; attachments?: string[] }
  | { type: 'edit'; room: string; id: string; text: string; cid: string }
  | { type: 'delete'; room: string; id: string; cid: string }
  | { type: 'react'; room: string; id: string; emoji: string; on: boolean; cid: string }
  | { type: 'typing'; room: string; active: boolean }
  | { type: 'read'; room: string; id: string }
  | { type: 'status'; status: 'online' | 'away' }
  | { type: 'ping'; t?: number | string }
  | { type: 'auth'; token: string };

/** The WebSocket subprotocol; the token travels as a second one, `bearer.<JWT>`. */
export declare const PROTOCOL: 'aurora.v1';
export declare const BEARER_PREFIX: 'bearer.';
/** Every error code a server sends (ErrorCode as a list). */
export declare const ERROR_CODES: readonly ErrorCode[];
export declare const CloseCode: {
  readonly NORMAL: 1000;
  readonly POLICY_VIOLATION: 1008;
  readonly MESSAGE_TOO_BIG: 1009;
  readonly SERVICE_RESTART: 1012;
  readonly TOKEN_EXPIRED: 4001;
  readonly SLOW_CONSUMER: 4008;
};
/** Codes worth retrying with the same cid (the server did not take the change, or maybe did). */
export declare const RETRYABLE_CODES: readonly ErrorCode[];
export declare const MAX_TEXT_CHARS: 4000;
export declare const CID_RE: RegExp;
