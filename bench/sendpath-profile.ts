// Where the send path's time goes at saturation (issue 21: "any step that costs more than 10 % of
// the path gets a fix or a reason"). ONE replica of this tree under `node --cpu-prof`, SOCKETS
// sender sockets over two holder processes (bench/capacity/holder.ts), each alone in its room
// keeping WINDOW sends in flight — the saturation of sendpath.bench.ts — then SECONDS counted:
//   1. acked sends/s, and CPU per acked send of the replica, redis-server and the holders (/proc);
//   2. the replica's JS thread from the profile samples inside the counted window only: busy time
//      by where the code lives, by our own module file (self time), top functions by self time;
//   3. redis-server: INFO commandstats over the window, the send script's inner commands (Redis 7
//      counts them; checked first on this server) and the Lua overhead around them;
//   4. every step's share of the whole path (replica + redis-server CPU per acked send), > 10 %
//      flagged.
// Accounting: /proc gives CPU; the profile and commandstats give wall-clock time, which on a
// loaded box includes time preempted. So the replica's JS thread's CPU is split by the profile's
// shares, and commandstats' times are scaled by redis-server's on-CPU share of its runnable time
// (schedstat) — the rest of its CPU is network I/O, protocol parsing and replies. The profilers'
// own sampling threads are reported, not counted in the path.
//
//   npx tsx bench/sendpath-profile.ts
// Sizes: BENCH_SENDPATH_SOCKETS (128), BENCH_SENDPATH_WINDOW (4), BENCH_SENDPATH_SECONDS (5);
// BENCH_PROFILE_DIR: where the profile is kept (default: a new temporary directory; printed).
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { luaWithLimits } from '../services/chat/scripts.js';
import { chatEnv } from '../test/chat/client.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { HolderPool, formatErrors } from './capacity/holders.js';
import { commandStatsDelta, cpuWindow, ioSyscalls, redisCommandStats, redisPid, schedStat, threadCpuMs, type CommandStat } from './capacity/measure.js';
import { mainThreadSummary, type ProfileSummary } from './cpuprofile.js';
import { envNumber as env, machineLine } from './lib.js';
import { startNode } from './load/servers.js';

const SOCKETS = env('BENCH_SENDPATH_SOCKETS', 128, 1);
const WINDOW = env('BENCH_SENDPATH_WINDOW', 4, 1);
const SECS = env('BENCH_SENDPATH_SECONDS', 5);
const PROFILE_BASE = process.env.BENCH_PROFILE_DIR || tmpdir();
const TEXT = 'saturation message with a realistic length of about sixty characters';
/** A step above this share of the path needs a fix or a reason (issue 21). */
const FLAG_PCT = 10;
const TOP_FUNCTIONS = 15;

const root = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hrUs = () => Number(process.hrtime.bigint() / 1000n);

