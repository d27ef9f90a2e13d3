// The store side of a batch: its three writes — messages (insertMessages), events
// (applyEvents) and membership/room changes (applyMembershipEvents) — behind one shape, so the
// worker's rules (retry while the store is down, bisect when the data is the problem,
// dead-letter only what the store refuses on its own, suspects alone) are written once for all. The retry loop itself (backoff, shutdown's drain window)
// belongs to the worker and is passed in.
import type { Logger } from '../shared/logger.js';
import type { MembershipLogEntry } from '../shared/membership.js';
import type { ChatMessage, LogEntry, ReadMark, RoomEvent } from '../shared/message.js';
import type { Store } from '../shared/store/store.js';
import type { Sorted, SortedBatch } from './batch.js';
import { idConflict, type Poison } from './dead-letter.js';
import type { IngestMetrics } from './metrics.js';
import { errorMessage, isStoreUnavailable } from './store-errors.js';
import type { IngestEntry } from './streams.js';

/** Failed writes of one batch in a row (store answering ping) before it is split to find the culprit. */
export const ISOLATE_AFTER_FAILURES = 3;

/** What one successful store call reports. */
export interface WriteResult<T> {
  /** Newly stored messages / newly applied events. */
  written: number;
  /** Already held (redelivery): nothing changed. */
  duplicates: number;
  /** Entries whose (room, id) holds a DIFFERENT message / event: nothing stored for them. */
  conflicts: T[];
}

/** One entry the store refused on its own while it accepted writes. */
export interface Rejected<T> {
  item: T;
  err: unknown;
}

export interface WriteOutcome<T> extends WriteResult<T> {
  rejected: Rejected<T>[];
}

export interface Writer<T extends LogEntry> {
  /** For logs: 'messages', 'events' or 'memberships'. */
  readonly what: string;
  /** One store call, timed and counted in the metrics. */
  write(items: readonly T[]): Promise<WriteResult<T>>;
}

export function messageWriter(store: Store, metrics: IngestMetrics): Writer<ChatMessage> {
  return {
    what: 'messages',
    async write(messages) {
      const started = performance.now();
      const r = await store.insertMessages(messages);
      metrics.insertSeconds.observe((performance.now() - started) / 1000);
      metrics.inserted.inc(r.inserted);
      if (r.duplicates > 0) metrics.duplicates.inc(r.duplicates);
      return { written: r.inserted, duplicates: r.duplicates, conflicts: r.conflicts };
    },
  };
}

export function eventWriter(store: Store, metrics: IngestMetrics): Writer<RoomEvent> {
  return {
    what: 'events',
    async write(events) {
      const started = performance.now();
      const r = await store.applyEvents(events);
      metrics.applySeconds.observe((performance.now() - started) / 1000);
      metrics.eventsApplied.inc(r.applied);
      if (r.duplicates > 0) metrics.eventDuplicates.inc(r.duplicates);
      // The store reports totals only; per kind, what it took (applied or already held) — not
      // the conflicts, which the caller dead-letters (counted there as id_conflict).
      const refused = new Set<RoomEvent>(r.conflicts);
      const kinds = new Map<string, number>();
      for (const e of events) if (!refused.has(e)) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      for (const [kind, n] of kinds) metrics.eventsStored.inc({ kind }, n);
      return { written: r.applied, duplicates: r.duplicates, conflicts: r.conflicts };
    },
  };
}

export function membershipWriter(store: Store, metrics: IngestMetrics): Writer<MembershipLogEntry> {
  return {
    what: 'memberships',
    async write(events) {
      const started = performance.now();
      const r = await store.applyMembershipEvents(events);
      metrics.applySeconds.observe((performance.now() - started) / 1000);
      if (r.applied > 0) metrics.membershipsStored.inc({ result: 'applied' }, r.applied);
      if (r.duplicates > 0) metrics.membershipsStored.inc({ result: 'duplicate' }, r.duplicates);
      // Per kind ('member', 'room'), what the store took (applied or already held), as for events.
      const refused = new Set<MembershipLogEntry>(r.conflicts);
      const kinds = new Map<string, number>();
      for (const e of events) if (!refused.has(e)) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      for (const [kind, n] of kinds) metrics.eventsStored.inc({ kind }, n);
      return { written: r.applied, duplicates: r.duplicates, conflicts: r.conflicts };
    },
  };
}

