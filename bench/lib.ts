// The benchmark harness: each bench file exports a Benchmark; run.ts runs the ones asked for
// and prints one table. A result row names what was measured, its value and unit, and, when
// there is one, the target and the ratio to an anchor measured in the same run (so numbers
// from a loaded or slower machine still say something).
import { readFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';

export interface BenchRow {
  /** What was measured, e.g. "ingest throughput (1 worker)". */
  metric: string;
  value: number;
  unit: string;
  /** e.g. ">= 50000" or "< 1000"; checked against value when set. */
  target?: { op: '>=' | '<'; value: number };
  /** value / anchor value, with the anchor's name. */
  ratio?: { of: string; value: number };
  note?: string;
}

export interface Benchmark {
  name: string;
  description: string;
  run(log: (line: string) => void): Promise<BenchRow[]>;
}

export function meetsTarget(row: BenchRow): boolean | undefined {
  if (!row.target) return undefined;
  return row.target.op === '>=' ? row.value >= row.target.value : row.value < row.target.value;
}

const fmt = (v: number) =>
  Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);

export function formatTable(results: { bench: string; rows: BenchRow[] }[]): string {
  const header = ['benchmark', 'metric', 'value', 'unit', 'target', 'ok', 'ratio to anchor', 'note'];
  const lines: string[][] = [header];
  for (const { bench, rows } of results) {
    for (const r of rows) {
      const ok = meetsTarget(r);
      lines.push([
        bench,
        r.metric,
        fmt(r.value),
        r.unit,
        r.target ? `${r.target.op} ${fmt(r.target.value)}` : '',
        ok === undefined ? '' : ok ? 'yes' : 'NO',
        r.ratio ? `${r.ratio.value.toFixed(2)} x ${r.ratio.of}` : '',
        r.note ?? '',
      ]);
    }
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  const row = (l: string[]) => `| ${l.map((cell, c) => (c === 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [row(lines[0]!), rule, ...lines.slice(1).map(row)].join('\n');
}

export function machineLine(): string {
  const [l1] = loadavg();
  return `node ${process.version}, ${cpus().length} cpus (${cpus()[0]?.model ?? '?'}), load average ${l1!.toFixed(2)}`;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** A numeric override from the environment (BENCH_MESSAGES=... npm run bench), or the default. */
export function envNumber(name: string, def: number, min = Number.MIN_VALUE): number {
  const raw = process.env[name];
  if (!raw) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in 100 Hz clock ticks
}

/** Resident set size of a process in KiB, from /proc/<pid>/status (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}