/** The commands send.lua (with its lib/limits.lua prelude) calls: their commandstats are the script's. */
const SCRIPT_COMMANDS = new Set([...luaWithLimits('send').matchAll(/redis\.p?call\('([A-Za-z]+)'/g)].map((m) => m[1]!.toLowerCase()));
const SCRIPT_RUNNERS = ['evalsha', 'eval'];

interface LuaStatsCheck {
  version: string;
  /** Commands a script calls appear in commandstats with their calls. */
  innerCounted: boolean;
  /** EVALSHA's usec includes its inner commands' usec. */
  evalIncludesInner: boolean;
  detail: string;
}

/**
 * The tiny experiment behind section 3: a script calling LRANGE over 5,000 items once and GET
 * twice, run 3 times. Counted: 3 LRANGE and 6 GET calls appear. Included: EVALSHA's usec is at
 * least theirs (LRANGE is slow enough that the comparison cannot pass by noise).
 */
async function checkLuaCommandStats(redis: Redis): Promise<LuaStatsCheck> {
  const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  await redis.rpush('probe:list', ...Array.from({ length: 5000 }, (_, i) => i));
  const sha = String(await redis.script('LOAD', "redis.call('LRANGE', KEYS[1], 0, -1); redis.call('GET', KEYS[2]); redis.call('GET', KEYS[2]); return 1"));
  const before = await redisCommandStats(redis);
  for (let i = 0; i < 3; i++) await redis.evalsha(sha, 2, 'probe:list', 'probe:k');
  const d = commandStatsDelta(before, await redisCommandStats(redis));
  await redis.del('probe:list');
  const lrange = d.get('lrange');
  const get = d.get('get');
  const evalsha = d.get('evalsha');
  const innerCounted = lrange?.calls === 3 && get?.calls === 6;
  const inner = (lrange?.usec ?? 0) + (get?.usec ?? 0);
  const evalIncludesInner = innerCounted && (evalsha?.usec ?? 0) >= inner;
  const detail = `3 EVALSHA of a script calling LRANGE once and GET twice: lrange calls=${lrange?.calls ?? 0} usec=${lrange?.usec ?? 0}, get calls=${get?.calls ?? 0} usec=${get?.usec ?? 0}, evalsha calls=${evalsha?.calls ?? 0} usec=${evalsha?.usec ?? 0}`;
  return { version, innerCounted, evalIncludesInner, detail };
}

interface Measured {
  acks: number;
  deliveries: number;
  wallMs: number;
  errors: string;
  cpuMs: { replica: number; redis: number; holders: number };
  threads: { main: number; profiler: number; other: number };
  /** The main threads' share of their runnable time spent on a CPU (schedstat): below 1 when preempted. */
  onCpu: { replica: number; redis: number };
  /** read-like and write-like syscalls in the window. */
  syscalls: { replica: { reads: number; writes: number }; redis: { reads: number; writes: number } };
  commands: Map<string, CommandStat>;
  profile: { file: string; summary: ProfileSummary };
}

/** Runs the saturation and takes every reading of the counted window. */
async function measure(profileDir: string): Promise<{ m: Measured; check: LuaStatsCheck }> {
  const redis = await startRedis();
  const client = redis.client();
  try {
    const check = await checkLuaCommandStats(client);
    await client.flushall();
    const rpid = await redisPid(client);
    const vars = chatEnv(redis.url, 'sendpath-profile', {
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
      MAX_FRAMES_PER_SEC: '10000',
      INGEST_MAX_BACKLOG: '100000000',
    });
    const replica = await startNode(join(root, 'services/chat/main.ts'), vars, (port) => `http://127.0.0.1:${port}`, '/readyz', ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
    const pid = replica.proc.pid!;
    let window: Omit<Measured, 'profile'> & { fromUs: number; toUs: number };
    try {
      const pool = HolderPool.spawn(2);
      try {
        const opened = await pool.open('aurora', Array.from({ length: SOCKETS }, (_, i) => ({ url: replica.url, user: `sender${i}`, room: `sat-${i}` })));
        if (opened.failed > 0) throw new Error(`${opened.failed} sender sockets failed to open (${opened.firstError})`);
        await pool.all({ cmd: 'saturate', window: WINDOW, text: TEXT });
        await sleep(1000); // past the JIT's warm-up and the rooms' first-send work
        const s0 = await pool.stats();
        const c0 = await redisCommandStats(client);
        const t0 = threadCpuMs(pid);
        const io0 = { replica: ioSyscalls(pid), redis: ioSyscalls(rpid) };
        const q0 = { replica: schedStat(pid), redis: schedStat(rpid) };
        const fromUs = hrUs();
        const w = cpuWindow({ replica: pid, redis: rpid, ...Object.fromEntries(pool.holders.map((h, i) => [`h${i}`, h.proc.pid!])) });
        await sleep(SECS * 1000);
        const { wallMs, cpu } = w.end();
        const toUs = hrUs();
        const t1 = threadCpuMs(pid);
        const io1 = { replica: ioSyscalls(pid), redis: ioSyscalls(rpid) };
        const q1 = { replica: schedStat(pid), redis: schedStat(rpid) };
        const onCpu = (a: { runNs: number; waitNs: number }, b: { runNs: number; waitNs: number }) =>
          (b.runNs - a.runNs) / Math.max(1, b.runNs - a.runNs + (b.waitNs - a.waitNs));
        const s1 = await pool.stats();
        const c1 = await redisCommandStats(client);
        await pool.all({ cmd: 'stop' });
        const acks = s1.acks - s0.acks;
        if (acks <= 0) throw new Error('no send was acked in the counted window');
        const errors = Object.fromEntries(Object.entries(s1.errors).map(([k, v]) => [k, v - (s0.errors[k] ?? 0)]).filter(([, v]) => Number(v) > 0));
        const commands = commandStatsDelta(c0, c1);
        commands.delete('info'); // the readings themselves
        window = {
          acks,
          deliveries: s1.messages - s0.messages,
          wallMs,
          errors: formatErrors(errors),
          cpuMs: { replica: cpu.replica!.ms, redis: cpu.redis!.ms, holders: pool.holders.reduce((s, _, i) => s + cpu[`h${i}`]!.ms, 0) },
          threads: { main: t1.main - t0.main, profiler: Math.max(0, t1.profiler - t0.profiler), other: Math.max(0, t1.other - t0.other) },
          onCpu: { replica: onCpu(q0.replica, q1.replica), redis: onCpu(q0.redis, q1.redis) },
          syscalls: {
            replica: { reads: io1.replica.reads - io0.replica.reads, writes: io1.replica.writes - io0.replica.writes },
            redis: { reads: io1.redis.reads - io0.redis.reads, writes: io1.redis.writes - io0.redis.writes },
          },
          commands,
          fromUs,
          toUs,
        };
      } finally {
        await pool.close();
      }
    } finally {
      await replica.stop(); // SIGTERM: the profile is written on exit
    }
    const profile = mainThreadSummary(profileDir, window.fromUs, window.toUs);
    if (!profile || profile.summary.busy === 0) throw new Error(`no profile samples in the counted window (${profileDir})`);
    return { m: { ...window, profile }, check };
  } finally {
    await redis.stop();
  }
}

// --- printing -----------------------------------------------------------------------------------

const num = (v: number, digits = 1) => (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits));

/** Rows as aligned columns: the first left-aligned, the others right-aligned. */
function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  return all.map((r) => `  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}`.trimEnd());
}

