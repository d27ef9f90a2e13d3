// Presence across replicas: one user connected through two replicas is one member until its
// last socket anywhere leaves, and an entry swept during a Redis outage is announced again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { MEMBER_LIST_MAX, Presence } from '../../services/chat/presence.js';
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

const env = (id: string) => chatEnv(redis.url, id, { PRESENCE_TTL_SEC: '2' });
async function connect(svc: RunningService, user: string): Promise<TestClient> {
  const c = await TestClient.connect(svc.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}
const about = (c: TestClient, uid: string) => c.all('presence', (f) => f.user.id === uid).map((f: Frame) => f.event as string);

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  [a, b] = await Promise.all([startService('chat', env('pres-a')), startService('chat', env('pres-b'))]);
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await redis?.stop();
});

describe('presence across replicas', () => {
  it('a user connected through two replicas stays a member until its last socket leaves, with one join and one leave', async () => {
    const watcher = await connect(a, 'watcher');
    await watcher.join('two-replicas');
    const viaA = await connect(a, 'kim');
    const viaB = await connect(b, 'kim');
    await viaA.join('two-replicas');
    await viaB.join('two-replicas');
    viaB.send({ type: 'leave', room: 'two-replicas' });
    await viaB.next('left');
    // a marker through the same channel: every presence event before it has arrived
    const marker = await connect(b, 'marker');
    await marker.join('two-replicas');
    await watcher.find('presence', (f) => f.user.id === 'marker');
    expect(about(watcher, 'kim')).toEqual(['join']);
    // still listed
    const late = await connect(b, 'late');
    const joined = await late.join('two-replicas');
    expect(joined.members.map((m: { id: string }) => m.id)).toContain('kim');
    // across at least one refresh period it stays that way
    await new Promise((res) => setTimeout(res, 1500));
    expect(about(watcher, 'kim')).toEqual(['join']);

    viaA.send({ type: 'leave', room: 'two-replicas' });
    await waitFor(() => about(watcher, 'kim').length === 2, { what: 'the leave of the last socket' });
    expect(about(watcher, 'kim')).toEqual(['join', 'leave']);
  });

  it('a connected member whose entry was swept (a Redis outage longer than the TTL) is announced again by its replica', async () => {
    const watcher = await connect(a, 'watcher2');
    const bob = await connect(b, 'bob');
    await watcher.join('outage');
    await bob.join('outage');
    await watcher.find('presence', (f) => f.user.id === 'bob' && f.event === 'join');
    // what another replica's sweep does after a long outage: the entry is removed, leave announced
    const entries = await r.zrange(keys.presence('outage'), 0, -1);
    const bobEntries = entries.filter((m) => m.startsWith('bob|'));
    expect(bobEntries.length).toBe(1);
    await r.zrem(keys.presence('outage'), bobEntries[0]!);
    await r.spublish(keys.roomChannel('outage'), JSON.stringify({ type: 'presence', room: 'outage', event: 'leave', user: { id: 'bob', name: 'bob' } }));
    // bob is still connected: his replica's refresh puts him back and says so
    await waitFor(() => about(watcher, 'bob').length === 3, { what: 'bob announced again', timeoutMs: 10_000 });
    expect(about(watcher, 'bob')).toEqual(['join', 'leave', 'join']);
    expect((await r.zrange(keys.presence('outage'), 0, -1)).some((m) => m.startsWith('bob|'))).toBe(true);
  });
});

