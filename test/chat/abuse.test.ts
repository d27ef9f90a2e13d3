// Frames that cost the server more than they cost the client: refused frames, typing floods,
// re-joins and join/leave churn are all bounded per socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor } from './client.js';

let redis: TestRedis;
let s: RunningService;
const clients: TestClient[] = [];

async function connect(user: string): Promise<TestClient> {
  const c = await TestClient.connect(s.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startRedis();
  s = await startService('chat', chatEnv(redis.url, 'abuse', { MAX_FRAMES_PER_SEC: '100', RATE_LIMIT_MESSAGES: '1000' }));
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await s?.stop('SIGKILL');
  await redis?.stop();
});

describe('per-socket cost bounds', () => {
  it('refused frames (invalid_room, too_long) are charged to the frame budget: a flood of them is rate limited and closed with 1008', async () => {
    const bad = await connect('bad-joiner');
    const bystander = await connect('bystander');
    for (let i = 0; i < 2000; i++) bad.send({ type: 'join', room: 'Not A Room!' });
    expect(await bad.closed).toBe(1008);
    expect(bad.all('error', (f) => f.code === 'rate_limited').length).toBeGreaterThan(0);
    expect(bad.all('error', (f) => f.code === 'invalid_room').length).toBeLessThanOrEqual(200);

    const long = await connect('long-sender');
    for (let i = 0; i < 2000; i++) long.send({ type: 'send', room: 'general', text: 'x'.repeat(4001), cid: `l${i}` });
    expect(await long.closed).toBe(1008);
    expect(long.all('error', (f) => f.code === 'too_long').length).toBeLessThanOrEqual(200);

    bystander.send({ type: 'ping', t: 'ok' });
    await bystander.find('pong', (f) => f.t === 'ok');
    expect(bystander.closeCode).toBeNull();
  });

  it('typing is forwarded at most once a second per socket and room whatever the flag: alternating it is coalesced, and the latest state still arrives last', async () => {
    const typist = await connect('typist');
    const watcher = await connect('watcher');
    await typist.join('typing-flood');
    await watcher.join('typing-flood');
    // 20 identical frames, then true,false,true,false… at ~30 frames/s for about 2 s, ending false
    for (let i = 0; i < 20; i++) typist.send({ type: 'typing', room: 'typing-flood', active: true });
    const started = Date.now();
    for (let i = 0; i < 60; i++) {
      typist.send({ type: 'typing', room: 'typing-flood', active: i % 2 === 0 });
      await new Promise((res) => setTimeout(res, 33));
    }
    const elapsed = Date.now() - started;
    const typing = () => watcher.all('typing').map((f) => f.active as boolean);
    // the final state (false) is sent when the throttle window ends
    await waitFor(() => typing().at(-1) === false, { what: 'the latest typing state', timeoutMs: 10_000 });
    // frames of one socket are handled in order and the channel keeps that order: once this
    // message arrived, every typing frame that was forwarded has arrived too
    await typist.sendText('typing-flood', 'sync', 'typing-sync');
    await watcher.find('message', (f) => f.cid === 'typing-sync');
    expect(typing()[0]).toBe(true);
    // one per second of flooding, plus the first and the trailing one
    expect(typing().length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 2);
    expect(typing().at(-1)).toBe(false);
    expect(typist.all('error')).toHaveLength(0);
  });

  it('joining a room this socket already joined answers joined at once, without re-reading the room log', async () => {
    const c = await connect('rejoiner');
    await c.join('rejoin');
    for (let i = 0; i < 3; i++) await c.sendText('rejoin', `m${i}`, `rejoin-${i}`);
    await waitFor(() => c.all('message', (f) => f.room === 'rejoin').length === 3, { what: 'own messages live' });
    const again = await c.join('rejoin');
    expect(again).toMatchObject({ type: 'joined', room: 'rejoin', messages: [], recovered: true });
    expect(again.members.map((m: { id: string }) => m.id)).toEqual(['rejoiner']);
    // still joined once: a new message arrives once
    await c.sendText('rejoin', 'after', 'rejoin-after');
    await c.find('message', (f) => f.cid === 'rejoin-after');
    expect(c.all('message', (f) => f.cid === 'rejoin-after')).toHaveLength(1);
  });

  it('join/leave churn has its own small budget: past it joins are refused with rate_limited and retryAfterMs, and presence stops flapping', async () => {
    const churner = await connect('churner');
    const observer = await connect('observer');
    await observer.join('churn');
    for (let i = 0; i < 15; i++) {
      churner.send({ type: 'join', room: 'churn' });
      churner.send({ type: 'leave', room: 'churn' });
    }
    const refused = await churner.find('error', (f) => f.code === 'rate_limited');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);
    await waitFor(() => churner.all('left').length === 15, { what: 'every leave answered' });
    expect(churner.all('joined').length).toBeLessThan(15);
    expect(observer.all('presence', (f) => f.user.id === 'churner').length).toBeLessThanOrEqual(12);
    // refused, not punished: the socket stays open
    expect(churner.closeCode).toBeNull();
  });
});
