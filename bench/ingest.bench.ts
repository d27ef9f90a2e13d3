// Ingestion benchmark: how fast one worker process moves a backlog from the Redis ingest
// streams into SQLite, and how long a message takes from send to stored at a steady rate.
//
// Method
// - Anchor: store.insertMessages in this process, batches of INGEST_BATCH_SIZE, fresh SQLite
//   file: the ceiling the worker could reach if reading, parsing and acking cost nothing.
// - Throughput: N ingest entries (ingestEntryFields, valid `<ms>-<seq>` ids, 8 rooms over 4
//   partitions) are written to the streams first; then one worker process starts. The bench
//   polls the store's room counters every 20 ms; throughput = messages stored between the
//   first poll that sees any and the poll that sees all N, over that time (process start-up
//   excluded).
// - Persist lag: a worker runs; the producer sends at a fixed rate through the same two XADDs
//   the send script does (room log first, its id = message id = Redis time at send). A poller
//   reads new messages of every room from the store every 5 ms (messagesAfter) and records
//   now - message.ts for each. Resolution is the poll interval (+ the poll itself), so the
//   numbers are upper bounds by a few ms.
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { keysFor, type Keys } from '../services/shared/keys.js';
import { ingestEntryFields, type ChatMessage } from '../services/shared/message.js';
import type { Store } from '../services/shared/store/index.js';
import { startRedis } from '../test/helpers/redis-server.js';
import type { RunningService } from '../test/helpers/service.js';
import { drafts, openStore, produce, startWorker, storedCount, tempDir } from '../test/ingestion/fixtures.js';
import { envNumber as env, percentile, type BenchRow, type Benchmark } from './lib.js';

const PARTITIONS = 4;
const ROOMS = ['general', 'random', 'dev', 'delta', 'music', 'news', 'dm:u1:u2', 'dm:u3:u9'];
const MESSAGES = env('BENCH_MESSAGES', 200_000);
const RATE = env('BENCH_RATE', 5000);
const SECONDS = env('BENCH_SECONDS', 10);
const BATCH_SIZE = env('INGEST_BATCH_SIZE', 500);
const BATCH_MS = env('INGEST_BATCH_MS', 100);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Valid, strictly increasing `<ms>-<seq>` ids (what the room logs would hand out). */
function idClock(): () => string {
  let lastMs = 0;
  let seq = 0;
  return () => {
    const now = Date.now();
    if (now > lastMs) {
      lastMs = now;
      seq = 0;
    } else seq++;
    return `${lastMs}-${seq}`;
  };
}

function messages(count: number): ChatMessage[] {
  const nextId = idClock();
  return Array.from({ length: count }, (_, i) => {
    const id = nextId();
    return {
      id,
      room: ROOMS[i % ROOMS.length]!,
      user: { id: `u${i % 50}`, name: `user${i % 50}` },
      text: `benchmark message number ${i}, about sixty characters of text`,
      ts: Number(id.split('-')[0]),
      cid: `c${i}`,
    };
  });
}

async function prefill(redis: Redis, keys: Keys, msgs: readonly ChatMessage[]): Promise<void> {
  for (let i = 0; i < msgs.length; i += 2000) {
    const pipeline = redis.pipeline();
    for (const m of msgs.slice(i, i + 2000)) pipeline.xadd(keys.ingestStreamOfRoom(m.room), '*', ...ingestEntryFields(m));
    await pipeline.exec();
  }
}

async function anchorInsert(log: (l: string) => void): Promise<number> {
  const tmp = tempDir('aurora-bench-');
  const store = await openStore(tmp.dbPath);
  try {
    const msgs = messages(MESSAGES);
    const started = performance.now();
    for (let i = 0; i < msgs.length; i += BATCH_SIZE) await store.insertMessages(msgs.slice(i, i + BATCH_SIZE));
    const rate = msgs.length / ((performance.now() - started) / 1000);
    log(`anchor: ${msgs.length} messages via store.insertMessages in batches of ${BATCH_SIZE}: ${Math.round(rate)} msg/s`);
    return rate;
  } finally {
    await store.close();
    tmp.cleanup();
  }
}

