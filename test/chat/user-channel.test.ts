// The per-user channel on one replica (user-channels.ts): subscribed while the user has a socket
// there, once however many sockets (reference counted), gone with the last one — so a user who is
// not connected costs no Redis egress; its frames reach only the sockets that have not joined the
// frame's room; after a subscriber reconnect every socket of the user gets `resync`.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor } from './client.js';

let redis: TestRedis;
let r: Redis;
let s: RunningService;
const keys = keysFor(4);

const subscribers = async (channel: string) => Number(((await r.pubsub('NUMSUB', channel)) as [string, number])[1]);

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  s = await startService('chat', chatEnv(redis.url, 'userchan', { PARTITIONS: '4' }), { waitReady: true });
});
afterAll(async () => {
  await s?.stop('SIGKILL');
  await redis?.stop();
});

describe('per-user channel', () => {
  it('is subscribed once per replica while the user has sockets there, and not at all without', async () => {
    const channel = keys.userChannel('uma');
    expect(await subscribers(channel)).toBe(0);
    const a = await TestClient.connect(s.baseUrl, tokenFor('uma'));
    const b = await TestClient.connect(s.baseUrl, tokenFor('uma'));
    await waitFor(async () => (await subscribers(channel)) === 1, { what: 'one subscription for two sockets' });
    await a.close();
    await new Promise((res) => setTimeout(res, 200));
    expect(await subscribers(channel)).toBe(1);
    await b.close();
    await waitFor(async () => (await subscribers(channel)) === 0, { what: 'unsubscribed after the last socket' });
  });

  it('delivers a frame to the sockets that have not joined its room, and only to them', async () => {
    const joined = await TestClient.connect(s.baseUrl, tokenFor('vic'));
    const other = await TestClient.connect(s.baseUrl, tokenFor('vic'));
    await joined.join('somewhere');
    await waitFor(async () => (await subscribers(keys.userChannel('vic'))) === 1, { what: 'subscribed' });
    const frame = { type: 'event', kind: 'member', room: 'somewhere', action: 'invited', member: { id: 'vic', name: 'vic' }, id: '1-0', ts: 1 };
    await r.publish(keys.userChannel('vic'), JSON.stringify(frame));
    expect(await other.find('event', (f) => f.id === '1-0')).toMatchObject(frame);
    await new Promise((res) => setTimeout(res, 200));
    expect(joined.all('event', (f) => f.id === '1-0')).toEqual([]);
    await Promise.all([joined.close(), other.close()]);
  });

  it('after the subscriber reconnects, every socket of a subscribed user gets resync', async () => {
    const c = await TestClient.connect(s.baseUrl, tokenFor('wes'));
    await waitFor(async () => (await subscribers(keys.userChannel('wes'))) === 1, { what: 'subscribed' });
    // kill the replica's subscriber connection (the one subscribed to the channel)
    const clients = (await r.client('LIST')) as string;
    const line = clients.split('\n').find((l) => /sub=[1-9]/.test(l) && / cmd=(subscribe|ssubscribe|ping)/.test(l));
    const id = /id=(\d+)/.exec(line ?? '')?.[1];
    expect(id).toBeDefined();
    await r.client('KILL', 'ID', id!);
    await c.find('resync');
    await waitFor(async () => (await subscribers(keys.userChannel('wes'))) === 1, { what: 're-subscribed' });
    await c.close();
  });
});
