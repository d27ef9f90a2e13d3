// Send path benchmark (issue 13: "the send path's acked/s is within 5 % of its figure before this
// issue"): acked sends/s of one whole chat replica at saturation, today's code against the
// replica as it was before the issue, A/B in the same run on the same redis-server.
//
// The chat benchmark's script A/B (send-ab.ts) isolates what the Lua costs Redis; this one asks
// the question end to end: the replica's own work (parsing, limits, ack, fan-out of each
// message back to its sender) shares the two cores with Redis and the senders, so a dearer
// script costs acked/s only in proportion.
//
// Method
// - The "before" replica is commit BEFORE's services/ tree (`git archive`, read-only, unpacked
//   once under .data/bench/, inside the repository so it resolves the same node_modules); the
//   "after" replica is this working tree's. Both start the same way (node --import tsx
//   services/chat/main.ts, same environment, limits lifted as in the capacity benchmark).
// - ROUNDS rounds, each running both in alternating order (ABBA...); each run: FLUSHALL, start
//   the replica, SOCKETS sender sockets over two holder processes (bench/capacity/holder.ts),
//   each in its own room keeping WINDOW sends in flight (the capacity benchmark's saturation),
//   1 s to settle, then SECS seconds counted: acked sends/s, and the replica's and
//   redis-server's CPU per acked send (/proc/<pid>/stat).
// - Reported: medians, and the median of the per-round ratios after / before (paired).
// Sizes: BENCH_SENDPATH_ROUNDS (5), BENCH_SENDPATH_SOCKETS (128), BENCH_SENDPATH_WINDOW (4),
// BENCH_SENDPATH_SECONDS (5); BENCH_SENDPATH_BEFORE (the commit compared against, a631ef1).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chatEnv } from '../test/chat/client.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { HolderPool, formatErrors } from './capacity/holders.js';
import { cpuWindow, redisPid } from './capacity/measure.js';
import { startNode } from './load/servers.js';
import { envNumber as env, median, type BenchRow, type Benchmark } from './lib.js';

/**
 * The commit compared against: by default the last one before issue 13; issue 14 (the membership
 * check in the send script) measured against its own start with BENCH_SENDPATH_BEFORE=6a7dafa.
 */
const BEFORE = process.env.BENCH_SENDPATH_BEFORE ?? 'a631ef1';
const BEFORE_LABEL = BEFORE === 'a631ef1' ? 'before issue 13' : `at ${BEFORE}`;
const ROUNDS = env('BENCH_SENDPATH_ROUNDS', 5, 1);
const SOCKETS = env('BENCH_SENDPATH_SOCKETS', 128, 1);
const WINDOW = env('BENCH_SENDPATH_WINDOW', 4, 1);
const SECS = env('BENCH_SENDPATH_SECONDS', 5);
const TEXT = 'saturation message with a realistic length of about sixty characters';

