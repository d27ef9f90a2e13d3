// Chat micro-benchmark (not a test): `npx tsx test/chat/bench.ts`
//  1. messages/s through the send script (one EVALSHA per message, `CONCURRENCY` in flight)
//     against a throwaway redis-server;
//  2. fan-out CPU per delivery: a real chat replica process with `SOCKETS` members in one room,
//     `MESSAGES` messages published through the send script; the replica's CPU time (from
//     /proc/<pid>/stat) divided by the deliveries.
//  3. end-to-end: ws send -> ack round trips through a replica, for latency percentiles.
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../services/shared/config.js';
import { keysFor } from '../../services/shared/keys.js';
import { createSendScript } from '../../services/chat/send-script.js';
import { startRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { waitFor } from '../helpers/ports.js';
import { TestClient, chatEnv, tokenFor } from './client.js';

const SEND_COUNT = Number(process.env.SEND_COUNT ?? 20_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const SOCKETS = Number(process.env.SOCKETS ?? 200);
const MESSAGES = Number(process.env.MESSAGES ?? 500);

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, clock ticks at 100 Hz
}

const redis = await startRedis();
const env = { REDIS_URL: redis.url, RATE_LIMIT_MESSAGES: '100000', INGEST_MAX_BACKLOG: '100000000', LOG_LEVEL: 'silent' };
const config = loadConfig('chat', env);
const keys = keysFor(config.PARTITIONS);
const client = redis.client();
const send = createSendScript(client, keys, config);

let chat: RunningService | undefined;
try {
  // 1. send script throughput
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (next < SEND_COUNT) {
        const i = next++;
        const r = await send(`room${i % 100}`, { id: `u${w}`, name: `user${w}` }, `message number ${i}`, `c${i}`);
        if (r.kind !== 'ok') throw new Error(`unexpected ${r.kind}`);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(`send script: ${SEND_COUNT} messages in ${secs.toFixed(2)} s = ${Math.round(SEND_COUNT / secs)} msg/s (concurrency ${CONCURRENCY}, one round trip each)\n`);
  await client.flushall();

  // 2. fan-out CPU per delivery
  chat = await startService('chat', chatEnv(redis.url, 'bench', { LOG_LEVEL: 'warn', RATE_LIMIT_MESSAGES: '100000', MAX_FRAMES_PER_SEC: '10000' }));
  const clients: TestClient[] = [];
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
  await waitFor(() => clients.every((c) => c.all('message').length >= MESSAGES), { timeoutMs: 120_000, what: 'all deliveries' });
  const elapsed = (performance.now() - t1) / 1000;
  const cpu = cpuMs(pid) - cpu0;
  const deliveries = SOCKETS * MESSAGES;
  process.stdout.write(
    `fan-out: ${MESSAGES} messages x ${SOCKETS} sockets = ${deliveries} deliveries in ${elapsed.toFixed(2)} s; ` +
      `replica CPU ${cpu.toFixed(0)} ms = ${((cpu * 1000) / deliveries).toFixed(2)} µs per delivery\n`,
  );

  // 3. end-to-end ack latency, one sender (a direct listener, no polling)
  const s = clients[0]!;
  const lat: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    const cid = `e2e-${i}`;
    const reply = await new Promise<{ type: string }>((resolve) => {
      const onMsg = (data: Buffer) => {
        const f = JSON.parse(data.toString()) as { type: string; cid?: string; ref?: string };
        if ((f.type === 'ack' && f.cid === cid) || (f.type === 'error' && f.ref === cid)) {
          s.ws.off('message', onMsg);
          resolve(f);
        }
      };
      s.ws.on('message', onMsg);
      s.send({ type: 'send', room: 'fanout', text: `e2e ${i}`, cid });
    });
    if (reply.type === 'ack') lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!.toFixed(2);
  process.stdout.write(`ws send -> ack (${lat.length} sends, ${SOCKETS} members): p50 ${p(0.5)} ms, p99 ${p(0.99)} ms\n`);
  for (const c of clients) c.ws.terminate();
} finally {
  await chat?.stop('SIGKILL');
  await redis.stop();
}
