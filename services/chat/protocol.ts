// WebSocket protocol v1 (DESIGN.md "WebSocket protocol v1"): the one module that turns a raw
// client frame into a typed ClientFrame (a discriminated union on `type`) or a ProtocolError
// with its stable code, and the one table of error and close codes. Nothing here throws.
import { ATTACHMENT_ID_RE, ATTACHMENTS_MAX_PER_MESSAGE } from '../shared/attachments.js';
import { isMessageId } from '../shared/ids.js';
import { CID_RE, isEmoji, MAX_TEXT_CHARS } from '../shared/message.js';
import { isValidRoom } from '../shared/rooms.js';

import { BEARER_PREFIX, PROTOCOL as SUBPROTOCOL } from '../../sdk/src/protocol.js';
import type { ClientFrame, ErrorCode, SendLimit } from '../../sdk/src/protocol.js';

// The frame types are the client SDK's (sdk/src/protocol.d.ts): one definition for both ends.
export { BEARER_PREFIX, SUBPROTOCOL };
export type { ClientFrame, ErrorCode, SendLimit };

/**
 * Error codes (ErrorCode, sdk/src/protocol.d.ts) sent in `{"type":"error","code",...}` frames. The socket stays open.
 *
 * | code          | when                                                                 |
 * | bad_request   | unparseable JSON, binary frame, unknown type, missing/ill-typed field, empty text, bad token in `auth` |
 * | invalid_room  | room name matches neither the public-room nor the DM pattern          |
 * | too_long      | text over MAX_TEXT_CHARS (4,000) characters                           |
 * | not_joined    | send/typing/edit/delete/react/read in a room this socket has not joined |
 * | not_found     | edit/delete/react of a message that is unknown, deleted, or older than MESSAGE_CHANGE_WINDOW_SEC; a `replyTo` that is none of those or not a top-level message; a `read` of an id that is no top-level message of the room log |
 * | limit_reached | a reaction that would put more than MAX_REACTION_EMOJI (20) different emoji on one message |
 * | rate_limited  | per-user-per-room send limit, account-wide send budget (messages/bytes over all rooms), new-room cap, per-socket frame budget (every frame, refused ones too) or join/leave budget (retryAfterMs). A refused `send` also names the limit in `limit`: `room`, `account` or `new_rooms` |
 * | forbidden     | someone else's DM room; an `auth` token for another user; an edit of someone else's message, a delete of someone else's message |
 * | overloaded    | ingest backlog past INGEST_MAX_BACKLOG; retry later (a socket whose frames queue up behind Redis is not refused: its reading is paused — TCP backpressure) |
 * | bad_attachment | a `send` naming an upload id that is not this sender's, of this room, or was already sent |
 * | internal      | Redis failed or timed out; the message was not accepted              |
 */

/**
 * Close codes. 1000–1015 are RFC 6455; 4000–4999 are ours (application range).
 *
 * | code | when                                                                          |
 * | 1008 | repeated protocol abuse (ABUSE_MAX_STRIKES bad frames within ABUSE_WINDOW_MS)  |
 * | 1002 | broken WebSocket framing: unmasked client frame, reserved bits/opcode... (ws)  |
 * | 1007 | a text frame that is not valid UTF-8 (sent by ws itself)                      |
 * | 1009 | a frame over MAX_PAYLOAD_BYTES (sent by ws itself)                            |
 * | 1012 | graceful shutdown of the replica: reconnect (to another replica); also a room  |
 * |      | whose missed messages after a subscriber reconnect could not be recovered      |
 * |      | (over RECOVERY_MAX or REPLY_MAX_BYTES, fanout.ts): resume with `since`          |
 * | 4001 | the access token expired without an in-band `auth` refresh, or its session was |
 * |      | revoked (logout, refresh-token theft): reason "session ended", sign in again    |
 * | 4008 | slow consumer: the next frame would take the socket's send buffer (with what  |
 * |      | this turn queued) past MAX_BUFFERED_BYTES; it is not written                  |
 */