const root = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** BEFORE's services/ tree, unpacked once (under a temporary name until complete). */
function beforeTree(): string {
  const dir = join(root, '.data/bench', `services-${BEFORE}`);
  if (existsSync(join(dir, 'services/chat/main.ts'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    const tar = execFileSync('git', ['archive', '--format=tar', BEFORE, 'services'], { cwd: root, maxBuffer: 256 << 20 });
    execFileSync('tar', ['-x', '-C', tmp], { input: tar });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

interface Run {
  acked: number;
  replicaUs: number;
  redisUs: number;
  errors: string;
}

export const sendpathBenchmark: Benchmark = {
  name: 'sendpath',
  description: `acked sends/s of one replica at saturation (${SOCKETS} senders x ${WINDOW} in flight): this tree vs ${BEFORE} (${BEFORE_LABEL}), ${ROUNDS} A/B rounds`,
  async run(log) {
    const trees = { before: beforeTree(), after: root };
    const redis = await startRedis();
    const client = redis.client();
    try {
      const rpid = await redisPid(client);
      const once = async (which: 'before' | 'after'): Promise<Run> => {
        await client.flushall();
        const vars = chatEnv(redis.url, `sendpath-${which}`, {
          LOG_LEVEL: 'warn',
          RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
          MAX_FRAMES_PER_SEC: '10000',
          INGEST_MAX_BACKLOG: '100000000',
        });
        const replica = await startNode(join(trees[which], 'services/chat/main.ts'), vars, (port) => `http://127.0.0.1:${port}`, '/readyz');
        const pool = HolderPool.spawn(2);
        try {
          const opened = await pool.open('aurora', Array.from({ length: SOCKETS }, (_, i) => ({ url: replica.url, user: `sender${i}`, room: `sat-${i}` })));
          if (opened.failed > 0) throw new Error(`${which}: ${opened.failed} sender sockets failed to open (${opened.firstError})`);
          await pool.all({ cmd: 'saturate', window: WINDOW, text: TEXT });
          await sleep(1000);
          const s0 = await pool.stats();
          const w = cpuWindow({ replica: replica.proc.pid!, redis: rpid });
          await sleep(SECS * 1000);
          const s1 = await pool.stats();
          const { wallMs, cpu } = w.end();
          await pool.all({ cmd: 'stop' });
          const acks = Math.max(1, s1.acks - s0.acks);
          const errors = Object.fromEntries(Object.entries(s1.errors).map(([k, v]) => [k, v - (s0.errors[k] ?? 0)]));
          return { acked: (acks * 1000) / wallMs, replicaUs: (cpu.replica!.ms * 1000) / acks, redisUs: (cpu.redis!.ms * 1000) / acks, errors: formatErrors(errors) };
        } finally {
          await pool.close();
          await replica.stop();
        }
      };
      const got = { before: [] as Run[], after: [] as Run[] };
      for (let r = 0; r < ROUNDS; r++) {
        const order: ('before' | 'after')[] = r % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
        for (const which of order) got[which].push(await once(which));
        const [b, a] = [got.before[r]!, got.after[r]!];
        log(
          `round ${r + 1}: before ${Math.round(b.acked)}/s (replica ${b.replicaUs.toFixed(1)}, redis ${b.redisUs.toFixed(1)} µs/send, errors: ${b.errors}), ` +
            `after ${Math.round(a.acked)}/s (replica ${a.replicaUs.toFixed(1)}, redis ${a.redisUs.toFixed(1)} µs/send, errors: ${a.errors})`,
        );
      }
      const med = (which: 'before' | 'after', f: (r: Run) => number) => median(got[which].map(f));
      const paired = (f: (r: Run) => number) => median(got.after.map((a, i) => f(a) / f(got.before[i]!)));
      const before = med('before', (r) => r.acked);
      const rows: BenchRow[] = [
        { metric: `acked sends/s, replica ${BEFORE_LABEL} (anchor)`, value: before, unit: 'sends/s', note: `${BEFORE}; median of ${ROUNDS} runs of ${SECS} s` },
        { metric: 'acked sends/s, replica of this tree', value: med('after', (r) => r.acked), unit: 'sends/s', ratio: { of: 'before', value: med('after', (r) => r.acked) / before }, note: 'ratio of the medians' },
        {
          metric: '  this tree / before, per round',
          value: paired((r) => r.acked),
          unit: 'x',
          target: { op: '>=', value: 0.95 },
          note: `median of the per-round ratios (${got.after.map((a, i) => (a.acked / got.before[i]!.acked).toFixed(2)).join(', ')}); target: within 5 %`,
        },
        {
          metric: '  replica CPU per acked send, this tree',
          value: med('after', (r) => r.replicaUs),
          unit: 'µs',
          ratio: { of: 'before', value: paired((r) => r.replicaUs) },
          note: `before: ${med('before', (r) => r.replicaUs).toFixed(1)} µs`,
        },
        {
          metric: '  redis CPU per acked send, this tree',
          value: med('after', (r) => r.redisUs),
          unit: 'µs',
          ratio: { of: 'before', value: paired((r) => r.redisUs) },
          note: `before: ${med('before', (r) => r.redisUs).toFixed(1)} µs`,
        },
      ];
      return rows;
    } finally {
      await redis.stop();
    }
  },
};
