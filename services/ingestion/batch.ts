// Sorts one batch of ingest entries before anything is written: poison out, messages and
// events apart, each entry once per (room, id), and the entries delivered too often set aside.
// Pure (no Redis, no store), so the worker's exactly-once rules read in one place: worker.ts.
import { isMembershipLogEntry, sameMembershipEvent, type MembershipLogEntry } from '../shared/membership.js';
import { isChatMessage, isReadMark, isRoomEvent, parseIngestItem, type ChatMessage, type LogEntry, type ReadMark, type RoomEvent } from '../shared/message.js';
import { sameEvent, sameMessage } from '../shared/store/store.js';
import type { Poison } from './dead-letter.js';
import type { IngestEntry } from './streams.js';

export interface Sorted<T extends LogEntry> {
  /** First of their (room, id) in the batch, delivered at most INGEST_MAX_DELIVERIES times: written together. */
  fresh: T[];
  /** Delivered more often (maybe a worker killer, maybe only restarts and claims): each written alone. */
  suspects: T[];
  /**
   * ANOTHER entry under an id this batch already had (Redis reused an id after losing a log's
   * tail): each written alone after the rest, so the store says which one it holds (this one
   * is then a duplicate) or that it holds another (a conflict, dead-lettered).
   */
  sameIdLater: T[];
}

export interface SortedBatch {
  poison: Poison[];
  messages: Sorted<ChatMessage>;
  events: Sorted<RoomEvent>;
  /** Membership and room changes (membership.ts): written after the messages and events. */
  memberships: Sorted<MembershipLogEntry>;
  /**
   * Read marks (read.lua), the furthest per (room, user) of the batch: positions only move
   * forward (the store takes the max), so the rest say nothing new.
   */
  reads: ReadMark[];
  /** The ingest entry each parsed message or event came from (dead letters name it). */
  entryOf: Map<LogEntry, IngestEntry>;
}

/** A second delivery of the same entry, not a different one under a reused id: the store's own test. */
function sameEntry(first: LogEntry, later: LogEntry): boolean {
  if (isRoomEvent(first) && isRoomEvent(later)) {
    return sameEvent({ kind: first.kind, target: first.target, userId: first.user.id, cid: first.cid }, later);
  }
  if (isChatMessage(first) && isChatMessage(later)) return sameMessage({ userId: first.user.id, cid: first.cid }, later);
  if (isMembershipLogEntry(first) && isMembershipLogEntry(later)) return sameMembershipEvent(first, later);
  return false;
}

/** Files `item` as the first of its (room, id) in the batch, or as a later one. */
function place<T extends LogEntry>(
  sorted: Sorted<T>,
  seen: Map<string, T>,
  item: T,
  entry: IngestEntry,
  maxDeliveries: number,
  entryOf: Map<LogEntry, IngestEntry>,
): void {
  const key = `${item.room}\n${item.id}`;
  const first = seen.get(key);
  if (first) {
    // The same entry twice in one batch is written once. ANOTHER one under the same id must
    // not vanish as a "duplicate": the store, given it alone after the batch, tells which one
    // it holds (conflicts are dead-lettered by the worker).
    if (!sameEntry(first, item)) {
      sorted.sameIdLater.push(item);
      entryOf.set(item, entry);
    }
    return;
  }
  seen.set(key, item);
  entryOf.set(item, entry);
  (entry.deliveries > maxDeliveries ? sorted.suspects : sorted.fresh).push(item);
}

export function sortBatch(batch: readonly IngestEntry[], maxDeliveries: number): SortedBatch {
  const out: SortedBatch = {
    poison: [],
    messages: { fresh: [], suspects: [], sameIdLater: [] },
    events: { fresh: [], suspects: [], sameIdLater: [] },
    memberships: { fresh: [], suspects: [], sameIdLater: [] },
    reads: [],
    entryOf: new Map(),
  };
  const furthestRead = new Map<string, ReadMark>();
  // Messages and events are keyed apart: the store keeps them apart too (one id space each).
  const seenMessages = new Map<string, ChatMessage>();
  const seenEvents = new Map<string, RoomEvent>();
  const seenMemberships = new Map<string, MembershipLogEntry>();
  for (const entry of batch) {
    if (entry.fields === null) {
      out.poison.push({ entry, kind: 'deleted', reason: 'entry was deleted from the stream before it was stored' });
      continue;
    }
    const parsed = parseIngestItem(entry.fields);
    if (typeof parsed === 'string') {
      out.poison.push({ entry, kind: 'invalid', reason: parsed });
      continue;
    }
    if (isReadMark(parsed)) {
      const key = `${parsed.room}\n${parsed.user.id}`;
      const seen = furthestRead.get(key);
      if (!seen || seen.seq < parsed.seq) furthestRead.set(key, parsed);
      continue;
    }
    if (isRoomEvent(parsed)) place(out.events, seenEvents, parsed, entry, maxDeliveries, out.entryOf);
    else if (isMembershipLogEntry(parsed)) place(out.memberships, seenMemberships, parsed, entry, maxDeliveries, out.entryOf);
    else place(out.messages, seenMessages, parsed, entry, maxDeliveries, out.entryOf);
  }
  out.reads = [...furthestRead.values()];
  return out;
}
