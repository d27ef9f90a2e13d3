// PartitionReader on a single node (real redis-server): one lane, i.e. one XREADGROUP over every
// stream on the reader itself, as before issue 18; a read's error reaches read(). The cluster
// side (a lane per partition): test/cluster/ingest.test.ts.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../shared/keys.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { PartitionReader } from './partition-reader.js';
import { ensureGroups, ingestStreams } from './streams.js';

const keys = keysFor(4);
const { streams, partitionOf } = ingestStreams(keys);

let redis: TestRedis;
let reader: Redis;
beforeAll(async () => {
  redis = await startRedis();
  reader = redis.client();
});
afterAll(async () => {
  await redis?.stop();
});

describe('PartitionReader on a single node', () => {
  it('reads every stream in one command on the reader itself: entries of several partitions in one read, each stream in order', async () => {
    await ensureGroups(redis.client(), streams, 'g1');
    const pr = new PartitionReader({ reader, group: 'g1', consumer: 'c', streams, partitionOf });
    expect(pr.laneCount).toBe(1);
    const ids: [number, string][] = [];
    for (const p of [2, 0, 2]) ids.push([p, (await redis.client().xadd(keys.ingestStream(p), '*', 'n', '1')) as string]);
    const got = await pr.read({ count: 10, blockMs: 2_000 });
    expect(got.map((e) => [e.partition, e.id])).toEqual([ids[1], ids[0], ids[2]]); // stream order, streams in partition order
    const started = Date.now();
    const waiting = pr.read({ count: 10, blockMs: 5_000 });
    const late = (await redis.client().xadd(keys.ingestStream(3), '*', 'n', '2')) as string;
    expect((await waiting).map((e) => e.id)).toEqual([late]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await pr.read({ count: 10, blockMs: 50 })).toEqual([]);
    const closing = Date.now();
    expect(await pr.close()).toEqual([]);
    expect(Date.now() - closing).toBeLessThan(1_000); // no read left blocking after a delivery
    expect(reader.status).toBe('ready'); // the reader is its owner's to close
  });

  it('says once that its connection dropped (a served read\'s reply may be lost), so both workers re-read their own pending entries', async () => {
    const own = redis.client();
    await new Promise((r) => own.once('ready', r));
    const pr = new PartitionReader({ reader: own, group: 'g1', consumer: 'c', streams, partitionOf });
    expect(pr.connectionDropped()).toBe(false);
    const id = (await own.client('ID')) as number;
    await redis.client().client('KILL', 'ID', String(id));
    await new Promise((r) => own.once('ready', r)); // reconnected
    expect(pr.connectionDropped()).toBe(true);
    expect(pr.connectionDropped()).toBe(false);
    await pr.close();
  });

  it('a failed read reaches read() (no group: NOGROUP), and reading works again once the group exists', async () => {
    const pr = new PartitionReader({ reader, group: 'missing', consumer: 'c', streams, partitionOf });
    await expect(pr.read({ count: 10, blockMs: 100 })).rejects.toThrow(/NOGROUP/);
    await ensureGroups(redis.client(), streams, 'missing');
    const id = (await redis.client().xadd(keys.ingestStream(1), '*', 'n', '3')) as string;
    const got = await pr.read({ count: 10, blockMs: 1_000 });
    expect(got.map((e) => e.id)).toContain(id);
    await pr.close();
  });
});
