// The assistant's consumer: one consumer of the group ASSISTANT_GROUP over the ingest stream of
// every partition, beside (never in the way of) storage and the notifier — its own group, its
// own progress; the trimmer keeps entries for it like for the notifier (NOTIFY_MAX_LAG). Entries
// that are not questions (triggers.ts) are acked at once, in batches. A question is answered by
// respond.ts, at most ASSISTANT_CONCURRENCY at a time, its entry kept ours while it runs (touched,
// so no other process claims it) and acked when the answer is stored. Killed -9 mid-answer, the
// entry stays pending: this consumer's restart re-reads it, or another process claims it after
// INGEST_CLAIM_IDLE_MS; jobs.ts makes that an answer finished once or marked failed, never two.
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import type { Keys } from '../shared/keys.js';
import type { Logger } from '../shared/logger.js';
import { parseIngestItem } from '../shared/message.js';
import { backoffDelay, sleep } from '../ingestion/backoff.js';
import { claimIdlePage } from '../ingestion/claimer.js';
import { PartitionReader } from '../ingestion/partition-reader.js';
import { errorMessage } from '../ingestion/store-errors.js';
import { ackEntries, ensureGroups, ingestStreams, ownPendingPages, touchEntries, type IngestEntry } from '../ingestion/streams.js';
import type { AssistantMetrics } from './metrics.js';
import { Interrupted, respond, type ResponderDeps } from './respond.js';
import { triggerOf, type Trigger } from './triggers.js';

export const ASSISTANT_GROUP = 'assistant';

const READ_BLOCK_MS = 500;
const READ_COUNT = 100;

export interface WorkerDeps {
  config: Pick<Config, 'INGEST_CLAIM_IDLE_MS' | 'INGEST_CONSUMER' | 'SHUTDOWN_DRAIN_MS' | 'replicaId' | 'ASSISTANT_CONCURRENCY'>;
  log: Logger;
  /** Commands that never block. */
  redis: Redis;
  /** Its own connection for XREADGROUP BLOCK. */
  reader: Redis;
  keys: Keys;
  metrics: AssistantMetrics;
  responder: ResponderDeps;
  assistantId: string;
}

export class AssistantWorker {
  readonly consumer: string;
  private readonly streams: string[];
  private readonly partitionOf: Map<string, number>;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private stopping = false;
  private loop: Promise<void> | null = null;
  private nextClaimAt = 0;
  private wake: (() => void) | null = null;
  private lastWarn = 0;

  constructor(private readonly deps: WorkerDeps) {
    // its own name in its own group: the same process name as the storage consumer is fine
    this.consumer = deps.config.INGEST_CONSUMER ?? deps.config.replicaId;
    const { streams, partitionOf } = ingestStreams(deps.keys);
    this.streams = streams;
    this.partitionOf = partitionOf;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run(
      new PartitionReader({ reader: this.deps.reader, group: ASSISTANT_GROUP, consumer: this.consumer, streams: this.streams, partitionOf: this.partitionOf }),
    );
  }

  /** Questions being answered now (for tests and metrics). */
  get answering(): number {
    return this.inFlight.size;
  }

