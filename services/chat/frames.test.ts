// frames.ts is the one home of every server → client frame: each builder must produce JSON of the
// ServerFrame shape (the `satisfies` below make the compiler check the expected objects), and the
// frames the Lua scripts publish must say what the builders would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { createLogger } from '../shared/logger.js';
import type { ChatMessage, ChatUser } from '../shared/message.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import {
  ackFrame,
  authedFrame,
  errorFrame,
  eventFrameHead,
  frameTail,
  helloFrame,
  joinedFrame,
  joinedOverhead,
  leftFrame,
  logEntryFrame,
  membersJson,
  messageFrameHead,
  pongFrame,
  presenceFrame,
  typingFrame,
  unchangedAckFrame,
  type EventFrame,
  type ServerFrame,
} from './frames.js';
import { Presence } from './presence.js';
import { createTypingScript } from './typing.js';

/** Awkward for every serializer: quotes, backslash, a slash (cjson escapes it), non-ASCII, a line separator. */
const odd: ChatUser = { id: 'u-1', name: 'Zoë "Z" \\ / 🎉 \u2028' };
const parse = (json: string): ServerFrame => JSON.parse(json) as ServerFrame;

describe('frames.ts builders', () => {
  it('each builder produces JSON of its ServerFrame shape', () => {
    const extra = { ...odd, role: 'admin' } as ChatUser; // only id and name reach a frame
    expect(parse(helloFrame(extra, 'replica-1', 25_000))).toEqual({ type: 'hello', user: odd, replica: 'replica-1', heartbeatMs: 25_000 } satisfies ServerFrame);
    expect(parse(pongFrame(7))).toEqual({ type: 'pong', t: 7 } satisfies ServerFrame);
    expect(parse(pongFrame('t-1'))).toEqual({ type: 'pong', t: 't-1' } satisfies ServerFrame);
    expect(parse(leftFrame('general'))).toEqual({ type: 'left', room: 'general' } satisfies ServerFrame);
    expect(parse(ackFrame('c1', '5-1', 5))).toStrictEqual({ type: 'ack', cid: 'c1', id: '5-1', ts: 5 } satisfies ServerFrame);
    expect(parse(ackFrame('c1', '5-1', 5, true))).toEqual({ type: 'ack', cid: 'c1', id: '5-1', ts: 5, duplicate: true } satisfies ServerFrame);
    expect(parse(unchangedAckFrame('c2'))).toEqual({ type: 'ack', cid: 'c2', unchanged: true } satisfies ServerFrame);
    expect(parse(authedFrame(1_700_000_000))).toEqual({ type: 'authed', exp: 1_700_000_000 } satisfies ServerFrame);
    expect(parse(errorFrame('not_found', 'gone'))).toStrictEqual({ type: 'error', code: 'not_found', message: 'gone' } satisfies ServerFrame);
    expect(parse(errorFrame('rate_limited', 'slow', 'c3', 250, 'account'))).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: 'slow',
      ref: 'c3',
      retryAfterMs: 250,
      limit: 'account',
    } satisfies ServerFrame);
    expect(parse(presenceFrame('general', 'leave', extra))).toEqual({ type: 'presence', room: 'general', event: 'leave', user: odd } satisfies ServerFrame);
    expect(parse(typingFrame('general', extra, true))).toEqual({ type: 'typing', room: 'general', user: odd, active: true } satisfies ServerFrame);
  });

  it('message and event frames: head + tail is one JSON object with id and ts last, for every kind', () => {
    const text = 'a "b" \\ c\n</script> 🎉 \u2028';
    const msg = messageFrameHead('general', odd, text, 'c1') + frameTail({}, '10-1', 10);
    expect(parse(msg)).toEqual({ type: 'message', room: 'general', user: odd, text, cid: 'c1', id: '10-1', ts: 10 } satisfies ServerFrame);
    const reply = messageFrameHead('general', odd, text, 'c2', '10-1') + frameTail({ replyCount: 3 }, '11-0', 11);
    expect(parse(reply)).toEqual({ type: 'message', room: 'general', user: odd, text, cid: 'c2', replyTo: '10-1', replyCount: 3, id: '11-0', ts: 11 } satisfies ServerFrame);
    expect(reply.endsWith('"replyCount":3,"id":"11-0","ts":11}')).toBe(true);
    const base = { type: 'event', room: 'general', user: odd, target: '10-1', cid: 'e', id: '12-0', ts: 12 } as const;
    const cases: [string, EventFrame][] = [
      [eventFrameHead('general', odd, 'e', { kind: 'edit', target: '10-1', text }) + frameTail({}, '12-0', 12), { ...base, kind: 'edit', text }],
      [eventFrameHead('general', odd, 'e', { kind: 'delete', target: '10-1' }) + frameTail({}, '12-0', 12), { ...base, kind: 'delete' }],
      [
        eventFrameHead('general', odd, 'e', { kind: 'delete', target: '10-1' }) + frameTail({ replyTo: '9-0', replyCount: 0 }, '12-0', 12),
        { ...base, kind: 'delete', replyTo: '9-0', replyCount: 0 },
      ],
      [
        eventFrameHead('general', odd, 'e', { kind: 'react', target: '10-1', emoji: '👩‍💻', on: false }) + frameTail({ count: 0 }, '12-0', 12),
        { ...base, kind: 'react', emoji: '👩‍💻', on: false, count: 0 },
      ],
    ];
    for (const [json, frame] of cases) {
      expect(parse(json)).toStrictEqual(frame);
      expect(json.endsWith('"id":"12-0","ts":12}')).toBe(true);
    }
  });

  it('logEntryFrame rebuilds the frames from room log fields (messages, replies, each event kind)', () => {
    const m = logEntryFrame('general', '10-1', ['uid', 'u-1', 'name', odd.name, 'text', 'hi', 'cid', 'c1']);
    expect(m.json).toBe(messageFrameHead('general', odd, 'hi', 'c1') + frameTail({}, '10-1', 10));
    const reply = logEntryFrame('general', '11-0', ['uid', 'u-1', 'name', odd.name, 'text', 'hi', 'cid', 'c2', 're', '10-1', 'rc', '2']);
    expect(parse(reply.json)).toMatchObject({ type: 'message', replyTo: '10-1', replyCount: 2 });
    expect(reply.entry).toEqual({ id: '11-0', room: 'general', user: odd, text: 'hi', ts: 11, cid: 'c2', replyTo: '10-1' } satisfies ChatMessage);
    const react = logEntryFrame('general', '12-0', ['ev', 'react', 'uid', 'u-1', 'name', odd.name, 'cid', 'e', 'tg', '10-1', 'emoji', '👍', 'on', '1', 'n', '4']);
    expect(parse(react.json)).toEqual({ type: 'event', kind: 'react', room: 'general', user: odd, target: '10-1', emoji: '👍', on: true, cid: 'e', count: 4, id: '12-0', ts: 12 } satisfies ServerFrame);
    const del = logEntryFrame('general', '13-0', ['ev', 'delete', 'uid', 'u-1', 'name', odd.name, 'cid', 'd', 'tg', '11-0', 're', '10-1', 'rc', '1']);
    expect(parse(del.json)).toEqual({ type: 'event', kind: 'delete', room: 'general', user: odd, target: '11-0', cid: 'd', replyTo: '10-1', replyCount: 1, id: '13-0', ts: 13 } satisfies ServerFrame);
  });

  it('joinedFrame: messages and events assembled from their JSON parse to a joined frame; joinedOverhead counts everything else', () => {
    const messages: ChatMessage[] = [
      { id: '10-1', room: 'general', user: odd, text: 'one', ts: 10, cid: 'c1' },
      { id: '11-0', room: 'general', user: odd, text: 'two', ts: 11, cid: 'c2', replyTo: '10-1' },
    ];
    const event = eventFrameHead('general', odd, 'e', { kind: 'edit', target: '10-1', text: 'uno' }) + frameTail({}, '12-0', 12);
    const members = membersJson([odd, { id: 'u-2', name: 'Bo' }], 10_000);
    const json = joinedFrame('general', messages.map((x) => JSON.stringify(x)), [event], true, members);
    expect(parse(json)).toEqual({
      type: 'joined',
      room: 'general',
      messages,
      events: [parse(event) as EventFrame],
      recovered: true,
      members: [odd, { id: 'u-2', name: 'Bo' }],
    } satisfies ServerFrame);
    expect(parse(joinedFrame('general', [], [], false, '[]'))).toEqual({ type: 'joined', room: 'general', messages: [], events: [], recovered: false, members: [] } satisfies ServerFrame);
    // the overhead is exactly the frame without entries (recovered:false, the longer variant)
    expect(joinedOverhead('general', members)).toBe(Buffer.byteLength(joinedFrame('general', [], [], false, members)));
    // and the whole frame is the overhead plus its entries and the commas between them
    const entries = [...messages.map((x) => JSON.stringify(x)), event];
    const entryBytes = entries.reduce((n, e) => n + Buffer.byteLength(e), 0) + (messages.length - 1);
    const unrecovered = joinedFrame('general', messages.map((x) => JSON.stringify(x)), [event], false, members);
    expect(Buffer.byteLength(unrecovered)).toBe(joinedOverhead('general', members) + entryBytes);
  });

  it('membersJson stays within its byte bound (multi-byte names counted as bytes) and keeps whole members, in order', () => {
    const members = Array.from({ length: 200 }, (_, i) => ({ id: `user-${i}`, name: `é🎉"${'x'.repeat(i % 7)}` }));
    const full = membersJson(members, 1_000_000);
    expect(JSON.parse(full)).toEqual(members);
    for (const max of [2, 20, 100, 1000, 4096, Buffer.byteLength(full) - 1, Buffer.byteLength(full)]) {
      const json = membersJson(members, max);
      expect(Buffer.byteLength(json)).toBeLessThanOrEqual(max);
      const got = JSON.parse(json) as ChatUser[];
      expect(got).toEqual(members.slice(0, got.length));
      // as many as fit (its count reserves a comma per member: one byte of slack at most)
      if (got.length < members.length) expect(Buffer.byteLength(membersJson(members.slice(0, got.length + 1), 1_000_000))).toBeGreaterThanOrEqual(max);
    }
    expect(membersJson(members, Buffer.byteLength(full) + 1)).toBe(full);
  });
});

