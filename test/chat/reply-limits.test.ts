// Replies bounded in bytes (REPLY_MAX_BYTES) and the send buffer checked with the frame's size
// before it is written (MAX_BUFFERED_BYTES): a room full of the biggest messages there are —
// 4,000 control characters, 6 bytes of JSON each — must not turn one join or one subscriber
// recovery into a multi-megabyte frame per socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../services/shared/config.js';
import { keysFor } from '../../services/shared/keys.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor, type Frame } from './client.js';

const keys = keysFor(1);
const REPLY_MAX_BYTES = 256 * 1024;
const MAX_BUFFERED_BYTES = 512 * 1024;
/** 4,000 characters that JSON escapes as \u0001: ~24 KB per message frame. */
const BIG_TEXT = '\u0001'.repeat(4000);

let redis: TestRedis;
let r: Redis;
let s: RunningService;
const clients: TestClient[] = [];

/** A client that also records the byte size of every `joined` frame it receives. */
async function connect(user: string): Promise<TestClient & { joinedBytes: number[] }> {
  const c = (await TestClient.connect(s.baseUrl, tokenFor(user))) as TestClient & { joinedBytes: number[] };
  c.joinedBytes = [];
  c.ws.on('message', (data: Buffer) => {
    if (data.subarray(0, 20).toString().startsWith('{"type":"joined"')) c.joinedBytes.push(data.length);
  });
  clients.push(c);
  return c;
}

async function fillBig(room: string, n: number): Promise<string[]> {
  const pipe = r.pipeline();
  for (let i = 0; i < n; i++) pipe.xadd(keys.roomLog(room), '*', 'uid', 'filler', 'name', 'filler', 'text', BIG_TEXT, 'cid', `f${i}`);
  const res = await pipe.exec();
  return res!.map(([, id]) => String(id));
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))]);
}

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  s = await startService(
    'chat',
    chatEnv(redis.url, 'replies', {
      JOIN_HISTORY: '500',
      MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
      REPLY_MAX_BYTES: String(REPLY_MAX_BYTES),
      MAX_FRAMES_PER_SEC: '10000',
      RATE_LIMIT_MESSAGES: '100000',
      USER_SEND_MAX_MESSAGES: '1000000',
      USER_SEND_MAX_BYTES: '1073741824',
      ROOM_CREATE_MAX: '1000000',
    }),
  );
}, 30_000);
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await s?.stop('SIGKILL');
  await redis?.stop();
});

describe('replies bounded in bytes (REPLY_MAX_BYTES)', () => {
  let ids: string[] = [];
  beforeAll(async () => {
    ids = await fillBig('huge', 500); // ~12 MB of JSON if sent whole
  });

  it('a join without since gets the newest messages that fit, in one joined frame of at most REPLY_MAX_BYTES', async () => {
    const c = await connect('plain-joiner');
    const joined = await c.join('huge');
    expect(c.joinedBytes[0]).toBeLessThanOrEqual(REPLY_MAX_BYTES);
    const got = joined.messages.map((m: Frame) => m.id as string);
    expect(got.length).toBeGreaterThanOrEqual(8); // ~24 KB each: about ten fit
    expect(got).toEqual(ids.slice(-got.length)); // the newest, in order, no gap
    expect(joined.messages.at(-1).text).toBe(BIG_TEXT);
    expect(joined.recovered).toBe(false);
    expect(joined.members.map((m: Frame) => m.id)).toContain('plain-joiner');
  });

  it('a join with since that missed more than fits answers recovered:false with the newest messages that fit (the client pages REST history)', async () => {
    const c = await connect('resumer');
    const joined = await c.join('huge', ids[0]);
    expect(c.joinedBytes[0]).toBeLessThanOrEqual(REPLY_MAX_BYTES);
    expect(joined.recovered).toBe(false);
    const got = joined.messages.map((m: Frame) => m.id as string);
    expect(got.length).toBeGreaterThanOrEqual(8);
    expect(got).toEqual(ids.slice(-got.length));
  });

  it('a join with since that missed little still recovers exactly what was missed', async () => {
    const c = await connect('small-resumer');
    const joined = await c.join('huge', ids[ids.length - 3]);
    expect(joined.recovered).toBe(true);
    expect(joined.messages.map((m: Frame) => m.id)).toEqual(ids.slice(-2));
  });

  it('live messages right after a bounded join still arrive once and in order', async () => {
    const c = await connect('after-join');
    await c.join('huge');
    const ack = await c.sendText('huge', 'fresh', 'after-join-1');
    expect(ack.type).toBe('ack');
    const live = await c.find('message', (f) => f.cid === 'after-join-1');
    expect(live.id).toBe(ack.id);
    expect(c.all('message', (f) => f.cid === 'after-join-1')).toHaveLength(1);
  });
});

