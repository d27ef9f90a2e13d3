// The attention side of the scripts against a real redis-server (issue 15): send.lua's room
// counter (`seq`) and @mention resolution against the ACL that member.lua keeps, and read.lua's
// read positions, their ingest entries, the user-channel `read` and the room's `receipt`.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { createMemberScript, type MemberOp, type MemberScript } from '../shared/member-script.js';
import { parseIngestItem, type ChatUser } from '../shared/message.js';
import { dmRoomName, newMembersOnlyRoom } from '../shared/rooms.js';
import { mentionArgs } from './mentions.js';
import { createReadScript, type ReadScript } from './read-script.js';
import { createSendScript, type SendScript } from './send-script.js';

let redis: TestRedis;
let r: Redis;
let sub: Redis;
let send: SendScript;
let read: ReadScript;
let member: MemberScript;
const keys = keysFor(4);
const config = loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '1000', ROOM_MENTION_MAX_MEMBERS: '3', RECEIPTS_MAX_MEMBERS: '3' });
const alice = { id: 'aliceid', name: 'Alice' };
const bob = { id: 'bobid', name: 'bob' };
const carol = { id: 'carolid', name: 'Carol.B' };
const dave = { id: 'daveid', name: 'dave' };
let n = 0;
const run = (room: string, actor: ChatUser, op: MemberOp) => member(room, actor, op, `m${++n}`);
const ok = async (p: ReturnType<SendScript>) => {
  const res = await p;
  if (res.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(res)}`);
  return res;
};
const lastIngest = async (room: string) => {
  const [[, fields]] = (await r.xrevrange(keys.ingestStreamOfRoom(room), '+', '-', 'COUNT', 1)) as [[string, string[]]];
  return parseIngestItem(fields);
};

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  sub = redis.client();
  send = createSendScript(r, keys, config);
  read = createReadScript(r, keys, config);
  member = createMemberScript(r, keys, config);
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await r.flushall();
});

/**
 * Frames published while `fn` runs on the channels of `rooms` (shard channels: SSUBSCRIBE) and of
 * `users` (classic: SUBSCRIBE), in arrival order; a PING after it: every publish has arrived.
 */
async function published(
  on: { rooms?: string[]; users?: string[] },
  fn: () => Promise<unknown>,
): Promise<{ channel: string; frame: Record<string, unknown> }[]> {
  const got: { channel: string; frame: Record<string, unknown> }[] = [];
  const listener = (channel: string, payload: string) => void got.push({ channel, frame: JSON.parse(payload) as Record<string, unknown> });
  const rooms = (on.rooms ?? []).map((room) => keys.roomChannel(room));
  const users = (on.users ?? []).map((id) => keys.userChannel(id));
  sub.on('message', listener).on('smessage', listener);
  if (users.length > 0) await sub.subscribe(...users);
  if (rooms.length > 0) await sub.ssubscribe(...rooms);
  try {
    await fn();
    await sub.ping();
    return got;
  } finally {
    sub.off('message', listener).off('smessage', listener);
    if (rooms.length > 0) await sub.sunsubscribe(...rooms);
    if (users.length > 0) await sub.unsubscribe(...users);
  }
}

describe('send.lua: seq and mentions', () => {
  it('numbers top-level messages 1, 2, 3 per room (replies take none) in frame, log and ingest entry', async () => {
    const frames = await published({ rooms: ['lobby'] }, async () => {
      const a = await ok(send('lobby', alice, 'one', 'c1'));
      await ok(send('lobby', bob, 'reply', 'c2', a.id));
      await ok(send('lobby', bob, 'two', 'c3'));
      await ok(send('other', bob, 'elsewhere', 'c4'));
    });
    expect(frames.map((f) => f.frame.seq)).toEqual([1, undefined, 2]);
    expect(await r.get(keys.roomSeq('lobby'))).toBe('2');
    expect(await r.get(keys.roomSeq('other'))).toBe('1');
    const entry = await lastIngest('lobby');
    expect(entry).toMatchObject({ text: 'two', seq: 2 });
  });

  it('resolves @names of members only (not the sender, not the banned, not a non-member), once each', async () => {
    const room = 'team';
    for (const u of [alice, bob, carol]) expect((await run(room, u, { op: 'join' })).kind).toBe('ok');
    expect((await run(room, dave, { op: 'join' })).kind).toBe('ok');
    expect((await run(room, dave, { op: 'leave' })).kind).toBe('ok');
    const frames = await published({ rooms: [room] }, () =>
      ok(send(room, alice, 'hi @BOB and @bob, @carol.b. @alice @dave @nobody mail@bob.com', 'c1')),
    );
    expect(frames[0]!.frame.mentions).toEqual([bob.id, carol.id]);
    expect(await lastIngest(room)).toMatchObject({ mentions: [bob.id, carol.id] });
    // no mention: no field at all
    const plain = await published({ rooms: [room] }, () => ok(send(room, alice, 'no one here', 'c2')));
    expect(plain[0]!.frame).not.toHaveProperty('mentions');
  });

  it('a kicked or banned member is no longer mentionable', async () => {
    const room = newMembersOnlyRoom('private');
    expect((await run(room, alice, { op: 'create' })).kind).toBe('ok');
    expect((await run(room, alice, { op: 'invite', target: bob })).kind).toBe('ok');
    expect((await run(room, alice, { op: 'invite', target: carol })).kind).toBe('ok');
    expect((await ok(send(room, alice, '@bob @carol.b', 'c1'))).kind).toBe('ok');
    expect(await lastIngest(room)).toMatchObject({ mentions: [bob.id, carol.id] });
    expect((await run(room, alice, { op: 'kick', target: bob })).kind).toBe('ok');
    expect((await run(room, alice, { op: 'ban', target: carol })).kind).toBe('ok');
    await ok(send(room, alice, '@bob @carol.b', 'c2'));
    expect(await lastIngest(room)).not.toHaveProperty('mentions');
    expect(await r.hget(keys.roomAcl(room), 'u:bob')).toBeNull();
  });

  it('@room: owners and admins in rooms up to ROOM_MENTION_MAX_MEMBERS, any member of a group; never in a DM', async () => {
    const priv = newMembersOnlyRoom('private');
    await run(priv, alice, { op: 'create' });
    await run(priv, alice, { op: 'invite', target: bob });
    await ok(send(priv, bob, 'hey @room', 'c1'));
    expect(await lastIngest(priv)).not.toHaveProperty('mentions'); // bob is a member, not an admin
    await ok(send(priv, alice, 'hey @everyone', 'c2'));
    expect(await lastIngest(priv)).toMatchObject({ mentions: ['@room'] });
    await run(priv, alice, { op: 'invite', target: carol });
    await run(priv, alice, { op: 'invite', target: dave }); // 4 members > ROOM_MENTION_MAX_MEMBERS (3)
    await ok(send(priv, alice, '@here', 'c3'));
    expect(await lastIngest(priv)).not.toHaveProperty('mentions');

    const group = newMembersOnlyRoom('group');
    await run(group, alice, { op: 'create' });
    await run(group, alice, { op: 'invite', target: bob });
    await ok(send(group, bob, '@room look', 'c4'));
    expect(await lastIngest(group)).toMatchObject({ mentions: ['@room'] });

    const dm = dmRoomName(alice.id, bob.id);
    await ok(send(dm, alice, '@bob @room', 'c5'));
    expect(await lastIngest(dm)).not.toHaveProperty('mentions');
  });

  it('a reply carries its parent author in the ingest entry (the reply notification)', async () => {
    const a = await ok(send('lobby', alice, 'parent', 'c1'));
    await ok(send('lobby', bob, 'child', 'c2', a.id));
    expect(await lastIngest('lobby')).toMatchObject({ replyTo: a.id, replyToUser: alice.id });
  });
});

describe('mentionArgs', () => {
  it('extracts @names (both spellings when one ends in . or -), @room aliases, nothing in DMs or e-mail addresses', () => {
    expect(mentionArgs('lobby', 'hi @Bob, @carol. and x@y.com')).toEqual({ roomMention: '', names: 'bob,carol,carol.' });
    expect(mentionArgs('lobby', '@here now')).toEqual({ roomMention: 'admin', names: '' });
    expect(mentionArgs(newMembersOnlyRoom('group'), '@channel')).toEqual({ roomMention: 'any', names: '' });
    expect(mentionArgs(dmRoomName('a1', 'b2'), '@bob')).toEqual({ roomMention: '', names: '' });
    expect(mentionArgs('lobby', 'no at sign')).toEqual({ roomMention: '', names: '' });
    const many = Array.from({ length: 50 }, (_, i) => `@user${i}`).join(' ');
    expect(mentionArgs('lobby', many).names.split(',')).toHaveLength(20);
  });
});

describe('read.lua', () => {
  it('moves the position forward only, queues a read mark, tells my devices and — small rooms — the room', async () => {
    const room = 'small';
    for (const u of [alice, bob]) await run(room, u, { op: 'join' });
    const m1 = await ok(send(room, alice, 'one', 'c1'));
    const m2 = await ok(send(room, alice, 'two', 'c2'));
    const frames = await published({ users: [bob.id], rooms: [room] }, async () => {
      expect(await read(room, bob, m2.id)).toEqual({ kind: 'ok', seq: 2 });
      expect(await read(room, bob, m1.id)).toEqual({ kind: 'unchanged' });
      expect(await read(room, bob, m2.id)).toEqual({ kind: 'unchanged' });
    });
    expect(frames).toEqual([
      { channel: keys.userChannel(bob.id), frame: { type: 'read', room, id: m2.id, seq: 2 } },
      { channel: keys.roomChannel(room), frame: { type: 'receipt', room, user: bob, id: m2.id, seq: 2 } },
    ]);
    expect(await lastIngest(room)).toEqual({ room, user: bob, id: m2.id, seq: 2 });
    expect(await r.hget(keys.roomReads(room), bob.id)).toBe(`2 ${m2.id}`);
  });

  it('no receipts in rooms over RECEIPTS_MAX_MEMBERS (but always in DMs); my devices still hear it', async () => {
    const room = 'big';
    for (const u of [alice, bob, carol, dave]) await run(room, u, { op: 'join' });
    const m = await ok(send(room, alice, 'hello', 'c1'));
    const frames = await published({ users: [bob.id], rooms: [room] }, () => read(room, bob, m.id));
    expect(frames.map((f) => f.frame.type)).toEqual(['read']);

    const dm = dmRoomName(alice.id, bob.id);
    const d = await ok(send(dm, alice, 'psst', 'c2'));
    const dmFrames = await published({ rooms: [dm] }, () => read(dm, bob, d.id));
    expect(dmFrames.map((f) => f.frame.type)).toEqual(['receipt']);
  });

  it('refuses what is no top-level message; a room whose log expired reads up to its counter', async () => {
    const room = 'lobby';
    const a = await ok(send(room, alice, 'parent', 'c1'));
    const reply = await ok(send(room, bob, 'child', 'c2', a.id));
    expect(await read(room, bob, reply.id)).toEqual({ kind: 'not_top_level' });
    expect(await read(room, bob, '9999999999999-0')).toEqual({ kind: 'not_found' });
    expect(await read(room, bob, '1-0')).toEqual({ kind: 'unchanged' }); // older than the log
    await r.del(keys.roomLog(room)); // as after ROOM_LOG_IDLE_TTL_SEC
    expect(await read(room, bob, a.id)).toEqual({ kind: 'ok', seq: 1 });
    expect(await read('never-used', bob, a.id)).toEqual({ kind: 'not_found' });
  });
});
