// Issue 18: ingestion reads every partition's stream across the masters of a real 3-master
// cluster (each stream its own slot: one XREADGROUP per stream, partition-reader.ts). The
// reader on its own (every lane blocks at once, stream order kept), then the real ingestion
// service process (REDIS_CLUSTER_NODES) storing entries of every partition exactly once across
// a kill -9 and a restart under the same name that re-reads its own pending entries. The
// notifier in the same process reads every stream too, and follows storage's progress (stored.ts).
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionReader } from '../../services/ingestion/partition-reader.js';
import { ensureGroups, ingestStreams } from '../../services/ingestion/streams.js';
import { NOTIFY_GROUP } from '../../services/notify/worker.js';
import { INGEST_GROUP, partitionOf } from '../../services/shared/keys.js';
import type { ChatMessage } from '../../services/shared/message.js';
import { fieldRecord } from '../../services/shared/redis.js';
import type { Store } from '../../services/shared/store/index.js';
import { waitFor } from '../helpers/ports.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import type { RunningService } from '../helpers/service.js';
import { drafts, exactlyOnceProblems, openStore, pendingByConsumer, produce, startWorker, storedCount, tempDir, totalPending } from '../ingestion/fixtures.js';
import { keys, PARTITIONS, spreadOverMasters, type Spread } from './spread.js';

let cluster: TestRedisCluster;
let c: Cluster;
/** The same client typed as the services take it. */
let r: Redis;
let spread: Spread;
/** One room per partition, so that every partition's stream (and so every master) gets entries. */
let rooms: string[];

beforeAll(async () => {
  cluster = await startRedisCluster();
  c = cluster.client();
  r = c as unknown as Redis;
  spread = await spreadOverMasters(cluster);
  const byPartition: (string | undefined)[] = Array.from({ length: PARTITIONS }, () => undefined);
  for (let i = 0; byPartition.includes(undefined); i++) byPartition[partitionOf(`room-${i}`, PARTITIONS)] ??= `room-${i}`;
  rooms = byPartition as string[];
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

/** produce() per partition: its pipeline then stays in one slot (a cluster refuses one spanning masters). */
async function produceAll(count: number, text: (i: number) => string): Promise<ChatMessage[]> {
  const all = drafts(count, rooms, text);
  const sent = await Promise.all(rooms.map((room) => produce(r, keys, all.filter((d) => d.room === room))));
  return sent.flat();
}

/** `group` was handed every entry of every stream and acked them all. */
async function allAckedBy(group: string): Promise<boolean> {
  for (const stream of keys.allIngestStreams()) {
    const info = fieldRecord((await c.xinfo('STREAM', stream)) as string[]);
    const g = ((await c.xinfo('GROUPS', stream)) as string[][]).map((x) => fieldRecord(x)).find((x) => x.name === group);
    if (!g || g['last-delivered-id'] !== info['last-generated-id'] || Number(g.pending) !== 0) return false;
  }
  return true;
}

describe('PartitionReader on a cluster', () => {
  it('reads one lane per partition, all blocked at once: an entry on any master ends the wait at once, entries of one stream in order', async () => {
    const { streams, partitionOf: of } = ingestStreams(keys);
    await ensureGroups(r, streams, 'pr-test');
    const reader = new PartitionReader({
      reader: cluster.client({ redisOptions: { maxRetriesPerRequest: null } }) as unknown as Redis,
      group: 'pr-test', consumer: 'pr', streams, partitionOf: of,
    });
    try {
      expect(reader.laneCount).toBe(PARTITIONS);
      for (const p of spread.partitionPerMaster) {
        const started = Date.now();
        const read = reader.read({ count: 10, blockMs: 4_000 });
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push((await c.xadd(keys.ingestStream(p), '*', 'n', String(i))) as string);
        const got = [...(await read)];
        // the rest of the three may come with a later read (a lane's read can return with the first)
        while (got.length < 3) got.push(...(await reader.read({ count: 10, blockMs: 4_000 })));
        expect(Date.now() - started).toBeLessThan(2_000); // not a wait for the block of another lane
        expect(got.map((e) => [e.partition, e.id])).toEqual(ids.map((id) => [p, id]));
      }
      expect(await reader.read({ count: 10 })).toEqual([]); // non-blocking: nothing left
    } finally {
      expect(await reader.close()).toEqual([]);
    }
  });
});

describe('the ingestion service on a cluster', { timeout: 180_000 }, () => {
  const workers: RunningService[] = [];
  const stores: Store[] = [];
  const tmp = tempDir('aurora-cluster-ingest-');
  afterAll(async () => {
    for (const w of workers) await w.stop('SIGKILL');
    for (const s of stores) await s.close();
    tmp.cleanup();
  });

  let b: RunningService;

  it('stores the entries of every partition exactly once across a kill -9 and a restart that re-reads its own pending', async () => {
    const store = await openStore(tmp.dbPath);
    stores.push(store);
    const env = {
      redisUrl: 'redis://127.0.0.1:6379', // credentials and TLS only: REDIS_CLUSTER_NODES says where
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      consumer: 'cluster-worker',
      // no claims within the test: what the killed worker held comes back through its own re-read
      extra: { REDIS_CLUSTER_NODES: cluster.seeds, INGEST_BATCH_SIZE: '50', INGEST_BATCH_MS: '20', INGEST_CLAIM_IDLE_MS: '120000', SHUTDOWN_DRAIN_MS: '3000', ASSISTANT_ENABLED: 'false' },
    };
    const sent = await produceAll(6000, (i) => `before ${i}`);
    const a = await startWorker(env);
    workers.push(a);
    await waitFor(
      async () => (await storedCount(store, rooms)) > 0 && ((await pendingByConsumer(r, keys)).get('cluster-worker') ?? 0) > 0,
      { timeoutMs: 60_000, intervalMs: 5, what: 'the worker holding a batch after storing some' },
    );
    await a.stop('SIGKILL');
    expect((await pendingByConsumer(r, keys)).get('cluster-worker') ?? 0).toBeGreaterThan(0);
    expect(await storedCount(store, rooms)).toBeLessThan(sent.length);

    sent.push(...(await produceAll(1200, (i) => `after ${i}`)));
    b = await startWorker(env);
    workers.push(b);
    await waitFor(async () => (await storedCount(store, rooms)) >= sent.length && (await totalPending(r, keys)) === 0, {
      timeoutMs: 120_000,
      what: 'every entry stored and acked',
    });
    expect(await exactlyOnceProblems(store, sent)).toBeNull();
    expect(b.logs.some((l) => l.includes('processing own pending entries from before a restart'))).toBe(true);
    expect(await allAckedBy(INGEST_GROUP)).toBe(true);
  });

  it('the notifier in the same process acks every stream: storedUpTo (notify/stored.ts) reads XINFO GROUPS of every stream, kept out of auto-pipelining (shared/redis.ts: it would route by "GROUPS", not the key → MOVED)', async () => {
    await waitFor(() => allAckedBy(NOTIFY_GROUP), { timeoutMs: 15_000, what: 'the notifier acking every stream' }).catch(() => {
      const warned = b.logs.filter((l) => l.includes('notify storage progress failed'));
      throw new Error(`notify did not ack every stream; last warning: ${warned.at(-1) ?? 'none'}`);
    });
  });

  it('stops on SIGTERM within the drain window, its per-partition readers closed', async () => {
    const started = Date.now();
    expect(await b.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
