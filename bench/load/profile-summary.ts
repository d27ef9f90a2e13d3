// Where the time goes: summarises the CPU profiles a profiled fan-out run leaves behind
// (BENCH_CPU_PROF=<dir> npm run bench -- fanout), counting only the samples inside one measured
// window (start-up, connection set-up and teardown excluded).
//
//   npx tsx bench/load/profile-summary.ts <dir> [step=2] [top=25]
//
// <dir>/windows.jsonl lists each system's measured windows (step 1 = warm-up, 2 = the fixed
// rate, then the sweep) on CLOCK_MONOTONIC µs, the clock V8 stamps profiles with. Each process
// wrote its profiles to <dir>/<system>-<i>/ (generators: generator-<system>-<i>, AuroraChat's
// ingestion worker: ingestion); the main thread's is the one with the most samples.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mainThreadSummary, topLines } from '../cpuprofile.js';

interface Window {
  system: string;
  step: number;
  rate: number;
  startUs: number;
  endUs: number;
}

const [dir, stepArg, topArg] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: npx tsx bench/load/profile-summary.ts <dir> [step=2] [top=25]\n');
  process.exit(2);
}
const step = Number(stepArg ?? 2);
const top = Number(topArg ?? 25);
const windows: Window[] = readFileSync(join(dir, 'windows.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Window);

for (const sub of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  const system = sub === 'ingestion' ? 'aurora' : sub.replace(/^generator-/, '').replace(/-\d+$/, '');
  const w = windows.find((x) => x.system === system && x.step === step);
  if (!w) continue;
  const best = mainThreadSummary(join(dir, sub), w.startUs, w.endUs);
  if (!best || best.summary.busy === 0) continue;
  const { busy, idle, self, incl } = best.summary;
  const out = [`== ${sub}: step ${step} (${w.rate} msg/s), JS thread busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`];
  out.push('  self:', ...topLines(self, busy, top), '  inclusive:', ...topLines(incl, busy, top * 2));
  process.stdout.write(`${out.join('\n')}\n\n`);
}