async function throughput(log: (l: string) => void): Promise<{ rate: number; wall: number }> {
  const redis = await startRedis();
  const tmp = tempDir('aurora-bench-');
  const store = await openStore(tmp.dbPath);
  let worker: RunningService | undefined;
  try {
    const keys = keysFor(PARTITIONS);
    const client = redis.client();
    const msgs = messages(MESSAGES);
    const t0 = performance.now();
    await prefill(client, keys, msgs);
    log(`prefilled ${msgs.length} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const startedAt = performance.now();
    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      extra: { LOG_LEVEL: 'warn', INGEST_BATCH_SIZE: String(BATCH_SIZE), INGEST_BATCH_MS: String(BATCH_MS) },
    });
    let first: { t: number; n: number } | null = null;
    let last = { t: 0, n: 0 };
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const n = await storedCount(store, ROOMS);
      const t = performance.now();
      if (n > 0 && !first) first = { t, n };
      last = { t, n };
      if (n >= msgs.length) break;
      await sleep(20);
    }
    if (last.n < msgs.length) throw new Error(`only ${last.n} of ${msgs.length} stored after 300 s`);
    const rate = first && last.t > first.t ? (last.n - first.n) / ((last.t - first.t) / 1000) : NaN;
    const wall = (last.t - startedAt) / 1000;
    log(`worker stored ${msgs.length} in ${((last.t - (first?.t ?? last.t)) / 1000).toFixed(2)} s after its first write (${wall.toFixed(2)} s including process start)`);
    return { rate, wall };
  } finally {
    await worker?.stop('SIGKILL');
    await store.close();
    await redis.stop();
    tmp.cleanup();
  }
}

async function persistLag(log: (l: string) => void): Promise<{ lags: number[]; sent: number; achievedRate: number }> {
  const redis = await startRedis();
  const tmp = tempDir('aurora-bench-');
  const store: Store = await openStore(tmp.dbPath);
  let worker: RunningService | undefined;
  try {
    const keys = keysFor(PARTITIONS);
    const client = redis.client();
    worker = await startWorker({
      redisUrl: redis.url,
      dbPath: tmp.dbPath,
      partitions: PARTITIONS,
      extra: { LOG_LEVEL: 'warn', INGEST_BATCH_SIZE: String(BATCH_SIZE), INGEST_BATCH_MS: String(BATCH_MS) },
    });
    await sleep(500); // let it join the group and block on its first read

    const lags: number[] = [];
    const lastSeen = new Map(ROOMS.map((r) => [r, '0-0']));
    let producing = true;
    let sent = 0;
    const poller = (async () => {
      while (producing || lags.length < sent) {
        for (const room of ROOMS) {
          const fresh = await store.messagesAfter(room, lastSeen.get(room)!, 100_000);
          if (fresh.length === 0) continue;
          const now = Date.now();
          for (const m of fresh) lags.push(now - m.ts);
          lastSeen.set(room, fresh[fresh.length - 1]!.id);
        }
        await sleep(5);
      }
    })();

    const all = drafts(RATE * SECONDS + RATE, ROOMS, (i) => `lag probe ${i}, about sixty characters of chat text here`);
    const started = performance.now();
    const total = RATE * SECONDS;
    while (sent < total) {
      const due = Math.min(total, Math.floor((RATE * (performance.now() - started)) / 1000));
      if (due > sent) {
        const batch = all.slice(sent, due);
        sent = due;
        await produce(client, keys, batch, 1000);
      }
      await sleep(2);
    }
    const achievedRate = sent / ((performance.now() - started) / 1000);
    producing = false;
    await Promise.race([poller, sleep(60_000)]);
    log(`sent ${sent} at ${Math.round(achievedRate)} msg/s, observed ${lags.length} stored`);
    return { lags: lags.sort((a, b) => a - b), sent, achievedRate };
  } finally {
    await worker?.stop('SIGKILL');
    await store.close();
    await redis.stop();
    tmp.cleanup();
  }
}

export const ingestBenchmark: Benchmark = {
  name: 'ingest',
  description: `ingestion into SQLite: ${MESSAGES} backlog entries, then ${RATE} msg/s for ${SECONDS} s (batch ${BATCH_SIZE} / ${BATCH_MS} ms, ${PARTITIONS} partitions, 1 worker)`,
  async run(log) {
    const anchor = await anchorInsert(log);
    const tp = await throughput(log);
    const lag = await persistLag(log);
    const rows: BenchRow[] = [
      { metric: 'raw store.insertMessages (anchor)', value: anchor, unit: 'msg/s', note: `in-process, batches of ${BATCH_SIZE}` },
      {
        metric: 'sustained ingestion, 1 worker',
        value: tp.rate,
        unit: 'msg/s',
        target: { op: '>=', value: 50_000 },
        ratio: { of: 'anchor', value: tp.rate / anchor },
        note: `${MESSAGES} entries; ${tp.wall.toFixed(1)} s incl. process start`,
      },
    ];
    const note = `${lag.sent} msgs at ${Math.round(lag.achievedRate)}/s`;
    if (lag.lags.length < lag.sent) rows.push({ metric: 'persist lag: messages never seen', value: lag.sent - lag.lags.length, unit: 'msgs', target: { op: '<', value: 1 } });
    rows.push(
      { metric: 'persist lag p50 (send -> stored)', value: percentile(lag.lags, 50), unit: 'ms', note, ratio: { of: `INGEST_BATCH_MS`, value: percentile(lag.lags, 50) / BATCH_MS } },
      { metric: 'persist lag p99 (send -> stored)', value: percentile(lag.lags, 99), unit: 'ms', target: { op: '<', value: 1000 }, note, ratio: { of: `INGEST_BATCH_MS`, value: percentile(lag.lags, 99) / BATCH_MS } },
      { metric: 'persist lag max', value: lag.lags[lag.lags.length - 1] ?? NaN, unit: 'ms', note: 'poll resolution 5 ms' },
    );
    return rows;
  },
};
