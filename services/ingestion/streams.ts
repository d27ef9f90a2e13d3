// Reading the ingest streams as one consumer of the group: group creation, XREADGROUP reply
// parsing, and the delivery counts of pending entries. Entries carry their stream and
// partition so that acks, dead letters and touches go back to the right stream.
//
// On a Redis Cluster every partition's stream is its own slot (`{p}` tag), possibly on its own
// master: one command over several streams is CROSSSLOT and ioredis refuses a pipeline that spans
// masters. streamGroups() says which streams one XREADGROUP may span (all of them on a single
// node, so nothing there costs an extra round trip; one each on a cluster: one read per group,
// the groups in parallel); acks and touches are one command per stream anyway (eachCommand).
import type { Redis } from 'ioredis';
import type { Keys } from '../shared/keys.js';
import { eachCommand } from '../shared/redis.js';

export interface IngestEntry {
  stream: string;
  partition: number;
  /** The ingest entry's own stream id (not the message id, which is the field `id`). */
  id: string;
  /** Flat field/value list; null when the entry was deleted from the stream while pending. */
  fields: string[] | null;
  /** How often the group delivered it (1 for a first read with `>`; from XPENDING otherwise). */
  deliveries: number;
}

/** The ingest streams of every partition, with a stream -> partition lookup. */
export function ingestStreams(keys: Keys): { streams: string[]; partitionOf: Map<string, number> } {
  const streams = keys.allIngestStreams();
  return { streams, partitionOf: new Map(streams.map((s, i) => [s, i])) };
}

/**
 * Joins the group on every stream, creating stream and group when missing. A new group starts
 * at `0`, not `$`: entries written before the first worker ever ran (the chat replicas may
 * start first) were acked to their senders and must be stored too.
 */
export async function ensureGroups(redis: Redis, streams: readonly string[], group: string): Promise<void> {
  for (const stream of streams) {
    try {
      await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('BUSYGROUP')) throw err;
    }
  }
}

/**
 * The streams one command (XREADGROUP over several keys) or one pipeline may span: every stream
 * on a single node; each stream alone on a cluster, where slot ownership moves (failover,
 * resharding), so grouping by today's master would break tomorrow.
 */
export function streamGroups(client: Redis, streams: readonly string[]): string[][] {
  if (streams.length === 0) return [];
  return client.isCluster ? streams.map((s) => [s]) : [[...streams]];
}

type RawEntry = [id: string, fields: string[] | null];
type ReadReply = [stream: string, entries: RawEntry[]][] | null;

/** Turns an XREADGROUP reply into entries (deliveries set to `deliveries`). */
export function parseReadReply(reply: unknown, partitionOf: Map<string, number>, deliveries: number): IngestEntry[] {
  const out: IngestEntry[] = [];
  for (const [stream, entries] of (reply as ReadReply) ?? []) {
    const partition = partitionOf.get(stream) ?? -1;
    for (const [id, fields] of entries) out.push({ stream, partition, id, fields, deliveries });
  }
  return out;
}

/**
 * This consumer's own pending entries (a restart under the same name), page by page: XREADGROUP
 * from id 0 on every stream (one command per streamGroups group, the groups in parallel), each
 * stream's cursor moved past what it returned and dropped once it returns nothing. Each page is
 * handled (and acked) by the caller before the next is read.
 */
export async function* ownPendingPages(
  reader: Redis,
  opts: { group: string; consumer: string; streams: readonly string[]; partitionOf: Map<string, number>; count: number; stopping: () => boolean },
): AsyncGenerator<IngestEntry[]> {
  const cursors = new Map(opts.streams.map((s) => [s, '0']));
  while (cursors.size > 0 && !opts.stopping()) {
    const streams = [...cursors.keys()];
    const replies = await Promise.all(
      streamGroups(reader, streams).map((group) =>
        reader.xreadgroup(
          'GROUP', opts.group, opts.consumer,
          'COUNT', opts.count,
          'STREAMS', ...group, ...group.map((s) => cursors.get(s)!),
        ),
      ),
    );
    const entries = replies.flatMap((reply) => parseReadReply(reply, opts.partitionOf, 1));
    const last = new Map<string, string>();
    for (const e of entries) last.set(e.stream, e.id);
    for (const s of streams) {
      const id = last.get(s);
      if (id) cursors.set(s, id);
      else cursors.delete(s);
    }
    if (entries.length === 0) return;
    yield entries;
  }
}

/** Entries from an XAUTOCLAIM / XRANGE-like list of [id, fields]. */
export function toEntries(stream: string, partition: number, raw: RawEntry[]): IngestEntry[] {
  return raw.map(([id, fields]) => ({ stream, partition, id, fields, deliveries: 1 }));
}

/**
 * Fills in the delivery counts of pending entries of one stream owned by `consumer`
 * (XPENDING extended form over the id range of the entries). Entries not found keep theirs.
 */
export async function fillDeliveries(
  redis: Redis,
  group: string,
  consumer: string,
  entries: IngestEntry[],
): Promise<void> {
  const byStream = new Map<string, IngestEntry[]>();
  for (const e of entries) {
    const list = byStream.get(e.stream);
    if (list) list.push(e);
    else byStream.set(e.stream, [e]);
  }
  // One XPENDING per stream (one key each: fine on a cluster), all in flight together.
  await Promise.all(
    [...byStream].map(async ([stream, list]) => {
      const counts = new Map<string, number>();
      // Ids of one stream come back in order, so first..last covers them all.
      const rows = (await redis.xpending(
        stream, group, list[0]!.id, list[list.length - 1]!.id, list.length, consumer,
      )) as [string, string, number, number][];
      for (const [id, , , n] of rows) counts.set(id, Number(n));
      for (const e of list) e.deliveries = counts.get(e.id) ?? e.deliveries;
    }),
  );
}

/** XACK every entry, one command per stream, in one round trip (eachCommand: per master on a cluster). */
export async function ackEntries(redis: Redis, group: string, entries: readonly IngestEntry[]): Promise<void> {
  throwOnPipelineError(await eachCommand(redis, groupIds(entries), (c, [stream, ids]) => c.xack(stream, group, ...ids)));
}

/**
 * Resets the idle time of entries in hand (XCLAIM to ourselves, JUSTID: the delivery count is
 * not incremented), so that while a batch waits for the store no other worker claims it.
 */
export async function touchEntries(
  redis: Redis,
  group: string,
  consumer: string,
  entries: readonly IngestEntry[],
): Promise<void> {
  throwOnPipelineError(
    await eachCommand(redis, groupIds(entries), (c, [stream, ids]) => c.xclaim(stream, group, consumer, 0, ...ids, 'JUSTID')),
  );
}

function groupIds(entries: readonly IngestEntry[]): Map<string, string[]> {
  const byStream = new Map<string, string[]>();
  for (const e of entries) {
    const ids = byStream.get(e.stream);
    if (ids) ids.push(e.id);
    else byStream.set(e.stream, [e.id]);
  }
  return byStream;
}

export function throwOnPipelineError(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('redis pipeline was not executed');
  for (const [err] of results) if (err) throw err;
  return results.map(([, v]) => v);
}
