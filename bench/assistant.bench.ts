// Assistant benchmark (issue 17 "Tests, metrics, performance"): the assistant's added latency to
// the first token over the provider's own, and what its live `delta` frames cost the chat replicas
// per delivery. A real stack: redis-server, REPLICAS chat replicas, the ingestion service running
// the assistant (ASSISTANT_PROVIDER=openai) against the fake OpenAI-compatible server
// (test/helpers/fake-openai-server.ts, in this process, scripted answers). Nothing is mocked.
// (The users service is not started: no request of either part goes through it; members use
// tokens signed with the replicas' secret, as in the fan-out benchmark.)
//
// Method, first token
// - Two members of one room on the first replica: an asker and a watcher (assistant-clients.ts
//   TimedClient: frames stamped on arrival). QUESTIONS rounds (after WARMUP unrecorded ones), one
//   after the other; each round:
//   (a) the anchor: a direct SDK call (the `openai` package the assistant uses) to the fake server
//       scripted with a FIRST_BYTE_MS delay before its headers, then chunks CHUNK_MS apart: time
//       to the first content chunk — the provider's own first-token latency;
//   (b) the same script for the assistant: the asker sends "@assistant …"; from the ack of the
//       question to the first `delta` of the answer at the watcher.
//   Added latency = (b) - (a) of the same round; p50/p95, and the ratio to the provider's p50.
//   Split at the watcher: ack -> placeholder (stream read, job record, quota, the placeholder's
//   send) and placeholder -> first delta minus (a) (context read, the request, the delta publish).
//   The worker's own aurora_assistant_first_token_seconds (from the question's timestamp) is logged.
// - Delta fan-out: assistant-fanout.ts (its header has the method).
// Sizes: BENCH_ASSISTANT_QUESTIONS (30), BENCH_ASSISTANT_FIRST_BYTE_MS (200),
// BENCH_ASSISTANT_CHUNK_MS (20), BENCH_ASSISTANT_RECEIVERS (200), BENCH_ASSISTANT_ANSWERS (4:
// answers streaming at once), BENCH_ASSISTANT_ANSWER_SECS (8), BENCH_ASSISTANT_ROUNDS (2),
// BENCH_ASSISTANT_REPLICAS (2).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { JWT_SECRET, chatEnv } from '../test/chat/client.js';
import { chunk, startFakeOpenAIServer, type FakeOpenAIServer, type ScriptedResponse } from '../test/helpers/fake-openai-server.js';
import { startRedis, type TestRedis } from '../test/helpers/redis-server.js';
import { startService, type RunningService } from '../test/helpers/service.js';
import { Receivers, TimedClient } from './assistant-clients.js';
import { deltaFanout } from './assistant-fanout.js';
import { envNumber as env, percentile, type BenchRow, type Benchmark } from './lib.js';

const QUESTIONS = env('BENCH_ASSISTANT_QUESTIONS', 30, 1);
const FIRST_BYTE_MS = env('BENCH_ASSISTANT_FIRST_BYTE_MS', 200, 0);
const CHUNK_MS = env('BENCH_ASSISTANT_CHUNK_MS', 20, 1);
const RECEIVERS = env('BENCH_ASSISTANT_RECEIVERS', 200, 1);
const ANSWERS = env('BENCH_ASSISTANT_ANSWERS', 4, 1);
const ANSWER_SECS = env('BENCH_ASSISTANT_ANSWER_SECS', 8, 0.5);
const ROUNDS = env('BENCH_ASSISTANT_ROUNDS', 2, 1);
const REPLICAS = env('BENCH_ASSISTANT_REPLICAS', 2, 1);
const WARMUP = 3;
const DELTA_INTERVAL_MS = 100;
const FIRST_ROOM = 'asst-first';
const FAN_ROOM = 'asst-fan';

interface Stack {
  redis: TestRedis;
  fake: FakeOpenAIServer;
  replicas: RunningService[];
  ingest: RunningService;
  wsUrls: string[];
  dir: string;
}

