// Unit tests of the browser client's state for messages that change (issue 13): events applied
// by version (idempotent, any order), thread replies and their counts, own changes laid over the
// confirmed state until acked or rolled back. Plain ES modules, loaded as they are served.
// Every server frame here is made by services/chat/frames.ts, the builders the replica and the
// scripts use: the client is tested against the frames the server really sends.
import { beforeAll, describe, expect, it } from 'vitest';
import { ackFrame, eventFrameHead, frameTail, messageFrameHead, unchangedAckFrame, type EventHeadInput } from '../../services/chat/frames.js';

const load = (p: string): Promise<any> => import(new URL(`../../frontend/js/${p}`, import.meta.url).href);

let storeMod: any;

beforeAll(async () => {
  // store.js reads document.hidden for unread counts; Node has no document.
  (globalThis as any).document ??= { hidden: false };
  storeMod = await load('store.js');
});

const msg = (id: string, text = id, user = { id: 'u2', name: 'bob' }, cid = `c-${id}`) => ({ id, room: 'general', user, text, ts: Number(id.split('-')[0]), cid });

describe('store.js: messages that change (events, threads, own changes)', () => {
  const me = { id: 'u1', username: 'alice' };
  const alice = { id: 'u1', name: 'alice' };
  const bob = { id: 'u2', name: 'bob' };
  /** An `event` frame as event.lua publishes it (head by the replica, counts and id by the script). */
  const ev = (id: string, kind: string, target: string, extra: Record<string, any> = {}, user = bob) => {
    const change = (kind === 'edit' ? { kind, target, text: extra.text } : kind === 'react' ? { kind, target, emoji: extra.emoji, on: extra.on } : { kind, target }) as EventHeadInput;
    const head = eventFrameHead('general', user, extra.cid ?? `e-${id}`, change);
    return JSON.parse(head + frameTail({ replyTo: extra.replyTo, replyCount: extra.replyCount, count: extra.count }, id, Number(id.split('-')[0])));
  };
  const fresh = () => {
    const s = storeMod.createStore();
    s.setMe(me);
    return s;
  };
  const view = (s: any, id: string) => s.view('general', id);
  /** A `message` frame as send.lua publishes it. */
  const live = (m: ReturnType<typeof msg> & { replyTo?: string; replyCount?: number }) =>
    JSON.parse(messageFrameHead(m.room, m.user, m.text, m.cid, m.replyTo) + frameTail({ replyCount: m.replyCount }, m.id, m.ts));

  it('applies edit, delete and react events idempotently: a repeat or a replay changes nothing', () => {
    const s = fresh();
    const events = [
      ev('11-0', 'edit', '10-0', { text: 'fixed typo' }),
      ev('12-0', 'react', '10-0', { emoji: '👍', on: true, count: 1 }),
      ev('13-0', 'react', '10-0', { emoji: '👍', on: true, count: 2 }, alice),
      ev('14-0', 'react', '10-0', { emoji: '🎉', on: true, count: 1 }),
      ev('15-0', 'delete', '9-0'),
    ];
    s.applyJoined({ room: 'general', messages: [msg('9-0'), msg('10-0', 'fixd typo')], events, recovered: true, members: [] });
    for (const e of events) s.applyEvent(e); // the live copies of the same events
    s.applyJoined({ room: 'general', messages: [msg('9-0'), msg('10-0', 'fixd typo')], events, recovered: true, members: [] });
    const v = view(s, '10-0');
    expect(v).toMatchObject({ text: 'fixed typo', editedAt: 11, deleted: false });
    expect(v.reactions).toEqual([
      { emoji: '👍', count: 2, me: true },
      { emoji: '🎉', count: 1, me: false },
    ]);
    expect(view(s, '9-0')).toMatchObject({ deleted: true, text: '', reactions: [] });
    // The resume point moves past events too: a later resume does not replay them.
    expect(s.resumeFrom('general')).toBe('15-0');
  });

  it('takes the newest state whatever order a join backlog or live frames bring events in', () => {
    const s = fresh();
    const events = [
      ev('20-0', 'react', '10-0', { emoji: '👍', on: false, count: 1 }, alice), // newest of mine: off
      ev('13-0', 'edit', '10-0', { text: 'second' }),
      ev('12-0', 'edit', '10-0', { text: 'first' }),
      ev('16-0', 'react', '10-0', { emoji: '👍', on: true, count: 2 }, alice),
      ev('15-0', 'react', '10-0', { emoji: '👍', on: true, count: 1 }),
      ev('31-0', 'delete', '30-0'),
      ev('18-0', 'edit', '30-0', { text: 'edited before the delete' }),
    ];
    s.applyJoined({ room: 'general', messages: [msg('10-0'), msg('30-0')], events, recovered: true, members: [] });
    expect(view(s, '10-0')).toMatchObject({ text: 'second', reactions: [{ emoji: '👍', count: 1, me: false }] });
    expect(view(s, '30-0')).toMatchObject({ deleted: true, text: '' });
    // A late, older event (a slow replica's copy) does not roll anything back.
    s.applyEvent(ev('14-0', 'react', '10-0', { emoji: '👍', on: true, count: 5 }));
    s.applyEvent(ev('12-5', 'edit', '10-0', { text: 'stale' }));
    expect(view(s, '10-0')).toMatchObject({ text: 'second', reactions: [{ emoji: '👍', count: 1, me: false }] });
  });

  it('keeps events about a message it does not hold yet and applies them when history brings it', () => {
    const s = fresh();
    s.applyJoined({ room: 'general', messages: [msg('50-0')], events: [], recovered: false, members: [] });
    s.applyEvent(ev('60-0', 'react', '5-0', { emoji: '🔥', on: true, count: 3 }));
    s.applyEvent(ev('61-0', 'edit', '5-0', { text: 'edited live' }));
    expect(view(s, '5-0')).toBeNull();
    // The REST page (current state as the store had it, before those events were ingested).
    s.prependHistory('general', [{ ...msg('5-0', 'original'), reactions: [{ emoji: '🔥', count: 2, me: true }] }], false);
    expect(view(s, '5-0')).toMatchObject({ text: 'edited live', reactions: [{ emoji: '🔥', count: 3, me: true }] });
    expect(s.state.rooms.get('general').ids).toEqual(['5-0', '50-0']);
  });

  it('takes a history page\'s current state: tombstones, edits, reactions with "me", reply counts', () => {
    const s = fresh();
    s.prependHistory(
      'general',
      [
        { ...msg('1-0', 'gone'), deleted: true, text: '' },
        { ...msg('2-0', 'now'), editedAt: 7, reactions: [{ emoji: '👍', count: 2, me: true }], replyCount: 4, lastReplyAt: 9 },
      ],
      false,
    );
    expect(view(s, '1-0')).toMatchObject({ deleted: true, text: '', reactions: [] });
    expect(view(s, '2-0')).toMatchObject({ text: 'now', editedAt: 7, replyCount: 4, lastReplyAt: 9, reactions: [{ emoji: '👍', count: 2, me: true }] });
    // An edit the page already reflects (same ms) does not count as newer; a later one does.
    s.applyEvent(ev('7-0', 'edit', '2-0', { text: 'older copy' }));
    expect(view(s, '2-0').text).toBe('now');
    s.applyEvent(ev('8-0', 'edit', '2-0', { text: 'newer' }));
    expect(view(s, '2-0').text).toBe('newer');
  });

  it('files thread replies under their parent (not the timeline) and keeps the parent\'s count newest-first', () => {
    const s = fresh();
    const reply = (id: string, count: number, text = id) => ({ ...msg(id, text), replyTo: '10-0', replyCount: count });
    s.applyJoined({ room: 'general', messages: [msg('10-0'), reply('11-0', 1), reply('12-0', 2)], events: [], recovered: true, members: [] });
    s.setCurrent('other');
    const r = s.state.rooms.get('general');
    expect(r.ids).toEqual(['10-0']);
    expect(s.thread('general', '10-0').ids).toEqual(['11-0', '12-0']);
    expect(view(s, '10-0')).toMatchObject({ replyCount: 2, lastReplyAt: 12 });
    // Live: a new reply bumps the count (a repeat does not), a reply's delete lowers it.
    s.applyMessage(live(reply('13-0', 3)));
    s.applyMessage(live(reply('13-0', 3)));
    expect(view(s, '10-0').replyCount).toBe(3);
    s.applyEvent(ev('14-0', 'delete', '13-0', { replyTo: '10-0', replyCount: 2 }));
    expect(view(s, '10-0')).toMatchObject({ replyCount: 2, lastReplyAt: 12 });
    expect(view(s, '13-0')).toMatchObject({ deleted: true });
    // An older frame's count arriving late does not undo it; replies never count as unread.
    s.applyMessage(live(reply('12-0', 2)));
    s.applyEvent(ev('13-5', 'react', '12-0', { emoji: '👍', on: true, count: 1 }));
    expect(view(s, '10-0').replyCount).toBe(2);
    expect(r.unread).toBe(0);
    expect(r.ids).toEqual(['10-0']);
  });

  it('my own reply, added on its ack, still counts on its parent when its frame arrives', () => {
    const s = fresh();
    s.applyJoined({ room: 'general', messages: [msg('10-0')], events: [], recovered: true, members: [] });
    s.addPending('general', 'me too', 'c-reply', '10-0');
    expect(s.pendingIn('general')).toEqual([]);
    expect(s.pendingIn('general', '10-0').map((p: any) => p.cid)).toEqual(['c-reply']);
    s.applyAck(JSON.parse(ackFrame('c-reply', '11-0', 11)));
    expect(s.thread('general', '10-0').ids).toEqual(['11-0']);
    s.applyMessage(live({ ...msg('11-0', 'me too', alice, 'c-reply'), replyTo: '10-0', replyCount: 1 }));
    expect(view(s, '10-0')).toMatchObject({ replyCount: 1, lastReplyAt: 11 });
    expect(s.state.rooms.get('general').ids).toEqual(['10-0']);
  });

  it('a reply to a parent it does not hold counts on the parent once history brings it', () => {
    const s = fresh();
    s.applyJoined({ room: 'general', messages: [{ ...msg('40-0'), replyTo: '3-0', replyCount: 6 }], events: [], recovered: false, members: [] });
    s.prependHistory('general', [{ ...msg('3-0'), replyCount: 5, lastReplyAt: 30 }], true);
    expect(view(s, '3-0')).toMatchObject({ replyCount: 6, lastReplyAt: 40 });
    // The thread's own page brings replies in their current state.
    s.addThreadPage('general', '3-0', { parent: { ...msg('3-0'), replyCount: 6 }, replies: [{ ...msg('31-0'), deleted: true, text: '' }, msg('40-0')], hasMore: false });
    expect(s.thread('general', '3-0')).toMatchObject({ ids: ['31-0', '40-0'], loaded: true, hasMore: false, after: '40-0' });
    expect(view(s, '31-0').deleted).toBe(true);
  });

  it('shows own changes at once, confirms them on ack and rolls them back on error', () => {
    const s = fresh();
    s.applyJoined({ room: 'general', messages: [msg('10-0', 'mine', alice), msg('20-0', 'theirs')], events: [], recovered: true, members: [] });
    // Edit: shown while pending, kept after the ack (before its event arrives), event is a no-op.
    s.addChange({ cid: 'c-edit', kind: 'edit', room: 'general', target: '10-0', text: 'mine, fixed' });
    expect(view(s, '10-0')).toMatchObject({ text: 'mine, fixed', pending: 'edit' });
    expect(s.pendingChanges('general').map((c: any) => c.cid)).toEqual(['c-edit']);
    s.ackChange(JSON.parse(ackFrame('c-edit', '30-0', 30)));
    expect(view(s, '10-0')).toMatchObject({ text: 'mine, fixed', pending: null, editedAt: 30 });
    s.applyEvent(ev('30-0', 'edit', '10-0', { text: 'mine, fixed', cid: 'c-edit' }, alice));
    expect(s.state.changes.size).toBe(0);
    // Refused delete: the message comes back as it was.
    s.addChange({ cid: 'c-del', kind: 'delete', room: 'general', target: '20-0' });
    expect(view(s, '20-0')).toMatchObject({ deleted: true, pending: 'delete', text: '' });
    expect(s.failChange('c-del')).toMatchObject({ kind: 'delete' });
    expect(view(s, '20-0')).toMatchObject({ deleted: false, text: 'theirs', pending: null });
    // React: counted at once; after the ack it holds until the event's absolute count lands.
    s.addChange({ cid: 'c-r1', kind: 'react', room: 'general', target: '20-0', emoji: '🎉', on: true });
    expect(view(s, '20-0').reactions).toEqual([{ emoji: '🎉', count: 1, me: true }]);
    s.ackChange(JSON.parse(ackFrame('c-r1', '31-0', 31)));
    expect(view(s, '20-0').reactions).toEqual([{ emoji: '🎉', count: 1, me: true }]);
    s.applyEvent(ev('31-0', 'react', '20-0', { emoji: '🎉', on: true, count: 2, cid: 'c-r1' }, alice));
    expect(view(s, '20-0').reactions).toEqual([{ emoji: '🎉', count: 2, me: true }]);
    expect(s.state.changes.size).toBe(0);
    // Toggle off, refused (e.g. rate limited): back on.
    s.addChange({ cid: 'c-r2', kind: 'react', room: 'general', target: '20-0', emoji: '🎉', on: false });
    expect(view(s, '20-0').reactions).toEqual([{ emoji: '🎉', count: 1, me: false }]);
    s.failChange('c-r2');
    expect(view(s, '20-0').reactions).toEqual([{ emoji: '🎉', count: 2, me: true }]);
    // "unchanged": it already was so on the server; ours says so too, with no event to wait for.
    s.addChange({ cid: 'c-r3', kind: 'react', room: 'general', target: '10-0', emoji: '👀', on: true });
    s.ackChange(JSON.parse(unchangedAckFrame('c-r3')));
    expect(view(s, '10-0').reactions).toEqual([{ emoji: '👀', count: 1, me: true }]);
    expect(s.ackChange(JSON.parse(ackFrame('not-a-change', '1-0', 1)))).toBeNull();
  });

  it('a resume settles an acked reaction whose event it carried (or that came before it)', () => {
    const s = fresh();
    s.applyJoined({ room: 'general', messages: [msg('10-0')], events: [], recovered: true, members: [] });
    s.addChange({ cid: 'c-r', kind: 'react', room: 'general', target: '10-0', emoji: '👍', on: true });
    s.ackChange(JSON.parse(ackFrame('c-r', '11-0', 11)));
    s.applyJoined({
      room: 'general',
      messages: [],
      events: [ev('11-0', 'react', '10-0', { emoji: '👍', on: true, count: 4, cid: 'c-r' }, alice)],
      recovered: true,
      members: [],
    });
    expect(s.state.changes.size).toBe(0);
    expect(view(s, '10-0').reactions).toEqual([{ emoji: '👍', count: 4, me: true }]);
  });

  it('Up arrow finds my newest message that is not deleted, in the timeline or a thread', () => {
    const s = fresh();
    s.applyJoined({
      room: 'general',
      messages: [msg('1-0', 'a', alice), msg('2-0', 'b', alice), msg('3-0', 'c'), { ...msg('4-0', 'r', alice), replyTo: '1-0', replyCount: 1 }],
      events: [ev('5-0', 'delete', '2-0', {}, alice)],
      recovered: true,
      members: [],
    });
    expect(s.lastOwnMessage('general').id).toBe('1-0');
    expect(s.lastOwnMessage('general', '1-0').id).toBe('4-0');
    s.addChange({ cid: 'd', kind: 'delete', room: 'general', target: '1-0' });
    expect(s.lastOwnMessage('general')).toBeNull();
  });

  it('after a resume the room log could not serve (recovered:false), drops what may be stale', () => {
    const s = fresh();
    s.applyJoined({ room: 'general', messages: [msg('1-0'), msg('2-0')], events: [], recovered: true, members: [] });
    s.applyJoined({ room: 'general', messages: [msg('50-0')], events: [], recovered: false, stale: true, gap: false, members: [] });
    expect(s.state.rooms.get('general').ids).toEqual(['50-0']);
    expect(s.state.rooms.get('general').hasMore).toBe(true);
  });
});
