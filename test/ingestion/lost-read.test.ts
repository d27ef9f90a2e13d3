// A read Redis served whose reply never arrived (Redis killed -9 right after answering, a
// connection reset): its entries are pending under the worker's consumer name, and XREADGROUP `>`
// never returns them again. Before this test a worker found them only through the idle claim
// (INGEST_CLAIM_IDLE_MS, 30 s by default) — the redis-restart chaos test once missed an acked
// message in the store for that reason. Now a worker whose read connection dropped re-reads its
// own pending list (ID 0) before new entries, so they are stored within moments of the reconnect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../services/shared/store/index.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import { drafts, exactlyOnceProblems, keysFor, openStore, pendingByConsumer, produce, produceReadElsewhere, startWorker, storedCount, tempDir, totalPending } from './fixtures.js';

const PARTITIONS = 2;
const keys = keysFor(PARTITIONS);
const ROOMS = ['general', 'random', 'dev'];
/** Far beyond the test's waits: a pass cannot come from the idle claim. */
const CLAIM_IDLE_MS = 120_000;

let redis: TestRedis;
let tmp: ReturnType<typeof tempDir>;
let store: Store;
let worker: RunningService;

beforeAll(async () => {
  redis = await startRedis();
  tmp = tempDir();
  store = await openStore(tmp.dbPath);
  worker = await startWorker({ redisUrl: redis.url, dbPath: tmp.dbPath, partitions: PARTITIONS, consumer: 'w1', extra: { INGEST_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS), INGEST_BATCH_MS: '20' } });
}, 30_000);

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await store?.close();
  tmp?.cleanup();
  await redis?.stop();
});

describe('a read whose reply was lost', { timeout: 60_000 }, () => {
  it('is stored soon after the worker\'s connection comes back, exactly once, without waiting for the idle claim', async () => {
    const client = redis.client();
    // The worker runs and is blocked in its read.
    const first = await produce(client, keys, drafts(30, ROOMS));
    await waitFor(async () => (await storedCount(store, ROOMS)) === first.length, { timeoutMs: 15_000, what: 'the first messages stored' });

    const lost = await produceReadElsewhere(client, keys, drafts(40, ROOMS, (i) => `read, reply lost ${i}`), 'w1');
    expect((await pendingByConsumer(client, keys)).get('w1')).toBe(lost.length);

    // The connection drops (every client but this one), as when Redis restarts.
    const dropAt = Date.now();
    await client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    // And the worker goes on with new entries after it.
    const after = await produce(client, keys, drafts(30, ROOMS, (i) => `after the drop ${i}`));

    const all = [...first, ...lost, ...after];
    await waitFor(async () => (await storedCount(store, ROOMS)) === all.length && (await totalPending(client, keys)) === 0, {
      timeoutMs: 15_000,
      what: `all ${all.length} stored and acked (the lost read's ${lost.length} without the ${CLAIM_IDLE_MS / 1000} s idle claim)`,
    });
    expect(Date.now() - dropAt).toBeLessThan(CLAIM_IDLE_MS);
    expect(await exactlyOnceProblems(store, all)).toBeNull();
    expect(worker.logs.some((l) => l.includes('processing own pending entries'))).toBe(true);
  });
});
