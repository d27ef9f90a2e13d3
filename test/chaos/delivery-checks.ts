// What the chaos tests prove with the clients' records (resilient-client.ts): every ack held
// once per room, each client's rooms against the expected ids, live fan-out across every pair
// of replicas, and the store against what was acked ("nothing acked was lost, nothing arrived
// twice, nothing out of order"). Each returns its problems one line each, empty when proven.
import { compareIds } from '../../services/shared/ids.js';
import type { AckRecord } from './client-outbox.js';
import type { ResilientClient } from './resilient-client.js';

/** Every ack of every client, by room: id -> ack. Throws when two cids got one id. */
export function ackedByRoom(clients: readonly ResilientClient[]): Map<string, Map<string, AckRecord>> {
  const out = new Map<string, Map<string, AckRecord>>();
  for (const c of clients) {
    for (const a of c.acks.values()) {
      let room = out.get(a.room);
      if (!room) out.set(a.room, (room = new Map()));
      const other = room.get(a.id);
      if (other && other.cid !== a.cid) throw new Error(`one id ${a.id} acked for two sends: ${other.cid} and ${a.cid}`);
      room.set(a.id, a);
    }
  }
  return out;
}

/** Sorted copy of ids, numeric id order. */
export function sortIds(ids: Iterable<string>): string[] {
  return [...ids].sort(compareIds);
}

/**
 * What a client holds in each of its rooms compared with `expected` (room -> ids in id order):
 * missing, unexpected, out-of-order arrivals, gaps and refusals, one line per problem (empty
 * when it holds exactly the expected messages, each once, in order). Duplicates that the id
 * dedup absorbed are reported in the summary, not as a problem. `ordered: false`: arrival order
 * is not checked — with REDIS_ACK_REPLICAS frames are published after their WAIT, so two
 * replicas' messages can arrive out of id order (clients insert by id; the set must be exact).
 */
export function deliveryProblems(c: ResilientClient, expected: Map<string, string[]>, { ordered = true } = {}): string[] {
  const problems: string[] = [];
  for (const r of c.rooms.values()) {
    const want = expected.get(r.name) ?? [];
    const have = new Set(r.ids);
    const missing = want.filter((id) => !have.has(id));
    const wantSet = new Set(want);
    const extra = r.ids.filter((id) => !wantSet.has(id));
    if (missing.length) problems.push(`${c.user}/${r.name}: ${missing.length} of ${want.length} missing, e.g. ${missing.slice(0, 5).join(' ')}`);
    if (extra.length) problems.push(`${c.user}/${r.name}: ${extra.length} not in the expected list, e.g. ${extra.slice(0, 5).join(' ')}`);
    if (ordered && !missing.length && !extra.length && r.ids.join() !== want.join()) {
      problems.push(`${c.user}/${r.name}: every message present but not in id order (${r.outOfOrder} arrived after a newer one)`);
    }
  }
  for (const g of c.gaps) problems.push(`${c.user}/${g.room}: gap on ${g.replica} (${g.why}, since ${g.since})`);
  for (const f of c.failed) problems.push(`${c.user}: send ${f.cid} refused for good: ${f.code} ${f.message}`);
  for (const x of c.ackConflicts) problems.push(`${c.user}: cid acked with two ids: ${x}`);
  return problems;
}

/** Acks of `c` whose message was accepted (by the room log's clock) at or after `t`. */
export function acksSince(c: ResilientClient, t: number): AckRecord[] {
  return [...c.acks.values()].filter((a) => Number(a.id.split('-')[0]) >= t);
}

/**
 * Evidence that live fan-out crosses replicas for messages accepted at or after `t`: for every
 * ordered pair of distinct replicas (X, Y), a message acked on X that a client on Y received
 * as a live `message` frame. Returns the missing pairs (empty: proven).
 */
export function missingCrossReplicaLive(clients: readonly ResilientClient[], replicas: readonly string[], t: number): string[] {
  const missing: string[] = [];
  for (const x of replicas) {
    for (const y of replicas) {
      if (x === y) continue;
      const found = clients.some((sender) =>
        acksSince(sender, t).some(
          (a) =>
            a.replica === x &&
            clients.some((c) => {
              if (c === sender) return false;
              const got = c.rooms.get(a.room)?.receipts.get(a.id);
              return got?.via === 'live' && got.replica === y;
            }),
        ),
      );
      if (!found) missing.push(`${x} -> ${y}`);
    }
  }
  return missing;
}

/** True when every client holds every acked id of each of its rooms (what any client was acked). */
export function everyAckReceived(clients: readonly ResilientClient[]): boolean {
  const acked = ackedByRoom(clients);
  return clients.every((c) =>
    [...c.rooms.values()].every((r) => [...(acked.get(r.name)?.keys() ?? [])].every((id) => r.receipts.has(id))),
  );
}

/**
 * Exactly-once storage of what was acked: per room the stored ids are exactly the acked ids,
 * each once, in id order, each under the cid and sender that were acked for it, and nothing
 * else is stored. One line per problem.
 */
export function storeProblems(
  stored: Map<string, { id: string; cid: string; user: { id: string } }[]>,
  acked: Map<string, Map<string, AckRecord>>,
): string[] {
  const problems: string[] = [];
  for (const [room, acks] of acked) {
    const rows = stored.get(room) ?? [];
    const ids = rows.map((m) => m.id);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    if (twice.length) problems.push(`${room}: ${twice.length} ids stored more than once, e.g. ${twice.slice(0, 5).join(' ')}`);
    const lost = [...acks.keys()].filter((id) => !counts.has(id));
    if (lost.length) {
      const eg = lost.slice(0, 5).map((id) => `${id}(${acks.get(id)!.cid})`);
      problems.push(`${room}: ${lost.length} of ${acks.size} acked messages not stored, e.g. ${eg.join(' ')}`);
    }
    const unacked = ids.filter((id) => !acks.has(id));
    if (unacked.length) problems.push(`${room}: ${unacked.length} stored messages nobody got an ack for, e.g. ${unacked.slice(0, 5).join(' ')}`);
    if (ids.join() !== sortIds(ids).join()) problems.push(`${room}: stored ids not in id order`);
    for (const m of rows) {
      const a = acks.get(m.id);
      if (a && (a.cid !== m.cid || a.user !== m.user.id)) {
        problems.push(`${room}: ${m.id} stored as ${m.user.id}/${m.cid}, acked to ${a.user}/${a.cid}`);
        break;
      }
    }
  }
  return problems;
}
