// The contract suite's room events part (store.contract.ts runs it for every implementation):
// edits, deletes, reactions and threads, applied idempotently and whatever the arrival order.
import { describe, expect, it } from 'vitest';
import type { ChatMessage, ChatUser, RoomEvent } from '../message.js';
import { msg } from './store.contract.js';
import type { HistoryMessage, Store } from './store.js';

const sender: ChatUser = { id: 'u_sender01', name: 'sender' };
const alice: ChatUser = { id: 'u_alice0001', name: 'alice' };
const bob: ChatUser = { id: 'u_bob000001', name: 'bob' };

const ms = (id: string) => Number(id.split('-')[0]);
const base = (room: string, id: string, target: string, user: ChatUser) => ({
  id,
  room,
  user,
  ts: ms(id),
  cid: `e${id.replace('-', '_')}`,
  target,
});

export const ev = {
  edit: (room: string, id: string, target: string, text: string, user = sender): RoomEvent => ({
    ...base(room, id, target, user),
    kind: 'edit',
    text,
  }),
  del: (room: string, id: string, target: string, replyTo?: string, user = sender): RoomEvent =>
    replyTo === undefined ? { ...base(room, id, target, user), kind: 'delete' } : { ...base(room, id, target, user), kind: 'delete', replyTo },
  react: (room: string, id: string, target: string, emoji: string, on: boolean, user: ChatUser): RoomEvent => ({
    ...base(room, id, target, user),
    kind: 'react',
    emoji,
    on,
  }),
};

export function reply(room: string, id: string, parent: string, text = `reply ${id}`): ChatMessage {
  return { ...msg(room, id, text), replyTo: parent };
}

