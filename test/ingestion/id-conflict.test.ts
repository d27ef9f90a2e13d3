// A room log id reused after Redis lost the tail of a log (restart without fsync, failover)
// reaches the worker as a SECOND message with an id the store already holds. It must not vanish
// as a "duplicate": it is dead-lettered with the reason, counted, and the partition keeps flowing.
// A real redelivery of the same message stays a silent duplicate. Dead letters are never trimmed
// and their count is a gauge. The same holds for a room EVENT under a reused event id, arriving
// in a later batch than the event the store holds: the store reports it as a conflict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestEntryFields, ingestEventFields, parseIngestEntry, type ChatMessage, type RoomEvent } from '../../services/shared/message.js';
import type { Store } from '../../services/shared/store/index.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import {
  INGEST_GROUP,
  addRawEntry,
  deadLetters,
  deadLettersTool,
  drafts,
  keysFor,
  openStore,
  produce,
  produceEntries,
  startWorker,
  storedMessages,
  tempDir,
  totalLength,
  totalPending,
} from './fixtures.js';

const PARTITIONS = 1;
const keys = keysFor(PARTITIONS);
const ROOM = 'general';
/** Fields a dead letter puts before the original entry's (dead-letter.ts deadLetterFields). */
const DEAD_LETTER_HEADER = ['reason', 'entryId', 'stream', 'deliveries'];

let redis: TestRedis;
let store: Store;
let tmp: ReturnType<typeof tempDir>;
let worker: RunningService | undefined;

beforeAll(async () => {
  redis = await startRedis();
  tmp = tempDir();
  store = await openStore(tmp.dbPath);
  worker = await startWorker({
    redisUrl: redis.url,
    dbPath: tmp.dbPath,
    partitions: PARTITIONS,
    consumer: 'w1',
    extra: { INGEST_TRIM_INTERVAL_MS: '100', INGEST_BATCH_MS: '20' },
  });
});

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await store?.close();
  await redis?.stop();
  tmp?.cleanup();
});

const metrics = async () => (await fetch(`${worker!.adminUrl}/metrics`)).text();
const metricValue = async (name: string) => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(await metrics());
  return m ? Number(m[1]) : undefined;
};
const settled = () =>
  waitFor(async () => (await totalPending(redis.client(), keys)) === 0 && (await totalLength(redis.client(), keys)) === 0, {
    timeoutMs: 20_000,
    what: 'ingest streams acked and trimmed',
  });

