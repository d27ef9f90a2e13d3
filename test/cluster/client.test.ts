// Issue 18 part 2: the one client factory (services/shared/redis.ts) in Cluster mode against a
// real 3-master cluster — REDIS_CLUSTER_NODES gives a working Cluster client (plain, blocking,
// with REDIS_URL's credentials or none), commands over keys of every master work through it,
// and a master's failover is ~300 connection errors that reach the log as a few lines.
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGroups } from '../../services/ingestion/streams.js';
import { storedUpTo } from '../../services/notify/stored.js';
import { loadConfig } from '../../services/shared/config.js';
import { INGEST_GROUP } from '../../services/shared/keys.js';
import type { Logger } from '../../services/shared/logger.js';
import { closeRedis, clusterOptions, createRedis, eachCommand, nodeOptionsFromUrl, parseClusterNodes } from '../../services/shared/redis.js';
import { waitFor } from '../helpers/ports.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { keys, spreadOverMasters, type Spread } from './spread.js';

const silent = pino({ level: 'silent' });
let cluster: TestRedisCluster;
let spread: Spread;
const clients: Redis[] = [];

/** The config a service would load with REDIS_CLUSTER_NODES set (REDIS_URL: default or given). */
const configWith = (env: Record<string, string> = {}) => loadConfig('chat', { REDIS_CLUSTER_NODES: cluster.seeds, ...env });

function client(env: Record<string, string> = {}, opts: { blocking?: boolean; log?: Logger } = {}): Redis {
  const c = createRedis(configWith(env), opts.log ?? silent, { role: 'test', blocking: opts.blocking });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  spread = await spreadOverMasters(cluster);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.stop();
});

describe('createRedis options (no Redis needed)', () => {
  it('parses REDIS_CLUSTER_NODES as host:port, [v6]:port or a redis:// URL', () => {
    expect(parseClusterNodes(['10.0.0.1:7000', '[::1]:7001', 'redis://node-3.redis:7002', 'redis-4'])).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '::1', port: 7001 },
      { host: 'node-3.redis', port: 7002 },
      { host: 'redis-4', port: 6379 },
    ]);
  });

  it('takes only credentials and TLS from REDIS_URL for the nodes; none when it has none', () => {
    expect(nodeOptionsFromUrl('redis://127.0.0.1:6379')).toEqual({});
    expect(nodeOptionsFromUrl('rediss://app:p%40ss@redis.example:6380/3')).toEqual({ username: 'app', password: 'p@ss', tls: {} });
    const main = clusterOptions('redis://:pw@x:1', { role: 'main' });
    expect(main).toMatchObject({ enableAutoPipelining: true, redisOptions: { password: 'pw', connectionName: 'aurora-main', maxRetriesPerRequest: 2 } });
    const reader = clusterOptions('redis://x:1', { role: 'reader', blocking: true });
    expect(reader).toMatchObject({ enableAutoPipelining: false, redisOptions: { maxRetriesPerRequest: null } });
    expect(reader.redisOptions).not.toHaveProperty('password');
    // TLS: names are handed to the TLS connect as they are (a managed cluster's certificate names them)
    expect(main).not.toHaveProperty('dnsLookup');
    const tls = clusterOptions('rediss://x:1', { role: 'main' });
    let resolved = '';
    tls.dnsLookup!('node-1.cache.example', (_err, address) => (resolved = address));
    expect(resolved).toBe('node-1.cache.example');
  });
});

