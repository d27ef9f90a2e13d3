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

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
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

const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
const pct = (v: number, of: number) => `${((v / of) * 100).toFixed(1).padStart(5)} %`;

function summarise(p: Profile, w: Window) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i]!;
    if (t < w.startUs || t > w.endUs) return;
    const dt = p.timeDeltas[i]!;
    const leaf = byId.get(id)!;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    busy += dt;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const l = label(byId.get(x)!);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + dt);
    }
  });
  return { busy, idle, self, incl };
}

for (const sub of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  const system = sub === 'ingestion' ? 'aurora' : sub.replace(/^generator-/, '').replace(/-\d+$/, '');
  const w = windows.find((x) => x.system === system && x.step === step);
  if (!w) continue;
  // One profile per thread (tsx runs its loader in a worker): keep the busiest in the window.
  let best: { busy: number; idle: number; self: Map<string, number>; incl: Map<string, number> } | undefined;
  for (const f of readdirSync(join(dir, sub)).filter((x) => x.endsWith('.cpuprofile'))) {
    const r = summarise(JSON.parse(readFileSync(join(dir, sub, f), 'utf8')) as Profile, w);
    if (!best || r.busy > best.busy) best = r;
  }
  if (!best) continue;
  const { busy, idle, self, incl } = best;
  if (busy === 0) continue;
  const out = [`== ${sub}: step ${step} (${w.rate} msg/s), JS thread busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`];
  out.push('  self:');
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(v, busy)}  ${k}`);
  out.push('  inclusive:');
  for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top * 2)) out.push(`  ${pct(v, busy)}  ${k}`);
  process.stdout.write(`${out.join('\n')}\n\n`);
}
