// Chaos on a real Redis Cluster (issue 18): kill -9 of a master under load. Users, two chat
// replicas and an ingestion worker run on a 3+3 cluster (PARTITIONS=12, two rooms per master);
// eight resilient clients on both replicas (outbox re-sent by cid, resume with `since`) send
// ~100 msg/s into every room. The master of two rooms is killed; the cluster promotes its replica
// (node timeout 2 s) and, with no service restarted, sends are acked and fanned out live again in
// every room. Then:
// - with REDIS_ACK_REPLICAS=1 (an ack waits for `WAIT 1`): every acked message is stored exactly
//   once and every client ends with exactly the stored list of its rooms. This one runs on 3+6
//   (two replicas per master): on 3+3 the promoted replica has no replica of its own, so every
//   write of its slots is refused `overloaded` (never falsely acked) until one joins it — sends
//   there could not resume without bringing a Redis node back;
// - without it: replication is asynchronous, so acks given by the old master just before it died
//   may be gone — the test REPORTS how many (the documented window) and what the clients saw, and
//   proves what must hold anyway: nothing accepted after the kill lost, nothing stored twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idTime } from '../../services/shared/ids.js';
import { lostAfter } from './failover-checks.js';
import { killMasterUnderLoad, numbers } from './failover-kill.js';
import { startClusterChaos, type ClusterChaos } from './failover-system.js';

describe('chaos: a cluster master killed with -9 under load, REDIS_ACK_REPLICAS=1', () => {
  let sys: ClusterChaos;
  beforeAll(async () => {
    sys = await startClusterChaos({ tmpPrefix: 'aurora-failover-ack-', roomPrefix: 'fa-', env: { REDIS_ACK_REPLICAS: '1' }, replicasPerMaster: 2 });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('resumes sends and live fan-out on every room without a restart; every acked message stored exactly once; every client holds exactly the stored list', async () => {
    // frames go out after their WAIT: two replicas' messages may arrive out of id order (clients
    // insert by id), so each client's set is checked exactly, its arrival order not
    const k = await killMasterUnderLoad(sys, 'fa', { ordered: false });
    console.log(`[failover ack=1] ${numbers(k)}\n${k.report()}`);
    expect(k.firstAckMs).not.toBeNull();
    expect(k.out.doubled.join('\n'), k.report()).toBe('');
    expect(k.out.storeProblems.join('\n'), k.report()).toBe('');
    expect(k.out.deliveryProblems.join('\n'), k.report()).toBe('');
    expect(k.out.total).toBeGreaterThanOrEqual(8 * 15 * 2);
  }, 90_000);
});

describe('chaos: a cluster master killed with -9 under load, no REDIS_ACK_REPLICAS', () => {
  let sys: ClusterChaos;
  beforeAll(async () => {
    sys = await startClusterChaos({ tmpPrefix: 'aurora-failover-noack-', roomPrefix: 'fn-' });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('resumes sends and live fan-out on every room without a restart; reports the acked messages lost in the failover window, and stores nothing twice', async () => {
    const k = await killMasterUnderLoad(sys, 'fn');
    const { out } = k;
    // what the clients hold that the store does not (live frames of lost messages), and the reverse
    const phantoms = k.clients.reduce((n, c) => n + [...c.rooms.values()].reduce((m, r) => m + r.ids.filter((id) => !out.expected.get(r.name)?.includes(id)).length, 0), 0);
    const lostAfterKill = lostAfter(out.lost, k.killedAt);
    console.log(
      `[failover ack=0] ${numbers(k)}\n` +
        `lost acks: ${out.lost.map((l) => `${l.room}/${l.id}(${l.cid}, ${k.killAt - idTime(l.id)} ms before the kill)`).join(' ') || 'none'}; ` +
        `ids clients hold that were never stored: ${phantoms}; delivery differences from the store (reported, not asserted):\n` +
        `${out.deliveryProblems.join('\n') || 'none'}\n${k.report()}`,
    );
    // The documented window: acks of the old master not yet replicated when it died. Reported.
    expect(out.lost.length).toBeGreaterThanOrEqual(0);
    // What holds whatever the setting: only the old master's acks can be lost...
    expect(lostAfterKill).toEqual([]);
    // ...nothing is stored twice (no retried send accepted again under a new id)...
    expect(out.doubled, k.report()).toEqual([]);
    // ...and nothing is stored that nobody was acked, nor out of order.
    expect(out.storeProblems.filter((p) => !p.includes('acked messages not stored'))).toEqual([]);
  }, 90_000);
});
