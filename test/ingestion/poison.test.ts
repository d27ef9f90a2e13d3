// Poison entries: copied to the partition's dead-letter stream with the reason, acked, and
// never in the way of the entries after them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import type { Store } from '../../services/shared/store/index.js';
import {
  INGEST_GROUP,
  deadLetters,
  addRawEntry,
  drafts,
  exactlyOnceProblems,
  keysFor,
  openStore,
  produce,
  startWorker,
  storedMessages,
  tempDir,
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
  store = await openStore(tmp.dbPath);
});

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await store?.close();
  await redis?.stop();
  tmp?.cleanup();
});

const deadLettered = () => deadLetters(redis.client(), keys.deadLetter(P));

describe('poison entries', { timeout: 240_000 }, () => {
  it('a valid entry delivered more than INGEST_MAX_DELIVERIES times (claimed from a dead consumer) is stored, not dead-lettered', async () => {
    const client = redis.client();
    const stream = keys.ingestStream(P);
    for (const s of keys.allIngestStreams()) await client.xgroup('CREATE', s, INGEST_GROUP, '0', 'MKSTREAM');
    // A well-formed message whose count (we pretend) 7 worker deaths and restarts have raised.
    const [often] = await produce(client, keys, [{ room: ROOM, text: 'delivered often' }]);
    await client.xreadgroup('GROUP', INGEST_GROUP, 'crashed', 'COUNT', 10, 'STREAMS', stream, '>');
    const entryId = ((await client.xpending(stream, INGEST_GROUP)) as [number, string])[1];
    await client.xclaim(stream, INGEST_GROUP, 'crashed', 0, entryId, 'RETRYCOUNT', 7);

    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      consumer: 'w1',
      extra: { INGEST_CLAIM_IDLE_MS: '200', INGEST_MAX_DELIVERIES: '5' },
    });
    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 30_000, what: 'claimed and acked' });
    expect(await exactlyOnceProblems(store, [often!])).toBeNull();
    expect(await deadLettered()).toEqual([]);
    expect(worker.logs.some((l) => l.includes('over INGEST_MAX_DELIVERIES stored on its own') && l.includes('"deliveries":8'))).toBe(true);
  });

  it('a valid entry whose count passed INGEST_MAX_DELIVERIES through restarts under the same consumer name is stored, not dead-lettered', async () => {
    const client = redis.client();
    const stream = keys.ingestStream(P);
    await worker?.stop('SIGKILL');
    worker = undefined;
    const storedBefore = await storedMessages(store, ROOM);
    const [restarted] = await produce(client, keys, [{ room: ROOM, text: 'survived restarts' }]);
    // Read by 'stable' (its worker then died before storing it), 6 deliveries so far.
    await client.xreadgroup('GROUP', INGEST_GROUP, 'stable', 'COUNT', 10, 'STREAMS', stream, '>');
    const rows = (await client.xpending(stream, INGEST_GROUP, '-', '+', 10, 'stable')) as [string][];
    expect(rows).toHaveLength(1);
    await client.xclaim(stream, INGEST_GROUP, 'stable', 0, rows[0]![0], 'RETRYCOUNT', 6);

    // The restart re-reads its own pending entries with XREADGROUP 0: the 7th delivery (> 5).
    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      consumer: 'stable',
      extra: { INGEST_CLAIM_IDLE_MS: '3600000', INGEST_MAX_DELIVERIES: '5' },
    });
    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 30_000, what: 'own pending stored and acked' });
    expect(await exactlyOnceProblems(store, [...storedBefore, restarted!])).toBeNull();
    expect(await deadLettered()).toEqual([]);
  });

  it('an invalid entry lands in the dead-letter stream with its reason and does not block the ones after it', async () => {
    const client = redis.client();
    const before = await produce(client, keys, drafts(50, [ROOM], (i) => `before ${i}`));
    const badRoom = await addRawEntry(client, keys, P, ['room', 'Not A Room!', 'id', '1-1', 'uid', 'u1', 'name', 'a', 'text', 'x', 'cid', 'c']);
    const noText = await addRawEntry(client, keys, P, ['room', ROOM, 'id', '1-2', 'uid', 'u1', 'name', 'a', 'cid', 'c']);
    const junk = await addRawEntry(client, keys, P, ['hello', 'world']);
    const after = await produce(client, keys, drafts(50, [ROOM], (i) => `after ${i}`));

    await waitFor(async () => (await deadLettered()).length === 3, { timeoutMs: 30_000, what: 'three dead letters' });
    const byEntry = new Map((await deadLettered()).map((d) => [d.entryId, d]));
    expect(byEntry.get(badRoom)).toMatchObject({ reason: 'invalid room', room: 'Not A Room!', text: 'x', stream: keys.ingestStream(P) });
    expect(byEntry.get(noText)).toMatchObject({ reason: 'missing text', room: ROOM, id: '1-2' });
    expect(byEntry.get(junk)).toMatchObject({ reason: 'invalid room', hello: 'world' });

    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 10_000, what: 'everything acked' });
    const earlier = (await storedMessages(store, ROOM)).filter((m) => !/^(before|after) /.test(m.text));
    expect(await exactlyOnceProblems(store, [...earlier, ...before, ...after])).toBeNull();
    const metrics = await (await fetch(`${worker!.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/aurora_ingestion_dead_lettered_total\{kind="invalid"[^}]*\} 3\b/);
    expect(metrics).not.toMatch(/aurora_ingestion_dead_lettered_total\{kind="max_deliveries"[^}]*\} [1-9]/);
  });
});
