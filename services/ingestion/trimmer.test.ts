import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { fieldRecord } from '../shared/redis.js';
import { laggingGroups, parseGroups, successorId, trimPoint, trimStream, type GroupState } from './trimmer.js';

describe('trimPoint', () => {
  it('keeps the oldest pending entry of a group', () => {
    expect(trimPoint([{ name: 'g', pending: 3, lastDeliveredId: '90-0', lag: 0, oldestPendingId: '10-5' }])).toBe('10-5');
  });

  it('trims everything delivered when nothing is pending', () => {
    expect(trimPoint([{ name: 'g', pending: 0, lastDeliveredId: '90-7', lag: 0 }])).toBe('90-8');
  });

  it('takes the group that needs the oldest entry, comparing ids numerically', () => {
    const point = trimPoint([
      { name: 'fast', pending: 0, lastDeliveredId: '100-0', lag: 0 },
      { name: 'slow', pending: 0, lastDeliveredId: '9-3', lag: 5 },
      { name: 'busy', pending: 1, lastDeliveredId: '100-0', lag: 0, oldestPendingId: '10-0' },
    ]);
    expect(point).toBe('9-4');
  });

  it('trims nothing on a stream without a group', () => {
    expect(trimPoint([])).toBeNull();
  });
});

describe('laggingGroups', () => {
  const g = (name: string, lag: number | null): GroupState => ({ name, pending: 0, lastDeliveredId: '1-0', lag });

  it('never gives up on its own group, however far behind', () => {
    expect(laggingGroups([g('ingestion', 1_000_000), g('notify', 10)], { ownGroup: 'ingestion', maxOtherGroupLag: 100 }, 5)).toEqual([]);
  });

  it('gives up on another group only past the maximum lag', () => {
    const policy = { ownGroup: 'ingestion', maxOtherGroupLag: 100 };
    expect(laggingGroups([g('ingestion', 0), g('notify', 100)], policy, 500)).toEqual([]);
    expect(laggingGroups([g('ingestion', 0), g('notify', 101)], policy, 500)).toEqual(['notify']);
  });

  it('counts only how far behind storage the group is: a storage backlog alone makes no group lagging', () => {
    const policy = { ownGroup: 'ingestion', maxOtherGroupLag: 100 };
    expect(laggingGroups([g('ingestion', 5000), g('notify', 5050)], policy, 6000)).toEqual([]);
    expect(laggingGroups([g('ingestion', 5000), g('notify', 5101)], policy, 6000)).toEqual(['notify']);
  });

  it('takes the stream length as the lag when Redis cannot tell it', () => {
    const policy = { ownGroup: 'ingestion', maxOtherGroupLag: 100 };
    expect(laggingGroups([g('notify', null)], policy, 100)).toEqual([]);
    expect(laggingGroups([g('notify', null)], policy, 101)).toEqual(['notify']);
  });

  it('waits for every group without a maximum', () => {
    expect(laggingGroups([g('notify', 1e9)], { ownGroup: 'ingestion' }, 1e9)).toEqual([]);
  });
});

describe('successorId / parseGroups', () => {
  it('increments the sequence without losing precision', () => {
    expect(successorId('1700000000000-9007199254740993')).toBe('1700000000000-9007199254740994');
    expect(successorId('1700000000000-18446744073709551615')).toBe('1700000000001-0');
    expect(successorId('0-0')).toBe('0-1');
  });

  it('reads XINFO GROUPS replies', () => {
    const reply = [['name', 'ingestion', 'consumers', 2, 'pending', 4, 'last-delivered-id', '5-1', 'entries-read', 9, 'lag', null]];
    expect(parseGroups(reply)).toEqual([{ name: 'ingestion', pending: 4, lastDeliveredId: '5-1', lag: null }]);
  });
});

describe('trimStream with a lagging second group (real Redis)', () => {
  let redis: TestRedis;
  let r: Redis;
  const stream = 'trim-test';
  const policy = { ownGroup: 'ingestion', maxOtherGroupLag: 10 };

  beforeAll(async () => {
    redis = await startRedis();
    r = redis.client();
  });
  beforeEach(async () => {
    await r.flushall();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function add(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await r.xadd(stream, '*', 'i', String(i))) as string);
    return ids;
  }
  /** Reads `count` entries as `group` and acks them; returns their ids. */
  async function consume(group: string, count: number): Promise<string[]> {
    const reply = (await r.xreadgroup('GROUP', group, 'c', 'COUNT', count, 'STREAMS', stream, '>')) as [string, [string, string[]][]][] | null;
    const ids = (reply?.[0]?.[1] ?? []).map(([id]) => id);
    if (ids.length > 0) await r.xack(stream, group, ...ids);
    return ids;
  }
  async function lagOf(group: string): Promise<number | null> {
    const g = ((await r.xinfo('GROUPS', stream)) as unknown[][]).map((x) => fieldRecord(x)).find((x) => x.name === group);
    return g?.lag === null || g?.lag === undefined ? null : Number(g.lag);
  }
  async function setup(): Promise<string[]> {
    await r.xgroup('CREATE', stream, 'ingestion', '0', 'MKSTREAM');
    await r.xgroup('CREATE', stream, 'notify', '0');
    return add(30);
  }

  it('waits for a group within the maximum lag', async () => {
    const ids = await setup();
    await consume('ingestion', 30);
    await consume('notify', 25); // 5 behind: within 10
    const trimmed: number[] = [];
    expect(await trimStream(r, stream, undefined, 'ingestion', { ...policy, onUnreadTrimmed: (_s, _g, n) => trimmed.push(n) })).toBe(5);
    expect((await r.xrange(stream, '-', '+')).map(([id]) => id)).toEqual(ids.slice(25));
    expect(trimmed).toEqual([]);
  });

  it('trims the unread entries of a group past the maximum, counts them, and keeps waiting for it once it is back within', async () => {
    await setup();
    await consume('ingestion', 30);
    await consume('notify', 5); // 25 behind
    const trimmed: [string, number][] = [];
    const hooks = { ...policy, onUnreadTrimmed: (_s: string, g: string, n: number) => trimmed.push([g, n]) };
    expect(await trimStream(r, stream, undefined, 'ingestion', hooks)).toBe(0);
    expect(trimmed).toEqual([['notify', 25]]);
    // Redis reports the real lag again (0), not 25 forever: the group is waited for from now on.
    expect(await lagOf('notify')).toBe(0);

    const next = await add(8);
    await consume('ingestion', 8);
    expect(await lagOf('notify')).toBe(8);
    expect(await trimStream(r, stream, undefined, 'ingestion', hooks)).toBe(8); // notify still needs all 8
    expect(await consume('notify', 100)).toEqual(next);
    expect(await lagOf('notify')).toBe(0);
    expect(await trimStream(r, stream, undefined, 'ingestion', hooks)).toBe(0);
    expect(trimmed).toEqual([['notify', 25]]);
  });

  it('never trims what storage has not acked, whatever the other group did', async () => {
    await setup();
    await consume('ingestion', 10);
    await consume('notify', 30);
    expect(await trimStream(r, stream, undefined, 'ingestion', policy)).toBe(20);
  });

  it('trims nothing on a stream whose storage group is missing', async () => {
    await r.xgroup('CREATE', stream, 'notify', '0', 'MKSTREAM');
    await add(5);
    await consume('notify', 5);
    expect(await trimStream(r, stream, undefined, 'ingestion', policy)).toBeNull();
    expect(await r.xlen(stream)).toBe(5);
  });
});
