// Unit tests of the browser client against the history pages with membership events and the
// join refusals that name their room (issue 14): paging by the oldest id among messages AND
// events (a page of events only goes on), the gap fill bringing the gap's events, history events
// as system lines once each without touching room state, and a refused join matched to its own
// room however many joins are waiting. Pages come from the users service's own historyPage over
// an in-memory room; event frames from services/chat/frames.ts, as the servers build them.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { frameTail, memberFrameHead, memberFrameState } from '../../services/chat/frames.js';
import { compareIds } from '../../services/shared/ids.js';
import { HISTORY_EVENTS_MAX, historyPage } from '../../services/users/rooms-routes.js';
import { FakeWS, installFakeWebSocket, ticks } from './fake-ws.js';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);

let gapMod: any;
let storeMod: any;
let socketMod: any;
let joinsMod: any;

beforeAll(async () => {
  installFakeWebSocket();
  gapMod = await load('../sdk/history-gap.js');
  storeMod = await load('store.js');
  socketMod = await load('socket.js');
  joinsMod = await load('../sdk/joins.js');
});

const ROOM = 'p:AbCdEfGhIjKlMnOp';
const alice = { id: 'u1', name: 'alice' };
const bob = { id: 'u2', name: 'bob' };
const ms = (id: string) => Number(id.split('-')[0]);
const msg = (id: string) => ({ id, room: ROOM, user: alice, text: `m ${id}`, ts: ms(id), cid: `c-${id}` });
/** bob joining and leaving, as member.lua's callers publish it. */
const ev = (id: string, i = 0) =>
  JSON.parse(memberFrameHead(ROOM, bob, i % 2 ? 'left' : 'joined', bob, `e-${id}`) + memberFrameState(i % 2 ? {} : { role: 'member' }) + frameTail({}, id, ms(id)));

/**
 * GET /api/rooms/:room/messages over an in-memory room: the route's own steps (rooms-routes.ts)
 * with arrays for the store, and its historyPage.
 */
function serve(messages: any[], events: any[]) {
  const calls: (string | undefined)[] = [];
  const history = async (_room: string, { before, limit }: { before?: string; limit: number }) => {
    calls.push(before);
    const rows = messages.filter((m) => !before || compareIds(m.id, before) < 0).slice(-(limit + 1));
    const more = rows.length > limit;
    const newest = more ? rows.slice(1) : rows;
    const from = more ? newest[0].id : undefined;
    const entries = events.filter((e) => (!from || compareIds(e.id, from) > 0) && (!before || compareIds(e.id, before) < 0)).slice(-(HISTORY_EVENTS_MAX + 1));
    const cut = entries.length > HISTORY_EVENTS_MAX;
    return JSON.parse(JSON.stringify(historyPage(newest, more, cut ? entries.slice(1) : entries, cut, 10_000_000)));
  };
  return { history, calls };
}

/** 30 messages (ms 1000…1029) with 450 events between the 11th and the 12th (1010-1…1010-450). */
function busyRoom() {
  const messages = Array.from({ length: 30 }, (_, i) => msg(`${1000 + i}-0`));
  const events = Array.from({ length: 450 }, (_, i) => ev(`1010-${i + 1}`, i));
  return { messages, events };
}

function fresh() {
  const s = storeMod.createStore();
  s.setMe({ id: 'u2', username: 'bob' });
  return s;
}

