// Poison entries: copied to the partition's dead-letter stream with the reason, acked, and
// never in the way of the entries after them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import type { Store } from '../../services/shared/store/index.js';
import {
  INGEST_GROUP,
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

function fieldsOf(flat: string[]): Record<string, string> {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return f;
}

async function deadLetters(): Promise<Record<string, string>[]> {
  const rows = (await redis.client().xrange(keys.deadLetter(P), '-', '+')) as [string, string[]][];
  return rows.map(([, f]) => fieldsOf(f));
}

describe('poison entries', () => {
  it('an entry delivered more than INGEST_MAX_DELIVERIES times is dead-lettered, not stored', async () => {
    const client = redis.client();
    const stream = keys.ingestStream(P);
    for (const s of keys.allIngestStreams()) await client.xgroup('CREATE', s, INGEST_GROUP, '0', 'MKSTREAM');
    // A well-formed message that (we pretend) crashed 7 workers already.
    const [cursed] = await produce(client, keys, [{ room: ROOM, text: 'the cursed one' }]);
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
    await waitFor(async () => (await deadLetters()).length === 1, { timeoutMs: 30_000, what: 'dead letter' });
    const [dead] = await deadLetters();
    expect(dead).toMatchObject({ entryId, stream, room: ROOM, id: cursed!.id, text: 'the cursed one' });
    expect(dead!.reason).toMatch(/^delivered 8 times/);
    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 10_000, what: 'acked' });
    expect(await storedMessages(store, ROOM)).toEqual([]);
  });

  it('an invalid entry lands in the dead-letter stream with its reason and does not block the ones after it', async () => {
    const client = redis.client();
    const before = await produce(client, keys, drafts(50, [ROOM], (i) => `before ${i}`));
    const badRoom = await addRawEntry(client, keys, P, ['room', 'Not A Room!', 'id', '1-1', 'uid', 'u1', 'name', 'a', 'text', 'x', 'cid', 'c']);
    const noText = await addRawEntry(client, keys, P, ['room', ROOM, 'id', '1-2', 'uid', 'u1', 'name', 'a', 'cid', 'c']);
    const junk = await addRawEntry(client, keys, P, ['hello', 'world']);
    const after = await produce(client, keys, drafts(50, [ROOM], (i) => `after ${i}`));

    await waitFor(async () => (await deadLetters()).length === 4, { timeoutMs: 30_000, what: 'three more dead letters' });
    const byEntry = new Map((await deadLetters()).map((d) => [d.entryId, d]));
    expect(byEntry.get(badRoom)).toMatchObject({ reason: 'invalid room', room: 'Not A Room!', text: 'x', stream: keys.ingestStream(P) });
    expect(byEntry.get(noText)).toMatchObject({ reason: 'missing text', room: ROOM, id: '1-2' });
    expect(byEntry.get(junk)).toMatchObject({ reason: 'invalid room', hello: 'world' });

    await waitFor(async () => (await totalPending(client, keys)) === 0, { timeoutMs: 10_000, what: 'everything acked' });
    expect(await exactlyOnceProblems(store, [...before, ...after])).toBeNull();
    const metrics = await (await fetch(`${worker!.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/ingest_dead_lettered_total\{kind="invalid"[^}]*\} 3\b/);
    expect(metrics).toMatch(/ingest_dead_lettered_total\{kind="max_deliveries"[^}]*\} 1\b/);
  });
});
