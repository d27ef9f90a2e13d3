// Redis memory as Prometheus gauges, read by every chat replica from `INFO memory` when
// /metrics is scraped. Redis runs with maxmemory + noeviction (never evict a room log, an
// idempotency key or an unpersisted ingest entry), so when it is full every write fails for
// everyone: k8s/base/60-alerts.yaml warns at 80 % of maxmemory, while there is still time to act.
// Read on scrape (no timer): no scrape, no Redis call; the read is bounded by a timeout so a
// slow Redis never stalls the whole /metrics answer (the gauges then keep their last value).
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../shared/logger.js';

export const REDIS_INFO_TIMEOUT_MS = 1000;

/** The numeric fields of an `INFO` section (`name:value` lines); non-numeric ones are skipped. */
export function parseInfoNumbers(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of info.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0 || line.startsWith('#')) continue;
    const value = Number(line.slice(i + 1).trim());
    if (Number.isFinite(value)) out[line.slice(0, i)] = value;
  }
  return out;
}

/** The masters to read: a single node, or each master of a Cluster (each has its own maxmemory). */
function mastersOf(redis: Redis): Redis[] {
  return redis.isCluster ? (redis as unknown as { nodes(role: 'master'): Redis[] }).nodes('master') : [redis];
}

/** One node's INFO memory numbers, or undefined on error or past the timeout. */
function readNode(node: Redis, log: Logger): Promise<Record<string, number> | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), REDIS_INFO_TIMEOUT_MS);
    node.info('memory').then(
      (info) => {
        clearTimeout(timer);
        resolve(parseInfoNumbers(info));
      },
      (err: unknown) => {
        clearTimeout(timer);
        log.debug({ err: (err as Error).message }, 'INFO memory failed');
        resolve(undefined);
      },
    );
  });
}

/**
 * Labelled by `node` (host:port): on a Redis Cluster every master fills up on its own, and the
 * alert is per node (k8s/base/60-alerts.yaml `max by (node)`). A node that did not answer in time
 * keeps its last value; a node no longer a master (failed over) is dropped.
 */
export function createRedisMemoryGauges(registry: Registry, redis: Redis, log: Logger) {
  type Reading = Map<string, Record<string, number> | undefined>;
  let pending: Promise<Reading> | undefined;
  // Both gauges are collected in one scrape: one INFO per master serves both.
  const read = () => {
    pending ??= Promise.all(
      mastersOf(redis).map(async (node): Promise<[string, Record<string, number> | undefined]> => [`${node.options.host}:${node.options.port}`, await readNode(node, log)]),
    )
      .then((entries) => new Map(entries))
      .finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  const gauge = (name: string, help: string, field: string) => {
    const shown = new Set<string>();
    return new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      async collect() {
        const reading = await read();
        for (const node of shown) {
          if (reading.has(node)) continue;
          this.remove({ node });
          shown.delete(node);
        }
        for (const [node, numbers] of reading) {
          const v = numbers?.[field];
          if (v === undefined) continue;
          this.set({ node }, v);
          shown.add(node);
        }
      },
    });
  };
  return {
    used: gauge('aurora_chat_redis_used_memory_bytes', 'Redis used_memory (INFO memory) per master, read when scraped', 'used_memory'),
    max: gauge(
      'aurora_chat_redis_maxmemory_bytes',
      'Redis maxmemory per master (0 = unlimited); writes fail with OOM (noeviction) once used_memory reaches it',
      'maxmemory',
    ),
  };
}
