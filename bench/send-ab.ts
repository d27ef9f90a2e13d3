// The send script before and after issue 13, A/B on one redis-server (used by chat.bench.ts).
// Issue 13 made send.lua also write the message index entry (an XADD with MINID trimming and an
// EXPIRE) that edits, deletes, reactions and replies are authorised against; the issue asks
// that the send path's acked/s stay within 5 % of before. Same machine, same run:
// - ROUNDS rounds; each runs both scripts, `count` top-level sends each with `concurrency` in
//   flight on one connection, in alternating order (ABBA...) so drift in machine load falls on
//   both alike. Every run starts from FLUSHALL (state equal: same rooms to create, empty
//   streams); the flush is not timed.
// - Per run: sends/s, and redis-server CPU per send (/proc/<pid>/stat): the Lua's own cost,
//   less sensitive to this process competing for the cores than the rate is.
// - Reported: the medians of each, and the median of the per-round ratios new / old (paired:
//   a round's two runs saw the same conditions).
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { createSendScript } from '../services/chat/send-script.js';
import type { Config } from '../services/shared/config.js';
import type { Keys } from '../services/shared/keys.js';
import { createWave1SendScript } from './anchors/send-wave1.js';
import { cpuMs, median } from './lib.js';

/** Runs `count` async jobs with `concurrency` in flight; returns jobs per second. */
export async function rate(count: number, concurrency: number, job: (i: number, worker: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (next < count) await job(next++, w);
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

export interface SendAB {
  rounds: number;
  /** Medians over the rounds. */
  newRate: number;
  oldRate: number;
  newRedisUs: number;
  oldRedisUs: number;
  /** Median of the per-round new / old ratios. */
  rateRatio: number;
  redisCpuRatio: number;
  /** Every round's rates, for the log. */
  perRound: { newRate: number; oldRate: number }[];
}

export async function sendAB(
  client: Redis,
  keys: Keys,
  config: Config,
  opts: { rounds: number; count: number; concurrency: number },
  log: (l: string) => void,
): Promise<SendAB> {
  const redisPid = Number(/process_id:(\d+)/.exec(await client.info('server'))![1]);
  const sendNew = createSendScript(client, keys, config);
  const sendOld = createWave1SendScript(client, keys, config);
  // The same sends as the chat benchmark's: 100 rooms, one user per connection slot.
  const runs = {
    new: async (i: number, w: number) => {
      const r = await sendNew(`room${i % 100}`, { id: `u${w}`, name: `user${w}` }, `message number ${i}`, `c${i}`);
      if (r.kind !== 'ok') throw new Error(`send script answered ${r.kind}`);
    },
    old: async (i: number, w: number) => {
      const r = await sendOld(`room${i % 100}`, { id: `u${w}`, name: `user${w}` }, `message number ${i}`, `c${i}`);
      if (r !== 'ok') throw new Error(`wave-1 send script answered ${r}`);
    },
  };
  const one = async (which: 'new' | 'old') => {
    await client.flushall();
    const cpu0 = cpuMs(redisPid);
    const r = await rate(opts.count, opts.concurrency, runs[which]);
    return { rate: r, redisUs: ((cpuMs(redisPid) - cpu0) * 1000) / opts.count };
  };
  // One untimed pass each: script load (EVAL then EVALSHA), JIT, allocator.
  for (const which of ['old', 'new'] as const) {
    await client.flushall();
    await rate(Math.min(opts.count, 2000), opts.concurrency, runs[which]);
  }
  const got = { new: [] as { rate: number; redisUs: number }[], old: [] as { rate: number; redisUs: number }[] };
  for (let r = 0; r < opts.rounds; r++) {
    const order: ('new' | 'old')[] = r % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
    for (const which of order) got[which].push(await one(which));
    log(`  round ${r + 1}: wave 1 ${Math.round(got.old[r]!.rate)}/s (redis ${got.old[r]!.redisUs.toFixed(1)} µs/send), issue 13 ${Math.round(got.new[r]!.rate)}/s (redis ${got.new[r]!.redisUs.toFixed(1)} µs/send)`);
  }
  await client.flushall();
  const ratios = got.new.map((n, i) => n.rate / got.old[i]!.rate);
  // Redis CPU is read in 10 ms clock ticks: a short round (the smoke run's) can show none, and
  // a ratio over 0 says nothing — such rounds are left out (NaN when none is left).
  const cpuRatios = got.new.map((n, i) => n.redisUs / got.old[i]!.redisUs).filter((r) => Number.isFinite(r) && r > 0);
  return {
    rounds: opts.rounds,
    newRate: median(got.new.map((x) => x.rate)),
    oldRate: median(got.old.map((x) => x.rate)),
    newRedisUs: median(got.new.map((x) => x.redisUs)),
    oldRedisUs: median(got.old.map((x) => x.redisUs)),
    rateRatio: median(ratios),
    redisCpuRatio: cpuRatios.length > 0 ? median(cpuRatios) : Number.NaN,
    perRound: got.new.map((n, i) => ({ newRate: n.rate, oldRate: got.old[i]!.rate })),
  };
}
