// Who connects where in the connections benchmark: TOTAL distinct users in rooms of ROOM_SIZE,
// one room each. Member j of room r goes to replica (r + j) mod R: every room's members are split
// over every replica, the worst case for fan-out (each replica subscribes to every room and gets
// every message over Redis pub/sub) and what a load balancer without room affinity produces.
// Client sockets take their source address round-robin from `sources`, so no (source,
// destination) pair runs out of ephemeral ports.
import type { ConnSpec } from '../capacity/holder.js';

export interface ConnPlan {
  rooms: number;
  /** Room by room: member j of room r is conns[r * roomSize + j]. */
  conns: ConnSpec[];
  /** Connections per replica. */
  perReplica: number[];
  /** Connections per source address. */
  perSource: number;
}

export function planConnections(total: number, roomSize: number, replicaUrls: string[], sources: string[]): ConnPlan {
  if (!Number.isInteger(total) || !Number.isInteger(roomSize) || roomSize < 2 || total % roomSize !== 0) {
    throw new Error(`BENCH_CONN_TOTAL (${total}) must be a multiple of BENCH_CONN_ROOM_SIZE (${roomSize}, at least 2)`);
  }
  const rooms = total / roomSize;
  const conns: ConnSpec[] = [];
  const perReplica = new Array<number>(replicaUrls.length).fill(0);
  for (let r = 0; r < rooms; r++) {
    for (let j = 0; j < roomSize; j++) {
      const rep = (r + j) % replicaUrls.length;
      perReplica[rep]!++;
      conns.push({ url: replicaUrls[rep]!, user: `c${r}m${j}`, room: `conn-${r}`, localAddress: sources[conns.length % sources.length]! });
    }
  }
  return { rooms, conns, perReplica, perSource: Math.ceil(total / sources.length) };
}
