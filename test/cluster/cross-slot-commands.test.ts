// Issue 18 audit, part 2 — the multi-key commands outside Lua (MULTI, pipelines over several
// keys, XREADGROUP over every partition's stream), called through the real service functions
// against a real 3-master Redis Cluster with keys on EVERY master. Works → passing test; known
// break → `it.fails` named after what fails and why (knownBreak, spread.ts); a code path that
// cannot be called on its own → `it.skip` saying what reading it found. Lua: cross-slot.test.ts.
import { Cluster, type Redis } from 'ioredis';
import { pino } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobs } from '../../services/assistant/jobs.js';
import type { Trigger } from '../../services/assistant/triggers.js';
import { Fanout } from '../../services/chat/fanout.js';
import { readBacklog } from '../../services/chat/join.js';
import { createSendScript } from '../../services/chat/send-script.js';
import { textFramePayload } from '../../services/chat/wire.js';
import { UserStatusTracker } from '../../services/chat/user-status.js';
import { deadLetter, deadLetterCount } from '../../services/ingestion/dead-letter.js';
import { ackEntries, ensureGroups, ingestStreams, ownPendingPages, touchEntries, type IngestEntry } from '../../services/ingestion/streams.js';
import { storedUpTo } from '../../services/notify/stored.js';
import { loadConfig } from '../../services/shared/config.js';
import { compareIds } from '../../services/shared/ids.js';
import { hitFixedWindow } from '../../services/shared/fixed-window.js';
import { clusterOptions } from '../../services/shared/redis.js';
import { INGEST_GROUP } from '../../services/shared/keys.js';
import type { Logger } from '../../services/shared/logger.js';
import { isSessionRevoked, revokedSessions, revokeSession } from '../../services/shared/sessions.js';
import type { Store } from '../../services/shared/store/store.js';
import { readPresence } from '../../services/shared/user-status.js';
import { createProfilePublisher } from '../../services/users/profile-live.js';
import { waitFor } from '../helpers/ports.js';
import { startRedisProxy, type RedisProxy } from '../chat/redis-proxy.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { CROSSSLOT, keys, PARTITIONS, PIPELINE_SPANS_MASTERS, spreadOverMasters, type Spread } from './spread.js';

const log = pino({ level: 'silent' });
const config = loadConfig('chat', { PARTITIONS: String(PARTITIONS), REPLICA_ID: 'audit-replica' });
const SPANS = new RegExp(`${PIPELINE_SPANS_MASTERS.source}|${CROSSSLOT.source}`);
const alice = { id: 'alice', name: 'alice' };

let cluster: TestRedisCluster;
let c: Cluster;
/** The same client typed as the services take it (they are typed for a single-node Redis). */
let r: Redis;
let spread: Spread;

beforeAll(async () => {
  cluster = await startRedisCluster();
  c = cluster.client();
  r = c as unknown as Redis;
  spread = await spreadOverMasters(cluster);
});
afterAll(async () => {
  await cluster?.stop();
});

