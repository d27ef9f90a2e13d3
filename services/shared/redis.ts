// The one place Redis clients are made: a single node (REDIS_URL) or ioredis' Cluster client
// (REDIS_CLUSTER_NODES), with one reconnect policy — capped exponential backoff with jitter —
// and errors logged (rate-limited) instead of thrown as unhandled 'error' events. Either way the
// caller gets the `Redis` interface: a Cluster implements nearly all of it, and the few places
// that need more (corkPerTurn, commands over keys of several masters: eachCommand) ask
// `redis.isCluster`, which ioredis sets on both.
import { Cluster, Redis, type ClientContext, type ClusterNode, type ClusterOptions, type RedisCommander, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export interface RedisClientOptions {
  /** Shown in logs: "main", "subscriber", "worker"... */
  role: string;
  /** Blocking readers and subscribers must not fail queued commands after N retries. */
  blocking?: boolean;
  /**
   * The chat replica's subscriber: on a Cluster, SSUBSCRIBE goes through one connection per master
   * (ioredis' sharded subscriber group; without it ssubscribe hangs or drops messages, TOOLCHAIN.md).
   * A single node needs nothing: its one connection takes SUBSCRIBE and SSUBSCRIBE alike.
   */
  shardedSubscriber?: boolean;
  /**
   * Per-connection options (a single node's, a Cluster's node connections'). retryStrategy,
   * lazyConnect and enableReadyCheck apply to the Cluster client as a whole.
   */
  extra?: RedisOptions;
}

/** Where Redis is: the config, or (tests, tools) a single node's URL. */
export type RedisTarget = Pick<Config, 'REDIS_URL'> & Partial<Pick<Config, 'REDIS_CLUSTER_NODES'>>;

/** Both modes' node errors: a failover fires ~300 in 4 s (TOOLCHAIN.md); one line per this. */
const ERROR_LOG_EVERY_MS = 5000;

const retryStrategy = (times: number) => Math.min(2000, 50 * 2 ** Math.min(times, 6)) + Math.floor(Math.random() * 100);

export function createRedis(target: RedisTarget | string, log: Logger, opts: RedisClientOptions): Redis {
  const { REDIS_URL: url, REDIS_CLUSTER_NODES: seeds = [] } = typeof target === 'string' ? { REDIS_URL: target } : target;
  const client = seeds.length > 0 ? createCluster(url, seeds, opts) : createNode(url, opts);
  let lastErrorLog = 0;
  let suppressed = 0;
  const onError = (err: Error, node?: string) => {
    const now = Date.now();
    if (now - lastErrorLog <= ERROR_LOG_EVERY_MS) {
      suppressed++;
      return;
    }
    lastErrorLog = now;
    log.warn({ err: err.message, role: opts.role, ...(node ? { node } : {}), ...(suppressed ? { suppressed } : {}) }, 'redis connection error');
    suppressed = 0;
  };
  client.on('error', (err: Error) => onError(err));
  // A Cluster reports each node's connection errors here as well; an unlistened one is dropped.
  client.on('node error', (err: Error, node: string) => onError(err, node));
  client.on('ready', () => log.info({ role: opts.role, ...(client.isCluster ? { cluster: true } : {}) }, 'redis ready'));
  return client;
}

function createNode(url: string, opts: RedisClientOptions): Redis {
  return new Redis(url, {
    connectionName: `aurora-${opts.role}`,
    lazyConnect: false,
    enableOfflineQueue: true,
    maxRetriesPerRequest: opts.blocking ? null : 2,
    retryStrategy,
    ...opts.extra,
  });
}

/** REDIS_CLUSTER_NODES entries: `host:port`, `[v6]:port` or `redis://host:port`. */
export function parseClusterNodes(seeds: readonly string[]): ClusterNode[] {
  return seeds.map((seed) => {
    const u = new URL(seed.includes('://') ? seed : `redis://${seed}`);
    const port = Number(u.port || 6379);
    if (!u.hostname || !Number.isInteger(port)) throw new Error(`REDIS_CLUSTER_NODES: not host:port: ${seed}`);
    return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port };
  });
}

