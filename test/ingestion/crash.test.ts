// Workers that die (SIGKILL), stop (SIGTERM) or restart: every message is stored exactly once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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
  pendingByConsumer,
  produce,
  startWorker,
  storedCount,
  tempDir,
  totalPending,
} from './fixtures.js';

const PARTITIONS = 4;
const keys = keysFor(PARTITIONS);
const ROOMS = ['general', 'random', 'dev', 'delta', 'music', 'dm:u1:u2'];

let redis: TestRedis;
let tmp: ReturnType<typeof tempDir>;
const workers: RunningService[] = [];
const stores: Store[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop('SIGKILL');
  for (const s of stores.splice(0)) await s.close();
  tmp?.cleanup();
  await redis.client().flushall();
});

afterAll(async () => {
  await redis?.stop();
});

async function setup(): Promise<{ store: Store; env: { redisUrl: string; dbPath: string; partitions: number } }> {
  tmp = tempDir();
  const store = await openStore(tmp.dbPath);
  stores.push(store);
  return { store, env: { redisUrl: redis.url, dbPath: tmp.dbPath, partitions: PARTITIONS } };
}

async function consumers(stream: string): Promise<string[]> {
  const rows = (await redis.client().xinfo('CONSUMERS', stream, INGEST_GROUP)) as unknown[][];
  return rows.map((r) => String(r[1]));
}

describe('worker crashes and restarts', { timeout: 240_000 }, () => {
  it('a worker killed with SIGKILL mid-batch loses nothing and duplicates nothing once a fresh worker takes over', async () => {
    const { store, env } = await setup();
    const client = redis.client();
    const sent = await produce(client, keys, drafts(20_000, ROOMS));
    const a = await startWorker({ ...env, consumer: 'doomed', extra: { INGEST_BATCH_SIZE: '500' } });
    workers.push(a);

    // Kill it while it holds entries it has not acked (and after it stored some).
    await waitFor(
      async () => (await storedCount(store, ROOMS)) > 0 && ((await pendingByConsumer(client, keys)).get('doomed') ?? 0) > 0,
      { timeoutMs: 60_000, intervalMs: 5, what: 'worker holding a batch' },
    );
    await a.stop('SIGKILL');
    const orphaned = (await pendingByConsumer(client, keys)).get('doomed') ?? 0;
    expect(orphaned).toBeGreaterThan(0);
    expect(await storedCount(store, ROOMS)).toBeLessThan(sent.length);

    const b = await startWorker({ ...env, consumer: 'rescuer', extra: { INGEST_CLAIM_IDLE_MS: '500' } });
    workers.push(b);
    await waitFor(async () => (await storedCount(store, ROOMS)) >= sent.length && (await totalPending(client, keys)) === 0, {
      timeoutMs: 90_000,
      what: 'everything stored and acked',
    });
    expect(await exactlyOnceProblems(store, sent)).toBeNull();
    expect(b.logs.some((l) => l.includes('claimed idle entries'))).toBe(true);

    // The dead consumer's name does not leak: removed once empty and idle long enough.
    await waitFor(async () => {
      for (const s of keys.allIngestStreams()) if ((await consumers(s)).includes('doomed')) return false;
      return true;
    }, { timeoutMs: 30_000, what: 'dead consumer removed' });
  });

  it('a message stored but not acked before the worker died is recognised on redelivery and not stored twice', async () => {
    const { store, env } = await setup();
    const client = redis.client();
    for (const s of keys.allIngestStreams()) await client.xgroup('CREATE', s, INGEST_GROUP, '0', 'MKSTREAM');
    const sent = await produce(client, keys, drafts(300, ROOMS));
    // A "worker" reads everything and writes half of it to the store, then dies before XACK.
    for (const s of keys.allIngestStreams()) await client.xreadgroup('GROUP', INGEST_GROUP, 'ghost', 'COUNT', 1000, 'STREAMS', s, '>');
    const written: ChatMessage[] = sent.filter((_, i) => i % 2 === 0);
    await store.insertMessages(written);
    expect((await pendingByConsumer(client, keys)).get('ghost')).toBe(300);

    const w = await startWorker({ ...env, consumer: 'fresh', extra: { INGEST_CLAIM_IDLE_MS: '200' } });
    workers.push(w);
    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 30_000, what: 'ghost entries claimed and acked' });
    expect(await exactlyOnceProblems(store, sent)).toBeNull();
    const metrics = await (await fetch(`${w.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/aurora_ingestion_messages_duplicate_total\{[^}]*\} 150\b/);
    expect(metrics).toMatch(/aurora_ingestion_messages_inserted_total\{[^}]*\} 150\b/);
  });

  it('a worker restarted under the same consumer name first stores its own pending entries', async () => {
    const { store, env } = await setup();
    const client = redis.client();
    for (const s of keys.allIngestStreams()) await client.xgroup('CREATE', s, INGEST_GROUP, '0', 'MKSTREAM');
    const sent = await produce(client, keys, drafts(200, ROOMS));
    for (const s of keys.allIngestStreams()) await client.xreadgroup('GROUP', INGEST_GROUP, 'stable-1', 'COUNT', 1000, 'STREAMS', s, '>');
    // Claiming is effectively off here: only the restart drain (XREADGROUP ... 0) can store these.
    const w = await startWorker({ ...env, consumer: 'stable-1', extra: { INGEST_CLAIM_IDLE_MS: '3600000' } });
    workers.push(w);
    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 30_000, what: 'own pending drained' });
    expect(await exactlyOnceProblems(store, sent)).toBeNull();
    expect(w.logs.some((l) => l.includes('own pending entries'))).toBe(true);
  });

  it('SIGTERM under load: the worker acks the batch in hand and exits 0; a fresh worker stores the rest exactly once', async () => {
    const { store, env } = await setup();
    const client = redis.client();
    const sent = await produce(client, keys, drafts(30_000, ROOMS));
    const a = await startWorker({ ...env, consumer: 'leaving', extra: { INGEST_BATCH_SIZE: '500' } });
    workers.push(a);
    await waitFor(async () => (await storedCount(store, ROOMS)) > 0, { timeoutMs: 60_000, intervalMs: 5, what: 'storing started' });
    const code = await a.stop('SIGTERM');
    expect(code).toBe(0);
    expect(a.logs.some((l) => l.includes('shutdown complete'))).toBe(true);
    // Nothing left half-done: the batch in hand (and anything read past it) was stored and acked.
    expect((await pendingByConsumer(client, keys)).get('leaving') ?? 0).toBe(0);
    const storedAtExit = await storedCount(store, ROOMS);
    expect(storedAtExit).toBeLessThan(sent.length);

    const b = await startWorker({ ...env, consumer: 'next' });
    workers.push(b);
    await waitFor(async () => (await storedCount(store, ROOMS)) >= sent.length && (await totalPending(client, keys)) === 0, {
      timeoutMs: 90_000,
      what: 'the rest stored',
    });
    expect(await exactlyOnceProblems(store, sent)).toBeNull();
  });
});