/** A deterministic shuffle (the same order on every run, so a failure can be replayed). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed * 7919 + 17;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const isEvent = (e: ChatMessage | RoomEvent): e is RoomEvent => 'kind' in e;

export function eventsContract(getStore: () => Store): void {
  describe('events', () => {
    const store = () => getStore();
    const one = async (room: string, id: string, viewer?: string) => (await store().getMessage(room, id, viewer))!;

    it('an edit replaces the text and sets editedAt; applying the batch again counts duplicates and changes nothing', async () => {
      await store().insertMessages([msg('lobby', '100-0', 'helo')]);
      const batch = [ev.edit('lobby', '101-0', '100-0', 'hello')];
      expect(await store().applyEvents(batch)).toEqual({ applied: 1, duplicates: 0, conflicts: [] });
      const edited: HistoryMessage = { ...msg('lobby', '100-0'), text: 'hello', editedAt: 101 };
      expect(await store().messagesBefore('lobby', undefined, 10)).toEqual([edited]);
      expect(await store().applyEvents(batch)).toEqual({ applied: 0, duplicates: 1, conflicts: [] });
      expect(await store().applyEvents([...batch, ev.edit('lobby', '102-0', '100-0', 'hello!'), ...batch])).toEqual({
        applied: 1,
        duplicates: 2,
        conflicts: [],
      });
      expect(await one('lobby', '100-0')).toEqual({ ...edited, text: 'hello!', editedAt: 102 });
      expect(await store().applyEvents([])).toEqual({ applied: 0, duplicates: 0, conflicts: [] });
      // an event is not a message: the room's counters do not move
      expect(await store().getRoom('lobby')).toEqual({ name: 'lobby', lastMessageAt: 100, messageCount: 1 });
    });

    it('a DIFFERENT event under a stored event id is a conflict, not a duplicate: returned, nothing applied', async () => {
      await store().insertMessages([msg('lobby', '1500-0'), msg('lobby', '1500-1')]);
      const edit = ev.edit('lobby', '1501-0', '1500-0', 'v1');
      expect(await store().applyEvents([edit, edit])).toEqual({ applied: 1, duplicates: 1, conflicts: [] });
      const before = await one('lobby', '1500-0');
      // What Redis hands out after losing a log's tail: 1501-0 again, for something else.
      const otherAuthor = ev.edit('lobby', '1501-0', '1500-0', 'hijacked', bob);
      const otherCid: RoomEvent = { ...ev.edit('lobby', '1501-0', '1500-0', 'v1 again'), cid: 'another-cid' };
      const otherKind = ev.del('lobby', '1501-0', '1500-0'); // same author and cid, still another event
      const otherTarget = ev.edit('lobby', '1501-0', '1500-1', 'moved');
      const fresh = ev.react('lobby', '1503-0', '1500-1', '🎉', true, bob);
      const batch = [otherAuthor, edit, otherKind, fresh, otherTarget, otherCid];
      const conflicts = [otherAuthor, otherKind, otherTarget, otherCid];
      expect(await store().applyEvents(batch)).toEqual({ applied: 1, duplicates: 1, conflicts });
      expect(await store().applyEvents(batch)).toEqual({ applied: 0, duplicates: 2, conflicts });
      expect(await one('lobby', '1500-0')).toEqual(before); // not hijacked, not deleted
      expect(await one('lobby', '1500-1')).toEqual({ ...msg('lobby', '1500-1'), reactions: [{ emoji: '🎉', count: 1, me: false }] });
      // two different events with one id in the same batch: the first is applied, the second is a conflict
      const second = ev.del('lobby', '1510-0', '1500-1', undefined, bob);
      expect(await store().applyEvents([ev.edit('lobby', '1510-0', '1500-1', 'first'), second])).toEqual({ applied: 1, duplicates: 0, conflicts: [second] });
      expect(await one('lobby', '1500-1')).toMatchObject({ text: 'first', editedAt: 1510, reactions: [{ emoji: '🎉', count: 1 }] });
    });

    it('an older edit arriving after a newer one changes nothing', async () => {
      await store().insertMessages([msg('lobby', '300-0')]);
      await store().applyEvents([ev.edit('lobby', '302-0', '300-0', 'newer')]);
      expect(await store().applyEvents([ev.edit('lobby', '301-5', '300-0', 'older')])).toEqual({ applied: 1, duplicates: 0, conflicts: [] });
      expect(await one('lobby', '300-0')).toEqual({ ...msg('lobby', '300-0'), text: 'newer', editedAt: 302 });
    });

    it('an event stored before its message takes effect when the message arrives', async () => {
      await store().applyEvents([
        ev.edit('lobby', '202-0', '200-0', 'first'),
        ev.react('lobby', '204-0', '200-0', '👍', true, alice),
        ev.edit('lobby', '203-0', '200-0', 'second'),
      ]);
      expect(await store().messagesBefore('lobby', undefined, 10)).toEqual([]);
      expect(await store().getMessage('lobby', '200-0')).toBeNull();
      await store().insertMessages([msg('lobby', '200-0')]);
      expect(await store().messagesBefore('lobby', undefined, 10, alice.id)).toEqual([
        { ...msg('lobby', '200-0'), text: 'second', editedAt: 203, reactions: [{ emoji: '👍', count: 1, me: true }] },
      ]);
    });

    it('a delete leaves a tombstone: no text, no edit, no reactions; who and when stay', async () => {
      await store().insertMessages([msg('lobby', '400-0'), msg('lobby', '400-1')]);
      await store().applyEvents([
        ev.edit('lobby', '401-0', '400-0', 'edited'),
        ev.react('lobby', '402-0', '400-0', '🎉', true, bob),
        ev.del('lobby', '403-0', '400-0'),
      ]);
      const tombstone = { id: '400-0', room: 'lobby', user: sender, text: '', ts: 400, cid: 'c400_0', deleted: true };
      const got = await store().messagesBefore('lobby', undefined, 10, bob.id);
      // absent, not undefined: the JSON a client receives has exactly these keys, in this order
      expect(JSON.stringify(got[0])).toBe(JSON.stringify(tombstone));
      expect(got).toEqual([tombstone, msg('lobby', '400-1')]);
      expect(await one('lobby', '400-0', bob.id)).toEqual(tombstone);
    });

    it('a delete is final: an older edit after it, a newer edit or reaction, a second delete change nothing', async () => {
      await store().insertMessages([msg('lobby', '500-0')]);
      await store().applyEvents([ev.del('lobby', '502-0', '500-0')]);
      expect(
        await store().applyEvents([
          ev.edit('lobby', '501-0', '500-0', 'older edit'),
          ev.edit('lobby', '503-0', '500-0', 'newer edit'),
          ev.react('lobby', '504-0', '500-0', '👍', true, alice),
          ev.del('lobby', '505-0', '500-0'),
        ]),
      ).toEqual({ applied: 4, duplicates: 0, conflicts: [] });
      expect(await one('lobby', '500-0', alice.id)).toEqual({ ...msg('lobby', '500-0'), text: '', deleted: true });
    });

    it('reactions toggle on, off, on per (message, emoji, user), with `me` for each viewer', async () => {
      await store().insertMessages([msg('lobby', '600-0')]);
      await store().applyEvents([
        ev.react('lobby', '601-0', '600-0', '👍', true, alice),
        ev.react('lobby', '602-0', '600-0', '👍', true, bob),
        ev.react('lobby', '603-0', '600-0', '🎉', true, bob),
        ev.react('lobby', '604-0', '600-0', '👍', false, alice),
      ]);
      expect((await one('lobby', '600-0', alice.id)).reactions).toEqual([
        { emoji: '👍', count: 1, me: false },
        { emoji: '🎉', count: 1, me: false },
      ]);
      await store().applyEvents([ev.react('lobby', '605-0', '600-0', '👍', true, alice)]);
      expect((await one('lobby', '600-0', alice.id)).reactions).toEqual([
        { emoji: '👍', count: 2, me: true },
        { emoji: '🎉', count: 1, me: false },
      ]);
      expect((await one('lobby', '600-0', bob.id)).reactions).toEqual([
        { emoji: '👍', count: 2, me: true },
        { emoji: '🎉', count: 1, me: true },
      ]);
      expect((await one('lobby', '600-0')).reactions).toEqual([
        { emoji: '👍', count: 2, me: false },
        { emoji: '🎉', count: 1, me: false },
      ]);
      // the last of an emoji switched off: the emoji goes; the last reaction: the property goes
      await store().applyEvents([ev.react('lobby', '606-0', '600-0', '🎉', false, bob)]);
      expect((await one('lobby', '600-0', bob.id)).reactions).toEqual([{ emoji: '👍', count: 2, me: true }]);
      await store().applyEvents([
        ev.react('lobby', '607-0', '600-0', '👍', false, bob),
        ev.react('lobby', '607-1', '600-0', '👍', false, alice),
      ]);
      expect(await one('lobby', '600-0', bob.id)).toEqual(msg('lobby', '600-0'));
      expect(await store().messagesBefore('lobby', undefined, 10, bob.id)).toEqual([msg('lobby', '600-0')]);
    });

    it('reactions are ordered by the oldest CURRENT reaction with each emoji', async () => {
      await store().insertMessages([msg('lobby', '700-0')]);
      await store().applyEvents([
        ev.react('lobby', '701-0', '700-0', '👍', true, alice),
        ev.react('lobby', '702-0', '700-0', '🎉', true, bob),
        ev.react('lobby', '703-0', '700-0', '👍', false, alice),
        ev.react('lobby', '704-0', '700-0', '👍', true, alice),
      ]);
      expect((await one('lobby', '700-0')).reactions?.map((r) => r.emoji)).toEqual(['🎉', '👍']);
    });

    it('a redelivered or late older toggle does not revive or remove a reaction', async () => {
      await store().insertMessages([msg('lobby', '800-0')]);
      const on = ev.react('lobby', '801-0', '800-0', '👍', true, alice);
      await store().applyEvents([on, ev.react('lobby', '802-0', '800-0', '👍', false, alice)]);
      expect(await store().applyEvents([on])).toEqual({ applied: 0, duplicates: 1, conflicts: [] });
      // a toggle older than the stored one, arriving late: stored as applied, no effect
      await store().applyEvents([ev.react('lobby', '811-0', '800-0', '❤️', true, bob)]);
      await store().applyEvents([ev.react('lobby', '810-0', '800-0', '❤️', false, bob)]);
      expect((await one('lobby', '800-0', alice.id)).reactions).toEqual([{ emoji: '❤️', count: 1, me: false }]);
    });

    it('21 users on one emoji count 21, and `me` is true for any one of them', async () => {
      await store().insertMessages([msg('lobby', '900-0')]);
      const users = Array.from({ length: 21 }, (_, i) => ({ id: `u_many${String(i).padStart(6, '0')}`, name: `user${i}` }));
      await store().applyEvents(users.map((u, i) => ev.react('lobby', `901-${i}`, '900-0', '🔥', true, u)));
      expect((await one('lobby', '900-0', users[13]!.id)).reactions).toEqual([{ emoji: '🔥', count: 21, me: true }]);
      expect((await one('lobby', '900-0', alice.id)).reactions).toEqual([{ emoji: '🔥', count: 21, me: false }]);
    });

    it('events of one room never change a message with the same id in another room', async () => {
      await store().insertMessages([msg('lobby', '950-0'), msg('other', '950-0')]);
      await store().applyEvents([ev.edit('lobby', '951-0', '950-0', 'lobby only'), ev.react('lobby', '952-0', '950-0', '👍', true, alice)]);
      expect(await one('other', '950-0', alice.id)).toEqual(msg('other', '950-0'));
      expect((await one('lobby', '950-0', alice.id)).text).toBe('lobby only');
    });

    describe('threads', () => {
      it('replies count on their parent, live in the thread, not in the room history', async () => {
        await store().insertMessages([
          msg('lobby', '1000-0'),
          reply('lobby', '1001-0', '1000-0'),
          msg('lobby', '1001-1'),
          reply('lobby', '1002-0', '1000-0'),
          reply('lobby', '1003-0', '1000-0'),
        ]);
        const parent = { ...msg('lobby', '1000-0'), replyCount: 3, lastReplyAt: 1003 };
        expect(await store().messagesBefore('lobby', undefined, 10)).toEqual([parent, msg('lobby', '1001-1')]);
        expect(await store().messagesAfter('lobby', '0-0', 10)).toEqual([parent, msg('lobby', '1001-1')]);
        expect((await store().messagesBefore('lobby', '1001-1', 10)).map((m) => m.id)).toEqual(['1000-0']);
        expect(await store().repliesAfter('lobby', '1000-0', undefined, 10)).toEqual([
          reply('lobby', '1001-0', '1000-0'),
          reply('lobby', '1002-0', '1000-0'),
          reply('lobby', '1003-0', '1000-0'),
        ]);
        // replies are messages of the room
        expect(await store().getRoom('lobby')).toEqual({ name: 'lobby', lastMessageAt: 1003, messageCount: 5 });
      });

      it('redelivered replies are not counted twice', async () => {
        const replies = [reply('lobby', '1101-0', '1100-0'), reply('lobby', '1102-0', '1100-0')];
        await store().insertMessages([msg('lobby', '1100-0'), ...replies]);
        expect(await store().insertMessages([...replies, reply('lobby', '1103-0', '1100-0'), ...replies])).toEqual({
          inserted: 1,
          duplicates: 4,
          conflicts: [],
        });
        expect(await one('lobby', '1100-0')).toMatchObject({ replyCount: 3, lastReplyAt: 1103 });
      });

      it('deleting a reply recounts its parent, named by the event or known from the stored reply', async () => {
        await store().insertMessages([
          msg('lobby', '1200-0'),
          reply('lobby', '1201-0', '1200-0'),
          reply('lobby', '1202-0', '1200-0'),
          reply('lobby', '1203-0', '1200-0'),
        ]);
        await store().applyEvents([ev.del('lobby', '1204-0', '1203-0', '1200-0')]);
        expect(await one('lobby', '1200-0')).toEqual({ ...msg('lobby', '1200-0'), replyCount: 2, lastReplyAt: 1202 });
        await store().applyEvents([ev.del('lobby', '1205-0', '1201-0')]);
        expect(await one('lobby', '1200-0')).toEqual({ ...msg('lobby', '1200-0'), replyCount: 1, lastReplyAt: 1202 });
        // a deleted reply stays in its thread as a tombstone, and is a reply
        const thread = await store().repliesAfter('lobby', '1200-0', undefined, 10);
        expect(thread.map((m) => [m.id, m.deleted ?? false])).toEqual([
          ['1201-0', true],
          ['1202-0', false],
          ['1203-0', true],
        ]);
        expect(await one('lobby', '1203-0')).toEqual({ ...reply('lobby', '1203-0', '1200-0'), text: '', deleted: true });
        await store().applyEvents([ev.del('lobby', '1206-0', '1202-0', '1200-0')]);
        // no replies left: both counters absent
        expect(await one('lobby', '1200-0')).toEqual(msg('lobby', '1200-0'));
      });

      it('a parent stored after its replies, and a reply deleted before it is stored, still count right', async () => {
        await store().applyEvents([ev.del('lobby', '1305-0', '1303-0', '1300-0'), ev.del('lobby', '1305-1', '1304-0')]);
        await store().insertMessages([reply('lobby', '1302-0', '1300-0'), reply('lobby', '1303-0', '1300-0')]);
        await store().insertMessages([reply('lobby', '1301-0', '1300-0'), reply('lobby', '1304-0', '1300-0')]);
        expect(await store().messagesBefore('lobby', undefined, 10)).toEqual([]);
        await store().insertMessages([msg('lobby', '1300-0')]);
        expect(await store().messagesBefore('lobby', undefined, 10)).toEqual([
          { ...msg('lobby', '1300-0'), replyCount: 2, lastReplyAt: 1302 },
        ]);
      });

      it('a deleted parent keeps its thread and its counts', async () => {
        await store().insertMessages([msg('lobby', '1400-0'), reply('lobby', '1401-0', '1400-0')]);
        await store().applyEvents([ev.del('lobby', '1402-0', '1400-0')]);
        expect(await one('lobby', '1400-0')).toEqual({
          ...msg('lobby', '1400-0'),
          text: '',
          deleted: true,
          replyCount: 1,
          lastReplyAt: 1401,
        });
        expect((await store().repliesAfter('lobby', '1400-0', undefined, 10)).map((m) => m.id)).toEqual(['1401-0']);
      });

      it('getMessage answers a reply in its current state, with its parent', async () => {
        await store().insertMessages([msg('lobby', '1500-0'), reply('lobby', '1501-0', '1500-0')]);
        await store().applyEvents([
          ev.edit('lobby', '1502-0', '1501-0', 'edited reply'),
          ev.react('lobby', '1503-0', '1501-0', '👀', true, bob),
        ]);
        const expected = {
          ...reply('lobby', '1501-0', '1500-0'),
          text: 'edited reply',
          editedAt: 1502,
          reactions: [{ emoji: '👀', count: 1, me: true }],
        };
        expect(await one('lobby', '1501-0', bob.id)).toEqual(expected);
        expect(JSON.stringify(await one('lobby', '1501-0', bob.id))).toBe(JSON.stringify(expected));
        expect(await store().repliesAfter('lobby', '1500-0', undefined, 10, bob.id)).toEqual([expected]);
        expect(await store().getMessage('lobby', '1500-1')).toBeNull();
        expect(await store().getMessage('nowhere', '1500-0')).toBeNull();
      });

      it('repliesAfter pages a thread oldest first with no gap, across other messages and threads', async () => {
        const entries: ChatMessage[] = [msg('lobby', '1600-0'), msg('lobby', '1600-1')];
        const mine: string[] = [];
        for (let i = 1; i <= 11; i++) {
          entries.push(reply('lobby', `${1600 + i}-0`, '1600-0'));
          mine.push(`${1600 + i}-0`);
          entries.push(reply('lobby', `${1600 + i}-1`, '1600-1'), msg('lobby', `${1600 + i}-2`));
        }
        await store().insertMessages(shuffled(entries, 3));
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store().repliesAfter('lobby', '1600-0', after, 4);
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(4);
          expect(page.every((m) => m.replyTo === '1600-0')).toBe(true);
          seen.push(...page.map((m) => m.id));
          after = page[page.length - 1]!.id;
        }
        expect(seen).toEqual(mine);
        expect((await store().repliesAfter('lobby', '1600-0', '1605-1', 2)).map((m) => m.id)).toEqual(['1606-0', '1607-0']);
        expect(await store().repliesAfter('lobby', '1600-0', undefined, 0)).toEqual([]);
        expect(await store().repliesAfter('lobby', '1699-0', undefined, 10)).toEqual([]);
        const top = await store().messagesBefore('lobby', undefined, 100);
        expect(top.map((m) => m.id)).toEqual(['1600-0', '1600-1', ...mine.map((id) => id.replace(/-0$/, '-2'))]);
        expect(top[0]).toMatchObject({ replyCount: 11, lastReplyAt: 1611 });
      });
    });

    it('any arrival order and batching of messages and events ends in the same state as in order', async () => {
      const R = 'order';
      const log: (ChatMessage | RoomEvent)[] = [
        msg(R, '2000-0'),
        msg(R, '2000-1'),
        reply(R, '2001-0', '2000-0'),
        ev.edit(R, '2001-1', '2000-0', 'one'),
        ev.react(R, '2002-0', '2000-0', '👍', true, alice),
        reply(R, '2002-1', '2000-0'),
        ev.react(R, '2003-0', '2000-0', '👍', true, bob),
        ev.edit(R, '2003-1', '2000-0', 'two'),
        ev.react(R, '2004-0', '2000-0', '👍', false, alice),
        ev.react(R, '2004-1', '2001-0', '🎉', true, alice),
        ev.del(R, '2005-0', '2002-1', '2000-0'),
        ev.edit(R, '2005-1', '2000-1', 'soon deleted'),
        ev.del(R, '2006-0', '2000-1'),
        reply(R, '2006-1', '2000-0'),
        ev.react(R, '2007-0', '2000-0', '❤️', true, alice),
      ];
      const state = async (room: string) => {
        const strip = (ms: HistoryMessage[]) => JSON.stringify(ms).replaceAll(`"room":"${room}"`, '"room":"-"');
        return {
          top: strip(await store().messagesBefore(room, undefined, 50, alice.id)),
          thread: strip(await store().repliesAfter(room, '2000-0', undefined, 50, alice.id)),
        };
      };
      const play = async (room: string, entries: (ChatMessage | RoomEvent)[], batch: (i: number) => number) => {
        for (let i = 0, b = 0; i < entries.length; b++) {
          const slice = entries.slice(i, i + batch(b)).map((e) => ({ ...e, room }));
          i += slice.length;
          await store().insertMessages(slice.filter((e): e is ChatMessage => !isEvent(e)));
          await store().applyEvents(slice.filter(isEvent));
        }
      };
      await play(R, log, () => log.length);
      const expected = await state(R);
      expect(JSON.parse(expected.top)[0]).toEqual({
        ...msg('-', '2000-0'),
        text: 'two',
        editedAt: 2003,
        reactions: [
          { emoji: '👍', count: 1, me: false },
          { emoji: '❤️', count: 1, me: true },
        ],
        replyCount: 2,
        lastReplyAt: 2006,
      });
      for (let seed = 1; seed <= 6; seed++) {
        const room = `order-${seed}`;
        await play(room, shuffled(log, seed), (b) => 1 + ((b + seed) % 4));
        // and once more, redelivered in another order
        await play(room, shuffled(log, seed + 100), () => 5);
        expect(await state(room), `seed ${seed}`).toEqual(expected);
      }
    });
  });
}
