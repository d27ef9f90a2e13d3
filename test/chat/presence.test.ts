// Presence across replicas: one user connected through two replicas is one member until its
// last socket anywhere leaves, and an entry swept during a Redis outage is announced again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor, type Frame } from './client.js';

const keys = keysFor(1);
let redis: TestRedis;
let r: Redis;
let a: RunningService;
let b: RunningService;
const clients: TestClient[] = [];

const env = (id: string) => chatEnv(redis.url, id, { PRESENCE_TTL_SEC: '2' });
async function connect(svc: RunningService, user: string): Promise<TestClient> {
  const c = await TestClient.connect(svc.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}
const about = (c: TestClient, uid: string) => c.all('presence', (f) => f.user.id === uid).map((f: Frame) => f.event as string);

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  [a, b] = await Promise.all([startService('chat', env('pres-a')), startService('chat', env('pres-b'))]);
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await redis?.stop();
});

describe('presence across replicas', () => {
  it('a user connected through two replicas stays a member until its last socket leaves, with one join and one leave', async () => {
    const watcher = await connect(a, 'watcher');
    await watcher.join('two-replicas');
    const viaA = await connect(a, 'kim');
    const viaB = await connect(b, 'kim');
    await viaA.join('two-replicas');
    await viaB.join('two-replicas');
    viaB.send({ type: 'leave', room: 'two-replicas' });
    await viaB.next('left');
    // a marker through the same channel: every presence event before it has arrived
    const marker = await connect(b, 'marker');
    await marker.join('two-replicas');
    await watcher.find('presence', (f) => f.user.id === 'marker');
    expect(about(watcher, 'kim')).toEqual(['join']);
    // still listed
    const late = await connect(b, 'late');
    const joined = await late.join('two-replicas');
    expect(joined.members.map((m: { id: string }) => m.id)).toContain('kim');
    // across at least one refresh period it stays that way
    await new Promise((res) => setTimeout(res, 1500));
    expect(about(watcher, 'kim')).toEqual(['join']);

    viaA.send({ type: 'leave', room: 'two-replicas' });
    await waitFor(() => about(watcher, 'kim').length === 2, { what: 'the leave of the last socket' });
    expect(about(watcher, 'kim')).toEqual(['join', 'leave']);
  });

  it('a connected member whose entry was swept (a Redis outage longer than the TTL) is announced again by its replica', async () => {
    const watcher = await connect(a, 'watcher2');
    const bob = await connect(b, 'bob');
    await watcher.join('outage');
    await bob.join('outage');
    await watcher.find('presence', (f) => f.user.id === 'bob' && f.event === 'join');
    // what another replica's sweep does after a long outage: the entry is removed, leave announced
    const entries = await r.zrange(keys.presence('outage'), 0, -1);
    const bobEntries = entries.filter((m) => m.startsWith('bob|'));
    expect(bobEntries.length).toBe(1);
    await r.zrem(keys.presence('outage'), bobEntries[0]!);
    await r.publish(keys.roomChannel('outage'), JSON.stringify({ type: 'presence', room: 'outage', event: 'leave', user: { id: 'bob', name: 'bob' } }));
    // bob is still connected: his replica's refresh puts him back and says so
    await waitFor(() => about(watcher, 'bob').length === 3, { what: 'bob announced again', timeoutMs: 10_000 });
    expect(about(watcher, 'bob')).toEqual(['join', 'leave', 'join']);
    expect((await r.zrange(keys.presence('outage'), 0, -1)).some((m) => m.startsWith('bob|'))).toBe(true);
  });
});
