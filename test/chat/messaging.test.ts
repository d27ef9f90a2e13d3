// Live messaging across two real chat replicas sharing one real redis-server.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { compareIds } from '../../services/shared/ids.js';
import { keysFor } from '../../services/shared/keys.js';
import { dmRoomName } from '../../services/shared/rooms.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { countMessages, fieldOf, memberEntries, messageEntries } from '../helpers/stream-entries.js';
import { TestClient, chatEnv, tokenFor } from './client.js';

const keys = keysFor(1);
let redis: TestRedis;
let r: Redis;
let a: RunningService;
let b: RunningService;
const clients: TestClient[] = [];

const env = (id: string) =>
  chatEnv(redis.url, id, { RATE_LIMIT_MESSAGES: '30', MAX_FRAMES_PER_SEC: '200', INGEST_MAX_BACKLOG: '100', PRESENCE_TTL_SEC: '5' });

async function connect(svc: RunningService, user: string): Promise<TestClient> {
  const c = await TestClient.connect(svc.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}

/** Replicas subscribed to a room's channel (a shard channel: SHARDNUMSUB). */
const numsub = async (room: string) => {
  const res = (await r.pubsub('SHARDNUMSUB', keys.roomChannel(room))) as [string, number];
  return Number(res[1]);
};

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  [a, b] = await Promise.all([startService('chat', env('msg-a')), startService('chat', env('msg-b'))]);
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});
beforeEach(async () => {
  // no ingestion worker runs here: start each test with an empty ingest stream
  await r.del(keys.ingestStream(0));
});

