// Unit tests of the browser client's attention state (issue 15), in Node: unread and mention
// counts from seqs (read-state.js) — never a double count on replays, a REST answer older than a
// live frame undoes nothing, my own message and `read` frames move the position forward only —
// the store wiring (store-attention.js), the "Seen" line (receipts.js), the inbox order
// (notifications.js), the read marker's debounce (read-marker.js), and a `read` refusal that is
// not taken for a join's. Every server frame is built by services/chat/frames.ts.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { frameTail, messageFrameHead, readFrameHead, receiptFrameHead } from '../../services/chat/frames.js';
import { FakeWS, installFakeWebSocket } from './fake-ws.js';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);

let rs: any;
let storeMod: any;
let receipts: any;
let notes: any;
let marker: any;
let socketMod: any;
let complete: any;

beforeAll(async () => {
  (globalThis as any).document ??= { hidden: false };
  installFakeWebSocket();
  (globalThis as any).window.localStorage ??= memoryStorage();
  rs = await load('read-state.js');
  storeMod = await load('store.js');
  receipts = await load('receipts.js');
  notes = await load('notifications.js');
  marker = await load('read-marker.js');
  socketMod = await load('socket.js');
  complete = await load('ui/mention-complete.js');
});

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
}

const ROOM = 'general';
const alice = { id: 'u1', name: 'alice' };
const bob = { id: 'u2', name: 'bob' };
const carol = { id: 'u3', name: 'carol' };

/** A `message` frame as the replica sends it (seq and mentions in the script's tail). */
function msgFrame(id: string, seq: number | undefined, user = alice, { mentions, room = ROOM, replyTo }: { mentions?: string[]; room?: string; replyTo?: string } = {}) {
  const ms = Number(id.split('-')[0]);
  return JSON.parse(messageFrameHead(room, user, `text ${id}`, `c-${id}`, replyTo) + frameTail({ mentions, seq, replyTo: undefined }, id, ms));
}
const readFrame = (room: string, id: string, seq: number) => JSON.parse(readFrameHead(room, id) + `"seq":${seq}}`);
const receiptFrame = (room: string, user: typeof alice, id: string, seq: number) => JSON.parse(receiptFrameHead(room, user, id) + `"seq":${seq}}`);
const listed = (name: string, extra: Record<string, unknown>) => ({ name, kind: 'public', topic: '', archived: false, memberCount: 3, role: 'member', lastMessageAt: null, messageCount: 0, ...extra });

function fresh(me = { id: 'u2', username: 'bob' }) {
  const s = storeMod.createStore();
  s.setMe(me);
  return s;
}

