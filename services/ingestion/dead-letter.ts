// Poison entries go to the partition's dead-letter stream (keys.deadLetter(p)) before they are
// acked: a crash between the two may copy one twice into the dead-letter stream, never lose it.
// A dead-letter entry holds `reason`, `entryId` (the ingest entry's id), `stream` and
// `deliveries`, then the original field/value pairs unchanged (so it can be re-driven with
// XADD after a fix). The original may be a message, a message event or a membership/room change
// (field `ev`, message.ts and membership.ts).
//
// Dead-letter streams are NEVER trimmed: every entry in them is an acked message (or event) the
// store does not hold, so a cap would silently drop acked messages in a flood. They leave only when an
// operator re-drives, exports or purges them (`cli dead-letters`, services/cli/dead-letters.ts);
// their size is the gauge aurora_ingestion_dead_letter_entries, which k8s/base/60-alerts.yaml alerts on.
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import { isMembershipLogEntry } from '../shared/membership.js';
import { isRoomEvent, type LogEntry } from '../shared/message.js';
import { eachCommand } from '../shared/redis.js';
import type { DeadLetterKind } from './metrics.js';
import { throwOnPipelineError, type IngestEntry } from './streams.js';

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

/** XADDs every poison entry to its partition's dead-letter stream in one round trip (per master). */
export async function deadLetter(redis: Redis, keys: Keys, poison: readonly Poison[]): Promise<void> {
  throwOnPipelineError(await eachCommand(redis, poison, (c, p) => c.xadd(keys.deadLetter(p.entry.partition), '*', ...deadLetterFields(p))));
}

/**
 * A message or event whose (room, id) the store already holds for ANOTHER message (author or cid
 * differ), message event (author, cid, kind or target differ) or membership/room change (author,
 * cid, kind, action or member differ): the store wrote nothing for it.
 */
export function idConflict(entry: IngestEntry, m: LogEntry): Poison {
  const reused = `under ${m.room} ${m.id} (Redis reused the id after losing the room log's tail)`;
  const by = `(user ${m.user.id}, cid ${m.cid})`;
  let reason: string;
  if (isMembershipLogEntry(m)) {
    const what = m.kind === 'member' ? `${m.action} of member ${m.member.id}` : `room ${m.action}`;
    reason = `id_conflict: a different event is stored ${reused}; this ${what} ${by} was not applied`;
  } else if (isRoomEvent(m)) {
    reason = `id_conflict: a different event is stored ${reused}; this ${m.kind} of ${m.target} ${by} was not applied`;
  } else {
    reason = `id_conflict: a different message is stored ${reused}; this one ${by} was not stored`;
  }
  return { entry, kind: 'id_conflict', reason };
}

/** Entries held by all dead-letter streams (the aurora_ingestion_dead_letter_entries gauge). */
export async function deadLetterCount(redis: Redis, keys: Keys): Promise<number> {
  const partitions = Array.from({ length: keys.partitions }, (_, p) => p);
  const lengths = throwOnPipelineError(await eachCommand(redis, partitions, (c, p) => c.xlen(keys.deadLetter(p))));
  return lengths.reduce((sum: number, n) => sum + Number(n), 0);
}
