// Room events that cannot be applied: invalid ones (bad target id, unknown kind, not an emoji)
// and one the store refuses on its own (a SQLite trigger on the shared file) are dead-lettered
// with their reason, and never hold up the entries after them; an event delivered more than
// INGEST_MAX_DELIVERIES times is only a suspect. A dead-lettered event is listed and re-driven
// by `cli dead-letters` (services/cli/dead-letters.ts) like a message.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import { ingestEventFields, type ChatMessage, type LogEntry, type RoomEvent } from '../../services/shared/message.js';
import type { Store } from '../../services/shared/store/index.js';
import { stateProblems } from './events-model.js';
import {
  INGEST_GROUP,
  POISON_REASON,
  addRawEntry,
  allAcked,
  deadLetters,
  deadLettersTool,
  keysFor,
  openStore,
  produceEntries,
  rejectPoisonEventsInStore,
  startWorker,
  tempDir,
  type EventDraft,
} from './fixtures.js';

const PARTITIONS = 2;
const keys = keysFor(PARTITIONS);
const ROOM = 'general';
const P = keys.partitionOf(ROOM);

let redis: TestRedis;
let tmp: ReturnType<typeof tempDir>;
let store: Store | undefined;
const workers: RunningService[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop('SIGKILL');
  await store?.close();
  store = undefined;
  tmp?.cleanup();
  await redis.client().flushall();
});

afterAll(async () => {
  await redis?.stop();
});

async function setup(): Promise<Store> {
  tmp = tempDir();
  store = await openStore(tmp.dbPath); // creates the schema
  return store;
}

async function worker(consumer: string, extra: Record<string, string> = {}): Promise<RunningService> {
  const w = await startWorker({ redisUrl: redis.url, dbPath: tmp.dbPath, partitions: PARTITIONS, consumer, extra });
  workers.push(w);
  return w;
}

const deadLettered = () => deadLetters(redis.client(), keys.deadLetter(P));
const metrics = async (w: RunningService) => (await fetch(`${w.adminUrl}/metrics`)).text();

/** A message and `n` reactions on it by different users (one batch's worth, all well-formed). */
async function messageWithReactions(n: number, cid = (i: number) => `ok-${i}`): Promise<LogEntry[]> {
  const [m] = (await produceEntries(redis.client(), keys, [{ room: ROOM, uid: 'u1', name: 'ann', text: 'react to me' }])) as ChatMessage[];
  const drafts: EventDraft[] = Array.from({ length: n }, (_, i) => ({
    room: ROOM, kind: 'react', target: m!.id, uid: `r${i}`, name: `r${i}`, emoji: i % 2 ? '🎉' : '👍', on: true, cid: cid(i),
  }));
  return [m!, ...(await produceEntries(redis.client(), keys, drafts))];
}

