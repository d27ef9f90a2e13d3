// Login throttling in Redis per username + client IP (TRUST_PROXY on, so the test can speak
// from several IPs through X-Forwarded-For).
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { DEFAULT_PASSWORD, errorCode, startUsers, type UsersHarness } from './harness.js';

const MAX = 3;
const WINDOW = 120;
let h: UsersHarness;
let redis: Redis;
const keys = keysFor(1);

beforeAll(async () => {
  h = await startUsers({ LOGIN_MAX_FAILURES: String(MAX), LOGIN_WINDOW_SEC: String(WINDOW), TRUST_PROXY: 'true' });
  redis = h.redis.client();
});
afterAll(async () => {
  await h?.stop();
});

const login = (username: string, password: string, ip: string) =>
  h.call('POST', '/api/auth/login', { body: { username, password }, headers: { 'x-forwarded-for': ip } });

describe('login throttling', () => {
  it(`after ${MAX} failures the next attempt is 429 too_many_attempts with Retry-After, even with the right password`, async () => {
    await h.register('target');
    for (let i = 0; i < MAX; i++) {
      const res = await login('target', 'wrong-password', '10.0.0.1');
      expect(res.status).toBe(401);
    }
    for (const password of ['wrong-password', DEFAULT_PASSWORD]) {
      const res = await login('target', password, '10.0.0.1');
      expect(res.status).toBe(429);
      expect(errorCode(res)).toBe('too_many_attempts');
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(WINDOW);
    }
  });

  it('the same username from another IP and another username from the same IP are unaffected', async () => {
    // 'target' is locked for 10.0.0.1 by the test above.
    expect((await login('target', 'wrong-password', '10.0.0.1')).status).toBe(429);
    expect((await login('target', DEFAULT_PASSWORD, '10.0.0.2')).status).toBe(200);
    await h.register('bystander');
    expect((await login('bystander', 'wrong-password', '10.0.0.1')).status).toBe(401);
    expect((await login('bystander', DEFAULT_PASSWORD, '10.0.0.1')).status).toBe(200);
  });

  it('counts per username case-insensitively (Target and target share a counter)', async () => {
    await h.register('CaseUser');
    for (const name of ['caseuser', 'CASEUSER', 'CaseUser']) {
      expect((await login(name, 'wrong-password', '10.0.0.3')).status).toBe(401);
    }
    expect((await login('caseUSER', DEFAULT_PASSWORD, '10.0.0.3')).status).toBe(429);
  });

  it('throttles guesses at unknown usernames too', async () => {
    for (let i = 0; i < MAX; i++) expect((await login('ghost_user', 'wrong-password', '10.0.0.4')).status).toBe(401);
    expect((await login('ghost_user', 'wrong-password', '10.0.0.4')).status).toBe(429);
  });

  it('a successful login clears the failures', async () => {
    await h.register('forgetful');
    for (let i = 0; i < MAX - 1; i++) expect((await login('forgetful', 'wrong-password', '10.0.0.5')).status).toBe(401);
    expect((await login('forgetful', DEFAULT_PASSWORD, '10.0.0.5')).status).toBe(200);
    expect(await redis.exists(keys.loginFailures('forgetful', '10.0.0.5'))).toBe(0);
    // A full budget again: MAX more failures before the lock.
    for (let i = 0; i < MAX; i++) expect((await login('forgetful', 'wrong-password', '10.0.0.5')).status).toBe(401);
    expect((await login('forgetful', DEFAULT_PASSWORD, '10.0.0.5')).status).toBe(429);
  });

  it('parallel guesses cannot get past the limit', async () => {
    await h.register('burst');
    const results = await Promise.all(
      Array.from({ length: 12 }, () => login('burst', 'wrong-password', '10.0.0.6')),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(MAX);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - MAX);
  });

  it('keeps the counter under the loginFailures key with the window as expiry, and lifts the lock when it expires', async () => {
    await h.register('waiter');
    for (let i = 0; i < MAX; i++) await login('waiter', 'wrong-password', '10.0.0.7');
    const key = keys.loginFailures('waiter', '10.0.0.7');
    expect(Number(await redis.get(key))).toBe(MAX);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(WINDOW);
    // Later attempts do not extend the window.
    await redis.expire(key, 5);
    expect((await login('waiter', 'wrong-password', '10.0.0.7')).status).toBe(429);
    expect(await redis.ttl(key)).toBeLessThanOrEqual(5);
    expect(Number((await login('waiter', 'wrong-password', '10.0.0.7')).headers.get('retry-after'))).toBeLessThanOrEqual(5);
    // Window over (expire it now rather than wait): logins are allowed again.
    await redis.pexpire(key, 1);
    await waitFor(async () => (await redis.exists(key)) === 0, { what: 'throttle key expiry' });
    expect((await login('waiter', DEFAULT_PASSWORD, '10.0.0.7')).status).toBe(200);
  });

  it('forged X-Forwarded-For entries do not dodge it: only the hop our proxy added counts', async () => {
    await h.register('spoofed');
    for (let i = 0; i < MAX; i++) {
      const res = await login('spoofed', 'wrong-password', `192.0.2.${i}, 10.0.0.9`);
      expect(res.status).toBe(401);
    }
    expect((await login('spoofed', 'wrong-password', '198.51.100.1, 10.0.0.9')).status).toBe(429);
  });

  it('an invalid request body does not count as a failure', async () => {
    await h.register('sloppy');
    for (let i = 0; i < MAX + 2; i++) {
      const res = await h.call('POST', '/api/auth/login', { body: { username: 'sloppy' }, headers: { 'x-forwarded-for': '10.0.0.8' } });
      expect(res.status).toBe(400);
    }
    expect((await login('sloppy', DEFAULT_PASSWORD, '10.0.0.8')).status).toBe(200);
  });
});
