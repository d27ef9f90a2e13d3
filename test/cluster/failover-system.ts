// The system the cluster chaos tests break (issue 18): a real 3+3 Redis Cluster, the users
// service, two chat replicas and one ingestion worker, all on REDIS_CLUSTER_NODES with
// PARTITIONS=12, writing SQLite in a temp dir; rooms on every master (two per master) and the
// resilient clients of the single-node chaos tests (test/chaos/) sending into them. stop() kills
// whatever is still running, the cluster included, and removes the temp dir.
import { join } from 'node:path';
import type { Cluster } from 'ioredis';
import { INGEST_GROUP } from '../../services/shared/keys.js';
import { fieldRecord } from '../../services/shared/redis.js';
import type { Store } from '../../services/shared/store/index.js';
import { JWT_SECRET, ORIGIN, tokenFor } from '../chat/client.js';
import type { ResilientClient } from '../chaos/resilient-client.js';
import { spreadClients } from '../chaos/spread-clients.js';
import { waitFor } from '../helpers/ports.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { startService, type RunningService } from '../helpers/service.js';
import { openStore, tempDir } from '../ingestion/fixtures.js';
import { keys, PARTITIONS, spreadOverMasters, type Spread } from './spread.js';

// Delivery and storage are under test, not abuse limits. Info logs: the report counts the
// replicas' subscriber recoveries and 1012 resyncs.
const CHAT_ENV = {
  RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824',
  ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
  MAX_FRAMES_PER_SEC: '10000', SHUTDOWN_DRAIN_MS: '200', LOG_LEVEL: 'info',
};

export interface ClusterChaos {
  cluster: TestRedisCluster;
  spread: Spread;
  users: RunningService;
  chatA: RunningService;
  chatB: RunningService;
  worker: RunningService;
  services: RunningService[];
  store: Store;
  /** Two rooms per master, masters' order (rooms[2i], rooms[2i+1] on spread.masters[i]). */
  rooms: string[];
  /** A plain cluster client for the test's own reads (ingestion progress). */
  redis: Cluster;
  /** Every client startClusterLoad made: stop() stops them first. */
  clients: ResilientClient[];
  stop(): Promise<void>;
}

export async function startClusterChaos(opts: {
  tmpPrefix: string;
  roomPrefix: string;
  env?: Record<string, string>;
  /** 1: a 3+3 cluster. */
  replicasPerMaster?: number;
}): Promise<ClusterChaos> {
  const cluster = await startRedisCluster({ replicasPerMaster: opts.replicasPerMaster ?? 1 });
  const tmp = tempDir(opts.tmpPrefix);
  const services: RunningService[] = [];
  const stopAll = async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await cluster.stop();
    tmp.cleanup();
  };
  try {
    const spread = await spreadOverMasters(cluster);
    const [first, second] = [await spread.roomsFor((i) => `${opts.roomPrefix}a${i}`), await spread.roomsFor((i) => `${opts.roomPrefix}b${i}`)];
    const rooms = first.flatMap((room, i) => [room, second[i]!]);
    const common = {
      REDIS_CLUSTER_NODES: cluster.seeds,
      JWT_SECRET,
      ALLOWED_ORIGINS: ORIGIN,
      PARTITIONS: String(PARTITIONS),
      SQLITE_PATH: join(tmp.dir, 'aurora.db'),
      LOG_LEVEL: 'warn',
      ...opts.env,
    };
    const track = async (p: Promise<RunningService>) => {
      const s = await p;
      services.push(s);
      return s;
    };
    const started = await Promise.allSettled([
      track(startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000' }, { timeoutMs: 30_000 })),
      track(startService('chat', { ...common, ...CHAT_ENV, REPLICA_ID: 'chat-a' }, { waitReady: true, timeoutMs: 30_000 })),
      track(startService('chat', { ...common, ...CHAT_ENV, REPLICA_ID: 'chat-b' }, { waitReady: true, timeoutMs: 30_000 })),
      // A short claim idle: after a failover the promoted replica may list as pending entries
      // the old master had seen acked (replication is asynchronous); they are claimed again.
      track(startService('ingestion', { ...common, LOG_LEVEL: 'info', INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20', INGEST_CLAIM_IDLE_MS: '1000' }, { timeoutMs: 30_000 })),
    ]);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [users, chatA, chatB, worker] = started.map((s) => (s as PromiseFulfilledResult<RunningService>).value) as [RunningService, RunningService, RunningService, RunningService];
    const store = await openStore(join(tmp.dir, 'aurora.db'));
    const clients: ResilientClient[] = [];
    return {
      cluster, spread, users, chatA, chatB, worker, services, store, rooms, clients, redis: cluster.client(),
      async stop() {
        for (const c of clients) c.stop();
        await store.close();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * `count` resilient clients spread over both replicas (client N starts on replica N mod 2, in
 * rooms N and N+1 mod rooms: every room has a member on each replica), joined, each sending one
 * message every `intervalMs` (round-robin over its rooms), until every client has `acks` acks and
 * `minMs` passed. The caller stops them.
 */
export async function startClusterLoad(
  sys: ClusterChaos,
  opts: { count: number; prefix: string; intervalMs: number; acks: number; minMs: number },
): Promise<ResilientClient[]> {
  const clients = spreadClients(opts.count, {
    prefix: opts.prefix,
    urls: [sys.chatA.baseUrl, sys.chatB.baseUrl],
    rooms: sys.rooms,
    origin: ORIGIN,
    token: (u) => tokenFor(u),
    sendIntervalMs: opts.intervalMs,
  });
  sys.clients.push(...clients);
  for (const c of clients) c.start();
  const report = () => clients.map((c) => c.summary()).join('\n');
  await within(() => clients.every((c) => c.allLive), 15_000, () => `every client joined\n${report()}`);
  for (const c of clients) c.startSending();
  const loadAt = Date.now();
  await within(() => Date.now() - loadAt >= opts.minMs && clients.every((c) => c.acks.size >= opts.acks), 15_000, () => `${opts.acks} acks per client\n${report()}`);
  return clients;
}

/** waitFor, with `what` built when it times out (the clients' state then, not at the start). */
export async function within<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, what: () => string): Promise<T> {
  try {
    return await waitFor(fn, { timeoutMs, intervalMs: 50 });
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${what()}`);
  }
}

/**
 * Ingestion has taken and acknowledged every entry of every partition's stream: the group's
 * last-delivered id is the stream's last id and nothing is pending. The event the end of a test
 * waits for (not a store count: on a failover without WAIT some acked entries may be gone).
 */
export async function ingestionCaughtUp(redis: Cluster): Promise<boolean> {
  for (const stream of keys.allIngestStreams()) {
    const info = fieldRecord((await redis.xinfo('STREAM', stream)) as string[]);
    const group = ((await redis.xinfo('GROUPS', stream)) as string[][]).map((g) => fieldRecord(g)).find((g) => g.name === INGEST_GROUP);
    if (!group || group['last-delivered-id'] !== info['last-generated-id'] || Number(group.pending) !== 0) return false;
  }
  return true;
}

/** Every service still runs (same processes) and says ready. */
export async function allReady(sys: ClusterChaos): Promise<boolean> {
  for (const s of sys.services) {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) throw new Error(`${s.name} exited:\n${s.logs.slice(-20).join('\n')}`);
    if (!(await fetch(`${s.adminUrl}/readyz`)).ok) return false;
  }
  return true;
}
