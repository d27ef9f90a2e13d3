// Poison entries go to the partition's dead-letter stream (keys.deadLetter(p)) before they are
// acked: a crash between the two may copy one twice into the dead-letter stream, never lose it.
// A dead-letter entry holds `reason`, `entryId` (the ingest entry's id), `stream` and
// `deliveries`, then the original field/value pairs unchanged (so it can be re-driven with
// XADD after a fix).
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import type { DeadLetterKind } from './metrics.js';
import { throwOnPipelineError, type IngestEntry } from './streams.js';

/** The dead-letter stream keeps about this many entries (memory stays bounded). */
export const DEAD_LETTER_MAXLEN = 100_000;

export interface Poison {
  entry: IngestEntry;
  kind: DeadLetterKind;
  reason: string;
}

export function deadLetterFields(p: Poison): string[] {
  return [
    'reason', p.reason,
    'entryId', p.entry.id,
    'stream', p.entry.stream,
    'deliveries', String(p.entry.deliveries),
    ...(p.entry.fields ?? []),
  ];
}

/** XADDs every poison entry to its partition's dead-letter stream in one round trip. */
export async function deadLetter(redis: Redis, keys: Keys, poison: readonly Poison[]): Promise<void> {
  const pipeline = redis.pipeline();
  for (const p of poison) {
    pipeline.xadd(keys.deadLetter(p.entry.partition), 'MAXLEN', '~', DEAD_LETTER_MAXLEN, '*', ...deadLetterFields(p));
  }
  throwOnPipelineError(await pipeline.exec());
}
