// Fanout's bookkeeping against a real redis-server and a real ioredis subscriber connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Counter, Histogram, Registry } from 'prom-client';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { waitFor } from '../../test/helpers/ports.js';
import { startRedisProxy, type RedisProxy } from '../../test/chat/redis-proxy.js';
import { compareIds } from '../shared/ids.js';
import { createEventScript } from './event-script.js';
import { Fanout, type FanoutMember, type FanoutOptions } from './fanout.js';
import { publishedFrameOf } from './published-frame.js';
import { messageFrameHead } from './frames.js';
import { createSendScript } from './send-script.js';
import { textFramePayload } from './wire.js';

const keys = keysFor(1);
const config = loadConfig('chat', { LOG_LEVEL: 'silent', REPLICA_ID: 'fanout-unit' });
const log = createLogger(config);
let redis: TestRedis;
let admin: Redis;
let main: Redis;
let sub: Redis;
let fanout: Fanout;

const member = (): FanoutMember & { got: string[] } => {
  const got: string[] = [];
  return { got, receive: (_room, data) => void got.push(textFramePayload(data).toString()), close: () => {} };
};

beforeAll(async () => {
  redis = await startRedis();
  admin = redis.client();
  main = createRedis(redis.url, log, { role: 'main' });
  sub = createRedis(redis.url, log, { role: 'subscriber', blocking: true, extra: { enableReadyCheck: false, autoResubscribe: false } });
  const registry = new Registry();
  const metrics = {
    framesOut: new Counter({ name: 'f_out', help: 'x', registers: [registry] }),
    fanoutLatency: new Histogram({ name: 'f_lat', help: 'x', registers: [registry] }),
    pubsubBytesIn: new Counter({ name: 'f_bytes_in', help: 'x', registers: [registry] }),
    pubsubFramesIn: new Counter({ name: 'f_frames_in', help: 'x', registers: [registry] }),
  };
  fanout = new Fanout(sub, keys, log, metrics, config.replicaId, { redis: main, recoveryMax: 10 });
  await waitFor(() => sub.status === 'ready', { what: 'subscriber ready' });
});
afterAll(async () => {
  sub?.disconnect();
  main?.disconnect();
  for (const c of extraClients) c.disconnect();
  for (const p of proxies) await p.close();
  await redis?.stop();
});

const extraClients: Redis[] = [];
const proxies: RedisProxy[] = [];

/** A member that also records how it was closed. */
const closable = (): FanoutMember & { got: string[]; closes: number[] } => {
  const got: string[] = [];
  const closes: number[] = [];
  return { got, closes, receive: (_room, data) => void got.push(textFramePayload(data).toString()), close: (code) => void closes.push(code) };
};

async function proxy(): Promise<RedisProxy> {
  const p = await startRedisProxy(redis.port);
  proxies.push(p);
  return p;
}

/** A Fanout of its own (own subscriber and main connection, either possibly through a proxy). */
async function ownFanout(
  opts: Partial<FanoutOptions> & { mainUrl?: string; subUrl?: string; recoveryMax: number },
): Promise<{ fanout: Fanout; sub: Redis; main: Redis }> {
  const m = createRedis(opts.mainUrl ?? redis.url, log, { role: 'main' });
  const s = createRedis(opts.subUrl ?? redis.url, log, {
    role: 'subscriber',
    blocking: true,
    extra: { enableReadyCheck: false, disableClientInfo: true, autoResubscribe: false },
  });
  extraClients.push(m, s);
  const registry = new Registry();
  const metrics = {
    framesOut: new Counter({ name: 'f_out', help: 'x', registers: [registry] }),
    fanoutLatency: new Histogram({ name: 'f_lat', help: 'x', registers: [registry] }),
    pubsubBytesIn: new Counter({ name: 'f_bytes_in', help: 'x', registers: [registry] }),
    pubsubFramesIn: new Counter({ name: 'f_frames_in', help: 'x', registers: [registry] }),
  };
  const { mainUrl: _m, subUrl: _s, ...rest } = opts;
  const f = new Fanout(s, keys, log, metrics, `fanout-unit-${extraClients.length}`, { redis: m, ...rest });
  await waitFor(() => s.status === 'ready' && m.status === 'ready', { what: 'own connections ready' });
  return { fanout: f, sub: s, main: m };
}

