// Presence status against a real redis-server: what a replica writes (user-status.ts) and what a
// reader makes of it (shared/user-status.ts) — online, away by a device's word or by silence,
// dnd, offline at the last disconnect or when no replica vouches any more, and last seen.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { waitFor } from '../../test/helpers/ports.js';
import { keysFor } from '../shared/keys.js';
import { presenceOf, readPresence, setPresenceDnd } from '../shared/user-status.js';
import { UserStatusTracker } from './user-status.js';

let redis: TestRedis;
let r: Redis;
const keys = keysFor(1);
const log = pino({ level: 'silent' });
const AWAY_MS = 60_000;
const read = async (id: string) => (await readPresence(r, keys, [id], AWAY_MS)).get(id)!;

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await r.flushall();
});

describe('presenceOf', () => {
  const now = 1_000_000;
  it('offline without a vouching replica; online, away (word or silence), dnd while one vouches', () => {
    expect(presenceOf([null, null, null, null, null], now, AWAY_MS)).toEqual({ status: 'offline' });
    expect(presenceOf([String(now - 1), String(now - 5000), null, String(now - 1), null], now, AWAY_MS)).toEqual({ status: 'offline', lastSeen: now - 1 });
    expect(presenceOf([String(now + 1), String(now - 5000), null, null, null], now, AWAY_MS)).toEqual({ status: 'online', lastSeen: now - 5000 });
    expect(presenceOf([String(now + 1), String(now - 5000), '1', null, null], now, AWAY_MS).status).toBe('away');
    expect(presenceOf([String(now + 1), String(now - AWAY_MS - 1), null, null, null], now, AWAY_MS).status).toBe('away');
    expect(presenceOf([String(now + 1), String(now), null, null, '1'], now, AWAY_MS).status).toBe('dnd');
    expect(presenceOf([null, null, null, String(now - 9), '1'], now, AWAY_MS)).toEqual({ status: 'offline', lastSeen: now - 9 });
  });
});

describe('UserStatusTracker', () => {
  it('online while a socket is open, away when a device says so, online again on activity, offline with lastSeen at the last close', async () => {
    const t = new UserStatusTracker(r, keys, log, { PRESENCE_TTL_SEC: 30 });
    t.connected('u1');
    await waitFor(async () => (await read('u1')).status === 'online', { timeoutMs: 2000, what: 'online' });
    t.connected('u1'); // a second socket
    t.set('u1', 'away');
    await waitFor(async () => (await read('u1')).status === 'away', { timeoutMs: 2000, what: 'away' });
    t.activity('u1'); // written at once after an away, whatever the throttle
    await waitFor(async () => (await read('u1')).status === 'online', { timeoutMs: 2000, what: 'online again' });
    t.disconnected('u1');
    await r.ping();
    expect((await read('u1')).status).toBe('online'); // one socket left
    const before = Date.now();
    t.disconnected('u1');
    await waitFor(async () => (await read('u1')).status === 'offline', { timeoutMs: 2000, what: 'offline' });
    expect((await read('u1')).lastSeen).toBeGreaterThanOrEqual(before);
  });

  it('another replica vouching keeps a user online after one replica saw them leave; dnd shows while connected', async () => {
    const a = new UserStatusTracker(r, keys, log, { PRESENCE_TTL_SEC: 30 });
    const b = new UserStatusTracker(r, keys, log, { PRESENCE_TTL_SEC: 30 });
    a.connected('u2');
    b.connected('u2');
    a.disconnected('u2');
    await b.refresh();
    expect((await read('u2')).status).toBe('online');
    await setPresenceDnd(r, keys, 'u2', true);
    expect((await read('u2')).status).toBe('dnd');
    await setPresenceDnd(r, keys, 'u2', false);
    expect((await read('u2')).status).toBe('online');
  });

  it('activity is throttled: one write per user per window while active', async () => {
    const t = new UserStatusTracker(r, keys, log, { PRESENCE_TTL_SEC: 30 });
    t.connected('u3');
    await waitFor(async () => (await r.hget(keys.userStatus('u3'), 'act')) !== null, { timeoutMs: 2000, what: 'first write' });
    const first = await r.hget(keys.userStatus('u3'), 'act');
    await new Promise((res) => setTimeout(res, 5));
    for (let i = 0; i < 100; i++) t.activity('u3');
    await r.ping();
    expect(await r.hget(keys.userStatus('u3'), 'act')).toBe(first);
  });
});
