// Telling the entries of a room log or ingest stream apart in tests. Since membership changes
// are events on the room log (issue 14), a join of a public room appends a `member` entry next
// to the messages; tests that count what sends wrote count the message entries, and tests about
// membership look at the member entries.
import type { Redis } from 'ioredis';

export type StreamEntry = [id: string, fields: string[]];

/** The value of a field (names at even positions only: a text may be "ev"). */
export function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** A chat message: no `ev` field (edits, deletes, reactions, member and room changes have one). */
export const isMessageFields = (fields: readonly string[]): boolean => fieldOf(fields, 'ev') === undefined;
export const isMemberFields = (fields: readonly string[]): boolean => fieldOf(fields, 'ev') === 'member';

export async function entriesOf(r: Redis, key: string): Promise<StreamEntry[]> {
  return (await r.xrange(key, '-', '+')) as StreamEntry[];
}

/** The message entries of a stream, oldest first. */
export async function messageEntries(r: Redis, key: string): Promise<StreamEntry[]> {
  return (await entriesOf(r, key)).filter(([, f]) => isMessageFields(f));
}

/** The member entries of a stream, oldest first. */
export async function memberEntries(r: Redis, key: string): Promise<StreamEntry[]> {
  return (await entriesOf(r, key)).filter(([, f]) => isMemberFields(f));
}

export async function countMessages(r: Redis, key: string): Promise<number> {
  return (await messageEntries(r, key)).length;
}
