// readBacklog (services/chat/join.ts) against a real redis-server, with a proxy that lets the
// test run a trim exactly between two commands of the read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { keysFor } from '../../services/shared/keys.js';
import { READ_CHUNK, readBacklog } from '../../services/chat/join.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRedisProxy, type RedisProxy } from './redis-proxy.js';

const keys = keysFor(1);
const config = { JOIN_HISTORY: 5, RECOVERY_MAX: 100 };
let redis: TestRedis;
let r: Redis;
let proxy: RedisProxy;
let viaProxy: Redis;

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  proxy = await startRedisProxy(redis.port);
  viaProxy = new Redis(proxy.url, { maxRetriesPerRequest: 2 });
  viaProxy.on('error', () => {});
  await viaProxy.ping();
});
afterAll(async () => {
  viaProxy?.disconnect();
  await proxy?.close();
  await redis?.stop();
});

async function fill(room: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await r.xadd(keys.roomLog(room), '*', 'uid', 'u', 'name', 'u', 'text', `m${i}`, 'cid', `c${i}`))!);
  return ids;
}

describe('readBacklog', () => {
  it('a trim of the room log between the commands of a resume read never gives recovered:true with a hole', async () => {
    const ids = await fill('trimmed', 10);
    const since = ids[2]!;
    let n = 0;
    let downBeforeFirst = 0;
    let trimmed = false;
    proxy.onCommand = async (_args, conn) => {
      n++;
      if (n === 1) downBeforeFirst = conn.down;
      if (n !== 2) return;
      // the first command was executed (its reply came back); now trim, then let the rest go
      await waitFor(() => conn.down > downBeforeFirst, { what: 'the first reply' });
      await r.xadd(keys.roomLog('trimmed'), 'MAXLEN', '2', '*', 'uid', 'u', 'name', 'u', 'text', 'late', 'cid', 'late');
      trimmed = true;
    };
    try {
      const backlog = await readBacklog(viaProxy, keys, config, 'trimmed', since);
      expect(trimmed).toBe(true);
      const log = (await r.xrange(keys.roomLog('trimmed'), '-', '+')) as [string, string[]][];
      expect(log.map(([id]) => id)).not.toContain(ids[3]); // the trim really cut into the missed part
      expect(backlog.recovered).toBe(false);
      expect(backlog.messages.map((m) => m.id)).toEqual(log.map(([id]) => id));
    } finally {
      proxy.onCommand = null;
    }
  });

  it('a resume read in several chunks gives recovered:false when a trim between the chunks cut into the missed part', async () => {
    const ids = await fill('chunked', READ_CHUNK * 2 + 20);
    const since = ids[5]!;
    let n = 0;
    let trimmed = false;
    proxy.onCommand = async (args) => {
      // the 2nd MULTI starts the second chunk: trim before it runs
      if (args[0]?.toUpperCase() === 'MULTI' && ++n === 2) {
        await r.xtrim(keys.roomLog('chunked'), 'MAXLEN', READ_CHUNK + 10);
        trimmed = true;
      }
    };
    try {
      const backlog = await readBacklog(viaProxy, keys, { JOIN_HISTORY: 5, RECOVERY_MAX: 500 }, 'chunked', since);
      expect(trimmed).toBe(true);
      expect(backlog.recovered).toBe(false);
      expect(backlog.messages.map((m) => m.id)).toEqual(ids.slice(-5));
    } finally {
      proxy.onCommand = null;
    }
  });

  it('a resume read in several chunks without a trim recovers everything after since, in order', async () => {
    const ids = await fill('chunked-ok', READ_CHUNK * 2 + 20);
    const backlog = await readBacklog(r, keys, { JOIN_HISTORY: 5, RECOVERY_MAX: 500 }, 'chunked-ok', ids[5]);
    expect(backlog.recovered).toBe(true);
    expect(backlog.messages.map((m) => m.id)).toEqual(ids.slice(6));
    expect(backlog.json.map((j) => JSON.parse(j).id)).toEqual(ids.slice(6));
    expect(backlog.lastId).toBe(ids.at(-1));
  });

  it('bounded by bytes: the newest messages that fit, recovered:false when what was missed does not fit', async () => {
    const ids = await fill('bytes', 20);
    const one = Buffer.byteLength(JSON.stringify({ id: ids[0], room: 'bytes', user: { id: 'u', name: 'u' }, text: 'm10', ts: 1, cid: 'c10' }));
    const budget = (one + 1) * 4 + 2; // about four messages
    const missed = await readBacklog(r, keys, { JOIN_HISTORY: 50, RECOVERY_MAX: 100 }, 'bytes', ids[9], budget);
    expect(missed.recovered).toBe(false);
    expect(missed.messages.map((m) => m.id)).toEqual(ids.slice(-missed.messages.length));
    expect(missed.json.join(',').length).toBeLessThanOrEqual(budget);
    expect(missed.messages.length).toBeGreaterThanOrEqual(3);
    const fits = await readBacklog(r, keys, { JOIN_HISTORY: 50, RECOVERY_MAX: 100 }, 'bytes', ids[17], budget);
    expect(fits).toMatchObject({ recovered: true });
    expect(fits.messages.map((m) => m.id)).toEqual(ids.slice(18));
  });

  it('since newer than the newest entry is not a recovery: the latest messages, recovered:false', async () => {
    const ids = await fill('future', 3);
    const backlog = await readBacklog(r, keys, config, 'future', '99999999999999-0');
    expect(backlog.recovered).toBe(false);
    expect(backlog.messages.map((m) => m.id)).toEqual(ids);
  });

  it('since equal to the newest entry recovers nothing, with recovered:true', async () => {
    const ids = await fill('current', 3);
    const backlog = await readBacklog(r, keys, config, 'current', ids[2]);
    expect(backlog).toMatchObject({ recovered: true, messages: [] });
  });
});