/** What a Cluster's node connections take from REDIS_URL: credentials and TLS, nothing else. */
export function nodeOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  const out: RedisOptions = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') out.tls = {};
  return out;
}

/** The Cluster client's options (exported for its test). */
export function clusterOptions(url: string, opts: RedisClientOptions): ClusterOptions {
  const { retryStrategy: custom, lazyConnect, enableReadyCheck, ...nodeExtra } = opts.extra ?? {};
  return {
    // The whole cluster unreachable (every seed): the single node's backoff. A lost node is
    // found again through MOVED and a slots refresh (ioredis never reconnects one by itself).
    clusterRetryStrategy: custom === undefined ? retryStrategy : (custom ?? (() => null)),
    lazyConnect: lazyConnect ?? false,
    enableReadyCheck: enableReadyCheck ?? true,
    enableOfflineQueue: true,
    shardedSubscribers: opts.shardedSubscriber ?? false,
    // Commands of one turn go to each master in one write: what corkPerTurn does on a single
    // node, and what lets eachCommand send keys of several masters without a round trip each.
    // Blocking readers gain nothing (one command at a time).
    enableAutoPipelining: !opts.blocking,
    // Auto-pipelining routes a command by its first key as @ioredis/commands knows it, else by
    // its FIRST argument: for these (XINFO GROUPS k, XGROUP CREATE k …) that is the subcommand,
    // the wrong master, and the batch fails with MOVED. Sent on their own, ioredis follows MOVED.
    autoPipeliningIgnoredCommands: ['xinfo', 'xgroup', 'object', 'memory'],
    // TLS (rediss://): connect to the names the cluster announces, not to addresses ioredis
    // resolved first — the certificates of managed clusters (ElastiCache) name the hosts.
    ...(new URL(url).protocol === 'rediss:' ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
    redisOptions: {
      ...nodeOptionsFromUrl(url),
      connectionName: `aurora-${opts.role}`,
      maxRetriesPerRequest: opts.blocking ? null : 2,
      ...nodeExtra,
    },
  };
}

function createCluster(url: string, seeds: readonly string[], opts: RedisClientOptions): Redis {
  // Typed as the single-node client the services take: a Cluster has all they use (see top).
  return new Cluster(parseClusterNodes(seeds), clusterOptions(url, opts)) as unknown as Redis;
}

/** A pipeline or a client: each command returns the pipeline or a promise of its reply. */
export type AnyCommander = RedisCommander<ClientContext>;

/**
 * Independent commands over keys that may live on different masters (users' status, sessions,
 * rooms or partitions), replies in call order as pipeline.exec() gives them. `add` issues the
 * commands of one item on `c` and RETURNS them (one, or an array): on a single node `c` is one
 * pipeline, one round trip for all; on a Cluster — which refuses a pipeline spanning masters —
 * `c` is the client, each command is routed by its key and auto-pipelining sends each master's
 * share in one write, all in parallel.
 */
export async function eachCommand<T>(
  redis: Redis,
  items: Iterable<T>,
  add: (c: AnyCommander, item: T) => unknown,
): Promise<[Error | null, unknown][]> {
  if (!redis.isCluster) {
    const pipe = redis.pipeline();
    for (const item of items) add(pipe, item);
    return (await pipe.exec()) ?? [];
  }
  const sent: Promise<unknown>[] = [];
  for (const item of items) {
    const r = add(redis, item);
    for (const p of Array.isArray(r) ? r : [r]) {
      // a command issued but not returned would go unawaited (and its reply missing)
      if (!(p instanceof Promise)) throw new TypeError('eachCommand: `add` must return the command(s) it issues');
      sent.push(p);
    }
  }
  return Promise.all(sent.map((p) => p.then((v): [null, unknown] => [null, v], (e: unknown): [Error, null] => [e instanceof Error ? e : new Error(String(e)), null])));
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
