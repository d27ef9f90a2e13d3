// The contract suite's search part on access (run by store.contract-search.ts): a search finds
// messages only in the rooms the viewer may read now (SearchQuery.viewerId; users/room-changes.ts
// assertReadable) — never a private room or group they are not in, a public room they are banned
// from, or someone else's DM — and its filters (room, author, before) and paging.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatUser } from '../message.js';
import { dmRoomName } from '../rooms.js';
import { joined, member, membersRoom, roomEvent } from './store.contract-membership.js';
import { idsOf, reader, say, search, writer } from './store.contract-search.js';
import type { SearchQuery, Store } from './store.js';

const owner: ChatUser = { id: 'u_owner001', name: 'owner' };
const stranger: ChatUser = { id: 'u_strange1', name: 'stranger' };

export function searchAccessContract(name: string, factory: () => Promise<Store>, cleanup?: (store: Store) => Promise<void>): void {
  describe(`${name} store contract: search access, filters and paging`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });
    const ids = async (q: string, opts: Partial<SearchQuery> = {}) => idsOf(await search(store, q, opts));
    const roomsOf = async (q: string, opts: Partial<SearchQuery> = {}) => (await search(store, q, opts)).map((h) => h.message.room).sort();

    it('never finds what the viewer may not read: private rooms and groups they are not in, public rooms they are banned from, other people\'s DMs', async () => {
      const secret = membersRoom('p', 'secretroom');
      const mine = membersRoom('p', 'myprivroom');
      const group = membersRoom('g', 'mygroup');
      const otherGroup = membersRoom('g', 'othergroup');
      const myDm = dmRoomName(reader.id, writer.id);
      const theirDm = dmRoomName(writer.id, stranger.id);
      await store.applyMembershipEvents([
        roomEvent(secret, '1-0', 'created', 'private', { title: 'Secret' }, owner),
        joined(secret, '1-1', owner, 'owner'),
        member(secret, '1-2', 'invited', writer, { role: 'member' }, owner),
        roomEvent(mine, '2-0', 'created', 'private', { title: 'Mine' }, owner),
        joined(mine, '2-1', owner, 'owner'),
        member(mine, '2-2', 'invited', reader, { role: 'member' }, owner),
        roomEvent(group, '3-0', 'created', 'group', {}, owner),
        joined(group, '3-1', owner, 'owner'),
        member(group, '3-2', 'invited', reader, { role: 'member' }, owner),
        roomEvent(otherGroup, '4-0', 'created', 'group', {}, owner),
        joined(otherGroup, '4-1', owner, 'owner'),
        joined('lobby', '5-0', reader),
        member('lobby', '5-1', 'banned', reader, { banned: true }, owner),
        // kicked from a public room: no role, not banned, so it is still readable
        joined('random', '6-0', reader),
        member('random', '6-1', 'kicked', reader, {}, owner),
      ]);
      const rooms = ['general', 'random', 'lobby', secret, mine, group, otherGroup, myDm, theirDm];
      await store.insertMessages(rooms.map((room, i) => say(room, `${100 + i}-0`, `treasure map ${i}`)));
      expect(await roomsOf('treasure')).toEqual(['general', 'random', mine, group, myDm].sort());
      // asking for one room does not open it
      for (const room of [secret, otherGroup, 'lobby', theirDm]) expect(await ids('treasure', { room }), room).toEqual([]);
      // someone else sees their own rooms, not the reader's
      expect(await roomsOf('treasure', { viewerId: stranger.id })).toEqual(['general', 'lobby', 'random', theirDm].sort());

      // the state NOW decides: unbanned → found again; left → no longer found, their own messages included
      await store.insertMessages([say(mine, '200-0', 'treasure of my own', reader)]);
      await store.applyMembershipEvents([
        member('lobby', '201-0', 'unbanned', reader, {}, owner),
        member(mine, '201-1', 'left', reader, {}),
        member(secret, '201-2', 'invited', reader, { role: 'member' }, owner),
      ]);
      expect(await roomsOf('treasure')).toEqual(['general', 'random', 'lobby', secret, group, myDm].sort());
    });

    it('filters by room, by author and by "before an id", together', async () => {
      await store.insertMessages([
        say('general', '10-0', 'lunch plans'),
        say('general', '11-0', 'lunch now', reader),
        say('random', '12-0', 'lunch later'),
        say('general', '13-0', 'lunch tomorrow'),
        say('general', '13-1', 'lunch after'),
      ]);
      expect((await ids('lunch', { room: 'general' })).sort()).toEqual(['10-0', '11-0', '13-0', '13-1']);
      expect((await ids('lunch', { fromUserId: reader.id })).sort()).toEqual(['11-0']);
      expect((await ids('lunch', { beforeId: '13-1' })).sort()).toEqual(['10-0', '11-0', '12-0', '13-0']);
      expect((await ids('lunch', { beforeId: '13-0', room: 'general', fromUserId: writer.id })).sort()).toEqual(['10-0']);
      expect(await ids('lunch', { fromUserId: 'u_nobody00' })).toEqual([]);
    });

    it('pages through a ranked list without repeating or skipping, and stops', async () => {
      const texts = (i: number) => (i % 3 === 0 ? 'page page page item' : i % 3 === 1 ? 'page item two words' : 'page item');
      await store.insertMessages(Array.from({ length: 25 }, (_, i) => say('general', `${1000 + i}-0`, `${texts(i)} ${i}`)));
      const all = await ids('page', { limit: 100 });
      expect(all).toHaveLength(25);
      const pages: string[] = [];
      for (let offset = 0; offset < 30; offset += 10) pages.push(...(await ids('page', { offset, limit: 10 })));
      expect(pages).toEqual(all);
      expect(await ids('page', { offset: 25, limit: 10 })).toEqual([]);
      // the same query again gives the same order
      expect(await ids('page', { limit: 100 })).toEqual(all);
    });
  });
}