export const CloseCode = {
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  SERVICE_RESTART: 1012,
  TOKEN_EXPIRED: 4001,
  SLOW_CONSUMER: 4008,
} as const;


export interface ProtocolError {
  code: ErrorCode;
  message: string;
  /** The client's cid when the bad frame carried one (echoed as `ref`). */
  ref?: string;
  /** Malformed frames (not merely refused ones) count towards the abuse limit. */
  strike: boolean;
}

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; error: ProtocolError };

const bad = (message: string, ref?: string): ParseResult => ({
  ok: false,
  error: { code: 'bad_request', message, strike: true, ...(ref !== undefined ? { ref } : {}) },
});
const refuse = (code: ErrorCode, message: string, ref?: string): ParseResult => ({
  ok: false,
  error: { code, message, strike: false, ...(ref !== undefined ? { ref } : {}) },
});

function roomOf(o: Record<string, unknown>, ref?: string): string | ParseResult {
  if (typeof o.room !== 'string') return bad('missing field: room', ref);
  if (!isValidRoom(o.room)) return refuse('invalid_room', 'invalid room name', ref);
  return o.room;
}

/** `text` with every lone surrogate replaced by U+FFFD (String.prototype.toWellFormed, ES2024). */
export function toWellFormed(text: string): string {
  return (text as unknown as { toWellFormed(): string }).toWellFormed();
}

function cidOf(f: Record<string, unknown>): string | ParseResult {
  if (typeof f.cid !== 'string') return bad('missing field: cid');
  if (!CID_RE.test(f.cid)) return bad('cid must match [A-Za-z0-9_-]{1,64}');
  return f.cid;
}

function textOf(f: Record<string, unknown>, ref: string): string | ParseResult {
  if (typeof f.text !== 'string') return bad('missing field: text', ref);
  if (f.text.trim().length === 0) return bad('text must not be empty', ref);
  if (f.text.length > MAX_TEXT_CHARS) return refuse('too_long', `text over ${MAX_TEXT_CHARS} characters`, ref);
  // A lone UTF-16 surrogate (valid as a JSON escape) has no UTF-8 form: Redis would store
  // U+FFFD while the live frame kept the escape — one id, two texts. Normalised here, once,
  // so live, log, store and history all carry the same text.
  return toWellFormed(f.text);
}

/** A send's `attachments`: absent/null/[] → undefined; else 1..ATTACHMENTS_MAX_PER_MESSAGE unique upload ids. */
function attachmentsOf(f: Record<string, unknown>, ref: string): string[] | undefined | ParseResult {
  const list = f.attachments;
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) return undefined;
  if (!Array.isArray(list)) return bad('attachments must be an array of upload ids', ref);
  if (list.length > ATTACHMENTS_MAX_PER_MESSAGE) return bad(`at most ${ATTACHMENTS_MAX_PER_MESSAGE} attachments per message`, ref);
  if (!list.every((id): id is string => typeof id === 'string' && ATTACHMENT_ID_RE.test(id))) {
    return bad('attachments must be upload ids (from POST /api/rooms/:room/attachments)', ref);
  }
  if (new Set(list).size !== list.length) return bad('an attachment is named twice', ref);
  return list;
}

