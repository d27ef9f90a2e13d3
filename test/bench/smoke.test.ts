// Every benchmark still runs end to end (tiny sizes, nothing recorded): `npm run bench` is not
// part of CI, so without this a config or protocol change could break a benchmark unnoticed.
// No timing is asserted — benchmarks report, tests assert behaviour.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The history benchmark's generated SQLite file goes here, not into the real cache (.data/bench).
const historyDir = mkdtempSync(join(tmpdir(), 'aurora-bench-smoke-'));
afterAll(() => rmSync(historyDir, { recursive: true, force: true }));

const TINY: Record<string, string> = {
  BENCH_RESULTS: 'off',
  // chat
  BENCH_SENDS: '500',
  BENCH_SOCKETS: '10',
  BENCH_FANOUT_MESSAGES: '20',
  BENCH_ROUND_TRIPS: '20',
  BENCH_SEND_AB_ROUNDS: '2',
  // ingest
  BENCH_MESSAGES: '20000', // fewer are stored before the first poll: no rate to measure
  BENCH_RATE: '500',
  BENCH_SECONDS: '1',
  // capacity
  BENCH_IDLE_CONNECTIONS: '50',
  BENCH_IDLE_WARMUP: '5',
  BENCH_SAT_SOCKETS: '4',
  BENCH_SAT_SECONDS: '1',
  // fanout
  BENCH_RECEIVERS: '20',
  BENCH_FIXED_SECS: '1',
  BENCH_SWEEP: '10',
  BENCH_STEP_SECS: '1',
  BENCH_EVENT_ROUNDS: '1',
  BENCH_EVENT_SECS: '1',
  // scale
  BENCH_SCALE_CONNECTIONS: '200',
  BENCH_SCALE_ROOMS: '20',
  BENCH_SCALE_RATE: '20',
  BENCH_SCALE_SECONDS: '1',
  // history (fills a 20,000-message file in a second or two)
  BENCH_HISTORY_MESSAGES: '20000',
  BENCH_HISTORY_QUERIES: '200',
  BENCH_HISTORY_DIR: historyDir,
  // sendpath
  BENCH_SENDPATH_ROUNDS: '1',
  BENCH_SENDPATH_SOCKETS: '8',
  BENCH_SENDPATH_SECONDS: '1',
  // myrooms
  BENCH_MYROOMS_ROOMS: '20',
  BENCH_MYROOMS_MESSAGES: '2',
  BENCH_MYROOMS_REQUESTS: '20',
  // attention (the notify backlog is big enough that the first poll sees it unfinished)
  BENCH_ATTN_RECEIVERS: '4',
  BENCH_ATTN_RATE: '20',
  BENCH_ATTN_SECONDS: '1',
  BENCH_ATTN_NOTIFY_MESSAGES: '3000',
  // files (1 MiB uploads)
  BENCH_FILES_MIB: '1',
  BENCH_FILES_ROUNDS: '1',
  BENCH_FILES_PARALLEL: '2',
  // connections (30 rooms of 10 over 2 replicas; the heartbeat shortened to fit the idle second)
  BENCH_CONN_TOTAL: '300',
  BENCH_CONN_ROOM_SIZE: '10',
  BENCH_CONN_SECONDS: '1',
  BENCH_CONN_IDLE_SECS: '1',
  // durability (quiet disk only: the busy-disk load would slow every other test file's fsyncs)
  BENCH_DURABILITY_ROUNDS: '1',
  BENCH_DURABILITY_SECONDS: '1',
  BENCH_DURABILITY_DISK: 'quiet',
};

function runBench(names: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...names], {
      env: { ...process.env, ...TINY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => resolve({ code, out }));
  });
}

/** Runs the benchmarks named and checks each printed rows with finite numbers, recording nothing. */
async function expectRuns(names: string[]): Promise<string[]> {
  const { code, out } = await runBench(names);
  expect(code, out.slice(-3000)).toBe(0);
  const rows = out.split('\n').filter((l) => /^\| \w+ +\|/.test(l) && !l.startsWith('| benchmark'));
  for (const name of names) expect(rows.some((r) => r.startsWith(`| ${name} `)), `rows of ${name}`).toBe(true);
  expect(rows.filter((r) => !/^-?[\d,.]+$/.test(r.split('|')[3]!.trim())), 'rows with a non-numeric value').toEqual([]);
  expect(out).not.toContain('bench/RESULTS.md updated');
  return rows;
}

describe('benchmarks (smoke run, tiny sizes)', { timeout: 300_000 }, () => {
  it('every benchmark runs to the end and prints finite numbers in its table rows', async () => {
    await expectRuns(['chat', 'ingest', 'capacity', 'fanout', 'scale', 'history', 'sendpath', 'myrooms', 'files']);
  });

  it('the connections benchmark runs to the end: every connection is held and the rooms\' messages are delivered', async () => {
    const rows = await expectRuns(['connections']);
    const value = (metric: string) => Number(rows.find((r) => r.includes(`| ${metric} `))?.split('|')[3]?.trim().replace(/,/g, ''));
    expect(value('largest count held')).toBe(300);
    // 30 rooms x 1 msg/s x 10 members = 300 deliveries/s expected; a 1-second window is coarse.
    expect(value('traffic: deliveries')).toBeGreaterThan(200);
  });

  it('the durability benchmark runs to the end: under appendfsync always a kill -9 of Redis loses no acked send', async () => {
    const rows = await expectRuns(['durability']);
    const cells = (metric: string) => rows.find((r) => r.includes(`| ${metric} `))?.split('|').map((c) => c.trim());
    const lost = cells('always, disk quiet: acked sends lost to kill -9');
    expect(Number(/^of (\d+) acked/.exec(lost?.[8] ?? '')?.[1]), 'acked sends in the round').toBeGreaterThan(100);
    expect(Number(lost?.[3]), 'acked sends missing after the restart').toBe(0);
  });

  it('the attention benchmark runs to the end: receipts flow, every due notification is created', async () => {
    const rows = await expectRuns(['attention']);
    const cells = (metric: string) => rows.find((r) => r.includes(metric))?.split('|').map((c) => c.trim());
    // Phase B: every receiver reads every message, so receipts must have been counted.
    expect(Number(cells('B read every message: receipt frames per message')?.[3])).toBeGreaterThan(0);
    const created = cells('notifications created');
    const due = Number(/^(\d+) due/.exec(created?.[8] ?? '')?.[1]);
    expect(due, 'notifications due (the row\'s note)').toBeGreaterThan(0);
    expect(Number(created?.[3]?.replace(/,/g, '')), 'created = due (one per mention or DM message)').toBe(due);
  });
});