async function startStack(): Promise<Stack> {
  const redis = await startRedis();
  const fake = await startFakeOpenAIServer();
  const dir = mkdtempSync(join(tmpdir(), 'aurora-bench-assistant-'));
  const started: RunningService[] = [];
  try {
    // the members' own limits out of the way: the anchor's senders send tens of messages a second
    const limits = {
      NODE_ENV: 'production', LOG_LEVEL: 'warn',
      RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000',
      HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '10000', MAX_CONNECTIONS: '100000',
      INGEST_MAX_BACKLOG: '100000000',
      // The deltas' pace is read at a member from arrival times: a write window (WRITE_DELAY_MS)
      // shifts single deltas by up to its length and would make a short answer look faster than
      // its throttle. Write batching is measured by the fanout benchmark; here both sides (deltas
      // and the message anchor) run without it.
      WRITE_DELAY_MS: '0',
    };
    for (let i = 0; i < REPLICAS; i++) started.push(await startService('chat', chatEnv(redis.url, `asst-${i}`, limits), { waitReady: true }));
    const ingest = await startService('ingestion', {
      REDIS_URL: redis.url, SQLITE_PATH: join(dir, 'aurora.db'), JWT_SECRET, NODE_ENV: 'production', LOG_LEVEL: 'warn',
      ASSISTANT_PROVIDER: 'openai', ASSISTANT_BASE_URL: fake.baseURL, ASSISTANT_API_KEY: 'sk-bench', ASSISTANT_MODEL: 'fake-model',
      ASSISTANT_DELTA_INTERVAL_MS: String(DELTA_INTERVAL_MS), ASSISTANT_CONCURRENCY: String(Math.max(8, ANSWERS)),
      ASSISTANT_USER_REQUESTS: '1000000', ASSISTANT_USER_TOKENS_PER_DAY: '1000000000000',
    });
    started.push(ingest);
    return { redis, fake, replicas: started.slice(0, REPLICAS), ingest, wsUrls: started.slice(0, REPLICAS).map((s) => `${s.baseUrl.replace(/^http/, 'ws')}/ws`), dir };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop('SIGKILL')));
    await fake.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

const shortAnswer = (): ScriptedResponse => ({
  firstByteDelayMs: FIRST_BYTE_MS,
  chunkDelayMs: CHUNK_MS,
  chunks: [chunk.role(), chunk.text('The answer '), chunk.text('is '), chunk.text('forty-two.'), chunk.finish('stop')],
});

/** The provider's own first-token latency: a direct streaming call, to the first content chunk. */
async function direct(sdk: OpenAI): Promise<number> {
  const t = performance.now();
  let first = NaN;
  const stream = await sdk.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'what is the answer?' }], stream: true });
  for await (const c of stream) if (Number.isNaN(first) && c.choices[0]?.delta?.content) first = performance.now() - t;
  if (Number.isNaN(first)) throw new Error('the direct call got no content');
  return first;
}

