// `npm run bench [-- name ...]`: runs the benchmarks (all, or those named) one after another
// and prints one table. Add a benchmark by writing bench/<name>.bench.ts exporting a
// Benchmark and listing it below.
import { formatTable, machineLine, type BenchRow, type Benchmark } from './lib.js';
import { chatBenchmark } from './chat.bench.js';
import { ingestBenchmark } from './ingest.bench.js';

const ALL: Benchmark[] = [chatBenchmark, ingestBenchmark];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !ALL.some((b) => b.name === w));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${ALL.map((b) => b.name).join(', ')}\n`);
    process.exit(2);
  }
  const selected = wanted.length > 0 ? ALL.filter((b) => wanted.includes(b.name)) : ALL;
  const log = (line: string) => process.stdout.write(`  ${line}\n`);
  process.stdout.write(`${machineLine()}\n`);
  const results: { bench: string; rows: BenchRow[] }[] = [];
  for (const b of selected) {
    process.stdout.write(`\n== ${b.name}: ${b.description}\n`);
    const started = Date.now();
    results.push({ bench: b.name, rows: await b.run(log) });
    process.stdout.write(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  process.stdout.write(`\n${formatTable(results)}\n`);
  process.stdout.write(`${machineLine()}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