/**
 * A summary step of the replica's JS thread, from fileOf(): each of our files, each package, each
 * native function (socket writes are `writev` and `writeBuffer`, with their syscalls), Node's JS.
 */
function replicaStep(file: string): string {
  if (file === '(garbage collector)') return 'GC';
  if (file === '(program)') return '(program): native code outside any function';
  if (file.startsWith('node_modules/')) return file.slice('node_modules/'.length);
  if (file.startsWith('node:')) return "Node's own JS (streams, net, timers)";
  if (file.includes('/')) return file;
  if (SOCKET_WRITES.has(file)) return `native ${file}(): socket writes, the syscall included`;
  return file.startsWith('(') ? `native ${file}` : `native ${file}()`;
}

/** Node's native functions that write to a socket (stream_wrap / tcp_wrap). */
const SOCKET_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String']);

/** The replica's threads that are neither its JS thread nor a profiler's. */
const OTHER_THREADS = 'other threads (V8 GC and compiler, tsx loader)';

interface Step {
  name: string;
  /** CPU µs per acked send. */
  us: number;
}

/** Per acked send, from ms over the window. */
const perSendOf = (m: Measured) => (ms: number) => (ms * 1000) / m.acks;

function throughputLines(m: Measured): string[] {
  const perSend = perSendOf(m);
  const pct = (ms: number) => num((ms / m.wallMs) * 100, 0);
  const sys = (p: { reads: number; writes: number }) => `${(p.reads / m.acks).toFixed(2)} reads + ${(p.writes / m.acks).toFixed(2)} writes`;
  return [
    `== send path at saturation: one replica (this tree, under --cpu-prof), ${SOCKETS} sender sockets x ${WINDOW} in flight, ${num(m.wallMs / 1000, 1)} s counted`,
    `   ${machineLine()}`,
    '',
    '1. Throughput and CPU per acked send',
    ...table(
      ['', 'value', 'unit', '% of a core'],
      [
        ['acked sends/s', num((m.acks * 1000) / m.wallMs, 0), 'sends/s', ''],
        ['replica CPU', num(perSend(m.cpuMs.replica)), 'µs/send', pct(m.cpuMs.replica)],
        ['  main (JS) thread', num(perSend(m.threads.main)), 'µs/send', pct(m.threads.main)],
        [`  ${OTHER_THREADS}`, num(perSend(m.threads.other)), 'µs/send', pct(m.threads.other)],
        ['  profiler threads (not in the path)', num(perSend(m.threads.profiler)), 'µs/send', pct(m.threads.profiler)],
        ['redis-server CPU', num(perSend(m.cpuMs.redis)), 'µs/send', pct(m.cpuMs.redis)],
        ['holders CPU (2 processes, the clients)', num(perSend(m.cpuMs.holders)), 'µs/send', pct(m.cpuMs.holders)],
      ],
    ),
    `  deliveries back to the senders: ${num((m.deliveries * 1000) / m.wallMs, 0)}/s; errors: ${m.errors}`,
    `  socket syscalls per acked send: replica ${sys(m.syscalls.replica)}, redis-server ${sys(m.syscalls.redis)}`,
  ];
}