describe('chat messaging across replicas', () => {
  it('messages sent on replica A reach members on replica B in order, with the id of the ack', async () => {
    const alice = await connect(a, 'alice');
    const bob = await connect(b, 'bob');
    await alice.join('order');
    await bob.join('order');
    const n = 20;
    for (let i = 0; i < n; i++) alice.send({ type: 'send', room: 'order', text: `m${i}`, cid: `order-${i}` });
    const acks = await waitFor(() => {
      const got = alice.all('ack');
      return got.length === n ? got : undefined;
    }, { what: `${n} acks` });
    const received = await waitFor(() => {
      const got = bob.all('message', (f) => f.room === 'order');
      return got.length === n ? got : undefined;
    }, { what: `${n} messages on B` });
    expect(received.map((m) => m.text)).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    expect(received.map((m) => m.id)).toEqual(acks.map((x) => x.id));
    for (let i = 1; i < n; i++) expect(compareIds(received[i]!.id, received[i - 1]!.id)).toBeGreaterThan(0);
    expect(received[0]).toMatchObject({ room: 'order', user: { id: 'alice', name: 'alice' }, cid: 'order-0' });
    expect(received[0]!.ts).toBe(Number(received[0]!.id.split('-')[0]));
    // the sender's own sockets get the message too
    await waitFor(() => alice.all('message').length === n, { what: 'own messages' });
    // and the ingest stream got one entry per message in message.ts field order, besides the
    // `member joined` entries of the two first joins
    const entries = await messageEntries(r, keys.ingestStream(0));
    expect(entries).toHaveLength(n);
    const joins = await memberEntries(r, keys.ingestStream(0));
    expect(joins.map(([, f]) => fieldOf(f, 'mid')).sort()).toEqual(['alice', 'bob']);
    const metricsB = await (await fetch(b.adminUrl + '/metrics')).text();
    expect(Number(/^aurora_chat_fanout_latency_seconds_count\{[^}]*\} (\d+)/m.exec(metricsB)?.[1])).toBeGreaterThanOrEqual(n);
    expect(entries[0]![1]).toEqual(['room', 'order', 'id', acks[0]!.id, 'uid', 'alice', 'name', 'alice', 'text', 'm0', 'cid', 'order-0', 'sq', '1']);
  });

  it('a replica subscribes a room channel only while it has a local member', async () => {
    const carol = await connect(a, 'carol');
    expect(await numsub('lonely')).toBe(0);
    await carol.join('lonely');
    expect(await numsub('lonely')).toBe(1);
    const dan = await connect(b, 'dan');
    await dan.join('lonely');
    expect(await numsub('lonely')).toBe(2);
    dan.send({ type: 'leave', room: 'lonely' });
    await dan.next('left', (f) => f.room === 'lonely');
    await waitFor(async () => (await numsub('lonely')) === 1, { what: 'B unsubscribed' });
    await carol.sendText('lonely', 'only A hears this', 'lonely-1');
    await carol.find('message', (f) => f.cid === 'lonely-1');
    expect(dan.all('message', (f) => f.room === 'lonely')).toHaveLength(0);
    await carol.close();
    await waitFor(async () => (await numsub('lonely')) === 0, { what: 'A unsubscribed' });
  });

  it('joining and leaving the same room quickly ends with the right subscription', async () => {
    const c = await connect(a, 'quick');
    for (let i = 0; i < 5; i++) {
      c.send({ type: 'join', room: 'flap' });
      c.send({ type: 'leave', room: 'flap' });
    }
    c.send({ type: 'join', room: 'flap' });
    await waitFor(() => c.all('joined').length === 6, { what: '6 joined' });
    await waitFor(async () => (await numsub('flap')) === 1, { what: 'subscribed once' });
    const other = await connect(b, 'quick2');
    await other.join('flap');
    await other.sendText('flap', 'after flapping', 'flap-1');
    await c.find('message', (f) => f.cid === 'flap-1');
  });

  it('a resent cid is acked with the original id, marked duplicate, and delivered once', async () => {
    const erin = await connect(a, 'erin');
    const fred = await connect(b, 'fred');
    await erin.join('dup');
    await fred.join('dup');
    erin.send({ type: 'send', room: 'dup', text: 'once', cid: 'same-cid' });
    const first = await erin.next('ack');
    erin.send({ type: 'send', room: 'dup', text: 'once', cid: 'same-cid' });
    const second = await erin.next('ack');
    expect(first.duplicate).toBeUndefined();
    expect(second).toEqual({ type: 'ack', cid: 'same-cid', id: first.id, ts: first.ts, duplicate: true });
    await erin.sendText('dup', 'marker', 'after-dup');
    await fred.find('message', (f) => f.cid === 'after-dup');
    expect(fred.all('message', (f) => f.cid === 'same-cid')).toHaveLength(1);
    expect(await countMessages(r, keys.roomLog('dup'))).toBe(2);
    expect(await countMessages(r, keys.ingestStream(0))).toBe(2);
  });

  it('a burst is rate limited with retryAfterMs, refused sends leave no trace, and a retry of an accepted one still gets its ack', async () => {
    const gina = await connect(a, 'gina');
    await gina.join('burst');
    for (let i = 0; i < 35; i++) gina.send({ type: 'send', room: 'burst', text: `b${i}`, cid: `burst-${i}` });
    await waitFor(() => gina.all('ack').length + gina.all('error').length === 35, { what: '35 replies' });
    expect(gina.all('ack')).toHaveLength(30);
    const refused = gina.all('error');
    expect(refused).toHaveLength(5);
    for (const e of refused) {
      expect(e.code).toBe('rate_limited');
      expect(e.retryAfterMs).toBeGreaterThan(0);
      expect(e.retryAfterMs).toBeLessThanOrEqual(10_000);
    }
    expect(refused.map((e) => e.ref)).toEqual(['burst-30', 'burst-31', 'burst-32', 'burst-33', 'burst-34']);
    expect(await countMessages(r, keys.roomLog('burst'))).toBe(30);
    expect(await r.exists(keys.sendIdempotency('burst', 'gina', 'burst-31'))).toBe(0);
    // the same user in another room has its own window
    await gina.join('burst2');
    expect((await gina.sendText('burst2', 'elsewhere', 'burst2-1')).type).toBe('ack');
    // retry of an accepted message while limited: its ack, not an error
    gina.send({ type: 'send', room: 'burst', text: 'b3', cid: 'burst-3' });
    const retry = await gina.find('ack', (f) => f.cid === 'burst-3' && f.duplicate === true);
    expect(retry.id).toBe(gina.all('ack', (f) => f.cid === 'burst-3')[0]!.id);
    const metrics = await (await fetch(a.adminUrl + '/metrics')).text();
    expect(metrics).toMatch(/aurora_chat_rate_limited_total\{[^}]*\} 5/);
  });

  it('every bad input gets its error code while the socket and other users stay connected', async () => {
    const eve = await connect(a, 'eve');
    const bystander = await connect(a, 'zed');
    const remote = await connect(b, 'yan');
    await eve.join('bad');
    await bystander.join('bad');
    await remote.join('bad');
    const expectError = async (frame: string | object, code: string, ref?: string) => {
      eve.send(frame);
      const e = await eve.next('error');
      expect(e.code, JSON.stringify(frame).slice(0, 80)).toBe(code);
      if (ref) expect(e.ref).toBe(ref);
      expect(typeof e.message).toBe('string');
    };
    await expectError('{not json', 'bad_request');
    await expectError({ type: 'teleport' }, 'bad_request');
    await expectError({ no: 'type' }, 'bad_request');
    await expectError({ type: 'send', room: 'bad', cid: 'c-missing' }, 'bad_request', 'c-missing');
    await expectError({ type: 'send', room: 'bad', text: '   ', cid: 'c-empty' }, 'bad_request', 'c-empty');
    await expectError({ type: 'send', room: 'bad', text: 'no cid' }, 'bad_request');
    await expectError({ type: 'send', room: 'bad', text: 'x'.repeat(4001), cid: 'c-long' }, 'too_long', 'c-long');
    await expectError({ type: 'join', room: 'Not A Room!' }, 'invalid_room');
    await expectError({ type: 'send', room: 'elsewhere', text: 'hi', cid: 'c-nj' }, 'not_joined', 'c-nj');
    await expectError({ type: 'typing', room: 'elsewhere', active: true }, 'not_joined');
    await expectError({ type: 'join', room: dmRoomName('amy', 'bert') }, 'forbidden');
    await expectError({ type: 'join', room: 'bad', since: 'yesterday' }, 'bad_request');
    // exactly 4,000 characters is fine, and the socket still works after all of that
    expect((await eve.sendText('bad', 'y'.repeat(4000), 'c-max')).type).toBe('ack');
    // her own DM room is allowed
    const dm = dmRoomName('eve', 'zed');
    expect((await eve.join(dm)).recovered).toBe(false);
    // a frame over 64 KiB closes only her socket, with 1009
    eve.send(JSON.stringify({ type: 'send', room: 'bad', text: 'z'.repeat(70 * 1024), cid: 'huge' }));
    expect(await eve.closed).toBe(1009);
    // everyone else is untouched
    await bystander.sendText('bad', 'still here', 'by-1');
    await remote.find('message', (f) => f.cid === 'by-1');
    expect(bystander.closeCode).toBeNull();
    expect(remote.closeCode).toBeNull();
    expect(a.proc.exitCode).toBeNull();
  });

  it('repeated protocol abuse closes the socket with 1008', async () => {
    const mal = await connect(b, 'mallory');
    const other = await connect(b, 'olive');
    for (let i = 0; i < 15; i++) mal.send(`garbage ${i}`);
    expect(await mal.closed).toBe(1008);
    other.send({ type: 'ping', t: 7 });
    expect((await other.next('pong')).t).toBe(7);
  });

  it('typing reaches the other members, not the typist', async () => {
    const hal = await connect(a, 'hal');
    const ivy = await connect(b, 'ivy');
    await hal.join('typing');
    await ivy.join('typing');
    hal.send({ type: 'typing', room: 'typing', active: true });
    const t = await ivy.next('typing');
    expect(t).toEqual({ type: 'typing', room: 'typing', user: { id: 'hal', name: 'hal' }, active: true });
    await hal.sendText('typing', 'sync', 'typing-sync');
    await hal.find('message', (f) => f.cid === 'typing-sync');
    expect(hal.all('typing')).toHaveLength(0);
  });

  it('presence joins and leaves are seen across replicas, and two sockets of one user are one member', async () => {
    const jay = await connect(a, 'jay');
    await jay.join('pres');
    const kim = await connect(b, 'kim');
    const joined = await kim.join('pres');
    expect(joined.members.map((m: { id: string }) => m.id).sort()).toEqual(['jay', 'kim']);
    expect(await jay.next('presence')).toEqual({ type: 'presence', room: 'pres', event: 'join', user: { id: 'kim', name: 'kim' } });
    // a second socket of kim: still one member, no new event
    const kim2 = await connect(a, 'kim');
    const joined2 = await kim2.join('pres');
    expect(joined2.members.filter((m: { id: string }) => m.id === 'kim')).toHaveLength(1);
    await kim2.close();
    await kim.close();
    const left = await jay.next('presence');
    expect(left).toEqual({ type: 'presence', room: 'pres', event: 'leave', user: { id: 'kim', name: 'kim' } });
    expect(jay.all('presence', (f) => f.event === 'join' && f.user.id === 'kim')).toHaveLength(1);
  });

  it('a member of a replica that died without cleanup disappears after the presence TTL', async () => {
    const lee = await connect(a, 'lee');
    await lee.join('ghost');
    // a ghost entry like the one a killed replica leaves behind: its expiry is never refreshed
    await r.zadd(keys.presence('ghost'), Date.now() + 1000, 'casper|casper');
    const mo = await connect(b, 'mo');
    const joined = await mo.join('ghost');
    expect(joined.members.map((m: { id: string }) => m.id)).toContain('casper');
    const left = await lee.find('presence', (f) => f.event === 'leave' && f.user.id === 'casper', 15_000);
    expect(left.room).toBe('ghost');
    await waitFor(() => mo.all('presence', (f) => f.event === 'leave' && f.user.id === 'casper').length === 1, { what: 'one leave on B' });
    expect(lee.all('presence', (f) => f.event === 'leave' && f.user.id === 'casper')).toHaveLength(1);
  });

  it('sends are refused with overloaded while the ingest backlog is past INGEST_MAX_BACKLOG', async () => {
    const ned = await connect(a, 'ned');
    await ned.join('load');
    const pipe = r.pipeline();
    for (let i = 0; i < 101; i++) pipe.xadd(keys.ingestStream(0), '*', 'filler', String(i));
    await pipe.exec();
    const refused = await ned.sendText('load', 'too busy', 'load-1');
    expect(refused).toMatchObject({ type: 'error', code: 'overloaded', ref: 'load-1' });
    expect(await countMessages(r, keys.roomLog('load'))).toBe(0);
    // once the workers caught up (trimmed), the same cid goes through
    await r.xtrim(keys.ingestStream(0), 'MAXLEN', 50);
    ned.send({ type: 'send', room: 'load', text: 'too busy', cid: 'load-1' });
    const ack = await ned.next('ack');
    expect(ack.cid).toBe('load-1');
    expect(ack.duplicate).toBeUndefined();
  });

  it('frames past MAX_FRAMES_PER_SEC are refused, and a flood is closed with 1008', async () => {
    const flood = await connect(a, 'flood');
    for (let i = 0; i < 260; i++) flood.send({ type: 'ping', t: i });
    expect(await flood.closed).toBe(1008);
    expect(flood.all('error', (f) => f.code === 'rate_limited').length).toBeGreaterThan(0);
  });
});
