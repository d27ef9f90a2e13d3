// Unit tests of the browser client's state for rooms with members (issue 14): membership events
// applied by their resulting state (newest wins, a replay changes nothing, a REST answer older
// than an event does not undo it), system lines in words, "my rooms" noticing rooms the user is
// no longer in. Plain ES modules, loaded as they are served; every server frame is built by
// services/chat/frames.ts, the builders the replica and member.lua's callers use.
import { beforeAll, describe, expect, it } from 'vitest';
import { memberFrameHead, memberFrameState, frameTail, roomFrameHead, messageFrameHead } from '../../services/chat/frames.js';
import type { MemberAction, Role } from '../../services/shared/membership.js';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);

let storeMod: any;
let systemLine: any;
let rooms: any;
let memberMenu: any;

beforeAll(async () => {
  // store.js reads document.hidden for unread counts; Node has no document.
  (globalThis as any).document ??= { hidden: false };
  storeMod = await load('store.js');
  rooms = await load('rooms.js');
  systemLine = await load('ui/system-line.js');
  memberMenu = await load('ui/member-menu.js');
});

const ROOM = 'p:AbCdEfGhIjKlMnOp';
const alice = { id: 'u1', name: 'alice' };
const bob = { id: 'u2', name: 'bob' };
const carol = { id: 'u3', name: 'carol' };
const ms = (id: string) => Number(id.split('-')[0]);

/** A `member` event frame as member.lua publishes it. */
function memberEv(id: string, user: typeof alice, action: MemberAction, member: typeof alice, state: { role?: Role; banned?: true; mutedUntil?: number } = {}, room = ROOM) {
  return JSON.parse(memberFrameHead(room, user, action, member, `c-${id}`) + memberFrameState(state) + frameTail({}, id, ms(id)));
}
function roomEv(id: string, user: typeof alice, action: 'created' | 'topic' | 'archived' | 'unarchived', state: { title?: string; topic?: string }, room = ROOM) {
  return JSON.parse(roomFrameHead(room, user, action, 'private', `c-${id}`, state) + frameTail({}, id, ms(id)));
}

function fresh(me = { id: 'u2', username: 'bob' }) {
  const s = storeMod.createStore();
  s.setMe(me);
  return s;
}

describe('rooms.js kinds', () => {
  it('tells public, private, group and DM names apart like the server', () => {
    expect(rooms.roomKindOf('general')).toBe('public');
    expect(rooms.roomKindOf(ROOM)).toBe('private');
    expect(rooms.roomKindOf('g:0123456789abcdef')).toBe('group');
    expect(rooms.roomKindOf('dm:a:b')).toBe('dm');
    expect(rooms.roomKindOf('p:short')).toBeNull();
    expect(rooms.roomKindOf('dm:b:a')).toBeNull();
    expect(rooms.isValidRoom(ROOM)).toBe(true);
    expect(rooms.isConversation('g:0123456789abcdef')).toBe(true);
    expect(rooms.isConversation(ROOM)).toBe(false);
  });
});

