// A chat message as it travels: the send script writes it as flat field/value pairs to the room
// log (read back by replicas with messageFromLogEntry) and to the ingest stream (parsed by the
// workers with parseIngestEntry). This file is the one definition of both formats; send.lua
// writes the same field names.
import { isMessageId, idTime } from './ids.js';
import { fieldRecord } from './redis.js';
import { isValidRoom } from './rooms.js';

export interface ChatUser {
  id: string;
  name: string;
}

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
}

export const MAX_TEXT_CHARS = 4000;
export const CID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Field/value list in the order the send script writes it: room id uid name text cid. */
export function ingestEntryFields(m: ChatMessage): string[] {
  return ['room', m.room, 'id', m.id, 'uid', m.user.id, 'name', m.user.name, 'text', m.text, 'cid', m.cid];
}

/** Parses one ingest stream entry's field list; a string result is the reason it is poison. */
export function parseIngestEntry(fields: readonly string[]): ChatMessage | string {
  const f = fieldRecord(fields);
  if (!isValidRoom(f.room)) return 'invalid room';
  if (!isMessageId(f.id)) return 'invalid message id';
  if (!f.uid) return 'missing uid';
  if (typeof f.name !== 'string' || f.name.length === 0) return 'missing name';
  if (typeof f.text !== 'string' || f.text.length === 0) return 'missing text';
  if (f.text.length > MAX_TEXT_CHARS) return 'text too long';
  if (typeof f.cid !== 'string') return 'missing cid';
  return { id: f.id, room: f.room, user: { id: f.uid, name: f.name }, text: f.text, ts: idTime(f.id), cid: f.cid };
}

/**
 * A room log entry as a message. send.lua writes the room log with fields uid name text cid;
 * the entry's own id is the message id (and its ms part the timestamp).
 */
export function messageFromLogEntry(room: string, id: string, fields: readonly string[]): ChatMessage {
  const f = fieldRecord(fields);
  return { id, room, user: { id: f.uid ?? '', name: f.name ?? '' }, text: f.text ?? '', ts: idTime(id), cid: f.cid ?? '' };
}
