// Unit tests of the browser client's pure modules (plain ES modules, loaded as they are served).
import { beforeAll, describe, expect, it } from 'vitest';

// Imported by path at run time: they are JavaScript without type declarations.
const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);

let ids: any;
let rooms: any;
let socket: any;
let storeMod: any;

beforeAll(async () => {
  // store.js reads document.hidden for unread counts; Node has no document.
  (globalThis as any).document ??= { hidden: false };
  ids = await load('ids.js');
  rooms = await load('rooms.js');
  socket = await load('socket.js');
  storeMod = await load('store.js');
});

const flush = () => new Promise((r) => setTimeout(r, 0));
const msg = (id: string, text = id, user = { id: 'u2', name: 'bob' }, cid = `c-${id}`) => ({ id, room: 'general', user, text, ts: Number(id.split('-')[0]), cid });

describe('ids.js', () => {
  it('compares ids numerically, ms then seq, never as strings', () => {
    expect(ids.compareIds('9-0', '10-0')).toBeLessThan(0);
    expect(ids.compareIds('5-10', '5-9')).toBeGreaterThan(0);
    expect(ids.compareIds('1700000000000-3', '1700000000000-3')).toBe(0);
    expect(ids.compareIds('1-9223372036854775808', '1-9223372036854775807')).toBeGreaterThan(0); // past 2^53
    expect(() => ids.compareIds('x', '1-0')).toThrow();
  });
});

describe('rooms.js', () => {
  it('validates room names like the server and builds sorted DM names', () => {
    expect(rooms.roomNameProblem('general')).toBeNull();
    expect(rooms.roomNameProblem('dev_ops-2')).toBeNull();
    expect(rooms.roomNameProblem('-bad')).toMatch(/lowercase/);
    expect(rooms.roomNameProblem('Upper')).toMatch(/lowercase/);
    expect(rooms.roomNameProblem('a'.repeat(65))).toMatch(/64/);
    expect(rooms.dmRoomName('zed', 'amy')).toBe('dm:amy:zed');
    expect(rooms.dmPartner('dm:amy:zed', 'zed')).toBe('amy');
    expect(rooms.isValidRoom('dm:zed:amy')).toBe(false);
  });
});

describe('socket.js backoff', () => {
  const opt = { baseDelayMs: 500, maxDelayMs: 15_000 };
  it('uses full jitter: uniform between 0 and min(cap, base * 2^attempt)', () => {
    expect(socket.backoffDelay(0, opt, () => 0)).toBe(0);
    expect(socket.backoffDelay(0, opt, () => 0.999)).toBeLessThan(500);
    expect(socket.backoffDelay(3, opt, () => 0.999)).toBeLessThan(4000);
    expect(socket.backoffDelay(3, opt, () => 0.999)).toBeGreaterThan(3900);
    expect(socket.backoffDelay(50, opt, () => 0.999)).toBeLessThan(15_000);
    expect(socket.backoffDelay(50, opt, () => 0.999)).toBeGreaterThan(14_900);
  });
  it('spreads a crowd of reconnecting clients instead of synchronising them', () => {
    const delays = Array.from({ length: 1000 }, () => socket.backoffDelay(4, opt));
    const buckets = new Array(8).fill(0);
    for (const d of delays) buckets[Math.floor(d / 1000)]++;
    for (const b of buckets) expect(b).toBeGreaterThan(60); // roughly uniform over 0..8 s
  });
});

describe('store.js', () => {
  const me = { id: 'u1', username: 'alice' };

  it('keeps messages once each, in numeric id order, whatever order they arrive in', async () => {
    const s = storeMod.createStore();
    s.setMe(me);
    s.applyJoined({ room: 'general', messages: [msg('10-0'), msg('9-0')], recovered: true, members: [] });
    s.applyMessage({ type: 'message', ...msg('10-0') });
    s.applyMessage({ type: 'message', ...msg('9-1') });
    s.prependHistory('general', [msg('2-0'), msg('9-0')], true);
    expect(s.state.rooms.get('general').ids).toEqual(['2-0', '9-0', '9-1', '10-0']);
    expect(s.newestId('general')).toBe('10-0');
    expect(s.oldestId('general')).toBe('2-0');
    await flush();
  });

  it('turns a pending send into a message on ack, and drops it when our own message arrives first', () => {
    const s = storeMod.createStore();
    s.setMe(me);
    s.addPending('general', 'hello', 'cid-1');
    s.addPending('general', 'again', 'cid-2');
    expect(s.pendingIn('general').map((p: any) => p.cid)).toEqual(['cid-1', 'cid-2']);
    s.applyAck({ type: 'ack', cid: 'cid-1', id: '20-0', ts: 20 });
    s.applyMessage({ type: 'message', ...msg('20-0', 'hello', { id: 'u1', name: 'alice' }, 'cid-1') });
    s.applyMessage({ type: 'message', ...msg('21-0', 'again', { id: 'u1', name: 'alice' }, 'cid-2') });
    s.applyAck({ type: 'ack', cid: 'cid-2', id: '21-0', ts: 21 });
    expect(s.pendingIn('general')).toEqual([]);
    expect(s.state.rooms.get('general').ids).toEqual(['20-0', '21-0']);
  });

  it('marks failed sends with the reason and can put them back to pending', () => {
    const s = storeMod.createStore();
    s.setMe(me);
    s.addPending('general', 'x', 'cid-9');
    s.markFailed('cid-9', 'too fast');
    expect(s.pendingIn('general')[0]).toMatchObject({ state: 'failed', error: 'too fast' });
    s.markPending('cid-9');
    expect(s.pendingIn('general')[0]).toMatchObject({ state: 'pending', error: null });
  });

  it('after an unfillable gap drops the messages older than the resume so history is paged again', () => {
    const s = storeMod.createStore();
    s.setMe(me);
    s.applyJoined({ room: 'general', messages: [msg('1-0'), msg('2-0')], recovered: true, members: [] });
    s.applyJoined({ room: 'general', messages: [msg('50-0'), msg('51-0')], recovered: false, gap: true, members: [] });
    const r = s.state.rooms.get('general');
    expect(r.ids).toEqual(['50-0', '51-0']);
    expect(r.hasMore).toBe(true);
  });

  it('tracks presence and typing, never listing ourselves as typing', () => {
    const s = storeMod.createStore();
    s.setMe(me);
    s.applyJoined({ room: 'general', messages: [], recovered: false, members: [{ id: 'u2', name: 'bob' }] });
    s.applyPresence({ room: 'general', event: 'join', user: { id: 'u3', name: 'cy' } });
    s.applyPresence({ room: 'general', event: 'leave', user: { id: 'u2', name: 'bob' } });
    expect([...s.state.rooms.get('general').members.keys()].sort()).toEqual(['u1', 'u3']);
    s.applyTyping({ room: 'general', user: { id: 'u3', name: 'cy' }, active: true });
    s.applyTyping({ room: 'general', user: { id: 'u1', name: 'alice' }, active: true });
    expect(s.typingIn('general')).toEqual(['cy']);
    s.applyMessage({ type: 'message', ...msg('60-0', 'hi', { id: 'u3', name: 'cy' }) });
    expect(s.typingIn('general')).toEqual([]);
  });
});
