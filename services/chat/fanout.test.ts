// Fanout's bookkeeping against a real redis-server and a real ioredis subscriber connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Counter, Histogram, Registry } from 'prom-client';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { waitFor } from '../../test/helpers/ports.js';
import { Fanout, type FanoutMember } from './fanout.js';

const keys = keysFor(1);
const config = loadConfig('chat', { LOG_LEVEL: 'silent', REPLICA_ID: 'fanout-unit' });
const log = createLogger(config);
let redis: TestRedis;
let admin: Redis;
let main: Redis;
let sub: Redis;
let fanout: Fanout;

const member = (): FanoutMember & { got: string[] } => {
  const got: string[] = [];
  return { got, receive: (_room, data) => void got.push(data.toString()), close: () => {} };
};

beforeAll(async () => {
  redis = await startRedis();
  admin = redis.client();
  main = createRedis(redis.url, log, { role: 'main' });
  sub = createRedis(redis.url, log, { role: 'subscriber', blocking: true, extra: { enableReadyCheck: false, autoResubscribe: false } });
  const registry = new Registry();
  const metrics = {
    framesOut: new Counter({ name: 'f_out', help: 'x', registers: [registry] }),
    fanoutLatency: new Histogram({ name: 'f_lat', help: 'x', registers: [registry] }),
  };
  fanout = new Fanout(sub, keys, log, metrics, config.replicaId, { redis: main, recoveryMax: 10 });
  await waitFor(() => sub.status === 'ready', { what: 'subscriber ready' });
});
afterAll(async () => {
  sub?.disconnect();
  main?.disconnect();
  await redis?.stop();
});

describe('Fanout', () => {
  it('the last member out unsubscribes and forgets the room', async () => {
    const m = member();
    await fanout.add('plain', m);
    expect(fanout.subscribedCount()).toBe(1);
    await admin.publish(keys.roomChannel('plain'), '{"type":"presence"}');
    await waitFor(() => m.got.length === 1, { what: 'delivery' });
    fanout.remove('plain', m);
    await waitFor(() => fanout.trackedRooms() === 0, { what: 'room forgotten' });
    expect(fanout.subscribedCount()).toBe(0);
    expect(Number(((await admin.pubsub('NUMSUB', keys.roomChannel('plain'))) as [string, number])[1])).toBe(0);
  });

  it('a room whose SUBSCRIBE was rejected is forgotten when its member goes', async () => {
    // Redis refuses SUBSCRIBE on this channel (ACL): the join fails, the member is removed
    await admin.call('ACL', 'SETUSER', 'default', 'resetchannels', '&aurora:probe:*', `&${keys.roomChannel('allowed')}`);
    try {
      const m = member();
      await expect(fanout.add('denied', m)).rejects.toThrow(/NOPERM|permission/i);
      fanout.remove('denied', m);
      await waitFor(() => fanout.trackedRooms() === 0, { what: 'the rejected room forgotten' });
      expect(fanout.localRooms()).toEqual([]);
      // and a later join of it works once Redis allows it
      await admin.call('ACL', 'SETUSER', 'default', 'allchannels');
      const again = member();
      await fanout.add('denied', again);
      expect(fanout.subscribedCount()).toBe(1);
      fanout.remove('denied', again);
      await waitFor(() => fanout.trackedRooms() === 0, { what: 'forgotten again' });
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', 'allchannels');
    }
  });
});
