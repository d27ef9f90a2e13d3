// Failure handling of chat replicas: Redis restarts, SIGTERM drain, slow consumers, expiring
// tokens, dead peers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Redis } from 'ioredis';
import { keysFor } from '../../services/shared/keys.js';
import { dmRoomName } from '../../services/shared/rooms.js';
import { scrapeMetric } from '../helpers/metrics.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { ORIGIN, TestClient, chatEnv, tokenFor } from './client.js';

const keys = keysFor(1);
let redis: TestRedis;
let r: Redis;
const services: RunningService[] = [];
const clients: TestClient[] = [];

async function replica(id: string, extra: Record<string, string> = {}): Promise<RunningService> {
  const s = await startService('chat', chatEnv(redis.url, id, extra));
  services.push(s);
  return s;
}
async function connect(svc: RunningService, user: string, ttlSec = 600): Promise<TestClient> {
  const c = await TestClient.connect(svc.baseUrl, tokenFor(user, user, ttlSec));
  clients.push(c);
  return c;
}
const readyStatus = async (s: RunningService) => (await fetch(s.adminUrl + '/readyz')).status;
const metric = (s: RunningService, name: string) => scrapeMetric(s.adminUrl, name);

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await redis?.stop();
});

describe('chat replica resilience', () => {
  it('after Redis restarts under running replicas, fan-out works again without restarting them and /readyz recovers', async () => {
    const a = await replica('rs-a');
    const b = await replica('rs-b');
    const alice = await connect(a, 'alice');
    const bob = await connect(b, 'bob');
    // A DM: it has no member events, so its log is empty until the first message and the data
    // loss leaves no gap to resync. (A public room's log holds its `joined` events: see carol.)
    const dm = dmRoomName('alice', 'bob');
    await alice.join(dm);
    await bob.join(dm);
    const carol = await connect(a, 'carol');
    const carolJoined = await carol.join('restart');
    const carolSince = (carolJoined.events as { id: string }[]).at(-1)!.id;
    await waitFor(async () => (await readyStatus(a)) === 200 && (await readyStatus(b)) === 200, { what: 'ready' });

    await redis.kill();
    await waitFor(async () => (await readyStatus(a)) === 503, { what: '/readyz red while Redis is down', timeoutMs: 15_000 });
    // a send while Redis is down is refused, not lost silently, and the socket lives
    const down = await alice.sendText(dm, 'while down', 'down-1');
    expect(down).toMatchObject({ type: 'error', code: 'internal', ref: 'down-1' });
    await redis.start();

    await waitFor(async () => (await readyStatus(a)) === 200 && (await readyStatus(b)) === 200, {
      what: '/readyz green again',
      timeoutMs: 20_000,
    });
    // every room subscription (a shard channel) is live again (a fresh Redis knows nothing of the old ones)
    await waitFor(async () => Number(((await r.pubsub('SHARDNUMSUB', keys.roomChannel(dm))) as [string, number])[1]) === 2, {
      what: 'both replicas re-subscribed',
      timeoutMs: 15_000,
    });
    const ack = await alice.sendText(dm, 'after restart', 'after-1');
    expect(ack.type).toBe('ack');
    const m = await bob.find('message', (f) => f.cid === 'after-1');
    expect(m.id).toBe(ack.id);
    expect(alice.closeCode).toBeNull();
    expect(bob.closeCode).toBeNull();
    // The public room's log lost its `joined` event, a gap the replica cannot fill: carol is
    // told to resume (1012), and her resume from what she had is answered, not recovered.
    expect(await carol.closed).toBe(1012);
    const carol2 = await connect(b, 'carol');
    const resumed = await carol2.join('restart', carolSince);
    expect(resumed.recovered).toBe(false);
  });

  it('a pub/sub path that stops delivering turns /readyz red through the probe, and green again after', async () => {
    const s = await replica('probe');
    await waitFor(async () => (await readyStatus(s)) === 200, { what: 'ready' });
    // PUBLISH (a write) blocks for 7 s: the probe cannot come back. (The main connection's PING
    // queues behind the blocked PUBLISH, so the redis check may time out too.)
    await r.call('CLIENT', 'PAUSE', '7000', 'WRITE');
    const red = await waitFor(async () => {
      const res = await fetch(s.adminUrl + '/readyz');
      if (res.status !== 503) return undefined;
      const body = (await res.json()) as { checks: Record<string, string> };
      return body.checks.pubsub !== 'ok' ? body : undefined;
    }, { what: '/readyz red with a failing pubsub check', timeoutMs: 15_000 });
    expect(red.checks.pubsub).toMatch(/probe/);
    await waitFor(async () => (await readyStatus(s)) === 200, { what: '/readyz green after the pause', timeoutMs: 20_000 });
  });

  it('SIGTERM turns readiness red and closes every socket with 1012, then exits cleanly', async () => {
    const s = await replica('term', { SHUTDOWN_DRAIN_MS: '1500' });
    const c1 = await connect(s, 'u1');
    const c2 = await connect(s, 'u2');
    const c3 = await connect(s, 'u3');
    await c1.join('term');
    await c2.join('term');
    await waitFor(async () => (await readyStatus(s)) === 200, { what: 'ready' });
    const exit = s.stop('SIGTERM');
    await waitFor(async () => (await readyStatus(s)) === 503, { what: '/readyz red while draining' });
    const codes = await Promise.all([c1.closed, c2.closed, c3.closed]);
    expect(codes).toEqual([1012, 1012, 1012]);
    expect(await exit).toBe(0);
    // its members left the presence set on the way out
    expect(await r.zcard(keys.presence('term'))).toBe(0);
  });

  it('a consumer too slow to read is closed with 4008 instead of growing memory', async () => {
    const s = await replica('slow', { MAX_BUFFERED_BYTES: String(64 * 1024), REPLY_MAX_BYTES: String(32 * 1024) });
    const slow = await connect(s, 'sloth');
    const fast = await connect(s, 'hare');
    await slow.join('slow');
    await fast.join('slow');
    // stop reading: the kernel buffers fill, then the replica's send buffer grows
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const big = JSON.stringify({ type: 'message', room: 'slow', id: '1-0', ts: 1, user: { id: 'x', name: 'x' }, text: 'p'.repeat(60_000), cid: 'big' });
    await waitFor(
      async () => {
        for (let i = 0; i < 20; i++) await r.spublish(keys.roomChannel('slow'), big);
        return (await metric(s, 'aurora_chat_slow_consumer_closes_total')) >= 1;
      },
      { what: 'a slow-consumer close', timeoutMs: 20_000 },
    );
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await slow.closed).toBe(4008);
    // the fast reader on the same replica is unaffected
    fast.send({ type: 'ping', t: 'still' });
    expect((await fast.find('pong', (f) => f.t === 'still')).t).toBe('still');
    expect(fast.closeCode).toBeNull();
  });

  it('an in-band auth refresh extends the session; without one the socket closes with 4001 at expiry', async () => {
    const s = await replica('auth');
    const keeper = await connect(s, 'keeper', 3);
    const lapsed = await connect(s, 'lapsed', 3);
    keeper.send({ type: 'auth', token: tokenFor('keeper', 'keeper', 600) });
    const authed = await keeper.next('authed');
    expect(authed.exp).toBeGreaterThan(Date.now() / 1000 + 500);
    // someone else's token is refused and changes nothing
    keeper.send({ type: 'auth', token: tokenFor('intruder', 'intruder', 600) });
    expect((await keeper.next('error')).code).toBe('forbidden');
    keeper.send({ type: 'auth', token: 'garbage' });
    expect((await keeper.next('error')).code).toBe('bad_request');
    expect(await lapsed.closed).toBe(4001);
    await new Promise((res) => setTimeout(res, 500));
    keeper.send({ type: 'ping', t: 1 });
    await keeper.next('pong');
    expect(keeper.closeCode).toBeNull();
  });

  it('a peer that stops answering pings is terminated by the heartbeat', async () => {
    const s = await replica('hb', { HEARTBEAT_MS: '200' });
    const url = s.baseUrl.replace('http', 'ws') + '/ws';
    const mute = new WebSocket(url, ['aurora.v1', `bearer.${tokenFor('mute')}`], { headers: { origin: ORIGIN }, autoPong: false });
    const closed = new Promise<number>((res) => mute.on('close', (code) => res(code)));
    mute.on('error', () => {});
    const healthy = await connect(s, 'healthy');
    expect(await closed).toBe(1006);
    await new Promise((res) => setTimeout(res, 600));
    expect(healthy.closeCode).toBeNull();
    expect(healthy.frames[0]).toMatchObject({ type: 'hello', heartbeatMs: 200 });
  });
});