describe('createRedis with REDIS_CLUSTER_NODES against a real cluster', () => {
  it('gives a Cluster client, typed as the services take it, that reaches keys on every master', async () => {
    const r = client();
    expect(r.isCluster).toBe(true);
    const users = await spread.namesFor((u) => keys.userStatus(u), 'client-user-');
    // one turn's commands to every master (auto-pipelined per master), then eachCommand's
    await Promise.all(users.map((u) => r.hset(keys.userStatus(u), 'on', u)));
    const replies = await eachCommand(r, users, (c, u) => c.hget(keys.userStatus(u), 'on'));
    expect(replies).toEqual(users.map((u) => [null, u]));
    // a single-node pipeline over the same keys is what ioredis refuses on a Cluster: eachCommand is needed
    await expect(r.pipeline().get(keys.userStatus(users[0]!)).get(keys.userStatus(users[1]!)).exec()).rejects.toThrow(/same slots allocation group/);
  });

  it('XINFO and XGROUP (a subcommand before the key) reach the right master through auto-pipelining: storedUpTo and ensureGroups over every partition', async () => {
    const r = client();
    const streams = spread.partitionPerMaster.map((p) => keys.ingestStream(p));
    for (const s of streams) await r.del(s);
    await ensureGroups(r, streams, INGEST_GROUP); // XGROUP CREATE … MKSTREAM per stream
    const points = await storedUpTo(r, streams);
    expect([...points.values()]).toEqual(streams.map(() => '0-1')); // the successor of 0-0: nothing stored yet
  });

  it('a blocking reader (blocking: true) waits on a stream of each master and wakes on its XADD', async () => {
    const reader = client({}, { blocking: true });
    const writer = client();
    for (const p of spread.partitionPerMaster) {
      const stream = keys.deadLetter(p);
      const last = (await writer.xadd(stream, '*', 'n', 'before'))!;
      const read = reader.xread('BLOCK', 10_000, 'STREAMS', stream, last);
      const master = cluster.nodeClient(spread.masters[spread.masterOfPartition[p]!]!.port);
      await waitFor(async () => /blocked_clients:[1-9]/.test(await master.info('clients')), { what: 'the XREAD blocked on its master' });
      await writer.xadd(stream, '*', 'n', `after-${p}`);
      const reply = (await read) as [string, [string, string[]][]][];
      expect(reply[0]![1][0]![1]).toEqual(['n', `after-${p}`]);
    }
  });

  it('authenticates every node with the user and password of REDIS_URL', async () => {
    for (const n of cluster.nodes) await cluster.nodeClient(n.port).call('ACL', 'SETUSER', 'aurora-app', 'on', '>s3cret', '~*', '&*', '+@all');
    const authed = client({ REDIS_URL: 'redis://aurora-app:s3cret@127.0.0.1:1' });
    const anonymous = client();
    for (const room of spread.publicRooms) {
      await authed.set(keys.roomSeq(room), '1');
      expect(await authed.get(keys.roomSeq(room))).toBe('1');
    }
    // a keyless command goes to a random node: asked as often as there are nodes
    const whoami = async (c: Redis) => Promise.all(cluster.nodes.map(() => c.call('ACL', 'WHOAMI')));
    expect(new Set(await whoami(authed))).toEqual(new Set(['aurora-app']));
    expect(new Set(await whoami(anonymous))).toEqual(new Set(['default']));
  });

  it('a failover (kill -9 of a master) is hundreds of connection errors logged as a few rate-limited lines; commands work again on the promoted replica', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => void (lines.push(chunk.toString()), done()) });
    const r = client({}, { log: pino({ level: 'warn' }, sink) as unknown as Logger });
    let errors = 0;
    r.on('node error', () => errors++);
    r.on('error', () => errors++);
    const room = spread.publicRooms[0]!;
    // WAIT in the SET's pipeline reaches the SET's master (TOOLCHAIN.md): its replica holds it
    const [, [, acked]] = (await r.pipeline().set(keys.roomSeq(room), '5').wait(1, 5000).exec()) as [unknown, [null, number]];
    expect(acked).toBe(1);
    await cluster.killNode(spread.masters[spread.masterOfPartition[keys.partitionOf(room)]!]!.port);
    await waitFor(async () => (await r.incr(keys.roomSeq(room)).catch(() => 0)) > 5, { what: 'the key served by the promoted replica', timeoutMs: 20_000, intervalMs: 200 });
    await cluster.waitHealthy(20_000);
    const logged = lines.filter((l) => l.includes('redis connection error'));
    expect(errors).toBeGreaterThan(logged.length);
    expect(logged.length).toBeLessThanOrEqual(Math.ceil(20_000 / 5000) + 1);
    await closeRedis(r);
  });
});