describe('read-state.js: counts from seqs', () => {
  const rec = () => ({ name: ROOM, ...rs.attentionFields() });

  it('counts unread as lastSeq − readSeq: a replay, a backlog and an older REST answer count nothing twice', () => {
    const r = rec();
    rs.applyListed(r, { lastSeq: 10, readSeq: 7, mentions: 1 });
    expect([r.unread, r.mentions]).toEqual([3, 1]);
    rs.noteMessage(r, msgFrame('20-0', 11), 'u2');
    rs.noteMessage(r, msgFrame('20-0', 11), 'u2', { isNew: false }); // the same frame again
    rs.noteMessage(r, msgFrame('19-0', 10), 'u2', { isNew: false }); // a resume's backlog
    expect(r.unread).toBe(4);
    // A REST answer that left before message 11 arrived: lastSeq stays 11.
    rs.applyListed(r, { lastSeq: 10, readSeq: 7, mentions: 1 });
    expect(r.unread).toBe(4);
    // Thread replies never count.
    rs.noteMessage(r, { ...msgFrame('21-0', undefined), replyTo: '20-0' }, 'u2');
    expect(r.unread).toBe(4);
  });

  it('counts a mention of me or @room once, not my own @room, and clears mentions when the position reaches the end', () => {
    const r = rec();
    rs.applyListed(r, { lastSeq: 5, readSeq: 5, mentions: 0 });
    rs.noteMessage(r, msgFrame('10-0', 6, alice, { mentions: ['u2'] }), 'u2');
    rs.noteMessage(r, msgFrame('10-0', 6, alice, { mentions: ['u2'] }), 'u2', { isNew: false });
    rs.noteMessage(r, msgFrame('11-0', 7, carol, { mentions: ['@room'] }), 'u2');
    rs.noteMessage(r, msgFrame('12-0', 8, carol, { mentions: ['u9'] }), 'u2');
    expect([r.unread, r.mentions]).toEqual([3, 2]);
    // A read frame from my other device, part of the way: one mention left.
    expect(rs.applyRead(r, 6, '10-0')).toEqual({ changed: true, refresh: false });
    expect([r.unread, r.mentions]).toEqual([2, 1]);
    // Backwards changes nothing.
    expect(rs.applyRead(r, 5, '9-0').changed).toBe(false);
    rs.applyRead(r, 8, '12-0');
    expect([r.unread, r.mentions]).toEqual([0, 0]);
    // My own message with @room does not mention me, and moves my position.
    rs.noteMessage(r, msgFrame('13-0', 9, bob, { mentions: ['@room'] }), 'u2');
    expect([r.unread, r.mentions, r.readSeq, r.readId]).toEqual([0, 0, 9, '13-0']);
  });

  it('asks for the REST list again when a read stops short of the end and REST mentions may be read now', () => {
    const r = rec();
    rs.applyListed(r, { lastSeq: 10, readSeq: 2, mentions: 3 });
    expect(r.mentions).toBe(3);
    expect(rs.applyRead(r, 6, '6-0')).toEqual({ changed: true, refresh: true });
    expect(r.unread).toBe(4);
    rs.applyListed(r, { lastSeq: 10, readSeq: 6, mentions: 1 });
    expect(r.mentions).toBe(1);
  });

  it('places the divider at my position when opened, pending until the counts are known', () => {
    const r = rec();
    rs.openRoom(r, false);
    expect(r.divider).toBe('pending');
    rs.applyListed(r, { lastSeq: 4, readSeq: 2, mentions: 0 });
    rs.fixDivider(r);
    expect(r.divider).toBe(2);
    // New arrivals do not move it; reopening a read room shows none.
    rs.noteMessage(r, msgFrame('9-0', 5), 'u2');
    rs.fixDivider(r);
    expect(r.divider).toBe(2);
    rs.markSeen(r, '9-0', 5);
    rs.openRoom(r, true);
    expect(r.divider).toBeNull();
  });

  it('a seq-less message of an older server counts +1 as before', () => {
    const r = rec();
    rs.noteMessage(r, msgFrame('9-0', undefined), 'u2');
    rs.noteMessage(r, msgFrame('9-0', undefined), 'u2', { isNew: false });
    expect(r.unread).toBe(1);
    rs.markSeen(r, '9-0', null);
    expect(r.unread).toBe(0);
    expect(rs.isRead(r, '9-0', null)).toBe(true);
  });

  it('shows nothing for the room on screen in a visible tab, nor before counts are known; muted rooms total their mentions only', () => {
    const a = { ...rec(), name: 'a', joined: true, hidden: false };
    const b = { ...rec(), name: 'b', joined: true, hidden: false };
    rs.applyListed(a, { lastSeq: 3, readSeq: 0, mentions: 0 });
    rs.applyListed(b, { lastSeq: 5, readSeq: 0, mentions: 1, muted: true });
    expect(rs.totals([a, b], { current: 'x', visible: true, countsLoaded: true })).toEqual({ total: 4, rooms: 2 });
    expect(rs.totals([a, b], { current: 'a', visible: true, countsLoaded: true })).toEqual({ total: 1, rooms: 1 });
    expect(rs.totals([a, b], { current: 'a', visible: false, countsLoaded: true })).toEqual({ total: 4, rooms: 2 });
    const c = { ...rec(), name: 'c', joined: true, hidden: false, unread: 7 };
    expect(rs.totals([c], { current: 'x', visible: true, countsLoaded: false })).toEqual({ total: 0, rooms: 0 });
  });
});

