// One abusive account against Redis memory: several sockets writing max-size texts as fast as the
// per-socket frame budget allows, each into as many new rooms as it can, while two ordinary users
// keep chatting in `general`. The account-wide send budget and the room-creation cap (both in
// send.lua, DEFAULT values here) must keep Redis growth under a bound derived from them, and the
// ordinary users must get every ack and every live message meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/shared/config.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor } from './client.js';

const defaults = loadConfig('chat', {});
const SOCKETS = 10;
const ABUSE_MS = 5000;
const TEXT = 'x'.repeat(4000); // MAX_TEXT_CHARS, ASCII: 4,000 bytes
// Well under the socket's frame budget: a frame over it would be refused before the send script
// (and repeated ones close the socket with 1008), so at the edge a timer's jitter on a loaded
// machine decided what this test measured. 10 sockets × 20 still offer ~200 sends/s.
const FRAMES_PER_SEC = defaults.MAX_FRAMES_PER_SEC - 10;

let redis: TestRedis;
let s: RunningService;
const clients: TestClient[] = [];

async function connect(user: string): Promise<TestClient> {
  const c = await TestClient.connect(s.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}

async function usedMemory(): Promise<{ used: number; dataset: number }> {
  const info = await redis.client().info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)![1]);
  return { used: field('used_memory'), dataset: field('used_memory_dataset') };
}

beforeAll(async () => {
  redis = await startRedis();
  // Every limit at its default (the point is that the DEFAULTS bound the damage); passed
  // explicitly because chatEnv may raise the budgets for tests that send a lot.
  s = await startService(
    'chat',
    chatEnv(redis.url, 'memory', {
      USER_SEND_MAX_MESSAGES: String(defaults.USER_SEND_MAX_MESSAGES),
      USER_SEND_MAX_BYTES: String(defaults.USER_SEND_MAX_BYTES),
      USER_SEND_WINDOW_MS: String(defaults.USER_SEND_WINDOW_MS),
      ROOM_CREATE_MAX: String(defaults.ROOM_CREATE_MAX),
      ROOM_CREATE_WINDOW_SEC: String(defaults.ROOM_CREATE_WINDOW_SEC),
    }),
  );
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await s?.stop('SIGKILL');
  await redis?.stop();
});

/** One abusive socket: join a new room, fill it to the per-room limit, next room; FRAMES_PER_SEC frames a second. */
async function abuse(c: TestClient, tag: string, until: number): Promise<string[]> {
  const cids: string[] = [];
  let room = 0;
  let inRoom = Infinity;
  while (Date.now() < until) {
    const second = Date.now();
    for (let f = 0; f < FRAMES_PER_SEC; f++) {
      if (inRoom >= defaults.RATE_LIMIT_MESSAGES - 1 && room < defaults.MAX_ROOMS_PER_CONNECTION) {
        c.send({ type: 'join', room: `spam-${tag}-${room++}` });
        inRoom = 0;
        continue;
      }
      const cid = `${tag}-${cids.length}`;
      cids.push(cid);
      c.send({ type: 'send', room: `spam-${tag}-${room - 1}`, text: TEXT, cid });
      inRoom++;
    }
    await new Promise((res) => setTimeout(res, Math.max(0, second + 1020 - Date.now())));
  }
  return cids;
}

describe('one abusive account and Redis memory', () => {
  it('cannot grow Redis past the bound its budgets allow, while two ordinary users in general get every ack and live message', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    await alice.join('general');
    await bob.join('general');
    await alice.sendText('general', 'warm up', 'warm-a');
    const abusers = await Promise.all(Array.from({ length: SOCKETS }, () => connect('mallory')));
    const before = await usedMemory();

    const until = Date.now() + ABUSE_MS;
    const abuse$ = Promise.all(abusers.map((c, i) => abuse(c, String(i), until)));
    // Ordinary chat meanwhile: one message a second each, every one acked and seen by the other.
    const chat = async (me: TestClient, other: TestClient, who: string) => {
      let n = 0;
      while (Date.now() < until) {
        const cid = `${who}-${n++}`;
        const ack = await me.sendText('general', `${who} says ${n}`, cid);
        expect(ack, `${cid}: ${JSON.stringify(ack)}`).toMatchObject({ type: 'ack', cid });
        await other.find('message', (f) => f.cid === cid, 5000);
        await new Promise((res) => setTimeout(res, 1000));
      }
      return n;
    };
    const [sentA, sentB] = await Promise.all([chat(alice, bob, 'alice'), chat(bob, alice, 'bob')]);
    const cids = await abuse$;
    expect(sentA).toBeGreaterThanOrEqual(4);
    expect(sentB).toBeGreaterThanOrEqual(4);

    // Every abusive send answered (ack or error; frames of a socket are handled in order).
    const all = cids.flat();
    await waitFor(
      () => {
        const answered = new Set(abusers.flatMap((c) => c.frames.map((f) => (f.type === 'ack' ? f.cid : f.type === 'error' ? f.ref : undefined))));
        return all.every((cid) => answered.has(cid)) || abusers.some((c) => c.closeCode !== null);
      },
      { what: 'an answer to every abusive send', timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(abusers.map((c) => c.closeCode), 'no abusive socket was closed').toEqual(abusers.map(() => null));
    const after = await usedMemory();
    const acked = abusers.reduce((n, c) => n + c.all('ack').length, 0);
    const accountRefusals = abusers.reduce((n, c) => n + c.all('error', (f) => f.code === 'rate_limited' && f.limit === 'account').length, 0);
    const grewUsed = after.used - before.used;
    const grewData = after.dataset - before.dataset;
    // The bound, from the defaults (one window: the test is far shorter than USER_SEND_WINDOW_MS):
    //   text accepted        ≤ USER_SEND_MAX_BYTES = 128 KiB, stored twice (room log + ingest
    //                          stream; no worker runs here, so nothing is trimmed)      256 KiB
    //   per message overhead ≤ USER_SEND_MAX_MESSAGES (60) × 1 KiB (ids, fields, cid
    //                          key, rate-window entry)                                   60 KiB
    //   rooms created        ≤ ROOM_CREATE_MAX (20) × 8 KiB (stream key + node)         160 KiB
    //   presence of joined rooms (not a send: bounded by sockets × MAX_ROOMS_PER_CONNECTION,
    //                          expires after PRESENCE_TTL_SEC) 10 × 100 × 2 × 512 B    1000 KiB
    //   client buffers, allocator slack                                                 1 MiB
    //   → 2.5 MiB. Without the budgets the same abuse writes ~28 × 10 × 5 ≈ 1,400 sends of
    //   4,000 bytes twice: ≈ 11 MB.
    const BOUND = 2.5 * 1024 * 1024;
    const summary = { acked, accountRefusals, grewUsed, grewData, sends: all.length };
    expect(grewUsed, JSON.stringify(summary)).toBeLessThan(BOUND);
    expect(grewData, JSON.stringify(summary)).toBeLessThan(BOUND);
    expect(acked, JSON.stringify(summary)).toBeLessThanOrEqual(Math.floor(defaults.USER_SEND_MAX_BYTES / TEXT.length));
    expect(accountRefusals).toBeGreaterThan(0);
    // and alice and bob saw every one of each other's messages
    expect(alice.all('message', (f) => String(f.cid).startsWith('bob-'))).toHaveLength(sentB);
    expect(bob.all('message', (f) => String(f.cid).startsWith('alice-'))).toHaveLength(sentA);
  }, 40_000);
});
