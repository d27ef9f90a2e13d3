// The batch in hand stays ours for as long as it is in hand: a store write that is slow but
// succeeds (here 3x INGEST_CLAIM_IDLE_MS) must not let another consumer claim the batch, which
// would raise its delivery counts towards INGEST_MAX_DELIVERIES. Real redis-server; the store
// is a stand-in whose insert is slow on purpose (what is under test is the worker's touching).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { INGEST_GROUP, keysFor } from '../shared/keys.js';
import { createLogger } from '../shared/logger.js';
import type { ChatMessage } from '../shared/message.js';
import { createMetricsRegistry } from '../shared/ops.js';
import type { Store } from '../shared/store/store.js';
import { waitFor } from '../../test/helpers/ports.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { produce, totalPending } from '../../test/ingestion/fixtures.js';
import { createIngestMetrics } from './metrics.js';
import { IngestWorker } from './worker.js';

const CLAIM_IDLE_MS = 1000;
const SLOW_WRITE_MS = 3 * CLAIM_IDLE_MS;
const keys = keysFor(1);

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

function slowStore(): { store: Store; calls: ChatMessage[][]; writing: () => boolean } {
  const calls: ChatMessage[][] = [];
  let writing = false;
  const store = {
    kind: 'sqlite',
    async insertMessages(messages: readonly ChatMessage[]) {
      calls.push([...messages]);
      writing = true;
      await new Promise((r) => setTimeout(r, SLOW_WRITE_MS));
      writing = false;
      return { inserted: messages.length, duplicates: 0, conflicts: [] };
    },
    async ping() {},
  } as unknown as Store;
  return { store, calls, writing: () => writing };
}

describe('IngestWorker keeps the batch in hand', () => {
  it('a slow but successful store write outlasting INGEST_CLAIM_IDLE_MS lets no other consumer claim the batch', async () => {
    const config = loadConfig('ingestion', {
      REDIS_URL: redis.url,
      PARTITIONS: '1',
      INGEST_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
      INGEST_BATCH_MS: '20',
      INGEST_CONSUMER: 'slow-writer',
      LOG_LEVEL: 'silent',
      NODE_ENV: 'test',
    });
    const log = createLogger({ ...config, prettyLogs: false });
    const client = redis.client();
    const { store, calls, writing } = slowStore();
    const worker = new IngestWorker({
      config,
      log,
      redis: redis.client(),
      reader: redis.client(),
      store,
      keys,
      metrics: createIngestMetrics(createMetricsRegistry(config)),
    });
    const sent = await produce(client, keys, [{ room: 'general' }, { room: 'general' }, { room: 'general' }]);
    worker.start();
    try {
      await waitFor(async () => writing(), { timeoutMs: 20_000, intervalMs: 5, what: 'the slow write under way' });
      // A peer tries to take over idle entries the whole time the write takes.
      let claimed = 0;
      while (writing()) {
        const [, entries] = (await client.call(
          'XAUTOCLAIM', keys.ingestStream(0), INGEST_GROUP, 'peer', String(CLAIM_IDLE_MS), '0-0', 'COUNT', '100',
        )) as [string, unknown[]];
        claimed += entries.length;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(claimed).toBe(0);
      await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 20_000, what: 'batch acked' });
      expect(calls).toHaveLength(1);
      expect(calls[0]!.map((m) => m.id)).toEqual(sent.map((m) => m.id));
    } finally {
      await worker.stop();
    }
  }, 60_000);
});