describe('store.js with attention', () => {
  it('the first message of a new DM counts; my own message coming back after its ack moves my position', () => {
    const s = fresh();
    s.setMyRooms([], Date.now());
    s.applyMessage(msgFrame('30-0', 1, alice, { room: 'dm:u1:u2' }));
    expect(s.state.rooms.get('dm:u1:u2').unread).toBe(1);
    s.setMyRooms([listed(ROOM, { lastSeq: 4, readSeq: 4, mentions: 0 })], Date.now());
    s.applyMessage(msgFrame('40-0', 5));
    expect(s.state.rooms.get(ROOM).unread).toBe(1);
    s.addPending(ROOM, 'mine', 'c-mine');
    s.applyAck({ type: 'ack', cid: 'c-mine', id: '41-0', ts: 41 });
    // The frame of my own message arrives after its ack: not new, but it brings the seq.
    expect(s.applyMessage({ ...msgFrame('41-0', 6, bob), cid: 'c-mine' })).toBeNull();
    const r = s.state.rooms.get(ROOM);
    expect([r.unread, r.readSeq, r.msgs.get('41-0').seq]).toEqual([0, 6, 6]);
  });

  it('a `read` frame of another device clears the badge; a join backlog counts by seq', () => {
    const s = fresh();
    s.setMyRooms([listed(ROOM, { lastSeq: 2, readSeq: 2, mentions: 0 })], Date.now());
    s.applyJoined({ room: ROOM, messages: [msgFrame('50-0', 3), msgFrame('51-0', 4, alice, { mentions: ['u2'] })], events: [], recovered: true, members: [] });
    const r = s.state.rooms.get(ROOM);
    expect([r.unread, r.mentions]).toEqual([2, 1]);
    expect(s.applyReadFrame(readFrame(ROOM, '51-0', 4))).toBe(false);
    expect([r.unread, r.mentions]).toEqual([0, 0]);
  });

  it('opening a room with unread messages fixes the divider at my position; the counts stay hidden for the room on screen', () => {
    const s = fresh();
    s.setCurrent(ROOM); // before the list answered: pending
    expect(s.dividerSeq(ROOM)).toBeNull();
    s.setMyRooms([listed(ROOM, { lastSeq: 9, readSeq: 6, mentions: 0 })], Date.now());
    expect(s.dividerSeq(ROOM)).toBe(6);
    s.setCurrent('other');
    s.setCurrent(ROOM);
    expect(s.dividerSeq(ROOM)).toBe(6);
  });
});

describe('receipts.js: the "Seen" line', () => {
  function roomWith(kind: string, msgs: Array<[string, typeof alice]>) {
    const s = fresh();
    const room = kind === 'dm' ? 'dm:u1:u2' : ROOM;
    s.applyJoined({ room, messages: msgs.map(([id, u]) => msgFrame(id, Number(id.split('-')[0]), u, { room })), events: [], recovered: true, members: [] });
    return s.state.rooms.get(room);
  }
  const reads = (...xs: Array<[typeof alice, string]>) => new Map(xs.map(([user, id]) => [user.id, { user, id }]));

  it('goes under my newest message someone else has read: "Seen" in a DM, names with +N elsewhere', () => {
    const dm = roomWith('dm', [['1-0', bob], ['2-0', alice], ['3-0', bob], ['4-0', bob]]);
    expect(receipts.seenLineFor(dm, reads([alice, '3-0']), 'u2')).toEqual({ id: '3-0', text: 'Seen' });
    expect(receipts.seenLineFor(dm, reads([alice, '2-0']), 'u2')).toEqual({ id: '1-0', text: 'Seen' });
    expect(receipts.seenLineFor(dm, reads([bob, '4-0']), 'u2')).toBeNull(); // my own position is no receipt
    const room = roomWith('public', [['1-0', bob], ['2-0', alice]]);
    const many = [alice, carol, { id: 'u4', name: 'dan' }, { id: 'u5', name: 'eve' }, { id: 'u6', name: 'fay' }];
    const line = receipts.seenLineFor(room, reads(...many.map((u, i) => [u, i < 2 ? '2-0' : '1-0'] as [typeof alice, string])), 'u2');
    expect(line).toEqual({ id: '1-0', text: 'Seen by alice, carol, dan +2' });
  });

  it('live receipt frames move a reader forward only, and mine are ignored', () => {
    const s = fresh();
    s.applyJoined({ room: 'dm:u1:u2', messages: [msgFrame('1-0', 1, bob, { room: 'dm:u1:u2' }), msgFrame('2-0', 2, bob, { room: 'dm:u1:u2' })], events: [], recovered: true, members: [] });
    const changed: string[] = [];
    const rc = receipts.createReceipts({ store: s, api: {}, onChange: (room: string) => changed.push(room) });
    rc.applyFrame(receiptFrame('dm:u1:u2', bob, '2-0', 2));
    expect(rc.line('dm:u1:u2')).toBeNull();
    rc.applyFrame(receiptFrame('dm:u1:u2', alice, '2-0', 2));
    rc.applyFrame(receiptFrame('dm:u1:u2', alice, '1-0', 1));
    expect(rc.line('dm:u1:u2')).toEqual({ id: '2-0', text: 'Seen' });
    expect(changed).toEqual(['dm:u1:u2']);
  });
});

