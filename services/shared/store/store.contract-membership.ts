// The contract suite's membership part, run against every Store implementation by store.test.ts
// (a fresh store per test): member and room events applied idempotently and in any order
// (membership.ts: each event carries the resulting state), member states, DMs and groups; the
// rooms of a user, the directory and the ACL snapshots are in store.contract-membership-rooms.ts,
// the events kept for history in store.contract-membership-history.ts.
// The expected states are written out by hand from the scripted history, never read back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../test/helpers/prng.js';
import type { MembershipEvent, MembershipLogEntry, Role, RoomChangeEvent } from '../membership.js';
import type { ChatMessage } from '../message.js';
import { dmRoomName, type RoomKind } from '../rooms.js';
import { msg } from './store.contract.js';
import { membershipHistoryContract } from './store.contract-membership-history.js';
import { membershipRoomsContract } from './store.contract-membership-rooms.js';
import type { MyRoom, RoomAclSnapshot, Store } from './store.js';

export type Person = { id: string; name: string };
export const person = (name: string): Person => ({ id: `u_${name}`, name });
export const alice = person('alice');
export const bob = person('bob');
export const carol = person('carol');
export const dave = person('dave');
export const erin = person('erin');
export const frank = person('frank');

/** A private/group room name: the prefix and 16 characters (rooms.ts). */
export const membersRoom = (kind: 'p' | 'g', tag: string) => `${kind}:${tag.padEnd(16, 'x').slice(0, 16)}`;
const ms = (id: string) => Number(id.split('-')[0]);

interface MemberState {
  role?: Role;
  banned?: true;
  mutedUntil?: number;
}
/** A member event: `state` is the member's state AFTER it (membership.ts). */
export function member(room: string, id: string, action: MembershipEvent['action'], who: Person, state: MemberState = {}, by: Person = who): MembershipEvent {
  return { kind: 'member', id, room, user: by, ts: ms(id), cid: `m${id.replace('-', '_')}`, action, member: who, ...state };
}
interface RoomState {
  title?: string;
  topic?: string;
  archived?: true;
}
export function roomEvent(room: string, id: string, action: RoomChangeEvent['action'], roomKind: RoomKind, state: RoomState = {}, by = alice): RoomChangeEvent {
  return { kind: 'room', id, room, user: by, ts: ms(id), cid: `r${id.replace('-', '_')}`, action, roomKind, ...state };
}
export const joined = (room: string, id: string, who: Person, role: Role = 'member') => member(room, id, 'joined', who, { role });

/**
 * A private room's life: created, invites, a promotion, a mute, a kick, a ban of a non-member, a
 * leave while muted, archive/unarchive, an ownership transfer, a rejoin, a ban of a member, an
 * unban. Ends with alice admin, bob owner, dave member (rejoined), carol muted outside, frank banned.
 */
function privateRoomHistory(room: string): MembershipLogEntry[] {
  return [
    roomEvent(room, '1000-0', 'created', 'private', { title: 'Plans', topic: 'first topic' }),
    joined(room, '1000-1', alice, 'owner'),
    member(room, '1001-0', 'invited', bob, { role: 'member' }, alice),
    member(room, '1001-1', 'invited', frank, { role: 'member' }, alice),
    member(room, '1002-0', 'invited', carol, { role: 'member' }, alice),
    member(room, '1003-0', 'invited', dave, { role: 'member' }, alice),
    member(room, '1004-0', 'role', bob, { role: 'admin' }, alice),
    member(room, '1005-0', 'muted', carol, { role: 'member', mutedUntil: 9_000_000 }, bob),
    roomEvent(room, '1006-0', 'topic', 'private', { title: 'Plans', topic: 'second topic' }),
    member(room, '1007-0', 'kicked', dave, {}, bob),
    member(room, '1008-0', 'banned', erin, { banned: true }, alice),
    member(room, '1009-0', 'left', carol, { mutedUntil: 9_000_000 }),
    roomEvent(room, '1010-0', 'archived', 'private', { title: 'Plans', topic: 'second topic', archived: true }),
    member(room, '1011-0', 'role', alice, { role: 'admin' }, alice),
    member(room, '1011-1', 'role', bob, { role: 'owner' }, alice),
    roomEvent(room, '1012-0', 'unarchived', 'private', { title: 'Plans', topic: 'second topic' }, bob),
    joined(room, '1013-0', dave),
    member(room, '1014-0', 'banned', frank, { banned: true }, bob),
    member(room, '1015-0', 'unbanned', erin, {}, bob),
  ];
}