describe('history-gap.js: the paging rule', () => {
  it('pages by the oldest id on the page, messages and events alike', () => {
    expect(gapMod.pageCursor({ messages: [msg('20-0'), msg('30-0')], events: [ev('25-0')], hasMore: true })).toBe('20-0');
    expect(gapMod.pageCursor({ messages: [msg('20-0')], events: [ev('9-0'), ev('25-0')], hasMore: true })).toBe('9-0');
    expect(gapMod.pageCursor({ messages: [], events: [ev('9-5'), ev('10-0')], hasMore: true })).toBe('9-5');
    expect(gapMod.pageCursor({ messages: [msg('100-0')], hasMore: false })).toBe('100-0'); // an older server: no events
    expect(gapMod.pageCursor({ messages: [], events: [], hasMore: false })).toBeNull();
  });

  it('a room paged back to its start shows every message and every event once, through a page of events only', async () => {
    const { messages, events } = busyRoom();
    const { history, calls } = serve(messages, events);
    const s = fresh();
    const pages: any[] = [];
    for (let i = 0; i < 20 && s.state.rooms.get(ROOM)?.hasMore !== false; i++) {
      const res = await history(ROOM, { before: s.historyCursor(ROOM) ?? undefined, limit: 10 });
      pages.push(res);
      s.prependHistory(ROOM, res.messages, res.hasMore, res.events);
    }
    const r = s.state.rooms.get(ROOM);
    expect(r.hasMore).toBe(false);
    expect(r.ids).toEqual(messages.map((m) => m.id));
    expect(s.systemLines(ROOM).map(([id]: [string]) => id)).toEqual(events.map((e) => e.id));
    // The server cut a page at its event bound, and one held events only — and paging went on.
    expect(pages.some((p) => p.messages.length === 0 && p.events.length > 0 && p.hasMore)).toBe(true);
    // Each page was asked for below the previous page's oldest item, whatever its kind.
    expect(calls.slice(1)).toEqual(pages.slice(0, -1).map((p) => gapMod.pageCursor(p)));
    expect(calls.some((c, i) => i > 0 && c !== undefined && c !== gapMod.pageCursor({ messages: pages[i - 1].messages }))).toBe(true);
  });

  it('a gap fill goes on through a page of events only and brings the gap\'s events', async () => {
    const { messages, events } = busyRoom();
    const { history, calls } = serve(messages, events);
    const joinedWith = messages.slice(25); // the join's fallback: the latest messages
    const since = '1005-0'; // the newest id the client held
    const { filled, events: got, gap } = await gapMod.fillGap(history, ROOM, joinedWith, since, { gapFillPages: 10, gapFillPageSize: 10 });
    expect(gap).toBe(false);
    expect(filled.map((m: any) => m.id)).toEqual(messages.slice(6, 25).map((m) => m.id));
    expect(got.map((e: any) => e.id)).toEqual(events.map((e) => e.id));
    expect(calls.length).toBeGreaterThan(3);
  });

  it('a gap fill stops at `since` even when the page reaching it starts with an event', async () => {
    const history = async () => ({ messages: [msg('30-0')], events: [ev('10-0'), ev('20-0')], hasMore: true });
    const res = await gapMod.fillGap(history, ROOM, [msg('40-0')], '15-0', { gapFillPages: 5, gapFillPageSize: 10 });
    expect(res).toMatchObject({ gap: false });
    expect(res.filled.map((m: any) => m.id)).toEqual(['30-0']);
    expect(res.events.map((e: any) => e.id)).toEqual(['20-0']);
  });
});

