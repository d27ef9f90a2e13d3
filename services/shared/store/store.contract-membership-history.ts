// The contract suite's membership part, continued (store.contract-membership.ts runs it inside
// its lifecycle): membership and room events kept whole for history's system lines
// (store.ts membershipEventsBetween) — numeric id order, exclusive bounds, the newest `limit` of
// a range, one copy per event whatever the redeliveries, other rooms left out.
import { beforeEach, describe, expect, it } from 'vitest';
import type { MembershipLogEntry } from '../membership.js';
import { alice, bob, carol, dave, member, membersRoom, roomEvent } from './store.contract-membership.js';
import type { Store } from './store.js';

const ids = (events: MembershipLogEntry[]) => events.map((e) => e.id);

export function membershipHistoryContract(name: string, getStore: () => Store): void {
  describe('membership events kept for history', () => {
    let store: Store;
    beforeEach(() => {
      store = getStore();
    });

    const room = membersRoom('p', 'timeline');
    // Every optional field of both kinds, text that JSON must escape, and ids whose string order
    // is not their numeric order (9 < 10 < 100; seq 2 < 10).
    const timeline: MembershipLogEntry[] = [
      roomEvent(room, '9-0', 'created', 'private', { title: 'Tïtle "quoted" 😀', topic: 'line\nbreak \\ and \u0001' }),
      member(room, '9-1', 'joined', alice, { role: 'owner' }),
      member(room, '10-0', 'invited', bob, { role: 'member' }, alice),
      member(room, '10-2', 'muted', bob, { role: 'member', mutedUntil: 9_000_000 }, alice),
      member(room, '10-10', 'banned', carol, { banned: true }, alice),
      roomEvent(room, '11-0', 'archived', 'private', { title: 'Tïtle "quoted" 😀', topic: 'second', archived: true }),
      member(room, '100-0', 'kicked', bob, { mutedUntil: 9_000_000 }, alice),
      roomEvent(room, '100-1', 'topic', 'private', { title: 'Tïtle "quoted" 😀', topic: '' }, dave),
    ];
    const inOrder = ['9-0', '9-1', '10-0', '10-2', '10-10', '11-0', '100-0', '100-1'];

    it('lists every event whole (both kinds, every field), in numeric id order whatever the arrival order', async () => {
      // reversed, in two batches: the order must come from the ids
      const reversed = [...timeline].reverse();
      await store.applyMembershipEvents(reversed.slice(0, 3));
      await store.applyMembershipEvents(reversed.slice(3));
      const all = await store.membershipEventsBetween(room, undefined, undefined, 100);
      expect(ids(all)).toEqual(inOrder);
      expect(all).toEqual(timeline);
      // exactly the object applied: no key added, none lost
      expect(JSON.stringify(all)).toBe(JSON.stringify(timeline));
    });

    it('bounds are exclusive and optional; ids that name no event bound as well as those that do', async () => {
      await store.applyMembershipEvents(timeline);
      const between = (a: string | undefined, b: string | undefined) => store.membershipEventsBetween(room, a, b, 100).then(ids);
      expect(await between('9-1', '100-0')).toEqual(['10-0', '10-2', '10-10', '11-0']);
      expect(await between('10-0', '10-10')).toEqual(['10-2']);
      expect(await between('10-3', '99-0')).toEqual(['10-10', '11-0']);
      expect(await between(undefined, '10-2')).toEqual(['9-0', '9-1', '10-0']);
      expect(await between('11-0', undefined)).toEqual(['100-0', '100-1']);
      expect(await between('100-1', undefined)).toEqual([]);
      expect(await between(undefined, '9-0')).toEqual([]);
      expect(await between('10-2', '10-2')).toEqual([]);
      expect(await between('0-0', '9007199254740991-9007199254740991')).toEqual(inOrder);
    });

    it('at most `limit`: the newest of the range, oldest first', async () => {
      await store.applyMembershipEvents(timeline);
      expect(ids(await store.membershipEventsBetween(room, undefined, undefined, 3))).toEqual(['11-0', '100-0', '100-1']);
      expect(ids(await store.membershipEventsBetween(room, undefined, '10-10', 2))).toEqual(['10-0', '10-2']);
      expect(ids(await store.membershipEventsBetween(room, '9-0', '11-0', 1))).toEqual(['10-10']);
      expect(await store.membershipEventsBetween(room, undefined, undefined, 0)).toEqual([]);
      // paging back by the oldest id of each page walks the whole log once
      const seen: string[] = [];
      let before: string | undefined;
      for (let page = 0; page < 10; page++) {
        const got = await store.membershipEventsBetween(room, undefined, before, 3);
        if (got.length === 0) break;
        seen.unshift(...ids(got));
        before = got[0]!.id;
      }
      expect(seen).toEqual(inOrder);
    });

    it('one copy per event: a redelivery keeps the first, a different event under a stored id is not kept', async () => {
      await store.applyMembershipEvents(timeline.slice(0, 4));
      expect(await store.applyMembershipEvents(timeline)).toEqual({ applied: 4, duplicates: 4, conflicts: [] });
      expect(await store.applyMembershipEvents([...timeline, ...timeline])).toEqual({ applied: 0, duplicates: 16, conflicts: [] });
      const impostor = member(room, '10-0', 'invited', dave, { role: 'member' }, alice);
      expect((await store.applyMembershipEvents([impostor])).conflicts).toEqual([impostor]);
      const all = await store.membershipEventsBetween(room, undefined, undefined, 100);
      expect(all).toEqual(timeline);
    });

    it('lists only the room asked for (public rooms too), and nothing for a room without events', async () => {
      const other = membersRoom('g', 'elsewhere');
      await store.applyMembershipEvents([
        ...timeline,
        roomEvent(other, '10-1', 'created', 'group'),
        member(other, '10-3', 'joined', bob, { role: 'member' }),
        member('lobby', '10-4', 'joined', carol, { role: 'member' }),
      ]);
      expect(ids(await store.membershipEventsBetween(other, undefined, undefined, 100))).toEqual(['10-1', '10-3']);
      expect(ids(await store.membershipEventsBetween('lobby', undefined, undefined, 100))).toEqual(['10-4']);
      expect(ids(await store.membershipEventsBetween(room, '10-0', '11-0', 100))).toEqual(['10-2', '10-10']);
      expect(await store.membershipEventsBetween('nowhere', undefined, undefined, 100)).toEqual([]);
    });
  });
}
