// Messages that change (issue 13), end to end on two real chat replicas and one real Redis:
// edit, delete, react and thread replies are events on the room log — acked like sends,
// authorised inside the script, delivered to every member in log order, replayed by `since`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareIds } from '../../services/shared/ids.js';
import { waitFor } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startService, type RunningService } from '../helpers/service.js';
import { TestClient, chatEnv, tokenFor, type Frame } from './client.js';

let redis: TestRedis;
let a: RunningService;
let b: RunningService;
const clients: TestClient[] = [];
let n = 0;
const cid = (p: string) => `${p}-${++n}`;
const room = () => `ev-${++n}`;

const env = (id: string) =>
  chatEnv(redis.url, id, { RATE_LIMIT_MESSAGES: '200', MAX_FRAMES_PER_SEC: '400', USER_SEND_MAX_MESSAGES: '5000', INGEST_MAX_BACKLOG: '100000' });

async function connect(svc: RunningService, user: string): Promise<TestClient> {
  const c = await TestClient.connect(svc.baseUrl, tokenFor(user));
  clients.push(c);
  return c;
}

/** alice on replica A and bob on replica B, both in a fresh room. */
async function pair(): Promise<{ alice: TestClient; bob: TestClient; r: string }> {
  const r = room();
  const [alice, bob] = await Promise.all([connect(a, 'alice'), connect(b, 'bob')]);
  await Promise.all([alice.join(r), bob.join(r)]);
  return { alice, bob, r };
}

async function post(c: TestClient, r: string, text: string, replyTo?: string): Promise<Frame> {
  const ack = await c.request({ type: 'send', room: r, text, cid: cid('m'), ...(replyTo ? { replyTo } : {}) });
  expect(ack.type, JSON.stringify(ack)).toBe('ack');
  return ack;
}

const eventFor = (c: TestClient, pred: (f: Frame) => boolean) => c.find('event', pred);

beforeAll(async () => {
  redis = await startRedis();
  [a, b] = await Promise.all([startService('chat', env('ev-a')), startService('chat', env('ev-b'))]);
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

describe('edit and delete', () => {
  it('an edit by the author is acked with its own id and reaches every member as an event after the message', async () => {
    const { alice, bob, r } = await pair();
    const m = await post(alice, r, 'helo');
    const c = cid('e');
    const ack = await alice.request({ type: 'edit', room: r, id: m.id, text: 'hello', cid: c });
    expect(ack).toMatchObject({ type: 'ack', cid: c });
    expect(compareIds(ack.id, m.id)).toBeGreaterThan(0);
    for (const who of [alice, bob]) {
      const ev = await eventFor(who, (f) => f.id === ack.id);
      expect(ev).toEqual({ type: 'event', kind: 'edit', room: r, user: { id: 'alice', name: 'alice' }, target: m.id, text: 'hello', cid: c, id: ack.id, ts: ack.ts });
    }
    // a retry of the same cid is the same change: the same id, nothing appended twice
    const again = await alice.request({ type: 'edit', room: r, id: m.id, text: 'hello', cid: c });
    expect(again).toMatchObject({ type: 'ack', id: ack.id, duplicate: true });
  });

  it('refuses an edit of somebody else\'s message (forbidden), of an unknown or deleted one (not_found), and a delete by another user', async () => {
    const { alice, bob, r } = await pair();
    const m = await post(alice, r, 'mine');
    expect(await bob.request({ type: 'edit', room: r, id: m.id, text: 'yours now', cid: cid('x') })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await bob.request({ type: 'delete', room: r, id: m.id, cid: cid('x') })).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await alice.request({ type: 'edit', room: r, id: '1-1', text: 'x', cid: cid('x') })).toMatchObject({ type: 'error', code: 'not_found' });
    const del = await alice.request({ type: 'delete', room: r, id: m.id, cid: cid('d') });
    expect(del.type).toBe('ack');
    const ev = await eventFor(bob, (f) => f.id === del.id);
    expect(ev).toMatchObject({ kind: 'delete', target: m.id, user: { id: 'alice' } });
    expect(ev).not.toHaveProperty('text');
    expect(await alice.request({ type: 'edit', room: r, id: m.id, text: 'back', cid: cid('x') })).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await bob.request({ type: 'react', room: r, id: m.id, emoji: '👍', on: true, cid: cid('x') })).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await alice.request({ type: 'delete', room: r, id: m.id, cid: cid('x') })).toMatchObject({ type: 'error', code: 'not_found' });
    // nothing was appended for the refusals: bob saw exactly one event
    expect(bob.all('event', (f) => f.target === m.id)).toHaveLength(1);
  });

  it('a change in a room the socket has not joined is not_joined; a malformed change is bad_request', async () => {
    const { alice, r } = await pair();
    const m = await post(alice, r, 'x');
    expect(await alice.request({ type: 'edit', room: 'elsewhere', id: m.id, text: 'y', cid: cid('x') })).toMatchObject({ code: 'not_joined' });
    expect(await alice.request({ type: 'edit', room: r, id: 'nope', text: 'y', cid: cid('x') })).toMatchObject({ code: 'bad_request' });
    expect(await alice.request({ type: 'edit', room: r, id: m.id, text: '  ', cid: cid('x') })).toMatchObject({ code: 'bad_request' });
    expect(await alice.request({ type: 'edit', room: r, id: m.id, text: 'x'.repeat(4001), cid: cid('x') })).toMatchObject({ code: 'too_long' });
    expect(await alice.request({ type: 'react', room: r, id: m.id, emoji: 'lol', on: true, cid: cid('x') })).toMatchObject({ code: 'bad_request' });
    expect(await alice.request({ type: 'react', room: r, id: m.id, emoji: '👍', cid: cid('x') })).toMatchObject({ code: 'bad_request' });
  });
});

