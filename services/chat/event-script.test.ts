// The event script (edit, delete, react) against a real redis-server: the frame it publishes, the
// room log entry and the ingest entry it appends must all say the same thing, byte for byte;
// what it refuses leaves no trace; and it spends the same limits as a send.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../shared/config.js';
import { compareIds } from '../shared/ids.js';
import { keysFor } from '../shared/keys.js';
import { createMemberScript, type MemberOp, type MemberScript } from '../shared/member-script.js';
import { ingestEventFields, MAX_REACTION_EMOJI, parseIngestEntry, type ChatUser, type RoomEvent } from '../shared/message.js';
import { newMembersOnlyRoom } from '../shared/rooms.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { createEventScript, type EventResult, type EventScript } from './event-script.js';
import { eventFrameHead, frameTail, logEntryFrame, type EventFrame, type EventHeadInput, type TailCounts } from './frames.js';
import { createSendScript, type SendResult, type SendScript } from './send-script.js';

let redis: TestRedis;
let r: Redis;
let sub: Redis;
const keys = keysFor(4);
const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob "the builder" / é' };
const generous = loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '1000', RATE_LIMIT_WINDOW_MS: '3600000', USER_SEND_MAX_MESSAGES: '1000' });
let send: SendScript;
let event: EventScript;
let member: MemberScript;
const WINDOW_MS = generous.MESSAGE_CHANGE_WINDOW_SEC * 1000;

/** Payloads SPUBLISHed per room channel (a shard channel), in arrival order. */
const heard = new Map<string, string[]>();

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  sub = redis.client();
  sub.on('smessage', (channel: string, payload: string) => {
    const list = heard.get(channel) ?? [];
    list.push(payload);
    heard.set(channel, list);
  });
  [send, event] = scripts(generous);
  member = createMemberScript(r, keys, generous);
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await r.flushall();
});

function scripts(config: Config): [SendScript, EventScript] {
  return [createSendScript(r, keys, config), createEventScript(r, keys, config)];
}

async function listen(room: string): Promise<void> {
  await sub.ssubscribe(keys.roomChannel(room));
}

/** Everything published on the room's channel so far (the PING's answer comes after them). */
async function published(room: string): Promise<string[]> {
  await sub.ping();
  return [...(heard.get(keys.roomChannel(room)) ?? [])];
}