describe('REPLY_MAX_BYTES configuration', () => {
  it('a chat replica refuses to start with REPLY_MAX_BYTES not below MAX_BUFFERED_BYTES (its replies would close their own sockets)', () => {
    expect(() => loadConfig('chat', { REPLY_MAX_BYTES: '65536', MAX_BUFFERED_BYTES: '65536' })).toThrow(ConfigError);
    expect(loadConfig('chat', {}).REPLY_MAX_BYTES).toBe(256 * 1024);
    expect(() => loadConfig('chat', { REPLY_MAX_BYTES: '1024' })).toThrow(/REPLY_MAX_BYTES/);
  });
});

describe('subscriber recovery bounded in bytes', () => {
  const pubsubClientCount = async () => {
    const out = String(await r.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).trim();
    return out === '' ? 0 : out.split('\n').length;
  };
  const clientCount = async () => String(await r.call('CLIENT', 'LIST')).trim().split('\n').length;

  it('more than REPLY_MAX_BYTES of messages missed during a subscriber outage closes the room members with 1012 to resume, not one huge burst', async () => {
    const sender = await connect('rec-sender');
    const reader = await connect('rec-reader');
    await sender.join('bigrecovery');
    await reader.join('bigrecovery');
    await waitFor(async () => (await fetch(s.adminUrl + '/readyz')).status === 200, { what: 'ready' });
    const subs = await pubsubClientCount();
    expect(subs).toBeGreaterThan(0);
    await r.config('SET', 'maxclients', String((await clientCount()) - subs));
    try {
      await r.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      // 15 × ~24 KB ≈ 360 KB missed: well under RECOVERY_MAX (500) messages, over the bytes
      for (let i = 0; i < 15; i++) expect((await sender.sendText('bigrecovery', BIG_TEXT, `rec-${i}`)).type).toBe('ack');
    } finally {
      await r.config('SET', 'maxclients', '10000');
    }
    expect(await bounded(reader.closed, 20_000, 'the reader to be closed')).toBe(1012);
    expect(reader.all('message', (f) => typeof f.cid === 'string' && f.cid.startsWith('rec-'))).toHaveLength(0);
  }, 40_000);
});

describe('send buffer checked with the frame before writing (MAX_BUFFERED_BYTES)', () => {
  it('a reader that stops reading is closed with 4008 before any write takes its send buffer past the bound', async () => {
    const sender = await connect('flood-sender');
    const reader = await connect('stalled-reader');
    await sender.join('stall');
    await reader.join('stall');
    const socket = (reader.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause(); // stop reading: the kernel buffers fill, then the replica's send buffer
    const slowLine = () => s.logs.find((l) => l.includes('slow consumer'));
    for (let i = 0; i < 1500 && !slowLine(); i++) {
      sender.send({ type: 'send', room: 'stall', text: BIG_TEXT, cid: `stall-${i}` });
      if (i % 20 === 19) await sender.find('ack', (f) => f.cid === `stall-${i}`);
    }
    await waitFor(slowLine, { what: 'the slow-consumer close', timeoutMs: 20_000 });
    const logged = JSON.parse(slowLine()!) as { buffered: number; queued?: number; frame?: number };
    // what the replica held for the socket never passed the bound…
    expect(logged.buffered + (logged.queued ?? 0)).toBeLessThanOrEqual(MAX_BUFFERED_BYTES);
    // …because the frame that would have passed it was the one refused
    expect(logged.buffered + (logged.queued ?? 0) + (logged.frame ?? 0)).toBeGreaterThan(MAX_BUFFERED_BYTES);
    socket.resume();
    expect(await bounded(reader.closed, 20_000, 'the 4008 close')).toBe(4008);
    expect(sender.closeCode).toBeNull();
  }, 60_000);
});