/** Subscribers of a room channel (a shard channel: PUBSUB SHARDNUMSUB, not NUMSUB). */
async function shardSubscribers(channel: string): Promise<number> {
  return Number(((await admin.pubsub('SHARDNUMSUB', channel)) as [string, number])[1]);
}

/** Kills one subscriber connection (it reconnects on its own). */
async function killSubscriber(s: Redis): Promise<void> {
  // (a subscriber cannot run CLIENT ID: found by the address it connects from)
  await admin.client('KILL', 'ADDR', `127.0.0.1:${s.stream.localPort}`);
}

describe('Fanout', () => {
  it('the last member out unsubscribes and forgets the room', async () => {
    const m = member();
    await fanout.add('plain', m);
    expect(fanout.subscribedCount()).toBe(1);
    await admin.spublish(keys.roomChannel('plain'), '{"type":"presence"}');
    await waitFor(() => m.got.length === 1, { what: 'delivery' });
    fanout.remove('plain', m);
    await waitFor(() => fanout.trackedRooms() === 0, { what: 'room forgotten' });
    expect(fanout.subscribedCount()).toBe(0);
    expect(await shardSubscribers(keys.roomChannel('plain'))).toBe(0);
  });

  it('a room whose SSUBSCRIBE was rejected is forgotten when its member goes', async () => {
    // Redis refuses SSUBSCRIBE on this channel (ACL): the join fails, the member is removed. The
    // replica's probe channels (classic and per-partition shard ones) stay allowed: Redis 7
    // disconnects a client subscribed to a channel it may no longer use.
    const probes = [keys.probeChannel(config.replicaId), ...Array.from({ length: keys.partitions }, (_, p) => keys.shardProbeChannel(p, config.replicaId))];
    await admin.call('ACL', 'SETUSER', 'default', 'resetchannels', ...probes.map((c) => `&${c}`), `&${keys.roomChannel('allowed')}`);
    try {
      const m = member();
      await expect(fanout.add('denied', m)).rejects.toThrow(/NOPERM|permission/i);
      fanout.remove('denied', m);
      await waitFor(() => fanout.trackedRooms() === 0, { what: 'the rejected room forgotten' });
      expect(fanout.localRooms()).toEqual([]);
      // and a later join of it works once Redis allows it
      await admin.call('ACL', 'SETUSER', 'default', 'allchannels');
      const again = member();
      await fanout.add('denied', again);
      expect(fanout.subscribedCount()).toBe(1);
      fanout.remove('denied', again);
      await waitFor(() => fanout.trackedRooms() === 0, { what: 'forgotten again' });
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', 'allchannels');
    }
  });

  it('a recovery read that never answers gives up after the recovery timeout: the room members are closed with 1012 instead of live frames being held forever', async () => {
    const p = await proxy();
    const { fanout: f, sub: s } = await ownFanout({ mainUrl: p.url, recoveryMax: 100, recoveryTimeoutMs: 1000 });
    const m = closable();
    await f.add('stall', m);
    f.seen('stall', undefined);
    p.hold(); // the main connection's replies never come (a half-open connection)
    await killSubscriber(s);
    await waitFor(() => p.sawArg('xrange') || p.sawArg('XRANGE'), { what: 'the recovery read sent', timeoutMs: 15_000 });
    for (let i = 0; i < 3; i++) await admin.spublish(keys.roomChannel('stall'), `{"type":"presence","n":${i}}`);
    await waitFor(() => m.closes.length > 0, { what: 'the member closed after the recovery timeout', timeoutMs: 15_000 });
    expect(m.closes).toEqual([1012]);
    p.release();
  }, 30_000);

  it('a room whose held live frames pass RECOVERY_MAX during a recovery read is resynced (1012) at once, without waiting for the read', async () => {
    const p = await proxy();
    const { fanout: f, sub: s } = await ownFanout({ mainUrl: p.url, recoveryMax: 5, recoveryTimeoutMs: 120_000 });
    const m = closable();
    await f.add('flood', m);
    f.seen('flood', undefined);
    p.hold();
    await killSubscriber(s);
    await waitFor(() => p.sawArg('xrange') || p.sawArg('XRANGE'), { what: 'the recovery read sent', timeoutMs: 15_000 });
    for (let i = 0; i < 6; i++) await admin.spublish(keys.roomChannel('flood'), `{"type":"presence","n":${i}}`);
    await waitFor(() => m.closes.length > 0, { what: 'the member closed once more than RECOVERY_MAX frames were held', timeoutMs: 10_000 });
    expect(m.closes).toEqual([1012]);
    expect(m.got).toEqual([]);
    p.release();
  }, 30_000);

  it('a member leaving while the subscriber connection is down leaves no channel subscribed once it is back', async () => {
    const p = await proxy();
    const { fanout: f, sub: s } = await ownFanout({ subUrl: p.url, recoveryMax: 10 });
    const m = closable();
    await f.add('gone', m);
    expect(await shardSubscribers(keys.roomChannel('gone'))).toBe(1);
    await p.down();
    await waitFor(() => s.status !== 'ready', { what: 'subscriber down' });
    f.remove('gone', m); // its SUNSUBSCRIBE waits in the offline queue
    await p.up();
    await waitFor(() => s.status === 'ready', { what: 'subscriber back', timeoutMs: 15_000 });
    await waitFor(() => f.trackedRooms() === 0, { what: 'room forgotten', timeoutMs: 15_000 });
    await s.ping(); // every command written before this one has been answered
    expect(await shardSubscribers(keys.roomChannel('gone'))).toBe(0);
    expect(f.subscribedCount()).toBe(0);
  }, 30_000);

  it('a recovery whose baseline was trimmed out of the room log resyncs (1012) instead of delivering the remainder as if nothing was lost', async () => {
    const p = await proxy();
    const { fanout: f, sub: s } = await ownFanout({ subUrl: p.url, recoveryMax: 10 });
    const m = closable();
    const logKey = keys.roomLog('trimmed');
    const entry = (i: number) => ['uid', 'u1', 'name', 'u1', 'text', `t${i}`, 'cid', `c${i}`];
    const base = (await admin.xadd(logKey, '*', ...entry(0)))!;
    await f.add('trimmed', m);
    f.seen('trimmed', base);
    // the subscriber is out while 8 messages are written to a log capped at 5 (exact MAXLEN):
    // the baseline and 3 after it are gone, 5 remain (fewer than RECOVERY_MAX)
    await p.down();
    await waitFor(() => s.status !== 'ready', { what: 'subscriber down' });
    for (let i = 1; i <= 8; i++) await admin.xadd(logKey, 'MAXLEN', '5', '*', ...entry(i));
    await p.up();
    await waitFor(() => m.closes.length > 0 || m.got.length > 0, { what: 'recovery done', timeoutMs: 15_000 });
    await new Promise((res) => setTimeout(res, 200));
    expect(m.got).toEqual([]);
    expect(m.closes).toEqual([1012]);
  }, 30_000);
});

