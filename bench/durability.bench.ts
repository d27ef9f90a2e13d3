// What an ack survives when Redis is killed -9 (README "What an ack promises"), and what the
// stronger setting costs: the real send script (services/chat/send-script.ts) against a real
// redis-server with AOF on, under `appendfsync everysec` (the default) and `always`, with the
// disk quiet and with it busy.
//
// Why the disk matters: under everysec Redis fsyncs the AOF in a background thread once a
// second, and while such an fsync is still running it POSTPONES the write() of new AOF data for
// up to 2 s — yet keeps executing commands and answering them (redis src/aof.c
// flushAppendOnlyFile, "postpone the flush"; only past 2 s does it log "Asynchronous AOF fsync is
// taking too long" and count aof_delayed_fsync). Acked writes then live only in Redis's memory,
// not even in the page cache, and a kill -9 loses them. A quiet disk finishes each fsync in
// milliseconds, so the window is rarely open; a busy one (another process writing and syncing on
// the same filesystem) holds it open. `always` writes and fsyncs before any reply of the event
// loop's turn leaves, so nothing acked can be lost — at the price of an fsync per turn.
//
// Method, per setting × disk, ROUNDS rounds of SECONDS each:
// - a fresh redis-server (AOF on, the setting under test); with a busy disk, a process group
//   that writes 1 GiB files into a sibling directory of the same filesystem and runs `sync` in a loop;
// - CONCURRENCY sends in flight into 20 rooms through createSendScript, each acked id recorded;
// - kill -9 while sends are in flight, stop the disk load, start Redis on the same AOF, and look
//   up every acked id in its room log: an acked id that is not there is a lost ack.
// Reported: acked sends/s (the ratio to everysec on the same disk), lost acks over all rounds and
// how many rounds lost any. Sizes: BENCH_DURABILITY_ROUNDS (5), BENCH_DURABILITY_SECONDS (4),
// BENCH_DURABILITY_DISK (both | quiet | busy).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createSendScript } from '../services/chat/send-script.js';
import { loadConfig } from '../services/shared/config.js';
import { keysFor } from '../services/shared/keys.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { envNumber as env, median, type BenchRow, type Benchmark } from './lib.js';

const ROUNDS = env('BENCH_DURABILITY_ROUNDS', 5, 1);
const SECONDS = env('BENCH_DURABILITY_SECONDS', 4, 0.5);
const DISK = (process.env.BENCH_DURABILITY_DISK ?? 'both') as 'both' | 'quiet' | 'busy';
if (!['both', 'quiet', 'busy'].includes(DISK)) throw new Error(`BENCH_DURABILITY_DISK must be both, quiet or busy (got ${DISK})`);
const CONCURRENCY = 16;
const ROOMS = 20;
const SETTINGS = ['everysec', 'always'] as const;
type Fsync = (typeof SETTINGS)[number];
type Disk = 'quiet' | 'busy';

interface Round {
  acked: number;
  lost: number;
  rate: number;
}

/** Another writer on the same filesystem: 1 GiB files of dirty pages, and `sync` in a loop. */
function busyDisk(): { stop(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-bench-busy-disk-'));
  const script = `while true; do dd if=/dev/zero of=${dir}/fill bs=1M count=1024 2>/dev/null; sync; done & while true; do sync; done`;
  const proc: ChildProcess = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  return {
    stop() {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function oneRound(fsync: Fsync, disk: Disk, round: number): Promise<Round> {
  const redis = await startRedis({ appendonly: true, appendfsync: fsync });
  const config = loadConfig('chat', { REDIS_URL: redis.url, RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', INGEST_MAX_BACKLOG: '100000000' });
  const keys = keysFor(config.PARTITIONS);
  // No retries and no reconnect: a send in flight at the kill must fail, not be replayed on the
  // restarted server (it would then be acked after the restart and prove nothing).
  const client = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  const send = createSendScript(client, keys, config);
  const acked: { room: string; id: string }[] = [];
  const load = disk === 'busy' ? busyDisk() : undefined;
  let stopped = false;
  let n = 0;
  const t0 = performance.now();
  let tKill = 0;
  let failed: unknown;
  const worker = async (w: number) => {
    while (!stopped) {
      const i = n++;
      const room = `dur${i % ROOMS}`;
      try {
        const r = await send(room, { id: `u${w}`, name: `user${w}` }, `durability ${fsync} ${disk} ${round} #${i}`, `c${round}-${i}`);
        if (r.kind !== 'ok') throw new Error(`send script answered ${r.kind}`);
        // An ack that arrived after the kill was read before it (the reply was in the socket).
        acked.push({ room, id: r.id });
      } catch (err) {
        if (!stopped) throw err;
      }
    }
  };
  // A send refused before the kill ends the round (and the run) instead of going unnoticed.
  const workers = Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w))).catch((err: unknown) => {
    failed ??= err;
    stopped = true;
  });
  try {
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    stopped = true;
    tKill = performance.now();
    await redis.kill();
    await workers;
    if (failed) throw failed;
  } finally {
    stopped = true;
    load?.stop();
    client.disconnect();
  }
  try {
    await redis.start();
    const check = redis.client();
    const present = new Set<string>();
    for (let r = 0; r < ROOMS; r++) {
      for (const [id] of (await check.xrange(keys.roomLog(`dur${r}`), '-', '+')) as [string, string[]][]) present.add(`dur${r} ${id}`);
    }
    const lost = acked.filter((a) => !present.has(`${a.room} ${a.id}`)).length;
    return { acked: acked.length, lost, rate: acked.length / ((tKill - t0) / 1000) };
  } finally {
    await redis.stop();
  }
}

export const durabilityBenchmark: Benchmark = {
  name: 'durability',
  description: `acked sends lost when Redis is killed -9 (send script, AOF on), appendfsync everysec vs always, disk ${DISK === 'both' ? 'quiet and busy' : DISK}; ${ROUNDS} rounds of ${SECONDS} s, ${CONCURRENCY} sends in flight`,
  async run(log) {
    const rows: BenchRow[] = [];
    const disks: Disk[] = DISK === 'both' ? ['quiet', 'busy'] : [DISK];
    for (const disk of disks) {
      const rates = new Map<Fsync, number>();
      for (const fsync of SETTINGS) {
        const rounds: Round[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const got = await oneRound(fsync, disk, r);
          rounds.push(got);
          log(`${fsync}, disk ${disk}, round ${r + 1}: ${got.acked} acked (${Math.round(got.rate)}/s), ${got.lost} lost after kill -9 and restart`);
        }
        const rate = median(rounds.map((x) => x.rate));
        rates.set(fsync, rate);
        const lost = rounds.reduce((a, x) => a + x.lost, 0);
        const acked = rounds.reduce((a, x) => a + x.acked, 0);
        rows.push({
          metric: `${fsync}, disk ${disk}: acked sends/s`,
          value: rate,
          unit: 'sends/s',
          ...(fsync === 'always' ? { ratio: { of: `everysec, disk ${disk}`, value: rate / rates.get('everysec')! } } : {}),
          note: `median of ${ROUNDS} rounds`,
        });
        rows.push({
          metric: `${fsync}, disk ${disk}: acked sends lost to kill -9`,
          value: lost,
          unit: 'sends',
          // always: the promise is none; everysec promises nothing on a kill -9 (README)
          ...(fsync === 'always' ? { target: { op: '<' as const, value: 1 } } : {}),
          note: `of ${acked} acked; ${rounds.filter((x) => x.lost > 0).length} of ${ROUNDS} rounds lost any`,
        });
      }
    }
    return rows;
  },
};
