// Reading V8 CPU profiles (`node --cpu-prof`): where a process's busy time went, by function
// (self and inclusive) and by where the code lives (ws, ioredis, our services, GC...). Used by
// `npm run profile` (bench/profile.ts), bench/load/profile-summary.ts and bench/sendpath-profile.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** CLOCK_MONOTONIC µs, the clock of process.hrtime. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** µs on the JS thread, and idle µs. */
  busy: number;
  idle: number;
  /** function label -> µs as the leaf / anywhere on the stack (each counted once per sample). */
  self: Map<string, number>;
  incl: Map<string, number>;
  /** where() -> self µs. */
  byWhere: Map<string, number>;
  /** fileOf() -> self µs: which module file the time was spent in. */
  byFile: Map<string, number>;
}

export const nodeLabel = (n: CpuProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;

/** Which code a frame belongs to. */
export function where(n: CpuProfileNode): string {
  const { url, functionName: fn } = n.callFrame;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)' || fn === '(root)') return fn;
  if (url.includes('/node_modules/ws/')) return 'ws';
  if (url.includes('/node_modules/ioredis/') || url.includes('/node_modules/@ioredis/') || url.includes('redis-parser')) return 'ioredis';
  if (url.includes('/node_modules/prom-client/')) return 'prom-client';
  if (url.includes('/node_modules/pino')) return 'pino';
  if (url.includes('/services/')) return 'services (ours)';
  if (url.startsWith('node:') || url === '') return 'node internals / native';
  return 'other';
}

const REPO_URL = `file://${fileURLToPath(new URL('..', import.meta.url))}`;

/**
 * The module file a frame's code is in: `services/chat/connection.ts` for ours (from `services/`
 * on, also for an older tree unpacked elsewhere), `node_modules/<package>` for a dependency, a
 * path in the repository (`sdk/src/ids.js`), the `node:` URL for Node's own JS, and the function
 * name for frames without a file ((program), (garbage collector), native functions: `writev`).
 */
export function fileOf(n: CpuProfileNode): string {
  const { url, functionName: fn } = n.callFrame;
  if (url === '') return fn || '(anonymous native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return `node_modules/${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  const ours = url.indexOf('/services/');
  if (ours >= 0) return url.slice(ours + 1);
  if (url.startsWith(REPO_URL)) return url.slice(REPO_URL.length);
  return url.startsWith('file://') ? url.slice('file://'.length) : url;
}

/** Summarises the samples taken within [fromUs, toUs] (CLOCK_MONOTONIC µs; default: all). */
export function summariseProfile(p: CpuProfile, fromUs = -Infinity, toUs = Infinity): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const s: ProfileSummary = { busy: 0, idle: 0, self: new Map(), incl: new Map(), byWhere: new Map(), byFile: new Map() };
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) return;
    const leaf = byId.get(id)!;
    if (leaf.callFrame.functionName === '(idle)') {
      s.idle += dt;
      return;
    }
    s.busy += dt;
    add(s.self, nodeLabel(leaf), dt);
    add(s.byWhere, where(leaf), dt);
    add(s.byFile, fileOf(leaf), dt);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const l = nodeLabel(byId.get(x)!);
      if (seen.has(l)) continue;
      seen.add(l);
      add(s.incl, l, dt);
    }
  });
  return s;
}

/**
 * The main thread's summary among the profiles in `dir`: tsx runs its module loader on a
 * thread of its own, which writes a profile too — the busiest one is the main thread.
 */
export function mainThreadSummary(dir: string, fromUs?: number, toUs?: number): { file: string; summary: ProfileSummary } | undefined {
  let best: { file: string; summary: ProfileSummary } | undefined;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const summary = summariseProfile(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile, fromUs, toUs);
    if (!best || summary.busy > best.summary.busy) best = { file: join(dir, f), summary };
  }
  return best;
}

/** Lines of `m` sorted by time, as percentages of `of`. */
export function topLines(m: Map<string, number>, of: number, top: number): string[] {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `  ${((v / of) * 100).toFixed(1).padStart(5)} %  ${k}`);
}
