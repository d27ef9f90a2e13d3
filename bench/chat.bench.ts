// Chat benchmark: the send path and live fan-out of one real replica process.
//
// Method (every figure is paired with an anchor measured in the same run, so a loaded or slower
// machine still gives a meaningful ratio):
// - Send script throughput: SEND_COUNT sends through the real send script (one EVALSHA each,
//   CONCURRENCY in flight) against a throwaway redis-server. Anchor: plain PING round trips with
//   the same concurrency on the same connection — the ceiling for "one round trip per send".
// - Send script before and after issue 13 (message index): A/B rounds on the same redis-server
//   against the old script kept in bench/anchors/send-wave1.lua (send-ab.ts; BENCH_SEND_AB_ROUNDS).
// - Fan-out: a replica process with SOCKETS members in one room; MESSAGES messages published
//   through the send script; the replica's CPU time (/proc/<pid>/stat) per delivered frame, and
//   the wall time until every member has every message.
// - Latency: one member sends and times send -> ack and send -> seen by another member (both
//   through Redis and back). Anchor: the protocol's ping -> pong through the same replica (no
//   Redis), so the ratio says what the send path costs over a bare frame round trip.
import { performance } from 'node:perf_hooks';
import { createSendScript } from '../services/chat/send-script.js';
import { loadConfig } from '../services/shared/config.js';
import { keysFor } from '../services/shared/keys.js';
import { TestClient, chatEnv, tokenFor } from '../test/chat/client.js';
import { waitFor } from '../test/helpers/ports.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startService, type RunningService } from '../test/helpers/service.js';
import { cpuMs, envNumber as env, percentile, type BenchRow, type Benchmark } from './lib.js';
import { rate, sendAB } from './send-ab.js';

const SEND_COUNT = env('BENCH_SENDS', 20_000);
const CONCURRENCY = env('BENCH_CONCURRENCY', 64);
const SOCKETS = env('BENCH_SOCKETS', 200);
const MESSAGES = env('BENCH_FANOUT_MESSAGES', 500);
const ROUND_TRIPS = env('BENCH_ROUND_TRIPS', 300);
const AB_ROUNDS = env('BENCH_SEND_AB_ROUNDS', 6, 1);

/** Sends one frame on `from` and resolves when `done` matches a frame on `on`; returns ms. */
function roundTrip(from: TestClient, on: TestClient, frame: object, done: (f: any) => boolean): Promise<number> {
  return new Promise((resolve) => {
    const t = performance.now();
    const onMsg = (data: Buffer) => {
      if (done(JSON.parse(data.toString()))) {
        on.ws.off('message', onMsg);
        resolve(performance.now() - t);
      }
    };
    on.ws.on('message', onMsg);
    from.send(frame);
  });
}

