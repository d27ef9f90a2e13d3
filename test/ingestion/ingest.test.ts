// Ingestion end to end: real redis-server, real worker processes, the SQLite file they write
// read back in this process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import type { Store } from '../../services/shared/store/index.js';
import type { ChatMessage } from '../../services/shared/message.js';
import {
  INGEST_GROUP,
  drafts,
  exactlyOnceProblems,
  keysFor,
  openStore,
  produce,
  startWorker,
  storedCount,
  tempDir,
  totalLength,
  totalPending,
} from './fixtures.js';

const PARTITIONS = 4;
const keys = keysFor(PARTITIONS);
// Rooms chosen to cover every partition, a DM room included.
const ROOMS = ['general', 'random', 'dev', 'delta', 'music', 'dm:u1:u2', 'dm:u3:u9'];

let redis: TestRedis;
let store: Store;
let tmp: ReturnType<typeof tempDir>;
const workers: RunningService[] = [];
/** Every message sent in this file, checked for exactly-once storage at each step. */
const allSent: ChatMessage[] = [];

beforeAll(async () => {
  redis = await startRedis();
  tmp = tempDir();
  store = await openStore(tmp.dbPath);
});

afterAll(async () => {
  for (const w of workers) await w.stop('SIGKILL');
  await store?.close();
  await redis?.stop();
  tmp?.cleanup();
});

async function metric(w: RunningService, name: string): Promise<number> {
  const text = await (await fetch(`${w.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  return sum;
}

describe('ingestion workers', { timeout: 240_000 }, () => {
  it('the rooms used here span every partition', () => {
    expect(new Set(ROOMS.map((r) => keys.partitionOf(r))).size).toBe(PARTITIONS);
  });

  it('two workers sharing the group store 5,000 messages exactly once and in id order, including ones sent before any worker ran', async () => {
    const client = redis.client();
    // Sent while no worker (and no consumer group) exists yet: the group must start at 0.
    const early = await produce(client, keys, drafts(2000, ROOMS, (i) => `early ${i}`));

    const env = { redisUrl: redis.url, dbPath: tmp.dbPath, partitions: PARTITIONS, extra: { INGEST_BATCH_SIZE: '200', INGEST_BATCH_MS: '50' } };
    workers.push(await startWorker({ ...env, consumer: 'w1' }), await startWorker({ ...env, consumer: 'w2' }));
    const late = await produce(client, keys, drafts(3000, ROOMS, (i) => `late ${i}`));
    const sent = [...early, ...late];
    allSent.push(...sent);

    await waitFor(async () => (await storedCount(store, ROOMS)) >= sent.length, { timeoutMs: 60_000, what: 'all messages stored' });
    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 20_000, what: 'nothing pending' });
    expect(await exactlyOnceProblems(store, sent)).toBeNull();

    // Both workers did part of the work, and together exactly the whole of it.
    const [a, b] = [await metric(workers[0]!, 'aurora_ingestion_messages_inserted_total'), await metric(workers[1]!, 'aurora_ingestion_messages_inserted_total')];
    expect(a + b).toBe(sent.length);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(await metric(workers[0]!, 'aurora_ingestion_dead_lettered_total')).toBe(0);
  });

  it('trims the ingest streams back to empty once a burst is drained', async () => {
    const client = redis.client();
    const burst = await produce(client, keys, drafts(4000, ROOMS, (i) => `burst ${i}`));
    expect(burst).toHaveLength(4000);
    allSent.push(...burst);
    await waitFor(async () => (await totalPending(client, keys)) === 0 && (await totalLength(client, keys)) === 0, {
      timeoutMs: 60_000,
      what: 'ingest streams trimmed to empty',
    });
    // The group itself survives trimming and keeps working.
    for (const stream of keys.allIngestStreams()) {
      const groups = (await client.xinfo('GROUPS', stream)) as unknown[][];
      expect(groups.map((g) => g[1])).toContain(INGEST_GROUP);
    }
    expect(await storedCount(store, ROOMS)).toBe(5000 + 4000);
    expect(await exactlyOnceProblems(store, allSent)).toBeNull();
  });

  it('survives Redis going away and coming back empty: readiness is red meanwhile, then the group is recreated and storing resumes', async () => {
    await redis.kill();
    await waitFor(async () => (await fetch(`${workers[0]!.adminUrl}/readyz`)).status === 503, { timeoutMs: 30_000, what: 'readyz 503 without redis' });
    // No AOF: the restarted server has no streams and no consumer group.
    await redis.start();
    const client = redis.client();
    const after = await produce(client, keys, drafts(500, ROOMS, (i) => `after restart ${i}`));
    allSent.push(...after);
    await waitFor(async () => (await storedCount(store, ROOMS)) >= allSent.length && (await totalPending(client, keys)) === 0, {
      timeoutMs: 60_000,
      what: 'messages after the restart stored',
    });
    expect(await exactlyOnceProblems(store, allSent)).toBeNull();
    for (const w of workers) {
      await waitFor(async () => (await fetch(`${w.adminUrl}/readyz`)).status === 200, { timeoutMs: 30_000, what: 'ready again' });
    }
  });

  it('serves health, readiness and the ingest metrics', async () => {
    const w = workers[0]!;
    expect((await fetch(`${w.baseUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${w.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { redis: 'ok', store: 'ok', 'store-writes': 'ok' } });
    const text = await (await fetch(`${w.adminUrl}/metrics`)).text();
    for (const name of [
      'aurora_ingestion_batch_size_bucket',
      'aurora_ingestion_insert_seconds_bucket',
      'aurora_ingestion_persist_lag_seconds_bucket',
      'aurora_ingestion_consumer_lag{',
      'aurora_ingestion_pending{',
      'aurora_ingestion_stream_length{',
      'aurora_ingestion_dead_lettered_total',
    ]) {
      expect(text).toContain(name);
    }
    expect(await metric(w, 'aurora_ingestion_batch_size_count')).toBeGreaterThan(0);
  });
});
