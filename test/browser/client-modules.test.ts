// Unit tests of the browser client's pure modules (plain ES modules, loaded as they are served).
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeWS, installFakeWebSocket, ticks } from './fake-ws.js';

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

describe('socket.js reconnect delay', () => {
  const opt = { baseDelayMs: 500, maxDelayMs: 15_000, penaltyDelayMs: 5_000 };
  it('only the first retry after a working connection is fast; later ones back off, and 4008/1008 wait at least the penalty', () => {
    const half = () => 0.5;
    expect(socket.reconnectDelay({ wasReady: true, attempt: 0, code: 1006 }, opt, half)).toBe(250);
    expect(socket.reconnectDelay({ wasReady: true, attempt: 3, code: 1011 }, opt, half)).toBe(2000);
    expect(socket.reconnectDelay({ wasReady: false, attempt: 3, code: 1006 }, opt, half)).toBe(2000);
    expect(socket.reconnectDelay({ wasReady: true, attempt: 0, code: 4008 }, opt, half)).toBeGreaterThanOrEqual(5000);
    expect(socket.reconnectDelay({ wasReady: true, attempt: 0, code: 1008 }, opt, () => 0)).toBe(5000);
    expect(socket.reconnectDelay({ wasReady: true, attempt: 9, code: 4008 }, opt, () => 0.999)).toBeLessThan(15_000);
  });
});

describe('ChatSocket against a fake WebSocket', () => {
  beforeAll(installFakeWebSocket);
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    FakeWS.instances = [];
  });

  function make(over: Record<string, unknown> = {}) {
    const states: any[] = [];
    const frames: any[] = [];
    const s = new socket.ChatSocket({
      urls: ['ws://a/ws', 'ws://b/ws'],
      auth: { token: 't', tokenExpiresAt: Date.now() + 3_600_000, refresh: async () => 't' },
      history: async () => ({ messages: [], hasMore: false }),
      sinceFor: () => null,
      onFrame: (f: any) => frames.push(f),
      onState: (st: any) => states.push(st),
      ...over,
    });
    return { s, states, frames };
  }

  for (const code of [1011, 4008]) {
    it(`a server that closes (${code}) right after hello is retried with growing delays, not ~3 times a second`, () => {
      vi.useFakeTimers();
      vi.spyOn(Math, 'random').mockReturnValue(0.5);
      const { s, states } = make();
      s.start();
      const delays: number[] = [];
      for (let i = 0; i < 6; i++) {
        const ws = FakeWS.instances.at(-1)!;
        ws.accept();
        ws.serverClose(code);
        const st = states.at(-1);
        expect(st.state).toBe('reconnecting');
        delays.push(st.retryInMs);
        vi.advanceTimersByTime(st.retryInMs);
        expect(FakeWS.instances).toHaveLength(i + 2);
      }
      s.stop();
      // Growing (the 4008 penalty floor may hold the first few at the same value).
      for (let i = 2; i < delays.length; i++) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
      expect(delays.at(-1)!).toBeGreaterThan(delays[1]!);
      expect(delays.at(-1)!).toBeGreaterThanOrEqual(4000);
      if (code === 4008) for (const d of delays) expect(d).toBeGreaterThanOrEqual(5000);
      // Six reconnects take seconds, not the ~1.5 s of a fixed 0–500 ms fast path.
      expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThan(10_000);
    });
  }

  it('a joined frame still gap-filling when its connection is replaced never lands after the new one', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    let release: (v: any) => void = () => {};
    const { s, frames } = make({ sinceFor: () => '5-0', history: () => new Promise((r) => (release = r)) });
    s.join('general');
    s.start();
    const ws1 = FakeWS.instances.at(-1)!;
    ws1.accept();
    expect(ws1.sent.at(-1)).toMatchObject({ type: 'join', room: 'general', since: '5-0' });
    ws1.frame({ type: 'joined', room: 'general', recovered: false, messages: [msg('100-0')], members: [] });
    ws1.serverClose(1012);
    vi.advanceTimersByTime(1000);
    const ws2 = FakeWS.instances.at(-1)!;
    expect(ws2).not.toBe(ws1);
    ws2.accept();
    ws2.frame({ type: 'joined', room: 'general', recovered: true, messages: [msg('101-0')], members: [] });
    release({ messages: [msg('50-0')], hasMore: false }); // the old connection's gap fill returns late
    await ticks();
    s.stop();
    const joined = frames.filter((f) => f.type === 'joined');
    expect(joined.map((f) => f.messages.map((m: any) => m.id))).toEqual([['101-0']]);
  });
});

