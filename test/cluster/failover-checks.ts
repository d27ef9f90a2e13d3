// What the cluster chaos tests prove and report with the resilient clients' records (test/chaos/
// resilient-client.ts) after a master is killed or slots move: sends and live fan-out working
// again on every room, the end-of-test drain (ingestion caught up: an event, not a count — a
// failover without WAIT may have lost acked entries), what the store holds against the acks, and
// a one-paragraph account of what the clients went through.
import { idTime } from '../../services/shared/ids.js';
import type { ChatMessage } from '../../services/shared/message.js';
import { acksSince, ackedByRoom, deliveryProblems, sortIds, storeProblems } from '../chaos/delivery-checks.js';
import type { ResilientClient } from '../chaos/resilient-client.js';
import { waitFor } from '../helpers/ports.js';
import type { RunningService } from '../helpers/service.js';
import { storedMessages } from '../ingestion/fixtures.js';
import { ingestionCaughtUp, within, type ClusterChaos } from './failover-system.js';

/**
 * The rooms where no message accepted at or after `t` (its id's time) was both acked to its
 * sender and delivered LIVE to another member: sends and fan-out not shown working again there.
 */
export function roomsNotLiveSince(clients: readonly ResilientClient[], rooms: readonly string[], t: number): string[] {
  return rooms.filter(
    (room) =>
      !clients.some((sender) =>
        acksSince(sender, t).some(
          (a) => a.room === room && clients.some((c) => c !== sender && c.rooms.get(room)?.receipts.get(a.id)?.via === 'live'),
        ),
      ),
  );
}

/** When the first ack arrived for a message of `rooms` accepted after `t` (by its id's clock). */
export function firstAckAt(clients: readonly ResilientClient[], rooms: readonly string[], t: number): number | null {
  const times = clients.flatMap((c) => acksSince(c, t + 1).filter((a) => rooms.includes(a.room)).map((a) => a.at));
  return times.length ? Math.min(...times) : null;
}

export interface Drained {
  acked: ReturnType<typeof ackedByRoom>;
  total: number;
  stored: Map<string, ChatMessage[]>;
  /** room -> stored ids in id order: what every member must end with. */
  expected: Map<string, string[]>;
  storeProblems: string[];
  deliveryProblems: string[];
  /** Acked ids not in the store (the loss a failover without WAIT may cause). */
  lost: { room: string; id: string; cid: string }[];
  /** Stored ids twice, or one sender's cid stored under two ids (a retried send accepted twice). */
  doubled: string[];
}

/**
 * Stops the senders and lets everything settle, each wait bounded: outboxes drained (every send
 * answered for good), ingestion caught up on every partition, members holding what was stored.
 * Then compares the store with the acks and every client with the store.
 */
export async function drain(sys: ClusterChaos, clients: readonly ResilientClient[], report: () => string, opts: { ordered?: boolean } = {}): Promise<Drained> {
  for (const c of clients) c.stopSending();
  await within(() => clients.every((c) => c.outboxSize === 0), 20_000, () => `outboxes drained\n${report()}`);
  await waitFor(() => ingestionCaughtUp(sys.redis), { timeoutMs: 20_000, intervalMs: 200, what: `ingestion caught up on every partition\n${sys.worker.logs.slice(-20).join('\n')}` });
  const stored = new Map<string, ChatMessage[]>();
  for (const room of sys.rooms) stored.set(room, await storedMessages(sys.store, room));
  const expected = new Map([...stored].map(([room, rows]) => [room, sortIds(rows.map((m) => m.id))]));
  // live frames still on their way; a member that never gets one is reported below, not waited for
  await waitFor(() => clients.every((c) => [...c.rooms.values()].every((r) => (expected.get(r.name) ?? []).every((id) => r.receipts.has(id)))), {
    timeoutMs: 5_000,
    what: 'every member holds what was stored',
  }).catch(() => {});
  const acked = ackedByRoom(clients);
  const lost = [...acked].flatMap(([room, acks]) => {
    const have = new Set(expected.get(room));
    return [...acks.values()].filter((a) => !have.has(a.id)).map((a) => ({ room, id: a.id, cid: a.cid }));
  });
  const doubled: string[] = [];
  for (const [room, rows] of stored) {
    const ids = new Set<string>();
    const cids = new Set<string>();
    for (const m of rows) {
      if (ids.has(m.id)) doubled.push(`${room}: id ${m.id} stored twice`);
      if (cids.has(`${m.user.id}/${m.cid}`)) doubled.push(`${room}: ${m.user.id}/${m.cid} stored twice (a retry accepted again)`);
      ids.add(m.id);
      cids.add(`${m.user.id}/${m.cid}`);
    }
  }
  return {
    acked,
    total: [...acked.values()].reduce((n, m) => n + m.size, 0),
    stored,
    expected,
    storeProblems: storeProblems(stored, acked),
    deliveryProblems: clients.flatMap((c) => deliveryProblems(c, expected, opts)),
    lost,
    doubled,
  };
}

/** What the clients went through, and what the replicas logged about it, as numbers. */
export function experience(clients: readonly ResilientClient[], chats: readonly RunningService[]) {
  const sum = (f: (c: ResilientClient) => number) => clients.reduce((n, c) => n + f(c), 0);
  const logged = (what: string) => chats.reduce((n, s) => n + s.logs.filter((l) => l.includes(what)).length, 0);
  const rooms = clients.flatMap((c) => [...c.rooms.values()]);
  return {
    /** `internal` / `overloaded` error frames: sends refused for now and retried (same cid). */
    refusedRetried: sum((c) => (c.errors.get('internal') ?? 0) + (c.errors.get('overloaded') ?? 0)),
    errors: Object.fromEntries(
      clients.flatMap((c) => [...c.errors]).reduce((m, [code, n]) => m.set(code, (m.get(code) ?? 0) + n), new Map<string, number>()),
    ),
    resends: sum((c) => c.resends),
    ackTimeouts: sum((c) => c.ackTimeouts),
    duplicateAcks: sum((c) => c.duplicateAcks),
    failedForGood: sum((c) => c.failed.length),
    closes1012: sum((c) => c.closes.filter((x) => x === 1012).length),
    reconnects: sum((c) => Math.max(0, c.connections.length - 1)),
    /** Joins with `since` answered recovered:true: the resume closed the gap. */
    resumes: rooms.reduce((n, r) => n + r.resumes, 0),
    /** Joins that could not be proved gap-free (recovered:false, or no `since`). */
    gaps: sum((c) => c.gaps.length),
    duplicateDeliveries: sum((c) => c.totalDuplicates()),
    /** Replica subscriber recoveries that read missed entries back from the room log. */
    subscriberRecoveries: logged('missed during the subscriber outage'),
    roomsResynced1012: logged('closing room members with 1012'),
  };
}

/** Acked ids of `lost` accepted after `t` (by the id's clock): none may be, whatever the setting. */
export function lostAfter(lost: Drained['lost'], t: number): string[] {
  return lost.filter((l) => idTime(l.id) > t).map((l) => `${l.room}/${l.id}(${l.cid})`);
}
