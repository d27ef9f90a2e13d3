// The contract suite's attention part (issue 15; store.ts "attention"), run against every Store
// implementation by store.test.ts (a fresh store per test): read positions moved by read marks,
// the user's own messages and joins; unread = lastSeq - readSeq in any arrival order; mention
// counts; receipts; the counters' rebuild. The inbox, mute and DND are in
// store.contract-attention-inbox.ts. Expected counts are written out by hand from the script.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../test/helpers/prng.js';
import { MENTION_ROOM, type ChatMessage, type ReadMark } from '../message.js';
import { dmRoomName } from '../rooms.js';
import { attentionInboxContract } from './store.contract-attention-inbox.js';
import { ev } from './store.contract-events.js';
import { alice, bob, carol, dave, erin, frank, joined, member, membersRoom, person, roomEvent, type Person } from './store.contract-membership.js';
import type { MyRoom, Store } from './store.js';

const msOf = (id: string) => Number(id.split('-')[0]);

/** A top-level message with its room seq (send.lua gives one to every top-level message). */
export function top(room: string, id: string, seq: number, by: Person, mentions?: string[]): ChatMessage {
  const m: ChatMessage = { id, room, user: by, text: `text ${id}`, ts: msOf(id), cid: `c${id.replace('-', '_')}`, seq };
  if (mentions) m.mentions = mentions;
  return m;
}
/** A thread reply: no seq (threads are not counted as unread). */
export function threadReply(room: string, id: string, parent: string, by: Person, mentions?: string[]): ChatMessage {
  const m: ChatMessage = { id, room, user: by, text: `reply ${id}`, ts: msOf(id), cid: `c${id.replace('-', '_')}`, replyTo: parent };
  if (mentions) m.mentions = mentions;
  return m;
}
/** A top-level message stored without a seq (sent before the counters existed). */
const unnumbered = (room: string, id: string, by: Person): ChatMessage => ({ id, room, user: by, text: `text ${id}`, ts: msOf(id), cid: `c${id}` });
export const mark = (room: string, who: Person, id: string, seq: number): ReadMark => ({ room, user: who, id, seq });

type Counts = Pick<MyRoom, 'lastSeq' | 'readSeq' | 'readId' | 'unread' | 'mentions' | 'muted'>;
/** The attention fields of `room` in the user's rooms, or null when it is not listed. */
export async function counts(store: Store, who: Person | string, room: string): Promise<Counts | null> {
  const id = typeof who === 'string' ? who : who.id;
  const r = (await store.myRooms(id, 500)).find((x) => x.name === room);
  if (!r) return null;
  const c: Counts = { lastSeq: r.lastSeq, readSeq: r.readSeq, unread: r.unread, mentions: r.mentions, muted: r.muted };
  if (r.readId !== undefined) c.readId = r.readId;
  return c;
}
/** Counts with nothing muted and no read id, unless given. */
const at = (lastSeq: number, readSeq: number, more: { readId?: string; mentions?: number } = {}): Counts => ({
  lastSeq,
  readSeq,
  unread: lastSeq - readSeq,
  mentions: more.mentions ?? 0,
  muted: false,
  ...(more.readId !== undefined && { readId: more.readId }),
});