describe('Fanout recovery of events', () => {
  /** Calls of XRANGE Redis has executed so far (INFO commandstats). */
  const xrangeCalls = async () => Number(/cmdstat_xrange:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);

  it('a subscriber recovery delivers missed EVENT frames byte-identical to the live ones, in log order with messages, each once', async () => {
    const subProxy = await proxy();
    const mainProxy = await proxy();
    const { fanout: f, sub: s } = await ownFanout({ subUrl: subProxy.url, mainUrl: mainProxy.url, recoveryMax: 50 });
    const room = 'events-recovery';
    // the frames as published live, straight from Redis: what every other replica forwarded
    const watcher = redis.client();
    extraClients.push(watcher);
    const live: string[] = [];
    watcher.on('smessage', (_ch: string, payload: string) => void live.push(payload));
    await watcher.ssubscribe(keys.roomChannel(room));
    const scriptConfig = loadConfig('chat', { RATE_LIMIT_MESSAGES: '100', RATE_LIMIT_WINDOW_MS: '60000' });
    const send = createSendScript(admin, keys, scriptConfig);
    const event = createEventScript(admin, keys, scriptConfig);
    const alice = { id: 'alice', name: 'Alice "A" é' };
    const bob = { id: 'bob', name: 'Bob' };
    const id = (res: { kind: string; id?: string }) => {
      if (res.kind !== 'ok' || !res.id) throw new Error(`not accepted: ${JSON.stringify(res)}`);
      return res.id;
    };

    const m = closable();
    await f.add(room, m);
    f.seen(room, undefined); // the join read an empty log
    id(await send(room, alice, 'before the outage', 'c0'));
    await waitFor(() => m.got.length === 1, { what: 'the live message' });

    // missed while the subscriber is out: only the room log has them
    await subProxy.down();
    await waitFor(() => s.status !== 'ready', { what: 'subscriber down' });
    const target = id(await send(room, bob, 'target', 'c1'));
    id(await event(room, bob, 'e1', { kind: 'edit', target, text: 'target, edited' }));
    id(await event(room, alice, 'e2', { kind: 'react', target, emoji: '👍', on: true }));
    const reply = id(await send(room, alice, 'a reply', 'c2', target));
    id(await send(room, bob, 'another reply', 'c3', target));
    id(await event(room, alice, 'e3', { kind: 'delete', target: reply }));

    // written just before the recovery read reaches Redis: in the read AND held live (must arrive
    // once); then the read's reply is held, and what is written meanwhile is only held live
    let raced = false;
    mainProxy.onCommand = async (args) => {
      if (raced || args[0]?.toLowerCase() !== 'xrange') return;
      raced = true;
      id(await event(room, bob, 'e4', { kind: 'react', target, emoji: '👍', on: true }));
      mainProxy.hold();
    };
    const readsBefore = await xrangeCalls();
    await subProxy.up();
    await waitFor(async () => raced && (await xrangeCalls()) > readsBefore, { what: 'the recovery read executed', timeoutMs: 15_000 });
    id(await event(room, bob, 'e5', { kind: 'edit', target, text: 'edited again' }));
    id(await event(room, alice, 'e6', { kind: 'react', target, emoji: '👍', on: false }));
    id(await event(room, bob, 'e7', { kind: 'delete', target }));
    mainProxy.onCommand = null;
    mainProxy.release();

    // a live message after the recovery: once it is in, everything before it is
    id(await send(room, alice, 'after the recovery', 'c4'));
    await watcher.ping();
    await waitFor(() => m.got.at(-1) === live.at(-1), { what: 'the last live message delivered', timeoutMs: 15_000 });
    expect(m.closes).toEqual([]);
    expect(live).toHaveLength(12);
    expect(m.got).toEqual(live);
    const frames = m.got.map((g) => JSON.parse(g) as { type: string; kind?: string; id: string });
    expect(frames.map((x) => x.kind ?? x.type)).toEqual(['message', 'message', 'edit', 'react', 'message', 'message', 'delete', 'react', 'edit', 'react', 'delete', 'message']);
    expect(frames.map((x) => x.id)).toEqual(frames.map((x) => x.id).sort(compareIds));
  }, 40_000);
});

describe('publishedFrameOf', () => {
  it("reads a message frame's id and ts from its end, whatever the text holds, and parses anything else", () => {
    for (const text of ['plain', 'a ,"id":"1-1","ts":1} trap', '"quoted" \\ back', 'ünï 👋']) {
      const head = messageFrameHead('r', { id: 'u', name: 'U' }, text, 'c1');
      const payload = `${head}"id":"1700000000123-7","ts":1700000000123}`;
      expect(publishedFrameOf(payload)).toEqual({ type: 'message', id: '1700000000123-7', ts: 1700000000123 });
      // and the frame is valid JSON with the same fields
      expect(JSON.parse(payload)).toMatchObject({ type: 'message', id: '1700000000123-7', ts: 1700000000123, text });
    }
    expect(publishedFrameOf('{"type":"typing","room":"r","user":{"id":"u","name":"U"},"active":true}')).toEqual({
      type: 'typing',
      room: 'r',
      user: { id: 'u', name: 'U' },
      active: true,
    });
    // a message-looking frame with a broken tail falls back to JSON (and fails loudly if not JSON)
    expect(() => publishedFrameOf('{"type":"message","id":"x"')).toThrow();
    expect(() => publishedFrameOf('{"no":"type"}')).toThrow();
  });
});
