// The assistant benchmark still runs end to end (tiny sizes, nothing recorded), as smoke.test.ts
// does for the others: the real stack with the fake provider, the first-token rounds, the delta
// and message fan-out steps. No timing is asserted beyond what holds on any machine — benchmarks
// report, tests assert behaviour: every row is a finite number, the first delta never comes
// before the provider's first-byte delay (a measurement that did would be measuring something
// else), and no answer streamed more than 10 deltas a second.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const FIRST_BYTE_MS = 50;
const TINY: Record<string, string> = {
  BENCH_RESULTS: 'off',
  BENCH_ASSISTANT_QUESTIONS: '3',
  BENCH_ASSISTANT_FIRST_BYTE_MS: String(FIRST_BYTE_MS),
  BENCH_ASSISTANT_RECEIVERS: '10',
  BENCH_ASSISTANT_ANSWERS: '2',
  BENCH_ASSISTANT_ANSWER_SECS: '1.5',
  BENCH_ASSISTANT_ROUNDS: '1',
};

function runBench(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'assistant'], { env: { ...process.env, ...TINY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => resolve({ code, out }));
  });
}

const cells = (row: string) => row.split('|').map((c) => c.trim());
const num = (cell: string) => Number(cell.replace(/,/g, ''));

describe('assistant benchmark (smoke run, tiny sizes)', { timeout: 60_000 }, () => {
  it('measures first-token latency against the provider and delta vs message fan-out, and prints finite numbers', async () => {
    const { code, out } = await runBench();
    expect(code, out.slice(-3000)).toBe(0);
    const rows = out.split('\n').filter((l) => l.startsWith('| assistant '));
    const byMetric = new Map(rows.map((r) => [cells(r)[2]!, cells(r)]));
    expect([...byMetric.keys()]).toEqual([
      "provider's own first token, p50 (anchor)",
      'first delta at a second member after the ack, p50',
      'added latency to first token, p50',
      'added latency to first token, p95',
      'replica CPU per delivered message frame (anchor)',
      'replica CPU per delivered delta frame',
      'deltas/s per answer (highest)',
      'bytes per delta frame',
    ]);
    expect(rows.filter((r) => !/^-?[\d,.]+$/.test(cells(r)[3]!)), 'rows with a non-numeric value').toEqual([]);
    expect(num(byMetric.get("provider's own first token, p50 (anchor)")![3]!)).toBeGreaterThanOrEqual(FIRST_BYTE_MS);
    expect(num(byMetric.get('first delta at a second member after the ack, p50')![3]!)).toBeGreaterThanOrEqual(FIRST_BYTE_MS);
    // the throttle held, and the streams really were throttled (several deltas per answer)
    expect(byMetric.get('deltas/s per answer (highest)')![6]).toBe('yes');
    expect(num(byMetric.get('deltas/s per answer (highest)')![3]!)).toBeGreaterThan(2);
    // a delta carries the whole answer so far: far more than an empty frame
    expect(num(byMetric.get('bytes per delta frame')![3]!)).toBeGreaterThan(200);
    expect(byMetric.get('replica CPU per delivered delta frame')![7]).toMatch(/x message$/);
    expect(out).not.toContain('bench/RESULTS.md updated');
  });
});
