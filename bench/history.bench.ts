// History benchmark (issue 13): a page of 50 messages in their current state — reactions with
// `me`, reply counts, edits, tombstones — over a room of 1,000,000 stored messages, against a
// plain page of the same messages without events (the anchor), SQLite store, same file, same run.
//
// Method
// - Data: bench/history/fill.ts — two rooms with the same TOP top-level messages; the busy
//   room also holds thread replies and the events applied through store.applyEvents. Cached
//   under .data/bench; the first run fills it (a minute or two for 1,000,000).
// - Queries: store.messagesBefore(room, <the id of top-level message i>, 50, viewer) — exactly
//   what GET /api/rooms/:room/messages?before= runs — with i uniformly random over the room
//   and the viewer a random user (so `me` is computed, sometimes true). Each round asks both
//   rooms for the same i, in alternating order, so both see the same cache state and the same
//   machine load. The file is read through once first (page cache) and WARMUP rounds run
//   before the recorded ones.
// - Reported: p50/p95 of each; ratios busy / plain from the same run (target: < 2 x), and
//   what the busy pages held on average, so a page without any reactions cannot pass silently.
// Sizes: BENCH_HISTORY_MESSAGES (1,000,000 top-level per room), BENCH_HISTORY_QUERIES (3000
// rounds), BENCH_HISTORY_DIR (the cache directory, default .data/bench).
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { HistoryMessage } from '../services/shared/store/index.js';
import { pino } from 'pino';
import { openSqliteStore } from '../services/shared/store/store-sqlite.js';
import { mulberry32 as prng } from '../test/helpers/prng.js';
import { BUSY, PLAIN, USERS, historyDb, topId, type FillParams } from './history/fill.js';
import { envNumber as env, percentile, type BenchRow, type Benchmark } from './lib.js';

const PARAMS: FillParams = {
  top: env('BENCH_HISTORY_MESSAGES', 1_000_000, 100),
  reacted: 0.25,
  threads: 0.02,
  edited: 0.05,
  deleted: 0.01,
};
const QUERIES = env('BENCH_HISTORY_QUERIES', 3000, 1);
const WARMUP = Math.min(500, Math.ceil(QUERIES / 5));
const PAGE = 50;

/**
 * Reads the whole file once: a cached file may have left the OS page cache since it was made,
 * and random pages of a cold 600 MB file would measure the disk (both rooms alike, the busy one
 * more: its reaction rows are more pages). Warm, the figures are the queries' own cost.
 */
function readThrough(path: string): { bytes: number; seconds: number } {
  const t = performance.now();
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) bytes += n;
  } finally {
    closeSync(fd);
  }
  return { bytes, seconds: (performance.now() - t) / 1000 };
}

export const historyBenchmark: Benchmark = {
  name: 'history',
  description: `SQLite history page of ${PAGE} over ${PARAMS.top} messages: with reactions, replies, edits (busy room) vs the same messages without events (plain room)`,
  async run(log) {
    const { path, filled, seconds } = await historyDb(PARAMS, log);
    log(filled ? `filled ${path} in ${seconds.toFixed(1)} s` : `using the cached ${path}`);
    const warm = readThrough(path);
    log(`read the file once (${(warm.bytes / 2 ** 20).toFixed(0)} MiB in ${warm.seconds.toFixed(1)} s) so the pages come from memory, not the disk`);
    const store = await openSqliteStore(path, pino({ level: 'silent' }));
    try {
      const rnd = prng(7);
      const times = { [PLAIN]: [] as number[], [BUSY]: [] as number[] };
      const held = { reactions: 0, me: 0, replies: 0, edited: 0, deleted: 0, pages: 0 };
      const page = async (room: string, before: string, viewer: string, record: boolean): Promise<HistoryMessage[]> => {
        const t = performance.now();
        const msgs = await store.messagesBefore(room, before, PAGE, viewer);
        const ms = performance.now() - t;
        if (record) times[room as typeof PLAIN].push(ms);
        if (msgs.length !== PAGE) throw new Error(`${room}: a page before ${before} held ${msgs.length} messages, not ${PAGE}`);
        return msgs;
      };
      for (let q = 0; q < WARMUP + QUERIES; q++) {
        const record = q >= WARMUP;
        const before = topId(PAGE + Math.floor(rnd() * (PARAMS.top - PAGE)));
        const viewer = `u${Math.floor(rnd() * USERS)}`;
        const order = q % 2 === 0 ? [PLAIN, BUSY] : [BUSY, PLAIN];
        for (const room of order) {
          const msgs = await page(room, before, viewer, record);
          if (room !== BUSY || !record) continue;
          held.pages++;
          for (const m of msgs) {
            if (m.reactions) held.reactions++;
            if (m.reactions?.some((r) => r.me)) held.me++;
            if (m.replyCount) held.replies++;
            if (m.editedAt) held.edited++;
            if (m.deleted) held.deleted++;
          }
        }
      }
      const per = (n: number) => (n / Math.max(1, held.pages)).toFixed(1);
      const heldNote = `per busy page: ${per(held.reactions)} with reactions (${per(held.me)} with the viewer's), ${per(held.replies)} with replies, ${per(held.edited)} edited, ${per(held.deleted)} deleted`;
      log(heldNote);
      if (held.reactions === 0 || held.replies === 0) throw new Error(`the busy pages held no reactions or no replies: ${heldNote}`);
      const plain = times[PLAIN].sort((a, b) => a - b);
      const busy = times[BUSY].sort((a, b) => a - b);
      const [p50, p95, b50, b95] = [percentile(plain, 50), percentile(plain, 95), percentile(busy, 50), percentile(busy, 95)];
      log(`${QUERIES} rounds after ${WARMUP} warm-up: plain p50 ${p50.toFixed(3)} p95 ${p95.toFixed(3)} ms; busy p50 ${b50.toFixed(3)} p95 ${b95.toFixed(3)} ms`);
      const rows: BenchRow[] = [
        { metric: 'plain page p50 (anchor)', value: p50, unit: 'ms', note: `${PARAMS.top} messages, no events` },
        { metric: 'plain page p95 (anchor)', value: p95, unit: 'ms' },
        {
          metric: 'page with reactions, replies, edits p50',
          value: b50,
          unit: 'ms',
          target: { op: '<', value: 2 * p50 },
          ratio: { of: 'plain p50', value: b50 / p50 },
          note: heldNote,
        },
        {
          metric: 'page with reactions, replies, edits p95',
          value: b95,
          unit: 'ms',
          target: { op: '<', value: 2 * p95 },
          ratio: { of: 'plain p95', value: b95 / p95 },
          note: 'target: within 2 x the plain page',
        },
      ];
      return rows;
    } finally {
      await store.close();
    }
  },
};