/** aurora_assistant_first_token_seconds {sum, count} of the ingestion process. */
async function workerFirstToken(ingest: RunningService): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${ingest.adminUrl}/metrics`)).text();
  const num = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { sum: num('aurora_assistant_first_token_seconds_sum'), count: num('aurora_assistant_first_token_seconds_count') };
}

async function firstToken(stack: Stack, log: (l: string) => void): Promise<BenchRow[]> {
  const url = stack.wsUrls[0]!;
  const asker = await TimedClient.open(url, 'ft-asker');
  const watcher = await TimedClient.open(url, 'ft-watcher');
  const sdk = new OpenAI({ baseURL: stack.fake.baseURL, apiKey: 'sk-bench', maxRetries: 0, logLevel: 'off' });
  const r = { provider: [] as number[], delta: [] as number[], added: [] as number[], pickup: [] as number[], rest: [] as number[] };
  try {
    await asker.join(FIRST_ROOM);
    await watcher.join(FIRST_ROOM);
    let m0 = { sum: 0, count: 0 };
    for (let i = 0; i < WARMUP + QUESTIONS; i++) {
      if (i === WARMUP) m0 = await workerFirstToken(stack.ingest);
      stack.fake.script(shortAnswer());
      const own = await direct(sdk);
      stack.fake.script(shortAnswer());
      const ack = await asker.send(FIRST_ROOM, `@assistant question ${i}: what is the answer?`);
      if (ack.f.type !== 'ack') throw new Error(`question refused: ${JSON.stringify(ack.f)}`);
      const placeholder = await watcher.until((t) => t.f.type === 'message' && t.f.cid === `asst-${ack.f.id}`, 10_000, 'the placeholder');
      const id = placeholder.f.id as string;
      const delta = await watcher.until((t) => t.f.type === 'delta' && t.f.id === id, 10_000, 'the first delta');
      await watcher.until((t) => t.f.type === 'event' && t.f.kind === 'edit' && t.f.target === id, 10_000, 'the final edit');
      asker.forget();
      watcher.forget();
      if (i < WARMUP) continue;
      r.provider.push(own);
      r.delta.push(delta.at - ack.at);
      r.added.push(delta.at - ack.at - own);
      r.pickup.push(placeholder.at - ack.at);
      r.rest.push(delta.at - placeholder.at - own);
    }
    const m1 = await workerFirstToken(stack.ingest);
    for (const list of Object.values(r)) list.sort((a, b) => a - b);
    const p = (list: number[], q: number) => percentile(list, q);
    const f = (x: number) => x.toFixed(1);
    log(
      `${QUESTIONS} questions after ${WARMUP} warm-up, first-byte delay ${FIRST_BYTE_MS} ms: provider p50 ${f(p(r.provider, 50))} p95 ${f(p(r.provider, 95))} ms; ` +
        `first delta p50 ${f(p(r.delta, 50))} p95 ${f(p(r.delta, 95))} ms; added p50 ${f(p(r.added, 50))} p95 ${f(p(r.added, 95))} max ${f(r.added.at(-1)!)} ms`,
    );
    log(
      `split: ack -> placeholder at the watcher p50 ${f(p(r.pickup, 50))} p95 ${f(p(r.pickup, 95))} ms; placeholder -> first delta minus the provider ` +
        `p50 ${f(p(r.rest, 50))} p95 ${f(p(r.rest, 95))} ms; the worker's aurora_assistant_first_token_seconds mean ` +
        `${f(((m1.sum - m0.sum) / Math.max(1, m1.count - m0.count)) * 1000)} ms over ${m1.count - m0.count} (from the question's timestamp, provider included)`,
    );
    const provider50 = p(r.provider, 50);
    return [
      { metric: "provider's own first token, p50 (anchor)", value: provider50, unit: 'ms', note: `direct SDK call to the fake server, first-byte delay ${FIRST_BYTE_MS} ms; p95 ${f(p(r.provider, 95))} ms` },
      { metric: 'first delta at a second member after the ack, p50', value: p(r.delta, 50), unit: 'ms', ratio: { of: 'provider p50', value: p(r.delta, 50) / provider50 }, note: `p95 ${f(p(r.delta, 95))} ms; ${QUESTIONS} questions, one at a time` },
      {
        metric: 'added latency to first token, p50',
        value: p(r.added, 50),
        unit: 'ms',
        ratio: { of: 'provider p50', value: p(r.added, 50) / provider50 },
        note: `first delta - the same round's direct call; of it ack -> placeholder p50 ${f(p(r.pickup, 50))} ms, context + request + publish p50 ${f(p(r.rest, 50))} ms`,
      },
      { metric: 'added latency to first token, p95', value: p(r.added, 95), unit: 'ms', ratio: { of: 'provider p50', value: p(r.added, 95) / provider50 }, note: `ack -> placeholder p95 ${f(p(r.pickup, 95))} ms` },
    ];
  } finally {
    asker.close();
    watcher.close();
  }
}

export const assistantBenchmark: Benchmark = {
  name: 'assistant',
  description:
    `the assistant (openai provider -> fake server, ${FIRST_BYTE_MS} ms to first byte): added first-token latency over the provider's own; ` +
    `delta vs message fan-out CPU per delivery, ${RECEIVERS} receivers over ${REPLICAS} replicas`,
  async run(log) {
    const stack = await startStack();
    let receivers: Receivers | undefined;
    const askers: TimedClient[] = [];
    try {
      const rows = await firstToken(stack, log);
      const t = performance.now();
      receivers = await Receivers.connect(stack.wsUrls, FAN_ROOM, RECEIVERS, 'rcv');
      for (let k = 0; k < ANSWERS; k++) {
        const c = await TimedClient.open(stack.wsUrls[k % stack.wsUrls.length]!, `asker${k}`);
        askers.push(c);
        await c.join(FAN_ROOM);
      }
      log(`${RECEIVERS} receivers and ${ANSWERS} askers joined ${FAN_ROOM} over ${REPLICAS} replicas in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      const redisPid = Number(/process_id:(\d+)/.exec(await stack.redis.client().info('server'))![1]);
      rows.push(
        ...(await deltaFanout(
          {
            fake: stack.fake, room: FAN_ROOM, receivers, askers,
            replicaPids: stack.replicas.map((s) => s.proc.pid!), assistantPid: stack.ingest.proc.pid!, redisPid,
            answerSecs: ANSWER_SECS, chunkMs: CHUNK_MS, rounds: ROUNDS, deltaIntervalMs: DELTA_INTERVAL_MS,
          },
          log,
        )),
      );
      return rows;
    } finally {
      for (const a of askers) a.close();
      receivers?.close();
      await Promise.all([...stack.replicas, stack.ingest].map((s) => s.stop('SIGKILL')));
      await stack.fake.close();
      await stack.redis.stop();
      rmSync(stack.dir, { recursive: true, force: true });
    }
  },
};
