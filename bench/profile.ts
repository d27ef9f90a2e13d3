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
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestClient, chatEnv, tokenFor } from '../test/chat/client.js';
import { waitFor } from '../test/helpers/ports.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startService } from '../test/helpers/service.js';
import { cpuMs, envNumber as env } from './lib.js';

const RECEIVERS = env('PROFILE_RECEIVERS', 500, 0);
const SENDERS = env('PROFILE_SENDERS', 4);
const RATE = env('PROFILE_RATE', 100);
const SECONDS = env('PROFILE_SECONDS', 10);

/** With receivers, every sender posts to their room; without, each sender has a room of its own. */
const roomOf = (sender: number) => (RECEIVERS > 0 ? 'profile' : `solo-${sender}`);

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)' || fn === '(root)') return fn;
  if (url.includes('/node_modules/ws/')) return 'ws';
  if (url.includes('/node_modules/ioredis/') || url.includes('/node_modules/@ioredis/') || url.includes('redis-parser')) return 'ioredis';
  if (url.includes('/node_modules/prom-client/')) return 'prom-client';
  if (url.includes('/node_modules/pino')) return 'pino';
  if (url.includes('/services/')) return 'services (ours)';
  if (url.startsWith('node:') || url === '') return 'node internals / native';
  return 'other';
}

function summarise(profile: CpuProfile): void {
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFn = new Map<string, number>();
  const byWhere = new Map<string, number>();
  let busy = 0;
  for (const n of profile.nodes) {
    const us = self.get(n.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const w = where(url, functionName);
    byWhere.set(w, (byWhere.get(w) ?? 0) + us);
    if (w === '(idle)') continue;
    busy += us;
    const short = url.replace(/^.*\/(node_modules\/)?/, '');
    const key = `${functionName || '(anonymous)'}  ${short}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  process.stdout.write(`\nbusy time by where the code lives (idle excluded):\n`);
  for (const [w, us] of [...byWhere].filter(([w]) => w !== '(idle)').sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`  ${pct(us)}  ${w}\n`);
  }
  process.stdout.write(`\ntop functions by self time:\n`);
  for (const [k, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 30)) process.stdout.write(`  ${pct(us)}  ${k}\n`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aurora-profile-'));
  const redis = await startRedis();
  const chat = await startService(
    'chat',
    chatEnv(redis.url, 'profiled', {
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MESSAGES: '100000',
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
  // tsx's module loader runs on its own thread, which writes its own (small) profile: the
  // main thread's is the biggest.
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size)[0];
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
  process.stdout.write(`\nprofile: ${join(dir, file)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
