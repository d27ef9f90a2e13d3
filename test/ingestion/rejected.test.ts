// A store that is up but refuses one particular message, every time: a SQLite trigger on the
// shared file aborts any insert of a message whose text is 'poison'. That message must end in
// the dead-letter stream with the store's reason, the rest of its batch must be stored exactly
// once, nothing may stay pending, and the stream must be trimmed — the partition never stalls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import type { Store } from '../../services/shared/store/index.js';
import {
  INGEST_GROUP,
  POISON_REASON,
  deadLetters,
  drafts,
  exactlyOnceProblems,
  keysFor,
  openStore,
  produce,
  rejectPoisonInStore,
  startWorker,
  storedMessages,
  tempDir,
  totalLength,
  totalPending,
} from './fixtures.js';

const PARTITIONS = 2;
const keys = keysFor(PARTITIONS);
const ROOM = 'general';
const P = keys.partitionOf(ROOM);

let redis: TestRedis;
let store: Store;
let tmp: ReturnType<typeof tempDir>;
let worker: RunningService | undefined;

beforeAll(async () => {
  redis = await startRedis();
  tmp = tempDir();
  store = await openStore(tmp.dbPath); // creates the schema
  rejectPoisonInStore(tmp.dbPath);
});

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await store?.close();
  await redis?.stop();
  tmp?.cleanup();
});

const deadLettered = () => deadLetters(redis.client(), keys.deadLetter(P));

async function metrics(): Promise<string> {
  return (await fetch(`${worker!.adminUrl}/metrics`)).text();
}

describe('a message the store rejects on its own', { timeout: 240_000 }, () => {
  it('is dead-lettered with the store reason; every other message of its batch is stored exactly once and the stream is trimmed', async () => {
    const client = redis.client();
    // All of it is waiting before the worker starts, so the poison shares one batch with 80 others.
    const before = await produce(client, keys, drafts(40, [ROOM], (i) => `before ${i}`));
    const [poison] = await produce(client, keys, [{ room: ROOM, text: 'poison' }]);
    const after = await produce(client, keys, drafts(40, [ROOM], (i) => `after ${i}`));

    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      consumer: 'w1',
      extra: { INGEST_BATCH_SIZE: '500', INGEST_TRIM_INTERVAL_MS: '200', INGEST_CLAIM_IDLE_MS: '2000' },
    });
    await waitFor(async () => (await deadLettered()).length === 1, { timeoutMs: 60_000, what: 'the rejected message dead-lettered' });
    const [dead] = await deadLettered();
    expect(dead).toMatchObject({ reason: `store rejected: ${POISON_REASON}`, stream: keys.ingestStream(P), room: ROOM, id: poison!.id, text: 'poison' });

    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 30_000, what: 'the whole batch acked' });
    expect(await exactlyOnceProblems(store, [...before, ...after])).toBeNull();
    expect((await storedMessages(store, ROOM)).some((m) => m.text === 'poison')).toBe(false);
    await waitFor(async () => (await totalLength(client, keys)) === 0, { timeoutMs: 30_000, what: 'ingest streams trimmed' });
    expect(await metrics()).toMatch(/aurora_ingestion_dead_lettered_total\{kind="rejected"[^}]*\} 1\b/);

    // The partition keeps flowing: later sends are stored, and the poison is not retried.
    const later = await produce(client, keys, drafts(30, [ROOM], (i) => `later ${i}`));
    await waitFor(async () => (await totalPending(client, keys)) === 0 && (await totalLength(client, keys)) === 0, {
      timeoutMs: 30_000,
      what: 'later sends stored and trimmed',
    });
    expect(await exactlyOnceProblems(store, [...before, ...after, ...later])).toBeNull();
    expect(await deadLettered()).toHaveLength(1);
  });

  it('an entry over INGEST_MAX_DELIVERIES is tried alone once and dead-lettered only because the store rejects it', async () => {
    const client = redis.client();
    const stream = keys.ingestStream(P);
    await worker?.stop('SIGKILL'); // nobody reads these two but the pretend-dead consumer
    const deadBefore = (await deadLettered()).length;
    const storedBefore = await storedMessages(store, ROOM);
    // Two entries that (we pretend) were delivered 8 times to a consumer that died: one the store
    // takes, one it refuses.
    const [valid, refused] = await produce(client, keys, [
      { room: ROOM, text: 'delivered often but fine' },
      { room: ROOM, text: 'poison again' },
    ]);
    await client.xreadgroup('GROUP', INGEST_GROUP, 'crashed', 'COUNT', 10, 'STREAMS', stream, '>');
    const pending = (await client.xpending(stream, INGEST_GROUP, '-', '+', 10, 'crashed')) as [string][];
    expect(pending).toHaveLength(2);
    for (const [entryId] of pending) await client.xclaim(stream, INGEST_GROUP, 'crashed', 0, entryId, 'RETRYCOUNT', 7);

    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      consumer: 'w2',
      extra: { INGEST_CLAIM_IDLE_MS: '200', INGEST_MAX_DELIVERIES: '5', INGEST_TRIM_INTERVAL_MS: '200' },
    });
    await waitFor(async () => (await deadLettered()).length === deadBefore + 1 && (await totalPending(client, keys)) === 0, {
      timeoutMs: 60_000,
      what: 'the refused one dead-lettered and both acked',
    });
    const dead = (await deadLettered())[deadBefore]!;
    expect(dead).toMatchObject({ id: refused!.id, text: 'poison again', deliveries: '8' });
    expect(dead.reason).toMatch(/^delivered 8 times \(INGEST_MAX_DELIVERIES=5\); alone, store rejected: rejected by test trigger$/);
    expect(await exactlyOnceProblems(store, [...storedBefore, valid!])).toBeNull();
    await waitFor(async () => (await totalLength(client, keys)) === 0, { timeoutMs: 30_000, what: 'ingest streams trimmed' });
  });
});