/** Validates one text frame. `raw` is the frame as received (ws gives Buffers). */
export function parseClientFrame(raw: string): ParseResult {
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch {
    return bad('unparseable frame: expected JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return bad('frame must be a JSON object');
  const f = o as Record<string, unknown>;
  const ref = typeof f.cid === 'string' && f.cid.length <= 64 ? f.cid : undefined;
  switch (f.type) {
    case 'join': {
      const room = roomOf(f, ref);
      if (typeof room !== 'string') return room;
      if (f.since === undefined || f.since === null) return { ok: true, frame: { type: 'join', room } };
      if (!isMessageId(f.since)) return bad('since must be a message id <ms>-<seq>');
      return { ok: true, frame: { type: 'join', room, since: f.since } };
    }
    case 'leave': {
      const room = roomOf(f, ref);
      if (typeof room !== 'string') return room;
      return { ok: true, frame: { type: 'leave', room } };
    }
    case 'send': {
      const c = cidOf(f);
      if (typeof c !== 'string') return c;
      const room = roomOf(f, c);
      if (typeof room !== 'string') return room;
      const attachments = attachmentsOf(f, c);
      if (attachments !== undefined && !Array.isArray(attachments)) return attachments;
      // A message of files alone has no text: '' is then fine (not whitespace, not missing).
      const text = attachments !== undefined && f.text === '' ? '' : textOf(f, c);
      if (typeof text !== 'string') return text;
      const frame: Extract<ClientFrame, { type: 'send' }> = { type: 'send', room, text, cid: c };
      if (f.replyTo !== undefined && f.replyTo !== null) {
        if (!isMessageId(f.replyTo)) return bad('replyTo must be a message id <ms>-<seq>', c);
        frame.replyTo = f.replyTo;
      }
      if (attachments !== undefined) frame.attachments = attachments;
      return { ok: true, frame };
    }
    case 'edit':
    case 'delete':
    case 'react': {
      const c = cidOf(f);
      if (typeof c !== 'string') return c;
      const room = roomOf(f, c);
      if (typeof room !== 'string') return room;
      if (!isMessageId(f.id)) return bad('id must be a message id <ms>-<seq>', c);
      if (f.type === 'delete') return { ok: true, frame: { type: 'delete', room, id: f.id, cid: c } };
      if (f.type === 'edit') {
        const text = textOf(f, c);
        if (typeof text !== 'string') return text;
        return { ok: true, frame: { type: 'edit', room, id: f.id, text, cid: c } };
      }
      if (!isEmoji(f.emoji)) return bad('emoji must be one emoji', c);
      if (typeof f.on !== 'boolean') return bad('missing field: on (boolean)', c);
      return { ok: true, frame: { type: 'react', room, id: f.id, emoji: f.emoji, on: f.on, cid: c } };
    }
    case 'typing': {
      const room = roomOf(f, ref);
      if (typeof room !== 'string') return room;
      if (typeof f.active !== 'boolean') return bad('missing field: active (boolean)');
      return { ok: true, frame: { type: 'typing', room, active: f.active } };
    }
    case 'read': {
      const room = roomOf(f, ref);
      if (typeof room !== 'string') return room;
      if (!isMessageId(f.id)) return bad('id must be a message id <ms>-<seq>');
      return { ok: true, frame: { type: 'read', room, id: f.id } };
    }
    case 'status': {
      if (f.status !== 'online' && f.status !== 'away') return bad('status must be "online" or "away"');
      return { ok: true, frame: { type: 'status', status: f.status } };
    }
    case 'ping': {
      if (f.t === undefined) return { ok: true, frame: { type: 'ping' } };
      if ((typeof f.t !== 'number' || !Number.isFinite(f.t)) && (typeof f.t !== 'string' || f.t.length > 64)) {
        return bad('t must be a number or a short string');
      }
      return { ok: true, frame: { type: 'ping', t: f.t } };
    }
    case 'auth': {
      if (typeof f.token !== 'string' || f.token.length === 0) return bad('missing field: token');
      return { ok: true, frame: { type: 'auth', token: f.token } };
    }
    default:
      return bad(typeof f.type === 'string' ? `unknown frame type: ${f.type.slice(0, 32)}` : 'missing field: type', ref);
  }
}


/** Parses the offered subprotocols: `aurora.v1` must be among them, plus one `bearer.<JWT>`. */
export function parseSubprotocols(header: string | undefined): { token: string } | null {
  if (!header) return null;
  const offered = header.split(',').map((s) => s.trim());
  if (!offered.includes(SUBPROTOCOL)) return null;
  const bearer = offered.find((p) => p.startsWith(BEARER_PREFIX));
  if (!bearer || bearer.length === BEARER_PREFIX.length) return null;
  return { token: bearer.slice(BEARER_PREFIX.length) };
}
