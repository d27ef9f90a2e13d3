// The load generator's event steps (issue 13, bench/fanout-events.ts), checked for correctness,
// never for speed: against two real chat replicas, every acked edit and reaction is counted once
// per room member — no more (the message each sender posted at setup is nobody's delivery), no
// less — with a latency for each, and reactions toggle so none is answered `unchanged`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../bench/load/histogram.js';
import { GeneratorHandle, type ChangeKind, type ClientPlan } from '../../bench/load/protocol.js';
import type { ServerProc } from '../../bench/load/servers.js';
import { JWT_SECRET, chatEnv } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService } from '../helpers/service.js';

const RECEIVERS = 8;
const SENDERS = 2;
const RATE = 20;

let redis: TestRedis;
let procs: ServerProc[] = [];
let gens: GeneratorHandle[] = [];

beforeAll(async () => {
  redis = await startRedis();
  procs = await Promise.all(
    [0, 1].map(async (i) => {
      const s = await startService(
        'chat',
        chatEnv(redis.url, `ev-gen-${i}`, { RATE_LIMIT_MESSAGES: '10000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', MAX_FRAMES_PER_SEC: '1000' }),
        { waitReady: true },
      );
      return { proc: s.proc, url: `ws://127.0.0.1:${s.port}/ws`, stop: async () => void (await s.stop('SIGKILL')) };
    }),
  );
  gens = [GeneratorHandle.spawn(), GeneratorHandle.spawn()];
  const plan = (user: string, i: number): ClientPlan => ({ user, url: procs[i % 2]!.url, rooms: ['bench'] });
  const receivers = Array.from({ length: RECEIVERS }, (_, i) => plan(`r${i}`, i));
  const senders = Array.from({ length: SENDERS }, (_, i) => plan(`s${i}`, i + 1));
  await Promise.all(
    gens.map((g, i) =>
      g.setup({
        target: 'aurora',
        secret: JWT_SECRET,
        receivers: receivers.filter((_, j) => j % 2 === i),
        senders: senders.filter((_, j) => j % 2 === i),
        origin: 'http://app.test',
        eventTargets: true,
      }),
    ),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(gens.map((g) => g.close()));
  await Promise.all(procs.map((p) => p.stop()));
  await redis?.stop();
});

describe('load generator event steps against AuroraChat', () => {
  const steps: [number, ChangeKind | undefined][] = [
    [1, 'edit'],
    [2, 'react'],
    [3, 'react'], // a second react step: each sender's reaction state carries over, still no `unchanged`
    [4, undefined],
  ];
  for (const [step, change] of steps) {
    it(`step ${step} (${change ?? 'messages'}): every acked ${change ?? 'message'} counted exactly once per member`, async () => {
      const sent = await Promise.all(gens.map((g) => g.run({ step, rate: RATE / 2, durationMs: 1000, payloadBytes: 64, ...(change ? { change } : {}) })));
      const acked = sent.reduce((a, s) => a + s.acked, 0);
      expect(sent.flatMap((s) => Object.entries(s.errors))).toEqual([]);
      expect(acked).toBe(RATE);
      const expected = acked * (RECEIVERS + SENDERS);
      const total = async () => (await Promise.all(gens.map((g) => g.count(step)))).reduce((a, b) => a + b, 0);
      await waitFor(async () => (await total()) >= expected, { timeoutMs: 20_000, what: `${expected} deliveries` });
      await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive within this
      const stats = await Promise.all(gens.map((g) => g.stats(step)));
      expect(stats.reduce((a, s) => a + s.deliveries, 0)).toBe(expected);
      expect(stats.reduce((a, s) => a + LatencyHistogram.fromSparse(s.hist).count, 0)).toBe(expected);
      expect(stats.reduce((a, s) => a + s.disconnected, 0)).toBe(0);
    }, 60_000);
  }
});