describe('reactions', () => {
  it('toggle per (message, emoji, user) with an absolute count; a reaction already as asked is acked unchanged', async () => {
    const { alice, bob, r } = await pair();
    const m = await post(alice, r, 'react to me');
    const react = (c: TestClient, emoji: string, on: boolean) => c.request({ type: 'react', room: r, id: m.id, emoji, on, cid: cid('r') });
    const a1 = await react(alice, '👍', true);
    const b1 = await react(bob, '👍', true);
    const again = await react(bob, '👍', true);
    expect(again).toEqual({ type: 'ack', cid: again.cid, unchanged: true });
    const b2 = await react(bob, '👍', false);
    const b3 = await react(bob, '👍', true);
    const counts = await Promise.all([a1, b1, b2, b3].map((ack) => eventFor(alice, (f) => f.id === ack.id)));
    expect(counts.map((e) => [e.user.id, e.on, e.count])).toEqual([
      ['alice', true, 1],
      ['bob', true, 2],
      ['bob', false, 1],
      ['bob', true, 2],
    ]);
    expect(counts[0]).toMatchObject({ type: 'event', kind: 'react', target: m.id, emoji: '👍' });
    expect((await react(alice, '👍🏽', false))).toMatchObject({ unchanged: true });
  });

  it('caps the different emoji on one message at 20 (limit_reached); an emoji already there still counts', async () => {
    const { alice, bob, r } = await pair();
    const m = await post(alice, r, 'so many');
    const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩'];
    for (const e of emoji.slice(0, 20)) expect((await alice.request({ type: 'react', room: r, id: m.id, emoji: e, on: true, cid: cid('r') })).type).toBe('ack');
    expect(await alice.request({ type: 'react', room: r, id: m.id, emoji: emoji[20], on: true, cid: cid('r') })).toMatchObject({ type: 'error', code: 'limit_reached' });
    expect((await bob.request({ type: 'react', room: r, id: m.id, emoji: emoji[0], on: true, cid: cid('r') })).type).toBe('ack');
    // one off makes room for another
    await alice.request({ type: 'react', room: r, id: m.id, emoji: emoji[5], on: false, cid: cid('r') });
    expect((await alice.request({ type: 'react', room: r, id: m.id, emoji: emoji[20], on: true, cid: cid('r') })).type).toBe('ack');
  });
});

