// Issue 18 audit, part 2 — the multi-key commands outside Lua (MULTI, pipelines over several
// keys, XREADGROUP over every partition's stream), called through the real service functions
// against a real 3-master Redis Cluster with keys on EVERY master. Works → passing test; known
// break → `it.fails` named after what fails and why (knownBreak, spread.ts); a code path that
// cannot be called on its own → `it.skip` saying what reading it found. Lua: cross-slot.test.ts.
import type { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobs } from '../../services/assistant/jobs.js';
import type { Trigger } from '../../services/assistant/triggers.js';
import { readBacklog } from '../../services/chat/join.js';
import { createSendScript } from '../../services/chat/send-script.js';
import { UserStatusTracker } from '../../services/chat/user-status.js';
import { deadLetter, deadLetterCount } from '../../services/ingestion/dead-letter.js';
import { ackEntries, ensureGroups, ingestStreams, ownPendingPages, touchEntries, type IngestEntry } from '../../services/ingestion/streams.js';
import { storedUpTo } from '../../services/notify/stored.js';
import { loadConfig } from '../../services/shared/config.js';
import { hitFixedWindow } from '../../services/shared/fixed-window.js';
import { INGEST_GROUP } from '../../services/shared/keys.js';
import type { Logger } from '../../services/shared/logger.js';
import { isSessionRevoked, revokedSessions, revokeSession } from '../../services/shared/sessions.js';
import type { Store } from '../../services/shared/store/store.js';
import { readPresence } from '../../services/shared/user-status.js';
import { createProfilePublisher } from '../../services/users/profile-live.js';
import { waitFor } from '../helpers/ports.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { CROSSSLOT, keys, knownBreak, PARTITIONS, PIPELINE_SPANS_MASTERS, spreadOverMasters, type Spread } from './spread.js';

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

  it.fails('XREADGROUP over every partition\'s stream in ONE command (ingestion worker readBatch/prefetch, streams.ts ownPendingPages, notify and assistant workers) → CROSSSLOT: each partition is its own slot', async () => {
    const { streams, partitionOf } = ingestStreams(keys);
    await knownBreak(CROSSSLOT, async () => {
      const pages = ownPendingPages(r, { group: INGEST_GROUP, consumer: 'w1', streams, partitionOf, count: 10, stopping: () => false });
      for await (const page of pages) void page;
    });
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

  it.fails('ackEntries (streams.ts) of a batch from partitions of several masters: one pipeline of XACKs → ioredis "All keys in the pipeline should belong to the same slots allocation group"', async () => {
    const entries = await pendingOn(spread.partitionPerMaster, 'w-ack');
    await knownBreak(PIPELINE_SPANS_MASTERS, () => ackEntries(r, INGEST_GROUP, entries));
  });

  it.fails('touchEntries (streams.ts) of a batch from partitions of several masters: one pipeline of XCLAIMs → ioredis "same slots allocation group"', async () => {
    const entries = await pendingOn(spread.partitionPerMaster, 'w-touch');
    await knownBreak(PIPELINE_SPANS_MASTERS, () => touchEntries(r, INGEST_GROUP, 'w-touch', entries));
  });

  it.fails('deadLetter (ingestion/dead-letter.ts) of poison from partitions of several masters: one pipeline of XADDs → ioredis "same slots allocation group"', async () => {
    const entries = await pendingOn(spread.partitionPerMaster, 'w-dead');
    await knownBreak(PIPELINE_SPANS_MASTERS, () => deadLetter(r, keys, entries.map((entry) => ({ entry, kind: 'invalid', reason: 'audit' }))));
  });

  it.fails('deadLetterCount (ingestion/dead-letter.ts, the ingest_dead_letter_entries gauge): one pipeline of XLEN over every partition → ioredis "same slots allocation group"', async () => {
    await knownBreak(PIPELINE_SPANS_MASTERS, () => deadLetterCount(r, keys));
  });

  it.fails('storedUpTo (notify/stored.ts): one pipeline of XINFO GROUPS + XPENDING over every stream → ioredis "same slots allocation group"', async () => {
    await knownBreak(PIPELINE_SPANS_MASTERS, () => storedUpTo(r, keys.allIngestStreams()));
  });
});

describe('per-user keys (not hash-tagged): users on every master', () => {
  it.fails('readPresence (shared/user-status.ts): one pipeline of HMGET over users\' status keys → ioredis "same slots allocation group"', async () => {
    const users = await spread.namesFor((u) => keys.userStatus(u), 'status-user-');
    await knownBreak(PIPELINE_SPANS_MASTERS, () => readPresence(r, keys, users, 60_000));
  });

  it.fails('UserStatusTracker.refresh (chat/user-status.ts): one pipeline of HSET over the status keys of a replica\'s users → ioredis "same slots allocation group"', async () => {
    const users = await spread.namesFor((u) => keys.userStatus(u), 'status-user-');
    const tracker = new UserStatusTracker(r, keys, log, config);
    for (const u of users) tracker.connected(u); // its own writes: one MULTI on one key each (works)
    await knownBreak(PIPELINE_SPANS_MASTERS, () => tracker.refresh());
  });

  it.fails('revokedSessions (shared/sessions.ts, a replica\'s re-check after a reconnect): one pipeline of EXISTS over revoked-session keys → ioredis "same slots allocation group"', async () => {
    const sids = await spread.namesFor((s) => keys.revokedSession(s), 'sid-');
    await knownBreak(PIPELINE_SPANS_MASTERS, () => revokedSessions(r, keys, sids));
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
    const send = createSendScript(Object.defineProperty(cluster.client(), 'stream', { value: { cork() {}, uncork() {} } }) as unknown as Redis, keys, config);
    for (const [i, room] of spread.publicRooms.entries()) {
      const first = await send(room, alice, 'one', `b-${i}-1`);
      await send(room, alice, 'two', `b-${i}-2`);
      expect(first.kind).toBe('ok');
      const backlog = await readBacklog(r, keys, config, room, (first as { id: string }).id);
      expect(JSON.stringify(backlog)).toContain('two');
    }
  });

  it('a pipeline of PUBLISH to user and room channels of every master (users/profile-live.ts; notify push is the same) works, and reaches a classic SUBSCRIBE client', async () => {
    const sub = cluster.client();
    const got: string[] = [];
    sub.on('message', (channel: string) => got.push(channel));
    const channels = [keys.userChannel('alice'), ...spread.publicRooms.map((room) => keys.roomChannel(room))];
    await sub.subscribe(...channels);
    const warned: unknown[] = [];
    const publish = createProfilePublisher({ redis: r, keys, store: {} as Store, log: { warn: (...a: unknown[]) => warned.push(a) } as unknown as Logger });
    await publish({ id: 'alice', username: 'alice' }, { rooms: spread.publicRooms });
    expect(warned).toEqual([]);
    await waitFor(() => got.length === channels.length, { timeoutMs: 5000, what: 'every profile frame' });
    expect(got.sort()).toEqual([...channels].sort());
  });

  it.skip('Fanout recovery after a subscriber reconnect (chat/fanout.ts recover): one pipeline of XRANGE over the logs of every held room — rooms on several masters → ioredis "same slots allocation group" (found by reading: private method, not callable alone)', () => {});
});