describe('a different message under an already stored id', { timeout: 60_000 }, () => {
  it('is dead-lettered as id_conflict and counted; a redelivery of the same message stays a silent duplicate', async () => {
    const client = redis.client();
    const [original] = await produce(client, keys, [{ room: ROOM, uid: 'u_alice', name: 'alice', text: 'the original', cid: 'c-orig' }]);
    await waitFor(async () => (await storedMessages(store, ROOM)).length === 1, { timeoutMs: 20_000, what: 'original stored' });

    // What Redis hands out after losing the log's tail: the same id for somebody else's message.
    const reused: ChatMessage = { ...original!, user: { id: 'u_bob', name: 'bob' }, text: 'a new message, same id', cid: 'c-bob' };
    await addRawEntry(client, keys, 0, ingestEntryFields(reused));
    await addRawEntry(client, keys, 0, ingestEntryFields(original!)); // an honest redelivery
    await settled();

    const dead = await deadLetters(client, keys.deadLetter(0));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ id: original!.id, uid: 'u_bob', text: 'a new message, same id', cid: 'c-bob' });
    expect(dead[0]!.reason).toMatch(/^id_conflict: /);
    expect(await storedMessages(store, ROOM)).toEqual([original]);
    await waitFor(async () => (await metricValue('aurora_ingestion_id_conflicts_total')) === 1, { timeoutMs: 5000, what: 'conflict counted' });
    expect(await metrics()).toMatch(/aurora_ingestion_dead_lettered_total\{kind="id_conflict"[^}]*\} 1\b/);
    await waitFor(async () => (await metricValue('aurora_ingestion_dead_letter_entries')) === 1, { timeoutMs: 5000, what: 'dead-letter gauge' });
    expect(await metricValue('aurora_ingestion_messages_duplicate_total')).toBe(1);
  });

  it('two different messages with one id in the same batch: the first is stored, the second dead-lettered', async () => {
    const client = redis.client();
    await worker!.stop('SIGKILL');
    const a: ChatMessage = { id: '9000000000000-0', room: ROOM, user: { id: 'u_carol', name: 'carol' }, text: 'first', ts: 9000000000000, cid: 'c-a' };
    const b: ChatMessage = { ...a, user: { id: 'u_dave', name: 'dave' }, text: 'second', cid: 'c-b' };
    await addRawEntry(client, keys, 0, ingestEntryFields(a));
    await addRawEntry(client, keys, 0, ingestEntryFields(b));
    worker = await startWorker({ redisUrl: redis.url, dbPath: tmp.dbPath, partitions: PARTITIONS, consumer: 'w2', extra: { INGEST_TRIM_INTERVAL_MS: '100' } });
    await settled();
    expect((await storedMessages(store, ROOM)).find((m) => m.id === a.id)).toEqual(a);
    const dead = await deadLetters(client, keys.deadLetter(0));
    expect(dead.map((d) => d.cid)).toEqual(['c-bob', 'c-b']);
  });

  it('dead letters are never trimmed: far more than any cap stay, and the gauge counts them all', async () => {
    const client = redis.client();
    // Invalid entries (a bad room) are dead-lettered as they come: a flood of them.
    const N = 101_000; // past the 100,000 entries the stream was once capped at (MAXLEN ~)
    for (let i = 0; i < N; i += 10_000) {
      const pipe = client.pipeline();
      for (let j = i; j < Math.min(N, i + 10_000); j++) pipe.xadd(keys.ingestStream(0), '*', 'room', 'Not A Room!', 'id', `${j + 1}-0`, 'uid', 'u', 'name', 'n', 'text', 't', 'cid', `f${j}`);
      await pipe.exec();
    }
    await waitFor(async () => (await totalPending(redis.client(), keys)) === 0 && (await totalLength(redis.client(), keys)) === 0, {
      timeoutMs: 60_000,
      what: 'the flood dead-lettered, acked and trimmed',
    });
    const before = 2; // the two id conflicts above
    expect(await client.xlen(keys.deadLetter(0))).toBe(before + N);
    await waitFor(async () => (await metricValue('aurora_ingestion_dead_letter_entries')) === before + N, { timeoutMs: 5000, what: 'gauge counts every dead letter' });
    // And the partition still flows.
    const later = await produce(client, keys, drafts(5, [ROOM]));
    await settled();
    const stored = await storedMessages(store, ROOM);
    for (const m of later) expect(stored.some((s) => s.id === m.id)).toBe(true);
  });
});

describe('a same-id pair delivered too often (suspects)', { timeout: 60_000 }, () => {
  it('still stores the first and dead-letters the second: nothing of the batch is acked unseen', async () => {
    const own = await startRedis();
    const dir = tempDir();
    let w: RunningService | undefined;
    try {
      const client = own.client();
      const a: ChatMessage = { id: '9100000000000-0', room: ROOM, user: { id: 'u_erin', name: 'erin' }, text: 'first', ts: 9100000000000, cid: 'c-e' };
      const b: ChatMessage = { ...a, user: { id: 'u_frank', name: 'frank' }, text: 'second, acked to frank', cid: 'c-f' };
      await client.xgroup('CREATE', keys.ingestStream(0), INGEST_GROUP, '0', 'MKSTREAM');
      const ida = await addRawEntry(client, keys, 0, ingestEntryFields(a));
      const idb = await addRawEntry(client, keys, 0, ingestEntryFields(b));
      // A worker that read them and died, over and over: both are past INGEST_MAX_DELIVERIES.
      await client.xreadgroup('GROUP', INGEST_GROUP, 'dead-worker', 'COUNT', 10, 'STREAMS', keys.ingestStream(0), '>');
      await client.xclaim(keys.ingestStream(0), INGEST_GROUP, 'dead-worker', 0, ida, idb, 'RETRYCOUNT', 10);
      w = await startWorker({ redisUrl: own.url, dbPath: dir.dbPath, partitions: PARTITIONS, consumer: 'w9', extra: { INGEST_CLAIM_IDLE_MS: '100', INGEST_MAX_DELIVERIES: '5', INGEST_TRIM_INTERVAL_MS: '100' } });
      await waitFor(async () => (await totalPending(client, keys)) === 0 && (await totalLength(client, keys)) === 0, { timeoutMs: 20_000, what: 'both acked and trimmed' });
      const st = await openStore(dir.dbPath);
      try {
        expect((await storedMessages(st, ROOM)).map((m) => m.cid)).toEqual(['c-e']);
      } finally {
        await st.close();
      }
      expect((await deadLetters(client, keys.deadLetter(0))).map((d) => d.cid)).toEqual(['c-f']);
    } finally {
      await w?.stop('SIGKILL');
      await own.stop();
      dir.cleanup();
    }
  });
});

