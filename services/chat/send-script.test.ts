// The send script against a real redis-server: what it writes, what it refuses, and in which order.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { parseIngestEntry, type ChatUser } from '../shared/message.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { waitFor } from '../../test/helpers/ports.js';
import { createEventScript } from './event-script.js';
import { frameTail, logEntryFrame, messageFrameHead } from './frames.js';
import { createSendScript, NO_THREAD, rateLimitMessage, type SendResult, type SendScript } from './send-script.js';

let redis: TestRedis;
let r: Redis;
let sub: Redis;
let send: SendScript;
const keys = keysFor(4);
const config = loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '3', RATE_LIMIT_WINDOW_MS: '60000', INGEST_MAX_BACKLOG: '100' });
const alice = { id: 'alice', name: 'Alice' };

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  sub = redis.client();
  send = createSendScript(r, keys, config);
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await r.flushall();
});

describe('send.lua', () => {
  it('logs, queues and publishes one message with the room log id, the JSON frame intact for any text', async () => {
    const room = 'script';
    const text = 'quotes " backslash \\ newline \n unicode é 🎉 </script> \u2028';
    const published = new Promise<string>((resolve) => {
      sub.on('smessage', (_ch, payload: string) => resolve(payload));
    });
    await sub.ssubscribe(keys.roomChannel(room)); // a shard channel: send.lua SPUBLISHes
    const res = await send(room, alice, text, 'cid-1');
    expect(res.kind).toBe('ok');
    if (res.kind !== 'ok') return;
    const frame = JSON.parse(await published);
    expect(frame).toEqual({ type: 'message', room, user: alice, text, cid: 'cid-1', seq: 1, id: res.id, ts: res.ts });
    expect(res.ts).toBe(Number(res.id.split('-')[0]));
    const [logEntry] = (await r.xrange(keys.roomLog(room), '-', '+')) as [string, string[]][];
    expect(logEntry![0]).toBe(res.id);
    const ingest = (await r.xrange(keys.ingestStreamOfRoom(room), '-', '+')) as [string, string[]][];
    expect(ingest).toHaveLength(1);
    expect(parseIngestEntry(ingest[0]![1])).toEqual({ id: res.id, room, user: alice, text, ts: res.ts, cid: 'cid-1', seq: 1 });
    expect(await r.get(keys.sendIdempotency(room, 'alice', 'cid-1'))).toBe(res.id);
    const ttl = await r.ttl(keys.sendIdempotency(room, 'alice', 'cid-1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(config.IDEMPOTENCY_TTL_SEC);
    await sub.sunsubscribe();
  });

  it('answers a repeated cid with the original id before checking the rate limit', async () => {
    const first = await send('r1', alice, 'a', 'c1');
    await send('r1', alice, 'b', 'c2');
    await send('r1', alice, 'c', 'c3');
    const limited = await send('r1', alice, 'd', 'c4');
    expect(limited.kind).toBe('rate_limited');
    if (limited.kind === 'rate_limited') {
      expect(limited.retryAfterMs).toBeGreaterThan(0);
      expect(limited.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    expect(await r.exists(keys.sendIdempotency('r1', 'alice', 'c4'))).toBe(0);
    const again = await send('r1', alice, 'a', 'c1');
    expect(again).toEqual({ kind: 'duplicate', id: (first as { id: string }).id, ts: (first as { ts: number }).ts });
    expect(await r.xlen(keys.roomLog('r1'))).toBe(3);
    expect(await r.xlen(keys.ingestStreamOfRoom('r1'))).toBe(3);
    // another room, another user: separate windows
    expect((await send('r2', alice, 'x', 'c5')).kind).toBe('ok');
    expect((await send('r1', { id: 'bob', name: 'Bob' }, 'x', 'c1')).kind).toBe('ok');
  });

  it('refuses with overloaded past the ingest backlog and writes nothing', async () => {
    const stream = keys.ingestStreamOfRoom('busy');
    const pipe = r.pipeline();
    for (let i = 0; i < 101; i++) pipe.xadd(stream, '*', 'filler', String(i));
    await pipe.exec();
    expect(await send('busy', alice, 'x', 'c1')).toEqual({ kind: 'overloaded', backlog: 101 });
    expect(await r.exists(keys.roomLog('busy'), keys.sendIdempotency('busy', 'alice', 'c1'), keys.sendRate('busy', 'alice'))).toBe(0);
    expect(await r.exists(keys.userSendBudget('busy', 'alice'), keys.userRoomCreates('busy', 'alice'))).toBe(0);
  });

  it('gives the room log an idle expiry that every send renews, so abandoned rooms leave Redis', async () => {
    const idle = loadConfig('chat', { ROOM_LOG_IDLE_TTL_SEC: '100' });
    const sendIdle = createSendScript(r, keys, idle);
    expect((await sendIdle('idle', alice, 'x', 'c1')).kind).toBe('ok');
    const ttl = await r.ttl(keys.roomLog('idle'));
    expect(ttl).toBeGreaterThan(90);
    expect(ttl).toBeLessThanOrEqual(100);
    await r.expire(keys.roomLog('idle'), 5);
    expect((await sendIdle('idle', alice, 'y', 'c2')).kind).toBe('ok');
    expect(await r.ttl(keys.roomLog('idle'))).toBeGreaterThan(90);
    // the default: seven days
    expect((await send('idle-default', alice, 'x', 'c1')).kind).toBe('ok');
    expect(await r.ttl(keys.roomLog('idle-default'))).toBeGreaterThan(7 * 86_400 - 10);
  });

  it('still works after the script cache is flushed (EVALSHA falls back to EVAL)', async () => {
    await r.script('FLUSH');
    expect((await send('flushed', alice, 'x', 'c1')).kind).toBe('ok');
  });

  it('the sends of one event-loop turn leave in one write to Redis', async () => {
    await send('warm', alice, 'x', 'w1'); // script loaded on this connection
    const stream = r.stream as unknown as Record<'_write' | '_writev', (...a: unknown[]) => void>;
    let writes = 0;
    const originals = { _write: stream._write, _writev: stream._writev };
    for (const m of ['_write', '_writev'] as const) {
      stream[m] = (...a: unknown[]) => {
        writes++;
        originals[m].apply(stream, a);
      };
    }
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => send('one-write', { id: `w${i}`, name: `w${i}` }, 'hi', 'c')));
      expect(results.every((x) => x.kind === 'ok')).toBe(true);
      expect(writes).toBe(1);
    } finally {
      Object.assign(stream, originals);
    }
  });

  it('sends of one turn each get their own answer, in call order, also right after a script cache flush', async () => {
    const users = Array.from({ length: 6 }, (_, i) => ({ id: `u${i}`, name: `u${i}` }));
    await r.script('FLUSH');
    // same turn: 6 users x 4 sends in one room (rate limit 3 per user: the 4th is refused)
    const results = await Promise.all(users.flatMap((u) => [0, 1, 2, 3].map((k) => send('batch', u, `${u.id}-${k}`, `c${k}`))));
    const kinds = results.map((x) => x.kind);
    expect(kinds).toEqual(users.flatMap(() => ['ok', 'ok', 'ok', 'rate_limited']));
    const ids = results.filter((x) => x.kind === 'ok').map((x) => (x as { id: string }).id);
    // accepted in the order they were called: the room log holds them in that order
    const log = (await r.xrange(keys.roomLog('batch'), '-', '+')) as [string, string[]][];
    expect(log.map(([id]) => id)).toEqual(ids);
    // a repeated cid in a later turn still finds the original
    const again = await send('batch', users[0]!, 'u0-0', 'c0');
    expect(again).toMatchObject({ kind: 'duplicate', id: ids[0] });
  });
});

describe('send.lua account-wide budgets', () => {
  // PARTITIONS=1: the per-(user, partition) keys are exactly per user.
  const keys1 = keysFor(1);
  const budgetConfig = (extra: Record<string, string>) =>
    loadConfig('chat', { RATE_LIMIT_MESSAGES: '1000', USER_SEND_WINDOW_MS: '60000', ROOM_CREATE_MAX: '1000', ...extra });

  it('counts messages across all rooms: spreading over many rooms does not escape the account budget', async () => {
    const sendB = createSendScript(r, keys1, budgetConfig({ USER_SEND_MAX_MESSAGES: '5' }));
    for (let i = 0; i < 5; i++) expect((await sendB(`spread-${i}`, alice, 'x', `c${i}`)).kind).toBe('ok');
    const refused = await sendB('spread-5', alice, 'x', 'c5');
    expect(refused).toMatchObject({ kind: 'rate_limited', scope: 'account' });
    if (refused.kind === 'rate_limited') {
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    // refused: nothing written, not even the room
    expect(await r.exists(keys1.roomLog('spread-5'), keys1.sendIdempotency('spread-5', 'alice', 'c5'))).toBe(0);
    expect(await r.xlen(keys1.ingestStreamOfRoom('spread-5'))).toBe(5);
    // a retry of an accepted message is still acked; another user has a budget of their own
    expect((await sendB('spread-0', alice, 'x', 'c0')).kind).toBe('duplicate');
    expect((await sendB('spread-0', { id: 'bob', name: 'Bob' }, 'x', 'b0')).kind).toBe('ok');
    // the window ends: the budget is back
    await r.pexpire(keys1.userSendBudget('spread-0', 'alice'), 1);
    await waitFor(async () => (await r.exists(keys1.userSendBudget('spread-0', 'alice'))) === 0, { what: 'window end' });
    expect((await sendB('spread-5', alice, 'x', 'c5')).kind).toBe('ok');
    expect(await r.pttl(keys1.userSendBudget('spread-0', 'alice'))).toBeGreaterThan(59_000);
  });

  it('counts UTF-8 bytes of text across rooms: big texts spend the byte budget before the message budget', async () => {
    const sendB = createSendScript(r, keys1, budgetConfig({ USER_SEND_MAX_MESSAGES: '100', USER_SEND_MAX_BYTES: '16384' }));
    const big = 'é'.repeat(4000); // 8,000 bytes
    expect((await sendB('bytes-1', alice, big, 'b1')).kind).toBe('ok');
    expect((await sendB('bytes-2', alice, big, 'b2')).kind).toBe('ok');
    expect(await sendB('bytes-3', alice, big, 'b3')).toMatchObject({ kind: 'rate_limited', scope: 'account' });
    // 384 bytes are left: a short message still fits
    expect((await sendB('bytes-3', alice, 'short', 'b4')).kind).toBe('ok');
    expect(Number(await r.get(keys1.userSendBudget('bytes-1', 'alice')))).toBe(3 * 2 ** 32 + 16_000 + 5); // messages * 2^32 + bytes
  });

  it('is per (user, partition): with PARTITIONS=2 the account-wide bound is twice the budget (the single-slot trade-off)', async () => {
    const keys2 = keysFor(2);
    const sendB = createSendScript(r, keys2, budgetConfig({ PARTITIONS: '2', USER_SEND_MAX_MESSAGES: '2' }));
    const rooms = Array.from({ length: 40 }, (_, i) => `part-${i}`);
    const p0 = rooms.filter((x) => keys2.partitionOf(x) === 0);
    const p1 = rooms.filter((x) => keys2.partitionOf(x) === 1);
    const results = [];
    for (const room of [...p0.slice(0, 3), ...p1.slice(0, 3)]) results.push((await sendB(room, alice, 'x', 'c')).kind);
    expect(results).toEqual(['ok', 'ok', 'rate_limited', 'ok', 'ok', 'rate_limited']);
    // every key of one send shares the room's hash tag
    for (const room of [p0[0]!, p1[0]!]) {
      const tags = [keys2.roomLog(room), keys2.userSendBudget(room, 'alice'), keys2.userRoomCreates(room, 'alice')].map((k) => /\{\d+\}/.exec(k)![0]);
      expect(new Set(tags).size).toBe(1);
    }
  });

  it('caps the rooms one user creates per window: a send into a room without a log counts, existing rooms keep working', async () => {
    const sendB = createSendScript(r, keys1, budgetConfig({ ROOM_CREATE_MAX: '2', ROOM_CREATE_WINDOW_SEC: '3600' }));
    const bob = { id: 'bob', name: 'Bob' };
    expect((await sendB('existing', bob, 'made by bob', 'e0')).kind).toBe('ok');
    expect((await sendB('new-a', alice, 'x', 'a1')).kind).toBe('ok');
    expect((await sendB('new-b', alice, 'x', 'b1')).kind).toBe('ok');
    const refused = await sendB('new-c', alice, 'x', 'c1');
    expect(refused).toMatchObject({ kind: 'rate_limited', scope: 'new_rooms' });
    if (refused.kind === 'rate_limited') {
      expect(refused.retryAfterMs).toBeGreaterThan(3_590_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(3_600_000);
    }
    expect(await r.exists(keys1.roomLog('new-c'))).toBe(0);
    // the refused send was not charged to the account budget (2 accepted so far)
    expect(Math.floor(Number(await r.get(keys1.userSendBudget('new-c', 'alice'))) / 2 ** 32)).toBe(2);
    // rooms that exist — her own and someone else's — are not creations
    expect((await sendB('new-a', alice, 'y', 'a2')).kind).toBe('ok');
    expect((await sendB('existing', alice, 'y', 'e1')).kind).toBe('ok');
    expect(await r.get(keys1.userRoomCreates('new-a', 'alice'))).toBe('2');
    // a room whose log expired is created again by its next message, and counts
    await r.del(keys1.roomLog('new-a'));
    expect(await sendB('new-a', alice, 'z', 'a3')).toMatchObject({ kind: 'rate_limited', scope: 'new_rooms' });
    // the refusal says what happened in words a user understands
    expect(rateLimitMessage('new_rooms', budgetConfig({ ROOM_CREATE_MAX: '20' }))).toMatch(/too many new rooms: at most 20 per 60 min/);
    expect(rateLimitMessage('account', budgetConfig({}))).toMatch(/account-wide send budget/);
  });

  it('defaults: a fast typist in several rooms never hits the budgets; a script writing 600 messages/s is stopped within its first second', async () => {
    const defaults = loadConfig('chat', {});
    const sendD = createSendScript(r, keys1, defaults);
    // 40 messages of 200 characters in a minute over 4 rooms (more than a fast typist manages)
    for (let i = 0; i < 40; i++) expect((await sendD(`typist-${i % 4}`, alice, 'y'.repeat(200), `t${i}`)).kind).toBe('ok');
    // the script: max-size texts into many rooms, 600 in what would be one second
    const bot = { id: 'bot', name: 'Bot' };
    const kinds = [];
    for (let i = 0; i < 600; i++) kinds.push((await sendD(`bot-${i % 10}`, bot, 'z'.repeat(4000), `z${i}`)).kind);
    const accepted = kinds.filter((k) => k === 'ok').length;
    expect(accepted).toBeLessThanOrEqual(Math.floor(defaults.USER_SEND_MAX_BYTES / 4000));
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('send.lua replies and the message index', () => {
  const generous = loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '1000', RATE_LIMIT_WINDOW_MS: '3600000', USER_SEND_MAX_MESSAGES: '1000' });
  const WINDOW_MS = generous.MESSAGE_CHANGE_WINDOW_SEC * 1000;
  const bob = { id: 'bob', name: 'Bob' };
  const sendG = () => createSendScript(r, keys, generous);
  const ok = (res: SendResult) => {
    if (res.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(res)}`);
    return res;
  };
  const logFields = async (room: string, id: string) => ((await r.xrange(keys.roomLog(room), id, id)) as [string, string[]][])[0]![1];

  /** Sends and checks that the published frame, the frame rebuilt from the log and the ingest entry agree. */
  /** `seq` for a top-level message, the parent's author (`pu`) for a reply. */
  async function sent(s: SendScript, room: string, user: ChatUser, text: string, cid: string, replyTo?: string, replyCount?: number, seqOrParentAuthor?: number | string) {
    const got: string[] = [];
    const listener = (_ch: string, payload: string) => void got.push(payload);
    sub.on('smessage', listener);
    await sub.ssubscribe(keys.roomChannel(room));
    try {
      const res = ok(await s(room, user, text, cid, replyTo));
      await sub.ping(); // answered after the script's SPUBLISH reached this connection
      expect(got).toHaveLength(1);
      const seq = typeof seqOrParentAuthor === 'number' ? seqOrParentAuthor : undefined;
      expect(got[0]).toBe(messageFrameHead(room, user, text, cid, replyTo) + frameTail({ seq, replyCount }, res.id, res.ts));
      const rebuilt = logEntryFrame(room, res.id, await logFields(room, res.id));
      expect(rebuilt.json).toBe(got[0]);
      const message = { id: res.id, room, user, text, ts: res.ts, cid, ...(replyTo === undefined ? {} : { replyTo }), ...(seq === undefined ? {} : { seq }) };
      expect(rebuilt.entry).toEqual(message);
      const [[, ingest]] = (await r.xrevrange(keys.ingestStreamOfRoom(room), '+', '-', 'COUNT', 1)) as [[string, string[]]];
      const replyToUser = typeof seqOrParentAuthor === 'string' ? { replyToUser: seqOrParentAuthor } : {};
      expect(parseIngestEntry(ingest)).toEqual({ ...message, ...replyToUser });
      expect(JSON.parse(got[0]!)).toEqual({ type: 'message', ...message, ...(replyCount === undefined ? {} : { replyCount }) });
      return res;
    } finally {
      sub.off('smessage', listener);
      await sub.sunsubscribe();
    }
  }

  it('a reply carries replyTo in its frame and the absolute replyCount (frame, log `rc`); the log rebuilds every frame byte for byte', async () => {
    const s = sendG();
    const room = 'replies';
    const parent = await sent(s, room, alice, 'parent "q" é', 'p', undefined, undefined, 1);
    const r1 = await sent(s, room, bob, 'first', 'q1', parent.id, 1, 'alice');
    const r2 = await sent(s, room, alice, 'second', 'q2', parent.id, 2, 'alice');
    expect(await logFields(room, r1.id)).toEqual(['uid', 'bob', 'name', 'Bob', 'text', 'first', 'cid', 'q1', 're', parent.id, 'rc', '1']);
    expect(await r.hget(keys.thread(room, parent.id), 'c')).toBe('2');
    // the thread counter lives as long as its newest reply can be deleted (a change window from it)
    const expiresAt = Number(await r.call('PEXPIRETIME', keys.thread(room, parent.id)));
    expect(expiresAt).toBeGreaterThanOrEqual(r2.ts + WINDOW_MS - 5);
    expect(expiresAt).toBeLessThanOrEqual(r2.ts + WINDOW_MS + 5);
    // a top-level send names a placeholder thread key and never touches it
    expect(await r.exists(keys.thread(room, NO_THREAD))).toBe(0);
  });

  it('every send adds an index entry (id = message id, u = author, p = parent of a reply) that expires within the change window', async () => {
    const s = sendG();
    const room = 'index';
    const parent = ok(await s(room, alice, 'top', 'p'));
    const reply = ok(await s(room, bob, 'reply', 'q', parent.id));
    expect(await r.xrange(keys.messageIndex(room), '-', '+')).toEqual([
      [parent.id, ['u', 'alice']],
      [reply.id, ['u', 'bob', 'p', parent.id]],
    ]);
    const ttl = await r.ttl(keys.messageIndex(room));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(generous.MESSAGE_CHANGE_WINDOW_SEC);
  });

  it('refuses a reply to a reply (not_top_level), to an unknown, deleted or too old message (not_found), writing nothing', async () => {
    const s = sendG();
    const event = createEventScript(r, keys, generous);
    const room = 'bad-parents';
    const old = `${Date.now() - WINDOW_MS - 60_000}-0`;
    await r.xadd(keys.messageIndex(room), old, 'u', 'alice'); // still indexed, but out of the window
    const parent = ok(await s(room, alice, 'top', 'p'));
    const reply = ok(await s(room, bob, 'reply', 'q', parent.id));
    const gone = ok(await s(room, alice, 'gone', 'g'));
    expect((await event(room, alice, 'd', { kind: 'delete', target: gone.id })).kind).toBe('ok');
    const state = async (cid: string, parentId: string) => ({
      log: await r.xrange(keys.roomLog(room), '-', '+'),
      ingest: await r.xlen(keys.ingestStreamOfRoom(room)),
      index: await r.xrange(keys.messageIndex(room), '-', '+'),
      idem: await r.get(keys.sendIdempotency(room, 'bob', cid)),
      rate: await r.get(keys.sendRate(room, 'bob')),
      budget: await r.get(keys.userSendBudget(room, 'bob')),
      thread: await r.hgetall(keys.thread(room, parentId)),
    });
    const cases: [string, 'not_found' | 'not_top_level'][] = [
      [reply.id, 'not_top_level'],
      [`${Date.now()}-999`, 'not_found'],
      [gone.id, 'not_found'],
      [old, 'not_found'],
    ];
    for (const [i, [parentId, reason]] of cases.entries()) {
      const before = await state(`x${i}`, parentId);
      expect(await s(room, bob, 'nope', `x${i}`, parentId)).toEqual({ kind: 'bad_parent', reason });
      expect(await state(`x${i}`, parentId)).toEqual(before);
    }
    // the parent's own thread still takes replies
    expect(ok(await s(room, bob, 'fine', 'y', parent.id))).toBeTruthy();
    expect(await r.hget(keys.thread(room, parent.id), 'c')).toBe('2');
  });
});