describe('frames published by Lua parse as the builders say', () => {
  let redis: TestRedis;
  let r: Redis;
  let sub: Redis;
  const keys = keysFor(2);
  const config = loadConfig('chat', { PARTITIONS: '2', LOG_LEVEL: 'silent', REPLICA_ID: 'frames-unit' });
  const got: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    r = redis.client();
    sub = redis.client();
    sub.on('smessage', (_ch: string, payload: string) => void got.push(payload));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** The payloads published on the room's channel (a shard channel: SPUBLISH) while `fn` ran. */
  async function publishedBy(room: string, fn: () => Promise<unknown>): Promise<string[]> {
    got.length = 0;
    await sub.ssubscribe(keys.roomChannel(room));
    await fn();
    await sub.ping(); // answered after every SPUBLISH made before it
    await sub.sunsubscribe(keys.roomChannel(room));
    return [...got];
  }

  it("presence.lua's join and leave frames (cjson) parse equal to presenceFrame's", async () => {
    const presence = new Presence(r, keys, createLogger(config), config);
    const [joined] = await publishedBy('pres', () => presence.join('pres', odd));
    expect(JSON.parse(joined!)).toEqual(JSON.parse(presenceFrame('pres', 'join', odd)));
    const [left] = await publishedBy('pres', () => presence.leave('pres', odd));
    expect(JSON.parse(left!)).toEqual(JSON.parse(presenceFrame('pres', 'leave', odd)));
  });

  it("typing.lua publishes typing.ts's frame: it parses equal to typingFrame's", async () => {
    const typing = createTypingScript(r, keys, config, 1);
    const frames = await publishedBy('typ', async () => {
      expect(await typing('typ', odd, true)).toEqual({ kind: 'published' });
    });
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!)).toEqual(JSON.parse(typingFrame('typ', odd, true)));
  });
});
