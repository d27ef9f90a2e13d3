// The fan-out benchmark's instruments, checked for correctness (never for speed): the latency
// histogram's percentiles, and the load generator's accounting against each kind of server it
// measures — every acked message is counted once per room member, no more, no less, and the
// Socket.IO anchor answers the real socket.io-client as well as the generator's own wire client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GeneratorHandle, type ClientPlan, type TargetKind } from '../../bench/load/protocol.js';
import { LatencyHistogram } from '../../bench/load/histogram.js';
import { startAnchor, type ServerProc } from '../../bench/load/servers.js';
import { JWT_SECRET, chatEnv } from '../chat/client.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService } from '../helpers/service.js';

describe('latency histogram', () => {
  it('reports percentiles within 1/64 of the exact sample percentiles', () => {
    const h = new LatencyHistogram();
    const xs: number[] = [];
    let seed = 7;
    for (let i = 0; i < 50_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = Math.floor(Math.exp((seed / 2 ** 31) * 14)); // 1 µs .. ~1.2 s, log-spread
      xs.push(v);
      h.record(v);
    }
    xs.sort((a, b) => a - b);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = xs[Math.ceil((p / 100) * xs.length) - 1]!;
      expect(Math.abs(h.percentile(p) - exact)).toBeLessThanOrEqual(Math.max(1, exact / 64));
    }
    expect(h.count).toBe(50_000);
    expect(h.maxUs).toBe(xs[xs.length - 1]);
  });

  it('merges across processes through its sparse form without losing counts', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 0; i < 1000; i++) a.record(i);
    for (let i = 0; i < 1000; i++) b.record(10_000 + i * 100);
    const m = LatencyHistogram.fromSparse(JSON.parse(JSON.stringify(a.toSparse())));
    m.merge(LatencyHistogram.fromSparse(JSON.parse(JSON.stringify(b.toSparse()))));
    expect(m.count).toBe(2000);
    expect(m.percentile(50)).toBeLessThan(1000);
    expect(m.percentile(51)).toBeGreaterThanOrEqual(10_000);
    expect(m.maxUs).toBe(10_000 + 999 * 100);
  });
});

describe('load generator against each server kind', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const RECEIVERS = 12;
  const SENDERS = 2;
  const RATE = 20;

  async function servers(kind: TargetKind): Promise<ServerProc[]> {
    if (kind !== 'aurora') return Promise.all([startAnchor(kind, redis.url, JWT_SECRET), startAnchor(kind, redis.url, JWT_SECRET)]);
    return Promise.all(
      [0, 1].map(async (i) => {
        const s = await startService('chat', chatEnv(redis.url, `gen-test-${i}`, { RATE_LIMIT_MESSAGES: '10000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '1000' }), { waitReady: true });
        return { proc: s.proc, url: `ws://127.0.0.1:${s.port}/ws`, stop: async () => void (await s.stop('SIGKILL')) };
      }),
    );
  }

  for (const kind of ['seed', 'socketio', 'aurora'] as const) {
    it(`counts every acked ${kind} message exactly once per member, over two servers and two generators`, async () => {
      const procs = await servers(kind);
      const gens = [GeneratorHandle.spawn(), GeneratorHandle.spawn()];
      try {
        const plan = (user: string, i: number): ClientPlan => ({ user, url: procs[i % 2]!.url, rooms: ['bench'] });
        const receivers = Array.from({ length: RECEIVERS }, (_, i) => plan(`r${i}`, i));
        const senders = Array.from({ length: SENDERS }, (_, i) => plan(`s${i}`, i + 1));
        await Promise.all(
          gens.map((g, i) =>
            g.setup({
              target: kind,
              secret: JWT_SECRET,
              receivers: receivers.filter((_, j) => j % 2 === i),
              senders: senders.filter((_, j) => j % 2 === i),
              origin: 'http://app.test',
            }),
          ),
        );
        const sent = await Promise.all(gens.map((g) => g.run({ step: 1, rate: RATE / 2, durationMs: 1000, payloadBytes: 64 })));
        const acked = sent.reduce((a, s) => a + s.acked, 0);
        expect(sent.reduce((a, s) => a + s.sent, 0)).toBe(RATE);
        expect(acked).toBe(RATE);
        expect(sent.flatMap((s) => Object.keys(s.errors))).toEqual([]);
        const expected = acked * (RECEIVERS + SENDERS);
        const total = async () => (await Promise.all(gens.map((g) => g.count(1)))).reduce((a, b) => a + b, 0);
        await waitFor(async () => (await total()) >= expected, { timeoutMs: 20_000, what: `${expected} deliveries` });
        await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive within this
        const stats = await Promise.all(gens.map((g) => g.stats(1)));
        expect(stats.reduce((a, s) => a + s.deliveries, 0)).toBe(expected);
        expect(stats.reduce((a, s) => a + LatencyHistogram.fromSparse(s.hist).count, 0)).toBe(expected);
        expect(stats.reduce((a, s) => a + s.disconnected, 0)).toBe(0);
        expect(await total()).toBe(expected);
      } finally {
        await Promise.all(gens.map((g) => g.close()));
        await Promise.all(procs.map((p) => p.stop()));
      }
    }, 90_000);
  }
});
