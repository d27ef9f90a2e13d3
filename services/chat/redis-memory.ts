// Redis memory as Prometheus gauges, read by every chat replica from `INFO memory` when
// /metrics is scraped. Redis runs with maxmemory + noeviction (never evict a room log, an
// idempotency key or an unpersisted ingest entry), so when it is full every write fails for
// everyone: k8s/60-alerts.yaml warns at 80 % of maxmemory, while there is still time to act.
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

export function createRedisMemoryGauges(registry: Registry, redis: Redis, log: Logger) {
  let pending: Promise<Record<string, number> | undefined> | undefined;
  // Both gauges are collected in one scrape: one INFO call serves both.
  const read = () => {
    pending ??= new Promise<Record<string, number> | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), REDIS_INFO_TIMEOUT_MS);
      redis.info('memory').then(
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
    }).finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  const gauge = (name: string, help: string, field: string) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const v = (await read())?.[field];
        if (v !== undefined) this.set(v);
      },
    });
  return {
    used: gauge('aurora_redis_used_memory_bytes', 'Redis used_memory (INFO memory), read when scraped', 'used_memory'),
    max: gauge(
      'aurora_redis_maxmemory_bytes',
      'Redis maxmemory (0 = unlimited); writes fail with OOM (noeviction) once used_memory reaches it',
      'maxmemory',
    ),
  };
}
