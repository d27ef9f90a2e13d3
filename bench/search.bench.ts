// Search benchmark (issue 16 "Performance"): message search p95 over 1,000,000 stored messages in
// SQLite, beside a plain history page of the same file in the same run; and ingestion throughput
// with the FTS index kept in sync by its triggers, against the same store without them.
//
// Method
// - Data: bench/search/fill.ts — N messages of Zipf-distributed made-up words across 40 public
//   rooms, 40 private rooms and 20 DMs, written through the store (so through the triggers).
//   Cached under .data/bench; the first run fills it. The file is read through once first (page
//   cache), and WARMUP rounds run before the recorded ones.
// - Search: store.searchMessages as viewer u0 (member of half the private rooms, banned from two
//   public rooms), first page of 20 — what GET /api/search runs. Queries rotate through four
//   kinds: one word, two words, a "two-word phrase" taken from a stored message, a 4-letter
//   prefix*; their words are drawn with ranks log-uniform over 20..10,000 (what people search
//   for: not "the", not a typo). Each round also reads one history page (store.messagesBefore,
//   50 messages before a random id of a random public room): the anchor, same load, same cache.
//   The most common words (ranks 1..20, each in 4–30% of the messages) are timed separately: the
//   worst case for a word, where the store ranks the newest SEARCH_RANK_WINDOW matches.
// - Ingestion: two copies of the file, one with the FTS triggers dropped; INGEST new messages go
//   into each through store.insertMessages in batches of INGEST_BATCH_SIZE's default (500), in two
//   alternating rounds; messages/s of each and the ratio (what keeping the index costs the
//   ingestion workers).
// Sizes: BENCH_SEARCH_MESSAGES (1,000,000), BENCH_SEARCH_QUERIES (2000), BENCH_SEARCH_INGEST
// (100,000), BENCH_SEARCH_DIR (the cache directory, default .data/bench).
import { closeSync, copyFileSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { SEARCH_RANK_WINDOW, SEARCH_TRIGGERS } from '../services/shared/store/store-sqlite-search.js';
import { openSqliteStore } from '../services/shared/store/store-sqlite.js';
import type { Store } from '../services/shared/store/store.js';
import { mulberry32 } from '../test/helpers/prng.js';
import { BANNED_ROOMS, messages, PUBLIC_ROOMS, searchDb, VIEWER, word } from './search/fill.js';
import { envNumber as env, percentile, type Benchmark } from './lib.js';

const TOTAL = env('BENCH_SEARCH_MESSAGES', 1_000_000, 1000);
const QUERIES = env('BENCH_SEARCH_QUERIES', 2000, 4);
const INGEST = env('BENCH_SEARCH_INGEST', 100_000, 1000);
const WARMUP = Math.min(300, Math.ceil(QUERIES / 5));
const COMMON = 100;
const PAGE = 50;
const RESULTS = 20;
const INGEST_BATCH = 500;
const KINDS = ['word', 'two words', 'phrase', 'prefix'] as const;

function readThrough(path: string): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) bytes += n;
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** A rank log-uniform over [lo, hi]. */
const logRank = (rnd: () => number, lo: number, hi: number) => Math.round(Math.exp(Math.log(lo) + rnd() * (Math.log(hi) - Math.log(lo))));

function query(kind: (typeof KINDS)[number], rnd: () => number): string {
  switch (kind) {
    case 'word':
      return word(logRank(rnd, 20, 10_000));
    case 'two words':
      return `${word(logRank(rnd, 20, 3000))} ${word(logRank(rnd, 20, 3000))}`;
    case 'phrase': {
      // two consecutive words of a stored message (the fill's stream is deterministic)
      const i = Math.floor(rnd() * TOTAL);
      const words = messages(i, i + 1, 1)[0]!.text.replace(/[.!]$/, '').split(' ');
      const k = Math.floor(rnd() * (words.length - 1));
      return `"${words[k]} ${words[k + 1]}"`;
    }
    case 'prefix':
      return `${word(logRank(rnd, 20, 10_000)).slice(0, 4)}*`;
  }
}

/** messages/s of store.insertMessages for messages [from, to) of a fresh stream. */
async function ingestRate(store: Store, from: number, to: number): Promise<number> {
  const batch = messages(from, to, 2, 1_800_000_000_000);
  const t = performance.now();
  for (let i = 0; i < batch.length; i += INGEST_BATCH) await store.insertMessages(batch.slice(i, i + INGEST_BATCH));
  return (performance.now() - t) / 1000;
}

