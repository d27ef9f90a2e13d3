// The notify worker: one consumer of the group NOTIFY_GROUP over the ingest stream of every
// partition, beside (never in the way of) the storage group. Each batch: wait until storage has
// stored it (stored.ts: the store's answers then include every earlier entry), parse and plan every
// entry (causes.ts), ask the store what the plans need and insert the notifications (inbox.ts:
// a few calls per batch, idempotent per (user, room, source)), publish a `notify` frame for each
// NEW one whose user is not in DND, then XACK. So:
// - kill -9 between insert and ack: the entries come back (own pending re-read at start, or
//   claimed by another process after INGEST_CLAIM_IDLE_MS), the store answers "already there",
//   nothing is stored or pushed twice (the live frame of those may be lost; the inbox has them).
// - A store outage: the batch is retried with backoff, kept ours meanwhile (XCLAIM JUSTID
//   touches), never acked unprocessed. When it fails ISOLATE_AFTER_FAILURES times while the
//   store answers, the data is the problem: each entry is tried alone and one the store refuses
//   on its own is acked and counted (reason=rejected), so the group never stalls on it.
// - Poison (unparseable: the storage group dead-letters it) is acked and counted here.
// - An entry the trimmer removed before this group processed it (the group lagged more than
//   NOTIFY_MAX_LAG) comes back as a pending id without fields: counted (reason=trimmed), acked.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { parseIngestItem } from '../shared/message.js';
import type { Store } from '../shared/store/store.js';
import { backoffDelay, sleep } from '../ingestion/backoff.js';
import { claimIdlePage, removeIdleConsumers } from '../ingestion/claimer.js';
import { PartitionReader } from '../ingestion/partition-reader.js';
import { errorMessage, isStoreUnavailable } from '../ingestion/store-errors.js';
import { ackEntries, ensureGroups, ingestStreams, ownPendingPages, touchEntries, type IngestEntry } from '../ingestion/streams.js';
import { planOf, type DropReason, type NotifyPlan } from './causes.js';
import { notifyFrame, resolveBatch, type Inserted } from './inbox.js';
import type { NotifyMetrics } from './metrics.js';
import { notStored, storedUpTo } from './stored.js';

/** The consumer group of the notifier on every ingest stream. */
export const NOTIFY_GROUP = 'notify';

/** Consecutive failures of one batch, while the store answers pings, before entries are tried alone. */
const ISOLATE_AFTER_FAILURES = 5;
/** A blocked read returns after this long, so claims and shutdown are looked at. */
const READ_BLOCK_MS = 500;
/** Consumers idle this many claim-idle periods with nothing pending are removed from the group. */
const CONSUMER_EXPIRY_FACTOR = 10;

export interface NotifyDeps {
  config: Pick<
    Config,
    'INGEST_BATCH_SIZE' | 'INGEST_BATCH_MS' | 'INGEST_CLAIM_IDLE_MS' | 'INGEST_CONSUMER' | 'SHUTDOWN_DRAIN_MS' | 'replicaId' | 'ROOM_MENTION_MAX_MEMBERS'
  >;
  log: Logger;
  /** Commands that never block: acks, claims, touches, PUBLISH. */
  redis: Redis;
  /** Its own connection for XREADGROUP BLOCK (created with blocking: true). */
  reader: Redis;
  store: Store;
  keys: Keys;
  metrics: NotifyMetrics;
}

/** Thrown inside the loop when shutdown gave up on a batch (it stays pending in Redis). */
class Abandoned extends Error {}
/** The store stopped answering while entries were tried alone: back to retrying the batch. */
class StoreDown extends Error {}

interface Planned {
  plans: NotifyPlan[];
  skipped: { poison: number; trimmed: number };
}