function ok(res: SendResult | EventResult): { id: string; ts: number } {
  if (res.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(res)}`);
  return res;
}

/** The RoomEvent a change should become, once it has its id. */
function expectedEvent(room: string, user: ChatUser, cid: string, c: EventHeadInput, id: string, replyTo?: string): RoomEvent {
  const base = { id, room, user, ts: Number(id.split('-')[0]), cid, target: c.target };
  if (c.kind === 'edit') return { ...base, kind: 'edit', text: c.text };
  if (c.kind === 'react') return { ...base, kind: 'react', emoji: c.emoji, on: c.on };
  return replyTo === undefined ? { ...base, kind: 'delete' } : { ...base, kind: 'delete', replyTo };
}

/**
 * Runs one change that must be accepted and checks that its three traces agree: the published
 * payload is the replica's head + the script's tail, the room log entry rebuilds it byte for
 * byte, and the ingest entry parses to the same event (fields in message.ts order).
 */
async function accepted(room: string, user: ChatUser, cid: string, c: EventHeadInput, counts: TailCounts = {}): Promise<{ id: string; ts: number; frame: EventFrame }> {
  const before = (await published(room)).length;
  const res = ok(await event(room, user, cid, c));
  const frames = await published(room);
  expect(frames).toHaveLength(before + 1);
  const payload = frames.at(-1)!;
  expect(payload).toBe(eventFrameHead(room, user, cid, c) + frameTail(counts, res.id, res.ts));
  const [[logId, fields]] = (await r.xrange(keys.roomLog(room), res.id, res.id)) as [[string, string[]]];
  const rebuilt = logEntryFrame(room, logId, fields);
  expect(rebuilt.json).toBe(payload);
  const expected = expectedEvent(room, user, cid, c, res.id, counts.replyTo);
  expect(rebuilt.entry).toEqual(expected);
  const [[, ingest]] = (await r.xrevrange(keys.ingestStreamOfRoom(room), '+', '-', 'COUNT', 1)) as [[string, string[]]];
  expect(ingest).toEqual(ingestEventFields(expected));
  expect(parseIngestEntry(ingest)).toEqual(expected);
  const frame = JSON.parse(payload) as EventFrame;
  const { id: _id, room: _room, ts: _ts, ...rest } = expected;
  expect(frame).toEqual({ type: 'event', room, ...rest, ...counts, id: res.id, ts: res.ts });
  return { ...res, frame };
}

/** What a refused change must leave untouched. */
async function snapshot(room: string, uid: string, cid: string, target: string) {
  return {
    log: await r.xrange(keys.roomLog(room), '-', '+'),
    ingest: await r.xrange(keys.ingestStreamOfRoom(room), '-', '+'),
    idempotency: await r.get(keys.sendIdempotency(room, uid, cid)),
    rate: await r.get(keys.sendRate(room, uid)),
    budget: await r.get(keys.userSendBudget(room, uid)),
    index: await r.xrange(keys.messageIndex(room), '-', '+'),
    reactions: await r.hgetall(keys.reactions(room, target)),
    published: await published(room),
  };
}

/** The change is refused with `kind` and writes nothing at all. */
async function refused(room: string, user: ChatUser, cid: string, c: EventHeadInput, kind: EventResult['kind']): Promise<EventResult> {
  await listen(room);
  const before = await snapshot(room, user.id, cid, c.target);
  const res = await event(room, user, cid, c);
  expect(res.kind).toBe(kind);
  expect(await snapshot(room, user.id, cid, c.target)).toEqual(before);
  return res;
}

describe('event.lua: one change, three traces that agree', () => {
  it('edit, react on, react off and delete: published frame = head + tail = the frame rebuilt from the log; the ingest entry parses to the event', async () => {
    const room = 'kinds';
    await listen(room);
    const m = ok(await send(room, alice, 'helo', 'm1'));
    const text = 'hello "quoted" \\ back\nslash </script> é 🎉 \u2028';
    const edit = await accepted(room, alice, 'e1', { kind: 'edit', target: m.id, text });
    expect(compareIds(edit.id, m.id)).toBeGreaterThan(0);
    await accepted(room, bob, 'r1', { kind: 'react', target: m.id, emoji: '👍🏽', on: true }, { count: 1 });
    await accepted(room, alice, 'r2', { kind: 'react', target: m.id, emoji: '👍🏽', on: true }, { count: 2 });
    await accepted(room, bob, 'r3', { kind: 'react', target: m.id, emoji: '👍🏽', on: false }, { count: 1 });
    await accepted(room, bob, 'r4', { kind: 'react', target: m.id, emoji: '🇫🇷', on: true }, { count: 1 });
    await accepted(room, alice, 'd1', { kind: 'delete', target: m.id });
    // in log order, after their target: the log is the order every member sees
    const ids = ((await r.xrange(keys.roomLog(room), '-', '+')) as [string, string[]][]).map(([id]) => id);
    expect(ids).toHaveLength(7);
    expect([...ids].sort(compareIds)).toEqual(ids);
  });

  it('edit and react work on a reply as on any message (the script reads the parent from the index)', async () => {
    const room = 'reply-changes';
    await listen(room);
    const parent = ok(await send(room, alice, 'parent', 'p'));
    const reply = ok(await send(room, bob, 'reply', 'q', parent.id));
    await accepted(room, bob, 'e', { kind: 'edit', target: reply.id, text: 'reply, edited' });
    await accepted(room, alice, 'r', { kind: 'react', target: reply.id, emoji: '❤️', on: true }, { count: 1 });
  });
});

describe('event.lua: authorisation, inside the script', () => {
  it('not_found: an unknown id, a deleted message, a target older than MESSAGE_CHANGE_WINDOW_SEC although the index still holds it', async () => {
    const room = 'nf';
    const now = Date.now();
    // hand-made index entries (an explicit id must be above the last one: oldest first)
    const old = `${now - WINDOW_MS - 60_000}-0`;
    const inside = `${now - WINDOW_MS + 3_600_000}-0`;
    await r.xadd(keys.messageIndex(room), old, 'u', 'alice');
    await r.xadd(keys.messageIndex(room), inside, 'u', 'alice');
    for (const c of [
      { kind: 'edit', target: old, text: 'x' },
      { kind: 'delete', target: old },
      { kind: 'react', target: old, emoji: '👍', on: true },
      { kind: 'edit', target: `${now}-77`, text: 'x' },
      { kind: 'react', target: `${now}-77`, emoji: '👍', on: true },
    ] as EventHeadInput[]) {
      await refused(room, alice, 'x', c, 'not_found');
    }
    expect((await r.xrange(keys.messageIndex(room), old, old)).length).toBe(1);
    // the same hand-made entry inside the window is a valid target: authorship comes from the
    // index alone, whatever the room log (empty here) still holds
    await listen(room);
    await accepted(room, alice, 'in', { kind: 'edit', target: inside, text: 'fixed' });
    const m = ok(await send(room, alice, 'doomed', 'm'));
    await accepted(room, alice, 'd', { kind: 'delete', target: m.id });
    await refused(room, alice, 'x2', { kind: 'edit', target: m.id, text: 'x' }, 'not_found');
    await refused(room, bob, 'x3', { kind: 'react', target: m.id, emoji: '👍', on: true }, 'not_found');
    await refused(room, alice, 'x4', { kind: 'delete', target: m.id }, 'not_found');
  });

  it("forbidden: an edit or a delete of another user's message; anyone may react", async () => {
    const room = 'forbid';
    await listen(room);
    const m = ok(await send(room, alice, 'mine', 'm'));
    await refused(room, bob, 'b1', { kind: 'edit', target: m.id, text: 'yours now' }, 'forbidden');
    await refused(room, bob, 'b2', { kind: 'delete', target: m.id }, 'forbidden');
    await accepted(room, bob, 'b3', { kind: 'react', target: m.id, emoji: '😂', on: true }, { count: 1 });
  });

  it('unchanged: a reaction already as asked appends nothing and charges nothing', async () => {
    const room = 'same';
    await listen(room);
    const m = ok(await send(room, alice, 'm', 'm'));
    await refused(room, bob, 'u1', { kind: 'react', target: m.id, emoji: '👍', on: false }, 'unchanged');
    await accepted(room, bob, 'u2', { kind: 'react', target: m.id, emoji: '👍', on: true }, { count: 1 });
    await refused(room, bob, 'u3', { kind: 'react', target: m.id, emoji: '👍', on: true }, 'unchanged');
    // another user's reaction is not bob's
    await refused(room, alice, 'u4', { kind: 'react', target: m.id, emoji: '👍', on: false }, 'unchanged');
  });

  it(`limit: at ${MAX_REACTION_EMOJI} different emoji a new one is refused; existing ones still count up; a freed slot takes a new one`, async () => {
    const room = 'lim';
    await listen(room);
    const m = ok(await send(room, alice, 'popular', 'm'));
    const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩'];
    expect(emoji).toHaveLength(MAX_REACTION_EMOJI + 1);
    for (const [i, e] of emoji.slice(0, MAX_REACTION_EMOJI).entries()) ok(await event(room, alice, `a${i}`, { kind: 'react', target: m.id, emoji: e, on: true }));
    expect(await r.hget(keys.reactions(room, m.id), '#')).toBe(String(MAX_REACTION_EMOJI));
    await refused(room, bob, 'b1', { kind: 'react', target: m.id, emoji: emoji[MAX_REACTION_EMOJI]!, on: true }, 'limit');
    await accepted(room, bob, 'b2', { kind: 'react', target: m.id, emoji: emoji[0]!, on: true }, { count: 2 });
    await accepted(room, alice, 'a-off', { kind: 'react', target: m.id, emoji: emoji[5]!, on: false }, { count: 0 });
    expect(await r.hget(keys.reactions(room, m.id), emoji[5]!)).toBeNull();
    await accepted(room, bob, 'b3', { kind: 'react', target: m.id, emoji: emoji[MAX_REACTION_EMOJI]!, on: true }, { count: 1 });
    expect(await r.hget(keys.reactions(room, m.id), '#')).toBe(String(MAX_REACTION_EMOJI));
  });
});

describe('event.lua: the message index, reactions and threads', () => {
  it('a delete removes the index entry and the reactions; the reactions key lives exactly as long as its target can change', async () => {
    const room = 'idx';
    await listen(room);
    const m = ok(await send(room, alice, 'x', 'm'));
    await accepted(room, bob, 'r', { kind: 'react', target: m.id, emoji: '🔥', on: true }, { count: 1 });
    expect(Number(await r.call('PEXPIRETIME', keys.reactions(room, m.id)))).toBe(m.ts + WINDOW_MS);
    expect(await r.hgetall(keys.reactions(room, m.id))).toEqual({ '🔥': '1', '🔥\nbob': '1', '#': '1' });
    await accepted(room, alice, 'd', { kind: 'delete', target: m.id });
    expect(await r.xrange(keys.messageIndex(room), m.id, m.id)).toEqual([]);
    expect(await r.exists(keys.reactions(room, m.id))).toBe(0);
  });

  it('deleting a reply lowers its thread count: the delete event carries replyTo and the absolute replyCount, in frame and log', async () => {
    const room = 'thread';
    await listen(room);
    const parent = ok(await send(room, alice, 'parent', 'p'));
    const r1 = ok(await send(room, bob, 'one', 'q1', parent.id));
    const r2 = ok(await send(room, alice, 'two', 'q2', parent.id));
    const del = await accepted(room, bob, 'd1', { kind: 'delete', target: r1.id }, { replyTo: parent.id, replyCount: 1 });
    expect(del.frame).toMatchObject({ kind: 'delete', replyTo: parent.id, replyCount: 1 });
    const [[, fields]] = (await r.xrange(keys.roomLog(room), del.id, del.id)) as [[string, string[]]];
    expect(fields).toEqual(['ev', 'delete', 'uid', 'bob', 'name', bob.name, 'cid', 'd1', 'tg', r1.id, 're', parent.id, 'rc', '1']);
    expect(await r.hget(keys.thread(room, parent.id), 'c')).toBe('1');
    await accepted(room, alice, 'd2', { kind: 'delete', target: r2.id }, { replyTo: parent.id, replyCount: 0 });
    // a Redis that lost the counter: the frame names the parent without a count (never a wrong
    // one) and no counter is made up
    const r3 = ok(await send(room, bob, 'three', 'q3', parent.id));
    await r.del(keys.thread(room, parent.id));
    const lost = await accepted(room, bob, 'd3', { kind: 'delete', target: r3.id }, { replyTo: parent.id });
    expect(lost.frame).not.toHaveProperty('replyCount');
    expect(await r.exists(keys.thread(room, parent.id))).toBe(0);
  });
});

describe('event.lua: the limits a send has', () => {
  it('the per-room rate (GCRA) counts sends and changes together; a refusal writes nothing', async () => {
    const [sendR, eventR] = scripts(loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '3', RATE_LIMIT_WINDOW_MS: '60000' }));
    const room = 'rate';
    const m = ok(await sendR(room, alice, 'x', 'm'));
    ok(await eventR(room, alice, 'e', { kind: 'edit', target: m.id, text: 'y' }));
    ok(await eventR(room, alice, 'r', { kind: 'react', target: m.id, emoji: '👍', on: true }));
    const before = await snapshot(room, 'alice', 'd', m.id);
    const res = await eventR(room, alice, 'd', { kind: 'delete', target: m.id });
    expect(res).toMatchObject({ kind: 'rate_limited', scope: 'room' });
    if (res.kind === 'rate_limited') expect(res.retryAfterMs).toBeGreaterThan(0);
    expect(await snapshot(room, 'alice', 'd', m.id)).toEqual(before);
    expect((await sendR(room, alice, 'z', 'm2')).kind).toBe('rate_limited');
    // bob's own budget is untouched
    ok(await eventR(room, bob, 'b', { kind: 'react', target: m.id, emoji: '👍', on: true }));
  });

  it("the account budget counts changes as messages and an edit's text (and an emoji) as bytes; past it, user_rate, nothing written", async () => {
    const [sendB, eventB] = scripts(loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '1000', RATE_LIMIT_WINDOW_MS: '3600000', USER_SEND_MAX_MESSAGES: '3' }));
    const room = 'budget';
    const m = ok(await sendB(room, alice, 'ab', 'm'));
    ok(await eventB(room, alice, 'e', { kind: 'edit', target: m.id, text: 'héllo' })); // 6 bytes
    ok(await eventB(room, alice, 'r', { kind: 'react', target: m.id, emoji: '👍', on: true })); // 4 bytes
    expect(Number(await r.get(keys.userSendBudget(room, 'alice')))).toBe(3 * 2 ** 32 + 2 + 6 + 4);
    const before = await snapshot(room, 'alice', 'd', m.id);
    expect(await eventB(room, alice, 'd', { kind: 'delete', target: m.id })).toMatchObject({ kind: 'rate_limited', scope: 'account' });
    expect(await snapshot(room, 'alice', 'd', m.id)).toEqual(before);
  });

  it('past INGEST_MAX_BACKLOG a change is refused overloaded, its budget charge refunded, nothing written', async () => {
    const [sendO, eventO] = scripts(loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '1000', RATE_LIMIT_WINDOW_MS: '3600000', INGEST_MAX_BACKLOG: '100' }));
    const room = 'busy';
    const m = ok(await sendO(room, alice, 'x', 'm'));
    const pipe = r.pipeline();
    for (let i = 0; i < 100; i++) pipe.xadd(keys.ingestStreamOfRoom(room), '*', 'filler', String(i));
    await pipe.exec();
    await listen(room);
    const before = await snapshot(room, 'alice', 'e', m.id);
    expect(await eventO(room, alice, 'e', { kind: 'edit', target: m.id, text: 'y' })).toEqual({ kind: 'overloaded', backlog: 101 });
    expect(await eventO(room, alice, 'e', { kind: 'react', target: m.id, emoji: '👍', on: true })).toEqual({ kind: 'overloaded', backlog: 101 });
    expect(await snapshot(room, 'alice', 'e', m.id)).toEqual(before);
  });

  it('idempotency per cid across kinds: a retried edit, or any change reusing its cid, is a duplicate with the original id', async () => {
    const room = 'idem';
    await listen(room);
    const m = ok(await send(room, alice, 'x', 'm'));
    const edit = await accepted(room, alice, 'e', { kind: 'edit', target: m.id, text: 'y' });
    const log = await r.xlen(keys.roomLog(room));
    const dup = { kind: 'duplicate', id: edit.id, ts: edit.ts };
    expect(await event(room, alice, 'e', { kind: 'edit', target: m.id, text: 'y' })).toEqual(dup);
    expect(await event(room, alice, 'e', { kind: 'react', target: m.id, emoji: '👍', on: true })).toEqual(dup);
    expect(await send(room, alice, 'another', 'e')).toEqual(dup);
    // the duplicate is answered before any check: also once the target is gone
    ok(await event(room, alice, 'd', { kind: 'delete', target: m.id }));
    expect(await event(room, alice, 'e', { kind: 'edit', target: m.id, text: 'y' })).toEqual(dup);
    // and a send's cid reused by a change answers with the message's id
    expect(await event(room, alice, 'm', { kind: 'delete', target: m.id })).toEqual({ kind: 'duplicate', id: m.id, ts: m.ts });
    expect(await r.xlen(keys.roomLog(room))).toBe(log + 1);
    // another user's cid is another action
    expect((await event(room, bob, 'e', { kind: 'react', target: edit.id, emoji: '👍', on: true })).kind).toBe('not_found');
  });
});

describe('event.lua: the room ACL (member.lua writes it)', () => {
  const carol = { id: 'carol', name: 'Carol' };
  const dave = { id: 'dave', name: 'Dave' };
  let n = 0;
  const change = async (room: string, actor: ChatUser, op: MemberOp) => expect((await member(room, actor, op, `acl-${++n}`)).kind).toBe('ok');
  /** A public room: alice creates it (owner), bob, carol and dave join, bob is made an admin. */
  async function moderatedRoom(room: string): Promise<void> {
    await change(room, alice, { op: 'create' });
    for (const u of [bob, carol, dave]) await change(room, u, { op: 'join' });
    await change(room, alice, { op: 'role', target: bob, role: 'admin' });
    await listen(room);
  }

  it("the owner and an admin delete another user's message; a plain member may not; nobody edits another's", async () => {
    const room = 'mods';
    await moderatedRoom(room);
    const [m1, m2, m3] = [ok(await send(room, carol, 'spam 1', 'c1')), ok(await send(room, carol, 'spam 2', 'c2')), ok(await send(room, bob, 'mine', 'b1'))];
    await accepted(room, alice, 'd1', { kind: 'delete', target: m1.id });
    await accepted(room, bob, 'd2', { kind: 'delete', target: m2.id });
    await refused(room, dave, 'd3', { kind: 'delete', target: m3.id }, 'forbidden');
    await refused(room, alice, 'e1', { kind: 'edit', target: m3.id, text: "the owner's words" }, 'forbidden');
    // without an ACL (a wave-1 room, or one not yet rebuilt after a Redis loss) only the author deletes
    const plain = 'no-acl';
    await listen(plain);
    const m4 = ok(await send(plain, carol, 'x', 'c4'));
    await refused(plain, alice, 'd4', { kind: 'delete', target: m4.id }, 'forbidden');
  });

  it('a muted member is refused `muted` with retryAfterMs, changing nothing; after unmute the change goes through', async () => {
    const room = 'muted';
    await moderatedRoom(room);
    const m = ok(await send(room, carol, 'helo', 'c1'));
    await change(room, bob, { op: 'mute', target: carol, seconds: 60 });
    const res = await refused(room, carol, 'e1', { kind: 'edit', target: m.id, text: 'hello' }, 'muted');
    if (res.kind !== 'muted') throw new Error('unreachable');
    expect(res.retryAfterMs).toBeGreaterThan(59_000);
    expect(res.retryAfterMs).toBeLessThanOrEqual(60_000);
    await refused(room, carol, 'r1', { kind: 'react', target: m.id, emoji: '👍', on: true }, 'muted');
    // others still change it (a reaction on a muted user's message is not theirs)
    await accepted(room, dave, 'r2', { kind: 'react', target: m.id, emoji: '👍', on: true }, { count: 1 });
    await change(room, bob, { op: 'unmute', target: carol });
    await accepted(room, carol, 'e2', { kind: 'edit', target: m.id, text: 'hello' });
  });

  it('in a private room a non-member changes nothing (no_access), a member does, and one who left no longer', async () => {
    const room = newMembersOnlyRoom('private');
    await change(room, alice, { op: 'create', title: 'secret' });
    await change(room, alice, { op: 'invite', target: carol });
    await listen(room);
    const m = ok(await send(room, alice, 'hi', 'a1'));
    for (const c of [
      { kind: 'react', target: m.id, emoji: '👀', on: true },
      { kind: 'edit', target: m.id, text: 'x' },
      { kind: 'delete', target: m.id },
    ] as EventHeadInput[]) {
      await refused(room, dave, `x-${c.kind}`, c, 'no_access');
    }
    await accepted(room, carol, 'r1', { kind: 'react', target: m.id, emoji: '👀', on: true }, { count: 1 });
    await change(room, carol, { op: 'leave' });
    await refused(room, carol, 'r2', { kind: 'react', target: m.id, emoji: '👀', on: false }, 'no_access');
  });
});
