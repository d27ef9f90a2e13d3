// Room events (edit, delete, react) on the ingest streams, mixed with messages and thread
// replies, through real worker processes into real SQLite: every message stored once, every
// event applied once — whatever the batches, a kill -9, a redelivery or a claim order that puts
// an event before its message. The expected state is computed by events-model.ts from the
// entries themselves, not read back from the store.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import type { RunningService } from '../helpers/service.js';
import { isRoomEvent, type ChatMessage, type LogEntry } from '../../services/shared/message.js';
import type { Store } from '../../services/shared/store/index.js';
import { mulberry32 as rng } from '../helpers/prng.js';
import { roundDrafts, stateProblems } from './events-model.js';
import {
  INGEST_GROUP,
  allAcked,
  keysFor,
  openStore,
  pendingByConsumer,
  produceEntries,
  startWorker,
  storedCount,
  tempDir,
} from './fixtures.js';

const PARTITIONS = 4;
const keys = keysFor(PARTITIONS);
const ROOMS = ['general', 'random', 'dev', 'dm:u1:u2'];

let redis: TestRedis;
let tmp: ReturnType<typeof tempDir>;
const workers: RunningService[] = [];
const stores: Store[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop('SIGKILL');
  for (const s of stores.splice(0)) await s.close();
  tmp?.cleanup();
  await redis.client().flushall();
});

afterAll(async () => {
  await redis?.stop();
});

async function setup(): Promise<{ store: Store; env: { redisUrl: string; dbPath: string; partitions: number } }> {
  tmp = tempDir();
  const store = await openStore(tmp.dbPath);
  stores.push(store);
  return { store, env: { redisUrl: redis.url, dbPath: tmp.dbPath, partitions: PARTITIONS } };
}

/** `rounds` rounds of mixed traffic written to the streams; events only name earlier rounds' messages. */
async function traffic(rounds: number, perRound: { messages: number; events: number }, seed: number): Promise<LogEntry[]> {
  const rand = rng(seed);
  const all: LogEntry[] = [];
  const known: ChatMessage[] = [];
  for (let r = 0; r < rounds; r++) {
    const written = await produceEntries(redis.client(), keys, roundDrafts(known, ROOMS, perRound, rand));
    all.push(...written);
    known.push(...written.filter((e): e is ChatMessage => !isRoomEvent(e)));
  }
  return all;
}

const messagesOf = (entries: LogEntry[]) => entries.filter((e): e is ChatMessage => !isRoomEvent(e));
const eventsOf = (entries: LogEntry[]) => entries.filter(isRoomEvent);