describe('notifications.js', () => {
  const n = (sourceId: string, extra = {}) => ({ id: `n-${sourceId}`, kind: 'mention', room: ROOM, sourceId, actor: alice, text: 'hi', ts: Number(sourceId.split('-')[0]), read: false, ...extra });

  it('keeps the inbox newest first by cause id, counts live ones once, marks read with the server\'s count', async () => {
    const calls: any[] = [];
    const api = {
      notifications: async (q: any) => (calls.push(['list', q]), { notifications: [n('30-0'), n('9-0', { read: true })], unread: 1 }),
      markNotificationsRead: async (ids: any) => (calls.push(['read', ids]), { unread: 0 }),
      setStatus: async (st: string) => void calls.push(['status', st]),
    };
    const inbox = notes.createNotifications({ api, onChange: () => {}, storage: memoryStorage() });
    inbox.start({ id: 'u2', username: 'bob' });
    await inbox.load();
    expect(inbox.add(n('100-0'))).toBe(true);
    expect(inbox.add(n('100-0'))).toBe(false);
    inbox.add(n('20-0'));
    expect(inbox.state.list.map((x: any) => x.sourceId)).toEqual(['100-0', '30-0', '20-0', '9-0']);
    expect(inbox.state.unread).toBe(3);
    await inbox.markRead(['n-30-0', 'n-9-0']);
    expect(calls.at(-1)).toEqual(['read', ['n-30-0']]);
    expect(inbox.state.unread).toBe(0);
    // Older pages by the oldest id held; "Mark all read".
    api.notifications = async (q: any) => (calls.push(['list', q]), { notifications: [n('5-0')], unread: 0 });
    inbox.state.hasMore = true;
    await inbox.loadMore();
    expect(calls.at(-1)).toEqual(['list', { before: 'n-9-0', limit: notes.PAGE }]);
    expect(inbox.state.list.map((x: any) => x.sourceId)).toEqual(['100-0', '30-0', '20-0', '9-0', '5-0']);
    expect(inbox.state.hasMore).toBe(false);
    await inbox.markAllRead();
    expect(calls.at(-1)).toEqual(['read', 'all']);
    expect(inbox.state.list.every((x: any) => x.read)).toBe(true);
    // Reading a room reads its message notifications up to there.
    inbox.add(n('200-0'));
    inbox.add(n('210-0', { kind: 'reply' }));
    inbox.readInRoom(ROOM, (x: any) => x.sourceId <= '205-0');
    expect(inbox.state.list.filter((x: any) => !x.read).map((x: any) => x.sourceId)).toEqual(['210-0']);
    await inbox.setDnd(true);
    expect(inbox.state.dnd).toBe(true);
    expect(calls.at(-1)).toEqual(['status', 'dnd']);
  });
});

