// The SDK against the real thing: a users service and two chat replicas on a real redis-server,
// clients built with createClient exactly as a bot would (REST sign-in, /config.json for the
// replica URLs, `ws` as the WebSocket). It proves the SDK's promises: acked sends arrive once and
// in order; a replica killed with -9 costs nothing — the client moves to the other replica,
// resumes with `since`, re-sends what was in flight with the same cid, and hands every message
// to its handler exactly once; the access token is refreshed in-band before it expires; a
// refusal rejects with the server's code; and README's bot (sdk/examples/bot.mjs) runs as is.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, waitFor } from '../../test/helpers/ports.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { startService, type RunningService } from '../../test/helpers/service.js';
import { createClient, OutboxError, compareIds, type Client, type MessageFrame } from '../src/index.js';

const JWT_SECRET = 'sdk-test-secret-0123456789abcdef0123456';
const PASSWORD = 'a long enough password';
// Short-lived access tokens, so the in-band refresh happens within the test.
const TOKEN_TTL_SEC = 12;

let redis: TestRedis;
let dir: string;
let users: RunningService;
let chat: RunningService[] = [];
let chatEnv: Record<string, string>[] = [];
const clients: Client[] = [];

async function signedIn(username: string, opts: Parameters<typeof createClient>[0] = {}): Promise<Client> {
  const client = createClient({ base: users.baseUrl, WebSocket, connection: { baseDelayMs: 100, maxDelayMs: 1_000 }, ...opts });
  clients.push(client);
  await client.register(username, PASSWORD);
  await client.login(username, PASSWORD);
  return client;
}

