// Trimming acknowledged entries. Redis 7.0 has no "trim what every group acked", so every
// INGEST_TRIM_INTERVAL_MS each worker computes, per ingest stream, the oldest entry any group
// still needs — its oldest pending entry, or else the successor of its last-delivered id —
// and XTRIM MINID there. Entries below that point were delivered and acked by every group.
// The numbers read on the way (lag, pending, length) feed the metrics. Running it on several
// workers at once is harmless: the trim point only moves forward.
//
// Storage's own group is always waited for; a stream without it is never trimmed. Another group
// (the notifier's) is waited for only while it is at most `maxOtherGroupLag` entries behind
// storage: a stalled or slow notifier must never fill Redis until sends are refused. Past it the trim point ignores
// that group, its oldest unread entries go (counted through onUnreadTrimmed), and
// lua/trim-lagging.lua repairs the lag Redis reports for it (see there).
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { compareIds } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import { fieldRecord } from '../shared/redis.js';
import type { IngestMetrics } from './metrics.js';
import { throwOnPipelineError } from './streams.js';

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

const TRIM_LAGGING = readFileSync(new URL('./lua/trim-lagging.lua', import.meta.url), 'utf8');

/** Which groups the trim point waits for (see the top of this file). */
export interface TrimPolicy {
  /** Storage's group: always waited for; without it on a stream, nothing is trimmed. */
  ownGroup: string;
  /** Other groups lagging more than this are not waited for (undefined: always waited for). */
  maxOtherGroupLag?: number;
}

/**
 * The groups a trim does not wait for: not `ownGroup`, and more than the maximum behind IT —
 * their lag minus storage's, which is what they hold the stream for (the notifier trails
 * storage on purpose, so a storage backlog alone must not make it "lagging"). Redis reports no
 * lag when it cannot tell (the counter was reset); then the stream's length, an upper bound,
 * stands in for the other group's and 0 for storage's.
 */
export function laggingGroups(groups: readonly GroupState[], policy: TrimPolicy, streamLength: number): string[] {
  const max = policy.maxOtherGroupLag;
  if (max === undefined) return [];
  const ownLag = groups.find((g) => g.name === policy.ownGroup)?.lag ?? 0;
  return groups.filter((g) => g.name !== policy.ownGroup && (g.lag ?? streamLength) - ownLag > max).map((g) => g.name);
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

/** What a trim reports about groups it did not wait for. */
export interface OtherGroupsHooks {
  /** Every group's state as read, each tick (other groups' lag gauges). */
  onGroupState?: (stream: string, group: GroupState) => void;
  /** Entries a group had not read yet and that this trim removed (it stopped being waited for). */
  onUnreadTrimmed?: (stream: string, group: string, count: number) => void;
}

/** Trims one stream; returns its length afterwards, or null when it has no group yet (or not `policy.ownGroup`). */
export async function trimStream(
  redis: Redis,
  stream: string,
  metrics?: IngestMetrics,
  ingestGroup?: string,
  policy?: TrimPolicy & OtherGroupsHooks,
): Promise<number | null> {
  let groups: GroupState[];
  let length: number;
  try {
    const [info, len] = throwOnPipelineError(await redis.pipeline().xinfo('GROUPS', stream).xlen(stream).exec());
    groups = parseGroups(info);
    length = Number(len);
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
    policy?.onGroupState?.(stream, g);
  }
  // Without storage's group (Redis lost its data, and another group was recreated first)
  // nothing is trimmed: entries not stored yet must wait for it.
  const ownMissing = policy !== undefined && !groups.some((g) => g.name === policy.ownGroup);
  const lagging = policy && !ownMissing ? laggingGroups(groups, policy, length) : [];
  const minId = ownMissing ? null : trimPoint(groups.filter((g) => !lagging.includes(g.name)));
  if (minId !== null) {
    if (lagging.length === 0) await redis.xtrim(stream, 'MINID', minId);
    else await trimPastLagging(redis, stream, minId, lagging, policy?.onUnreadTrimmed);
  }
  length = await redis.xlen(stream);
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

async function trimPastLagging(
  redis: Redis,
  stream: string,
  minId: string,
  lagging: readonly string[],
  onUnreadTrimmed: OtherGroupsHooks['onUnreadTrimmed'],
): Promise<void> {
  const reply = (await redis.eval(TRIM_LAGGING, 1, stream, minId, ...lagging)) as (string | number)[];
  for (let i = 1; i + 1 < reply.length; i += 2) {
    const count = Number(reply[i + 1]);
    if (count > 0) onUnreadTrimmed?.(stream, String(reply[i]), count);
  }
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
      /** Counts the dead-letter entries each tick (the aurora_ingestion_dead_letter_entries gauge). */
      countDeadLetters?: () => Promise<number>;
      /**
       * Groups other than `group` (the notifier's) lagging more than this are not waited for:
       * their oldest unread entries are trimmed. Undefined: every group is waited for.
       */
      maxOtherGroupLag?: number;
    } & OtherGroupsHooks,
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
      const { group, maxOtherGroupLag, onGroupState, onUnreadTrimmed } = this.deps;
      await trimStream(this.deps.redis, stream, this.deps.metrics, group, { ownGroup: group, maxOtherGroupLag, onGroupState, onUnreadTrimmed });
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
