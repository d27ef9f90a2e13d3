// Chaos: Redis (AOF on) is killed with -9 and started again on the same port while eight
// clients on two chat replicas keep sending into three rooms at a fixed rate. Proves, with real
// processes: nothing acked is lost from the store (each acked id stored exactly once); live
// fan-out across replicas works again on the SAME replica processes; and every client ends with
// every acked message of its rooms exactly once, in id order, without a gap — by live delivery,
// the replica's subscriber recovery, or a resume with `since`, whichever the client needed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import type { TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import { acksSince, missingCrossReplicaLive } from './delivery-checks.js';
import type { ResilientClient } from './resilient-client.js';
import { drainAndCompare, startChaosSystem, startLoad, type ChaosSystem } from './system.js';

const ROOMS = ['rr-alpha', 'rr-beta', 'rr-gamma'];
const CLIENTS = 8;
/** Acks each client collects before the fault, and again after it, before senders stop... */
const ACKS_PER_PHASE = 15;
/** ...and the least time the senders keep going before and after it (load, not correctness). */
const LOAD_BEFORE_MS = 1_500;
const LOAD_AFTER_MS = 3_000;
/** How long Redis stays down at least. */
const MIN_DOWN_MS = 1_000;
// Delivery and storage are under test, not abuse limits: lift the per-user and per-socket rates.
// Info logs: the summary counts the replicas' subscriber recoveries and 1012 resyncs.
const LIMITS = { PARTITIONS: '2', RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '10000', LOG_LEVEL: 'info' };

let sys: ChaosSystem;
let redis: TestRedis;
let chatA: RunningService;
let chatB: RunningService;
let worker: RunningService;
let clients: ResilientClient[] = [];

beforeAll(async () => {
  sys = await startChaosSystem({ appendonly: true, tmpPrefix: 'aurora-chaos-redis-', chat: LIMITS });
  ({ redis, chatA, chatB, worker } = sys);
}, 40_000);

afterAll(async () => {
  for (const c of clients) c.stop();
  await sys?.stop();
});

describe('chaos: Redis restarted with AOF under load', () => {
  it('loses nothing acked from the store, resumes live fan-out on the same replica processes, and leaves every client gap-free', async () => {
    const pids = { a: chatA.proc.pid, b: chatB.proc.pid, worker: worker.proc.pid };
    clients = await startLoad(sys, { count: CLIENTS, prefix: 'rr', rooms: ROOMS, acks: ACKS_PER_PHASE, minMs: LOAD_BEFORE_MS });
    const report = () => clients.map((c) => c.summary()).join('\n');

    // The fault: kill -9, then start again on the same port (the AOF keeps the data). While it
    // is down, sends are refused with `internal` and stay in the clients' outboxes. Two clients
    // (one per replica) also lose their connection at that moment, as in a network blip: they
    // reconnect — to the other replica, rotating — while Redis is down, and can only resume
    // with `since` once it is back.
    const downAt = Date.now();
    await redis.kill();
    const movers = [clients[0]!, clients[1]!];
    const moverConns = movers.map((c) => c.connections.length);
    for (const c of movers) c.drop();
    await waitFor(() => movers.every((c, i) => c.connections.length > moverConns[i]!), {
      timeoutMs: 15_000,
      what: 'the dropped clients connected again (hello) while Redis is down',
    });
    // Keep Redis down for a while (the fault's length, not a correctness wait).
    await waitFor(() => Date.now() - downAt >= MIN_DOWN_MS, { timeoutMs: MIN_DOWN_MS + 1_000 });
    await redis.start();
    const upAt = Date.now();

    // After: every client gets acks from the new Redis, and fan-out is live again across the
    // replicas in both directions, while the senders keep going.
    await waitFor(
      () =>
        Date.now() - upAt >= LOAD_AFTER_MS &&
        clients.every((c) => acksSince(c, upAt).length >= ACKS_PER_PHASE) &&
        missingCrossReplicaLive(clients, ['chat-a', 'chat-b'], upAt).length === 0,
      { timeoutMs: 20_000, intervalMs: 100, what: `acks after the restart and live cross-replica delivery\n${report()}` },
    );
    const crossAfter = missingCrossReplicaLive(clients, ['chat-a', 'chat-b'], upAt);

    const out = await drainAndCompare(sys, clients, ROOMS, report);

    // (1) Nothing acked lost from the store; each acked id stored exactly once.
    expect(out.storeProblems, report()).toEqual([]);

    // (2) The same replica and worker processes carried on, and fan-out crossed replicas live
    // for messages accepted by the restarted Redis.
    expect({ a: chatA.proc.pid, b: chatB.proc.pid, worker: worker.proc.pid }).toEqual(pids);
    for (const s of [chatA, chatB, worker]) expect(s.proc.exitCode ?? s.proc.signalCode, `${s.name} exited`).toBeNull();
    expect(crossAfter).toEqual([]);

    // The clients that reconnected during the outage moved replica and resumed every room
    // with `since` (recovered:true) — the gap-free check of (3) covers what they got.
    for (const c of movers) {
      const path = c.connections.map((x) => x.replica);
      expect(path.length, c.summary()).toBeGreaterThanOrEqual(2);
      expect(path[1], `${c.user} reconnected to the other replica\n${c.summary()}`).not.toBe(path[0]);
      for (const r of c.rooms.values()) expect(r.resumes, `${c.user}/${r.name} resumed\n${c.summary()}`).toBeGreaterThanOrEqual(1);
    }

    // (3) Every client holds exactly the stored messages of its rooms, each once, in id order.
    expect(out.deliveryProblems, `duplicates absorbed by id dedup: ${out.duplicates}\n${report()}`).toEqual([]);
    expect(out.total).toBeGreaterThanOrEqual(CLIENTS * ACKS_PER_PHASE * 2);
    const logged = (what: string) => [chatA, chatB].reduce((n, s) => n + s.logs.filter((l) => l.includes(what)).length, 0);
    const refused = clients.reduce((n, c) => n + (c.errors.get('internal') ?? 0) + (c.errors.get('overloaded') ?? 0), 0);
    console.log(
      `[redis-restart] ${out.total} acked messages; Redis down ${upAt - downAt} ms; ${refused} internal/overloaded error frames (retried); ` +
        `${out.duplicates} duplicate deliveries absorbed; replica subscriber recoveries that delivered missed messages: ` +
        `${logged('missed during the subscriber outage')}, rooms resynced with 1012: ${logged('closing room members with 1012')}\n${report()}`,
    );
  }, 70_000);
});