describe('a different event under an already stored event id, in a later batch', { timeout: 60_000 }, () => {
  it('is dead-lettered as id_conflict, counted and listed; the stored state is untouched; a redelivery stays a duplicate', async () => {
    const own = await startRedis();
    const dir = tempDir();
    const st = await openStore(dir.dbPath);
    let w: RunningService | undefined;
    try {
      const client = own.client();
      w = await startWorker({ redisUrl: own.url, dbPath: dir.dbPath, partitions: PARTITIONS, consumer: 'w-ev', extra: { INGEST_TRIM_INTERVAL_MS: '100', INGEST_BATCH_MS: '20' } });
      const [message] = (await produceEntries(client, keys, [{ room: ROOM, uid: 'u_alice', name: 'alice', text: 'helo', cid: 'c-m' }])) as [ChatMessage];
      const [applied] = (await produceEntries(client, keys, [
        { room: ROOM, kind: 'edit', target: message.id, uid: 'u_alice', name: 'alice', text: 'hello', cid: 'c-edit' },
      ])) as [RoomEvent];
      await waitFor(async () => (await st.getMessage(ROOM, message.id))?.text === 'hello', { timeoutMs: 20_000, what: 'edit applied' });
      const stored = await st.getMessage(ROOM, message.id, 'u_bob');

      // Events Redis could hand out under the same id after losing the log's tail, and an honest redelivery.
      const { id, room, ts, target, user } = applied;
      const reused: RoomEvent[] = [
        { id, room, ts, target, user: { id: 'u_bob', name: 'bob' }, cid: 'c-bob', kind: 'react', emoji: '👍', on: true },
        { id, room, ts, target, user, cid: 'c-del', kind: 'delete' }, // the same author: a delete would be final
      ];
      for (const e of [...reused, applied]) await addRawEntry(client, keys, 0, ingestEventFields(e));
      await waitFor(async () => (await totalPending(client, keys)) === 0 && (await totalLength(client, keys)) === 0, {
        timeoutMs: 20_000,
        what: 'ingest streams acked and trimmed',
      });

      expect(await st.getMessage(ROOM, message.id, 'u_bob')).toEqual(stored);
      expect(stored).toMatchObject({ text: 'hello', editedAt: applied.ts });
      const dead = await deadLetters(client, keys.deadLetter(0));
      // Nothing silently lost: each conflicting event is in the dead letters, whole (it can be re-driven after a fix).
      const original = (d: Record<string, string>) => Object.entries(d).filter(([k]) => !DEAD_LETTER_HEADER.includes(k)).flat();
      expect(dead.map((d) => parseIngestEntry(original(d)))).toEqual(reused);
      for (const d of dead) expect(d.reason).toMatch(/^id_conflict: a different event is stored under general \d+-\d+ /);

      const text = await (await fetch(`${w.adminUrl}/metrics`)).text();
      const value = (re: string) => Number(new RegExp(`^${re}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
      expect(value('aurora_ingestion_id_conflicts_total')).toBe(2);
      expect(text).toMatch(/^aurora_ingestion_dead_lettered_total\{kind="id_conflict"[^}]*\} 2$/m);
      expect(value('aurora_ingestion_events_applied_total')).toBe(1);
      expect(value('aurora_ingestion_events_duplicate_total')).toBe(1);
      expect(text).not.toMatch(/aurora_ingestion_events_stored_total\{kind="(react|delete)"/);

      const list = await deadLettersTool({ redisUrl: own.url, partitions: PARTITIONS }, 'list');
      expect(list.code).toBe(0);
      const lines = list.stdout.split('\n').filter((l) => l.includes('reason="id_conflict'));
      expect(lines).toHaveLength(2);
      expect(lines[0]).toContain(`id=${applied.id}  event="react"  target=${message.id}`);
      expect(lines[1]).toContain(`id=${applied.id}  event="delete"  target=${message.id}`);
    } finally {
      await w?.stop('SIGKILL');
      await st.close();
      await own.stop();
      dir.cleanup();
    }
  });
});
