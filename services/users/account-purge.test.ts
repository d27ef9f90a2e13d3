// The deleted accounts' message purge (DELETE_MESSAGES_WITH_ACCOUNT) against a real SQLite store
// and a real redis-server: a pass removes every message of a queued user (top-level and replies,
// nobody else's), keeps the user queued while a straggler may still arrive from the ingest
// stream, removes a straggler on a later pass, and lets the user go once the settle window passed
// with nothing left.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { keysFor } from '../shared/keys.js';
import type { ChatMessage } from '../shared/message.js';
import { createStore, type Store } from '../shared/store/index.js';
import { msg } from '../shared/store/store.contract.js';
import { PURGE_SETTLE_MS, purgeDeletedAccounts } from './account-purge.js';

const log = pino({ level: 'silent' });
const keys = keysFor(1);
const gone = { id: 'u_gone000001', name: 'gone' };
const by = (m: ChatMessage, replyTo?: string): ChatMessage => ({ ...m, user: gone, ...(replyTo && { replyTo }) });
let dir: string;
let store: Store;
let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aurora-purge-'));
  store = await createStore({ SQLITE_PATH: join(dir, 'aurora.db'), MONGO_URL: undefined }, log);
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('purgeDeletedAccounts', () => {
  it('removes a queued user\'s messages, waits out the settle window for stragglers, then forgets the user', async () => {
    const deletedAt = 1_800_000_000_000;
    await store.insertMessages([by(msg('general', '10-0')), msg('general', '11-0'), by(msg('general', '12-0'), '11-0'), by(msg('p:team', '13-0'))]);
    await redis.zadd(keys.accountPurges(), deletedAt, gone.id);
    const deps = { store, redis, keys, log };

    expect(await purgeDeletedAccounts(deps, deletedAt + 1000)).toBe(3);
    expect((await store.getMessage('general', '10-0'))?.deleted).toBe(true);
    expect((await store.getMessage('p:team', '13-0'))?.deleted).toBe(true);
    expect(await store.getMessage('general', '11-0')).toMatchObject({ text: 'text 11-0' });
    expect((await store.getMessage('general', '11-0'))?.replyCount).toBeUndefined();
    expect(await redis.zscore(keys.accountPurges(), gone.id)).toBe(String(deletedAt)); // still settling

    // a message sent just before the deletion, stored only now
    await store.insertMessages([by(msg('general', '14-0'))]);
    expect(await purgeDeletedAccounts(deps, deletedAt + 2000)).toBe(1);
    expect((await store.getMessage('general', '14-0'))?.deleted).toBe(true);
    expect(await purgeDeletedAccounts(deps, deletedAt + 3000)).toBe(0);
    expect(await redis.zscore(keys.accountPurges(), gone.id)).not.toBeNull();

    expect(await purgeDeletedAccounts(deps, deletedAt + PURGE_SETTLE_MS)).toBe(0);
    expect(await redis.zscore(keys.accountPurges(), gone.id)).toBeNull();
  });
});