describe('events that cannot be applied', { timeout: 240_000 }, () => {
  it('invalid events are dead-lettered with their reason; the entries around them are stored', async () => {
    const s = await setup();
    const client = redis.client();
    const before = await messageWithReactions(5);
    const target = before[0]!.id;
    const valid: RoomEvent = { id: '1-1', room: ROOM, user: { id: 'u1', name: 'ann' }, ts: 1, cid: 'x', target, kind: 'react', emoji: '👍', on: true };
    const raw = ingestEventFields(valid);
    const withField = (name: string, value: string) => raw.map((v, i) => (i > 0 && raw[i - 1] === name ? value : v));
    const badTarget = await addRawEntry(client, keys, P, withField('tg', 'not-an-id'));
    const unknownKind = await addRawEntry(client, keys, P, withField('ev', 'pin'));
    const badEmoji = await addRawEntry(client, keys, P, withField('emoji', 'ab'));
    const textEmoji = await addRawEntry(client, keys, P, withField('emoji', '<b>'));
    const after = await produceEntries(client, keys, [
      { room: ROOM, kind: 'edit', target, uid: 'u1', name: 'ann', text: 'edited after the poison' },
      { room: ROOM, uid: 'u2', name: 'bob', text: 'a later message' },
    ]);

    const w = await worker('w1');
    await waitFor(() => allAcked(client, keys), { timeoutMs: 30_000, what: 'everything acked' });
    const byEntry = new Map((await deadLettered()).map((d) => [d.entryId, d]));
    expect(byEntry.size).toBe(4);
    expect(byEntry.get(badTarget)).toMatchObject({ reason: 'invalid event target', ev: 'react', tg: 'not-an-id', stream: keys.ingestStream(P) });
    expect(byEntry.get(unknownKind)).toMatchObject({ reason: 'unknown event kind', ev: 'pin' });
    expect(byEntry.get(badEmoji)).toMatchObject({ reason: 'invalid emoji', emoji: 'ab' });
    expect(byEntry.get(textEmoji)).toMatchObject({ reason: 'invalid emoji', emoji: '<b>' });
    expect(await stateProblems(s, [...before, ...after], 'u1')).toBeNull();
    expect(await metrics(w)).toMatch(/aurora_ingestion_dead_lettered_total\{kind="invalid"[^}]*\} 4\b/);
  });

  it('an event the store rejects on its own is dead-lettered alone; the rest of its batch is applied; the tool lists and re-drives it', async () => {
    const s = await setup();
    const client = redis.client();
    const lift = rejectPoisonEventsInStore(tmp.dbPath);
    // All of it is waiting before the worker starts: the poison shares one batch with the rest.
    const entries = await messageWithReactions(30, (i) => (i === 17 ? 'poison-17' : `ok-${i}`));
    const poison = entries.find((e) => e.cid === 'poison-17') as RoomEvent & { kind: 'react' };
    const rest = entries.filter((e) => e !== poison);

    const w = await worker('w1', { INGEST_BATCH_SIZE: '500' });
    await waitFor(() => allAcked(client, keys), { timeoutMs: 60_000, what: 'the whole batch acked' });
    const dead = await deadLettered();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: `store rejected: ${POISON_REASON}`, id: poison.id, ev: 'react', cid: 'poison-17', tg: poison.target });
    expect(await stateProblems(s, rest, 'r17')).toBeNull();
    const text = await metrics(w);
    expect(text).toMatch(/aurora_ingestion_dead_lettered_total\{kind="rejected"[^}]*\} 1\b/);
    expect(text).toMatch(/aurora_ingestion_events_applied_total(\{[^}]*\})? 29\b/); // 30 reactions, one refused
    expect(w.logs.some((l) => l.includes('splitting it') && l.includes('"what":"events"'))).toBe(true);

    const env = { redisUrl: redis.url, partitions: PARTITIONS };
    const list = await deadLettersTool(env, 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`id=${poison.id}  event="react"  target=${poison.target}`);
    expect(list.stdout).toContain(`emoji=${JSON.stringify(poison.emoji)}`);

    lift();
    const redrive = await deadLettersTool(env, 'redrive', '--all');
    expect(redrive.stderr).toBe('');
    expect(redrive.code).toBe(0);
    expect(redrive.stdout).toContain(`id=${poison.id}  react of ${poison.target}`);
    await waitFor(async () => (await allAcked(client, keys)) && (await deadLettered()).length === 0, { timeoutMs: 30_000, what: 're-driven event applied' });
    expect(await stateProblems(s, entries, 'r17')).toBeNull();
  });

  it('an event delivered more than INGEST_MAX_DELIVERIES times is applied alone; dead-lettered only when the store rejects it', async () => {
    const s = await setup();
    const client = redis.client();
    const stream = keys.ingestStream(P);
    rejectPoisonEventsInStore(tmp.dbPath);
    for (const st of keys.allIngestStreams()) await client.xgroup('CREATE', st, INGEST_GROUP, '0', 'MKSTREAM');
    const entries = await messageWithReactions(2, (i) => (i === 1 ? 'poison-1' : `ok-${i}`));
    const [message, good, poison] = entries as [ChatMessage, RoomEvent, RoomEvent];
    // Both reactions were read by consumers that died, again and again (count raised to 7).
    await client.xreadgroup('GROUP', INGEST_GROUP, 'crashed', 'COUNT', 10, 'STREAMS', stream, '>');
    const pending = (await client.xpending(stream, INGEST_GROUP, '-', '+', 10)) as [string][];
    expect(pending).toHaveLength(3);
    for (const [id] of pending.slice(1)) await client.xclaim(stream, INGEST_GROUP, 'crashed', 0, id, 'RETRYCOUNT', 7);

    const w = await worker('w1', { INGEST_CLAIM_IDLE_MS: '200', INGEST_MAX_DELIVERIES: '5' });
    await waitFor(() => allAcked(client, keys), { timeoutMs: 30_000, what: 'claimed and acked' });
    const dead = await deadLettered();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ id: poison.id, deliveries: '8' });
    expect(dead[0]!.reason).toMatch(/^delivered 8 times \(INGEST_MAX_DELIVERIES=5\); alone, store rejected: /);
    expect(await stateProblems(s, [message, good], 'u1')).toBeNull();
    expect(w.logs.some((l) => l.includes('over INGEST_MAX_DELIVERIES stored on its own') && l.includes('"deliveries":8'))).toBe(true);
    expect(await metrics(w)).toMatch(/aurora_ingestion_dead_lettered_total\{kind="max_deliveries"[^}]*\} 1\b/);
  });
});