describe('presence cost does not grow with the room', () => {
  const silent = pino({ level: 'silent' });
  const bigRoom = 'huge';
  let client: Redis;
  let sub: Redis;
  const events: string[] = [];

  /** Redis-side time (µs) of this client's script calls SLOWLOG saw since the last reset (the
   * chat replicas of the other tests share this Redis; their calls are not counted). */
  async function scriptMicros(): Promise<number> {
    const log = (await r.call('SLOWLOG', 'GET', '100000')) as [number, number, number, string[], string, string][];
    return log.filter((e) => e[5] === 'presence-perf' && /^eval/i.test(e[3][0] ?? '')).reduce((sum, e) => sum + e[2], 0);
  }
  async function timed(op: () => Promise<unknown>): Promise<number> {
    await r.call('SLOWLOG', 'RESET');
    await op();
    return scriptMicros();
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  async function settle(room: string): Promise<void> {
    const mark = `mark-${Math.random()}`;
    await r.spublish(keys.roomChannel(room), JSON.stringify({ type: 'mark', mark }));
    await waitFor(() => events.includes(`mark:${mark}`), { what: 'the marker' });
  }
  async function fill(room: string, entries: [number, string][]): Promise<void> {
    for (let i = 0; i < entries.length; i += 1000) {
      const chunk = entries.slice(i, i + 1000);
      await r.zadd(keys.presence(room), ...chunk.flatMap(([s, m]) => [s, m]));
      await r.zadd(keys.presenceIndex(room), ...chunk.flatMap(([, m]) => [0, m]));
    }
  }

  beforeAll(async () => {
    client = redis.client();
    await client.client('SETNAME', 'presence-perf');
    sub = redis.client();
    // room channels are shard channels (presence.lua SPUBLISHes)
    sub.on('smessage', (_ch: string, msg: string) => {
      const f = JSON.parse(msg) as { type: string; mark?: string; event?: string; user?: { id: string } };
      events.push(f.type === 'mark' ? `mark:${f.mark}` : `${f.event}:${f.user!.id}`);
    });
    await sub.ssubscribe(keys.roomChannel(bigRoom), keys.roomChannel('sweep'), keys.roomChannel('leftover'), keys.roomChannel('crowd'));
    await r.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
    await r.call('CONFIG', 'SET', 'slowlog-max-len', '100000'); // commands inside scripts are logged too
  });
  afterAll(async () => {
    await r.call('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
  });

  it('in a room of 20,000 entries a join, a leave and a refresh with a sweep each take a few ms of Redis time, with the same events', async () => {
    const now = Date.now();
    const entries: [number, string][] = [];
    // 10,000 users, each on replicas x and y
    for (let i = 0; i < 10_000; i++) for (const rep of ['x', 'y']) entries.push([now + 600_000, `u${i}|u${i}|${rep}`]);
    // replica x died: 100 of its entries expired (their users are still on y), and 10 users only on x
    for (let i = 0; i < 100; i++) entries[i * 2] = [now - 1000, `u${i}|u${i}|x`];
    for (let i = 0; i < 10; i++) entries.push([now - 1000, `gone${i}|gone${i}|x`]);
    await fill(bigRoom, entries);
    const p = new Presence(client, keys, silent, { PRESENCE_TTL_SEC: 600, PRESENCE_EVENTS_MAX_MEMBERS: 1_000_000, replicaId: 'perf' });
    await p.join(bigRoom, { id: 'warm', name: 'warm' }); // loads the script

    const joins: number[] = [];
    let members: { id: string }[] = [];
    for (let i = 0; i < 5; i++) joins.push(await timed(async () => (members = await p.join(bigRoom, { id: `n${i}`, name: `n${i}` }))));
    // the member list is a bounded read, and lists the joiner
    expect(members.length).toBeGreaterThan(100);
    expect(members.length).toBeLessThanOrEqual(MEMBER_LIST_MAX + 1);
    expect(members.map((m) => m.id)).toContain('n4');
    // a user already present through other replicas: no event
    joins.push(await timed(() => p.join(bigRoom, { id: 'u5000', name: 'u5000' })));
    const leaves: number[] = [];
    for (let i = 0; i < 5; i++) leaves.push(await timed(() => p.leave(bigRoom, { id: `n${i}`, name: `n${i}` })));
    leaves.push(await timed(() => p.leave(bigRoom, { id: 'u5000', name: 'u5000' })));
    const refresh = await timed(() => p.refresh());
    await settle(bigRoom);

    expect(events.filter((e) => !e.startsWith('mark:')).sort()).toEqual(
      [...[0, 1, 2, 3, 4].flatMap((i) => [`join:n${i}`, `leave:n${i}`]), ...Array.from({ length: 10 }, (_, i) => `leave:gone${i}`), 'join:warm'].sort(),
    );
    expect(await r.zcount(keys.presence(bigRoom), '-inf', `(${Date.now()}`)).toBe(0);
    expect(await r.zscore(keys.presence(bigRoom), 'u5000|u5000|x')).not.toBeNull();
    // generous bounds (the whole-room script took ~20–30 ms per call at this size)
    console.log(`presence at 20k entries: join ${median(joins)} µs, leave ${median(leaves)} µs, refresh+sweep(110) ${refresh} µs (median Redis time)`);
    expect(median(joins)).toBeLessThan(5000);
    expect(median(leaves)).toBeLessThan(5000);
    expect(refresh).toBeLessThan(5000);
  });

  it('a dead replica swept in bounded batches still announces exactly one leave per user, none for a user live elsewhere', async () => {
    const now = Date.now();
    const entries: [number, string][] = [];
    for (let i = 0; i < 5; i++) {
      entries.push([now - 2000, `dead${i}|dead${i}|d1`]);
      entries.push([now - 1000, `dead${i}|dead${i}|d2`]);
    }
    entries.push([now - 2000, 'alive|alive|d1']);
    entries.push([now + 600_000, 'alive|alive|other']);
    await fill('sweep', entries);
    const p = new Presence(client, keys, silent, { PRESENCE_TTL_SEC: 600, PRESENCE_EVENTS_MAX_MEMBERS: 1_000_000, replicaId: 'sweeper' }, { sweepMax: 3 });
    await p.join('sweep', { id: 'keeper', name: 'keeper' });
    for (let i = 0; i < 10 && (await r.zcount(keys.presence('sweep'), '-inf', `(${Date.now()}`)) > 0; i++) await p.refresh();
    expect(await r.zcount(keys.presence('sweep'), '-inf', `(${Date.now()}`)).toBe(0);
    await settle('sweep');
    const swept = events.filter((e) => /^(join|leave):(dead|alive|keeper)/.test(e));
    expect(swept.sort()).toEqual(['join:keeper', ...[0, 1, 2, 3, 4].map((i) => `leave:dead${i}`)].sort());
    expect(await r.zrange(keys.presenceIndex('sweep'), 0, -1)).toEqual(['alive|alive|other', 'keeper|keeper|sweeper']);
  });

  it('a room with more entries than PRESENCE_EVENTS_MAX_MEMBERS announces no joins or leaves (O(members²) frames otherwise); a smaller one does again', async () => {
    const p = new Presence(client, keys, silent, { PRESENCE_TTL_SEC: 600, PRESENCE_EVENTS_MAX_MEMBERS: 3, replicaId: 'crowd' });
    const user = (i: number) => ({ id: `c${i}`, name: `c${i}` });
    for (let i = 1; i <= 5; i++) await p.join('crowd', user(i));
    // the members list is still complete
    expect((await p.join('crowd', user(6))).map((m) => m.id).sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    for (let i = 6; i >= 1; i--) await p.leave('crowd', user(i));
    await settle('crowd');
    // a user's join and leave are announced alike: c1..c3 (the room at <= 3 entries with them
    // in it), not c4..c6
    expect(events.filter((e) => /:c\d$/.test(e))).toEqual(['join:c1', 'join:c2', 'join:c3', 'leave:c3', 'leave:c2', 'leave:c1']);
  });

  it("a user's last leave while another of its entries expired unswept announces one leave; the later sweep adds none", async () => {
    await fill('leftover', [[Date.now() - 1000, 'zed|zed|deadrep']]);
    const p = new Presence(client, keys, silent, { PRESENCE_TTL_SEC: 600, PRESENCE_EVENTS_MAX_MEMBERS: 1_000_000, replicaId: 'lp' });
    await p.join('leftover', { id: 'zed', name: 'zed' });
    await p.leave('leftover', { id: 'zed', name: 'zed' });
    await p.join('leftover', { id: 'keeper2', name: 'keeper2' });
    await p.refresh();
    await settle('leftover');
    expect(events.filter((e) => e.endsWith(':zed'))).toEqual(['join:zed', 'leave:zed']);
    expect(await r.zrange(keys.presence('leftover'), 0, -1)).toEqual(['keeper2|keeper2|lp']);
  });
});
