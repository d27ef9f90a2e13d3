// The contract suite's membership part, continued (store.contract-membership.ts runs it inside
// its lifecycle): the rooms a user is in ("my rooms": order, preview, archived flag, a user in 500
// rooms), the room list that must not show private rooms or groups, the public directory, and
// the ACL snapshots the Redis rebuild pages through.
import { beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../message.js';
import type { MembershipLogEntry } from '../membership.js';
import { dmRoomName } from '../rooms.js';
import { msg } from './store.contract.js';
import { ev, reply } from './store.contract-events.js';
import { alice, bob, carol, dave, erin, frank, joined, member, membersRoom, person, roomEvent, type Person } from './store.contract-membership.js';
import type { RoomAclSnapshot, Store } from './store.js';

export function membershipRoomsContract(name: string, getStore: () => Store): void {
  describe('rooms of a user, the directory and ACL snapshots', () => {
    let store: Store;
    beforeEach(() => {
      store = getStore();
    });

  describe('my rooms', () => {
    it('newest activity first (last message, else since), with the newest top-level message as preview and archived rooms flagged', async () => {
      const priv = membersRoom('p', 'quiet');
      const group = membersRoom('g', 'busy');
      const dm = dmRoomName(alice.id, bob.id);
      const old = membersRoom('p', 'archive');
      await store.applyMembershipEvents([
        joined('alpha', '100-0', alice),
        roomEvent(priv, '200-0', 'created', 'private', { title: 'Quiet' }),
        joined(priv, '200-1', alice, 'owner'),
        roomEvent(group, '300-0', 'created', 'group'),
        joined(group, '300-1', alice),
        joined(group, '300-2', carol),
        joined('beta', '7000-0', alice),
        roomEvent(old, '149-0', 'created', 'private', { title: 'Old' }),
        joined(old, '150-0', alice, 'owner'),
        roomEvent(old, '160-0', 'archived', 'private', { title: 'Old', archived: true }),
        joined('gamma', '100-1', bob), // not alice's
      ]);
      const long = `${'é'.repeat(100)}${'😀'.repeat(60)}`;
      await store.insertMessages([msg('alpha', '5000-0', long), msg('alpha', '4990-0', 'older'), msg(group, '4000-0', 'in the group')]);
      await store.insertMessages([{ ...msg(dm, '6000-0', 'dm text'), user: { id: bob.id, name: 'bob' } }, msg('gamma', '9000-0')]);
      // a reply is activity but not the preview; an older top-level message arriving late is neither
      await store.insertMessages([reply('alpha', '5100-0', '5000-0', 'a reply'), msg('alpha', '4000-5', 'late and old')]);

      const rooms = await store.myRooms(alice.id, 50);
      expect(rooms.map((r) => r.name)).toEqual(['beta', dm, 'alpha', group, priv, old]);
      const alpha = rooms.find((r) => r.name === 'alpha')!;
      expect(alpha).toEqual({
        name: 'alpha',
        kind: 'public',
        topic: '',
        archived: false,
        memberCount: 1,
        lastMessageAt: 5100,
        messageCount: 4,
        role: 'member',
        lastSeq: 0,
        readSeq: 0,
        unread: 0,
        mentions: 0,
        muted: false,
        lastMessage: { id: '5000-0', user: { id: 'u_sender01', name: 'sender' }, text: `${'é'.repeat(100)}${'😀'.repeat(40)}`, ts: 5000 },
      });
      expect(rooms.find((r) => r.name === priv)).toEqual({
        name: priv,
        kind: 'private',
        title: 'Quiet',
        topic: '',
        ownerId: alice.id,
        archived: false,
        memberCount: 1,
        lastMessageAt: null,
        messageCount: 0,
        role: 'owner',
        lastSeq: 0,
        readSeq: 0,
        unread: 0,
        mentions: 0,
        muted: false,
      });
      expect(rooms.find((r) => r.name === old)).toMatchObject({ archived: true, title: 'Old', role: 'owner' });
      expect(rooms.find((r) => r.name === group)).toMatchObject({ peers: [{ id: carol.id, username: 'carol' }], lastMessage: { text: 'in the group' } });
      expect(await store.myRooms(alice.id, 2)).toEqual(rooms.slice(0, 2));
      expect(await store.myRooms(alice.id, 0)).toEqual([]);

      // the preview shows the message's current state
      await store.applyEvents([ev.edit('alpha', '5200-0', '5000-0', 'edited preview')]);
      expect((await store.myRooms(alice.id, 50)).find((r) => r.name === 'alpha')?.lastMessage?.text).toBe('edited preview');
      await store.applyEvents([ev.del('alpha', '5300-0', '5000-0')]);
      expect((await store.myRooms(alice.id, 50)).find((r) => r.name === 'alpha')?.lastMessage).toMatchObject({ id: '5000-0', text: '' });
    });

    it('answers for a user in 500 rooms, every one of them, newest first', async () => {
      const events: MembershipLogEntry[] = [];
      const messages: ChatMessage[] = [];
      for (let i = 0; i < 500; i++) {
        const room = `room-${String(i).padStart(3, '0')}`;
        events.push(joined(room, `${1000 + i}-0`, alice));
        for (let j = 0; j < 10; j++) events.push(joined(room, `${1000 + i}-${j + 1}`, person(`m${j}`)));
        if (i % 2 === 0) messages.push(msg(room, `${100_000 + ((i * 7919) % 500)}-0`));
      }
      for (let i = 0; i < events.length; i += 1000) await store.applyMembershipEvents(events.slice(i, i + 1000));
      await store.insertMessages(messages);
      const started = performance.now();
      const rooms = await store.myRooms(alice.id, 500);
      const took = performance.now() - started;
      process.stdout.write(`[store bench] ${name} myRooms for a user in 500 rooms: ${took.toFixed(1)} ms\n`);
      expect(rooms).toHaveLength(500);
      const activity = rooms.map((r) => r.lastMessageAt ?? 0);
      expect(activity.slice(0, 250).every((a) => a >= 100_000)).toBe(true);
      expect([...activity].sort((a, b) => b - a)).toEqual(activity);
      expect(rooms.every((r) => r.memberCount === 11)).toBe(true);
      // the rooms without messages by since (their join), newest first
      const quiet = Array.from({ length: 250 }, (_, k) => `room-${String(499 - 2 * k).padStart(3, '0')}`);
      expect(rooms.slice(250).map((r) => r.name)).toEqual(quiet);
      expect(took).toBeLessThan(2000);
    }, 60_000);
  });

  describe('directory, room list and ACL snapshots', () => {
    async function seedRooms(): Promise<{ priv: string; group: string; dm: string }> {
      const priv = membersRoom('p', 'secret');
      const group = membersRoom('g', 'trio');
      const dm = dmRoomName(alice.id, bob.id);
      const members = (room: string, people: Person[], at: number) => people.map((p, i) => joined(room, `${at}-${i}`, p));
      await store.applyMembershipEvents([
        ...members('alpha', [alice, bob, carol], 100),
        ...members('gamma', [alice, bob, carol], 110),
        ...members('beta', [dave], 120),
        ...members('old-news', [alice, bob, carol, dave, erin], 130),
        roomEvent('old-news', '140-0', 'archived', 'public', { archived: true }),
        roomEvent(priv, '150-0', 'created', 'private', { title: 'Secret', topic: 'shh' }),
        ...members(priv, [alice, bob, carol, dave, erin], 151),
        member(priv, '160-0', 'banned', frank, { banned: true }, alice),
        member(priv, '161-0', 'muted', erin, { role: 'member', mutedUntil: 50_000 }, alice),
        member(priv, '162-0', 'muted', dave, { role: 'member', mutedUntil: 60_000 }, alice),
        member(priv, '163-0', 'left', dave, { mutedUntil: 60_000 }),
        roomEvent(group, '170-0', 'created', 'group'),
        ...members(group, [alice, bob, carol], 171),
      ]);
      await store.insertMessages([msg('delta', '200-0'), msg(priv, '201-0'), msg(group, '202-0'), msg(dm, '203-0')]);
      return { priv, group, dm };
    }

    it('listRooms lists public rooms and the caller\'s DMs, never private rooms or groups', async () => {
      const { dm } = await seedRooms();
      const names = (await store.listRooms(alice.id, 50)).map((r) => r.name);
      expect(names).toEqual([dm, 'delta', 'alpha', 'beta', 'gamma', 'general', 'old-news']);
      expect((await store.listRooms(carol.id, 50)).map((r) => r.name)).toEqual(['delta', 'alpha', 'beta', 'gamma', 'general', 'old-news']);
    });

    it('publicRooms: public, not archived, name containing the query, most members first then by name', async () => {
      await seedRooms();
      const directory = await store.publicRooms('', 50);
      expect(directory.map((r) => [r.name, r.memberCount])).toEqual([['alpha', 3], ['gamma', 3], ['beta', 1], ['delta', 0], ['general', 0]]);
      expect(directory[0]).toEqual({ name: 'alpha', kind: 'public', topic: '', archived: false, memberCount: 3, lastMessageAt: null, messageCount: 0 });
      expect((await store.publicRooms('mm', 50)).map((r) => r.name)).toEqual(['gamma']);
      expect((await store.publicRooms('e', 50)).map((r) => r.name)).toEqual(['beta', 'delta', 'general']);
      expect((await store.publicRooms('', 2)).map((r) => r.name)).toEqual(['alpha', 'gamma']);
      expect(await store.publicRooms('%', 50)).toEqual([]); // the query is text, not a pattern
      expect(await store.publicRooms('news', 50)).toEqual([]); // archived
      expect(await store.publicRooms('secret', 50)).toEqual([]);
      expect(await store.publicRooms('', 0)).toEqual([]);
    });

    it('roomAcls pages through every public, private and group room by name (no DMs) with members, bans and mutes', async () => {
      const { priv, group } = await seedRooms();
      const seen: RoomAclSnapshot[] = [];
      let after: string | undefined;
      for (let page = 0; page < 20; page++) {
        const got = await store.roomAcls(after, 2);
        expect(got.length).toBeLessThanOrEqual(2);
        if (got.length === 0) break;
        seen.push(...got);
        after = got[got.length - 1]!.room;
      }
      const expectedNames = ['alpha', 'beta', 'delta', 'gamma', 'general', 'old-news', priv, group].sort();
      expect(seen.map((s) => s.room)).toEqual(expectedNames);
      expect(seen.find((s) => s.room === priv)).toEqual({
        room: priv,
        kind: 'private',
        title: 'Secret',
        topic: 'shh',
        archived: false,
        members: [
          { userId: alice.id, username: 'alice', role: 'member' },
          { userId: bob.id, username: 'bob', role: 'member' },
          { userId: carol.id, username: 'carol', role: 'member' },
          { userId: erin.id, username: 'erin', role: 'member', mutedUntil: 50_000 },
        ],
        banned: [frank.id],
        mutedNonMembers: [{ userId: dave.id, mutedUntil: 60_000 }],
      });
      expect(seen.find((s) => s.room === 'old-news')).toMatchObject({ kind: 'public', archived: true });
      expect(seen.find((s) => s.room === 'delta')).toEqual({ room: 'delta', kind: 'public', topic: '', archived: false, members: [], banned: [], mutedNonMembers: [] });
      expect(seen.find((s) => s.room === group)?.members.map((m) => m.userId)).toEqual([alice.id, bob.id, carol.id]);
      expect(await store.roomAcls(expectedNames[expectedNames.length - 1], 10)).toEqual([]);
      expect(await store.roomAcls(undefined, 0)).toEqual([]);
    });
  });  });
}
