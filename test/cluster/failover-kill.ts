// The fault both master-kill scenarios share: load on two replicas into rooms on every master,
// kill -9 of the master serving two of the rooms, and the bounded wait until the cluster has
// promoted its replica and sends are acked and delivered live again in EVERY room — without
// restarting any service — then the drain and comparison (failover-checks.ts).
import { missingCrossReplicaLive } from '../chaos/delivery-checks.js';
import type { ResilientClient } from '../chaos/resilient-client.js';
import { waitFor } from '../helpers/ports.js';
import type { ClusterNode } from '../helpers/redis-cluster.js';
import { allReady, startClusterLoad, within, type ClusterChaos } from './failover-system.js';
import { drain, experience, firstAckAt, roomsNotLiveSince, type Drained } from './failover-checks.js';
import { keys } from './spread.js';

/** 8 clients, one send each per 80 ms: ~100 msg/s in total. */
const CLIENTS = 8;
const SEND_INTERVAL_MS = 80;
/** Acks each client collects before the kill, and the least load time before and after it. */
const ACKS_BEFORE = 15;
const LOAD_BEFORE_MS = 2_000;
const LOAD_AFTER_MS = 3_000;

export interface MasterKill {
  clients: ResilientClient[];
  victim: ClusterNode;
  promoted: ClusterNode;
  /** The rooms the killed master served. */
  deadRooms: string[];
  killAt: number;
  /** The kill -9 seen exited: ids accepted later cannot come from the dead master. */
  killedAt: number;
  /** Kill to every live node agreeing on the new master (polled every 100 ms). */
  failoverMs: number;
  /** Kill to the first ack of a message the promoted master accepted in the dead rooms. */
  firstAckMs: number | null;
  /** Kill to sends acked AND delivered live again in every room, across replicas both ways. */
  liveAgainMs: number;
  out: Drained;
  exp: ReturnType<typeof experience>;
  report(): string;
}

/** `ordered: false`: arrival order is not checked (REDIS_ACK_REPLICAS publishes after each WAIT: see deliveryProblems). */
export async function killMasterUnderLoad(sys: ClusterChaos, prefix: string, opts: { ordered?: boolean } = {}): Promise<MasterKill> {
  const pids = sys.services.map((s) => s.proc.pid);
  const clients = await startClusterLoad(sys, { count: CLIENTS, prefix, intervalMs: SEND_INTERVAL_MS, acks: ACKS_BEFORE, minMs: LOAD_BEFORE_MS });
  const report = () => clients.map((c) => c.summary()).join('\n');
  const victim = sys.spread.masters[0]!;
  const deadRooms = sys.rooms.slice(0, 2);
  const slot = await sys.cluster.slotOf(keys.roomLog(deadRooms[0]!));
  if ((await sys.cluster.masterOfSlot(slot)).port !== victim.port) throw new Error(`${deadRooms[0]} is not on ${victim.port}`);

  const killAt = Date.now();
  await sys.cluster.killNode(victim.port);
  const killedAt = Date.now();
  await sys.cluster.waitFailover(victim.port);
  const failoverMs = Date.now() - killAt;
  const promoted = await sys.cluster.masterOfSlot(slot);

  // Sends acked and fanned out live again in every room, the dead master's included, and across
  // the replicas both ways, while the clients keep sending.
  const notLive = () => [
    ...roomsNotLiveSince(clients, sys.rooms, killedAt + 1),
    ...missingCrossReplicaLive(clients, ['chat-a', 'chat-b'], killedAt + 1),
  ];
  await within(() => notLive().length === 0, 25_000, () => `acked and live again in every room after the kill (missing: ${notLive().join(', ')})\n${report()}\n${chatLogs(sys)}`);
  const liveAgainMs = Date.now() - killAt;
  const firstAck = firstAckAt(clients, deadRooms, killedAt);
  await waitFor(() => Date.now() - killAt >= LOAD_AFTER_MS, { timeoutMs: LOAD_AFTER_MS + 1_000 });
  // the same processes, all ready again (a dead shard subscription would turn /readyz red)
  await waitFor(() => allReady(sys), { timeoutMs: 10_000, what: 'every service ready after the failover' });
  if (sys.services.some((s, i) => s.proc.pid !== pids[i])) throw new Error('a service was restarted');

  const out = await drain(sys, clients, report, opts);
  return {
    clients, victim, promoted, deadRooms, killAt, killedAt, failoverMs, liveAgainMs, out, report,
    firstAckMs: firstAck === null ? null : firstAck - killAt,
    exp: experience(clients, [sys.chatA, sys.chatB]),
  };
}

/** The chat replicas' warnings and errors (and the last lines), for a failure message. */
export function chatLogs(sys: ClusterChaos, lines = 30): string {
  return [sys.chatA, sys.chatB]
    .map((s) => `--- ${s.name} ${s.port} ---\n${s.logs.filter((l) => !l.includes('"level":30')).slice(-lines).join('\n')}`)
    .join('\n');
}

/** One line of numbers for the console. */
export function numbers(k: MasterKill): string {
  return (
    `killed master ${k.victim.port} (rooms ${k.deadRooms.join(', ')}), promoted ${k.promoted.port} after ${k.failoverMs} ms; ` +
    `first acked send on the dead master's rooms ${k.firstAckMs ?? 'never'} ms after the kill; ` +
    `acked + live in every room again ${k.liveAgainMs} ms after it; ${k.out.total} acked messages; ` +
    `${k.out.lost.length} acked lost; client experience ${JSON.stringify(k.exp)}`
  );
}

