// Chaos on a real Redis Cluster (issue 18): a slot migration during traffic. Users, two chat
// replicas and an ingestion worker run on a 3+3 cluster (PARTITIONS=12, two rooms per master);
// eight resilient clients on both replicas send ~100 msg/s into every room. The slots of the
// partitions of two rooms move, keys and all, from their master to another one while the clients
// keep sending (what `redis-cli --cluster reshard` does, by slot number: SETSLOT IMPORTING /
// MIGRATING, MIGRATE in small batches, SETSLOT NODE). Writes to a slot mid-migration are
// redirected (ASK) or refused for a moment (TRYAGAIN): the replicas answer a retryable error and
// the clients re-send by cid. Proves: sends are acked and fanned out live again in every room
// (a member may be closed with 1012 and resume: allowed), every acked message is stored exactly
// once, and every client ends with exactly the stored list of its rooms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idTime } from '../../services/shared/ids.js';
import { acksSince, missingCrossReplicaLive } from '../chaos/delivery-checks.js';
import { waitFor } from '../helpers/ports.js';
import { drain, experience, roomsNotLiveSince } from './failover-checks.js';
import { chatLogs } from './failover-kill.js';
import { allReady, startClusterChaos, startClusterLoad, within, type ClusterChaos } from './failover-system.js';
import { keys } from './spread.js';

const LOAD_AFTER_MS = 2_000;
/** Keys per MIGRATE: small, so the migration spans many sends (redis-cli's default is 10). */
const BATCH = 5;

let sys: ClusterChaos;

beforeAll(async () => {
  sys = await startClusterChaos({ tmpPrefix: 'aurora-reshard-', roomPrefix: 'rs-' });
}, 60_000);

afterAll(async () => {
  await sys?.stop();
});

describe('chaos: slots moving between cluster masters during traffic', () => {
  it('keeps sends and live fan-out going in every room; every acked message stored exactly once; every client holds exactly the stored list', async () => {
    const pids = sys.services.map((s) => s.proc.pid);
    const clients = await startClusterLoad(sys, { count: 8, prefix: 'rs', intervalMs: 80, acks: 15, minMs: 2_000 });
    const report = () => clients.map((c) => c.summary()).join('\n');
    const [from, to] = [sys.spread.masters[0]!, sys.spread.masters[1]!];
    const moving = sys.rooms.slice(0, 2);
    const slots = [...new Set(await Promise.all(moving.map((room) => sys.cluster.slotOf(keys.roomLog(room)))))];

    const startedAt = Date.now();
    const moved = await sys.cluster.migrateSlots(from.port, to.port, slots, { batch: BATCH });
    const doneAt = Date.now();
    for (const slot of slots) expect((await sys.cluster.masterOfSlot(slot)).port).toBe(to.port);
    console.log(`[reshard] moved slots ${slots.join(',')} (rooms ${moving.join(', ')}) ${from.port} -> ${to.port}: ${moved.keys} keys in ${moved.ms} ms`);

    // Sends acked and delivered live again in every room, the moved ones on their new master.
    const notLive = () => [...roomsNotLiveSince(clients, sys.rooms, doneAt), ...missingCrossReplicaLive(clients, ['chat-a', 'chat-b'], doneAt)];
    await within(() => notLive().length === 0, 20_000, () => `acked and live again in every room after the migration (missing: ${notLive().join(', ')})\n${report()}\n${chatLogs(sys)}`);
    const liveAgainMs = Date.now() - doneAt;
    await waitFor(() => Date.now() - doneAt >= LOAD_AFTER_MS, { timeoutMs: LOAD_AFTER_MS + 1_000 });
    await waitFor(() => allReady(sys), { timeoutMs: 10_000, what: 'every service ready after the migration' });
    expect(sys.services.map((s) => s.proc.pid)).toEqual(pids);

    // What was accepted while the slots were moving (by the ids' clock): in the moved rooms and elsewhere.
    const during = clients.flatMap((c) => acksSince(c, startedAt).filter((a) => idTime(a.id) <= doneAt));
    const out = await drain(sys, clients, report);
    console.log(
      `[reshard] acked while moving: ${during.filter((a) => moving.includes(a.room)).length} in the moved rooms, ${during.filter((a) => !moving.includes(a.room)).length} elsewhere; ` +
        `acked + live in every room ${liveAgainMs} ms after it; ${out.total} acked messages; client experience ${JSON.stringify(experience(clients, [sys.chatA, sys.chatB]))}\n${report()}`,
    );
    expect(moved.keys).toBeGreaterThan(0);
    expect(out.doubled, report()).toEqual([]);
    expect(out.storeProblems, report()).toEqual([]);
    expect(out.deliveryProblems, report()).toEqual([]);
  }, 90_000);
});