/**
 * Bisects `items` until every part is written or is one entry the store refuses. Throws (back
 * to the caller's retry loop, nothing concluded) on an error that says the store is unavailable,
 * or when the store stops answering ping: then the failure says nothing about the data.
 */
export async function isolate<T extends LogEntry>(
  writer: Writer<T>,
  items: readonly T[],
  storeAnswers: () => Promise<boolean>,
): Promise<WriteOutcome<T>> {
  const out: WriteOutcome<T> = { written: 0, duplicates: 0, conflicts: [], rejected: [] };
  const pass = async (part: readonly T[]): Promise<void> => {
    try {
      const r = await writer.write(part);
      out.written += r.written;
      out.duplicates += r.duplicates;
      out.conflicts.push(...r.conflicts);
      return;
    } catch (err) {
      if (isStoreUnavailable(err) || !(await storeAnswers())) throw err;
      if (part.length === 1) {
        out.rejected.push({ item: part[0]!, err });
        return;
      }
    }
    const mid = Math.ceil(part.length / 2);
    await pass(part.slice(0, mid));
    await pass(part.slice(mid));
  };
  await pass(items);
  return out;
}

/** Runs `fn` until it succeeds, calling `onFailure` after each failed attempt (the worker's retry). */
export type Retry = <R>(what: string, inHand: IngestEntry[], fn: () => Promise<R>, onFailure?: (err: unknown) => void) => Promise<R>;

export interface BatchWriterDeps {
  store: Store;
  metrics: IngestMetrics;
  log: Logger;
  maxDeliveries: number;
  retry: Retry;
}

export class BatchWriter {
  private readonly messages: Writer<ChatMessage>;
  private readonly events: Writer<RoomEvent>;
  private readonly memberships: Writer<MembershipLogEntry>;
  private storeWriteFailed = false;

  constructor(private readonly deps: BatchWriterDeps) {
    this.messages = messageWriter(deps.store, deps.metrics);
    this.events = eventWriter(deps.store, deps.metrics);
    this.memberships = membershipWriter(deps.store, deps.metrics);
  }

  /** For /readyz: false while the last store write failed. */
  storeWritesOk(): boolean {
    return !this.storeWriteFailed;
  }

  /**
   * Writes a sorted batch: its messages, then its events (an event of the batch then finds its
   * message stored; the store does not need that — an event that comes first waits there for
   * its message — but it is the common case made cheap), then its membership and room changes
   * (the store needs no order for those either; they go last so the bulk of a batch, its
   * messages and events, is stored first). Adds to `sorted.poison` what the store
   * refused on its own and what conflicts with a stored id. Returns once all of it is written.
   */
  async writeBatch(sorted: SortedBatch, batch: IngestEntry[]): Promise<void> {
    await this.writeSorted(this.messages, sorted.messages, batch, sorted.entryOf, sorted.poison);
    await this.writeSorted(this.events, sorted.events, batch, sorted.entryOf, sorted.poison);
    await this.writeSorted(this.memberships, sorted.memberships, batch, sorted.entryOf, sorted.poison);
    if (sorted.reads.length > 0) await this.writeReads(sorted.reads, batch);
  }

  /**
   * Read positions: validated when parsed and applied as a max, so the store has no reason of
   * its own to refuse one — only retried while it is down, never bisected or dead-lettered.
   */
  private async writeReads(reads: ReadMark[], batch: IngestEntry[]): Promise<void> {
    const { metrics, log, store } = this.deps;
    await this.deps.retry('store', batch, () => store.applyReads(reads), () => {
      this.storeWriteFailed = true;
      metrics.storeFailures.inc();
    });
    if (this.storeWriteFailed) log.info('store writes succeed again');
    this.storeWriteFailed = false;
    metrics.readsStored.inc(reads.length);
  }