function received(client: Client): MessageFrame[] {
  const got: MessageFrame[] = [];
  client.on('message', (m) => got.push(m));
  return got;
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'aurora-sdk-'));
  const ports = await freePorts(2);
  const common = { REDIS_URL: redis.url, JWT_SECRET, LOG_LEVEL: 'warn', PARTITIONS: '2', ACCESS_TOKEN_TTL_SEC: String(TOKEN_TTL_SEC) };
  users = await startService('users', {
    ...common,
    SQLITE_PATH: join(dir, 'aurora.db'),
    BCRYPT_COST: '4',
    PUBLIC_WS_URL: ports.map((p) => `ws://127.0.0.1:${p}/ws`).join(','),
  });
  chatEnv = ports.map((port, i) => ({ ...common, PORT: String(port), REPLICA_ID: `chat-${i}`, SHUTDOWN_DRAIN_MS: '200' }));
  chat = await Promise.all(chatEnv.map((env) => startService('chat', env, { waitReady: true })));
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([users, ...chat].filter(Boolean).map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('@aurorachat/client against real services', () => {
  it('signs in, finds the replicas in /config.json, joins, and delivers acked sends once and in order', async () => {
    const alice = await signedIn('sdk_alice');
    const bob = await signedIn('sdk_bob');
    const got = received(bob);
    await alice.join('sdk-room');
    const earlier = await alice.send('sdk-room', 'before bob came');
    const joined = await bob.join('sdk-room');
    expect(joined.room).toBe('sdk-room');
    // A first join's backlog is history: in `joined`, not handed out as a new `message`.
    expect(joined.messages.map((m) => m.id)).toContain(earlier.id);

    const acks = [];
    for (let i = 0; i < 20; i++) acks.push(await alice.send('sdk-room', `hello ${i}`));
    for (const a of acks) expect(a).toMatchObject({ type: 'ack', id: expect.any(String) });
    await waitFor(() => got.length >= 20, { what: '20 live messages' });
    expect(got.map((m) => m.id)).toEqual(acks.map((a) => a.id));
    expect(got.map((m) => m.text)).toEqual(acks.map((_, i) => `hello ${i}`));
    expect(bob.newestId('sdk-room')).toBe(acks.at(-1)!.id);
  });

  it('rejects a refused send with the server code, and keeps working', async () => {
    const carol = await signedIn('sdk_carol');
    await carol.join('sdk-room');
    const err = await carol.send('sdk-room', 'x'.repeat(4_001)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboxError);
    expect((err as OutboxError).code).toBe('too_long');
    await expect(carol.send('sdk-room', 'still here')).resolves.toMatchObject({ type: 'ack' });
  });

  it('survives kill -9 of its replica: reconnects to the other, resumes, re-sends in flight, delivers each message once', async () => {
    const dave = await signedIn('sdk_dave');
    const erin = await signedIn('sdk_erin');
    const got = received(erin);
    const states: string[] = [];
    erin.on('state', (s) => states.push(`${s.state}:${s.replica ?? ''}`));
    await dave.join('sdk-kill');
    await erin.join('sdk-kill');
    const erinReplica = erin.connection!.replica!;
    const idx = chatEnv.findIndex((env) => env.REPLICA_ID === erinReplica);
    expect(idx).toBeGreaterThanOrEqual(0);
    const victim = chat[idx]!;

    // Dave sends throughout; Erin's replica dies in the middle.
    const sends: Promise<{ id: string }>[] = [];
    for (let i = 0; i < 30; i++) {
      sends.push(dave.send('sdk-kill', `m ${i}`));
      if (i === 10) await victim.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 20));
    }
    const acks = await Promise.all(sends);
    const ids = acks.map((a) => a.id);
    expect(new Set(ids).size).toBe(30);

    await waitFor(() => got.length >= 30, { what: 'erin has all 30 messages', timeoutMs: 20_000 });
    // Exactly once, in id order, nothing missing — across the kill.
    expect(got.map((m) => m.id)).toEqual([...ids].sort(compareIds));
    expect(erin.connection!.replica).not.toBe(erinReplica);
    expect(states.some((s) => s.startsWith('reconnecting'))).toBe(true);
    // Restart the killed replica for the tests after this one.
    chat[idx] = await startService('chat', chatEnv[idx]!, { waitReady: true });
  }, 60_000);

  it('refreshes the access token in-band before it expires: the socket outlives several token lifetimes', async () => {
    const frank = await signedIn('sdk_frank');
    const authed: number[] = [];
    frank.on('authed', (f) => authed.push(f.exp));
    const states: string[] = [];
    frank.on('state', (s) => states.push(s.state));
    await frank.join('sdk-auth');
    const first = frank.connection!.replica;
    await waitFor(() => authed.length >= 1, { what: 'an authed frame', timeoutMs: TOKEN_TTL_SEC * 1000 + 5_000 });
    await new Promise((r) => setTimeout(r, TOKEN_TTL_SEC * 1000));
    // Past the first token's expiry the same socket still sends: no 4001, no reconnect.
    await expect(frank.send('sdk-auth', 'after expiry')).resolves.toMatchObject({ type: 'ack' });
    expect(frank.connection!.replica).toBe(first);
    expect(states.filter((s) => s === 'reconnecting')).toEqual([]);
    expect(authed.length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("the bot in README.md's SDK section, copied as a new user would, runs and answers", async () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Build on it: the client SDK'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, 'a js block in the SDK section').toBeTruthy();
    // Saved in the checkout's root (its imports are relative to it), pointed at this test's stack.
    const file = join(process.cwd(), `.readme-bot-${process.pid}.mjs`);
    writeFileSync(file, code!.replaceAll('http://localhost:4000', users.baseUrl));
    const henry = await signedIn('sdk_henry');
    const got = received(henry);
    await henry.join('general');
    let bot: ChildProcess | undefined;
    const out: string[] = [];
    try {
      bot = spawn(process.execPath, [file], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      bot.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
      bot.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
      await waitFor(() => out.join('').includes('listening in #general'), { what: `the README bot listening: ${out.join('')}`, timeoutMs: 15_000 });
      await henry.send('general', '!ping');
      await waitFor(() => got.some((m) => m.user.name === 'pingbot' && m.text === 'pong'), { what: 'pong from the README bot', timeoutMs: 10_000 });
    } finally {
      bot?.kill('SIGTERM');
      rmSync(file, { force: true });
    }
  }, 40_000);

  it("sdk/examples/bot.mjs runs as is and answers", async () => {
    const grace = await signedIn('sdk_grace');
    const got = received(grace);
    await grace.join('bots');
    let bot: ChildProcess | undefined;
    const out: string[] = [];
    try {
      bot = spawn(process.execPath, ['sdk/examples/bot.mjs'], {
        env: { PATH: process.env.PATH ?? '', AURORA_URL: users.baseUrl, AURORA_USER: 'examplebot', AURORA_PASSWORD: PASSWORD, AURORA_ROOMS: 'bots' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      bot.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
      bot.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
      await waitFor(() => out.join('').includes('is listening in bots'), { what: `the bot listening: ${out.join('')}`, timeoutMs: 15_000 });
      await grace.send('bots', '!ping');
      await waitFor(() => got.some((m) => m.user.name === 'examplebot' && m.text === 'pong'), { what: 'pong from the bot', timeoutMs: 10_000 });
    } finally {
      bot?.kill('SIGTERM');
    }
  }, 40_000);
});