describe('store.js: membership and room events', () => {
  it('keeps the roster and my own role from the newest event per member; a replay changes nothing', () => {
    const s = fresh();
    const t0 = Date.now();
    s.setRoster(ROOM, [{ id: 'u1', username: 'alice', role: 'owner', since: 1 }], t0);
    const events = [
      roomEv('10-0', alice, 'created', { title: 'Launch', topic: 'soon' }),
      memberEv('11-0', alice, 'invited', bob, { role: 'member' }),
      memberEv('12-0', alice, 'role', bob, { role: 'admin' }),
      memberEv('13-0', alice, 'invited', carol, { role: 'member' }),
      memberEv('14-0', bob, 'kicked', carol, {}),
    ];
    for (const e of events) s.applyEvent(e);
    for (const e of events) s.applyEvent(e); // the live copy and a resume's replay
    s.applyJoined({ room: ROOM, messages: [], events, recovered: true, members: [] });
    const r = s.state.rooms.get(ROOM);
    expect([...r.roster.values()].map((m: any) => [m.name, m.role])).toEqual([
      ['alice', 'owner'],
      ['bob', 'admin'],
    ]);
    expect(r.role).toBe('admin');
    expect(r.title).toBe('Launch');
    expect(r.topic).toBe('soon');
    expect(r.memberCount).toBe(2);
    // Events are room log entries: the resume point moves past them.
    expect(s.resumeFrom(ROOM)).toBe('14-0');
    // One system line per event, however often it arrived.
    expect(s.systemLines(ROOM).map(([, e]: any) => systemLine.systemText(e))).toEqual([
      'alice created the room',
      'alice invited bob',
      'alice made bob an admin',
      'alice invited carol',
      'carol was kicked by bob',
    ]);
  });

  it('an older event arriving after a newer one does not undo it', () => {
    const s = fresh();
    s.applyEvent(memberEv('20-0', alice, 'muted', bob, { role: 'member', mutedUntil: 320_000 }));
    s.applyEvent(memberEv('15-0', alice, 'role', bob, { role: 'admin' }));
    const r = s.state.rooms.get(ROOM);
    expect(r.role).toBe('member');
    expect(r.mutedUntil).toBe(320_000);
  });

  it('a REST answer asked for before an event does not undo that event', () => {
    const s = fresh();
    const t0 = Date.now() - 1; // the request left before the event arrived
    s.applyEvent(memberEv('30-0', alice, 'role', bob, { role: 'admin' }));
    s.applyEvent(roomEv('31-0', alice, 'topic', { title: 'Launch', topic: 'new topic' }));
    s.setRoster(ROOM, [{ id: 'u1', username: 'alice', role: 'owner' }, { id: 'u2', username: 'bob', role: 'member' }], t0);
    s.setMyRooms([{ name: ROOM, kind: 'private', title: 'Launch', topic: 'old topic', archived: false, memberCount: 2, role: 'member', lastMessageAt: null, messageCount: 0 }], t0);
    const r = s.state.rooms.get(ROOM);
    expect(r.roster.get('u2').role).toBe('admin');
    expect(r.role).toBe('admin');
    expect(r.topic).toBe('new topic');
  });

  it('"my rooms" reports the rooms an earlier answer listed and a newer one does not', () => {
    const s = fresh();
    const item = (name: string, extra = {}) => ({ name, kind: rooms.roomKindOf(name), topic: '', archived: false, memberCount: 3, role: 'member', lastMessageAt: null, messageCount: 0, ...extra });
    expect(s.setMyRooms([item('general'), item(ROOM, { title: 'Launch' })], Date.now())).toEqual([]);
    expect(s.state.rooms.get(ROOM).joined).toBe(true);
    s.room('typed-by-hand').joined = true; // joined here, not (yet) in the store's answer
    expect(s.setMyRooms([item('general')], Date.now())).toEqual([ROOM]);
    // An invitation that arrived while the request was out keeps the room.
    const t0 = Date.now() - 1;
    s.setMyRooms([item('general'), item(ROOM)], t0);
    s.applyEvent(memberEv('40-0', alice, 'invited', bob, { role: 'member' }));
    expect(s.setMyRooms([item('general')], t0)).toEqual([]);
  });

  it('group peers name the group; a DM message from the user channel names the DM', () => {
    const s = fresh();
    s.setMyRooms([{ name: 'g:0123456789abcdef', kind: 'group', topic: '', archived: false, memberCount: 3, role: 'member', peers: [{ id: 'u1', username: 'alice' }, { id: 'u3', username: 'carol' }], lastMessageAt: 5, messageCount: 1 }], Date.now());
    const r = s.state.rooms.get('g:0123456789abcdef');
    expect(r.peers.map((p: any) => p.name)).toEqual(['alice', 'carol']);
    const m = JSON.parse(messageFrameHead('dm:u1:u2', alice, 'hi', 'c1') + frameTail({}, '50-0', 50));
    s.applyMessage(m);
    expect(s.state.names.get('u1')).toBe('alice');
    expect(s.state.rooms.get('dm:u1:u2').unread).toBe(1);
  });
});

