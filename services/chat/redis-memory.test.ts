// The Redis memory gauges against a real redis-server: one series per master, labelled by node,
// with the values INFO reports (the cluster case runs in test/cluster/services.test.ts).
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { createLogger } from '../shared/logger.js';
import { createRedisMemoryGauges } from './redis-memory.js';

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

it('exports used_memory and maxmemory of the node, labelled by it', async () => {
  const client = redis.client();
  await client.config('SET', 'maxmemory', String(64 * 1024 * 1024));
  const registry = new Registry();
  createRedisMemoryGauges(registry, client, createLogger({ service: 'chat', replicaId: 'test', LOG_LEVEL: 'silent', prettyLogs: false }));
  const text = await registry.metrics();
  const node = `127.0.0.1:${redis.port}`;
  expect(text).toContain(`aurora_chat_redis_maxmemory_bytes{node="${node}"} ${64 * 1024 * 1024}`);
  const used = Number(new RegExp(`aurora_chat_redis_used_memory_bytes\\{node="${node.replace(/\./g, '\\.')}"\\} (\\d+)`).exec(text)?.[1]);
  expect(used).toBeGreaterThan(100_000);
  // a second scrape answers the same series (no duplicates, no recursion)
  expect((await registry.metrics()).match(/^aurora_chat_redis_used_memory_bytes\{/gm)).toHaveLength(1);
});
