// The ingestion loop: one consumer of the group keys.INGEST_GROUP over the ingest stream of
// every partition. An entry is a MESSAGE, an EVENT that changes one (edit, delete, react:
// message.ts), or a MEMBERSHIP or ROOM change (membership.ts); a batch mixes them. At-least-once
// delivery from Redis + an idempotent store (messages by room + id, events and membership
// changes by room + event id, applied order-independently: store.ts) gives exactly-once
// storage; the rules that make that hold:
//
// - XACK only after every store write of the batch (its messages, then its events, then its
//   membership changes: batch.ts sorts, store-writes.ts writes) and the dead-letter XADD for
//   poison succeeded.
// - While a batch is in hand (read, not yet acked) a timer resets its idle time (XCLAIM
//   JUSTID, every INGEST_CLAIM_IDLE_MS / 3) so other workers do not claim it, however long a
//   store call or a backoff takes.
// - A failing store write (messages, events or membership changes alike) is retried in place, with capped
//   exponential backoff and jitter, for as long as the store is unavailable (ping fails, or the
//   error says down/locked/full: store-errors.ts). When the write failed ISOLATE_AFTER_FAILURES
//   times in a row while the store answers, the data is the problem: it is bisected down to
//   single entries, the rest is stored, and only an entry the store rejects on its own is
//   dead-lettered (reason `store rejected: <error>`). A rejected entry never stalls its partition.
// - A message, event or membership change under an id the store holds for a DIFFERENT one
//   (Redis reused the id after losing a log's tail) is returned by the store as a conflict,
//   nothing written for it: it is dead-lettered as id_conflict and counted
//   (aurora_ingestion_id_conflicts_total), never dropped as a duplicate. The same entry twice in one batch
//   is written once; a different entry under an id the batch already had goes to the store
//   alone after the rest, which says whether it holds this one (a duplicate) or another (a
//   conflict).
// - An event may reach the store before the message it changes (a claimed or re-read entry
//   comes after newer ones): the store keeps it and it takes effect when the message lands.
// - On start the consumer first re-reads its own pending entries (ID 0), then new ones (`>`,
//   partition-reader.ts: one read over every stream on a single node, one per stream on a
//   cluster); entries of dead consumers are taken over by claimer.ts every so often. It re-reads
//   its own pending entries again whenever its read connection dropped: a read Redis served
//   whose reply was lost left entries there that `>` never returns (connectionDropped()).
// - A poison entry (unparseable or invalid: bad target id, unknown event kind, not an emoji...)
//   is copied to the dead-letter stream and acked with its batch: it never blocks later entries.
//   An entry delivered more than INGEST_MAX_DELIVERIES times is only a suspect (restarts and
//   claims raise the count too): it is written alone once, and dead-lettered only if the store
//   rejects it.
// - stop(): no new reads; the batch in hand is finished and acked (within SHUTDOWN_DRAIN_MS,
//   after which it is left pending for another worker to claim).
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { INGEST_GROUP, type Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import type { Store } from '../shared/store/store.js';
import { backoffDelay, sleep } from './backoff.js';
import { sortBatch } from './batch.js';
import { claimIdlePage, removeIdleConsumers } from './claimer.js';
import { deadLetter } from './dead-letter.js';
import type { IngestMetrics } from './metrics.js';
import { PartitionReader } from './partition-reader.js';
import { errorMessage } from './store-errors.js';
import { BatchWriter } from './store-writes.js';
import {
  ackEntries,
  ensureGroups,
  fillDeliveries,
  ingestStreams,
  ownPendingPages,
  touchEntries,
  type IngestEntry,
} from './streams.js';

/** Consumers idle this many claim-idle periods with nothing pending are removed from the group. */
const CONSUMER_EXPIRY_FACTOR = 10;

export interface WorkerDeps {
  config: Pick<
    Config,
    | 'INGEST_BATCH_SIZE'
    | 'INGEST_BATCH_MS'
    | 'INGEST_CLAIM_IDLE_MS'
    | 'INGEST_MAX_DELIVERIES'
    | 'INGEST_CONSUMER'
    | 'SHUTDOWN_DRAIN_MS'
    | 'replicaId'
  >;
  log: Logger;
  /** Commands that never block: acks, claims, dead letters, XPENDING. */
  redis: Redis;
  /** Dedicated connection for XREADGROUP BLOCK (created with blocking: true). */
  reader: Redis;
  store: Store;
  keys: Keys;
  metrics: IngestMetrics;
}

/** Thrown inside the loop when shutdown gave up on a batch (it stays pending in Redis). */
class Abandoned extends Error {}

export class IngestWorker {
  readonly consumer: string;
  private readonly streams: string[];
  private readonly partitionOf: Map<string, number>;
  /** New entries of every partition; opened by start() (on a cluster it opens connections). */
  private partitions: PartitionReader | null = null;
  private readonly group = INGEST_GROUP;
  private readonly claimIntervalMs: number;
  private readonly touchEveryMs: number;
  private stopping = false;
  /** Aborted when the shutdown drain window is over: retries give up, sleeps end. */
  private readonly abandon = new AbortController();
  /** Read but not yet processed: XREADGROUP COUNT is per stream, so a read can overshoot a batch. */
  private carry: IngestEntry[] = [];
  /** A non-blocking read into `carry` issued before a batch is stored, so Redis works meanwhile. */
  private prefetch: Promise<void> | null = null;
  /** The previous batch's XACK, awaited before the next one (one ack round trip in flight). */
  private ackInFlight: Promise<void> = Promise.resolve();
  private loop: Promise<void> | null = null;
  private nextClaimAt = 0;
  private readonly logLimit = new Map<string, number>();
  private readonly writer: BatchWriter;

  constructor(private readonly deps: WorkerDeps) {
    this.writer = new BatchWriter({
      store: deps.store,
      metrics: deps.metrics,
      log: deps.log,
      maxDeliveries: deps.config.INGEST_MAX_DELIVERIES,
      retry: (what, inHand, fn, onFailure) => this.retry(what, inHand, fn, onFailure),
    });
    this.consumer = deps.config.INGEST_CONSUMER ?? deps.config.replicaId;
    const { streams, partitionOf } = ingestStreams(deps.keys);
    this.streams = streams;
    this.partitionOf = partitionOf;
    this.claimIntervalMs = Math.max(50, Math.min(10_000, Math.floor(deps.config.INGEST_CLAIM_IDLE_MS / 2)));
    this.touchEveryMs = Math.max(30, Math.floor(deps.config.INGEST_CLAIM_IDLE_MS / 3));
  }

  start(): void {
    if (this.loop) return;
    const partitions = new PartitionReader({
      reader: this.deps.reader, group: this.group, consumer: this.consumer, streams: this.streams, partitionOf: this.partitionOf,
    });
    this.partitions = partitions;
    this.loop = this.run(partitions);
  }

  /** For /readyz: false while the last store write failed. */
  storeWritesOk(): boolean {
    return this.writer.storeWritesOk();
  }

  /** Stops reading, finishes and acks the batch in hand; gives up on it after SHUTDOWN_DRAIN_MS. */
  async stop(): Promise<void> {
    this.stopping = true;
    const giveUp = setTimeout(() => this.abandon.abort(), this.deps.config.SHUTDOWN_DRAIN_MS);
    try {
      await this.loop;
    } finally {
      clearTimeout(giveUp);
    }
  }

  private async run(partitions: PartitionReader): Promise<void> {
    const { log } = this.deps;
    let groupsReady = false;
    let drained = false;
    let attempt = 0;
    log.info({ consumer: this.consumer, streams: this.streams.length, group: this.group }, 'ingestion worker started');
    while (!this.stopping) {
      try {
        if (!groupsReady) {
          await ensureGroups(this.deps.redis, this.streams, this.group);
          groupsReady = true;
        }
        if (partitions.connectionDropped()) drained = false;
        if (!drained) {
          // What is in hand but unprocessed is in our pending list too: the drain reads it again.
          await this.prefetch;
          this.carry.length = 0;
          await this.drainOwnPending();
          drained = true;
        }
        if (Date.now() >= this.nextClaimAt) {
          await this.claimPass();
          this.nextClaimAt = Date.now() + this.claimIntervalMs;
        }
        const batch = await this.readBatch();
        if (batch.length > 0) {
          this.startPrefetch();
          await this.process(batch);
        }
        attempt = 0;
      } catch (err) {
        if (err instanceof Abandoned) break;
        const message = err instanceof Error ? err.message : String(err);
        if (message.includes('NOGROUP')) groupsReady = false; // Redis lost its data: recreate
        this.deps.metrics.loopErrors.inc();
        this.warn('loop', { err: message }, 'ingestion loop error; retrying with backoff');
        await sleep(backoffDelay(attempt++), this.abandon.signal);
      }
    }
    // Entries read past the last batch are in hand too: store and ack them before leaving.
    await this.prefetch;
    this.carry.push(...(await partitions.close()));
    if (this.carry.length > 0 && !this.abandon.signal.aborted) {
      try {
        await this.process(this.carry.splice(0));
      } catch (err) {
        if (!(err instanceof Abandoned)) log.error({ err }, 'could not finish the last batch; it stays pending');
      }
    }
    await this.ackInFlight;
    log.info({ consumer: this.consumer }, 'ingestion worker stopped');
  }

  /** Re-reads this consumer's own pending entries (a restart under the same name). */
  private async drainOwnPending(): Promise<void> {
    const { reader, redis, config, log } = this.deps;
    const pages = ownPendingPages(reader, {
      group: this.group, consumer: this.consumer, streams: this.streams, partitionOf: this.partitionOf,
      count: config.INGEST_BATCH_SIZE, stopping: () => this.stopping,
    });
    for await (const entries of pages) {
      await fillDeliveries(redis, this.group, this.consumer, entries);
      log.info({ count: entries.length }, 'processing own pending entries from before a restart');
      await this.process(entries);
    }
  }

  /** Takes over entries idle too long in any consumer, then removes long-idle empty consumers. */
  private async claimPass(): Promise<void> {
    const { config, redis, log, metrics } = this.deps;
    for (const [partition, stream] of this.streams.entries()) {
      let cursor = '0-0';
      do {
        const page = await claimIdlePage(redis, {
          stream, partition, group: this.group, consumer: this.consumer,
          minIdleMs: config.INGEST_CLAIM_IDLE_MS, cursor, count: config.INGEST_BATCH_SIZE,
        });
        cursor = page.next;
        // Ids Redis dropped from the pending list because the entry is gone: leave a trace.
        const gone: IngestEntry[] = page.deleted.map((id) => ({ stream, partition, id, fields: null, deliveries: 0 }));
        if (page.entries.length + gone.length === 0) continue;
        metrics.claimed.inc(page.entries.length);
        log.info({ stream, claimed: page.entries.length, deleted: gone.length }, 'claimed idle entries of another consumer');
        await this.process([...page.entries, ...gone]);
      } while (cursor !== '0-0' && !this.stopping);
    }
    for (const stream of this.streams) {
      const removed = await removeIdleConsumers(redis, {
        stream, group: this.group, self: this.consumer,
        minIdleMs: config.INGEST_CLAIM_IDLE_MS * CONSUMER_EXPIRY_FACTOR,
      });
      if (removed.length > 0) {
        metrics.consumersRemoved.inc(removed.length);
        log.info({ stream, removed }, 'removed idle consumers with nothing pending');
      }
    }
  }

  /**
   * One batch of new entries: closes when it holds INGEST_BATCH_SIZE entries or
   * INGEST_BATCH_MS after its first entry arrived, whichever comes first. Returns [] when the
   * wait for a first entry timed out (the loop then checks for claims and shutdown).
   */
  private async readBatch(): Promise<IngestEntry[]> {
    const { INGEST_BATCH_SIZE: size, INGEST_BATCH_MS: windowMs } = this.deps.config;
    await this.prefetch;
    const batch = this.carry.splice(0, size);
    let closesAt = Date.now() + windowMs;
    while (batch.length < size && !this.stopping) {
      let block = windowMs;
      if (batch.length > 0) {
        block = closesAt - Date.now();
        if (block <= 0) break;
      }
      const got = await this.partitions!.read({ count: size - batch.length, blockMs: Math.max(1, block) });
      if (got.length === 0) {
        if (batch.length === 0) return batch;
        continue;
      }
      if (batch.length === 0) closesAt = Date.now() + windowMs;
      const room = size - batch.length;
      if (got.length <= room) batch.push(...got);
      else {
        batch.push(...got.slice(0, room));
        this.carry.push(...got.slice(room));
      }
    }
    return batch;
  }

  /**
   * Reads what is already waiting (no BLOCK) into `carry` while the current batch is being
   * stored. Skipped when a batch is already in carry. A failed read loses nothing: whatever
   * Redis delivered stays pending under this consumer and is claimed back later.
   */
  private startPrefetch(): void {
    const size = this.deps.config.INGEST_BATCH_SIZE;
    if (this.prefetch || this.stopping || this.carry.length >= size) return;
    this.prefetch = this.partitions!
      .read({ count: size })
      .then((got) => {
        this.carry.push(...got);
      })
      .catch((err: unknown) => {
        this.warn('prefetch', { err: err instanceof Error ? err.message : String(err) }, 'prefetch read failed');
      })
      .finally(() => {
        this.prefetch = null;
      });
  }

  /** Stores what it can (messages, events, membership changes), dead-letters the poison, then acks the whole batch. */
  private async process(batch: IngestEntry[]): Promise<void> {
    const { metrics, log } = this.deps;
    metrics.batchSize.observe(batch.length);
    const sorted = sortBatch(batch, this.deps.config.INGEST_MAX_DELIVERIES);
    const { poison } = sorted;
    const release = this.holdInHand(batch);
    let acking = false;
    try {
      await this.writer.writeBatch(sorted, batch);

      if (poison.length > 0) {
        await this.retry('dead-letter', batch, () => deadLetter(this.deps.redis, this.deps.keys, poison));
        for (const p of poison) {
          metrics.deadLettered.inc({ kind: p.kind });
          if (p.kind === 'id_conflict') metrics.idConflicts.inc();
          log.warn({ entryId: p.entry.id, stream: p.entry.stream, reason: p.reason }, 'entry dead-lettered');
        }
      }
      // The ack goes out without waiting for it; the next batch waits for it before its own ack,
      // and stop() waits for the last one. Acking late is safe (the store write is idempotent).
      await this.ackInFlight;
      this.ackInFlight = this.retry('ack', batch, () => ackEntries(this.deps.redis, this.group, batch))
        .catch((err: unknown) => {
          if (!(err instanceof Abandoned)) this.deps.log.error({ err }, 'ack failed; entries stay pending and will be claimed');
        })
        .finally(release);
      acking = true;
    } finally {
      if (!acking) release();
    }
  }

  /**
   * Keeps the batch (and entries read ahead of it, which wait on it) ours until released: resets
   * their idle time on a timer, so neither a slow store call nor a long backoff lets another
   * worker claim them (a claim would raise their delivery counts). A synchronous store call
   * (SQLite) delays the timer; it touches as soon as the call returns.
   */
  private holdInHand(batch: readonly IngestEntry[]): () => void {
    const { redis } = this.deps;
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      touchEntries(redis, this.group, this.consumer, [...batch, ...this.carry, ...(this.partitions?.held() ?? [])])
        .catch(() => {})
        .finally(() => (busy = false));
    }, this.touchEveryMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * Runs `fn` until it succeeds, backing off between attempts (the batch in hand is kept ours
   * by holdInHand meanwhile). Throws Abandoned when shutdown's drain window is over.
   */
  private async retry<T>(what: string, inHand: IngestEntry[], fn: () => Promise<T>, onFailure?: (err: unknown) => void): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        onFailure?.(err);
        this.warn(what, { err: errorMessage(err), attempt, entries: inHand.length }, `${what} failed; retrying with backoff, nothing acked`);
      }
      if (this.abandon.signal.aborted) throw new Abandoned();
      await sleep(backoffDelay(attempt), this.abandon.signal);
      if (this.abandon.signal.aborted) {
        this.deps.log.warn({ what, entries: inHand.length }, 'shutdown drain window over; batch left pending for another worker');
        throw new Abandoned();
      }
    }
  }

  /** Warn at most once every 5 s per topic (a store outage retries many times a minute). */
  private warn(topic: string, obj: object, msg: string): void {
    const now = Date.now();
    if (now - (this.logLimit.get(topic) ?? 0) < 5000) return;
    this.logLimit.set(topic, now);
    this.deps.log.warn(obj, msg);
  }
}
