// Per-client-IP limits on the two endpoints that cost a bcrypt computation each: login
// (LOGIN_MAX_PER_IP attempts per LOGIN_WINDOW_SEC, right or wrong, any username) and register
// (REGISTER_MAX_PER_IP per REGISTER_WINDOW_SEC). Without them one client could pick a new
// username per request and keep the bcrypt thread pool busy for ever. TRUST_PROXY is on so the
// test can speak from several IPs through X-Forwarded-For.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { DEFAULT_PASSWORD, errorCode, startUsers, type UsersHarness } from './harness.js';

const LOGIN_PER_IP = 6;
const PER_USERNAME = 3;
const LOGIN_WINDOW = 120;
const REGISTER_PER_IP = 4;
const REGISTER_WINDOW = 600;
let h: UsersHarness;
let redis: Redis;
const keys = keysFor(1);

beforeAll(async () => {
  h = await startUsers({
    LOGIN_MAX_PER_IP: String(LOGIN_PER_IP),
    LOGIN_MAX_FAILURES: String(PER_USERNAME),
    LOGIN_WINDOW_SEC: String(LOGIN_WINDOW),
    REGISTER_MAX_PER_IP: String(REGISTER_PER_IP),
    REGISTER_WINDOW_SEC: String(REGISTER_WINDOW),
    TRUST_PROXY: 'true',
  });
  redis = h.redis.client();
});
afterAll(async () => {
  await h?.stop();
});

const from = (ip: string) => ({ 'x-forwarded-for': ip });
const login = (username: string, password: string, ip: string) =>
  h.call('POST', '/api/auth/login', { body: { username, password }, headers: from(ip) });
const register = (username: string, ip: string, password = DEFAULT_PASSWORD) =>
  h.call('POST', '/api/auth/register', { body: { username, password }, headers: from(ip) });

function expectThrottled(res: Awaited<ReturnType<typeof login>>, windowSec: number): void {
  expect(res.status, res.text).toBe(429);
  expect(errorCode(res)).toBe('too_many_attempts');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(windowSec);
}

describe('per-IP login limit', () => {
  it(`a new username per attempt gets past the per-username throttle but not past ${LOGIN_PER_IP} attempts per IP`, async () => {
    for (let i = 0; i < LOGIN_PER_IP; i++) {
      const res = await login(`sprayed_${i}`, 'wrong-password', '10.1.0.1');
      expect(res.status, `attempt ${i + 1}`).toBe(401);
    }
    expectThrottled(await login('sprayed_next', 'wrong-password', '10.1.0.1'), LOGIN_WINDOW);
  });

  it('refuses even the right password from that IP, while other IPs log in as usual', async () => {
    // Registered from another IP: 10.1.0.1 is over its login limit, not its register limit,
    // but keep the two budgets apart in this test.
    expect((await register('ip_victim', '10.1.9.9')).status).toBe(201);
    expectThrottled(await login('ip_victim', DEFAULT_PASSWORD, '10.1.0.1'), LOGIN_WINDOW);
    expect((await login('ip_victim', DEFAULT_PASSWORD, '10.1.0.2')).status).toBe(200);
  });

  it('counts successful logins too: an own valid account cannot be used to force bcrypt work', async () => {
    expect((await register('own_account', '10.1.9.9')).status).toBe(201);
    for (let i = 0; i < LOGIN_PER_IP; i++) {
      expect((await login('own_account', DEFAULT_PASSWORD, '10.1.0.3')).status, `login ${i + 1}`).toBe(200);
    }
    expectThrottled(await login('own_account', DEFAULT_PASSWORD, '10.1.0.3'), LOGIN_WINDOW);
  });

  it('parallel attempts from one IP cannot get past the limit', async () => {
    const results = await Promise.all(
      Array.from({ length: 15 }, (_, i) => login(`burst_${i}`, 'wrong-password', '10.1.0.4')),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(LOGIN_PER_IP);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15 - LOGIN_PER_IP);
  });

  it('an invalid body costs nothing and does not count', async () => {
    for (let i = 0; i < LOGIN_PER_IP + 2; i++) {
      const res = await h.call('POST', '/api/auth/login', { body: { username: 'x' }, headers: from('10.1.0.5') });
      expect(res.status).toBe(400);
    }
    expect(await redis.exists(keys.loginAttemptsPerIp('10.1.0.5'))).toBe(0);
    expect((await login('nobody_at_all', 'wrong-password', '10.1.0.5')).status).toBe(401);
  });

  it('keeps the counter under keys.loginAttemptsPerIp with LOGIN_WINDOW_SEC as a fixed expiry, and lifts the limit when it expires', async () => {
    for (let i = 0; i < LOGIN_PER_IP; i++) await login(`windowed_${i}`, 'wrong-password', '10.1.0.6');
    const key = keys.loginAttemptsPerIp('10.1.0.6');
    expect(Number(await redis.get(key))).toBe(LOGIN_PER_IP);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(LOGIN_WINDOW);
    // Later attempts do not extend the window.
    await redis.expire(key, 5);
    expect((await login('windowed_x', 'wrong-password', '10.1.0.6')).status).toBe(429);
    expect(await redis.ttl(key)).toBeLessThanOrEqual(5);
    await redis.pexpire(key, 1);
    await waitFor(async () => (await redis.exists(key)) === 0, { what: 'per-IP login key expiry' });
    expect((await login('windowed_x', 'wrong-password', '10.1.0.6')).status).toBe(401);
  });

  it('the per-username + IP throttle still applies below the per-IP limit', async () => {
    for (let i = 0; i < PER_USERNAME; i++) expect((await login('one_name', 'wrong-password', '10.1.0.7')).status).toBe(401);
    expectThrottled(await login('one_name', 'wrong-password', '10.1.0.7'), LOGIN_WINDOW);
    expect((await login('other_name', 'wrong-password', '10.1.0.7')).status).toBe(401);
  });
});

