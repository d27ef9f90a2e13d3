// The notifier trails storage: it handles an ingest entry only once the storage group
// (INGEST_GROUP) has stored and acked it. Both groups read the same stream at the same time,
// and the notifier asks the store who is a member, who muted what — state the entries before
// this one change (an invite the users service appends to the stream a moment BEFORE it writes
// the store; a ws join the ingestion workers apply). Waiting for storage makes those answers
// include every earlier entry, and a notification never points at a message history does not
// have yet. It costs about one ingestion batch window of latency, and never slows storage.
import type { Redis } from 'ioredis';
import { compareIds } from '../shared/ids.js';
import { INGEST_GROUP } from '../shared/keys.js';
import { eachCommand, fieldRecord } from '../shared/redis.js';
import { successorId } from '../ingestion/trimmer.js';
import { throwOnPipelineError, type IngestEntry } from '../ingestion/streams.js';

/**
 * Per stream, the first entry id storage has NOT stored yet: its oldest pending entry, else the
 * successor of its last-delivered id. Null: the stream has no storage group (nothing is stored).
 */
export async function storedUpTo(redis: Redis, streams: readonly string[]): Promise<Map<string, string | null>> {
  let replies: unknown[];
  try {
    replies = throwOnPipelineError(await eachCommand(redis, streams, (c, s) => [c.xinfo('GROUPS', s), c.xpending(s, INGEST_GROUP)]));
  } catch (err) {
    // A stream or the group missing (Redis lost its data): nothing stored there yet.
    if (err instanceof Error && /no such key|NOGROUP/i.test(err.message)) return new Map(streams.map((s) => [s, null]));
    throw err;
  }
  const out = new Map<string, string | null>();
  streams.forEach((s, i) => {
    const group = ((replies[2 * i] as unknown[][]) ?? []).map((g) => fieldRecord(g)).find((g) => g.name === INGEST_GROUP);
    const oldestPending = (replies[2 * i + 1] as [number, string | null] | undefined)?.[1] ?? null;
    out.set(s, !group ? null : oldestPending ?? successorId(String(group['last-delivered-id'] ?? '0-0')));
  });
  return out;
}

/** Entries storage has not stored yet (their stream's point not past them). */
export function notStored(entries: readonly IngestEntry[], points: ReadonlyMap<string, string | null>): IngestEntry[] {
  return entries.filter((e) => {
    const point = points.get(e.stream);
    return point === null || point === undefined || compareIds(e.id, point) >= 0;
  });
}
