// Write batching on a real replica (WRITE_DELAY_MS, services/chat/wire.ts): the first frame after
// a quiet spell is not delayed, fan-out frames inside a socket's window wait and leave together in
// order, a frame that answers the client ends the wait, and a SIGTERM drain writes what waits
// before the 1012. The window is long here (1 s) so that every timing assertion is a lower bound
// or has a wide margin on a loaded machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { scrapeMetric } from '../helpers/metrics.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor } from './client.js';

const WINDOW_MS = 1000;
let redis: TestRedis;
let r: Redis;
const services: RunningService[] = [];
const clients: TestClient[] = [];

async function replica(id: string, extra: Record<string, string> = {}): Promise<RunningService> {
  const s = await startService('chat', chatEnv(redis.url, id, { WRITE_DELAY_MS: String(WINDOW_MS), INGEST_MAX_BACKLOG: '1000', ...extra }));
  services.push(s);
  return s;
}

async function connect(s: RunningService, user: string): Promise<TestClient> {
  const c = await TestClient.connect(s.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}

/** When each frame arrived (performance.now()), by the frame's position in `c.frames`. */
function arrivals(c: TestClient): number[] {
  const at: number[] = [];
  c.ws.on('message', () => at.push(performance.now()));
  return at;
}

const metric = (s: RunningService, name: string) => scrapeMetric(s.adminUrl, name);

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(services.map((s) => s.stop()));
  r?.disconnect();
  await redis?.stop();
});

describe('write batching (WRITE_DELAY_MS) on a real replica', () => {
  it('the first message after quiet arrives at once; the next ones wait for the window and arrive together, in order; acks never wait', async () => {
    const s = await replica('batch-a');
    const alice = await connect(s, 'alice');
    const bob = await connect(s, 'bob');
    await alice.join('batch');
    await bob.join('batch');
    const bobAt = arrivals(bob);
    const bobBefore = bob.frames.length;

    const sentAt = performance.now();
    expect((await alice.sendText('batch', 'm0', 'b-0')).type).toBe('ack');
    const m0 = await bob.next('message', (f) => f.text === 'm0');
    const m0At = bobAt[bob.frames.indexOf(m0) - bobBefore]!;
    expect(m0At - sentAt, 'the first frame after quiet is not delayed').toBeLessThan(WINDOW_MS / 2);

    const writesBefore = await metric(s, 'aurora_chat_socket_writes_total');
    const acksFrom = performance.now();
    for (let i = 1; i <= 4; i++) expect((await alice.sendText('batch', `m${i}`, `b-${i}`)).type).toBe('ack');
    // alice's acks carried her own copies of m1..m4 out with them: nothing she is owed waits
    expect(performance.now() - acksFrom, 'acks are not delayed').toBeLessThan(WINDOW_MS);

    const later = await waitFor(() => {
      const got = bob.all('message').filter((f) => /^m[1-4]$/.test(f.text));
      return got.length === 4 ? got : undefined;
    }, { what: 'm1..m4 at bob', timeoutMs: 10_000 });
    expect(later.map((f) => f.text)).toEqual(['m1', 'm2', 'm3', 'm4']);
    const at = later.map((f) => bobAt[bob.frames.indexOf(f) - bobBefore]!);
    // they waited for the window that m0's write opened, and left in one write
    expect(Math.min(...at) - m0At).toBeGreaterThanOrEqual(WINDOW_MS - 50);
    expect(Math.max(...at) - Math.min(...at)).toBeLessThan(50);
    // fewer writes than frames: 4 acks + alice's 4 copies (with the acks) + bob's 4 (one write)
    const writes = (await metric(s, 'aurora_chat_socket_writes_total')) - writesBefore;
    expect(writes).toBeGreaterThanOrEqual(5);
    expect(writes).toBeLessThanOrEqual(6); // the scrape itself cannot add socket writes; 6 leaves room for a typing/presence frame
  });

  it('a frame that answers the client ends the wait: a pong leaves at once, after the message queued before it', async () => {
    const s = await replica('batch-b');
    const alice = await connect(s, 'alice2');
    const bob = await connect(s, 'bob2');
    await alice.join('ends');
    await bob.join('ends');
    await alice.sendText('ends', 'opens the window', 'e-0');
    await bob.next('message', (f) => f.text === 'opens the window');
    await alice.sendText('ends', 'waits', 'e-1'); // inside bob's window: waits
    const pingAt = performance.now();
    bob.send({ type: 'ping', t: 'now' });
    await bob.next('pong', (f) => f.t === 'now');
    expect(performance.now() - pingAt).toBeLessThan(WINDOW_MS / 2);
    const texts = bob.frames.filter((f) => f.type === 'message' || f.type === 'pong').map((f) => (f.type === 'pong' ? 'pong' : f.text));
    expect(texts.slice(-3)).toEqual(['opens the window', 'waits', 'pong']);
  });

  it('SIGTERM drain writes the frames waiting in a window before the 1012', async () => {
    const s = await replica('batch-c', { SHUTDOWN_DRAIN_MS: '200' });
    const alice = await connect(s, 'alice3');
    const bob = await connect(s, 'bob3');
    await alice.join('drain');
    await bob.join('drain');
    await alice.sendText('drain', 'first', 'd-0');
    await bob.next('message', (f) => f.text === 'first');
    await alice.sendText('drain', 'waiting when the replica stops', 'd-1');
    const exit = s.stop('SIGTERM');
    expect(await bob.closed).toBe(1012);
    expect(bob.all('message').map((f) => f.text)).toEqual(['first', 'waiting when the replica stops']);
    expect(await exit).toBe(0);
  });
});