describe('threads', () => {
  it('a reply carries replyTo and the parent\'s absolute replyCount; deleting a reply lowers it; replies to replies and to unknown messages are refused', async () => {
    const { alice, bob, r } = await pair();
    const parent = await post(alice, r, 'start a thread');
    const r1 = await post(bob, r, 'first reply', parent.id);
    const r2 = await post(alice, r, 'second reply', parent.id);
    const m1 = await alice.find('message', (f) => f.id === r1.id);
    const m2 = await bob.find('message', (f) => f.id === r2.id);
    expect(m1).toMatchObject({ replyTo: parent.id, replyCount: 1, text: 'first reply' });
    expect(m2).toMatchObject({ replyTo: parent.id, replyCount: 2 });
    expect(await alice.request({ type: 'send', room: r, text: 'nested', replyTo: r1.id, cid: cid('m') })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await alice.request({ type: 'send', room: r, text: 'to nothing', replyTo: '1-1', cid: cid('m') })).toMatchObject({ type: 'error', code: 'not_found' });
    const del = await bob.request({ type: 'delete', room: r, id: r1.id, cid: cid('d') });
    const ev = await eventFor(alice, (f) => f.id === del.id);
    expect(ev).toMatchObject({ kind: 'delete', target: r1.id, replyTo: parent.id, replyCount: 1 });
    // a reply to a deleted parent is refused
    await alice.request({ type: 'delete', room: r, id: parent.id, cid: cid('d') });
    expect(await bob.request({ type: 'send', room: r, text: 'late', replyTo: parent.id, cid: cid('m') })).toMatchObject({ code: 'not_found' });
  });
});

describe('resume', () => {
  it('join with since replays the events after it, in log order, with the messages', async () => {
    const { alice, bob, r } = await pair();
    const m = await post(alice, r, 'before');
    bob.send({ type: 'leave', room: r });
    await bob.next('left', (f) => f.room === r);
    const edit = await alice.request({ type: 'edit', room: r, id: m.id, text: 'after', cid: cid('e') });
    const react = await alice.request({ type: 'react', room: r, id: m.id, emoji: '🎉', on: true, cid: cid('r') });
    const later = await post(alice, r, 'a new one');
    const del = await alice.request({ type: 'delete', room: r, id: m.id, cid: cid('d') });
    const joined = await bob.join(r, m.id);
    expect(joined.recovered).toBe(true);
    expect(joined.messages.map((x: Frame) => x.id)).toEqual([later.id]);
    expect(joined.events.map((x: Frame) => [x.kind, x.id])).toEqual([
      ['edit', edit.id],
      ['react', react.id],
      ['delete', del.id],
    ]);
    expect(joined.events[1]).toMatchObject({ type: 'event', emoji: '🎉', on: true, count: 1, target: m.id });
    // and a join without since carries the recent events too
    const fresh = await connect(b, 'carol');
    const j2 = await fresh.join(r);
    expect(j2.events.filter((x: Frame) => x.kind !== 'member').map((x: Frame) => x.id)).toEqual([edit.id, react.id, del.id]);
    // the room's `member joined` events are on the same log: alice and bob (in either order),
    // carol's own the newest; bob's second join appended none
    const joins = j2.events.filter((x: Frame) => x.kind === 'member').map((x: Frame) => x.member.id);
    expect(joins.at(-1)).toBe('carol');
    expect([...joins].sort()).toEqual(['alice', 'bob', 'carol']);
  });

  it('the frame replayed from the log is byte-identical to the frame delivered live', async () => {
    const { alice, bob, r } = await pair();
    const raw: string[] = [];
    bob.ws.on('message', (d) => raw.push(d.toString()));
    const m = await post(alice, r, 'x "quoted" é');
    const p = await post(alice, r, 'reply', m.id);
    const e = await alice.request({ type: 'edit', room: r, id: m.id, text: 'y \\ z', cid: cid('e') });
    const re = await alice.request({ type: 'react', room: r, id: m.id, emoji: '👩‍💻', on: true, cid: cid('r') });
    const d = await alice.request({ type: 'delete', room: r, id: p.id, cid: cid('d') });
    await waitFor(() => raw.some((s) => s.includes(d.id)), { what: 'the delete live' });
    const carol = await connect(a, 'carol');
    const rawJoin: string[] = [];
    carol.ws.on('message', (x) => rawJoin.push(x.toString()));
    await carol.join(r);
    const joinedRaw = rawJoin.find((s) => s.startsWith('{"type":"joined"'))!;
    for (const id of [e.id, re.id, d.id]) {
      const live = raw.find((s) => s.includes(`"id":"${id}"`))!;
      expect(joinedRaw).toContain(live);
    }
  });
});
