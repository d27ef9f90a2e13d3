// The replica's subscriber connection under bad timing: a cold start while Redis answers late,
// and reconnects during which messages are acked. "Acked ⇒ delivered live to every connected
// member" must hold through both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor, type Frame } from './client.js';
import { startRedisProxy, type RedisProxy } from './redis-proxy.js';

const keys = keysFor(1);
let redis: TestRedis;
let r: Redis;
const services: RunningService[] = [];
const clients: TestClient[] = [];
const proxies: RedisProxy[] = [];

async function replica(id: string, extra: Record<string, string> = {}): Promise<RunningService> {
  const s = await startService('chat', chatEnv(redis.url, id, { RATE_LIMIT_MESSAGES: '1000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', ...extra }));
  services.push(s);
  return s;
}
async function connect(svc: RunningService, user: string): Promise<TestClient> {
  const c = await TestClient.connect(svc.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}
const readyStatus = async (s: RunningService) => (await fetch(s.adminUrl + '/readyz')).status;
/** Replicas subscribed to a room's channel (a shard channel: SHARDNUMSUB). */
const numsub = async (room: string) => Number(((await r.pubsub('SHARDNUMSUB', keys.roomChannel(room))) as [string, number])[1]);
const clientCount = async () => String(await r.call('CLIENT', 'LIST')).trim().split('\n').length;
/** Subscriber connections: Redis 7 lists one with only shard subscriptions as TYPE pubsub too. */
const pubsubClientCount = async () => {
  const out = String(await r.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).trim();
  return out === '' ? 0 : out.split('\n').length;
};

/**
 * Kills every subscriber connection and keeps them out (maxclients at the current count) while
 * `during` runs, then lets them reconnect.
 */
async function withSubscribersDown(during: () => Promise<void>): Promise<void> {
  const subs = await pubsubClientCount();
  expect(subs).toBeGreaterThan(0);
  const keep = (await clientCount()) - subs;
  await r.config('SET', 'maxclients', String(keep));
  try {
    await r.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await during();
  } finally {
    await r.config('SET', 'maxclients', '10000');
  }
}

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  for (const p of proxies) await p.close();
  await redis?.stop();
});

describe('chat replica subscriber connection', () => {
  it('a replica whose Redis answers late at start (a join subscribing before the connection is ready) still subscribes every room and turns ready', async () => {
    const proxy = await startRedisProxy(redis.port);
    proxies.push(proxy);
    // commands reach Redis, replies to the SUBSCRIBER connection wait: it stays in 'connect'.
    // (The main connection answers: a handshake needs Redis — budgets and revocations — and is
    // refused with 503 without it.)
    proxy.hold((conn) => conn.name === 'aurora-subscriber');
    const s = await replica('cold', { REDIS_URL: proxy.url });
    const early = await connect(s, 'early');
    early.send({ type: 'join', room: 'cold' });
    // the join's SSUBSCRIBE went out on the not-yet-ready subscriber connection
    await waitFor(() => proxy.sawArg(keys.roomChannel('cold')), { what: 'the early SSUBSCRIBE on the wire' });
    proxy.release();
    await early.next('joined', (f) => f.room === 'cold', 20_000);

    await waitFor(async () => (await readyStatus(s)) === 200, { what: '/readyz green (probe subscribed)', timeoutMs: 20_000 });
    await waitFor(async () => (await numsub('cold')) === 1, { what: 'the room channel subscribed', timeoutMs: 15_000 });
    const other = await connect(s, 'other');
    await other.join('cold');
    const ack = await other.sendText('cold', 'after a cold start', 'cold-1');
    expect(ack.type).toBe('ack');
    expect((await early.find('message', (f) => f.cid === 'cold-1')).id).toBe(ack.id);
    expect(s.logs.join('\n')).not.toMatch(/probe subscribe failed/);
  }, 60_000);

  it('messages acked while the subscriber connection is down are delivered live once it is back, in order and once', async () => {
    const s = await replica('gap');
    const sender = await connect(s, 'sender');
    const reader = await connect(s, 'reader');
    await sender.join('gap');
    await reader.join('gap');
    await waitFor(async () => (await readyStatus(s)) === 200, { what: 'ready' });
    const before = await sender.sendText('gap', 'before', 'gap-0');
    await reader.find('message', (f) => f.cid === 'gap-0');

    const acked: string[] = [before.id];
    await withSubscribersDown(async () => {
      for (let i = 1; i <= 5; i++) {
        const ack = await sender.sendText('gap', `while down ${i}`, `gap-${i}`);
        expect(ack.type).toBe('ack');
        acked.push(ack.id);
      }
    });
    await waitFor(() => reader.all('message', (f) => f.cid === 'gap-5').length === 1, {
      what: 'the messages acked while the subscriber was down',
      timeoutMs: 20_000,
    });
    const after = await sender.sendText('gap', 'after', 'gap-6');
    acked.push(after.id);
    await reader.find('message', (f) => f.cid === 'gap-6');
    const got = (c: TestClient) => c.all('message', (f) => f.room === 'gap').map((f: Frame) => f.id);
    expect(got(reader)).toEqual(acked);
    expect(got(sender)).toEqual(acked);
    expect(reader.closeCode).toBeNull();
  }, 60_000);

  it('a steady stream of sends across a subscriber reconnect reaches the members exactly once and in id order', async () => {
    const s = await replica('stream', { MAX_FRAMES_PER_SEC: '1000' });
    const sender = await connect(s, 'streamer');
    const reader = await connect(s, 'listener');
    await sender.join('stream');
    await reader.join('stream');
    await waitFor(async () => (await readyStatus(s)) === 200, { what: 'ready' });
    const acked: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < 60; i++) {
        const ack = await sender.sendText('stream', `s${i}`, `stream-${i}`);
        expect(ack).toMatchObject({ type: 'ack' });
        acked.push(ack.id);
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    await waitFor(() => acked.length >= 10, { what: 'the stream under way' });
    await r.call('CLIENT', 'KILL', 'TYPE', 'pubsub'); // reconnects on its own, mid-stream
    await sending;
    await waitFor(() => reader.all('message', (f) => f.room === 'stream').length >= 60, { what: 'all 60 delivered', timeoutMs: 20_000 });
    await new Promise((res) => setTimeout(res, 300)); // nothing more (no duplicates) trickles in
    expect(reader.all('message', (f) => f.room === 'stream').map((f: Frame) => f.id)).toEqual(acked);
    expect(sender.all('message', (f) => f.room === 'stream').map((f: Frame) => f.id)).toEqual(acked);
  }, 60_000);

  it('when more than RECOVERY_MAX messages were missed during a subscriber outage the room members are closed with 1012 to resume', async () => {
    const s = await replica('gap-big', { RECOVERY_MAX: '3' });
    const sender = await connect(s, 'big-sender');
    const reader = await connect(s, 'big-reader');
    await sender.join('gapbig');
    await reader.join('gapbig');
    const bystander = await connect(s, 'bystander');
    await bystander.join('elsewhere');
    await waitFor(async () => (await readyStatus(s)) === 200, { what: 'ready' });
    await withSubscribersDown(async () => {
      for (let i = 0; i < 5; i++) expect((await sender.sendText('gapbig', `m${i}`, `big-${i}`)).type).toBe('ack');
    });
    expect(await reader.closed).toBe(1012);
    expect(await sender.closed).toBe(1012);
    // members of other rooms keep their socket
    bystander.send({ type: 'ping', t: 'alive' });
    await bystander.find('pong', (f) => f.t === 'alive');
    expect(bystander.closeCode).toBeNull();
  }, 60_000);
});
