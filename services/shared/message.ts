// What travels on a room log: MESSAGES and the EVENTS that change them (edit, delete, react —
// DESIGN.md "Wave 2 — Room events"). Both are entries of the same room log (their stream id is
// their id) and of the partition's ingest stream. This file is the one definition of both
// entry formats: the Lua scripts (send.lua, event.lua) write the same field names, replicas read
// the room log with logEntryOf, workers read the ingest stream with parseIngestEntry.
//
// Room log fields (a frame can be rebuilt from them byte for byte: chat/frames.ts):
//   message  uid name text cid [sq <room seq>] [mn <mentions, ','-joined>]
//              [re <parent id> rc <parent's reply count after it> pu <parent's author id>]
//              [at <attachments, a JSON array of Attachment (attachments.ts)>]  (text may be '' then)
//   event    ev <kind> uid name cid tg <target id>
//              edit:   text
//              delete: [re <parent id> rc <parent's reply count after it>]  (the target was a reply)
//              react:  emoji on <1|0> n <count of this emoji after it>
// Ingest stream fields: `room <room> id <id>` then the same fields (rc and n are live-only hints
// and are not needed by the store: it recounts from what it holds).
// A READ mark (chat/lua/read.lua: a user saw a room up to a message) is an ingest entry but no
// room log entry: `rd 1 room <room> uid name id <message id> sq <its seq>` (parseIngestItem).
import { parseAttachments, type Attachment } from './attachments.js';
import type { ChatUser } from '../../sdk/src/protocol.js';
import { isMessageId, idTime } from './ids.js';
import { isMembershipLogEntry, membershipFields, parseMembershipFields, type MembershipLogEntry } from './membership.js';
import { fieldRecord } from './redis.js';
import { isValidRoom } from './rooms.js';

export type { ChatUser } from '../../sdk/src/protocol.js';

export interface ChatMessage {
  /** Room log stream id `<ms>-<seq>`. */
  id: string;
  room: string;
  user: ChatUser;
  text: string;
  /** Server time in ms (the id's ms part). */
  ts: number;
  /** The sender's client message id (idempotency key). */
  cid: string;
  /** A reply in a thread: the id of its top-level parent message in the same room. */
  replyTo?: string;
  /**
   * Top-level messages: the room's counter value (send.lua, one INCR in the call that assigns the
   * id, so seq order is id order). Unread counts are differences of seqs (DESIGN.md "Per-user
   * channel and attention"). Absent on replies and on messages stored before seqs existed.
   */
  seq?: number;
  /** Members mentioned (user ids, resolved at send), and/or MENTION_ROOM; absent when none. */
  mentions?: string[];
  /** A reply: its parent's author (ingest stream only, for the reply notification). */
  replyToUser?: string;
  /** Uploaded files the message carries (attachments.ts), absent when none; `text` may then be ''. */
  attachments?: Attachment[];
}

/** `@room` (or @here, @everyone) in `mentions`: every member of the room at the time. */
export const MENTION_ROOM = '@room';

/** A user saw a room up to a top-level message (read.lua); travels on the ingest stream only. */
export interface ReadMark {
  room: string;
  user: ChatUser;
  /** The newest message seen. */
  id: string;
  seq: number;
}

export type EventKind = 'edit' | 'delete' | 'react';
export const EVENT_KINDS: readonly EventKind[] = ['edit', 'delete', 'react'];

interface EventBase {
  /** The event's own room log id (after its target's). */
  id: string;
  room: string;
  /** Who made the change. */
  user: ChatUser;
  ts: number;
  cid: string;
  /** The message changed. */
  target: string;
}

/** A change to a message, appended to the room log after it. */
export type RoomEvent =
  | (EventBase & { kind: 'edit'; text: string })
  | (EventBase & { kind: 'delete'; replyTo?: string })
  | (EventBase & { kind: 'react'; emoji: string; on: boolean });

/** Everything a room log holds: messages, changes to them, and membership/room changes (membership.ts). */
export type LogEntry = ChatMessage | RoomEvent | MembershipLogEntry;

/** A change to a message (edit, delete, react) — not a membership or room change. */
export function isRoomEvent(e: LogEntry): e is RoomEvent {
  return 'kind' in e && !isMembershipLogEntry(e);
}

export function isChatMessage(e: LogEntry): e is ChatMessage {
  return !('kind' in e);
}

// The client SDK's limits (sdk/src/protocol.js): the composer and the server agree.
import { CID_RE, MAX_TEXT_CHARS } from '../../sdk/src/protocol.js';

export { CID_RE, MAX_TEXT_CHARS };
/** Different emoji on one message (Discord and Slack cap it near 20 too). */
export const MAX_REACTION_EMOJI = 20;
/** UTF-16 code units of one reaction: a single emoji grapheme, ZWJ sequences and flags included. */
export const MAX_EMOJI_CHARS = 32;