  /**
   * Stops reading; answers in progress get SHUTDOWN_DRAIN_MS to end, then are interrupted and
   * left pending (answered again by whoever takes the entry).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const giveUp = setTimeout(() => this.shutdown.abort(new Error('shutting down')), this.deps.config.SHUTDOWN_DRAIN_MS);
    try {
      await this.loop;
      await Promise.allSettled([...this.inFlight.values()]);
    } finally {
      clearTimeout(giveUp);
    }
  }

  private async run(partitions: PartitionReader): Promise<void> {
    const { log, redis } = this.deps;
    let ready = false;
    let attempt = 0;
    log.info({ consumer: this.consumer, streams: this.streams.length, group: ASSISTANT_GROUP }, 'assistant worker started');
    while (!this.stopping) {
      try {
        if (!ready) {
          await ensureGroups(redis, this.streams, ASSISTANT_GROUP);
          for await (const page of ownPendingPages(this.deps.reader, {
            group: ASSISTANT_GROUP, consumer: this.consumer, streams: this.streams, partitionOf: this.partitionOf,
            count: READ_COUNT, stopping: () => this.stopping,
          })) await this.take(page);
          ready = true;
        }
        await this.slotFree();
        if (this.stopping) break;
        if (Date.now() >= this.nextClaimAt) {
          await this.claimPass();
          this.nextClaimAt = Date.now() + Math.max(50, Math.min(10_000, Math.floor(this.deps.config.INGEST_CLAIM_IDLE_MS / 2)));
        }
        // One read per partition on a cluster (partition-reader.ts); what a lane brings after
        // this returns is taken by the next turn.
        await this.take(await partitions.read({ count: READ_COUNT, blockMs: READ_BLOCK_MS }));
        attempt = 0;
      } catch (err) {
        const message = errorMessage(err);
        if (message.includes('NOGROUP')) ready = false;
        this.deps.metrics.loopErrors.inc();
        this.warn({ err: message }, 'assistant loop error; retrying with backoff');
        await sleep(backoffDelay(attempt++), this.shutdown.signal).catch(() => {});
      }
    }
    // Read after the last turn: left pending under this name (re-read at restart, or claimed).
    const left = await partitions.close();
    log.info({ consumer: this.consumer, leftPending: left.length }, 'assistant worker stopped');
  }

  /** Entries idle too long in any consumer (a dead process's questions) are taken over. */
  private async claimPass(): Promise<void> {
    for (const [partition, stream] of this.streams.entries()) {
      let cursor = '0-0';
      do {
        const page = await claimIdlePage(this.deps.redis, {
          stream, partition, group: ASSISTANT_GROUP, consumer: this.consumer,
          minIdleMs: this.deps.config.INGEST_CLAIM_IDLE_MS, cursor, count: READ_COUNT,
        });
        cursor = page.next;
        if (page.deleted.length > 0) await this.deps.redis.xack(stream, ASSISTANT_GROUP, ...page.deleted);
        if (page.entries.length > 0) this.deps.log.info({ stream, claimed: page.entries.length }, 'assistant: claimed idle entries of another consumer');
        await this.take(page.entries);
      } while (cursor !== '0-0' && !this.stopping);
    }
  }

  /** Acks what is not a question; starts an answer for each question not already in hand. */
  private async take(entries: IngestEntry[]): Promise<void> {
    const ack: IngestEntry[] = [];
    for (const e of entries) {
      const key = `${e.stream} ${e.id}`;
      if (this.inFlight.has(key)) continue;
      const item = e.fields === null ? null : parseIngestItem(e.fields);
      const trigger = item === null || typeof item === 'string' ? null : triggerOf(item, this.deps.assistantId);
      if (!trigger) ack.push(e);
      else this.inFlight.set(key, this.answer(key, e, trigger));
    }
    if (ack.length > 0) await ackEntries(this.deps.redis, ASSISTANT_GROUP, ack);
  }

  private async answer(key: string, entry: IngestEntry, trigger: Trigger): Promise<void> {
    const { redis, log } = this.deps;
    const touch = setInterval(() => {
      touchEntries(redis, ASSISTANT_GROUP, this.consumer, [entry]).catch(() => {});
    }, Math.max(30, Math.floor(this.deps.config.INGEST_CLAIM_IDLE_MS / 3)));
    touch.unref();
    try {
      await respond(this.deps.responder, trigger, this.shutdown.signal);
      await ackEntries(redis, ASSISTANT_GROUP, [entry]);
    } catch (err) {
      // Left pending: answered again after a restart or a claim (jobs.ts keeps it to one answer).
      if (!(err instanceof Interrupted)) this.warn({ err: errorMessage(err), room: trigger.room, question: trigger.id }, 'assistant answer failed; the question stays pending');
      else log.info({ room: trigger.room, question: trigger.id }, 'assistant answer interrupted by shutdown; left pending');
    } finally {
      clearInterval(touch);
      this.inFlight.delete(key);
      this.wake?.();
    }
  }

  /** Waits while ASSISTANT_CONCURRENCY answers are running. */
  private async slotFree(): Promise<void> {
    while (this.inFlight.size >= this.deps.config.ASSISTANT_CONCURRENCY && !this.stopping) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  private warn(obj: object, msg: string): void {
    if (Date.now() - this.lastWarn < 5000) return;
    this.lastWarn = Date.now();
    this.deps.log.warn(obj, msg);
  }
}
