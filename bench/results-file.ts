// bench/RESULTS.md: each benchmark run rewrites ITS section (between `<!-- bench:NAME -->` and
// `<!-- /bench:NAME -->`), with the date, the command, the machine and the load average, the
// table and the benchmark's own log lines. Everything outside the sections is hand-written
// analysis and is kept, so a partial run (`npm run bench -- fanout`) updates only its part.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { formatTable, machineLine, type BenchRow } from './lib.js';

export const RESULTS_FILE = new URL('./RESULTS.md', import.meta.url);

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    return dirty ? `${sha} + uncommitted changes` : sha;
  } catch {
    return 'unknown';
  }
}

export interface SectionInput {
  name: string;
  description: string;
  rows: BenchRow[];
  logLines: string[];
  startedAt: Date;
  seconds: number;
  machineAtStart: string;
}

export function renderSection(s: SectionInput): string {
  const overrides = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return [
    `<!-- bench:${s.name} -->`,
    `### ${s.name}: ${s.description}`,
    '',
    `- run: ${s.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')}, ${s.seconds.toFixed(0)} s, \`${overrides ? `${overrides} ` : ''}npm run bench -- ${s.name}\` at commit ${commit()}`,
    `- machine at start: ${s.machineAtStart}`,
    `- machine at end: ${machineLine()}`,
    '',
    formatTable([{ bench: s.name, rows: s.rows }]),
    '',
    '<details><summary>log</summary>',
    '',
    '```',
    ...s.logLines,
    '```',
    '</details>',
    `<!-- /bench:${s.name} -->`,
  ].join('\n');
}

/** Replaces (or appends) the benchmark's section in bench/RESULTS.md. */
export function writeSection(s: SectionInput, file: URL = RESULTS_FILE): void {
  const section = renderSection(s);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\nWritten by `npm run bench` (bench/run.ts); text outside the generated sections is kept.\n';
  const start = `<!-- bench:${s.name} -->`;
  const end = `<!-- /bench:${s.name} -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  const next = i >= 0 && j > i ? text.slice(0, i) + section + text.slice(j + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
