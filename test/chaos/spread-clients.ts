// The chaos tests' population of clients: spread over the replicas so that every room has
// members on every replica, which is what makes cross-replica fan-out and a replica's death
// visible in every room.
import { ResilientClient, type ResilientClientOptions } from './resilient-client.js';

/**
 * `count` clients, user `<prefix>N`, spread over the replicas (client N starts on urls[N mod R]
 * and knows every URL), each in two of `rooms` (N and N+1 mod rooms) so every room has members
 * on every replica.
 */
export function spreadClients(
  count: number,
  {
    prefix,
    urls,
    rooms,
    origin,
    token,
    sendIntervalMs,
    traffic,
  }: {
    prefix: string;
    urls: string[];
    rooms: string[];
    origin: string;
    token: (user: string) => string;
    sendIntervalMs?: number;
    traffic?: ResilientClientOptions['traffic'];
  },
): ResilientClient[] {
  return Array.from({ length: count }, (_, i) => {
    const user = `${prefix}${i}`;
    const start = i % urls.length;
    const mine = rooms.length <= 2 ? [...rooms] : [rooms[i % rooms.length]!, rooms[(i + 1) % rooms.length]!];
    return new ResilientClient({
      user,
      token: token(user),
      urls: [...urls.slice(start), ...urls.slice(0, start)],
      rooms: mine,
      origin,
      ...(sendIntervalMs ? { sendIntervalMs } : {}),
      ...(traffic ? { traffic } : {}),
    });
  });
}
