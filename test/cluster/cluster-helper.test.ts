// The local Redis Cluster helper (test/helpers/redis-cluster.ts) does what the cluster suites
// will rely on: a healthy 3 + 3 cluster, reachable through ioredis' Cluster client, and a real
// failover when a master is killed -9.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { waitFor } from '../helpers/ports.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';

let cluster: TestRedisCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  client = cluster.client();
});
afterAll(async () => {
  await cluster?.stop();
});

describe('startRedisCluster', () => {
  it('starts 3 masters with one replica each, every node reporting cluster_state:ok and all 16384 slots', async () => {
    expect(cluster.nodes).toHaveLength(6);
    expect(new Set(cluster.nodes.map((n) => n.pid)).size).toBe(6);
    expect(cluster.seeds).toBe(cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(','));
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    for (const m of masters) expect(await cluster.replicaOf(m)).toHaveLength(1);
    for (const n of cluster.nodes) {
      const info = (await cluster.nodeClient(n.port).cluster('INFO')) as string;
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_ok:16384');
      expect(info).toContain('cluster_known_nodes:6');
    }
    // every slot has exactly one master, and the three masters share them
    const owners = await Promise.all([0, 5000, 10000, 16383].map((s) => cluster.masterOfSlot(s)));
    expect(new Set(owners.map((o) => o.port)).size).toBeGreaterThan(1);
  });

  it('serves keys of every master through an ioredis Cluster client', async () => {
    const masters = await cluster.masters();
    const seen = new Set<number>();
    for (let i = 0; seen.size < masters.length && i < 200; i++) {
      const key = `helper:{${i}}`;
      const owner = await cluster.masterOfSlot(await cluster.slotOf(key));
      if (seen.has(owner.port)) continue;
      seen.add(owner.port);
      await client.set(key, `v${i}`);
      expect(await client.get(key)).toBe(`v${i}`);
      // it really lives on that master
      expect(await cluster.nodeClient(owner.port).get(key)).toBe(`v${i}`);
    }
    expect(seen.size).toBe(masters.length);
  });

  it('promotes the replica of a master killed -9 within ~10 s, and writes to its slots succeed again', async () => {
    const key = 'helper:failover';
    await client.set(key, 'before');
    const slot = await cluster.slotOf(key);
    const master = await cluster.masterOfSlot(slot);
    const [replica] = await cluster.replicaOf(master);
    expect(replica).toBeDefined();
    // the write reached the replica before the kill (WAIT on the master), so it must survive
    expect(await cluster.nodeClient(master.port).wait(1, 2000)).toBe(1);

    const killedAt = Date.now();
    await cluster.killNode(master.port);
    await waitFor(async () => (await cluster.masterOfSlot(slot)).port === replica!.port, {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: `replica ${replica!.port} promoted for slot ${slot}`,
    });
    const promotedMs = Date.now() - killedAt;
    expect(promotedMs).toBeLessThan(10_000);
    await cluster.waitHealthy(10_000);
    expect((await cluster.masters()).map((m) => m.port)).toContain(replica!.port);
    expect((await cluster.masters()).map((m) => m.port)).not.toContain(master.port);

    // The client learns the new topology by itself (MOVED / refresh): no new client needed.
    await waitFor(async () => (await client.set(key, 'after')) === 'OK', { timeoutMs: 10_000, intervalMs: 200, what: 'a write after failover' });
    expect(await client.get(key)).toBe('after');
    expect(await cluster.nodeClient(replica!.port).get(key)).toBe('after');
  });
});
