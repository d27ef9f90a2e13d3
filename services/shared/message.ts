// A chat message as it travels: the send script writes it to the ingest stream as flat
// field/value pairs; ingestion parses it back with parseIngestEntry and stores it. This file is
// the one definition of that format (the Lua send script writes the same field names).
import { isMessageId, idTime } from './ids.js';
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
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  if (!isValidRoom(f.room)) return 'invalid room';
  if (!isMessageId(f.id)) return 'invalid message id';
  if (!f.uid) return 'missing uid';
  if (typeof f.name !== 'string' || f.name.length === 0) return 'missing name';
  if (typeof f.text !== 'string' || f.text.length === 0) return 'missing text';
  if (f.text.length > MAX_TEXT_CHARS) return 'text too long';
  if (typeof f.cid !== 'string') return 'missing cid';
  return { id: f.id, room: f.room, user: { id: f.uid, name: f.name }, text: f.text, ts: idTime(f.id), cid: f.cid };
}
