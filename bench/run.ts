// `npm run bench [-- name ...]`: runs the benchmarks (all, or those named) one after another,
// prints one table and rewrites each one's section of bench/RESULTS.md (results-file.ts). Add a benchmark by writing bench/<name>.bench.ts exporting a
// Benchmark and listing it below.
import { formatTable, machineLine, type BenchRow, type Benchmark } from './lib.js';
import { RESULTS_FILE, writeSection } from './results-file.js';
import { capacityBenchmark } from './capacity.bench.js';
import { chatBenchmark } from './chat.bench.js';
import { fanoutBenchmark } from './fanout.bench.js';
import { historyBenchmark } from './history.bench.js';
import { ingestBenchmark } from './ingest.bench.js';
import { scaleBenchmark } from './scale.bench.js';
import { sendpathBenchmark } from './sendpath.bench.js';
import { myroomsBenchmark } from './myrooms.bench.js';
import { attentionBenchmark } from './attention.bench.js';
import { filesBenchmark } from './files.bench.js';
import { searchBenchmark } from './search.bench.js';
import { assistantBenchmark } from './assistant.bench.js';
import { clusterBenchmark } from './cluster.bench.js';
import { connectionsBenchmark } from './connections.bench.js';
import { durabilityBenchmark } from './durability.bench.js';

const ALL: Benchmark[] = [chatBenchmark, ingestBenchmark, capacityBenchmark, fanoutBenchmark, scaleBenchmark, historyBenchmark, sendpathBenchmark, myroomsBenchmark, attentionBenchmark, filesBenchmark, searchBenchmark, assistantBenchmark, clusterBenchmark, connectionsBenchmark, durabilityBenchmark];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !ALL.some((b) => b.name === w));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${ALL.map((b) => b.name).join(', ')}\n`);
    process.exit(2);
  }
  const selected = wanted.length > 0 ? ALL.filter((b) => wanted.includes(b.name)) : ALL;
  process.stdout.write(`${machineLine()}\n`);
  const results: { bench: string; rows: BenchRow[] }[] = [];
  for (const b of selected) {
    process.stdout.write(`\n== ${b.name}: ${b.description}\n`);
    const logLines: string[] = [];
    const log = (line: string) => {
      logLines.push(line);
      process.stdout.write(`  ${line}\n`);
    };
    const startedAt = new Date();
    const machineAtStart = machineLine();
    const rows = await b.run(log);
    const seconds = (Date.now() - startedAt.getTime()) / 1000;
    results.push({ bench: b.name, rows });
    // BENCH_RESULTS=off: a smoke run (test/bench/smoke.test.ts) must not overwrite real results.
    const record = process.env.BENCH_RESULTS !== 'off';
    if (record) writeSection({ name: b.name, description: b.description, rows, logLines, startedAt, seconds, machineAtStart });
    process.stdout.write(`  done in ${seconds.toFixed(1)} s${record ? ' (bench/RESULTS.md updated)' : ''}\n`);
  }
  process.stdout.write(`\n${formatTable(results)}\n`);
  process.stdout.write(`${machineLine()}\n${RESULTS_FILE.pathname}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