/** Section 2: the JS thread's profile; µs/send = share of busy samples x the thread's CPU. */
function replicaLines(m: Measured): string[] {
  const { summary, file } = m.profile;
  const mainUs = perSendOf(m)(m.threads.main);
  const share = (v: number) => v / summary.busy;
  const rows = (entries: [string, number][]) => entries.sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, num(share(v) * 100), num(share(v) * mainUs, 2)]);
  const ours = [...summary.byFile].filter(([f]) => f.startsWith('services/'));
  return [
    `2. Replica: where the JS thread's busy time goes (${num(summary.busy / 1000, 0)} ms busy, ${num(summary.idle / 1000, 0)} ms idle in the window;`,
    `   µs/send = share of busy samples x the main thread's CPU, ${num(mainUs)} µs/send; it ran ${num(m.onCpu.replica * 100, 0)} % of the time it was runnable)`,
    '  by where the code lives:',
    ...table(['bucket', '% busy', 'µs/send'], rows([...summary.byWhere])),
    `  our own module files (self time; ${num(share(ours.reduce((s, [, v]) => s + v, 0)) * 100)} % of busy in all):`,
    ...table(['file', '% busy', 'µs/send'], rows(ours)),
    `  top ${TOP_FUNCTIONS} functions by self time (a native function such as writev includes its syscall; (program) = native code outside any function):`,
    ...table(['function', '% busy', 'µs/send'], rows([...summary.self]).slice(0, TOP_FUNCTIONS)),
    `  profile: ${file}`,
  ];
}

/** redis-server's window split: the script's inner commands, the Lua around them, the rest. */
interface RedisSplit {
  runners: [string, CommandStat][];
  inner: [string, CommandStat][];
  outside: [string, CommandStat][];
  scriptUsec: number;
  luaUsec: number;
  /** All commands' usec. */
  cmdUsec: number;
  /**
   * commandstats is wall time, which counts the time redis-server was preempted inside a command:
   * times its main thread's on-CPU share it estimates CPU time (never more than its whole CPU).
   */
  scale: number;
}

function splitRedis(m: Measured): RedisSplit {
  const cmds = [...m.commands].sort((a, b) => b[1].usec - a[1].usec);
  const runners = cmds.filter(([c]) => SCRIPT_RUNNERS.includes(c));
  const inner = cmds.filter(([c]) => SCRIPT_COMMANDS.has(c));
  const outside = cmds.filter(([c]) => !SCRIPT_RUNNERS.includes(c) && !SCRIPT_COMMANDS.has(c));
  const sum = (xs: [string, CommandStat][]) => xs.reduce((s, [, v]) => s + v.usec, 0);
  const scriptUsec = sum(runners);
  const cmdUsec = scriptUsec + sum(outside);
  const scale = Math.min(m.onCpu.redis, (m.cpuMs.redis * 1000) / Math.max(1, cmdUsec));
  return { runners, inner, outside, scriptUsec, luaUsec: Math.max(0, scriptUsec - sum(inner)), cmdUsec, scale };
}