describe('per-IP registration limit', () => {
  it(`after ${REGISTER_PER_IP} registrations from one IP the next is 429 with Retry-After and creates no account`, async () => {
    for (let i = 0; i < REGISTER_PER_IP; i++) {
      const res = await register(`signup_${i}`, '10.2.0.1');
      expect(res.status, res.text).toBe(201);
    }
    expectThrottled(await register('signup_refused', '10.2.0.1'), REGISTER_WINDOW);
    // No row was written: the same name is still free for someone else.
    expect((await register('signup_refused', '10.2.0.2')).status).toBe(201);
  });

  it('counts refused attempts too (a taken name still costs a bcrypt hash)', async () => {
    expect((await register('taken_name', '10.2.0.3')).status).toBe(201);
    for (let i = 1; i < REGISTER_PER_IP; i++) {
      const res = await register('TAKEN_NAME', '10.2.0.3');
      expect(res.status).toBe(409);
    }
    expectThrottled(await register('fresh_name', '10.2.0.3'), REGISTER_WINDOW);
  });

  it('parallel registrations from one IP cannot get past the limit', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => register(`para_${i}`, '10.2.0.4')));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(REGISTER_PER_IP);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10 - REGISTER_PER_IP);
  });

  it('an invalid body does not count; the counter lives under keys.registerAttemptsPerIp with REGISTER_WINDOW_SEC', async () => {
    for (let i = 0; i < REGISTER_PER_IP + 2; i++) {
      const res = await h.call('POST', '/api/auth/register', { body: { username: 'ok_name', password: 'short' }, headers: from('10.2.0.5') });
      expect(res.status).toBe(400);
    }
    const key = keys.registerAttemptsPerIp('10.2.0.5');
    expect(await redis.exists(key)).toBe(0);
    expect((await register('counted_once', '10.2.0.5')).status).toBe(201);
    expect(Number(await redis.get(key))).toBe(1);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(LOGIN_WINDOW);
    expect(ttl).toBeLessThanOrEqual(REGISTER_WINDOW);
  });

  it('login and registration budgets are separate', async () => {
    for (let i = 0; i < REGISTER_PER_IP; i++) expect((await register(`both_${i}`, '10.2.0.6')).status).toBe(201);
    expect((await register('both_x', '10.2.0.6')).status).toBe(429);
    expect((await login('both_0', DEFAULT_PASSWORD, '10.2.0.6')).status).toBe(200);
  });

  it('registration fails closed (503 unavailable) while Redis is down', async () => {
    await h.redis.kill();
    await waitFor(async () => (await h.admin('/readyz')).status === 503, { timeoutMs: 15_000, what: '/readyz 503' });
    const res = await register('during_outage', '10.2.0.7');
    expect(res.status).toBe(503);
    expect(errorCode(res)).toBe('unavailable');
    await h.redis.start();
    await waitFor(async () => (await h.admin('/readyz')).status === 200, { timeoutMs: 20_000, what: '/readyz 200 again' });
    expect((await h.call('POST', '/api/auth/login', { body: { username: 'during_outage', password: DEFAULT_PASSWORD }, headers: from('10.2.0.8') })).status).toBe(401);
  });
});