describe('sender.js: a muted send', () => {
  it('fails with the time the mute ends and is not resent; the room remembers the mute', async () => {
    const { createSender } = await load('sender.js');
    const s = fresh();
    s.applyJoined({ room: 'general', messages: [], events: [], recovered: false, members: [] });
    const sent: any[] = [];
    const socket = { connected: true, send: (f: any) => (sent.push(f), true) };
    const composer = { showError() {}, clearError() {}, setNotice() {} };
    const cooldowns = { remaining: () => 0, start() {}, subscribe() {}, clear() {} };
    const sender = createSender({ store: s, getSocket: () => socket, composerFor: () => composer, cooldowns });
    expect(sender.send('general', 'hello')).toBe(true);
    const cid = sent[0].cid;
    expect(sender.onError({ type: 'error', code: 'muted', message: 'muted', ref: cid, retryAfterMs: 300_000 })).toBe(true);
    const p = s.state.outbox.get(cid);
    expect(p.state).toBe('failed');
    expect(p.error).toMatch(/^you are muted until \d{1,2}:\d{2}/);
    expect(p.retryAt).toBeGreaterThan(Date.now() + 290_000);
    expect(s.state.rooms.get('general').mutedUntil).toBe(p.retryAt);
    await new Promise((r) => setTimeout(r, 20));
    expect(sent).toHaveLength(1); // not queued for a retry like rate_limited
    sender.stop();
  });
});

describe('system lines', () => {
  const text = (e: any) => systemLine.systemText(e);
  it('say what happened in words, with the mute length and roles', () => {
    expect(text(memberEv('1-0', bob, 'joined', bob, { role: 'member' }))).toBe('bob joined');
    expect(text(memberEv('1-0', bob, 'left', bob))).toBe('bob left');
    expect(text(memberEv('1-0', alice, 'banned', carol, { banned: true }))).toBe('carol was banned by alice');
    expect(text(memberEv('60000-0', alice, 'muted', carol, { role: 'member', mutedUntil: 60_000 + 300_000 }))).toBe('carol was muted for 5 min');
    expect(text(memberEv('60000-0', alice, 'muted', carol, { role: 'member', mutedUntil: 60_000 + 3_600_000 }))).toBe('carol was muted for 1 hour');
    expect(text(memberEv('60000-0', alice, 'muted', carol, { role: 'member', mutedUntil: 60_000 + 86_400_000 }))).toBe('carol was muted for 1 day');
    expect(text(memberEv('1-0', alice, 'role', bob, { role: 'owner' }))).toBe('alice made bob the owner');
    expect(text(memberEv('1-1', alice, 'role', alice, { role: 'admin' }))).toBe('alice is now an admin');
    expect(text(memberEv('1-0', alice, 'role', bob, { role: 'member' }))).toBe('alice made bob a member');
    expect(text(roomEv('1-0', alice, 'topic', { topic: 'ship it' }))).toBe('alice changed the topic to “ship it”');
    expect(text(roomEv('1-0', alice, 'topic', {}))).toBe('alice cleared the topic');
    expect(text(roomEv('1-0', alice, 'archived', {}))).toBe('alice archived the room');
  });
});

describe('member menu', () => {
  const actions = new Proxy({}, { get: () => () => {} });
  const labels = (r: any, member: any) => memberMenu.memberMenuItems(r, member, 'u1', actions).map((i: any) => i.label);
  const room = (role: string, kind = 'private') => ({ name: ROOM, kind, role, archived: false });
  it('offers moderation over lower roles only, and roles and ownership to the owner only', () => {
    expect(labels(room('owner'), { id: 'u2', name: 'bob', role: 'admin', mutedUntil: 0 })).toEqual([
      'Remove from room',
      'Ban from room',
      'Mute for 5 min',
      'Mute for 1 hour',
      'Mute for 1 day',
      'Make member (not admin)',
      'Make owner…',
    ]);
    expect(labels(room('admin'), { id: 'u2', name: 'bob', role: 'admin', mutedUntil: 0 })).toEqual([]);
    expect(labels(room('admin'), { id: 'u2', name: 'bob', role: 'member', mutedUntil: Date.now() + 60_000 })).toEqual(['Remove from room', 'Ban from room', 'Unmute']);
    expect(labels(room('member'), { id: 'u2', name: 'bob', role: 'member', mutedUntil: 0 })).toEqual([]);
    expect(labels(room('owner'), { id: 'u1', name: 'alice', role: 'owner', mutedUntil: 0 })).toEqual([]); // yourself
    expect(labels(room('member', 'group'), { id: 'u2', name: 'bob', role: 'member', mutedUntil: 0 })).toEqual([]);
  });
});
