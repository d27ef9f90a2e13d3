// The store unavailable for a while: another connection holds SQLite's write lock
// (BEGIN EXCLUSIVE), so every insert fails with SQLITE_BUSY after the busy timeout. Nothing
// may be acked meanwhile, readiness must be red, and everything is stored once it returns.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import type { Store } from '../../services/shared/store/index.js';
import {
  drafts,
  exactlyOnceProblems,
  keysFor,
  openStore,
  pendingByConsumer,
  produce,
  startWorker,
  storedCount,
  tempDir,
  totalLength,
  totalPending,
} from './fixtures.js';

const PARTITIONS = 2;
const keys = keysFor(PARTITIONS);
const ROOMS = ['general', 'random', 'delta', 'dm:u1:u2'];

let redis: TestRedis;
let store: Store;
let tmp: ReturnType<typeof tempDir>;
let worker: RunningService | undefined;
let locker: Database.Database | undefined;

beforeAll(async () => {
  redis = await startRedis();
  tmp = tempDir();
  store = await openStore(tmp.dbPath);
});

afterAll(async () => {
  if (locker?.inTransaction) locker.exec('ROLLBACK');
  locker?.close();
  await worker?.stop('SIGKILL');
  await store?.close();
  await redis?.stop();
  tmp?.cleanup();
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${worker!.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('store unavailable', { timeout: 240_000 }, () => {
  it('nothing is acked while the store fails, readiness is red, and the backlog is stored once it returns', async () => {
    const client = redis.client();
    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      consumer: 'w1',
      // A short claim-idle: the worker must keep its own stuck batch from being claimed away.
      extra: { INGEST_CLAIM_IDLE_MS: '1500', INGEST_BATCH_SIZE: '500' },
    });
    await waitFor(async () => (await fetch(`${worker!.adminUrl}/readyz`)).status === 200, { what: 'ready' });

    locker = new Database(tmp.dbPath);
    locker.exec('BEGIN EXCLUSIVE');

    const first = await produce(client, keys, drafts(300, ROOMS, (i) => `during outage ${i}`));
    await waitFor(async () => (await fetch(`${worker!.adminUrl}/readyz`)).status === 503, { timeoutMs: 30_000, what: 'readyz 503' });
    const body = (await (await fetch(`${worker!.adminUrl}/readyz`)).json()) as { checks: Record<string, string> };
    expect(body.checks['store-writes']).toMatch(/failed/);

    // More traffic while the store is down: it waits in Redis.
    const second = await produce(client, keys, drafts(200, ROOMS, (i) => `still down ${i}`));
    await waitFor(async () => (await metric('aurora_ingestion_store_failures_total')) >= 3, { timeoutMs: 60_000, what: 'several failed attempts' });

    // Nothing acked: every entry is still in the streams, the first batch pending on w1.
    expect(await totalLength(client, keys)).toBe(500);
    expect((await pendingByConsumer(client, keys)).get('w1')).toBe(300);
    expect([...(await pendingByConsumer(client, keys)).keys()]).toEqual(['w1']);
    expect(await storedCount(store, ROOMS)).toBe(0);

    locker.exec('ROLLBACK');
    locker.close();
    locker = undefined;

    const sent = [...first, ...second];
    await waitFor(async () => (await storedCount(store, ROOMS)) >= sent.length && (await totalPending(client, keys)) === 0, {
      timeoutMs: 60_000,
      what: 'backlog stored',
    });
    expect(await exactlyOnceProblems(store, sent)).toBeNull();
    await waitFor(async () => (await fetch(`${worker!.adminUrl}/readyz`)).status === 200, { timeoutMs: 30_000, what: 'ready again' });
    await waitFor(async () => (await totalLength(client, keys)) === 0, { timeoutMs: 30_000, what: 'trimmed' });
  });

  it('SIGTERM while the store is down gives up after the drain window, exits 0 and leaves the batch pending for the next worker', async () => {
    const client = redis.client();
    await worker?.stop('SIGKILL');
    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      consumer: 'w2',
      extra: { SHUTDOWN_DRAIN_MS: '1000' },
    });
    locker = new Database(tmp.dbPath);
    locker.exec('BEGIN EXCLUSIVE');
    const storedBefore = await storedCount(store, ROOMS);
    const sent = await produce(client, keys, drafts(100, ROOMS, (i) => `at shutdown ${i}`));
    await waitFor(async () => ((await pendingByConsumer(client, keys)).get('w2') ?? 0) === 100, { timeoutMs: 30_000, what: 'batch in hand' });

    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(worker.logs.some((l) => l.includes('batch left pending'))).toBe(true);
    expect((await pendingByConsumer(client, keys)).get('w2')).toBe(100);

    locker.exec('ROLLBACK');
    locker.close();
    locker = undefined;
    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      consumer: 'w3',
      extra: { INGEST_CLAIM_IDLE_MS: '300' },
    });
    await waitFor(async () => (await storedCount(store, ROOMS)) >= storedBefore + sent.length && (await totalPending(client, keys)) === 0, {
      timeoutMs: 60_000,
      what: 'left-over batch stored by the next worker',
    });
    expect(await storedCount(store, ROOMS)).toBe(storedBefore + sent.length);
  });
});
