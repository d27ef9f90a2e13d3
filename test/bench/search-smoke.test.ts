// The search benchmark still runs end to end (tiny sizes, nothing recorded), as smoke.test.ts
// does for the others: the fill, the searches beside history pages, and the ingestion copies
// with and without the FTS triggers. No timing is asserted — benchmarks report, tests assert
// behaviour; what is asserted is that every row is a finite number and the run leaked nothing
// (the benchmark itself fails on a result from a room the viewer is banned from).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'aurora-bench-search-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TINY: Record<string, string> = {
  BENCH_RESULTS: 'off',
  BENCH_SEARCH_MESSAGES: '5000',
  BENCH_SEARCH_QUERIES: '100',
  BENCH_SEARCH_INGEST: '2000',
  BENCH_SEARCH_DIR: dir,
};

function runBench(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'search'], { env: { ...process.env, ...TINY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => resolve({ code, out }));
  });
}

describe('search benchmark (smoke run, tiny sizes)', { timeout: 120_000 }, () => {
  it('fills, searches beside history pages, ingests with and without the index, and prints finite numbers', async () => {
    const { code, out } = await runBench();
    expect(code, out.slice(-3000)).toBe(0);
    const rows = out.split('\n').filter((l) => l.startsWith('| search '));
    const metrics = rows.map((r) => r.split('|')[2]!.trim());
    expect(metrics).toEqual([
      'history page p95 (anchor)',
      'search p50',
      'search p95',
      'search p95, the 20 most common words',
      'ingestion without the search index',
      'ingestion with the search index (FTS5 triggers)',
    ]);
    expect(rows.filter((r) => !/^-?[\d,.]+$/.test(r.split('|')[3]!.trim())), 'rows with a non-numeric value').toEqual([]);
    // the searches found something: a benchmark of empty answers would measure nothing
    expect(Number(/([\d.]+) results of 20 per query/.exec(out)?.[1])).toBeGreaterThan(1);
    expect(out).not.toContain('bench/RESULTS.md updated');
  });
});
