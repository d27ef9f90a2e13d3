// Readers the capacity and scale benchmarks share: Prometheus text from a replica's /metrics (on
// its admin port), Redis INFO fields and commandstats (and the redis-server pid, for its CPU
// time), a settled RSS reading, and a CPU-usage window over several processes (and the CPU of a
// Node process's threads).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { freePort, waitFor } from '../../test/helpers/ports.js';
import { cpuMs, rssKiB } from '../lib.js';

/** The sum of every series of metric `name` in Prometheus text (labels ignored). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

/** Every series of metric `name` by the value of its label `label`. */
export function metricBy(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`${label}="([^"]*)"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = re.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** The Prometheus text of a service's admin port (RunningService.adminUrl: /metrics lives there). */
export async function scrape(adminUrl: string): Promise<string> {
  const res = await fetch(`${adminUrl}/metrics`);
  if (!res.ok) throw new Error(`${adminUrl}/metrics answered ${res.status}`);
  return res.text();
}

/** Fields of one INFO section as numbers where they are numbers. */
export async function redisInfo(redis: Redis, section: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await redis.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

export async function redisPid(redis: Redis): Promise<number> {
  const pid = (await redisInfo(redis, 'server')).process_id;
  if (!pid) throw new Error('INFO server has no process_id');
  return pid;
}

/**
 * Waits until the process's RSS has stayed within `toleranceKiB` (default: the larger of
 * 256 KiB and 0.3 %) for `stableMs`, sampling every 250 ms; returns the last sample. Gives up
 * after `timeoutMs` and returns the last sample then (with `settled: false`).
 */
export async function settledRss(
  pid: number,
  { stableMs = 2000, timeoutMs = 30_000, toleranceKiB }: { stableMs?: number; timeoutMs?: number; toleranceKiB?: number } = {},
): Promise<{ kib: number; settled: boolean; waitedMs: number }> {
  const t0 = Date.now();
  const samples: { t: number; kib: number }[] = [];
  for (;;) {
    const now = Date.now();
    const kib = rssKiB(pid);
    samples.push({ t: now, kib });
    while (samples.length > 0 && samples[0]!.t < now - stableMs) samples.shift();
    const tol = toleranceKiB ?? Math.max(256, kib * 0.003);
    const span = Math.max(...samples.map((s) => s.kib)) - Math.min(...samples.map((s) => s.kib));
    const covered = now - t0 >= stableMs;
    if (covered && span <= tol) return { kib, settled: true, waitedMs: now - t0 };
    if (now - t0 > timeoutMs) return { kib, settled: false, waitedMs: now - t0 };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A process's resident memory by kind of mapping, in KiB, from /proc/<pid>/smaps: `brk` (the
 * [heap] mapping: glibc's main malloc arena), `anon` (anonymous mappings: V8's heap pages,
 * large mmapped mallocs, other threads' arenas), `file` (code and data of mapped files), `other`
 * ([stack], [vdso], ...).
 */
export function rssByMapping(pid: number): { brk: number; anon: number; file: number; other: number } {
  const out = { brk: 0, anon: 0, file: 0, other: 0 };
  let kind: keyof typeof out = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1]!;
      kind = name === '[heap]' ? 'brk' : name === '' ? 'anon' : name.startsWith('/') ? 'file' : 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] += Number(rss[1]);
  }
  return out;
}

/** CPU time of several processes, read at start and at `end()`: ms used and % of one core. */
export function cpuWindow(pids: Record<string, number>) {
  const t0 = performance.now();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  return {
    end(): { wallMs: number; cpu: Record<string, { ms: number; pct: number }> } {
      const wallMs = performance.now() - t0;
      const cpu = Object.fromEntries(
        Object.entries(pids).map(([k, pid]) => {
          const ms = cpuMs(pid) - c0[k]!;
          return [k, { ms, pct: (ms / wallMs) * 100 }];
        }),
      );
      return { wallMs, cpu };
    },
  };
}

/** One command's line of INFO commandstats (`cmdstat_<name>:calls=..,usec=..`). */
export interface CommandStat {
  calls: number;
  /** Time spent executing it, µs (wall clock inside the server, as Redis measures it). */
  usec: number;
}

/**
 * INFO commandstats by command name (lower case; subcommands as `client|setname`). In Redis 7
 * the commands a Lua script calls are counted here too, and the script's EVALSHA time includes
 * theirs (bench/sendpath-profile.ts checks both on the server it runs against).
 */
export async function redisCommandStats(redis: Redis): Promise<Map<string, CommandStat>> {
  const out = new Map<string, CommandStat>();
  for (const line of (await redis.info('commandstats')).split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

/** What happened between two commandstats readings (commands with no calls in between left out). */
export function commandStatsDelta(before: Map<string, CommandStat>, after: Map<string, CommandStat>): Map<string, CommandStat> {
  const out = new Map<string, CommandStat>();
  for (const [name, a] of after) {
    const b = before.get(name) ?? { calls: 0, usec: 0 };
    if (a.calls > b.calls) out.set(name, { calls: a.calls - b.calls, usec: a.usec - b.usec });
  }
  return out;
}

/** CPU ms (user + system) of one thread so far: /proc/<pid>/task/<tid>/stat (/proc/<tid>/stat is the whole process's). */
function taskCpuMs(pid: number, tid: string): number {
  const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, 100 Hz ticks, as cpuMs
}

/**
 * CPU ms of a Node process's threads so far, by role: its main thread (tid = pid: the JS thread a
 * --cpu-prof profile describes), V8's profiler sampling thread (`v8:ProfEvntProc`, only under
 * --cpu-prof: the measurement's own cost), and the others (V8's GC and compiler helpers, libuv's
 * pool, a loader thread). A thread that exited between two readings takes its time with it.
 */
export function threadCpuMs(pid: number): { main: number; profiler: number; other: number } {
  const out = { main: 0, profiler: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let ms: number;
    let name: string;
    try {
      ms = taskCpuMs(pid, tid);
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // exited meanwhile
    }
    if (Number(tid) === pid) out.main += ms;
    else if (name.startsWith('v8:Prof')) out.profiler += ms;
    else out.other += ms;
  }
  return out;
}

/**
 * How many read-like and write-like syscalls a process has made so far (/proc/<pid>/io syscr,
 * syscw: read/readv/recv and write/writev/send; epoll and the like are not counted). Over a
 * window divided by the sends, it says how well writes are batched.
 */
export function ioSyscalls(pid: number): { reads: number; writes: number } {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { reads: field('syscr'), writes: field('syscw') };
}

/**
 * A thread's scheduler times so far, ns (/proc/<pid>/task/<tid>/schedstat; the main thread by
 * default): on a CPU, and waiting on a run queue while runnable. Over a window, run / (run + wait)
 * is the share of its runnable time it actually ran — on a shared box, wall-clock timings taken
 * inside the thread (commandstats, profile samples) times that share estimate its CPU time.
 */
export function schedStat(pid: number, tid = pid): { runNs: number; waitNs: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { runNs: run!, waitNs: wait! };
}

export interface BenchServer {
  baseUrl: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** The Socket.IO anchor server (bench/anchors/socketio-server.ts), when it exists. */
export const SOCKETIO_ANCHOR = 'bench/anchors/socketio-server.ts';
/** The bare ws server: the floor of an authenticated idle connection's cost. */
export const WS_FLOOR = 'bench/capacity/ws-floor-server.ts';

/** Starts `node --import tsx <script>` with PORT set, once its /healthz answers. */
export async function startBenchServer(script: string, env: Record<string, string>): Promise<BenchServer> {
  const port = await freePort();
  const logs: string[] = [];
  const proc = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    logs.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim()));
    if (logs.length > 200) logs.splice(0, logs.length - 200);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`${script} exited with ${proc.exitCode}:\n${logs.join('\n')}`);
      return (await fetch(`${baseUrl}/healthz`)).ok;
    },
    { timeoutMs: 20_000, what: `${script} /healthz` },
  ).catch((err) => {
    proc.kill('SIGKILL');
    throw new Error(`${String(err)}\n${logs.slice(-20).join('\n')}`);
  });
  return {
    baseUrl,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
