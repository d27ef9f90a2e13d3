// Unit tests of the browser client's presence status (issue 15), in Node with fake timers: the
// idle tracker (idle.js) — away after the period without input, online at the next input, one
// change per flip however fast input comes, nothing after stop — what counts as input; the
// status shown for someone from a REST answer and the live presence frames (presence.js
// effectiveStatus); the client's `status` frames (one per change, the current one again after
// every reconnect, after the rejoins), statuses from the wrapped api answers, the 60-s room
// list poll only while the tab is visible, and the words ("last seen 5 min ago").
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);

let idleMod: any;
let presenceMod: any;
let storeMod: any;
let dot: any;

beforeAll(async () => {
  (globalThis as any).document ??= { hidden: false };
  idleMod = await load('idle.js');
  presenceMod = await load('presence.js');
  storeMod = await load('store.js');
  dot = await load('ui/presence-dot.js');
});

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('idle.js', () => {
  const AWAY = 10_000;
  function tracker() {
    const changes: string[] = [];
    const t = idleMod.createIdleTracker({ awayAfterMs: AWAY, onChange: (s: string) => changes.push(s) });
    return { t, changes };
  }

  it('goes away once the period passes without input, and not a moment before', () => {
    const { t, changes } = tracker();
    vi.advanceTimersByTime(AWAY - 1);
    expect(t.state).toBe('online');
    vi.advanceTimersByTime(1);
    expect(t.state).toBe('away');
    expect(changes).toEqual(['away']);
    vi.advanceTimersByTime(AWAY * 5);
    expect(changes).toEqual(['away']);
  });

  it('counts the period from the last input, with one timer however often input comes', () => {
    const { t, changes } = tracker();
    for (let i = 0; i < 400; i++) {
      vi.advanceTimersByTime(10); // mouse-move rate for 4 s
      t.input();
    }
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(AWAY - 1); // 4 s + 10 s - 1 ms: 10 s after the last input less 1 ms
    expect(t.state).toBe('online');
    vi.advanceTimersByTime(1);
    expect(t.state).toBe('away');
    expect(changes).toEqual(['away']);
  });

  it('comes back online at the first input after away (one change for a burst), then goes away again', () => {
    const { t, changes } = tracker();
    vi.advanceTimersByTime(AWAY);
    t.input();
    t.input();
    t.input();
    expect(t.state).toBe('online');
    expect(changes).toEqual(['away', 'online']);
    vi.advanceTimersByTime(AWAY);
    expect(changes).toEqual(['away', 'online', 'away']);
  });

  it('does nothing after stop', () => {
    const { t, changes } = tracker();
    t.stop();
    vi.advanceTimersByTime(AWAY * 3);
    t.input();
    expect(changes).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('takes pointer, keys, wheel, touch and coming back to the tab as input — not scrolling, not hiding', () => {
    const win = new EventTarget();
    const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    const inputs: string[] = [];
    const stop = idleMod.watchInput({ input: () => inputs.push('x') }, win, doc);
    for (const type of ['pointermove', 'pointerdown', 'keydown', 'wheel', 'touchstart', 'focus']) win.dispatchEvent(new Event(type));
    expect(inputs.length).toBe(6);
    win.dispatchEvent(new Event('scroll')); // the list scrolls itself when messages arrive
    doc.visibilityState = 'hidden';
    doc.dispatchEvent(new Event('visibilitychange'));
    expect(inputs.length).toBe(6);
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    expect(inputs.length).toBe(7);
    stop();
    win.dispatchEvent(new Event('keydown'));
    expect(inputs.length).toBe(7);
  });
});

describe('presence.js effectiveStatus', () => {
  const eff = (...a: any[]) => presenceMod.effectiveStatus(...a);
  const T = 1000;

  it('takes the REST answer when no presence frame came after it', () => {
    expect(eff({ status: 'away', lastSeen: 500, at: T }, 0, true)).toEqual({ status: 'away', lastSeen: 500 });
    expect(eff({ status: 'dnd', lastSeen: 0, at: T }, T - 1, true)).toEqual({ status: 'dnd' });
    expect(eff({ status: 'offline', lastSeen: 500, at: T }, 0, false)).toEqual({ status: 'offline', lastSeen: 500 });
    // Presence shows a socket the answer did not see yet.
    expect(eff({ status: 'offline', lastSeen: 500, at: T }, 0, true)).toEqual({ status: 'online' });
  });

  it('lets a later presence frame say more: came online (keeping away or dnd), or went (last seen then)', () => {
    expect(eff({ status: 'offline', lastSeen: 500, at: T }, T + 5, true)).toEqual({ status: 'online' });
    expect(eff({ status: 'away', at: T }, T + 5, true)).toEqual({ status: 'away' });
    expect(eff({ status: 'online', at: T }, T + 5, false)).toEqual({ status: 'offline', lastSeen: T + 5 });
  });

  it('knows only presence without an answer', () => {
    expect(eff(undefined, 0, true)).toEqual({ status: 'online' });
    expect(eff(undefined, 0, false)).toEqual({ status: 'offline' });
    expect(eff(undefined, T, false)).toEqual({ status: 'offline', lastSeen: T });
  });

  it('reads awayAfterSec from the config, the default when absent or odd', () => {
    expect(presenceMod.awayAfterMsOf({ awayAfterSec: 10 })).toBe(10_000);
    for (const cfg of [null, {}, { awayAfterSec: '10' }, { awayAfterSec: 0 }, { awayAfterSec: 1.5 }, { awayAfterSec: 1e9 }]) {
      expect(presenceMod.awayAfterMsOf(cfg)).toBe(300_000);
    }
  });
});

describe('presence.js', () => {
  const AWAY = 10_000;
  const me = { id: 'u1', username: 'alice' };

  function setup({ user = me as any, storage = new Map<string, string>() } = {}) {
    const store = storeMod.createStore();
    store.setMe(me);
    const sent: any[] = [];
    let connected = true;
    const socket = { send: (f: any) => (connected ? (sent.push(f), true) : false) };
    let roomsAnswer: any = { rooms: [] };
    let membersAnswer: any = { members: [] };
    // The server's side of the api (presence.js wraps these in place: the spies stay here).
    const spies = {
      members: vi.fn(async () => membersAnswer),
      myRooms: vi.fn(async (): Promise<any> => roomsAnswer),
      setStatus: vi.fn(async () => undefined),
    };
    const api: any = { ...spies };
    const win = new EventTarget();
    const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    const onChange = vi.fn();
    const p = presenceMod.createPresence({
      store,
      api,
      getSocket: () => socket,
      refreshRooms: () => api.myRooms(),
      onChange,
      storage: { getItem: (k: string) => storage.get(k) ?? null },
      win,
      doc,
    });
    p.start(user, AWAY);
    return {
      p,
      api,
      spies,
      store,
      sent,
      doc,
      win,
      onChange,
      setConnected: (c: boolean) => (connected = c),
      setRooms: (a: any) => (roomsAnswer = a),
      setMembers: (a: any) => (membersAnswer = a),
      statuses: () => sent.filter((f) => f.type === 'status').map((f) => f.status),
    };
  }

  it('sends away once when idle, online at the next input, nothing while nothing changes', () => {
    const s = setup();
    vi.advanceTimersByTime(AWAY);
    expect(s.statuses()).toEqual(['away']);
    expect(s.p.mine()).toBe('away');
    s.win.dispatchEvent(new Event('pointermove'));
    s.win.dispatchEvent(new Event('pointermove'));
    expect(s.statuses()).toEqual(['away', 'online']);
    s.p.stop();
  });

  it('sends the current status again after every reconnect, after the rejoins of that turn', () => {
    const s = setup();
    vi.advanceTimersByTime(AWAY);
    s.setConnected(false);
    s.win.dispatchEvent(new Event('keydown')); // back while disconnected: nothing can go
    vi.advanceTimersByTime(AWAY); // away again, still disconnected
    expect(s.statuses()).toEqual(['away']);
    s.setConnected(true);
    s.p.sawFrame({ type: 'hello', replica: 'r2' });
    s.sent.push({ type: 'join', room: 'general' }); // socket.js rejoins right after the hello
    expect(s.statuses()).toEqual(['away']);
    vi.advanceTimersByTime(0);
    expect(s.sent.slice(-2)).toEqual([{ type: 'join', room: 'general' }, { type: 'status', status: 'away' }]);
    s.p.sawFrame({ type: 'hello', replica: 'r1' });
    vi.advanceTimersByTime(0);
    expect(s.statuses()).toEqual(['away', 'away', 'away']);
    s.p.stop();
  });

  it('shows do not disturb from GET /api/me, this device, and PUT /api/me/status; my idle status underneath', async () => {
    const told = setup({ user: { ...me, dnd: true } });
    expect(told.p.mine()).toBe('dnd');
    expect(told.p.statusOf(me.id)).toEqual({ status: 'dnd' });
    told.p.stop();
    const remembered = setup({ storage: new Map([[`aurora.dnd.${me.id}`, '1']]) });
    expect(remembered.p.mine()).toBe('dnd');
    remembered.p.stop();
    const s = setup();
    expect(s.p.mine()).toBe('online');
    await s.api.setStatus('dnd');
    expect(s.p.mine()).toBe('dnd');
    vi.advanceTimersByTime(AWAY);
    expect(s.statuses()).toEqual(['away']); // the server still learns I am idle
    await s.api.setStatus('online');
    expect(s.p.mine()).toBe('away');
    s.p.stop();
  });

  it('learns statuses from every members and rooms answer; an answer asked for earlier never undoes a later one', async () => {
    const s = setup();
    s.setMembers({ members: [{ id: 'u2', username: 'bob', role: 'member', status: 'away', lastSeen: 5 }, { id: 'u3', username: 'carol', role: 'member', status: 'offline', lastSeen: Date.now() - 120_000 }] });
    await s.api.members('general');
    expect(s.p.statusOf('u2')).toEqual({ status: 'away', lastSeen: 5 });
    expect(s.p.statusOf('u3')).toEqual({ status: 'offline', lastSeen: Date.now() - 120_000 });
    expect(s.onChange).toHaveBeenCalled();
    // Two room lists in flight: the later one answers first.
    let release: (v: any) => void = () => {};
    s.spies.myRooms.mockImplementationOnce(() => new Promise((r) => (release = r)));
    const slow = s.api.myRooms();
    vi.advanceTimersByTime(1000);
    s.setRooms({ rooms: [{ name: 'dm:u1:u2', peers: [{ id: 'u2', username: 'bob', status: 'online' }] }] });
    await s.api.myRooms();
    release({ rooms: [{ name: 'dm:u1:u2', peers: [{ id: 'u2', username: 'bob', status: 'dnd' }] }] });
    await slow;
    expect(s.p.statusOf('u2')).toEqual({ status: 'online' });
    // Signed out: what is known goes, and an answer arriving after that is not kept.
    s.p.stop();
    s.setMembers({ members: [{ id: 'u2', username: 'bob', role: 'member', status: 'dnd' }] });
    await s.api.members('general');
    s.p.start(me, AWAY);
    expect(s.p.statusOf('u2')).toEqual({ status: 'offline' });
    s.p.stop();
  });

  it('lets presence frames after the last answer tell who came and who went', async () => {
    const s = setup();
    s.setMembers({ members: [{ id: 'u2', username: 'bob', role: 'member', status: 'online' }] });
    await s.api.members('general');
    vi.advanceTimersByTime(5000);
    const leave = { type: 'presence', room: 'general', event: 'leave', user: { id: 'u2', name: 'bob' } };
    s.p.sawFrame(leave);
    s.store.applyPresence(leave);
    expect(s.p.statusOf('u2')).toEqual({ status: 'offline', lastSeen: Date.now() });
    const join = { type: 'presence', room: 'general', event: 'join', user: { id: 'u2', name: 'bob' } };
    s.p.sawFrame(join);
    s.store.applyPresence(join);
    expect(s.p.statusOf('u2')).toEqual({ status: 'online' });
    // The next answer is the news again.
    vi.advanceTimersByTime(10);
    s.setMembers({ members: [{ id: 'u2', username: 'bob', role: 'member', status: 'away' }] });
    await s.api.members('general');
    expect(s.p.statusOf('u2')).toEqual({ status: 'away' });
    s.p.stop();
  });

  it('re-reads the room list every minute while the tab is visible, and at once when it becomes visible after that', async () => {
    const s = setup();
    expect(s.spies.myRooms).not.toHaveBeenCalled(); // my-rooms.js reads it at start
    await vi.advanceTimersByTimeAsync(presenceMod.POLL_MS);
    expect(s.spies.myRooms).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(presenceMod.POLL_MS);
    expect(s.spies.myRooms).toHaveBeenCalledTimes(2);
    s.doc.visibilityState = 'hidden';
    s.doc.dispatchEvent(new Event('visibilitychange'));
    await vi.advanceTimersByTimeAsync(presenceMod.POLL_MS * 3);
    expect(s.spies.myRooms).toHaveBeenCalledTimes(2);
    s.doc.visibilityState = 'visible';
    s.doc.dispatchEvent(new Event('visibilitychange'));
    await vi.advanceTimersByTimeAsync(0);
    expect(s.spies.myRooms).toHaveBeenCalledTimes(3);
    // A list read for another reason (a resync) counts: no second request right after it.
    await vi.advanceTimersByTimeAsync(presenceMod.POLL_MS / 2);
    await s.api.myRooms();
    await vi.advanceTimersByTimeAsync(presenceMod.POLL_MS / 2);
    expect(s.spies.myRooms).toHaveBeenCalledTimes(4);
    // Opening a DM reads it only when the last answer is not fresh (here 30 s old).
    s.p.refreshPeers();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.spies.myRooms).toHaveBeenCalledTimes(5);
    s.p.refreshPeers();
    expect(s.spies.myRooms).toHaveBeenCalledTimes(5);
    s.p.stop();
    await vi.advanceTimersByTimeAsync(presenceMod.POLL_MS * 3);
    expect(s.spies.myRooms).toHaveBeenCalledTimes(5);
  });
});

describe('ui/presence-dot.js words', () => {
  const now = 1_700_000_000_000;
  it('says the status, and for offline people how long ago they were last seen', () => {
    expect(dot.presenceWords({ status: 'online' }, now)).toBe('online');
    expect(dot.presenceWords({ status: 'away' }, now)).toBe('away');
    expect(dot.presenceWords({ status: 'dnd' }, now)).toBe('do not disturb');
    expect(dot.presenceWords({ status: 'offline' }, now)).toBe('offline');
    expect(dot.presenceWords({ status: 'offline', lastSeen: now - 20_000 }, now)).toBe('last seen just now');
    expect(dot.presenceWords({ status: 'offline', lastSeen: now - 5 * 60_000 }, now)).toBe('last seen 5 min ago');
    expect(dot.presenceWords({ status: 'offline', lastSeen: now - 3 * 3_600_000 }, now)).toBe('last seen 3 hours ago');
    expect(dot.presenceWords({ status: 'offline', lastSeen: now - 30 * 3_600_000 }, now)).toBe('last seen yesterday');
    expect(dot.presenceWords({ status: 'offline', lastSeen: now - 4 * 86_400_000 }, now)).toBe('last seen 4 days ago');
    expect(dot.presenceWords({ status: 'offline', lastSeen: now - 40 * 86_400_000 }, now)).toMatch(/^last seen on \w/);
  });
});
