// The read-back half of fan-out's recovery (fanout.ts): after a subscriber reconnect, what each
// room's log holds past the last entry delivered here, framed exactly as live frames are — or
// the reason it cannot be delivered gap-free (the room's sockets then resync with 1012).
import type { Redis } from 'ioredis';
import { idTime } from '../shared/ids.js';
import type { Keys } from '../shared/keys.js';
import { eachCommand } from '../shared/redis.js';
import { logEntryFrame } from './frames.js';
import { publishedFrameOf, type PublishedFrame } from './published-frame.js';
import { textFrame } from './wire.js';

/** Default of FanoutOptions.recoveryTimeoutMs. */
export const RECOVERY_TIMEOUT_MS = 5_000;

type StreamEntry = [id: string, fields: string[]];

export interface MissedLimits {
  /** More entries than this missed: resync. */
  recoveryMax: number;
  /** More frame bytes than this missed: resync (each goes to every member in one turn). */
  recoveryMaxBytes?: number;
  /** The read unanswered after this long counts as failed; default RECOVERY_TIMEOUT_MS. */
  recoveryTimeoutMs?: number;
  /**
   * REDIS_ACK_REPLICAS: frames are published after their WAIT, so two replicas' frames can arrive
   * out of id order, and one older than the last delivered id may still be on its way when the
   * subscriber drops. The read then starts this much earlier than `from` and delivers what the
   * room's `skip` (ids delivered live lately) does not hold. 0: frames arrive in id order.
   */
  lookbackMs?: number;
}

export type Missed = { frames: { data: Buffer; frame: PublishedFrame }[] } | { resync: string };

/**
 * Per room, the entries after `from` (the last id delivered; '0-0' when its log was empty then),
 * in one read: a pipeline on a single node, per master on a Cluster.
 */
export async function readMissed(
  redis: Redis,
  keys: Keys,
  reads: { room: string; from: string; skip?: readonly string[] | undefined }[],
  limits: MissedLimits,
): Promise<Missed[]> {
  const results = await readLogs(redis, keys, reads, limits);
  for (let attempt = 1; attempt < CLUSTER_READ_ATTEMPTS && redis.isCluster; attempt++) {
    // Right after a failover or a slot move a read can meet the old owner (MOVED, CLUSTERDOWN):
    // ioredis does not follow a redirect inside an auto-pipelined batch. Refresh and read again
    // rather than resync the room's members for a topology change the cluster already made.
    const retry = reads.flatMap((read, i) => (TOPOLOGY_ERROR.test(results[i]?.[0]?.message ?? '') ? [i] : []));
    if (retry.length === 0) break;
    (redis as unknown as { refreshSlotsCache(): void }).refreshSlotsCache();
    await new Promise((r) => setTimeout(r, CLUSTER_RETRY_MS));
    const again = await readLogs(redis, keys, retry.map((i) => reads[i]!), limits);
    retry.forEach((i, j) => (results[i] = again[j]));
  }
  return reads.map(({ room, from, skip }, i) => missedOf(room, from, results[i], limits, skip));
}

/** Errors of a topology in motion (a failover, a slot migration): worth one more read. */
const TOPOLOGY_ERROR = /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/;
const CLUSTER_READ_ATTEMPTS = 3;
/** lookbackMs: entries before `from` read back at most (more: the room resyncs). */
const LOOKBACK_ENTRIES_MAX = 1000;
const CLUSTER_RETRY_MS = 300;

/** One XRANGE per room (inclusive of `from`), in one read, bounded by the recovery timeout. */
async function readLogs(
  redis: Redis,
  keys: Keys,
  reads: { room: string; from: string }[],
  limits: MissedLimits,
): Promise<([Error | null, unknown] | undefined)[]> {
  let results: ([Error | null, unknown] | undefined)[];
  let timer: NodeJS.Timeout | undefined;
  try {
    // Inclusive of `from` (one extra entry): the first entry must be `from` itself, else the
    // capped log trimmed it (or a failover lost it) and what follows is not everything missed.
    const back = limits.lookbackMs ?? 0;
    const read = eachCommand(redis, reads, (c, { room, from }) =>
      back > 0 && from !== '0-0'
        ? c.xrange(keys.roomLog(room), `${Math.max(0, idTime(from) - back)}-0`, '+', 'COUNT', limits.recoveryMax + 2 + LOOKBACK_ENTRIES_MAX)
        : c.xrange(keys.roomLog(room), from, '+', 'COUNT', limits.recoveryMax + 2),
    );
    // Raced against a timer: on a stalled (half-open) main connection the read never settles,
    // and every live frame of these rooms would wait in `held` for ever. A late reply is
    // ignored (the rooms were resynced, nothing is held).
    const ms = limits.recoveryTimeoutMs ?? RECOVERY_TIMEOUT_MS;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
    });
    results = await Promise.race([read, timeout]);
  } catch (err) {
    results = reads.map(() => [err as Error, null]);
  } finally {
    clearTimeout(timer);
  }
  return results;
}

function missedOf(
  room: string,
  from: string,
  result: [Error | null, unknown] | undefined,
  limits: MissedLimits,
  skip: readonly string[] = [],
): Missed {
  const [err, value] = result ?? [new Error('no reply'), null];
  if (err) return { resync: `recovery read failed: ${err.message}` };
  let entries = value as StreamEntry[];
  // '0-0': the log was empty at the first join, no entry to find; a trim then leaves at least
  // ROOM_LOG_MAXLEN > RECOVERY_MAX entries (loadConfig), caught by the count check below.
  if (from !== '0-0') {
    const at = entries.findIndex(([id]) => id === from);
    if (at < 0) return { resync: 'the room log no longer holds the last delivered message' };
    // lookback: the entries before `from` not delivered live (frames published out of id order)
    const delivered = new Set(skip);
    const earlier = entries.slice(0, at).filter(([id]) => !delivered.has(id));
    entries = [...earlier, ...entries.slice(at + 1)];
    if (entries.length - earlier.length > limits.recoveryMax) return { resync: 'more than RECOVERY_MAX missed' };
  } else if (entries.length > limits.recoveryMax) return { resync: 'more than RECOVERY_MAX missed' };
  // Framed (once each, as live) before anything is delivered: past the byte bound nothing
  // is, the room resyncs instead (a member would get all of it in one turn).
  const maxBytes = limits.recoveryMaxBytes ?? Number.POSITIVE_INFINITY;
  const frames: { data: Buffer; frame: PublishedFrame }[] = [];
  let bytes = 0;
  for (const [id, fields] of entries) {
    const { json, entry } = logEntryFrame(room, id, fields);
    const data = textFrame(Buffer.from(json, 'utf8'));
    bytes += data.length;
    if (bytes > maxBytes) return { resync: 'more than REPLY_MAX_BYTES missed' };
    const frame: PublishedFrame = 'kind' in entry && entry.kind === 'member' ? publishedFrameOf(json) : { type: 'kind' in entry ? 'event' : 'message', id, ts: idTime(id) };
    frames.push({ data, frame });
  }
  return { frames };
}