async function ingestion(path: string, log: (l: string) => void): Promise<{ withIndex: number; without: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-search-bench-'));
  try {
    const withPath = join(dir, 'with.db');
    const withoutPath = join(dir, 'without.db');
    copyFileSync(path, withPath);
    copyFileSync(path, withoutPath);
    const withIndex = await openSqliteStore(withPath, pino({ level: 'silent' }));
    const without = await openSqliteStore(withoutPath, pino({ level: 'silent' }));
    // after opening: migrate() would create them again
    const raw = new Database(withoutPath);
    for (const t of SEARCH_TRIGGERS) raw.exec(`DROP TRIGGER ${t}`);
    raw.close();
    const seconds = { with: 0, without: 0 };
    try {
      const half = Math.floor(INGEST / 2);
      // alternating rounds: both see the same disk and machine state
      seconds.with += await ingestRate(withIndex, 0, half);
      seconds.without += await ingestRate(without, 0, half);
      seconds.without += await ingestRate(without, half, INGEST);
      seconds.with += await ingestRate(withIndex, half, INGEST);
    } finally {
      await withIndex.close();
      await without.close();
    }
    const check = new Database(withoutPath, { readonly: true });
    const triggers = check.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'search_%'").pluck().get();
    check.close();
    if (triggers !== 0) throw new Error('the copy without the index still has its triggers');
    log(`ingested ${INGEST} messages in batches of ${INGEST_BATCH} into each copy: with the index ${seconds.with.toFixed(1)} s, without ${seconds.without.toFixed(1)} s`);
    return { withIndex: INGEST / seconds.with, without: INGEST / seconds.without };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const searchBenchmark: Benchmark = {
  name: 'search',
  description: `SQLite message search over ${TOTAL} messages (FTS5, bm25) beside a history page of ${PAGE}; ingestion with the index kept vs without`,
  async run(log) {
    const { path, filled, seconds } = await searchDb(TOTAL, log);
    log(filled ? `filled ${path} in ${seconds.toFixed(1)} s` : `using the cached ${path}`);
    log(`read the file once (${(readThrough(path) / 2 ** 20).toFixed(0)} MiB) so the pages come from memory`);
    const store = await openSqliteStore(path, pino({ level: 'silent' }));
    const rnd = mulberry32(5);
    const times = { history: [] as number[], search: [] as number[], common: [] as number[] };
    const byKind = new Map<string, number[]>(KINDS.map((k) => [k, []]));
    let found = 0;
    let leaked = 0;
    const rooms = PUBLIC_ROOMS.filter((r) => !BANNED_ROOMS.includes(r));
    try {
      for (let q = 0; q < WARMUP + QUERIES; q++) {
        const record = q >= WARMUP;
        const kind = KINDS[q % KINDS.length]!;
        const text = query(kind, rnd);
        const room = rooms[Math.floor(rnd() * rooms.length)]!;
        const before = `${1_700_000_000_000 + Math.floor(TOTAL / 10 + rnd() * TOTAL * 0.9)}-0`;
        let t = performance.now();
        const page = await store.messagesBefore(room, before, PAGE, VIEWER);
        const h = performance.now() - t;
        t = performance.now();
        const hits = await store.searchMessages({ viewerId: VIEWER, q: text, offset: 0, limit: RESULTS });
        const s = performance.now() - t;
        if (page.length === 0) throw new Error(`an empty history page of ${room} before ${before}`);
        if (!record) continue;
        times.history.push(h);
        times.search.push(s);
        byKind.get(kind)!.push(s);
        found += hits.length;
        leaked += hits.filter((x) => BANNED_ROOMS.includes(x.message.room)).length;
      }
      for (let q = 0; q < Math.min(COMMON, QUERIES); q++) {
        const t = performance.now();
        await store.searchMessages({ viewerId: VIEWER, q: word(1 + (q % 20)), offset: 0, limit: RESULTS });
        times.common.push(performance.now() - t);
      }
    } finally {
      await store.close();
    }
    if (leaked > 0) throw new Error(`${leaked} results from rooms the viewer is banned from`);
    for (const list of [times.history, times.search, times.common, ...byKind.values()]) list.sort((a, b) => a - b);
    const [h50, h95, s50, s95, c95] = [percentile(times.history, 50), percentile(times.history, 95), percentile(times.search, 50), percentile(times.search, 95), percentile(times.common, 95)];
    const kinds = [...byKind].map(([k, list]) => `${k} ${percentile(list, 95).toFixed(1)}`).join(', ');
    const perQuery = (found / QUERIES).toFixed(1);
    log(`${QUERIES} rounds after ${WARMUP} warm-up: history p50 ${h50.toFixed(3)} p95 ${h95.toFixed(3)} ms; search p50 ${s50.toFixed(2)} p95 ${s95.toFixed(2)} ms (p95 by kind: ${kinds}); ${perQuery} results per query`);
    const ingest = await ingestion(path, log);
    return [
      { metric: 'history page p95 (anchor)', value: h95, unit: 'ms', note: `${PAGE} messages of ${TOTAL}` },
      { metric: 'search p50', value: s50, unit: 'ms', ratio: { of: 'history p50', value: s50 / h50 } },
      { metric: 'search p95', value: s95, unit: 'ms', ratio: { of: 'history p95', value: s95 / h95 }, note: `p95 ms by kind: ${kinds}; ${perQuery} results of ${RESULTS} per query` },
      { metric: 'search p95, the 20 most common words', value: c95, unit: 'ms', ratio: { of: 'history p95', value: c95 / h95 }, note: `each in 4–30% of the messages: the newest ${SEARCH_RANK_WINDOW} matches ranked` },
      { metric: 'ingestion without the search index', value: ingest.without, unit: 'msg/s', note: `batches of ${INGEST_BATCH}, onto the ${TOTAL}-message file` },
      {
        metric: 'ingestion with the search index (FTS5 triggers)',
        value: ingest.withIndex,
        unit: 'msg/s',
        ratio: { of: 'without', value: ingest.withIndex / ingest.without },
      },
    ];
  },
};
