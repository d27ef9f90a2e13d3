// respond.ts against a real redis-server running the chat's own send and event scripts: one
// answer per question whatever happens around it — a repeat after success does nothing, a
// question whose first attempt died is answered again as the SAME message, a question
// interrupted twice is marked failed, and a question past its asker's quota gets the refusal.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/ports.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { logEntryOf } from '../shared/message.js';
import { createJobs } from './jobs.js';
import { createAssistantMetrics } from './metrics.js';
import { createOfflineProvider } from './offline-provider.js';
import { createQuota } from './quota.js';
import { GAVE_UP_TEXT, respond, throttled, type ResponderDeps } from './respond.js';
import { listenForStops } from './stops.js';
import { createToolRegistry, timeTool } from './tools.js';
import type { Trigger } from './triggers.js';
import { createWriter, PLACEHOLDER_TEXT } from './writer.js';

const log = pino({ level: 'silent' });
const assistant = { id: 'u_assistant1', name: 'assistant' };
let server: TestRedis;
let redis: Redis;
let subscriber: Redis;
let deps: ResponderDeps;
const keys = keysFor(2);
const never = new AbortController().signal;
let n = 0;

/** A question as the ingest stream would carry it (its id only needs to be unique here). */
const question = (text: string, asker = { id: 'u_asker00001', name: 'ann' }): Trigger => ({
  room: 'general', id: `${Date.now()}-${++n}`, asker, text, ts: Date.now(), private: false,
});

async function answersTo(t: Trigger): Promise<{ messages: string[]; edits: string[] }> {
  const raw = (await redis.xrange(keys.roomLog(t.room), '-', '+')) as [string, string[]][];
  const entries = raw.map(([id, f]) => logEntryOf(t.room, id, f).entry as any);
  const messages = entries.filter((e) => !('kind' in e) && e.cid === `asst-${t.id}`);
  const ids = new Set(messages.map((m) => m.id));
  return { messages: messages.map((m) => m.text), edits: entries.filter((e) => e.kind === 'edit' && ids.has(e.target)).map((e) => e.text) };
}

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  subscriber = new Redis(server.url);
  const config = loadConfig('ingestion', { REDIS_URL: server.url, PARTITIONS: '2', ASSISTANT_USER_REQUESTS: '3' });
  const tools = createToolRegistry();
  tools.register(timeTool());
  deps = {
    config, log, redis, keys, assistant, tools,
    provider: createOfflineProvider(),
    writer: createWriter(redis, keys, config, assistant),
    jobs: createJobs(redis, keys),
    quota: createQuota(redis, keys, config),
    stops: await listenForStops(subscriber, keys, log),
    metrics: createAssistantMetrics(new Registry()),
  };
});
afterAll(async () => {
  redis?.disconnect();
  subscriber?.disconnect();
  await server?.stop();
});

describe('respond', () => {
  it('answers once: the placeholder then one edit; a repeat (a redelivery after the ack was lost) changes nothing', async () => {
    const q = question('@assistant what time is it');
    await respond(deps, q, never);
    const first = await answersTo(q);
    expect(first.messages).toEqual([PLACEHOLDER_TEXT]);
    expect(first.edits).toHaveLength(1);
    expect(first.edits[0]).toMatch(/\d{1,2}:\d{2}/);
    await respond(deps, q, never);
    expect(await answersTo(q)).toEqual(first);
  });

  it('a question whose attempt died is answered again as the same message; a second death marks it failed', async () => {
    const q = question('@assistant help', { id: 'u_asker00002', name: 'bob' });
    // attempt 1 died after the placeholder went up
    expect(await deps.jobs.begin(q)).toEqual({ go: 'answer', attempt: 1 });
    const id = await deps.writer.placeholder(q);
    await deps.jobs.started(q, id);
    await respond(deps, q, never); // attempt 2 finishes it
    const done = await answersTo(q);
    expect(done.messages).toEqual([PLACEHOLDER_TEXT]);
    expect(done.edits).toHaveLength(1);

    const r = question('@assistant help', { id: 'u_asker00003', name: 'cat' });
    for (let i = 1; i <= 2; i++) expect((await deps.jobs.begin(r)).go).toBe('answer'); // two attempts died
    await respond(deps, r, never);
    expect(await answersTo(r)).toEqual({ messages: [PLACEHOLDER_TEXT], edits: [GAVE_UP_TEXT] });
  });

  it('past the quota the answer is one refusal line, posted once', async () => {
    const dan = { id: 'u_asker00004', name: 'dan' };
    for (let i = 0; i < 3; i++) await respond(deps, question('@assistant time', dan), never);
    const over = question('@assistant time', dan);
    await respond(deps, over, never);
    await respond(deps, over, never);
    const { messages, edits } = await answersTo(over);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^@dan you have asked me too often: try again in \d+ min\.$/);
    expect(edits).toEqual([]);
  });
});

describe('throttled', () => {
  it('publishes the first text at once, then the latest at most once per interval, and nothing after stop', async () => {
    const seen: string[] = [];
    const t = throttled(50, (s) => seen.push(s));
    t.push('a');
    t.push('ab');
    t.push('abc');
    expect(seen).toEqual(['a']);
    await waitFor(() => seen.length === 2, { timeoutMs: 2000, intervalMs: 5 });
    expect(seen).toEqual(['a', 'abc']);
    t.push('abcd');
    t.stop();
    await new Promise((r) => setTimeout(r, 80));
    expect(seen).toEqual(['a', 'abc']);
  });
});
