// send.lua against the room's ACL (lib/limits.lua access_check; member.lua writes the ACL) and
// the first message of a DM on the peer's user channel, against a real redis-server. (What a send
// writes and the limits it has: send-script.test.ts.)
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { loadConfig } from '../shared/config.js';
import { keysFor } from '../shared/keys.js';
import { createMemberScript, type MemberOp, type MemberScript } from '../shared/member-script.js';
import type { ChatUser } from '../shared/message.js';
import { dmRoomName, newMembersOnlyRoom } from '../shared/rooms.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { createSendScript, type SendResult, type SendScript } from './send-script.js';

let redis: TestRedis;
let r: Redis;
let sub: Redis;
let send: SendScript;
let member: MemberScript;
const keys = keysFor(4);
const config = loadConfig('chat', { PARTITIONS: '4', RATE_LIMIT_MESSAGES: '100', RATE_LIMIT_WINDOW_MS: '60000' });
const alice = { id: 'alice', name: 'Alice' };

beforeAll(async () => {
  redis = await startRedis();
  r = redis.client();
  sub = redis.client();
  send = createSendScript(r, keys, config);
  member = createMemberScript(r, keys, config);
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await r.flushall();
});

describe('send.lua: the room ACL (member.lua writes it) and a new DM', () => {
  const bob = { id: 'bob', name: 'Bob' };
  const carol = { id: 'carol', name: 'Carol' };
  let n = 0;
  const change = async (room: string, actor: ChatUser, op: MemberOp) => expect((await member(room, actor, op, `acl-${++n}`)).kind).toBe('ok');
  /** Everything a send writes: a refused one must leave all of it as it was. */
  const traces = async (room: string, uid: string, cid: string) => ({
    log: await r.xrange(keys.roomLog(room), '-', '+'),
    ingest: await r.xlen(keys.ingestStreamOfRoom(room)),
    idem: await r.get(keys.sendIdempotency(room, uid, cid)),
    rate: await r.get(keys.sendRate(room, uid)),
    budget: await r.get(keys.userSendBudget(room, uid)),
  });
  async function refused(room: string, user: ChatUser, cid: string): Promise<SendResult> {
    const before = await traces(room, user.id, cid);
    const res = await send(room, user, 'refused?', cid);
    expect(await traces(room, user.id, cid)).toEqual(before);
    return res;
  }

  it('refuses the banned (banned), everyone in an archived room (archived) and the muted (muted, retryAfterMs), writing nothing', async () => {
    const room = 'moderated';
    await change(room, alice, { op: 'create' });
    for (const u of [bob, carol]) await change(room, u, { op: 'join' });
    expect((await send(room, bob, 'hello', 'b0')).kind).toBe('ok');
    await change(room, alice, { op: 'ban', target: bob });
    expect(await refused(room, bob, 'b1')).toEqual({ kind: 'banned' });
    await change(room, alice, { op: 'mute', target: carol, seconds: 30 });
    const muted = await refused(room, carol, 'c1');
    expect(muted.kind).toBe('muted');
    if (muted.kind === 'muted') {
      expect(muted.retryAfterMs).toBeGreaterThan(29_000);
      expect(muted.retryAfterMs).toBeLessThanOrEqual(30_000);
    }
    expect((await send(room, alice, 'still open', 'a1')).kind).toBe('ok');
    await change(room, alice, { op: 'archive' });
    expect(await refused(room, alice, 'a2')).toEqual({ kind: 'archived' });
    await change(room, alice, { op: 'unarchive' });
    expect((await send(room, alice, 'open again', 'a3')).kind).toBe('ok');
  });

  it('a private room takes sends from its members only (no_access otherwise); a public room without an ACL is open', async () => {
    const room = newMembersOnlyRoom('private');
    await change(room, alice, { op: 'create', title: 'plans' });
    expect(await refused(room, bob, 'b1')).toEqual({ kind: 'no_access' });
    expect((await send(room, alice, 'hi', 'a1')).kind).toBe('ok');
    await change(room, alice, { op: 'invite', target: bob });
    expect((await send(room, bob, 'hi', 'b2')).kind).toBe('ok');
    // a members-only NAME without an ACL (never created, or lost with Redis) is closed too
    expect(await refused(newMembersOnlyRoom('group'), alice, 'g1')).toEqual({ kind: 'no_access' });
    // a public room with no ACL (wave 1, or not rebuilt yet after a Redis loss) takes anyone's send
    expect(await r.exists(keys.roomAcl('wave-one'))).toBe(0);
    expect((await send('wave-one', carol, 'hi', 'c1')).kind).toBe('ok');
  });

  it("a DM's first message is published on the peer's user channel too (their sidebar shows it live), a later one is not", async () => {
    const room = dmRoomName('alice', 'bob');
    const heard: [string, string][] = [];
    const listener = (ch: string, payload: string) => void heard.push([ch, payload]);
    // the room channel is a shard channel (SPUBLISH), the user channels classic (PUBLISH)
    sub.on('smessage', listener).on('message', listener);
    await sub.ssubscribe(keys.roomChannel(room));
    await sub.subscribe(keys.userChannel('bob'), keys.userChannel('alice'));
    try {
      const first = await send(room, alice, 'hi bob', 'd1');
      const second = await send(room, alice, 'again', 'd2');
      const reply = await send(room, bob, 'hi alice', 'd3');
      await sub.ping(); // answered after every PUBLISH above reached this connection
      const on = (ch: string) => heard.filter(([c]) => c === ch).map(([, p]) => JSON.parse(p).id as string);
      expect(on(keys.roomChannel(room))).toEqual([first, second, reply].map((x) => (x as { id: string }).id));
      expect(on(keys.userChannel('bob'))).toEqual([(first as { id: string }).id]);
      expect(on(keys.userChannel('alice'))).toEqual([]);
      // the same bytes as on the room channel
      expect(heard.find(([c]) => c === keys.userChannel('bob'))![1]).toBe(heard.find(([c]) => c === keys.roomChannel(room))![1]);
    } finally {
      sub.off('smessage', listener).off('message', listener);
      await sub.sunsubscribe(keys.roomChannel(room));
      await sub.unsubscribe(keys.userChannel('bob'), keys.userChannel('alice'));
    }
  });
});
