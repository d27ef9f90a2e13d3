// The per-account login budget over ALL client IPs: credential stuffing spreads its guesses at
// one username over many addresses, each far below the per-IP and per-username+IP budgets.
// After LOGIN_ACCOUNT_FREE_FAILURES failures every attempt for that username must wait 1 s,
// 2 s, 4 s … (capped) after the previous failure, answered at once with 429 + Retry-After.
// Also: the per-username+IP counter keys IPv6 clients by their /64.
// Real users process and Redis; TRUST_PROXY on so each request can come from its own IP.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { DEFAULT_PASSWORD, errorCode, startUsers, type UsersHarness } from './harness.js';

const FREE = 4;
const MAX_DELAY_SEC = 8;
const PER_USERNAME_IP = 3;
let h: UsersHarness;
let redis: Redis;
const keys = keysFor(1);

beforeAll(async () => {
  h = await startUsers({
    LOGIN_ACCOUNT_FREE_FAILURES: String(FREE),
    LOGIN_ACCOUNT_MAX_DELAY_SEC: String(MAX_DELAY_SEC),
    LOGIN_MAX_FAILURES: String(PER_USERNAME_IP),
    LOGIN_WINDOW_SEC: '600',
    TRUST_PROXY: 'true',
  });
  redis = h.redis.client();
});
afterAll(async () => {
  await h?.stop();
});

/** A fresh client IP per call: the per-IP and per-username+IP budgets never see a repeat. */
let nextIp = 1;
const freshIp = () => {
  const n = nextIp++;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};
const login = (username: string, password: string, ip = freshIp()) =>
  h.call('POST', '/api/auth/login', { body: { username, password }, headers: { 'x-forwarded-for': ip } });

/** Moves the account's last failure `ms` into the past, so a test sees a delay run out without waiting it out. */
const backdateLastFailure = async (username: string, ms: number) => {
  const key = keys.loginAccountFailures(username);
  const last = Number(await redis.hget(key, 't'));
  expect(last).toBeGreaterThan(0);
  await redis.hset(key, 't', String(last - ms));
};

const expectRefused = (res: Awaited<ReturnType<typeof login>>, retryAfter: number) => {
  expect(res.status).toBe(429);
  expect(errorCode(res)).toBe('too_many_attempts');
  expect(res.headers.get('retry-after')).toBe(String(retryAfter));
};

