// The whole product on a real Redis Cluster (issue 18): a 3-master + 3-replica cluster, the users
// service, TWO chat replicas and an ingestion worker all started with REDIS_CLUSTER_NODES (and
// PARTITIONS=12, so every master holds partitions). Members on different replicas send into rooms
// that live on every master: each message is acked, delivered live to the member on the OTHER
// replica, stored exactly once, and a resume by id has no gap. Room channels are sharded pub/sub:
// each room's frames are carried by its own master alone, never broadcast over the cluster bus.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../chat/client.js';
import { apiClient } from '../e2e/http.js';
import { waitFor } from '../helpers/ports.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { startService, type RunningService } from '../helpers/service.js';
import { keys, PARTITIONS, spreadOverMasters, type Spread } from './spread.js';

const JWT_SECRET = 'cluster-test-secret-0123456789abcdef0123';
const ORIGIN = 'http://chat.example.test';

let cluster: TestRedisCluster;
let spread: Spread;
let dir: string;
let users: RunningService;
let chatA: RunningService;
let chatB: RunningService;
let ingest: RunningService;
const open: TestClient[] = [];
const { api, signUp } = apiClient(() => users.baseUrl);

beforeAll(async () => {
  cluster = await startRedisCluster();
  spread = await spreadOverMasters(cluster);
  dir = mkdtempSync(join(tmpdir(), 'aurora-cluster-'));
  const common = {
    REDIS_CLUSTER_NODES: cluster.seeds,
    JWT_SECRET,
    ALLOWED_ORIGINS: ORIGIN,
    LOG_LEVEL: 'warn',
    PARTITIONS: String(PARTITIONS),
    SQLITE_PATH: join(dir, 'aurora.db'),
  };
  const chatEnv = { ...common, HANDSHAKE_MAX_PER_USER: '100000', HANDSHAKE_MAX_PER_IP: '100000', SHUTDOWN_DRAIN_MS: '200' };
  users = await startService('users', { ...common, BCRYPT_COST: '4', REST_MAX_PER_USER: '100000', LOGIN_MAX_PER_IP: '100000' });
  [chatA, chatB, ingest] = await Promise.all([
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-a' }, { waitReady: true }),
    startService('chat', { ...chatEnv, REPLICA_ID: 'chat-b' }, { waitReady: true }),
    startService('ingestion', { ...common, INGEST_CONSUMER: 'w1', INGEST_BATCH_MS: '20' }),
  ]);
}, 120_000);

afterAll(async () => {
  for (const c of open) await c.close().catch(() => {});
  await Promise.all([users, chatA, chatB, ingest].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function connect(token: string, chat: RunningService): Promise<TestClient> {
  const c = await TestClient.connect(chat.baseUrl, token, { origin: ORIGIN });
  open.push(c);
  return c;
}

describe('AuroraChat on a Redis Cluster', { timeout: 90_000 }, () => {
  it('sends on every master: acked, live on the other replica, stored exactly once, resumable without a gap', async () => {
    const ann = await signUp('ann');
    const bob = await signUp('bob');
    const annSock = await connect(ann.token, chatA);
    const bobSock = await connect(bob.token, chatB);
    const rooms = spread.publicRooms;
    for (const room of rooms) {
      await annSock.join(room);
      await bobSock.join(room);
    }
    const sent = new Map<string, string[]>();
    for (let i = 0; i < 10; i++) {
      for (const room of rooms) {
        const ack = await annSock.sendText(room, `m${i} in ${room}`, `c-${room}-${i}`);
        expect(ack.type, JSON.stringify(ack)).toBe('ack');
        sent.set(room, [...(sent.get(room) ?? []), ack.id]);
      }
    }
    // live on the other replica, in order
    for (const room of rooms) {
      await waitFor(() => bobSock.all('message', (f) => f.room === room).length === 10, { timeoutMs: 10_000, what: `live in ${room}` });
      expect(bobSock.all('message', (f) => f.room === room).map((f) => f.id)).toEqual(sent.get(room));
    }
    // stored exactly once
    for (const room of rooms) {
      await waitFor(async () => {
        const page = await api('GET', `/api/rooms/${room}/messages?limit=50`, undefined, bob.token);
        return page.json.messages?.length === 10;
      }, { timeoutMs: 15_000, what: `stored in ${room}` });
      const page = await api('GET', `/api/rooms/${room}/messages?limit=50`, undefined, bob.token);
      expect(page.json.messages.map((m: any) => m.id)).toEqual(sent.get(room));
    }
    // a resume by id on the other replica: exactly the messages after it
    const late = await connect(bob.token, chatA);
    for (const room of rooms) {
      const ids = sent.get(room)!;
      const joined = await late.join(room, ids[4]);
      expect(joined.recovered).toBe(true);
      expect(joined.messages.map((m: any) => m.id)).toEqual(ids.slice(5));
    }
  });

  it('room channels are shard channels: subscribed on the room\'s own master only, probed per partition, /readyz green', async () => {
    const masters = await cluster.masters();
    const count = async (port: number, kind: 'SHARDNUMSUB' | 'NUMSUB', channel: string) =>
      Number(((await cluster.nodeClient(port).call('PUBSUB', kind, channel)) as [string, number])[1]);
    for (const room of spread.publicRooms) {
      const channel = keys.roomChannel(room);
      const owner = await cluster.masterOfSlot(await cluster.slotOf(channel));
      for (const m of masters) {
        // both replicas have members of the room (the first test): both hold a shard subscription on its master
        expect(await count(m.port, 'SHARDNUMSUB', channel), `${room} on ${m.port}`).toBe(m.port === owner.port ? 2 : 0);
        expect(await count(m.port, 'NUMSUB', channel)).toBe(0);
      }
    }
    for (let p = 0; p < PARTITIONS; p++) {
      const channel = keys.shardProbeChannel(p, 'chat-a');
      const owner = await cluster.masterOfSlot(await cluster.slotOf(channel));
      expect(await count(owner.port, 'SHARDNUMSUB', channel), `probe of partition ${p}`).toBe(1);
    }
    for (const chat of [chatA, chatB]) expect((await fetch(`${chat.adminUrl}/readyz`)).status).toBe(200);
    // Redis memory per master (the maxmemory alert is per node)
    const metrics = await (await fetch(`${chatA.adminUrl}/metrics`)).text();
    const nodes = new Set([...metrics.matchAll(/^aurora_chat_redis_used_memory_bytes\{node="([^"]+)"[^}]*\} \d+/gm)].map((m) => m[1]));
    expect(nodes).toEqual(new Set(masters.map((m) => `127.0.0.1:${m.port}`)));
  });
});