/** Plans of a batch; an entry read twice in one batch (claimed and re-read) is planned once. */
export function planEntries(entries: readonly IngestEntry[]): Planned {
  const out: Planned = { plans: [], skipped: { poison: 0, trimmed: 0 } };
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.fields === null) {
      out.skipped.trimmed++;
      continue;
    }
    const key = `${e.stream} ${e.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const item = parseIngestItem(e.fields);
    if (typeof item === 'string') {
      out.skipped.poison++;
      continue;
    }
    const plan = planOf(item);
    if (plan) out.plans.push(plan);
  }
  return out;
}

export class NotifyWorker {
  readonly consumer: string;
  private readonly streams: string[];
  private readonly partitionOf: Map<string, number>;
  /** New entries of every partition (partition-reader.ts); opened by start(). */
  private partitions: PartitionReader | null = null;
  private readonly claimIntervalMs: number;
  private readonly touchEveryMs: number;
  /** How often storage's progress is looked at while a batch waits for it. */
  private readonly storedPollMs: number;
  private stopping = false;
  private readonly abandon = new AbortController();
  private loop: Promise<void> | null = null;
  private nextClaimAt = 0;
  private readonly logLimit = new Map<string, number>();

  constructor(private readonly deps: NotifyDeps) {
    this.consumer = deps.config.INGEST_CONSUMER ?? deps.config.replicaId;
    const { streams, partitionOf } = ingestStreams(deps.keys);
    this.streams = streams;
    this.partitionOf = partitionOf;
    this.claimIntervalMs = Math.max(50, Math.min(10_000, Math.floor(deps.config.INGEST_CLAIM_IDLE_MS / 2)));
    this.touchEveryMs = Math.max(30, Math.floor(deps.config.INGEST_CLAIM_IDLE_MS / 3));
    this.storedPollMs = Math.max(10, Math.min(250, Math.floor(deps.config.INGEST_BATCH_MS / 2)));
  }

  start(): void {
    if (this.loop) return;
    const partitions = new PartitionReader({
      reader: this.deps.reader, group: NOTIFY_GROUP, consumer: this.consumer, streams: this.streams, partitionOf: this.partitionOf,
    });
    this.partitions = partitions;
    this.loop = this.run(partitions);
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
    const { log, metrics } = this.deps;
    let groupsReady = false;
    let drained = false;
    let attempt = 0;
    log.info({ consumer: this.consumer, streams: this.streams.length, group: NOTIFY_GROUP }, 'notify worker started');
    while (!this.stopping) {
      try {
        if (!groupsReady) {
          await ensureGroups(this.deps.redis, this.streams, NOTIFY_GROUP);
          groupsReady = true;
        }
        // A read whose reply was lost to a dropped connection left entries pending under us.
        if (partitions.connectionDropped()) drained = false;
        if (!drained) {
          await this.drainOwnPending();
          drained = true;
        }
        if (Date.now() >= this.nextClaimAt) {
          await this.claimPass();
          this.nextClaimAt = Date.now() + this.claimIntervalMs;
        }
        await this.readAndProcess(partitions);
        attempt = 0;
      } catch (err) {
        if (err instanceof Abandoned) break;
        const message = errorMessage(err);
        if (message.includes('NOGROUP')) groupsReady = false; // Redis lost its data: recreate
        metrics.loopErrors.inc();
        this.warn('loop', { err: message }, 'notify loop error; retrying with backoff');
        await sleep(backoffDelay(attempt++), this.abandon.signal);
      }
    }
    // Read after the last batch: left pending under this name (re-read at restart, or claimed).
    const left = await partitions.close();
    log.info({ consumer: this.consumer, leftPending: left.length }, 'notify worker stopped');
  }

  /** New entries: what one blocking read returns, in batches of INGEST_BATCH_SIZE. */
  private async readAndProcess(partitions: PartitionReader): Promise<void> {
    const size = this.deps.config.INGEST_BATCH_SIZE;
    // COUNT is per stream: a read over many partitions can bring more than one batch.
    const got = await partitions.read({ count: size, blockMs: READ_BLOCK_MS });
    for (let i = 0; i < got.length; i += size) await this.process(got.slice(i, i + size));
  }

  /** Re-reads this consumer's own pending entries (a restart under the same name). */
  private async drainOwnPending(): Promise<void> {
    const pages = ownPendingPages(this.deps.reader, {
      group: NOTIFY_GROUP, consumer: this.consumer, streams: this.streams, partitionOf: this.partitionOf,
      count: this.deps.config.INGEST_BATCH_SIZE, stopping: () => this.stopping,
    });
    for await (const entries of pages) {
      this.deps.log.info({ count: entries.length }, 'notify: processing own pending entries from before a restart');
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
          stream, partition, group: NOTIFY_GROUP, consumer: this.consumer,
          minIdleMs: config.INGEST_CLAIM_IDLE_MS, cursor, count: config.INGEST_BATCH_SIZE,
        });
        cursor = page.next;
        // XAUTOCLAIM already dropped the ids whose entries are gone from the pending list.
        if (page.deleted.length > 0) metrics.skipped.inc({ reason: 'trimmed' }, page.deleted.length);
        if (page.entries.length === 0) continue;
        log.info({ stream, claimed: page.entries.length, deleted: page.deleted.length }, 'notify: claimed idle entries of another consumer');
        await this.process(page.entries);
      } while (cursor !== '0-0' && !this.stopping);
    }
    for (const stream of this.streams) {
      const removed = await removeIdleConsumers(redis, {
        stream, group: NOTIFY_GROUP, self: this.consumer, minIdleMs: config.INGEST_CLAIM_IDLE_MS * CONSUMER_EXPIRY_FACTOR,
      });
      if (removed.length > 0) log.info({ stream, removed }, 'notify: removed idle consumers with nothing pending');
    }
  }

  /** Plans, stores, pushes, then acks one batch. */
  private async process(batch: IngestEntry[]): Promise<void> {
    const { metrics } = this.deps;
    const release = this.holdInHand(batch);
    try {
      await this.awaitStored(batch);
      const { plans, skipped } = planEntries(batch);
      const stored = plans.length > 0 ? await this.storeWithRetry(plans, batch) : { inserted: [], dropped: [], dnd: new Set<string>(), rejected: 0 };
      await this.push(stored.inserted, stored.dnd);
      await this.retry('ack', batch, () => ackEntries(this.deps.redis, NOTIFY_GROUP, batch));
      metrics.entries.inc(batch.length);
      if (skipped.poison > 0) metrics.skipped.inc({ reason: 'poison' }, skipped.poison);
      if (skipped.trimmed > 0) metrics.skipped.inc({ reason: 'trimmed' }, skipped.trimmed);
      if (stored.rejected > 0) metrics.skipped.inc({ reason: 'rejected' }, stored.rejected);
      for (const { notification } of stored.inserted) metrics.notifications.inc({ kind: notification.kind });
      for (const reason of stored.dropped) metrics.dropped.inc({ reason });
    } finally {
      release();
    }
  }

  /**
   * Returns once storage has stored every entry of the batch (stored.ts). Shutting down, it does
   * not wait: the batch stays pending, for this consumer's restart or another's claim.
   */
  private async awaitStored(batch: IngestEntry[]): Promise<void> {
    let waiting = batch.filter((e) => e.fields !== null);
    while (waiting.length > 0) {
      const streams = [...new Set(waiting.map((e) => e.stream))];
      waiting = notStored(waiting, await this.retry('storage progress', batch, () => storedUpTo(this.deps.redis, streams)));
      if (waiting.length === 0) return;
      if (this.stopping) throw new Abandoned();
      await sleep(this.storedPollMs, this.abandon.signal);
    }
  }

  private async storeWithRetry(plans: NotifyPlan[], batch: IngestEntry[]): Promise<StoredBatch> {
    let failures = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return failures >= ISOLATE_AFTER_FAILURES ? await this.storeAlone(plans) : await this.storePlans(plans);
      } catch (err) {
        // Only failures while the store answers point at the data; an outage is waited out.
        failures = err instanceof StoreDown || !(await this.blamesData(err)) ? 0 : failures + 1;
        this.warn('store', { err: errorMessage(err), attempt, entries: batch.length }, 'notify store write failed; retrying with backoff, nothing acked');
      }
      await this.backoff(attempt, batch);
    }
  }

  private async storePlans(plans: NotifyPlan[]): Promise<StoredBatch> {
    const r = await resolveBatch(this.deps.store, plans, this.deps.config.ROOM_MENTION_MAX_MEMBERS);
    const inserted = await this.deps.store.insertNotifications(r.notifications);
    return { inserted, dropped: r.dropped, dnd: r.dnd, rejected: 0 };
  }

  /** Each plan alone; one the store refuses while it answers pings is counted and left out. */
  private async storeAlone(plans: NotifyPlan[]): Promise<StoredBatch> {
    const out: StoredBatch = { inserted: [], dropped: [], dnd: new Set(), rejected: 0 };
    for (const p of plans) {
      try {
        const r = await this.storePlans([p]);
        out.inserted.push(...r.inserted);
        out.dropped.push(...r.dropped);
        for (const u of r.dnd) out.dnd.add(u);
      } catch (err) {
        if (!(await this.blamesData(err))) throw new StoreDown(errorMessage(err));
        out.rejected++;
        this.deps.log.warn({ err: errorMessage(err), room: p.room, sourceId: p.sourceId }, 'notify: the store refused this entry alone; skipped');
      }
    }
    return out;
  }

  /** The failure is the data's: the error is not an outage's and the store answers (store-errors.ts). */
  private async blamesData(err: unknown): Promise<boolean> {
    if (isStoreUnavailable(err)) return false;
    try {
      await this.deps.store.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** One pipeline of PUBLISH; a failure loses only live frames (the inbox has every one). */
  private async push(inserted: readonly Inserted[], dnd: ReadonlySet<string>): Promise<void> {
    const live = inserted.filter((i) => !dnd.has(i.userId));
    if (live.length === 0) return;
    const pipeline = this.deps.redis.pipeline();
    for (const { userId, notification } of live) pipeline.publish(this.deps.keys.userChannel(userId), notifyFrame(notification));
    try {
      const results = (await pipeline.exec()) ?? [];
      this.deps.metrics.pushed.inc(results.filter(([err]) => !err).length);
    } catch (err) {
      this.warn('publish', { err: errorMessage(err), frames: live.length }, 'notify frames not published (the inboxes have them)');
    }
  }

  /** Runs `fn` until it succeeds, backing off between attempts; Abandoned once shutdown gave up. */
  private async retry<T>(what: string, inHand: IngestEntry[], fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.warn(what, { err: errorMessage(err), attempt, entries: inHand.length }, `notify ${what} failed; retrying with backoff`);
      }
      await this.backoff(attempt, inHand);
    }
  }

  private async backoff(attempt: number, inHand: IngestEntry[]): Promise<void> {
    if (this.abandon.signal.aborted) throw new Abandoned();
    await sleep(backoffDelay(attempt), this.abandon.signal);
    if (this.abandon.signal.aborted) {
      this.deps.log.warn({ entries: inHand.length }, 'notify: shutdown drain window over; batch left pending');
      throw new Abandoned();
    }
  }

  /**
   * Keeps the batch ours while it is in hand: resets its idle time on a timer, so a slow store
   * or a long backoff does not let another process claim it and notify from it at the same time.
   */
  private holdInHand(batch: readonly IngestEntry[]): () => void {
    const live = batch.filter((e) => e.fields !== null);
    let busy = false;
    const timer = setInterval(() => {
      // Entries a lane read meanwhile (partition-reader.ts) wait on this batch: ours too.
      const held = [...live, ...(this.partitions?.held() ?? [])];
      if (busy || held.length === 0) return;
      busy = true;
      touchEntries(this.deps.redis, NOTIFY_GROUP, this.consumer, held)
        .catch(() => {})
        .finally(() => (busy = false));
    }, this.touchEveryMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Warn at most once every 5 s per topic (an outage retries many times a minute). */
  private warn(topic: string, obj: object, msg: string): void {
    const now = Date.now();
    if (now - (this.logLimit.get(topic) ?? 0) < 5000) return;
    this.logLimit.set(topic, now);
    this.deps.log.warn(obj, msg);
  }
}

interface StoredBatch {
  inserted: Inserted[];
  dropped: DropReason[];
  dnd: Set<string>;
  rejected: number;
}

