// `npm run profile`: where a chat replica's CPU goes under a fan-out load. Starts a throwaway
// redis-server and ONE replica under `node --cpu-prof`, connects RECEIVERS members to one room
// and SENDERS sockets that send through the full path (frame parse, send script, ack, fan-out)
// at RATE msg/s for SECONDS, stops the replica with SIGTERM (the profile is written on exit)
// and prints the functions with the most self time, and the same time grouped by where the
// code lives (ws, ioredis, node internals, our services, GC...).
//
// PROFILE_RECEIVERS=0 profiles the send path instead: each sender alone in its room.
// The clients run in THIS process, so their CPU never shows in the replica's profile.
// Open the .cpuprofile it keeps in Chrome DevTools (Performance → Load profile) for the tree.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestClient, chatEnv, tokenFor } from '../test/chat/client.js';
import { waitFor } from '../test/helpers/ports.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startService } from '../test/helpers/service.js';
import { mainThreadSummary, topLines } from './cpuprofile.js';
import { cpuMs, envNumber as env } from './lib.js';

const RECEIVERS = env('PROFILE_RECEIVERS', 500, 0);
const SENDERS = env('PROFILE_SENDERS', 4);
const RATE = env('PROFILE_RATE', 100);
const SECONDS = env('PROFILE_SECONDS', 10);

/** With receivers, every sender posts to their room; without, each sender has a room of its own. */
const roomOf = (sender: number) => (RECEIVERS > 0 ? 'profile' : `solo-${sender}`);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-profile-'));
  const redis = await startRedis();
  const chat = await startService(
    'chat',
    chatEnv(redis.url, 'profiled', {
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MESSAGES: '100000', USER_SEND_MAX_MESSAGES: '1000000', USER_SEND_MAX_BYTES: '1073741824', ROOM_CREATE_MAX: '1000000', HANDSHAKE_MAX_PER_USER: '10000000', HANDSHAKE_MAX_PER_IP: '10000000',
      MAX_FRAMES_PER_SEC: '10000',
      INGEST_MAX_BACKLOG: '100000000',
    }),
    { waitReady: true, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] },
  );
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < RECEIVERS; i++) {
      const c = await TestClient.connect(chat.baseUrl, tokenFor(`r${i}`));
      // Count deliveries without keeping 10^5 parsed frames: the profile is the replica's.
      c.ws.removeAllListeners('message');
      c.send({ type: 'join', room: 'profile' });
      clients.push(c);
    }
    const senders: TestClient[] = [];
    for (let i = 0; i < SENDERS; i++) {
      const s = await TestClient.connect(chat.baseUrl, tokenFor(`s${i}`));
      s.send({ type: 'join', room: roomOf(i) });
      await s.next('joined');
      senders.push(s);
    }
    clients.push(...senders);
    let delivered = 0;
    let acked = 0;
    for (const c of clients.slice(0, RECEIVERS)) c.ws.on('message', () => delivered++);
    for (const s of senders) {
      s.ws.removeAllListeners('message');
      s.ws.on('message', (data: Buffer) => {
        if (data.includes('"type":"ack"')) acked++;
        else if (data.includes('"type":"error"')) throw new Error(`send refused: ${data.toString()}`);
      });
    }
    const total = RATE * SECONDS;
    const cpu0 = cpuMs(chat.proc.pid!);
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      senders[i % SENDERS]!.send({ type: 'send', room: roomOf(i % SENDERS), text: `profile message ${i} ${'x'.repeat(100)}`, cid: `p${i}` });
    }
    await waitFor(() => acked >= total && delivered >= total * RECEIVERS, { timeoutMs: 120_000, what: 'every ack and delivery' });
    const secs = (performance.now() - t0) / 1000;
    const cpu = cpuMs(chat.proc.pid!) - cpu0;
    process.stdout.write(
      `${RECEIVERS} receivers, ${SENDERS} senders, ${RATE} msg/s for ${SECONDS} s: ${acked} acks (${Math.round(acked / secs)}/s), ` +
        `${delivered} deliveries in ${secs.toFixed(1)} s; replica CPU ${((100 * cpu) / (secs * 1000)).toFixed(0)} % of a core, ` +
        `${((cpu * 1000) / acked).toFixed(1)} µs per send` +
        (delivered > 0 ? `, ${((cpu * 1000) / delivered).toFixed(2)} µs per delivery\n` : '\n'),
    );
  } finally {
    for (const c of clients) c.ws.terminate();
    await chat.stop('SIGTERM');
    await redis.stop();
  }
  const found = mainThreadSummary(dir);
  if (!found) throw new Error(`no .cpuprofile written in ${dir}`);
  const { busy, byWhere, self, incl } = found.summary;
  process.stdout.write(
    [
      '\nbusy time by where the code lives (idle excluded):',
      ...topLines(byWhere, busy, 20),
      '\ntop functions by self time:',
      ...topLines(self, busy, 30),
      '\ntop functions by inclusive time:',
      ...topLines(incl, busy, 30),
      `\nprofile: ${found.file}\n`,
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