describe('store.js: history events', () => {
  it('are one system line with the live copy of the same event, and change no room state', () => {
    const s = fresh();
    const t0 = Date.now();
    s.setRoster(ROOM, [{ id: 'u1', username: 'alice', role: 'owner' }], t0); // bob left since
    const live = ev('50-0', 0); // "bob joined", seen live
    s.applyEvent(live);
    s.applyEvent(ev('51-0', 1));
    s.prependHistory(ROOM, [msg('45-0')], true, [ev('40-0', 0), JSON.parse(JSON.stringify(live))]);
    const r = s.state.rooms.get(ROOM);
    expect(s.systemLines(ROOM).map(([id]: [string]) => id)).toEqual(['40-0', '50-0', '51-0']);
    // The old "bob joined" of the page did not make him a member again.
    expect([...r.roster.keys()]).toEqual(['u1']);
    expect(r.role).toBeNull();
    expect(s.historyCursor(ROOM)).toBe('40-0');
  });

  it('a page of events only keeps hasMore; the cursor falls back to the oldest message once messages are dropped', () => {
    const s = fresh();
    s.applyJoined({ room: ROOM, messages: [msg('100-0'), msg('101-0')], events: [], recovered: true, members: [] });
    expect(s.historyCursor(ROOM)).toBe('100-0');
    s.prependHistory(ROOM, [], true, [ev('90-0'), ev('95-0', 1)]);
    const r = s.state.rooms.get(ROOM);
    expect(r.hasMore).toBe(true);
    expect(s.historyCursor(ROOM)).toBe('90-0');
    // A resume the log could not serve drops what is older than it: history is paged again.
    s.applyJoined({ room: ROOM, messages: [msg('200-0')], events: [], recovered: false, members: [], gap: true });
    expect(s.historyCursor(ROOM)).toBe('200-0');
    s.prependHistory(ROOM, [], false, []);
    expect(r.hasMore).toBe(false);
  });

  it('a gap fill\'s events reach the store like a join backlog: state and system lines', () => {
    const s = fresh();
    s.applyJoined({ room: ROOM, messages: [msg('300-0')], events: [ev('290-0', 0)], recovered: false, members: [], stale: true });
    expect(s.state.rooms.get(ROOM).role).toBe('member');
    expect(s.systemLines(ROOM).map(([id]: [string]) => id)).toEqual(['290-0']);
  });
});

describe('store.js: a gap fill\'s events after newer live ones', () => {
  it('do not undo the newer ones, nor when a REST answer is laid under them', () => {
    const s = fresh();
    const t0 = Date.now() - 1;
    const role = (id: string, r: string) => JSON.parse(memberFrameHead(ROOM, alice, 'role', bob, `r-${id}`) + memberFrameState({ role: r as any }) + frameTail({}, id, ms(id)));
    s.applyEvent(role('60-0', 'admin')); // live, while the gap was being filled
    s.applyJoined({ room: ROOM, messages: [msg('70-0')], events: [role('55-0', 'member')], recovered: false, members: [], stale: true });
    expect(s.state.rooms.get(ROOM).role).toBe('admin');
    s.setRoster(ROOM, [{ id: 'u1', username: 'alice', role: 'owner' }, { id: 'u2', username: 'bob', role: 'member' }], t0);
    expect(s.state.rooms.get(ROOM).roster.get('u2').role).toBe('admin');
  });
});

