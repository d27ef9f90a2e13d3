// ioredis clients with one reconnect policy: capped exponential backoff with jitter, errors
// logged (rate-limited) instead of thrown as unhandled 'error' events.
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

export interface RedisClientOptions {
  /** Shown in logs: "main", "subscriber", "worker"... */
  role: string;
  /** Blocking readers and subscribers must not fail queued commands after N retries. */
  blocking?: boolean;
  extra?: RedisOptions;
}

export function createRedis(url: string, log: Logger, opts: RedisClientOptions): Redis {
  const client = new Redis(url, {
    connectionName: `aurora-${opts.role}`,
    lazyConnect: false,
    enableOfflineQueue: true,
    maxRetriesPerRequest: opts.blocking ? null : 2,
    retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)) + Math.floor(Math.random() * 100),
    ...opts.extra,
  });
  let lastErrorLog = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastErrorLog > 5000) {
      lastErrorLog = now;
      log.warn({ err: err.message, role: opts.role }, 'redis connection error');
    }
  });
  client.on('ready', () => log.info({ role: opts.role }, 'redis ready'));
  return client;
}

/** A Redis field/value list (a stream entry, an XINFO reply) as a record; later keys win. */
export function fieldRecord<T>(flat: readonly T[]): Record<string, T> {
  const f: Record<string, T> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[String(flat[i])] = flat[i + 1]!;
  return f;
}

/** QUIT politely, then disconnect whatever is left (quit hangs when Redis is gone). */
export async function closeRedis(client: Redis): Promise<void> {
  try {
    await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 1000))]);
  } catch {
    /* already closed */
  }
  client.disconnect();
}