const EMOJI_RE = /^(?:\p{Extended_Pictographic}|\p{Emoji_Presentation}|\p{Regional_Indicator}|\p{Emoji_Modifier}|[\u200d\ufe0f\u20e3#*0-9])+$/u;
/** Joiners, variation selectors and keycap marks alone draw nothing: a reaction needs a base. */
const VISIBLE_BASE_RE = /\p{Extended_Pictographic}|\p{Regional_Indicator}|[#*0-9]\ufe0f?\u20e3/u;
const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/**
 * One emoji (one grapheme made of emoji code points: 👍, 👍🏽, 🇫🇷, 👩‍💻, 1️⃣), not arbitrary
 * text: reactions are shown as small chips and counted by exact string.
 */
export function isEmoji(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_EMOJI_CHARS) return false;
  if (!EMOJI_RE.test(s) || !VISIBLE_BASE_RE.test(s) || /^\u200d|\u200d$/.test(s)) return false;
  let graphemes = 0;
  for (const _ of segmenter.segment(s)) if (++graphemes > 1) return false;
  return true;
}

/** Field/value list of a message in the ingest stream: room id uid name text cid [sq] [mn] [re [pu]] [at]. */
export function ingestEntryFields(m: ChatMessage): string[] {
  const f = ['room', m.room, 'id', m.id, 'uid', m.user.id, 'name', m.user.name, 'text', m.text, 'cid', m.cid];
  if (m.seq !== undefined) f.push('sq', String(m.seq));
  if (m.mentions !== undefined && m.mentions.length > 0) f.push('mn', m.mentions.join(','));
  if (m.replyTo !== undefined) f.push('re', m.replyTo);
  if (m.replyToUser !== undefined) f.push('pu', m.replyToUser);
  if (m.attachments !== undefined && m.attachments.length > 0) f.push('at', JSON.stringify(m.attachments));
  return f;
}

/** Field/value list of a read mark in the ingest stream (read.lua writes the same). */
export function readMarkFields(r: ReadMark): string[] {
  return ['rd', '1', 'room', r.room, 'uid', r.user.id, 'name', r.user.name, 'id', r.id, 'sq', String(r.seq)];
}

const SEQ_RE = /^[1-9][0-9]{0,15}$/;
const MENTION_RE = /^(?:[A-Za-z0-9_-]{1,64}|@room)$/;

/** `sq`: a positive integer; undefined when absent; a string when malformed (the poison reason). */
function parseSeq(v: string | undefined): number | undefined | string {
  if (v === undefined) return undefined;
  return SEQ_RE.test(v) ? Number(v) : 'invalid seq';
}

/** `mn`: ','-joined user ids and/or @room. */
function parseMentions(v: string | undefined): string[] | undefined | string {
  if (v === undefined || v === '') return undefined;
  const ids = v.split(',');
  if (ids.length > 1000 || !ids.every((id) => MENTION_RE.test(id))) return 'invalid mentions';
  return ids;
}

/**
 * Parses one ingest stream entry: a room log entry (parseIngestEntry) or a read mark. A string
 * result is the reason it is poison.
 */
export function parseIngestItem(fields: readonly string[]): LogEntry | ReadMark | string {
  if (fields[0] !== 'rd') return parseIngestEntry(fields);
  const f = fieldRecord(fields);
  if (!isValidRoom(f.room)) return 'invalid room';
  if (!isMessageId(f.id)) return 'invalid message id';
  if (!f.uid || !f.name) return 'missing user';
  const seq = parseSeq(f.sq);
  if (typeof seq !== 'number') return seq ?? 'missing seq';
  return { room: f.room, user: { id: f.uid, name: f.name }, id: f.id, seq };
}

export function isReadMark(e: object): e is ReadMark {
  return 'seq' in e && !('text' in e) && !('kind' in e);
}

/** Field/value list of an event in the ingest stream (tests and tools; event.lua writes the same). */
export function ingestEventFields(e: RoomEvent): string[] {
  const f = ['room', e.room, 'id', e.id, 'ev', e.kind, 'uid', e.user.id, 'name', e.user.name, 'cid', e.cid, 'tg', e.target];
  if (e.kind === 'edit') f.push('text', e.text);
  if (e.kind === 'delete' && e.replyTo !== undefined) f.push('re', e.replyTo);
  if (e.kind === 'react') f.push('emoji', e.emoji, 'on', e.on ? '1' : '0');
  return f;
}

/** Field/value list of any room log entry in the ingest stream (dead-letter re-drive, tests). */
export function ingestFields(e: LogEntry): string[] {
  if (isChatMessage(e)) return ingestEntryFields(e);
  if (isRoomEvent(e)) return ingestEventFields(e);
  return ['room', e.room, 'id', e.id, ...membershipFields(e)];
}

/** Parses one ingest stream entry's field list; a string result is the reason it is poison. */
export function parseIngestEntry(fields: readonly string[]): LogEntry | string {
  const f = fieldRecord(fields);
  if (!isValidRoom(f.room)) return 'invalid room';
  if (!isMessageId(f.id)) return 'invalid message id';
  if (!f.uid) return 'missing uid';
  if (typeof f.name !== 'string' || f.name.length === 0) return 'missing name';
  if (typeof f.cid !== 'string') return 'missing cid';
  const user = { id: f.uid, name: f.name };
  if (f.ev === 'member' || f.ev === 'room') return parseMembershipFields(f.room, f.id, f);
  if (f.ev !== undefined) {
    if (!isMessageId(f.tg)) return 'invalid event target';
    const base = { id: f.id, room: f.room, user, ts: idTime(f.id), cid: f.cid, target: f.tg };
    switch (f.ev) {
      case 'edit':
        if (typeof f.text !== 'string' || f.text.length === 0) return 'missing text';
        if (f.text.length > MAX_TEXT_CHARS) return 'text too long';
        return { ...base, kind: 'edit', text: f.text };
      case 'delete':
        if (f.re !== undefined && !isMessageId(f.re)) return 'invalid reply parent';
        return f.re === undefined ? { ...base, kind: 'delete' } : { ...base, kind: 'delete', replyTo: f.re };
      case 'react':
        if (!isEmoji(f.emoji)) return 'invalid emoji';
        if (f.on !== '1' && f.on !== '0') return 'invalid reaction flag';
        return { ...base, kind: 'react', emoji: f.emoji, on: f.on === '1' };
      default:
        return 'unknown event kind';
    }
  }
  const attachments = parseAttachments(f.at);
  if (typeof attachments === 'string') return attachments;
  // a message of files only has no text
  if (typeof f.text !== 'string' || (f.text.length === 0 && attachments === undefined)) return 'missing text';
  if (f.text.length > MAX_TEXT_CHARS) return 'text too long';
  if (f.re !== undefined && !isMessageId(f.re)) return 'invalid reply parent';
  const seq = parseSeq(f.sq);
  if (typeof seq === 'string') return seq;
  const mentions = parseMentions(f.mn);
  if (typeof mentions === 'string') return mentions;
  const m: ChatMessage = { id: f.id, room: f.room, user, text: f.text, ts: idTime(f.id), cid: f.cid };
  if (f.re !== undefined) m.replyTo = f.re;
  if (seq !== undefined) m.seq = seq;
  if (mentions !== undefined) m.mentions = mentions;
  if (f.pu) m.replyToUser = f.pu;
  if (attachments !== undefined) m.attachments = attachments;
  return m;
}

/** A room log entry as read by a replica: the entry and the live-only counts it carries. */
export type LogRecord =
  | { entry: ChatMessage; replyCount?: number }
  | { entry: RoomEvent; replyCount?: number; count?: number }
  | { entry: MembershipLogEntry };

/**
 * A room log entry (its id and field list, as XRANGE returns it). The entry's own id is the
 * message or event id (and its ms part the timestamp).
 */
export function logEntryOf(room: string, id: string, fields: readonly string[]): LogRecord {
  const f = fieldRecord(fields);
  const user = { id: f.uid ?? '', name: f.name ?? '' };
  const ts = idTime(id);
  const cid = f.cid ?? '';
  const rc = f.rc === undefined ? undefined : Number(f.rc);
  if (f.ev === 'member' || f.ev === 'room') {
    const e = parseMembershipFields(room, id, f);
    // The scripts write these entries (membership/member.lua); a malformed one is a bug there.
    if (typeof e === 'string') throw new Error(`room log entry ${id}: ${e}`);
    return { entry: e };
  }
  if (f.ev !== undefined) {
    const base = { id, room, user, ts, cid, target: f.tg ?? '' };
    if (f.ev === 'edit') return { entry: { ...base, kind: 'edit', text: f.text ?? '' } };
    if (f.ev === 'react') {
      return { entry: { ...base, kind: 'react', emoji: f.emoji ?? '', on: f.on === '1' }, count: Number(f.n ?? 0) };
    }
    return f.re === undefined
      ? { entry: { ...base, kind: 'delete' } }
      : { entry: { ...base, kind: 'delete', replyTo: f.re }, ...(rc === undefined ? {} : { replyCount: rc }) };
  }
  const m: ChatMessage = { id, room, user, text: f.text ?? '', ts, cid };
  if (f.re !== undefined) m.replyTo = f.re;
  if (f.sq !== undefined) m.seq = Number(f.sq);
  if (f.mn) m.mentions = f.mn.split(',');
  // send.lua copies what the users service registered (already checked): a malformed list is
  // a bug there, and shows as a message without files rather than breaking the room's replay
  const attachments = parseAttachments(f.at);
  if (Array.isArray(attachments)) m.attachments = attachments;
  return rc === undefined ? { entry: m } : { entry: m, replyCount: rc };
}

/** A room log entry that is a message (wave-1 callers that only know messages). */
export function messageFromLogEntry(room: string, id: string, fields: readonly string[]): ChatMessage {
  const { entry } = logEntryOf(room, id, fields);
  if (!isChatMessage(entry)) throw new Error(`room log entry ${id} is an event, not a message`);
  return entry;
}