describe('per-account login budget (all IPs)', () => {
  it('after the free failures from many IPs, each further attempt waits 1 s, 2 s, 4 s … up to the cap (429 + Retry-After)', async () => {
    await h.register('stuffed');
    for (let i = 0; i < FREE; i++) expect((await login('stuffed', 'wrong-password')).status).toBe(401);
    // Another new IP, and even the right password: refused at once (no request held open).
    const started = Date.now();
    expectRefused(await login('stuffed', 'wrong-password'), 1);
    expectRefused(await login('stuffed', DEFAULT_PASSWORD), 1);
    expect(Date.now() - started).toBeLessThan(1000);
    // Each delay run out lets ONE attempt through; its failure doubles the next delay, up to the cap.
    let delay = 1;
    for (const next of [2, 4, 8, MAX_DELAY_SEC, MAX_DELAY_SEC]) {
      await backdateLastFailure('stuffed', delay * 1000);
      expect((await login('stuffed', 'wrong-password')).status).toBe(401);
      expectRefused(await login('stuffed', 'wrong-password'), next);
      delay = next;
    }
  });

  it('a network the user signed in from before skips the delay: an ongoing attack cannot lock the real user out', async () => {
    await h.register('besieged');
    const home = '198.51.100.7';
    expect((await login('besieged', DEFAULT_PASSWORD, home)).status).toBe(200);
    // The attack: failures from many IPs, then one at every slot as it opens.
    for (let i = 0; i < FREE; i++) expect((await login('besieged', 'wrong-password')).status).toBe(401);
    expectRefused(await login('besieged', DEFAULT_PASSWORD), 1); // a new network waits
    // From home, at once, with the right password — and a wrong one there is still counted per IP.
    expect((await login('besieged', DEFAULT_PASSWORD, home)).status).toBe(200);
    expect((await login('besieged', 'wrong-password', home)).status).toBe(401);
  });

  it('a refused attempt does not lengthen the delay, which runs out in real time; a successful login then resets the budget', async () => {
    await h.register('patient');
    for (let i = 0; i < FREE; i++) expect((await login('patient', 'wrong-password')).status).toBe(401);
    for (let i = 0; i < 3; i++) expectRefused(await login('patient', 'wrong-password'), 1);
    // The real user retries until the 1 s delay is over: signed in, not locked out.
    const ok = await waitFor(
      async () => {
        const res = await login('patient', DEFAULT_PASSWORD);
        return res.status === 200 ? res : (expect(res.status).toBe(429), false);
      },
      { timeoutMs: 3000, intervalMs: 200, what: 'the 1 s delay to run out' },
    );
    expect(ok.json.user.username).toBe('patient');
    expect(await redis.exists(keys.loginAccountFailures('patient'))).toBe(0);
    // A full free budget again.
    for (let i = 0; i < FREE; i++) expect((await login('patient', 'wrong-password')).status).toBe(401);
    expectRefused(await login('patient', 'wrong-password'), 1);
  });

  it('another username is unaffected, from the same IPs', async () => {
    await h.register('victim');
    await h.register('neighbour');
    const ips = Array.from({ length: FREE + 1 }, freshIp);
    for (const ip of ips.slice(0, FREE)) expect((await login('victim', 'wrong-password', ip)).status).toBe(401);
    expectRefused(await login('victim', 'wrong-password', ips[FREE]), 1);
    expect((await login('neighbour', 'wrong-password', ips[0])).status).toBe(401);
    expect((await login('neighbour', DEFAULT_PASSWORD, ips[FREE])).status).toBe(200);
  });

  it('counts case-insensitively and for unknown usernames too', async () => {
    for (const name of ['Ghost_Acct', 'GHOST_ACCT', 'ghost_acct', 'gHoSt_AcCt']) {
      expect((await login(name, 'wrong-password')).status).toBe(401);
    }
    expectRefused(await login('ghost_acct', 'wrong-password'), 1);
  });

  it('parallel attempts from many IPs cannot get past the budget: one per delay', async () => {
    await h.register('burst_acct');
    const statuses = (await Promise.all(Array.from({ length: 12 }, () => login('burst_acct', 'wrong-password')))).map((r) => r.status);
    // Checked and counted in one script: exactly the FREE ones pass (the burst lands well within
    // the 1 s delay that the last of them starts).
    expect(statuses.filter((s) => s === 401)).toHaveLength(FREE);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - FREE);
  });

  it('keeps the failures under the loginAccountFailures key, forgotten LOGIN_WINDOW_SEC after the last one', async () => {
    await login('expiring', 'wrong-password');
    const key = keys.loginAccountFailures('expiring');
    expect(await redis.hget(key, 'f')).toBe('1');
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  });
});

describe('per-username+IP counter and IPv6', () => {
  it('addresses within one IPv6 /64 share the counter; another /64 has its own', async () => {
    await h.register('v6target');
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:aaaa:bbbb:cccc:dddd']) {
      expect((await login('v6target', 'wrong-password', ip)).status).toBe(401);
    }
    const refused = await login('v6target', 'wrong-password', '2001:db8:1:2::ffff');
    expect(refused.status).toBe(429);
    expect(errorCode(refused)).toBe('too_many_attempts');
    expect((await login('v6target', DEFAULT_PASSWORD, '2001:db8:1:2:0:0:0:9')).status).toBe(429);
    expect((await login('v6target', DEFAULT_PASSWORD, '2001:db8:1:3::1')).status).toBe(200);
  });
});