async function metric(w: RunningService, name: string): Promise<number> {
  const text = await (await fetch(`${w.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('room events through the ingest streams', { timeout: 240_000 }, () => {
  it('batches mixing messages, replies and events store every message once and apply every event once', async () => {
    const { store, env } = await setup();
    const entries = await traffic(6, { messages: 150, events: 150 }, 1);
    const events = eventsOf(entries);
    expect(messagesOf(entries).some((m) => m.replyTo !== undefined)).toBe(true);
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(['edit', 'delete', 'react']));

    const w = await startWorker({ ...env, consumer: 'w1', extra: { INGEST_BATCH_SIZE: '500' } });
    workers.push(w);
    await waitFor(() => allAcked(redis.client(), keys), { timeoutMs: 60_000, what: 'every entry stored and acked' });

    // `me` follows the viewer: two viewers, two expected states.
    expect(await stateProblems(store, entries, 'u1')).toBeNull();
    expect(await stateProblems(store, entries, 'u3')).toBeNull();
    expect(await metric(w, 'aurora_ingestion_events_applied_total')).toBe(events.length);
    expect(await metric(w, 'aurora_ingestion_events_duplicate_total')).toBe(0);
    expect(await metric(w, 'aurora_ingestion_messages_inserted_total')).toBe(messagesOf(entries).length);
    const text = await (await fetch(`${w.adminUrl}/metrics`)).text();
    for (const kind of ['edit', 'delete', 'react'] as const) {
      const n = events.filter((e) => e.kind === kind).length;
      expect(text).toMatch(new RegExp(`aurora_ingestion_events_stored_total\\{kind="${kind}"[^}]*\\} ${n}\\b`));
    }
  });

  it('a worker killed with SIGKILL mid-batch of messages and events: once another takes over, the state is each entry applied once', async () => {
    const { store, env } = await setup();
    const client = redis.client();
    const entries = await traffic(16, { messages: 500, events: 700 }, 2);
    const messages = messagesOf(entries);
    const a = await startWorker({ ...env, consumer: 'doomed', extra: { INGEST_BATCH_SIZE: '200' } });
    workers.push(a);
    await waitFor(
      async () => (await storedCount(store, ROOMS)) > 0 && ((await pendingByConsumer(client, keys)).get('doomed') ?? 0) > 0,
      { timeoutMs: 60_000, intervalMs: 5, what: 'worker holding a batch' },
    );
    await a.stop('SIGKILL');
    expect((await pendingByConsumer(client, keys)).get('doomed') ?? 0).toBeGreaterThan(0);
    expect(await storedCount(store, ROOMS)).toBeLessThan(messages.length);

    const b = await startWorker({ ...env, consumer: 'rescuer', extra: { INGEST_CLAIM_IDLE_MS: '500' } });
    workers.push(b);
    await waitFor(() => allAcked(client, keys), { timeoutMs: 120_000, what: 'everything stored and acked' });
    expect(b.logs.some((l) => l.includes('claimed idle entries'))).toBe(true);
    expect(await stateProblems(store, entries, 'u2')).toBeNull();
  });

  it('events applied but not acked before the worker died are recognised on redelivery: nothing applied twice', async () => {
    const { store, env } = await setup();
    const client = redis.client();
    for (const s of keys.allIngestStreams()) await client.xgroup('CREATE', s, INGEST_GROUP, '0', 'MKSTREAM');
    const entries = await traffic(4, { messages: 100, events: 200 }, 3);
    const events = eventsOf(entries);
    // A "worker" reads everything, stores the messages and half of the events, then dies before XACK.
    for (const s of keys.allIngestStreams()) await client.xreadgroup('GROUP', INGEST_GROUP, 'ghost', 'COUNT', 5000, 'STREAMS', s, '>');
    await store.insertMessages(messagesOf(entries));
    const half = events.filter((_, i) => i % 2 === 0);
    expect((await store.applyEvents(half)).applied).toBe(half.length);

    const w = await startWorker({ ...env, consumer: 'fresh', extra: { INGEST_CLAIM_IDLE_MS: '200' } });
    workers.push(w);
    await waitFor(() => allAcked(client, keys), { timeoutMs: 60_000, what: 'ghost entries claimed and acked' });
    expect(await stateProblems(store, entries, 'u1')).toBeNull();
    expect(await metric(w, 'aurora_ingestion_events_duplicate_total')).toBe(half.length);
    expect(await metric(w, 'aurora_ingestion_events_applied_total')).toBe(events.length - half.length);
  });

  it('an event stored before its message (the message was claimed later) takes effect when the message lands', async () => {
    const { store, env } = await setup();
    const client = redis.client();
    const room = 'general';
    const stream = keys.ingestStreamOfRoom(room);
    for (const s of keys.allIngestStreams()) await client.xgroup('CREATE', s, INGEST_GROUP, '0', 'MKSTREAM');
    const [parent] = (await produceEntries(client, keys, [{ room, uid: 'u1', name: 'ann', text: 'first draft' }])) as ChatMessage[];
    const [r] = (await produceEntries(client, keys, [{ room, uid: 'u2', name: 'bob', text: 'a reply', replyTo: parent!.id }])) as ChatMessage[];
    // A consumer takes the message and the reply, then dies: both stay pending under it.
    await client.xreadgroup('GROUP', INGEST_GROUP, 'ghost', 'COUNT', 10, 'STREAMS', stream, '>');
    const changes = await produceEntries(client, keys, [
      { room, kind: 'edit', target: parent!.id, uid: 'u1', name: 'ann', text: 'final text' },
      { room, kind: 'react', target: parent!.id, uid: 'u2', name: 'bob', emoji: '🎉', on: true },
      { room, kind: 'react', target: parent!.id, uid: 'u3', name: 'cy', emoji: '🎉', on: true },
      { room, kind: 'react', target: parent!.id, uid: 'u3', name: 'cy', emoji: '🎉', on: false },
      { room, kind: 'delete', target: r!.id, uid: 'u2', name: 'bob', replyTo: parent!.id },
    ]);

    // A worker that never claims applies the events: their messages are not stored yet.
    const first = await startWorker({ ...env, consumer: 'early', extra: { INGEST_CLAIM_IDLE_MS: '3600000' } });
    workers.push(first);
    await waitFor(async () => (await metric(first, 'aurora_ingestion_events_applied_total')) === changes.length, { timeoutMs: 30_000, what: 'events applied' });
    expect(await store.getMessage(room, parent!.id)).toBeNull();
    expect((await pendingByConsumer(client, keys)).get('ghost')).toBe(2);

    // Then the message and its reply are claimed and stored: the changes show at once.
    const later = await startWorker({ ...env, consumer: 'late', extra: { INGEST_CLAIM_IDLE_MS: '200' } });
    workers.push(later);
    await waitFor(() => allAcked(client, keys), { timeoutMs: 30_000, what: 'message claimed and stored' });
    const all = [parent!, r!, ...changes];
    expect(await stateProblems(store, all, 'u2')).toBeNull();
    expect(await store.getMessage(room, parent!.id, 'u2')).toMatchObject({
      text: 'final text',
      editedAt: changes[0]!.ts,
      reactions: [{ emoji: '🎉', count: 1, me: true }],
    });
    const stored = await store.getMessage(room, parent!.id);
    expect(stored?.replyCount).toBeUndefined(); // its only reply was deleted
    expect(await store.getMessage(room, r!.id)).toMatchObject({ deleted: true, text: '' });
  });
});
