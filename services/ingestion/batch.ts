// Sorts one batch of ingest entries before anything is written: poison out, messages and
// events apart, each entry once per (room, id), and the entries delivered too often set aside.
// Pure (no Redis, no store), so the worker's exactly-once rules read in one place: worker.ts.
import { isRoomEvent, parseIngestEntry, type ChatMessage, type LogEntry, type RoomEvent } from '../shared/message.js';
import { eventIdConflict, type Poison } from './dead-letter.js';
import type { IngestEntry } from './streams.js';

export interface Sorted<T extends LogEntry> {
  /** First of their (room, id) in the batch, delivered at most INGEST_MAX_DELIVERIES times: written together. */
  fresh: T[];
  /** Delivered more often (maybe a worker killer, maybe only restarts and claims): each written alone. */
  suspects: T[];
  /**
   * ANOTHER entry under an id this batch already had (Redis reused an id after losing a log's
   * tail): each written alone after the rest, so the store says which one it holds. Always
   * empty for events: see partitionBatch.
   */
  sameIdLater: T[];
}

export interface SortedBatch {
  poison: Poison[];
  messages: Sorted<ChatMessage>;
  events: Sorted<RoomEvent>;
  /** The ingest entry each parsed message or event came from (dead letters name it). */
  entryOf: Map<LogEntry, IngestEntry>;
}

/** A second delivery of the same client operation, not a different entry under a reused id. */
function sameOperation(a: LogEntry, b: LogEntry): boolean {
  return a.user.id === b.user.id && a.cid === b.cid;
}

export function sortBatch(batch: readonly IngestEntry[], maxDeliveries: number): SortedBatch {
  const out: SortedBatch = {
    poison: [],
    messages: { fresh: [], suspects: [], sameIdLater: [] },
    events: { fresh: [], suspects: [], sameIdLater: [] },
    entryOf: new Map(),
  };
  // Messages and events are keyed apart: the store keeps them apart too (one id space each).
  const seenMessages = new Map<string, ChatMessage>();
  const seenEvents = new Map<string, RoomEvent>();
  for (const entry of batch) {
    if (entry.fields === null) {
      out.poison.push({ entry, kind: 'deleted', reason: 'entry was deleted from the stream before it was stored' });
      continue;
    }
    const parsed = parseIngestEntry(entry.fields);
    if (typeof parsed === 'string') {
      out.poison.push({ entry, kind: 'invalid', reason: parsed });
      continue;
    }
    const key = `${parsed.room}\n${parsed.id}`;
    if (isRoomEvent(parsed)) {
      const first = seenEvents.get(key);
      if (first) {
        // The store takes one event per (room, id) and reports a second one as a redelivery, so
        // a different event under the id of one already in this batch would vanish there: it is
        // dead-lettered here instead (the first of the two is the one the store will hold).
        if (!sameOperation(first, parsed)) out.poison.push(eventIdConflict(entry, parsed, first));
        continue;
      }
      seenEvents.set(key, parsed);
      out.entryOf.set(parsed, entry);
      (entry.deliveries > maxDeliveries ? out.events.suspects : out.events.fresh).push(parsed);
      continue;
    }
    const first = seenMessages.get(key);
    if (first) {
      // The same message twice in one batch is stored once. ANOTHER message under the same id
      // must not vanish as a "duplicate": the store, given it alone after the batch, tells
      // which one it holds (conflicts are dead-lettered by the worker).
      if (!sameOperation(first, parsed)) {
        out.messages.sameIdLater.push(parsed);
        out.entryOf.set(parsed, entry);
      }
      continue;
    }
    seenMessages.set(key, parsed);
    out.entryOf.set(parsed, entry);
    (entry.deliveries > maxDeliveries ? out.messages.suspects : out.messages.fresh).push(parsed);
  }
  return out;
}
