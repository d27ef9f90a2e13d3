// Joining and resuming with `since`: no gap and no duplicate between the room log backlog and
// live traffic, also across a replica killed with SIGKILL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { compareIds } from '../../services/shared/ids.js';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor, type Frame } from './client.js';

const keys = keysFor(1);
let redis: TestRedis;
let r: Redis;
let a: RunningService;
let b: RunningService;
const clients: TestClient[] = [];

const env = (id: string) =>
  chatEnv(redis.url, id, {
    RATE_LIMIT_MESSAGES: '10000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000',
    MAX_FRAMES_PER_SEC: '1000',
    ROOM_LOG_MAXLEN: '100',
    RECOVERY_MAX: '60',
    JOIN_HISTORY: '20',
  });

async function connect(svc: RunningService, user: string): Promise<TestClient> {
  const c = await TestClient.connect(svc.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}

/** Sends texts and waits for all acks; returns the acked ids in order. */
async function sendAll(c: TestClient, room: string, texts: string[]): Promise<string[]> {
  for (const t of texts) c.send({ type: 'send', room, text: t, cid: `${room}-${t}` });
  const acks = await waitFor(() => {
    const got = texts.map((t) => c.frames.find((f) => f.type === 'ack' && f.cid === `${room}-${t}`));
    return got.every(Boolean) ? (got as Frame[]) : undefined;
  }, { what: `${texts.length} acks` });
  return acks.map((x) => x.id as string);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `m${from + i}`);

/**
 * A `joined` without recovery carries the latest JOIN_HISTORY (20) log ENTRIES: the joiner's own
 * first join of a public room is one of them (a `member joined` event, the newest), so 19
 * messages come with it.
 */
function expectLatestWithOwnJoin(joined: Frame, ids: string[], user: string): void {
  expect(joined.recovered).toBe(false);
  expect(joined.messages.map((m: Frame) => m.id)).toEqual(ids.slice(-19));
  expect(joined.events.map((e: Frame) => [e.kind, e.action, e.member?.id])).toEqual([['member', 'joined', user]]);
}

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  // Small stream nodes so MAXLEN ~ trims at a fine grain and the cap is reachable in a test.
  await r.config('SET', 'stream-node-max-entries', '10');
  [a, b] = await Promise.all([startService('chat', env('res-a')), startService('chat', env('res-b'))]);
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

describe('join and resume', () => {
  it('a join without since returns the latest JOIN_HISTORY messages, oldest first', async () => {
    const s = await connect(a, 'sender1');
    await s.join('hist');
    const ids = await sendAll(s, 'hist', range(0, 30));
    const c = await connect(b, 'reader1');
    const joined = await c.join('hist');
    expectLatestWithOwnJoin(joined, ids, 'reader1');
    expect(joined.messages.map((m: Frame) => m.text)).toEqual(range(11, 30));
    expect(joined.messages[0]).toMatchObject({ room: 'hist', user: { id: 'sender1', name: 'sender1' }, cid: 'hist-m11' });
    // another socket of reader1 appends no second `joined`: it reads the same entries
    const again = await connect(a, 'reader1');
    expectLatestWithOwnJoin(await again.join('hist'), ids, 'reader1');
  });

  it('a client that disconnects and rejoins with since gets exactly what it missed, then live', async () => {
    const alice = await connect(a, 'alice');
    const bob = await connect(b, 'bob');
    await alice.join('resume');
    await bob.join('resume');
    await sendAll(alice, 'resume', range(0, 5));
    await waitFor(() => bob.all('message').length === 5, { what: 'bob got 5' });
    const last = bob.all('message').at(-1)!.id as string;
    await bob.close();
    const missed = await sendAll(alice, 'resume', range(5, 15));
    const bob2 = await connect(a, 'bob');
    const joined = await bob2.join('resume', last);
    expect(joined.recovered).toBe(true);
    expect(joined.messages.map((m: Frame) => m.id)).toEqual(missed);
    const live = await sendAll(alice, 'resume', ['live']);
    const m = await bob2.next('message');
    expect(m.id).toBe(live[0]);
    expect(bob2.all('message')).toHaveLength(1);
  });

  it('messages sent while a resume is in progress are delivered exactly once, in order', async () => {
    const writer = await connect(a, 'writer');
    const writer2 = await connect(b, 'writer2');
    const reader = await connect(b, 'reader');
    await writer.join('race');
    await writer2.join('race');
    await reader.join('race');
    const before = await sendAll(writer, 'race', range(0, 3));
    await waitFor(() => reader.all('message').length === 3, { what: 'reader got 3' });
    await reader.close();
    // writers keep sending from both replicas while the reader rejoins
    const texts1 = range(100, 130);
    const texts2 = range(200, 230);
    const sending = Promise.all([sendAll(writer, 'race', texts1), sendAll(writer2, 'race', texts2)]);
    await new Promise((res) => setTimeout(res, 5));
    const reader2 = await connect(a, 'reader');
    const joined = await reader2.join('race', before.at(-1));
    const [ids1, ids2] = await sending;
    const all = [...ids1, ...ids2].sort(compareIds);
    await waitFor(() => joined.messages.length + reader2.all('message').length >= all.length, { what: 'reader caught up' });
    await new Promise((res) => setTimeout(res, 200));
    const seen = [...joined.messages.map((m: Frame) => m.id), ...reader2.all('message').map((m) => m.id)];
    expect(joined.recovered).toBe(true);
    expect(seen).toEqual(all);
  });

  it('after its replica is killed with SIGKILL a client resumes on another replica without gap or duplicate', async () => {
    const doomed = await startService('chat', env('res-doomed'));
    try {
      const carol = await connect(doomed, 'carol');
      const dave = await connect(b, 'dave');
      await carol.join('crash');
      await dave.join('crash');
      await sendAll(dave, 'crash', range(0, 4));
      await waitFor(() => carol.all('message').length === 4, { what: 'carol got 4' });
      const last = carol.all('message').at(-1)!.id as string;
      await doomed.stop('SIGKILL');
      await carol.closed;
      const missed = await sendAll(dave, 'crash', range(4, 12));
      const carol2 = await connect(b, 'carol');
      const joined = await carol2.join('crash', last);
      expect(joined.recovered).toBe(true);
      expect(joined.messages.map((m: Frame) => m.id)).toEqual(missed);
      expect(joined.messages.map((m: Frame) => m.text)).toEqual(range(4, 12));
    } finally {
      await doomed.stop('SIGKILL');
    }
  });

  it('since older than the capped room log gives the latest messages with recovered:false', async () => {
    const s = await connect(a, 'sender2');
    await s.join('capped');
    const ids = await sendAll(s, 'capped', range(0, 160));
    const first = ((await r.xrange(keys.roomLog('capped'), '-', '+', 'COUNT', 1)) as [string, string[]][])[0]![0];
    expect(compareIds(first, ids[0]!)).toBeGreaterThan(0); // the cap really trimmed the start
    expect(await r.xlen(keys.roomLog('capped'))).toBeLessThan(160);
    const c = await connect(b, 'late');
    const joined = await c.join('capped', ids[0]);
    expectLatestWithOwnJoin(joined, ids, 'late');
  });

  it('more than RECOVERY_MAX missed messages gives recovered:false instead of an unbounded read', async () => {
    const s = await connect(a, 'sender3');
    await s.join('many');
    const ids = await sendAll(s, 'many', range(0, 80));
    const c = await connect(b, 'away');
    const joined = await c.join('many', ids[5]); // 74 missed > RECOVERY_MAX 60, all still in the log
    expectLatestWithOwnJoin(joined, ids, 'away');
    const back = await connect(b, 'away-again'); // (a re-join on the same socket reads nothing: abuse.test.ts)
    const ok = await back.join('many', ids[30]); // 49 messages and 2 joins missed: recovered
    expect(ok.recovered).toBe(true);
    expect(ok.messages.map((m: Frame) => m.id)).toEqual(ids.slice(31));
    expect(ok.events.map((e: Frame) => e.member?.id)).toEqual(['away', 'away-again']);
  });

  it('since after the newest message recovers nothing and misses nothing', async () => {
    const s = await connect(a, 'sender4');
    await s.join('fresh');
    const ids = await sendAll(s, 'fresh', range(0, 3));
    const c = await connect(b, 'uptodate');
    const joined = await c.join('fresh', ids[2]);
    expect(joined).toMatchObject({ recovered: true, messages: [] });
  });

  it('since newer than the newest logged message gives the latest messages with recovered:false, then every live message', async () => {
    const s = await connect(a, 'sender5');
    await s.join('ahead');
    const ids = await sendAll(s, 'ahead', range(0, 3));
    const c = await connect(b, 'from-the-future');
    const joined = await c.join('ahead', '99999999999999-0');
    expect(joined.recovered).toBe(false);
    expect(joined.messages.map((m: Frame) => m.id)).toEqual(ids);
    const [next] = await sendAll(s, 'ahead', ['m3']);
    expect((await c.find('message', (f) => f.cid === 'ahead-m3')).id).toBe(next);
  });
});