describe('join refusals name their room', () => {
  afterEach(() => {
    vi.useRealTimers();
    FakeWS.instances = [];
  });

  function connect(over: Record<string, unknown> = {}) {
    const frames: any[] = [];
    const s = new socketMod.ChatSocket({
      urls: ['ws://a/ws'],
      auth: { token: 't', tokenExpiresAt: Date.now() + 3_600_000, refresh: async () => 't' },
      history: async () => ({ messages: [], hasMore: false, events: [] }),
      sinceFor: () => null,
      onFrame: (f: any) => frames.push(f),
      onState: () => {},
      ...over,
    });
    for (const room of ['general', 'town', ROOM, 'market']) s.join(room);
    s.start();
    const ws = FakeWS.instances.at(-1)!;
    ws.accept();
    expect(ws.sent.filter((f) => f.type === 'join').map((f) => f.room)).toEqual(['general', 'town', ROOM, 'market']);
    return { s, ws, frames };
  }

  it('a forbidden join is matched to the room it names, not to the oldest join waiting', () => {
    const { s, ws, frames } = connect();
    // The server refused `town` for now (rate_limited) before it came to the private room.
    ws.frame({ type: 'error', code: 'rate_limited', message: 'too many joins and leaves, slow down', room: 'town', retryAfterMs: 5000 });
    ws.frame({ type: 'error', code: 'forbidden', message: 'no such room', room: ROOM });
    const refused = frames.filter((f) => f.joinRefused);
    expect(refused.map((f) => f.room)).toEqual([ROOM]);
    expect([...s.rooms]).toEqual(['general', 'town', 'market']);
    // The other joins are still answered as theirs.
    ws.frame({ type: 'joined', room: 'market', messages: [], events: [], recovered: true, members: [] });
    expect(frames.filter((f) => f.type === 'joined').map((f) => f.room)).toEqual(['market']);
    s.stop();
  });

  it('a join refused for now is sent again after retryAfterMs, a few times at most', () => {
    vi.useFakeTimers();
    const { s, ws } = connect();
    const joinsOf = (room: string) => ws.sent.filter((f) => f.type === 'join' && f.room === room).length;
    for (let i = 0; i < joinsMod.JOIN_RETRIES + 2; i++) {
      ws.frame({ type: 'error', code: 'rate_limited', message: 'slow down', room: 'town', retryAfterMs: 2000 });
      vi.advanceTimersByTime(1999);
      const before = joinsOf('town');
      vi.advanceTimersByTime(1);
      expect(joinsOf('town') - before).toBe(i < joinsMod.JOIN_RETRIES ? 1 : 0);
    }
    // bad_request (too many rooms on this socket) is not retried on this connection.
    ws.frame({ type: 'error', code: 'bad_request', message: 'at most 100 rooms per connection', room: 'market' });
    vi.advanceTimersByTime(120_000);
    expect(joinsOf('market')).toBe(1);
    expect(s.rooms.has('market')).toBe(true); // joined again on the next connection
    s.stop();
  });

  it('a server that does not name the room: the oldest waiting join is guessed — until a refusal names one', () => {
    const a = connect();
    a.ws.frame({ type: 'joined', room: 'general', messages: [], events: [], recovered: true, members: [] });
    a.ws.frame({ type: 'error', code: 'forbidden', message: 'you are banned from this room' });
    expect(a.frames.filter((f) => f.joinRefused).map((f) => f.room)).toEqual(['town']);
    a.s.stop();

    const b = connect();
    b.ws.frame({ type: 'error', code: 'internal', message: 'could not join the room, retry', room: 'general' });
    // A room-less forbidden from this server is not a join's (an `auth` token of another user).
    b.ws.frame({ type: 'error', code: 'forbidden', message: 'token belongs to another user' });
    expect(b.frames.filter((f) => f.joinRefused)).toEqual([]);
    expect(b.s.rooms.has('town')).toBe(true);
    b.s.stop();
  });

  it('a resume the log could not serve hands on the gap\'s events with the join\'s own', async () => {
    // A page of the gap, then one reaching back past `since` (50-0).
    const history = async (_room: string, { before }: { before?: string }) =>
      before === '70-0' ? { messages: [msg('60-0')], events: [ev('55-0'), ev('58-0', 1)], hasMore: true } : { messages: [msg('45-0')], events: [ev('44-0')], hasMore: true };
    const frames: any[] = [];
    const s = new socketMod.ChatSocket({
      urls: ['ws://a/ws'],
      auth: { token: 't', tokenExpiresAt: Date.now() + 3_600_000, refresh: async () => 't' },
      history,
      sinceFor: () => '50-0',
      onFrame: (f: any) => frames.push(f),
      onState: () => {},
    });
    s.join(ROOM);
    s.start();
    const ws = FakeWS.instances.at(-1)!;
    ws.accept();
    ws.frame({ type: 'joined', room: ROOM, messages: [msg('70-0')], events: [ev('71-0')], recovered: false, members: [] });
    await ticks();
    s.stop();
    const joined = frames.find((f) => f.type === 'joined');
    expect(joined.messages.map((m: any) => m.id)).toEqual(['60-0', '70-0']);
    expect(joined.events.map((e: any) => e.id)).toEqual(['55-0', '58-0', '71-0']);
    expect(joined.gap).toBe(false);
    expect(joined.stale).toBe(true);
  });
});