  /**
   * Writes one kind of entry of a batch: the fresh ones together, then each suspect alone, then
   * each later entry under an id the batch already had alone. What the store refuses on its
   * own and what conflicts with a stored id is added to `poison`; nothing is skipped.
   */
  private async writeSorted<T extends LogEntry>(
    writer: Writer<T>,
    sorted: Sorted<T>,
    batch: IngestEntry[],
    entryOf: Map<LogEntry, IngestEntry>,
    poison: Poison[],
  ): Promise<void> {
    const { maxDeliveries, log } = this.deps;
    const collect = ({ rejected, conflicts }: WriteOutcome<T>) => {
      for (const c of conflicts) poison.push(idConflict(entryOf.get(c)!, c));
      for (const r of rejected) {
        poison.push({ entry: entryOf.get(r.item)!, kind: 'rejected', reason: `store rejected: ${errorMessage(r.err)}` });
      }
    };
    if (sorted.fresh.length > 0) collect(await this.write(writer, sorted.fresh, batch, ISOLATE_AFTER_FAILURES));
    // Delivered too often: maybe it kills workers, maybe only restarts and claims counted.
    // The rest of the batch is stored by now; try it alone once before giving up on it.
    for (const item of sorted.suspects) {
      const entry = entryOf.get(item)!;
      const { rejected, conflicts } = await this.write(writer, [item], batch, 0);
      if (conflicts.length > 0) {
        poison.push(idConflict(entry, item));
      } else if (rejected.length === 0) {
        log.info({ entryId: entry.id, stream: entry.stream, deliveries: entry.deliveries }, 'entry over INGEST_MAX_DELIVERIES stored on its own');
      } else {
        poison.push({
          entry,
          kind: 'max_deliveries',
          reason: `delivered ${entry.deliveries} times (INGEST_MAX_DELIVERIES=${maxDeliveries}); alone, store rejected: ${errorMessage(rejected[0]!.err)}`,
        });
      }
    }
    // Rarely non-empty: each entry whose id another entry of this batch had, alone, after
    // the first of its id went to the store (fresh or suspect): the store then says whether it
    // holds this one (a duplicate) or another (a conflict, dead-lettered).
    for (const item of sorted.sameIdLater) collect(await this.write(writer, [item], batch, 0));
  }

  /**
   * Writes `items`, retrying with backoff while the store is unavailable. Once `isolateAfter`
   * attempts in a row failed with an error about the data while the store answers ping, the
   * items are bisected: every part the store takes is written, and a single entry the store
   * refuses on its own is returned as rejected (not written, for the caller to dead-letter).
   */
  private async write<T extends LogEntry>(writer: Writer<T>, items: T[], batch: IngestEntry[], isolateAfter: number): Promise<WriteOutcome<T>> {
    const { metrics, log } = this.deps;
    let failures = 0;
    let lastErr: unknown = null;
    const outcome = await this.deps.retry(
      'store',
      batch,
      async (): Promise<WriteOutcome<T>> => {
        if (failures >= isolateAfter && !isStoreUnavailable(lastErr) && (await this.storeAnswers())) {
          if (failures > 0) log.warn({ what: writer.what, entries: items.length, failures, err: errorMessage(lastErr) }, 'store keeps rejecting the batch while it is up; splitting it');
          return isolate(writer, items, () => this.storeAnswers());
        }
        return { ...(await writer.write(items)), rejected: [] };
      },
      (err) => {
        failures++;
        lastErr = err;
        this.storeWriteFailed = true;
        metrics.storeFailures.inc();
      },
    );
    if (this.storeWriteFailed) log.info('store writes succeed again');
    this.storeWriteFailed = false;
    for (const r of outcome.rejected) {
      log.warn({ what: writer.what, room: r.item.room, id: r.item.id, err: errorMessage(r.err) }, 'store rejected an entry on its own');
    }
    if (outcome.duplicates === 0 && outcome.rejected.length === 0 && outcome.conflicts.length === 0) {
      // Send-to-stored time; writes with redeliveries are skipped (their age says nothing).
      const now = Date.now();
      for (const e of items) metrics.persistLagSeconds.observe(Math.max(0, now - e.ts) / 1000);
    }
    return outcome;
  }

  private async storeAnswers(): Promise<boolean> {
    try {
      await this.deps.store.ping();
      return true;
    } catch {
      return false;
    }
  }
}