describe('overloaded retry delay', () => {
  it('backs off exponentially per message up to 30 s and never retries before retryAfterMs', () => {
    const half = () => 0.5;
    const d = Array.from({ length: 8 }, (_, i) => socket.overloadedRetryDelay(i, undefined, half));
    for (let i = 1; i < 6; i++) expect(d[i]!).toBeGreaterThan(d[i - 1]!);
    expect(d[0]!).toBeGreaterThanOrEqual(500);
    expect(Math.max(...Array.from({ length: 40 }, (_, i) => socket.overloadedRetryDelay(i, undefined, () => 0.999)))).toBeLessThanOrEqual(30_000);
    expect(socket.overloadedRetryDelay(8, undefined, () => 0)).toBeGreaterThanOrEqual(15_000); // jitter cannot collapse it to 0
    expect(socket.overloadedRetryDelay(0, 12_000, () => 0)).toBeGreaterThanOrEqual(12_000);
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

  it('resumes from the newest id received from the room, not from an ack that overtook someone else\'s message', () => {
    const s = storeMod.createStore();
    s.setMe(me);
    s.applyJoined({ room: 'general', messages: [msg('10-0')], recovered: true, members: [] });
    s.addPending('general', 'mine', 'cid-a');
    // Our ack (id 30-0) arrives before bob's earlier message 20-0 reaches us.
    s.applyAck({ type: 'ack', cid: 'cid-a', id: '30-0', ts: 30 });
    expect(s.resumeFrom('general')).toBe('10-0');
    s.applyMessage({ type: 'message', ...msg('20-0') });
    expect(s.resumeFrom('general')).toBe('20-0');
    s.applyMessage({ type: 'message', ...msg('30-0', 'mine', { id: 'u1', name: 'alice' }, 'cid-a') });
    s.prependHistory('general', [msg('1-0')], true);
    expect(s.resumeFrom('general')).toBe('30-0');
    // A gap-filled resume moves it to the newest message it carried.
    s.applyJoined({ room: 'general', messages: [msg('31-0'), msg('40-0')], recovered: false, gap: false, members: [] });
    expect(s.resumeFrom('general')).toBe('40-0');
    expect(s.resumeFrom('nowhere')).toBeNull();
  });

  it('bounds the room on screen while the reader is at the bottom, and marks older history as re-loadable', () => {
    const s = storeMod.createStore();
    s.setMe(me);
    const max = storeMod.MAX_MESSAGES_PER_ROOM as number;
    const many = Array.from({ length: max }, (_, i) => msg(`${1000 + i}-0`));
    s.applyJoined({ room: 'general', messages: many, recovered: true, members: [] });
    s.prependHistory('general', [msg('1-0')], false);
    s.setCurrent('general');
    const r = s.state.rooms.get('general');
    // Scrolled up reading history: nothing is dropped under the reader.
    s.applyMessage({ type: 'message', ...msg('900000-0') }, { canTrimCurrent: false });
    expect(r.ids.length).toBe(max + 2);
    // At the bottom: trimmed to the newest `max`, older ones paged in again on scroll-up.
    s.applyMessage({ type: 'message', ...msg('900001-0') }, { canTrimCurrent: true });
    expect(r.ids.length).toBe(max);
    expect(r.msgs.size).toBe(max);
    expect(r.ids.at(-1)).toBe('900001-0');
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
    expect(s.typingIn('general')).toEqual(['u3']);
    s.applyMessage({ type: 'message', ...msg('60-0', 'hi', { id: 'u3', name: 'cy' }) });
    expect(s.typingIn('general')).toEqual([]);
  });
});