/** One entry read by `consumer` from the stream of each partition in `partitions`. */
async function pendingOn(partitions: number[], consumer: string): Promise<IngestEntry[]> {
  const out: IngestEntry[] = [];
  for (const p of partitions) {
    const stream = keys.ingestStream(p);
    await c.xadd(stream, '*', 'room', 'x', 'id', '1-0');
    const reply = (await c.xreadgroup('GROUP', INGEST_GROUP, consumer, 'COUNT', 1, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    const [id, fields] = reply[0]![1][0]!;
    out.push({ stream, partition: p, id, fields, deliveries: 1 });
  }
  return out;
}

describe('ingest streams: readers, acks and dead letters over the partitions of every master', () => {
  beforeAll(async () => {
    await ensureGroups(r, keys.allIngestStreams(), INGEST_GROUP); // one XGROUP per stream: works
  });

  it('ownPendingPages (streams.ts): one XREADGROUP per partition\'s stream (each its own slot), pages cover every master; new reads: test/cluster/ingest.test.ts', async () => {
    const { streams, partitionOf } = ingestStreams(keys);
    const entries = await pendingOn(spread.partitionPerMaster, 'w1');
    const pages: IngestEntry[][] = [];
    for await (const page of ownPendingPages(r, { group: INGEST_GROUP, consumer: 'w1', streams, partitionOf, count: 10, stopping: () => false })) pages.push(page);
    const byStream = (list: IngestEntry[]) => list.map((e) => `${e.stream} ${e.id}`).sort();
    expect(byStream(pages.flat())).toEqual(byStream(entries));
  });

  it('XREADGROUP of one partition\'s stream works on every master (the per-partition read a fix would use)', async () => {
    const entries = await pendingOn(spread.partitionPerMaster, 'w-one');
    expect(entries.map((e) => e.partition)).toEqual(spread.partitionPerMaster);
  });

  it('ackEntries and touchEntries (streams.ts) work while a batch holds entries of ONE master only', async () => {
    const sameMaster = spread.masterOfPartition.flatMap((m, p) => (m === 0 ? [p] : []));
    const entries = await pendingOn(sameMaster, 'w-same');
    await touchEntries(r, INGEST_GROUP, 'w-same', entries);
    await ackEntries(r, INGEST_GROUP, entries);
  });

  it('touchEntries and ackEntries (streams.ts) of a batch from partitions of every master: one XCLAIM / XACK per stream, each routed to its master', async () => {
    const entries = await pendingOn(spread.partitionPerMaster, 'w-ack');
    const owners = async () =>
      ((await Promise.all(entries.map((e) => c.xpending(e.stream, INGEST_GROUP, e.id, e.id, 1)))) as [string, string, number, number][][]).map((rows) => rows.map((row) => row[1]));
    // touching to another consumer moves the entries: proof that each XCLAIM reached its master
    await touchEntries(r, INGEST_GROUP, 'w-ack-2', entries);
    expect(await owners()).toEqual(entries.map(() => ['w-ack-2']));
    await ackEntries(r, INGEST_GROUP, entries);
    expect(await owners()).toEqual(entries.map(() => []));
  });

  it('deadLetter and deadLetterCount (ingestion/dead-letter.ts, the aurora_ingestion_dead_letter_entries gauge) over partitions of every master: each command routed by its key (eachCommand)', async () => {
    const before = await deadLetterCount(r, keys);
    const entries = await pendingOn(spread.partitionPerMaster, 'w-dead');
    await deadLetter(r, keys, entries.map((entry) => ({ entry, kind: 'invalid', reason: 'audit' })));
    for (const e of entries) {
      const rows = (await c.xrange(keys.deadLetter(e.partition), '-', '+')) as [string, string[]][];
      expect(rows[0]![1].slice(0, 4)).toEqual(['reason', 'audit', 'entryId', e.id]);
    }
    expect(await deadLetterCount(r, keys)).toBe(before + entries.length);
  });

  it('storedUpTo (notify/stored.ts): XINFO GROUPS + XPENDING of every stream, on every master', async () => {
    const entries = await pendingOn(spread.partitionPerMaster, 'w-stored');
    const points = await storedUpTo(r, keys.allIngestStreams());
    expect(points.size).toBe(PARTITIONS);
    // each entry just read is pending (not stored yet): the point is at or before it
    for (const e of entries) expect(compareIds(points.get(e.stream)!, e.id)).toBeLessThanOrEqual(0);
  });
});

describe('per-user keys (not hash-tagged): users on every master', () => {
  it('UserStatusTracker.refresh (chat/user-status.ts) and readPresence (shared/user-status.ts) over users on every master', async () => {
    const users = await spread.namesFor((u) => keys.userStatus(u), 'status-user-');
    const tracker = new UserStatusTracker(r, keys, log, config);
    for (const u of users) tracker.connected(u); // its own writes: one MULTI on one key each
    const written = async () => (await Promise.all(users.map((u) => c.exists(keys.userStatus(u))))).every((n) => n === 1);
    await waitFor(written, { what: 'every connected() status write' });
    for (const u of users) await c.hset(keys.userStatus(u), 'on', 1); // as if the TTL had run out
    expect([...(await readPresence(r, keys, users, 60_000)).values()].map((p) => p.status)).toEqual(users.map(() => 'offline'));
    await tracker.refresh();
    const presence = await readPresence(r, keys, [...users, 'never-seen'], 60_000);
    expect(users.map((u) => presence.get(u)?.status)).toEqual(users.map(() => 'online'));
    expect(presence.get('never-seen')).toEqual({ status: 'offline' });
  });

  it('revokedSessions (shared/sessions.ts, a replica\'s re-check after a reconnect): EXISTS over revoked-session keys on every master', async () => {
    const sids = await spread.namesFor((s) => keys.revokedSession(s), 'sid-');
    await revokeSession(r, keys, sids[1]!, 60);
    expect([...(await revokedSessions(r, keys, sids))]).toEqual([sids[1]]);
  });

  it('revokeSession MULTI (SET + PUBLISH, one key) and isSessionRevoked work for sessions on every master', async () => {
    for (const sid of await spread.namesFor((s) => keys.revokedSession(s), 'sid-one-')) {
      await revokeSession(r, keys, sid, 60);
      expect(await isSessionRevoked(r, keys, sid)).toBe(true);
    }
  });

  it('hitFixedWindow MULTI (INCR + EXPIRE NX + TTL, one key: login, register, REST, handshake budgets) works on every master', async () => {
    for (const ip of await spread.namesFor((ip) => keys.handshakesPerIp(ip), '10.9.0.')) {
      expect((await hitFixedWindow(r, keys.handshakesPerIp(ip), 60)).count).toBe(1);
      expect((await hitFixedWindow(r, keys.handshakesPerIp(ip), 60)).count).toBe(2);
    }
  });

  const trigger = (room: string, id: string): Trigger => ({ room, id, asker: alice, text: '@assistant hi', ts: Date.now(), private: false });

  it('assistant jobs.begin MULTI (HINCRBY + HMGET + EXPIRE on one job key) works', async () => {
    const jobs = createJobs(r, keys);
    for (const room of spread.publicRooms) expect(await jobs.begin(trigger(room, '1-0'))).toEqual({ go: 'answer', attempt: 1 });
  });

  it('assistant jobs.started (assistant/jobs.ts): one MULTI over keys.assistantJob and keys.assistantAnswer, both in the room\'s {p} slot, works on every master', async () => {
    const jobs = createJobs(r, keys);
    for (const room of spread.publicRooms) {
      const t = trigger(room, '2-0');
      expect(await jobs.begin(t)).toEqual({ go: 'answer', attempt: 1 });
      await jobs.started(t, '3-0');
      expect(await r.get(keys.assistantAnswer(room, '3-0'))).toBe(t.asker.id);
    }
  });
});

describe('room reads and live publishes', () => {
  it('readBacklog MULTI (chat/join.ts: first, last and newest entries of one room log) works on every master', async () => {
    const send = createSendScript(r, keys, config);
    for (const [i, room] of spread.publicRooms.entries()) {
      const first = await send(room, alice, 'one', `b-${i}-1`);
      await send(room, alice, 'two', `b-${i}-2`);
      expect(first.kind).toBe('ok');
      const backlog = await readBacklog(r, keys, config, room, (first as { id: string }).id);
      expect(JSON.stringify(backlog)).toContain('two');
    }
  });

  it('profile-live.ts: PUBLISH to the user channel and SPUBLISH to room channels of every master (notify push is the same PUBLISH) work, heard by a classic SUBSCRIBE and a sharded SSUBSCRIBE client', async () => {
    // Room channels are shard channels (served by the room's master alone, SSUBSCRIBE through
    // ioredis' sharded subscriber group); the user channel stays classic.
    const classic = cluster.client();
    const sharded = cluster.client({ shardedSubscribers: true });
    const got: string[] = [];
    classic.on('message', (channel: string) => got.push(`classic ${channel}`));
    sharded.on('smessage', (channel: string) => got.push(`sharded ${channel}`));
    const userChannel = keys.userChannel('alice');
    const roomChannels = spread.publicRooms.map((room) => keys.roomChannel(room));
    await classic.subscribe(userChannel);
    for (const channel of roomChannels) await sharded.ssubscribe(channel); // one slot per command on a Cluster
    const warned: unknown[] = [];
    const publish = createProfilePublisher({ redis: r, keys, store: {} as Store, log: { warn: (...a: unknown[]) => warned.push(a) } as unknown as Logger });
    await publish({ id: 'alice', username: 'alice' }, { rooms: spread.publicRooms });
    expect(warned).toEqual([]);
    const expected = [`classic ${userChannel}`, ...roomChannels.map((c) => `sharded ${c}`)];
    await waitFor(() => got.length === expected.length, { timeoutMs: 5000, what: 'every profile frame' });
    expect(got.sort()).toEqual(expected.sort());
  });

  it('Fanout recovery after its subscribers reconnect (chat/fanout.ts shardsReset + recover): the XRANGE of every held room\'s log, rooms on every master, delivers what was missed once each', async () => {
    // The subscriber is a Cluster client with sharded subscribers (one connection per master), as
    // server.ts makes it, reaching every node through a proxy that can take it down (natMap: the
    // addresses CLUSTER SLOTS gives are mapped to the proxies); the recovery reads go to the
    // cluster directly. All proxies down = every subscriber connection lost at once.
    const proxies = new Map<number, RedisProxy>();
    for (const n of cluster.nodes) proxies.set(n.port, await startRedisProxy(n.port));
    const natMap = Object.fromEntries([...proxies].map(([port, p]) => [`127.0.0.1:${port}`, { host: '127.0.0.1', port: p.port }]));
    const sub = new Cluster(
      [...proxies.values()].map((p) => ({ host: '127.0.0.1', port: p.port })),
      {
        ...clusterOptions('redis://127.0.0.1:6379', {
          role: 'subscriber',
          blocking: true,
          shardedSubscriber: true,
          extra: { enableReadyCheck: false, disableClientInfo: true, autoResubscribe: false },
        }),
        natMap,
      },
    ) as unknown as Redis;
    sub.on('error', () => {}); // the outage below is meant
    try {
      const registry = new Registry();
      const metrics = {
        framesOut: new Counter({ name: 'f_out', help: 'x', registers: [registry] }),
        fanoutLatency: new Histogram({ name: 'f_lat', help: 'x', registers: [registry] }),
        pubsubBytesIn: new Counter({ name: 'f_bytes_in', help: 'x', registers: [registry] }),
        pubsubFramesIn: new Counter({ name: 'f_frames_in', help: 'x', registers: [registry] }),
      };
      const fanout = new Fanout(sub, keys, log, metrics, 'audit-replica', { redis: r, recoveryMax: 50 });
      await waitFor(() => sub.status === 'ready', { what: 'subscriber ready' });
      const send = createSendScript(r, keys, config);
      const rooms = await spread.roomsFor((i) => `recover-${i}`);
      const got = new Map(rooms.map((room) => [room, [] as string[]]));
      const closed: string[] = [];
      for (const room of rooms) {
        await fanout.add(room, { receive: (_room, data) => void got.get(room)!.push(textFramePayload(data).toString()), close: (code, reason) => void closed.push(`${room}: ${code} ${reason}`) });
        fanout.seen(room, undefined); // the join read an empty log
        await send(room, alice, `${room} live`, `${room}-0`);
      }
      await waitFor(() => rooms.every((room) => got.get(room)!.length === 1), { what: 'a live message in every room' });
      for (const p of proxies.values()) await p.down();
      await waitFor(() => sub.status !== 'ready', { what: 'subscriber down', timeoutMs: 15_000 });
      for (const room of rooms) for (const n of [1, 2]) await send(room, alice, `${room} missed ${n}`, `${room}-${n}`);
      for (const p of proxies.values()) await p.up();
      await waitFor(() => rooms.every((room) => got.get(room)!.length === 3), { what: 'the missed messages of every room', timeoutMs: 15_000 });
      // and live again: one more message per room arrives once, after the recovered ones
      for (const room of rooms) await send(room, alice, `${room} after`, `${room}-3`);
      await waitFor(() => rooms.every((room) => got.get(room)!.length >= 4), { what: 'a live message in every room after the reconnect', timeoutMs: 15_000 });
      expect(closed).toEqual([]); // recovered, not resynced
      for (const room of rooms) {
        expect(got.get(room)!.map((f) => (JSON.parse(f) as { text: string }).text)).toEqual([`${room} live`, `${room} missed 1`, `${room} missed 2`, `${room} after`]);
      }
    } finally {
      sub.disconnect();
      for (const p of proxies.values()) await p.close();
    }
  }, 60_000);
});