export const chatBenchmark: Benchmark = {
  name: 'chat',
  description: `send script, fan-out to ${SOCKETS} sockets on one replica, send/ack latency in a room of two`,
  async run(log) {
    const redis = await startRedis();
    const config = loadConfig('chat', { REDIS_URL: redis.url, RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', INGEST_MAX_BACKLOG: '100000000' });
    const keys = keysFor(config.PARTITIONS);
    const client = redis.client();
    const send = createSendScript(client, keys, config);
    let chat: RunningService | undefined;
    const clients: TestClient[] = [];
    try {
      const pingRate = await rate(SEND_COUNT, CONCURRENCY, async () => {
        await client.ping();
      });
      const sendRate = await rate(SEND_COUNT, CONCURRENCY, async (i, w) => {
        const r = await send(`room${i % 100}`, { id: `u${w}`, name: `user${w}` }, `message number ${i}`, `c${i}`);
        if (r.kind !== 'ok') throw new Error(`send script answered ${r.kind}`);
      });
      log(`PING ${Math.round(pingRate)}/s, send script ${Math.round(sendRate)} msg/s (${CONCURRENCY} in flight)`);
      log(`send script A/B, wave 1 (bench/anchors/send-wave1.lua) vs issue 13, ${AB_ROUNDS} rounds of ${SEND_COUNT} sends each:`);
      const ab = await sendAB(client, keys, config, { rounds: AB_ROUNDS, count: SEND_COUNT, concurrency: CONCURRENCY }, log);
      await client.flushall();

      chat = await startService(
        'chat',
        chatEnv(redis.url, 'bench', { LOG_LEVEL: 'warn', RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000', MAX_FRAMES_PER_SEC: '10000', INGEST_MAX_BACKLOG: '100000000' }),
        { waitReady: true },
      );
      for (let i = 0; i < SOCKETS; i++) {
        const c = await TestClient.connect(chat.baseUrl, tokenFor(`m${i}`));
        await c.join('fanout');
        clients.push(c);
      }
      const pid = chat.proc.pid!;
      const cpu0 = cpuMs(pid);
      const t1 = performance.now();
      for (let i = 0; i < MESSAGES; i++) {
        await send('fanout', { id: 'sender', name: 'sender' }, `fan-out message ${i} ${'x'.repeat(100)}`, `f${i}`);
      }
      const fanoutClients = [...clients];
      await waitFor(() => fanoutClients.every((c) => c.all('message').length >= MESSAGES), { timeoutMs: 300_000, what: 'every delivery' });
      const fanoutSecs = (performance.now() - t1) / 1000;
      const deliveries = SOCKETS * MESSAGES;
      const cpuPerDeliveryUs = ((cpuMs(pid) - cpu0) * 1000) / deliveries;
      log(`${deliveries} deliveries in ${fanoutSecs.toFixed(2)} s, replica CPU ${cpuPerDeliveryUs.toFixed(2)} µs per delivery`);

      // Latency in a room of two: with the 200 fan-out members in this same process, every
      // send would also be parsed 200 times here and the figure would measure the harness.
      const sender = await TestClient.connect(chat.baseUrl, tokenFor('lat-sender'));
      const watcher = await TestClient.connect(chat.baseUrl, tokenFor('lat-watcher'));
      clients.push(sender, watcher);
      await sender.join('latency');
      await watcher.join('latency');
      const pings: number[] = [];
      const acks: number[] = [];
      const seen: number[] = [];
      // The anchor first, on a quiet replica: interleaved, a ping would queue behind the
      // previous message's 200 socket writes and measure fan-out instead of a round trip.
      for (let i = 0; i < ROUND_TRIPS; i++) {
        pings.push(await roundTrip(sender, sender, { type: 'ping', t: i }, (f) => f.type === 'pong' && f.t === i));
      }
      for (let i = 0; i < ROUND_TRIPS; i++) {
        acks.push(await roundTrip(sender, sender, { type: 'send', room: 'latency', text: `a${i}`, cid: `a${i}` }, (f) => f.type === 'ack' && f.cid === `a${i}`));
        seen.push(await roundTrip(sender, watcher, { type: 'send', room: 'latency', text: `s${i}`, cid: `s${i}` }, (f) => f.type === 'message' && f.cid === `s${i}`));
      }
      for (const xs of [pings, acks, seen]) xs.sort((a, b) => a - b);
      const p50Ping = percentile(pings, 50);
      const rows: BenchRow[] = [
        { metric: 'PING round trips (anchor)', value: pingRate, unit: 'ops/s' },
        { metric: 'send script', value: sendRate, unit: 'msg/s', ratio: { of: 'PING', value: sendRate / pingRate } },
        { metric: 'send script before issue 13 (anchor)', value: ab.oldRate, unit: 'msg/s', note: `A/B median of ${ab.rounds} rounds; redis ${ab.oldRedisUs.toFixed(1)} µs CPU/send` },
        { metric: 'send script with the message index', value: ab.newRate, unit: 'msg/s', ratio: { of: 'wave 1', value: ab.newRate / ab.oldRate }, note: `ratio of the medians; redis ${ab.newRedisUs.toFixed(1)} µs CPU/send` },
        {
          metric: '  with the index / wave 1, per round',
          value: ab.rateRatio,
          unit: 'x',
          target: { op: '>=', value: 0.95 },
          note: `median of the per-round ratios (${ab.perRound.map((r) => (r.newRate / r.oldRate).toFixed(2)).join(', ')}); target: within 5 %`,
        },
        ...(Number.isNaN(ab.redisCpuRatio)
          ? []
          : [{ metric: '  redis CPU per send, with the index / wave 1', value: ab.redisCpuRatio, unit: 'x', note: 'median of the per-round ratios' }]),
        { metric: `fan-out wall time, ${SOCKETS} sockets`, value: deliveries / fanoutSecs, unit: 'deliveries/s' },
        { metric: 'fan-out replica CPU', value: cpuPerDeliveryUs, unit: 'µs/delivery' },
        { metric: 'ping -> pong p50 (anchor)', value: p50Ping, unit: 'ms' },
        { metric: 'send -> ack p50', value: percentile(acks, 50), unit: 'ms', ratio: { of: 'ping p50', value: percentile(acks, 50) / p50Ping } },
        { metric: 'send -> ack p99', value: percentile(acks, 99), unit: 'ms' },
        { metric: 'send -> other member p50', value: percentile(seen, 50), unit: 'ms', ratio: { of: 'ping p50', value: percentile(seen, 50) / p50Ping } },
        { metric: 'send -> other member p99', value: percentile(seen, 99), unit: 'ms', target: { op: '<', value: 100 }, note: 'reference design: sub-100 ms delivery' },
      ];
      return rows;
    } finally {
      for (const c of clients) c.ws.terminate();
      await chat?.stop('SIGKILL');
      await redis.stop();
    }
  },
};
