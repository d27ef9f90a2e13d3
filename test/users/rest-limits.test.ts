// The signed-in REST API is bounded per user: history pages by bytes (a page of 200 messages of
// 4,000 control characters was ~4.8 MB), and every user by a request budget shared by all users
// replicas. Real users processes, real Redis, a real SQLite file seeded as the workers write it.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../services/shared/message.js';
import { createStore } from '../../services/shared/store/index.js';
import type { Store } from '../../services/shared/store/store.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { errorCode, startUsers, type UsersHarness } from './harness.js';

const PAGE_MAX_BYTES = 64 * 1024;
let redis: TestRedis;
let h: UsersHarness;
let h2: UsersHarness;
let store: Store;

const BASE = 1_700_000_000_000;
// 30 messages of 4,000 control characters: each is ~24 KB of JSON (\u0001 is 6 bytes), so a
// limit=200 page of them would be ~720 KB; 200 of them (the old worst case) ~4.8 MB.
const heavy: ChatMessage[] = Array.from({ length: 30 }, (_, i) => ({
  id: `${BASE + i}-0`,
  room: 'heavy',
  user: { id: 'seed-user', name: 'seeder' },
  text: '\u0001'.repeat(4000),
  ts: BASE + i,
  cid: `h${i}`,
}));

beforeAll(async () => {
  redis = await startRedis();
  const env = { HISTORY_PAGE_MAX_BYTES: String(PAGE_MAX_BYTES), REST_MAX_PER_USER: '40', REST_WINDOW_SEC: '60' };
  h = await startUsers(env, { redis });
  h2 = await startUsers({ ...env, SQLITE_PATH: h.sqlitePath }, { redis });
  store = await createStore({ SQLITE_PATH: h.sqlitePath, MONGO_URL: undefined }, pino({ level: 'silent' }));
  await store.insertMessages(heavy);
});
afterAll(async () => {
  await store?.close();
  await h2?.stop();
  await h?.stop();
  await redis?.stop();
});

describe('history pages are bounded by bytes', () => {
  it('a page of heavy messages stops at HISTORY_PAGE_MAX_BYTES with hasMore, and paging on returns every message once', async () => {
    await h.register('pager');
    const { token } = await h.login('pager');
    const seen: string[] = [];
    let before = '';
    for (let pages = 0; pages < 100; pages++) {
      const res = await h.call('GET', `/api/rooms/heavy/messages?limit=200${before}`, { token });
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(res.text)).toBeLessThanOrEqual(PAGE_MAX_BYTES + 64);
      const ids = (res.json.messages as ChatMessage[]).map((m) => m.id);
      expect(ids.length).toBeGreaterThan(0);
      seen.unshift(...ids);
      if (!res.json.hasMore) break;
      before = `&before=${ids[0]}`;
    }
    expect(seen).toEqual(heavy.map((m) => m.id));
  });
});

describe('the per-user REST budget', () => {
  it('is shared by every users replica: past REST_MAX_PER_USER the user gets 429 too_many_requests with Retry-After, others are untouched', async () => {
    await h.register('greedy');
    await h.register('modest');
    const greedy = (await h.login('greedy')).token;
    const modest = (await h.login('modest')).token;
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await (i % 2 ? h2 : h).call('GET', '/api/rooms', { token: greedy });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);
    expect(statuses.slice(40).every((s) => s === 429)).toBe(true);
    const refused = await h.call('GET', '/api/me', { token: greedy });
    expect(refused.status).toBe(429);
    expect(errorCode(refused)).toBe('too_many_requests');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await h2.call('GET', '/api/rooms', { token: modest })).status).toBe(200);
  });

  it('fails closed: without Redis a signed-in request gets 503, not an unlimited pass', async () => {
    await h.register('late');
    const { token } = await h.login('late');
    await redis.stop();
    const res = await h.call('GET', '/api/rooms', { token });
    expect(res.status).toBe(503);
    expect(errorCode(res)).toBe('unavailable');
  });
});
