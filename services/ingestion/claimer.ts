// Recovery from dead consumers. A worker killed with -9 leaves its batch in its pending list;
// any live worker takes such entries over once they have been idle longer than
// INGEST_CLAIM_IDLE_MS (XAUTOCLAIM increments their delivery count; past INGEST_MAX_DELIVERIES
// the worker inserts such an entry alone, after the rest of its batch, and dead-letters it only
// if the store rejects it — restarts and claims raise the count too). Consumer names of dead workers are removed
// once their pending list is empty and they have been idle for long (lua/remove-idle-consumers.lua).
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { fillDeliveries, toEntries, type IngestEntry } from './streams.js';

const REMOVE_IDLE_CONSUMERS = readFileSync(new URL('./lua/remove-idle-consumers.lua', import.meta.url), 'utf8');

export interface ClaimPage {
  /** Cursor for the next call; `0-0` when the pending list was scanned to its end. */
  next: string;
  /** Entries now owned by `consumer`, with their delivery counts. */
  entries: IngestEntry[];
  /** Ids that were pending but no longer exist in the stream (Redis dropped them from the PEL). */
  deleted: string[];
}

/** One XAUTOCLAIM page of entries idle at least `minIdleMs` on one stream. */
export async function claimIdlePage(
  redis: Redis,
  opts: { stream: string; partition: number; group: string; consumer: string; minIdleMs: number; cursor: string; count: number },
): Promise<ClaimPage> {
  const reply = (await redis.call(
    'XAUTOCLAIM', opts.stream, opts.group, opts.consumer, String(opts.minIdleMs), opts.cursor, 'COUNT', String(opts.count),
  )) as [string, [string, string[] | null][], string[]?];
  const [next, raw, deleted = []] = reply;
  const entries = toEntries(opts.stream, opts.partition, raw.filter(([, f]) => f !== null));
  // Redis < 7 reports deleted entries inline with nil fields.
  for (const [id, f] of raw) if (f === null) deleted.push(id);
  if (entries.length > 0) await fillDeliveries(redis, opts.group, opts.consumer, entries);
  return { next, entries, deleted };
}

/** Removes consumers with an empty pending list idle at least `minIdleMs` (never `self`). */
export async function removeIdleConsumers(
  redis: Redis,
  opts: { stream: string; group: string; self: string; minIdleMs: number },
): Promise<string[]> {
  return (await redis.eval(REMOVE_IDLE_CONSUMERS, 1, opts.stream, opts.group, String(opts.minIdleMs), opts.self)) as string[];
}
