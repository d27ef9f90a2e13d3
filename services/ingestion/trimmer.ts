// Trimming acknowledged entries. Redis 7.0 has no "trim what every group acked", so every
// INGEST_TRIM_INTERVAL_MS each worker computes, per ingest stream, the oldest entry any group
// still needs — its oldest pending entry, or else the successor of its last-delivered id —
// and XTRIM MINID there. Entries below that point were delivered and acked by every group.
// The numbers read on the way (lag, pending, length) feed the metrics. Running it on several
// workers at once is harmless: the trim point only moves forward.
import type { Redis } from 'ioredis';
import { compareIds } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import { fieldRecord } from '../shared/redis.js';
import type { IngestMetrics } from './metrics.js';

export interface GroupState {
  name: string;
  pending: number;
  lastDeliveredId: string;
  lag: number | null;
  /** Oldest pending entry id (from XPENDING's summary) when pending > 0. */
  oldestPendingId?: string | null;
}

const MAX_SEQ = 2n ** 64n - 1n;

/** The smallest stream id after `id`: same ms with seq + 1 (the next ms when seq is at its max). */
export function successorId(id: string): string {
  const dash = id.indexOf('-');
  const ms = BigInt(id.slice(0, dash));
  const seq = BigInt(id.slice(dash + 1));
  return seq >= MAX_SEQ ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

/**
 * The MINID to trim at: the oldest entry any group still needs, or null when there is no
 * group (nothing may be trimmed: the entries were never read).
 */
export function trimPoint(groups: readonly GroupState[]): string | null {
  let min: string | null = null;
  for (const g of groups) {
    const needed = g.pending > 0 && g.oldestPendingId ? g.oldestPendingId : successorId(g.lastDeliveredId);
    if (min === null || compareIds(needed, min) < 0) min = needed;
  }
  return min;
}

/** XINFO GROUPS as objects. */
export function parseGroups(reply: unknown): GroupState[] {
  return ((reply as unknown[][]) ?? []).map((flat) => {
    const f = fieldRecord(flat);
    return {
      name: String(f.name),
      pending: Number(f.pending ?? 0),
      lastDeliveredId: String(f['last-delivered-id'] ?? '0-0'),
      lag: f.lag === null || f.lag === undefined ? null : Number(f.lag),
    };
  });
}

/** Trims one stream; returns its length afterwards, or null when it has no group yet. */
export async function trimStream(redis: Redis, stream: string, metrics?: IngestMetrics, ingestGroup?: string): Promise<number | null> {
  let groups: GroupState[];
  try {
    groups = parseGroups(await redis.xinfo('GROUPS', stream));
  } catch (err) {
    if (err instanceof Error && err.message.includes('no such key')) return null;
    throw err;
  }
  for (const g of groups) {
    if (g.pending > 0) {
      // Summary form: [count, smallest id, greatest id, per-consumer counts].
      const summary = (await redis.xpending(stream, g.name)) as [number, string | null, ...unknown[]];
      g.oldestPendingId = summary[1];
    }
  }
  const minId = trimPoint(groups);
  if (minId !== null) await redis.xtrim(stream, 'MINID', minId);
  const length = await redis.xlen(stream);
  if (metrics) {
    const mine = groups.find((g) => g.name === ingestGroup);
    if (mine) {
      metrics.pending.set({ stream }, mine.pending);
      if (mine.lag !== null) metrics.lag.set({ stream }, mine.lag);
    }
    metrics.streamLength.set({ stream }, length);
  }
  return minId === null ? null : length;
}

const TRIM_CONCURRENCY = 16;

/** Runs trimStream over every stream on a timer; errors are logged and the next tick retries. */
export class Trimmer {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  private lastErrorLog = 0;

  constructor(
    private readonly deps: {
      redis: Redis;
      streams: readonly string[];
      group: string;
      intervalMs: number;
      log: Logger;
      metrics?: IngestMetrics;
      /** Counts the dead-letter entries each tick (the ingest_dead_letter_entries gauge). */
      countDeadLetters?: () => Promise<number>;
    },
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.trimAll().finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = setTimeout(tick, this.deps.intervalMs);
      });
    };
    this.timer = setTimeout(tick, this.deps.intervalMs);
  }

  async trimAll(): Promise<void> {
    // Streams are independent: a few at a time, so many partitions do not mean as many
    // sequential round trips.
    const streams = this.deps.streams;
    for (let i = 0; i < streams.length; i += TRIM_CONCURRENCY) {
      await Promise.all(streams.slice(i, i + TRIM_CONCURRENCY).map((stream) => this.trimOne(stream)));
    }
    const { countDeadLetters, metrics } = this.deps;
    if (countDeadLetters && metrics) {
      try {
        metrics.deadLetterEntries.set(await countDeadLetters());
      } catch (err) {
        this.logError(err, 'dead letters');
      }
    }
  }

  private logError(err: unknown, stream: string): void {
    const now = Date.now();
    if (now - this.lastErrorLog > 10_000) {
      this.lastErrorLog = now;
      this.deps.log.warn({ err: (err as Error).message, stream }, 'trim failed; retrying next tick');
    }
  }

  private async trimOne(stream: string): Promise<void> {
    try {
      await trimStream(this.deps.redis, stream, this.deps.metrics, this.deps.group);
    } catch (err) {
      this.logError(err, stream);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