export function attentionContract(name: string, factory: () => Promise<Store>, cleanup?: (store: Store) => Promise<void>): void {
  describe(`${name} store contract: attention`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });

    describe('read positions and unread counts', () => {
      it('a position moves three ways — a read mark, the user’s own message, joining — and unread = lastSeq - readSeq', async () => {
        const room = 'lobby';
        await store.applyMembershipEvents([joined(room, '1-0', alice), joined(room, '1-1', bob)]);
        expect(await counts(store, alice, room)).toEqual(at(0, 0));
        await store.insertMessages([1, 2, 3, 4, 5].map((i) => top(room, `10${i}-0`, i, bob)));
        expect(await counts(store, alice, room)).toEqual(at(5, 0));
        // the sender has read their own messages
        expect(await counts(store, bob, room)).toEqual(at(5, 5, { readId: '105-0' }));

        await store.applyReads([mark(room, alice, '103-0', 3)]);
        expect(await counts(store, alice, room)).toEqual(at(5, 3, { readId: '103-0' }));
        await store.insertMessages([top(room, '106-0', 6, alice)]);
        expect(await counts(store, alice, room)).toEqual(at(6, 6, { readId: '106-0' }));
        expect(await counts(store, bob, room)).toEqual(at(6, 5, { readId: '105-0' }));

        // a new member does not inherit the history as unread (a seq, no id: they saw nothing)
        await store.applyMembershipEvents([joined(room, '107-0', dave)]);
        expect(await counts(store, dave, room)).toEqual(at(6, 6));
        await store.insertMessages([top(room, '108-0', 7, bob)]);
        expect(await counts(store, dave, room)).toEqual(at(7, 6));
        // an invite moves it too
        await store.applyMembershipEvents([member(room, '109-0', 'invited', carol, { role: 'member' }, bob)]);
        expect(await counts(store, carol, room)).toEqual(at(7, 7));

        // a mark behind the position, and a thread reply (no seq), change nothing
        await store.applyReads([mark(room, alice, '103-0', 3)]);
        await store.insertMessages([threadReply(room, '110-0', '108-0', alice)]);
        expect(await counts(store, alice, room)).toEqual(at(7, 6, { readId: '106-0' }));
        // a mark with the seq of a join-only position gives it its id
        await store.applyReads([mark(room, dave, '108-0', 7)]);
        expect(await counts(store, dave, room)).toEqual(at(7, 7, { readId: '108-0' }));
      });

      it('a join carrying the room counter at that moment (member.lua) starts there, whenever it is applied', async () => {
        const room = 'late-join';
        await store.applyMembershipEvents([joined(room, '1-0', alice)]);
        await store.insertMessages([1, 2, 3, 4, 5].map((i) => top(room, `10${i}-0`, i, alice)));
        // bob joined after message 2 (seq 2), but his event is applied after all five: 3 unread
        await store.applyMembershipEvents([{ ...joined(room, '102-1', bob), seq: 2 }]);
        expect(await counts(store, bob, room)).toEqual(at(5, 2));
        // carol joined an empty room (seq 0): everything after is unread, applied late or not
        const empty = 'late-join-empty';
        await store.insertMessages([top(empty, '201-0', 1, alice), top(empty, '202-0', 2, alice)]);
        await store.applyMembershipEvents([{ ...joined(empty, '200-0', carol), seq: 0 }]);
        expect(await counts(store, carol, empty)).toEqual(at(2, 0));
      });

      it('read marks and messages in any order and batches give the same counts; a redelivered batch changes nothing', async () => {
        // seq i: odd by bob, even by alice; 4 and 8 mention bob, 5 mentions alice
        const script = (room: string) => {
          const messages = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => {
            const by = i % 2 === 1 ? bob : alice;
            const mentions = i === 4 || i === 8 ? [bob.id] : i === 5 ? [alice.id] : undefined;
            return top(room, `${200 + i}-0`, i, by, mentions);
          });
          const marks = [mark(room, alice, '203-0', 3), mark(room, alice, '206-0', 6), mark(room, bob, '202-0', 2), mark(room, bob, '207-0', 7)];
          return { messages, marks };
        };
        for (let k = 0; k < 5; k++) {
          const room = `order-${k}`;
          await store.applyMembershipEvents([joined(room, '1-0', alice), joined(room, '1-1', bob)]);
          const { messages, marks } = script(room);
          const rand = mulberry32(k + 1);
          const items: (ChatMessage | ReadMark)[] = [...messages, ...marks];
          for (let i = items.length - 1; i > 0; i--) {
            const j = Math.floor(rand() * (i + 1));
            [items[i], items[j]] = [items[j]!, items[i]!];
          }
          // batches of 1 to 3 items, each batch one kind (as the ingestion worker splits them)
          while (items.length > 0) {
            const batch = items.splice(0, 1 + Math.floor(rand() * 3));
            const msgs = batch.filter((x): x is ChatMessage => 'text' in x);
            const reads = batch.filter((x): x is ReadMark => !('text' in x));
            if (rand() < 0.5) {
              await store.insertMessages(msgs);
              await store.applyReads(reads);
            } else {
              await store.applyReads(reads);
              await store.insertMessages(msgs);
            }
          }
          const expected = { alice: at(8, 8, { readId: '208-0' }), bob: at(8, 7, { readId: '207-0', mentions: 1 }) };
          expect({ alice: await counts(store, alice, room), bob: await counts(store, bob, room) }, `order ${k}`).toEqual(expected);
          expect(await store.insertMessages(messages)).toEqual({ inserted: 0, duplicates: 8, conflicts: [] });
          await store.applyReads(marks);
          expect({ alice: await counts(store, alice, room), bob: await counts(store, bob, room) }, `redelivered ${k}`).toEqual(expected);
        }
        // another message under a stored id (a conflict) moves nothing either
        const other = { ...top('order-0', '208-0', 9, bob, [alice.id]), cid: 'another' };
        expect((await store.insertMessages([other])).conflicts).toEqual([other]);
        expect(await counts(store, alice, 'order-0')).toEqual(at(8, 8, { readId: '208-0' }));
      });

      it('a new DM’s first message is unread for the peer (no position yet), read for the sender', async () => {
        const ann = await store.createUser({ username: 'ann', passwordHash: 'h' });
        const ben = await store.createUser({ username: 'ben', passwordHash: 'h' });
        const A = { id: ann.id, name: 'ann' };
        const B = { id: ben.id, name: 'ben' };
        const dm = dmRoomName(ann.id, ben.id);
        await store.insertMessages([top(dm, '300-0', 1, A)]);
        expect(await counts(store, B, dm)).toEqual(at(1, 0));
        expect(await counts(store, A, dm)).toEqual(at(1, 1, { readId: '300-0' }));
        await store.insertMessages([top(dm, '301-0', 2, A), top(dm, '302-0', 3, A)]);
        expect(await counts(store, B, dm)).toEqual(at(3, 0));
        await store.applyReads([mark(dm, B, '302-0', 3)]);
        expect(await counts(store, B, dm)).toEqual(at(3, 3, { readId: '302-0' }));
      });

      it('roomSeqs pages every room with a counter by name (DMs included), for the Redis rebuild', async () => {
        const dm = dmRoomName(alice.id, bob.id);
        await store.insertMessages([top('beta', '1-0', 4, alice), top('alpha', '2-0', 9, alice), top(dm, '3-0', 2, bob), top('gamma', '4-0', 1, bob)]);
        // late and lower: the counter is a max
        await store.insertMessages([top('beta', '0-5', 2, alice), unnumbered('beta', '5-0', alice), unnumbered('delta', '5-1', alice)]);
        await store.applyMembershipEvents([joined('zeta', '6-0', alice)]); // known, no counter
        const all = [
          { room: 'alpha', lastSeq: 9 },
          { room: 'beta', lastSeq: 4 },
          { room: dm, lastSeq: 2 },
          { room: 'gamma', lastSeq: 1 },
        ];
        expect(await store.roomSeqs(undefined, 10)).toEqual(all);
        expect(await store.roomSeqs(undefined, 2)).toEqual(all.slice(0, 2));
        expect(await store.roomSeqs('beta', 10)).toEqual(all.slice(2));
        expect(await store.roomSeqs(undefined, 0)).toEqual([]);
      });

      it('history returns a message’s seq and mentions (absent when it has none); a tombstone keeps its seq only', async () => {
        const room = 'hist';
        const m1 = top(room, '400-0', 1, alice, [bob.id, MENTION_ROOM]);
        const m2 = top(room, '401-0', 2, bob);
        const r1 = threadReply(room, '402-0', '400-0', bob, [alice.id]);
        await store.insertMessages([m1, m2, r1]);
        const page = await store.messagesBefore(room, undefined, 10);
        expect(page.map((m) => [m.id, m.seq, m.mentions])).toEqual([['400-0', 1, [bob.id, MENTION_ROOM]], ['401-0', 2, undefined]]);
        expect(page[1]).not.toHaveProperty('mentions');
        expect((await store.messagesAfter(room, '399-0', 10))[0]).toMatchObject({ seq: 1, mentions: [bob.id, MENTION_ROOM] });
        expect(await store.getMessage(room, '402-0')).toMatchObject({ replyTo: '400-0', mentions: [alice.id] });
        expect(await store.getMessage(room, '402-0')).not.toHaveProperty('seq');
        expect((await store.repliesAfter(room, '400-0', undefined, 10))[0]).toMatchObject({ id: '402-0', mentions: [alice.id] });
        await store.applyEvents([ev.del(room, '403-0', '400-0', undefined, alice)]);
        const gone = await store.getMessage(room, '400-0');
        expect(gone).toMatchObject({ seq: 1, deleted: true, text: '' });
        expect(gone).not.toHaveProperty('mentions');
      });
    });

    describe('mentions', () => {
      it('counts a user’s mentions past their read position only, in rooms they are a member of; never replies or self-mentions', async () => {
        const room = 'mentions';
        await store.applyMembershipEvents([joined(room, '1-0', alice), joined(room, '1-1', bob)]);
        await store.insertMessages([
          top(room, '501-0', 1, bob, [alice.id]),
          top(room, '502-0', 2, bob),
          top(room, '503-0', 3, bob, [alice.id, carol.id]),
          top(room, '504-0', 4, bob, [bob.id]),
          threadReply(room, '505-0', '501-0', bob, [alice.id]),
        ]);
        expect(await counts(store, alice, room)).toEqual(at(4, 0, { mentions: 2 }));
        expect(await counts(store, bob, room)).toEqual(at(4, 4, { readId: '504-0' }));
        // carol is not a member: the room is not hers to count
        expect(await counts(store, carol, room)).toBeNull();
        await store.applyReads([mark(room, alice, '501-0', 1)]);
        expect(await counts(store, alice, room)).toEqual(at(4, 1, { readId: '501-0', mentions: 1 }));
        await store.applyReads([mark(room, alice, '503-0', 3)]);
        expect(await counts(store, alice, room)).toEqual(at(4, 3, { readId: '503-0' }));
        // joining later: the mention from before is behind the new member's position
        await store.applyMembershipEvents([joined(room, '506-0', carol)]);
        expect(await counts(store, carol, room)).toEqual(at(4, 4));
        await store.insertMessages([top(room, '507-0', 5, bob, [carol.id])]);
        expect(await counts(store, carol, room)).toEqual(at(5, 4, { mentions: 1 }));
      });

      it('@room reaches the members at the time (not the sender, not banned or departed users); one row per message', async () => {
        const room = membersRoom('p', 'atroom');
        await store.applyMembershipEvents([
          roomEvent(room, '1-0', 'created', 'private', { title: 'At room' }),
          joined(room, '1-1', alice, 'owner'),
          joined(room, '1-2', bob),
          joined(room, '1-3', carol),
          joined(room, '1-4', erin),
          member(room, '1-5', 'left', erin),
          member(room, '1-6', 'banned', frank, { banned: true }, alice),
        ]);
        await store.insertMessages([top(room, '600-0', 1, alice, [MENTION_ROOM])]);
        expect(await counts(store, bob, room)).toEqual(at(1, 0, { mentions: 1 }));
        expect(await counts(store, carol, room)).toEqual(at(1, 0, { mentions: 1 }));
        expect(await counts(store, alice, room)).toEqual(at(1, 1, { readId: '600-0' }));
        await store.applyMembershipEvents([joined(room, '601-0', erin), member(room, '601-1', 'unbanned', frank, {}, alice), joined(room, '601-2', frank)]);
        expect(await counts(store, erin, room)).toEqual(at(1, 1));
        expect(await counts(store, frank, room)).toEqual(at(1, 1));
        // @room and a name in one message: one mention
        await store.insertMessages([top(room, '602-0', 2, carol, [MENTION_ROOM, bob.id])]);
        expect(await counts(store, bob, room)).toEqual(at(2, 0, { mentions: 2 }));
        expect(await counts(store, carol, room)).toEqual(at(2, 2, { readId: '602-0' }));
        expect(await counts(store, alice, room)).toEqual(at(2, 1, { readId: '600-0', mentions: 1 }));
        expect(await counts(store, erin, room)).toEqual(at(2, 1, { mentions: 1 }));

        const group = membersRoom('g', 'atgroup');
        await store.applyMembershipEvents([roomEvent(group, '2-0', 'created', 'group'), joined(group, '2-1', alice), joined(group, '2-2', dave), joined(group, '2-3', bob)]);
        await store.insertMessages([top(group, '700-0', 1, dave, [MENTION_ROOM])]);
        expect(await counts(store, alice, group)).toEqual(at(1, 0, { mentions: 1 }));
        expect(await counts(store, bob, group)).toEqual(at(1, 0, { mentions: 1 }));
        expect(await counts(store, dave, group)).toEqual(at(1, 1, { readId: '700-0' }));
      });
    });

    describe('receipts', () => {
      it('roomReads: members’ positions with an id, furthest first, with their names; not join-only positions or departed users', async () => {
        const room = 'receipts';
        await store.applyMembershipEvents([alice, bob, carol, dave, erin, frank].map((p, i) => joined(room, `1-${i}`, p)));
        await store.insertMessages([top(room, '801-0', 1, dave), top(room, '802-0', 2, dave), top(room, '803-0', 3, alice), top(room, '804-0', 4, dave)]);
        await store.applyReads([mark(room, bob, '802-0', 2), mark(room, carol, '804-0', 4), mark(room, frank, '804-0', 4), mark(room, erin, '804-0', 4)]);
        await store.applyMembershipEvents([member(room, '805-0', 'left', erin)]);
        const reads = [
          { user: carol, id: '804-0', seq: 4 },
          { user: dave, id: '804-0', seq: 4 },
          { user: frank, id: '804-0', seq: 4 },
          { user: alice, id: '803-0', seq: 3 },
          { user: bob, id: '802-0', seq: 2 },
        ];
        expect(await store.roomReads(room, 10)).toEqual(reads);
        expect(await store.roomReads(room, 2)).toEqual(reads.slice(0, 2));
        expect(await store.roomReads(room, 0)).toEqual([]);
        expect(await store.roomReads('nowhere', 10)).toEqual([]);
        // a member who joined after (a position without an id) is not listed; one who comes back
        // is, where they had read
        const gina = person('gina');
        await store.applyMembershipEvents([joined(room, '806-0', gina), joined(room, '806-1', erin)]);
        expect(await store.roomReads(room, 10)).toEqual([...reads.slice(0, 2), { user: erin, id: '804-0', seq: 4 }, ...reads.slice(2)]);
      });

      it('roomReads of a DM: its two users by name (their usernames), nobody else', async () => {
        const ann = await store.createUser({ username: 'Ann', passwordHash: 'h' });
        const ben = await store.createUser({ username: 'Ben', passwordHash: 'h' });
        const dm = dmRoomName(ann.id, ben.id);
        const A = { id: ann.id, name: 'Ann' };
        const B = { id: ben.id, name: 'Ben' };
        expect(await store.roomReads(dm, 10)).toEqual([]);
        await store.insertMessages([top(dm, '900-0', 1, A), top(dm, '901-0', 2, A)]);
        await store.applyReads([mark(dm, B, '900-0', 1), mark(dm, carol, '901-0', 2)]);
        expect(await store.roomReads(dm, 10)).toEqual([
          { user: A, id: '901-0', seq: 2 },
          { user: B, id: '900-0', seq: 1 },
        ]);
      });
    });

    attentionInboxContract(() => store);
  });
}
