// WebSocket handshake budgets (services/chat/handshake-limits.ts): per user and per client IP,
// counted in Redis so every replica shares them; 429 + Retry-After past them, 503 — quickly —
// when Redis cannot count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { ORIGIN, chatEnv, tokenFor } from './client.js';
import { startRedisProxy, type RedisProxy } from './redis-proxy.js';

let redis: TestRedis;
let proxy: RedisProxy;
let a: RunningService;
let b: RunningService;
let untrusting: RunningService;
let viaProxy: RunningService;
const services: RunningService[] = [];

const limits = { HANDSHAKE_MAX_PER_USER: '4', HANDSHAKE_MAX_PER_IP: '10', HANDSHAKE_WINDOW_SEC: '60' };

interface Attempt {
  status: number; // 101 when the socket opened
  retryAfter?: string | undefined;
  ms: number;
}

/** One handshake as `user` (X-Forwarded-For: `xff` when given); an opened socket is closed at once. */
function attempt(s: RunningService, user: string, xff?: string): Promise<Attempt> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { origin: ORIGIN };
    if (xff !== undefined) headers['x-forwarded-for'] = xff;
    const ws = new WebSocket(s.baseUrl.replace(/^http/, 'ws') + '/ws', ['aurora.v1', `bearer.${tokenFor(user)}`], { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, ms: Date.now() - started });
      ws.terminate();
    });
    ws.on('open', () => {
      resolve({ status: 101, ms: Date.now() - started });
      ws.close();
    });
    ws.on('error', (err) => reject(err));
  });
}

beforeAll(async () => {
  redis = await startRedis();
  proxy = await startRedisProxy(redis.port);
  const start = async (id: string, extra: Record<string, string>, url = redis.url) => {
    const s = await startService('chat', chatEnv(url, id, { ...limits, ...extra }));
    services.push(s);
    return s;
  };
  [a, b, untrusting, viaProxy] = await Promise.all([
    start('hs-limit-a', { TRUST_PROXY: 'true' }),
    start('hs-limit-b', { TRUST_PROXY: 'true' }),
    start('hs-limit-direct', { TRUST_PROXY: 'false', HANDSHAKE_MAX_PER_IP: '3' }),
    start('hs-limit-proxied', { TRUST_PROXY: 'true' }, proxy.url),
  ]);
}, 40_000);
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await proxy?.close();
  await redis?.stop();
});

describe('handshake budgets', () => {
  it('counts one user’s handshakes over every replica: past HANDSHAKE_MAX_PER_USER the upgrade gets 429 with Retry-After, other users still connect', async () => {
    const ip = '198.51.100.1';
    const statuses = [];
    for (const s of [a, b, a, b]) statuses.push((await attempt(s, 'many-tabs', ip)).status);
    expect(statuses).toEqual([101, 101, 101, 101]);
    const refused = await attempt(a, 'many-tabs', ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
    expect((await attempt(b, 'many-tabs', ip)).status).toBe(429);
    // the budget is the user's, not the address's
    expect((await attempt(b, 'colleague', ip)).status).toBe(101);
  });

  it('counts handshakes per client IP over all users, IPv6 per /64, and takes the client from the last X-Forwarded-For entry only', async () => {
    // entries before the last are the client's own claims: varying them changes nothing
    for (let i = 0; i < 10; i++) {
      expect((await attempt(i % 2 ? a : b, `office-${i}`, `10.0.0.${i}, 2001:db8:1:2::${i + 1}`)).status).toBe(101);
    }
    const refused = await attempt(a, 'office-late', '2001:db8:1:2:ffff:ffff:ffff:ffff');
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    // another /64 has its own budget
    expect((await attempt(a, 'office-late', '2001:db8:1:3::1')).status).toBe(101);
  });

  it('ignores X-Forwarded-For without TRUST_PROXY: a client cannot pick a fresh IP per handshake', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt(untrusting, `direct-${i}`, `203.0.113.${i + 1}`)).status).toBe(101);
    expect((await attempt(untrusting, 'direct-3', '203.0.113.99')).status).toBe(429);
  });

  it('refuses with 503 within a few seconds when a connected Redis does not answer, without crashing, and serves again once it does', async () => {
    proxy.hold();
    let stalled: Attempt;
    try {
      stalled = await attempt(viaProxy, 'while-stalled', '192.0.2.10');
    } finally {
      proxy.release();
    }
    expect(stalled.status).toBe(503);
    expect(stalled.ms).toBeLessThan(6_000);
    expect(viaProxy.proc.exitCode).toBeNull();
    expect((await fetch(viaProxy.baseUrl + '/healthz')).status).toBe(200);
    expect((await attempt(viaProxy, 'after-stall', '192.0.2.11')).status).toBe(101);
  }, 20_000);
});