const everyone = [alice, bob, carol, dave, erin, frank];

/** What the store says about one room, with its name replaced (so rooms of one history compare). */
async function roomState(store: Store, room: string): Promise<string> {
  const states = await Promise.all(everyone.map(async (p) => [p.id, await store.memberState(room, p.id)]));
  const mine = await Promise.all(everyone.map(async (p) => [p.id, (await store.myRooms(p.id, 100)).find((r) => r.name === room) ?? null]));
  const acl = (await store.roomAcls(undefined, 1000)).find((a) => a.room === room);
  const state = { meta: await store.roomMeta(room), members: await store.roomMembers(room, 50), states, mine, acl };
  return JSON.stringify(state).split(room).join('<room>');
}

function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function membershipContract(name: string, factory: () => Promise<Store>, cleanup?: (store: Store) => Promise<void>): void {
  describe(`${name} store contract: membership`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });

    describe('applying member and room events', () => {
      it('a private room after its history: meta, members in order, each user state, ACL snapshot', async () => {
        const room = membersRoom('p', 'history');
        expect(await store.roomMeta(room)).toBeNull();
        expect(await store.applyMembershipEvents(privateRoomHistory(room))).toEqual({ applied: 19, duplicates: 0, conflicts: [] });
        expect(await store.roomMeta(room)).toEqual({
          name: room,
          kind: 'private',
          title: 'Plans',
          topic: 'second topic',
          ownerId: bob.id,
          archived: false,
          memberCount: 3,
          lastMessageAt: null,
          messageCount: 0,
        });
        // owner, admins, members; since = the newest joined/invited (bob was only invited)
        expect(await store.roomMembers(room, 50)).toEqual([
          { id: bob.id, username: 'bob', role: 'owner', since: 1001 },
          { id: alice.id, username: 'alice', role: 'admin', since: 1000 },
          { id: dave.id, username: 'dave', role: 'member', since: 1013 },
        ]);
        expect(await store.roomMembers(room, 2)).toHaveLength(2);
        expect(await store.memberState(room, alice.id)).toEqual({ role: 'admin', banned: false });
        expect(await store.memberState(room, bob.id)).toEqual({ role: 'owner', banned: false });
        expect(await store.memberState(room, carol.id)).toEqual({ banned: false, mutedUntil: 9_000_000 });
        expect(await store.memberState(room, dave.id)).toEqual({ role: 'member', banned: false });
        expect(await store.memberState(room, erin.id)).toEqual({ banned: false });
        expect(await store.memberState(room, frank.id)).toEqual({ banned: true });
        expect(await store.memberState(room, 'u_nobody')).toEqual({ banned: false });
        expect(await store.roomAcls(undefined, 10)).toContainEqual({
          room,
          kind: 'private',
          title: 'Plans',
          topic: 'second topic',
          archived: false,
          members: [{ userId: alice.id, username: 'alice', role: 'admin' }, { userId: bob.id, username: 'bob', role: 'owner' }, { userId: dave.id, username: 'dave', role: 'member' }],
          banned: [frank.id],
          mutedNonMembers: [{ userId: carol.id, mutedUntil: 9_000_000 }],
        } satisfies RoomAclSnapshot);
      });

      it('is idempotent: a batch applied again counts duplicates and changes nothing; a mixed batch applies only the new', async () => {
        const room = membersRoom('p', 'idem');
        const history = privateRoomHistory(room);
        const first = history.slice(0, 10);
        expect(await store.applyMembershipEvents(first)).toEqual({ applied: 10, duplicates: 0, conflicts: [] });
        const before = await roomState(store, room);
        expect(await store.applyMembershipEvents(first)).toEqual({ applied: 0, duplicates: 10, conflicts: [] });
        expect(await roomState(store, room)).toBe(before);
        // the same event twice in one batch is applied once
        expect(await store.applyMembershipEvents([...history.slice(5, 12), history[11]!])).toEqual({ applied: 2, duplicates: 6, conflicts: [] });
        expect(await store.applyMembershipEvents(history)).toEqual({ applied: 7, duplicates: 12, conflicts: [] });
        expect(await store.applyMembershipEvents([])).toEqual({ applied: 0, duplicates: 0, conflicts: [] });
        expect((await store.roomMeta(room))?.memberCount).toBe(3);
      });

      it('any arrival order, in any batches, with redeliveries, leaves the same state as the log order', async () => {
        const reference = membersRoom('p', 'ordered');
        await store.applyMembershipEvents(privateRoomHistory(reference));
        const expected = await roomState(store, reference);
        const rand = mulberry32(14);
        for (let run = 0; run < 12; run++) {
          const room = membersRoom('p', `shuffled${run}`);
          const events = shuffled(privateRoomHistory(room), rand);
          let applied = 0;
          let duplicates = 0;
          for (let i = 0; i < events.length; ) {
            const size = 1 + Math.floor(rand() * 6);
            // some batches bring back entries of earlier ones (a claimed batch, a redelivery)
            const again = i > 0 && rand() < 0.4 ? events.slice(Math.floor(rand() * i), i) : [];
            const r = await store.applyMembershipEvents([...events.slice(i, i + size), ...again]);
            expect(r.conflicts).toEqual([]);
            applied += r.applied;
            duplicates += r.duplicates;
            i += size;
          }
          expect(applied).toBe(events.length);
          expect(await roomState(store, room), `run ${run}`).toBe(expected);
          expect(duplicates).toBeGreaterThanOrEqual(0);
        }
      });

      it('a DIFFERENT event under a stored (room, id) is a conflict: returned, nothing applied, never a duplicate', async () => {
        const room = membersRoom('p', 'conflict');
        const created = roomEvent(room, '2000-0', 'created', 'private', { title: 'T', topic: 'kept' });
        const aliceJoins = joined(room, '2000-1', alice, 'owner');
        await store.applyMembershipEvents([created, aliceJoins]);
        const before = await roomState(store, room);
        // another member under alice's event id, a room event under a member event's id, another author
        const otherMember = { ...aliceJoins, member: bob, cid: aliceJoins.cid };
        const roomUnderMemberId = roomEvent(room, '2000-1', 'topic', 'private', { title: 'T', topic: 'stolen' });
        const otherAuthor = { ...created, user: bob, topic: 'stolen' };
        expect(await store.applyMembershipEvents([otherMember, roomUnderMemberId, otherAuthor, aliceJoins])).toEqual({
          applied: 0,
          duplicates: 1,
          conflicts: [otherMember, roomUnderMemberId, otherAuthor],
        });
        expect(await roomState(store, room)).toBe(before);
        // two different events with one new id in one batch: the first is applied, the later one conflicts
        const carolJoins = joined(room, '2001-0', carol);
        const daveUnderSameId = joined(room, '2001-0', dave);
        expect(await store.applyMembershipEvents([carolJoins, daveUnderSameId])).toEqual({ applied: 1, duplicates: 0, conflicts: [daveUnderSameId] });
        expect((await store.roomMembers(room, 10)).map((m) => m.id)).toEqual([alice.id, carol.id]);
        // the same id in another room is another event
        expect((await store.applyMembershipEvents([{ ...daveUnderSameId, room: membersRoom('p', 'elsewhere') }])).applied).toBe(1);
      });
    });

    describe('member states', () => {
      const room = membersRoom('p', 'states');
      const base = () => [roomEvent(room, '100-0', 'created', 'private', { title: 'S' }), joined(room, '100-1', alice, 'owner'), joined(room, '101-0', bob)];

      it('ban, unban, mute and role changes: each event leaves exactly the state it carries', async () => {
        await store.applyMembershipEvents(base());
        await store.applyMembershipEvents([member(room, '102-0', 'muted', bob, { role: 'member', mutedUntil: 5_000 }, alice)]);
        expect(await store.memberState(room, bob.id)).toEqual({ role: 'member', banned: false, mutedUntil: 5_000 });
        expect(await store.roomMembers(room, 10)).toContainEqual({ id: bob.id, username: 'bob', role: 'member', mutedUntil: 5_000, since: 101 });
        await store.applyMembershipEvents([member(room, '103-0', 'role', bob, { role: 'admin', mutedUntil: 5_000 }, alice)]);
        expect(await store.memberState(room, bob.id)).toEqual({ role: 'admin', banned: false, mutedUntil: 5_000 });
        await store.applyMembershipEvents([member(room, '104-0', 'unmuted', bob, { role: 'admin' }, alice)]);
        expect(await store.memberState(room, bob.id)).toEqual({ role: 'admin', banned: false });
        await store.applyMembershipEvents([member(room, '105-0', 'banned', bob, { banned: true }, alice)]);
        expect(await store.memberState(room, bob.id)).toEqual({ banned: true });
        expect((await store.roomMeta(room))?.memberCount).toBe(1);
        expect(await store.myRooms(bob.id, 10)).toEqual([]);
        await store.applyMembershipEvents([member(room, '106-0', 'unbanned', bob, {}, alice)]);
        expect(await store.memberState(room, bob.id)).toEqual({ banned: false });
        expect((await store.roomAcls(undefined, 10)).find((a) => a.room === room)).toMatchObject({ members: [{ userId: alice.id, role: 'owner' }], banned: [] });
      });

      it('ownership transfer moves ownerId; a kicked member is not a member, and an older event arriving late changes nothing', async () => {
        await store.applyMembershipEvents(base());
        expect((await store.roomMeta(room))?.ownerId).toBe(alice.id);
        await store.applyMembershipEvents([member(room, '110-1', 'role', bob, { role: 'owner' }, alice), member(room, '110-0', 'role', alice, { role: 'admin' }, alice)]);
        expect((await store.roomMeta(room))?.ownerId).toBe(bob.id);
        expect((await store.roomMembers(room, 10)).map((m) => [m.username, m.role])).toEqual([['bob', 'owner'], ['alice', 'admin']]);
        await store.applyMembershipEvents([member(room, '111-0', 'kicked', alice, {}, bob)]);
        expect(await store.memberState(room, alice.id)).toEqual({ banned: false });
        // a mute of alice from before the kick, delivered late: she stays out
        await store.applyMembershipEvents([member(room, '105-0', 'muted', alice, { role: 'owner', mutedUntil: 7_000 }, alice)]);
        expect(await store.memberState(room, alice.id)).toEqual({ banned: false });
        expect(await store.roomMeta(room)).toMatchObject({ ownerId: bob.id, memberCount: 1 });
      });

      it('leave and rejoin: out of the member list and my rooms in between, since is the rejoin', async () => {
        await store.applyMembershipEvents(base());
        expect((await store.myRooms(bob.id, 10)).map((r) => r.name)).toEqual([room]);
        await store.applyMembershipEvents([member(room, '120-0', 'left', bob)]);
        expect(await store.myRooms(bob.id, 10)).toEqual([]);
        expect((await store.roomMembers(room, 10)).map((m) => m.id)).toEqual([alice.id]);
        expect((await store.roomMeta(room))?.memberCount).toBe(1);
        await store.applyMembershipEvents([member(room, '130-0', 'joined', bob, { role: 'member' })]);
        expect(await store.roomMembers(room, 10)).toContainEqual({ id: bob.id, username: 'bob', role: 'member', since: 130 });
        expect(await store.myRooms(bob.id, 10)).toMatchObject([{ name: room, role: 'member', memberCount: 2 }]);
      });

      it('member events make a room known without messages; room events set kind, title, topic and archived', async () => {
        const pub = 'townhall';
        expect(await store.roomMeta(pub)).toBeNull();
        await store.applyMembershipEvents([joined(pub, '300-0', carol)]);
        expect(await store.roomMeta(pub)).toEqual({ name: pub, kind: 'public', topic: '', archived: false, memberCount: 1, lastMessageAt: null, messageCount: 0 });
        expect(await store.getRoom(pub)).toEqual({ name: pub, lastMessageAt: null, messageCount: 0 });
        // the newest of created/topic sets the topic; archived/unarchived the flag; in any order
        await store.applyMembershipEvents([
          roomEvent(pub, '320-0', 'archived', 'public', { topic: 'ignored: not a topic event', archived: true }, carol),
          roomEvent(pub, '310-0', 'topic', 'public', { topic: 'newest topic' }, carol),
          roomEvent(pub, '299-0', 'created', 'public', { topic: 'first' }, carol),
          roomEvent(pub, '315-0', 'unarchived', 'public', { topic: 'newest topic' }, carol),
        ]);
        expect(await store.roomMeta(pub)).toMatchObject({ kind: 'public', topic: 'newest topic', archived: true, memberCount: 1 });
      });
    });

    describe('DMs and groups', () => {
      it('a DM: its two users are members by name; listed in my rooms once a message is stored, with the peer', async () => {
        const ann = await store.createUser({ username: 'ann', passwordHash: 'h' });
        const ben = await store.createUser({ username: 'ben', passwordHash: 'h' });
        const dm = dmRoomName(ann.id, ben.id);
        expect(await store.memberState(dm, ann.id)).toEqual({ role: 'member', banned: false });
        expect(await store.memberState(dm, ben.id)).toEqual({ role: 'member', banned: false });
        expect(await store.memberState(dm, 'u_carol')).toEqual({ banned: false });
        expect(await store.myRooms(ann.id, 10)).toEqual([]);
        const first: ChatMessage = { ...msg(dm, '500-0', 'hi ben'), user: { id: ann.id, name: 'ann' } };
        const second: ChatMessage = { ...msg(dm, '600-0', 'hi ann'), user: { id: ben.id, name: 'ben' } };
        await store.insertMessages([second, first]);
        const expected = (peer: { id: string; username: string }): MyRoom => ({
          name: dm,
          kind: 'dm',
          topic: '',
          archived: false,
          memberCount: 2,
          lastMessageAt: 600,
          messageCount: 2,
          role: 'member',
          // messages stored without a seq (sent before counters) count nothing
          lastSeq: 0,
          readSeq: 0,
          unread: 0,
          mentions: 0,
          muted: false,
          peers: [peer],
          lastMessage: { id: '600-0', user: { id: ben.id, name: 'ben' }, text: 'hi ann', ts: 600 },
        });
        expect(await store.myRooms(ann.id, 10)).toEqual([expected({ id: ben.id, username: 'ben' })]);
        expect(await store.myRooms(ben.id, 10)).toEqual([expected({ id: ann.id, username: 'ann' })]);
        expect(await store.myRooms('u_carol', 10)).toEqual([]);
        expect(await store.roomMembers(dm, 10)).toEqual([
          { id: ann.id, username: 'ann', role: 'member', since: 500 },
          { id: ben.id, username: 'ben', role: 'member', since: 500 },
        ]);
        expect(await store.roomMeta(dm)).toMatchObject({ kind: 'dm', memberCount: 2 });
        // DMs are no room's ACL: authorised by name
        expect((await store.roomAcls(undefined, 100)).map((a) => a.room)).not.toContain(dm);
      });

      it("a group's peers are its other members, by name, and follow joins and leaves", async () => {
        const g = membersRoom('g', 'friends');
        await store.applyMembershipEvents([
          roomEvent(g, '700-0', 'created', 'group'),
          joined(g, '700-1', dave),
          member(g, '700-2', 'invited', alice, { role: 'member' }, dave),
          member(g, '700-3', 'invited', carol, { role: 'member' }, dave),
          member(g, '700-4', 'invited', bob, { role: 'member' }, dave),
        ]);
        const mine = async (p: Person) => (await store.myRooms(p.id, 10)).find((r) => r.name === g);
        expect(await mine(alice)).toMatchObject({
          kind: 'group',
          memberCount: 4,
          role: 'member',
          peers: [{ id: bob.id, username: 'bob' }, { id: carol.id, username: 'carol' }, { id: dave.id, username: 'dave' }],
        });
        expect((await mine(alice))?.ownerId).toBeUndefined();
        await store.applyMembershipEvents([member(g, '710-0', 'left', carol)]);
        expect((await mine(dave))?.peers).toEqual([{ id: alice.id, username: 'alice' }, { id: bob.id, username: 'bob' }]);
        expect(await mine(carol)).toBeUndefined();
        expect(await store.roomAcls(undefined, 100)).toContainEqual(expect.objectContaining({ room: g, kind: 'group' }));
      });
    });

    membershipRoomsContract(name, () => store);
    membershipHistoryContract(name, () => store);
  });
}