function redisLines(m: Measured, check: LuaStatsCheck, r: RedisSplit): string[] {
  const redisUs = perSendOf(m)(m.cpuMs.redis);
  const ofScript = (usec: number) => (r.scriptUsec > 0 ? num((usec / r.scriptUsec) * 100) : '');
  const row = ([c, v]: [string, CommandStat], inScript: boolean): string[] => [
    c,
    num(v.calls, 0),
    (v.calls / m.acks).toFixed(2),
    (v.usec / v.calls).toFixed(2),
    (v.usec / m.acks).toFixed(2),
    inScript ? ofScript(v.usec) : '',
  ];
  const header = ['command', 'calls', 'calls/send', 'usec/call', 'usec/send', '% of script'];
  const out = [
    `3. redis-server ${check.version}: INFO commandstats over the window (usec = time inside the command, wall clock)`,
    `  check on this server: a script's commands are counted in commandstats: ${check.innerCounted ? 'yes' : 'NO'}; ` +
      `EVALSHA's usec includes theirs: ${check.evalIncludesInner ? 'yes' : 'NO'}`,
    `    (${check.detail})`,
  ];
  if (!check.innerCounted || !check.evalIncludesInner) out.push('  WARNING: the split of the script below does not hold on this server');
  out.push(
    '  the send script (EVALSHA = its inner commands + the Lua around them):',
    ...table(header, [
      ...r.runners.map((x) => row(x, true)),
      ...r.inner.map((x) => row(x, true).map((c, i) => (i === 0 ? `  ${c}` : c))),
      ['  Lua overhead (EVALSHA - inner)', '', '', '', (r.luaUsec / m.acks).toFixed(2), ofScript(r.luaUsec)],
    ]),
  );
  if (r.outside.length > 0) out.push('  commands outside the script:', ...table(header, r.outside.map((x) => row(x, false))));
  out.push(
    `  redis-server CPU ${num(redisUs)} µs/send; its main thread ran ${num(m.onCpu.redis * 100, 0)} % of the time it was runnable (schedstat),`,
    `  so inside commands ${num(r.cmdUsec / m.acks)} µs/send of wall time are ~${num((r.cmdUsec * r.scale) / m.acks)} µs/send of CPU (x ${r.scale.toFixed(2)}, as in section 4);`,
    `  outside commands (network I/O, protocol parsing, replies, event loop): ${num(Math.max(0, redisUs - (r.cmdUsec * r.scale) / m.acks))} µs/send`,
  );
  return out;
}

/**
 * Section 4: the whole path = replica CPU (its JS thread + its other threads; profiler threads
 * excluded) + redis-server CPU. The replica's part is the sum of the thread readings the steps
 * are split from, not the process reading: both tick in 10 ms, and in a short window on a busy
 * machine they differ by a few per cent (section 1 shows both).
 */
function summaryLines(m: Measured, r: RedisSplit): string[] {
  const perSend = perSendOf(m);
  const { summary } = m.profile;
  const mainUs = perSend(m.threads.main);
  const redisUs = perSend(m.cpuMs.redis);
  const replicaUs = perSend(m.threads.main + m.threads.other);
  const steps: Step[] = [];
  const replicaSteps = new Map<string, number>();
  for (const [f, v] of summary.byFile) replicaSteps.set(replicaStep(f), (replicaSteps.get(replicaStep(f)) ?? 0) + v);
  for (const [name, v] of replicaSteps) steps.push({ name: `replica: ${name}`, us: (v / summary.busy) * mainUs });
  steps.push({ name: `replica: ${OTHER_THREADS}`, us: perSend(m.threads.other) });
  const cmdUs = (usec: number) => (usec * r.scale) / m.acks;
  for (const [c, v] of r.inner) steps.push({ name: `redis: script's ${c.toUpperCase()}`, us: cmdUs(v.usec) });
  steps.push({ name: 'redis: Lua overhead of the script', us: cmdUs(r.luaUsec) });
  for (const [c, v] of r.outside) steps.push({ name: `redis: ${c.toUpperCase()} (outside the script)`, us: cmdUs(v.usec) });
  steps.push({ name: 'redis: outside commands (I/O, parsing, replies)', us: Math.max(0, redisUs - cmdUs(r.cmdUsec)) });
  const path = replicaUs + redisUs;
  const pct = (s: Step) => (s.us / path) * 100;
  steps.sort((a, b) => b.us - a.us);
  const over = steps.filter((s) => pct(s) > FLAG_PCT);
  return [
    `4. Summary: the whole path = replica CPU (${num(replicaUs)}) + redis-server CPU (${num(redisUs)}) = ${num(path)} µs per acked send`,
    ...table(
      ['step', 'µs/send', '% of path', `> ${FLAG_PCT} %`],
      steps.filter((s) => pct(s) >= 0.1).map((s) => [s.name, s.us.toFixed(2), num(pct(s)), pct(s) > FLAG_PCT ? '<-- over' : '']),
    ),
    `  steps over ${FLAG_PCT} % of the path: ${over.length > 0 ? over.map((s) => s.name).join('; ') : 'none'}`,
  ];
}

function report(m: Measured, check: LuaStatsCheck): string[] {
  const r = splitRedis(m);
  return [...throughputLines(m), '', ...replicaLines(m), '', ...redisLines(m, check, r), '', ...summaryLines(m, r)];
}

async function main(): Promise<void> {
  mkdirSync(PROFILE_BASE, { recursive: true });
  const profileDir = mkdtempSync(join(PROFILE_BASE, 'sendpath-profile-'));
  const { m, check } = await measure(profileDir);
  process.stdout.write(`${report(m, check).join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`sendpath-profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
