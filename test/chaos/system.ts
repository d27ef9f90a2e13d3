// The system the chaos tests break: a throwaway Redis, two chat replicas and one ingestion worker
// writing SQLite in a temp dir (startWorker adds a replacement), plus a store handle to read
// what was stored. stop() kills whatever is still running and removes the temp dir.
import type { ChatMessage } from '../../services/shared/message.js';
import type { Store } from '../../services/shared/store/index.js';
import { ORIGIN, chatEnv, tokenFor } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { openStore, startWorker, storedMessages, tempDir } from '../ingestion/fixtures.js';
import { ackedByRoom, deliveryProblems, everyAckReceived, sortIds, storeProblems } from './delivery-checks.js';
import type { ResilientClient, ResilientClientOptions } from './resilient-client.js';
import { spreadClients } from './spread-clients.js';

export interface ChaosSystem {
  redis: TestRedis;
  chatA: RunningService;
  chatB: RunningService;
  worker: RunningService;
  store: Store;
  /** The SQLite file the workers write. */
  dbPath: string;
  /** Another worker on the same streams and file (a replacement); stop() kills it too. */
  startWorker(consumer: string, extra?: Record<string, string>): Promise<RunningService>;
  stop(): Promise<void>;
}

export async function startChaosSystem(opts: {
  /**
   * Redis with AOF on and `appendfsync always`: the data survives a kill -9 and restart. (Under
   * `everysec` a busy disk can cost acked writes on a kill -9 — README "What an ack promises" —
   * and these tests assert that nothing acked is lost.)
   */
  appendonly?: boolean;
  tmpPrefix: string;
  /** Extra env for both replicas (limits, PARTITIONS, LOG_LEVEL). */
  chat: Record<string, string>;
  /** Extra env for the worker (e.g. a longer INGEST_BATCH_MS, so a batch stays in hand). */
  worker?: Record<string, string>;
}): Promise<ChaosSystem> {
  const redis = await startRedis(opts.appendonly ? { appendonly: true, appendfsync: 'always' } : {});
  const tmp = tempDir(opts.tmpPrefix);
  const partitions = Number(opts.chat.PARTITIONS ?? 1);
  const started = await Promise.allSettled([
    startService('chat', chatEnv(redis.url, 'chat-a', opts.chat), { waitReady: true, timeoutMs: 30_000 }),
    startService('chat', chatEnv(redis.url, 'chat-b', opts.chat), { waitReady: true, timeoutMs: 30_000 }),
    startWorker({ redisUrl: redis.url, dbPath: tmp.dbPath, partitions, consumer: 'w1', extra: { INGEST_BATCH_MS: '20', LOG_LEVEL: 'warn', ...opts.worker } }),
  ]);
  const services = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stopAll = async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await redis.stop();
    tmp.cleanup();
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const [chatA, chatB, worker] = services as [RunningService, RunningService, RunningService];
  const store = await openStore(tmp.dbPath);
  return {
    redis,
    chatA,
    chatB,
    worker,
    store,
    dbPath: tmp.dbPath,
    async startWorker(consumer, extra = {}) {
      const w = await startWorker({ redisUrl: redis.url, dbPath: tmp.dbPath, partitions, consumer, extra: { INGEST_BATCH_MS: '20', LOG_LEVEL: 'info', ...extra } });
      services.push(w);
      return w;
    },
    async stop() {
      await store.close();
      await stopAll();
    },
  };
}

/**
 * The load phase the fault tests start with: `count` browser-like clients spread over both
 * replicas (each in two of `rooms`), joined, sending every 40 ms (`traffic`: what each tick
 * sends, new messages by default), until every client has `acks` message acks and at least
 * `minMs` passed. The caller stops them (client.stop()).
 */
export async function startLoad(
  sys: ChaosSystem,
  opts: { count: number; prefix: string; rooms: string[]; acks: number; minMs: number; traffic?: ResilientClientOptions['traffic'] },
): Promise<ResilientClient[]> {
  const clients = spreadClients(opts.count, {
    prefix: opts.prefix,
    urls: [sys.chatA.baseUrl, sys.chatB.baseUrl],
    rooms: opts.rooms,
    origin: ORIGIN,
    token: (u) => tokenFor(u),
    sendIntervalMs: 40,
    ...(opts.traffic ? { traffic: opts.traffic } : {}),
  });
  for (const c of clients) c.start();
  await waitFor(() => clients.every((c) => c.allLive), { timeoutMs: 15_000, what: 'every client joined' });
  for (const c of clients) c.startSending();
  const loadAt = Date.now();
  await waitFor(() => Date.now() - loadAt >= opts.minMs && clients.every((c) => c.acks.size >= opts.acks), {
    timeoutMs: 15_000,
    what: `${opts.acks} acks per client`,
  });
  return clients;
}

export interface Outcome {
  /** room -> acked id -> cid, from every client's acks. */
  acked: ReturnType<typeof ackedByRoom>;
  total: number;
  /** room -> what the store holds. */
  stored: Map<string, ChatMessage[]>;
  /** Lost, doubled or unacked rows in the store (storeProblems). */
  storeProblems: string[];
  /** Per client: missing, extra, out of order, gaps (deliveryProblems against the store). */
  deliveryProblems: string[];
  /** Deliveries the clients' id dedup absorbed. */
  duplicates: number;
}

/**
 * The end of both fault tests: stop sending, wait for the outboxes to drain, let delivery and
 * storage settle (bounded: the problem lists say what is missing if they never do), and compare
 * the store and every client with what was acked.
 */
export async function drainAndCompare(sys: ChaosSystem, clients: ResilientClient[], rooms: string[], report: () => string): Promise<Outcome> {
  for (const c of clients) c.stopSending();
  await waitFor(() => clients.every((c) => c.outboxSize === 0), { timeoutMs: 15_000, what: `outboxes drained\n${report()}` });
  const acked = ackedByRoom(clients);
  const total = [...acked.values()].reduce((n, m) => n + m.size, 0);
  await waitFor(() => everyAckReceived(clients), { timeoutMs: 8_000, what: 'every acked message at every member' }).catch(() => {});
  const stored = new Map<string, ChatMessage[]>();
  await waitFor(
    async () => {
      for (const room of rooms) stored.set(room, await storedMessages(sys.store, room));
      return rooms.every((room) => (stored.get(room)?.length ?? 0) >= (acked.get(room)?.size ?? 0));
    },
    { timeoutMs: 15_000, intervalMs: 200, what: `${total} acked messages in the store` },
  ).catch(() => {});
  const expected = new Map([...stored].map(([room, rows]) => [room, sortIds(rows.map((m) => m.id))]));
  return {
    acked,
    total,
    stored,
    storeProblems: storeProblems(stored, acked),
    deliveryProblems: clients.flatMap((c) => deliveryProblems(c, expected)),
    duplicates: clients.reduce((n, c) => n + c.totalDuplicates(), 0),
  };
}