describe('read-marker.js', () => {
  afterEach(() => vi.useRealTimers());

  it('sends one read per room per second, forward only, and only for the newest message on screen', () => {
    vi.useFakeTimers();
    const s = fresh();
    s.setMyRooms([listed(ROOM, { lastSeq: 1, readSeq: 0, mentions: 0 })], Date.now());
    s.setCurrent(ROOM);
    s.applyJoined({ room: ROOM, messages: [msgFrame('1-0', 1)], events: [], recovered: true, members: [] });
    const sent: any[] = [];
    const socket = { send: (f: any) => (sent.push(f), true) };
    let bottom = true;
    const m = marker.createReadMarker({ store: s, getSocket: () => socket, atBottom: () => bottom, isShown: () => true, visible: () => true });
    m.check();
    m.check();
    expect(sent).toEqual([{ type: 'read', room: ROOM, id: '1-0' }]);
    expect(s.state.rooms.get(ROOM).unread).toBe(0);
    s.applyMessage(msgFrame('2-0', 2));
    m.check(); // within the second: waits
    expect(sent.length).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(sent.at(-1)).toEqual({ type: 'read', room: ROOM, id: '2-0' });
    // Scrolled up: a new message is not read.
    bottom = false;
    s.applyMessage(msgFrame('3-0', 3));
    vi.advanceTimersByTime(5000);
    m.check();
    expect(sent.length).toBe(2);
    expect(s.state.rooms.get(ROOM).unread).toBe(1);
    // Its refusal is ours, not a toast.
    expect(m.ownsError({ type: 'error', code: 'not_found', room: ROOM, message: 'no message' })).toBe(true);
    expect(m.ownsError({ type: 'error', code: 'forbidden', room: ROOM, message: 'x' })).toBe(false);
  });

  it('a read refusal naming a room with no join waiting is not taken for a join refusal', () => {
    const frames: any[] = [];
    const sock = new socketMod.ChatSocket({
      urls: ['ws://a/ws'],
      auth: { token: 't', tokenExpiresAt: Date.now() + 3_600_000, refresh: async () => 't' },
      history: async () => ({ messages: [], hasMore: false, events: [] }),
      sinceFor: () => null,
      onFrame: (f: any) => frames.push(f),
      onState: () => {},
    });
    sock.join(ROOM);
    sock.start();
    const ws = FakeWS.instances.at(-1)!;
    ws.accept();
    ws.frame({ type: 'joined', room: ROOM, messages: [], events: [], recovered: true, members: [] });
    ws.frame({ type: 'error', code: 'internal', message: 'read position not saved, retry', room: ROOM });
    expect(frames.filter((f) => f.joinRefused)).toEqual([]);
    expect(frames.at(-1)).toMatchObject({ type: 'error', code: 'internal', room: ROOM });
    expect(ws.sent.filter((f) => f.type === 'join').length).toBe(1); // not "retried"
    sock.stop();
  });
});

describe('ui/mention-complete.js: what to complete', () => {
  it('finds the @word at the caret as the server reads mentions, and offers names starting with it first', () => {
    expect(complete.mentionQuery('hi @bo', 6)).toEqual({ start: 3, prefix: 'bo' });
    expect(complete.mentionQuery('@', 1)).toEqual({ start: 0, prefix: '' });
    expect(complete.mentionQuery('mail a@bo', 9)).toBeNull();
    expect(complete.mentionQuery('hi @bob there', 13)).toBeNull();
    expect(complete.mentionQuery('hi @bob there', 7)).toEqual({ start: 3, prefix: 'bob' });
    const people = [alice, bob, carol, { id: 'u4', name: 'robert' }];
    expect(complete.suggestNames(people, 'bo', 'u1')).toEqual(['bob']);
    expect(complete.suggestNames(people, 'ro', 'u1', ['room'])).toEqual(['robert', 'room', 'carol']);
    expect(complete.suggestNames(people, '', 'u2')).toEqual(['alice', 'carol', 'robert']);
  });
});
