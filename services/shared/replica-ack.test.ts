// REDIS_ACK_REPLICAS against real redis-servers: a master alone (every WAIT falls short: the write
// is refused, never acked, and its retry is idempotent), then with a real replica (the reply comes
// only once the replica holds the write), and the group commit: one WAIT per turn, not per write.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { waitFor } from '../../test/helpers/ports.js';
import { ReplicaAckError, scriptCaller, warnIfTooFewReplicas } from './replica-ack.js';

// A write script shaped like send.lua's idempotency: first call writes, a retry answers `dup`.
const LUA = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return {'ok', ARGV[1]} end
return {'dup', redis.call('GET', KEYS[1])}`;

let master: TestRedis;
let replica: TestRedis | undefined;
let redis: Redis;

function caller(replicas: number, timeoutMs = 150) {
  const client = master.client();
  client.defineCommand('ackTest', { numberOfKeys: 1, lua: LUA });
  return { client, call: scriptCaller<[string, string]>(client, 'ackTest', { replicas, timeoutMs }) };
}

async function waitCalls(): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

beforeAll(async () => {
  master = await startRedis();
  redis = master.client();
});

afterAll(async () => {
  await replica?.stop();
  await master.stop();
});

describe('without a replica', () => {
  it('REDIS_ACK_REPLICAS=0 answers at once and sends no WAIT', async () => {
    const { call } = caller(0);
    const before = await waitCalls();
    expect(await call(0, ['k0', 'v0'])).toEqual(['ok', 'v0']);
    expect(await waitCalls()).toBe(before);
  });

  it('REDIS_ACK_REPLICAS=1 refuses the write when no replica confirms it: never a false ack', async () => {
    const { call } = caller(1);
    const err = await call(0, ['k1', 'v1']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplicaAckError);
    expect((err as ReplicaAckError).confirmed).toBe(0);
    // the master has it: the client's retry (same cid) is a `dup`, refused again until replicas confirm
    expect(await redis.get('k1')).toBe('v1');
    await expect(call(0, ['k1', 'other'])).rejects.toBeInstanceOf(ReplicaAckError);
  });

  it('warns at start when a master has fewer replicas than asked for', async () => {
    const lines: object[] = [];
    await warnIfTooFewReplicas(redis, 1, { warn: (o) => lines.push(o) });
    expect(lines).toEqual([expect.objectContaining({ connected: 0, REDIS_ACK_REPLICAS: 1 })]);
  });
});

describe('with a replica', () => {
  let replicaClient: Redis;

  beforeAll(async () => {
    replica = await startRedis({ replicaOf: master.port });
    replicaClient = replica.client();
    await waitFor(async () => /master_link_status:up/.test(await replicaClient.info('replication')), { timeoutMs: 10_000, what: 'replica in sync' });
  });

  it('answers only once the replica holds the write', async () => {
    const { call } = caller(1, 2000);
    expect(await call(0, ['k2', 'v2'])).toEqual(['ok', 'v2']);
    // no wait here: WAIT returned, so the replica already applied it
    expect(await replicaClient.get('k2')).toBe('v2');
    // the retry of a write refused earlier is confirmed now
    expect(await call(0, ['k1', 'ignored'])).toEqual(['dup', 'v1']);
    const lines: object[] = [];
    await warnIfTooFewReplicas(redis, 1, { warn: (o) => lines.push(o) });
    expect(lines).toEqual([]);
  });

  it('one WAIT per event-loop turn: 200 writes of one turn wait together', async () => {
    const { call } = caller(1, 2000);
    const before = await waitCalls();
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => call(i % 7, [`turn:${i}`, `v${i}`])));
    expect(replies.every(([status]) => status === 'ok')).toBe(true);
    // one WAIT for the whole turn on a single node (INFO is not counted as one)
    expect((await waitCalls()) - before).toBe(1);
    expect(await replicaClient.get('turn:199')).toBe('v199');
  });

  it('a script error fails only its own call; the others of the turn are acked', async () => {
    const { client, call } = caller(1, 2000);
    client.defineCommand('ackBroken', { numberOfKeys: 1, lua: `return redis.call('INCR', KEYS[1])` });
    await redis.set('text', 'not a number');
    const broken = scriptCaller<number>(client, 'ackBroken', { replicas: 1, timeoutMs: 2000 });
    const [good, bad] = await Promise.allSettled([call(0, ['k3', 'v3']), broken(0, ['text'])]);
    expect(good).toEqual({ status: 'fulfilled', value: ['ok', 'v3'] });
    expect(bad.status).toBe('rejected');
  });
});
