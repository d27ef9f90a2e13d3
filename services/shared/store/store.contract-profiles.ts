// The contract suite's profiles part (issue 16; store.ts "profiles"), run against every Store
// implementation by store.test.ts (a fresh store per test): a password change stores the new
// hash and ends every other session of the user — their refresh-token families revoked and
// returned — while the caller's session and other users' sessions keep working; a display name
// is set and cleared, and shows (with the avatar) wherever users are listed.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { joined, member, membersRoom, roomEvent } from './store.contract-membership.js';
import type { RefreshTokenRecord, Store } from './store.js';

const hash = () => randomBytes(32).toString('hex');

export function profilesContract(name: string, factory: () => Promise<Store>, cleanup?: (store: Store) => Promise<void>): void {
  describe(`${name} store contract: profiles`, () => {
    let store: Store;
    let NOW = Date.now();
    beforeEach(async () => {
      store = await factory();
      NOW = Date.now();
    });
    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });
    const token = (userId: string, familyId: string, expiresAt = NOW + 60_000): RefreshTokenRecord => ({ tokenHash: hash(), userId, familyId, expiresAt });

    it('changePassword stores the hash and revokes every other family of the user, returning those it revoked', async () => {
      const ann = await store.createUser({ username: 'ann', passwordHash: 'old-hash' });
      const bob = await store.createUser({ username: 'bob', passwordHash: 'bob-hash' });
      // mine: the caller's session, rotated once; phone: another device, rotated once;
      // tablet: another; gone: logged out before (nothing left to end); bobs: another user's
      const mine1 = token(ann.id, 'fam-mine');
      const mine2 = token(ann.id, 'fam-mine');
      const phone1 = token(ann.id, 'fam-phone');
      const phone2 = token(ann.id, 'fam-phone');
      const tablet = token(ann.id, 'fam-tablet');
      const gone = token(ann.id, 'fam-gone');
      const bobs = token(bob.id, 'fam-bob');
      for (const t of [mine1, mine2, phone1, phone2, tablet, gone, bobs]) await store.saveRefreshToken(t);
      expect((await store.consumeRefreshToken(mine1.tokenHash, NOW)).status).toBe('ok');
      expect((await store.consumeRefreshToken(phone1.tokenHash, NOW)).status).toBe('ok');
      await store.revokeRefreshFamily('fam-gone');

      expect(await store.changePassword(ann.id, 'new-hash', 'fam-mine')).toEqual({ found: true, families: ['fam-phone', 'fam-tablet'] });

      expect(await store.findUserById(ann.id)).toEqual({ ...ann, passwordHash: 'new-hash' });
      expect((await store.findUserByUsername('ANN'))?.passwordHash).toBe('new-hash');
      for (const t of [phone2, tablet, gone]) expect(await store.consumeRefreshToken(t.tokenHash, NOW)).toEqual({ status: 'revoked' });
      // the caller's session goes on: its live token rotates
      expect(await store.consumeRefreshToken(mine2.tokenHash, NOW)).toEqual({ status: 'ok', record: mine2 });
      // bob is untouched
      expect(await store.findUserById(bob.id)).toEqual(bob);
      expect((await store.consumeRefreshToken(bobs.tokenHash, NOW)).status).toBe('ok');
      // a second change finds no other session left
      expect(await store.changePassword(ann.id, 'newer-hash', 'fam-mine')).toEqual({ found: true, families: [] });
      expect((await store.findUserById(ann.id))?.passwordHash).toBe('newer-hash');
    });

    it('without a session to keep every family goes; an unknown user changes nothing', async () => {
      const cy = await store.createUser({ username: 'cy', passwordHash: 'h1' });
      const a = token(cy.id, 'fam-a');
      const b = token(cy.id, 'fam-b');
      for (const t of [a, b]) await store.saveRefreshToken(t);
      expect(await store.changePassword('nobody000000', 'x', undefined)).toEqual({ found: false, families: [] });
      expect(await store.findUserByUsername('nobody000000')).toBeNull();
      expect(await store.changePassword(cy.id, 'h2', undefined)).toEqual({ found: true, families: ['fam-a', 'fam-b'] });
      for (const t of [a, b]) expect(await store.consumeRefreshToken(t.tokenHash, NOW)).toEqual({ status: 'revoked' });
      expect((await store.findUserById(cy.id))?.passwordHash).toBe('h2');
    });

    it('a display name is set and cleared, read back by id and name, and absent (never null) when not set', async () => {
      const dee = await store.createUser({ username: 'dee', passwordHash: 'h' });
      expect(await store.setDisplayName('nobody000000', 'Nobody')).toBeNull();
      const named = await store.setDisplayName(dee.id, 'Dee Dee ✨');
      expect(named).toStrictEqual({ ...dee, displayName: 'Dee Dee ✨' });
      expect(await store.findUserById(dee.id)).toStrictEqual(named);
      expect(await store.findUserByUsername('DEE')).toStrictEqual(named);
      expect(await store.setDisplayName(dee.id, 'Dee')).toMatchObject({ displayName: 'Dee' });
      const cleared = await store.setDisplayName(dee.id, null);
      expect(cleared).toStrictEqual(dee);
      expect(await store.findUserById(dee.id)).toStrictEqual(dee);
    });

    it('profiles by id, user search, member lists and group peers carry the display name when set', async () => {
      const eli = await store.createUser({ username: 'eli', passwordHash: 'h' });
      const fay = await store.createUser({ username: 'fay', passwordHash: 'h' });
      const gus = await store.createUser({ username: 'gus', passwordHash: 'h' });
      await store.setDisplayName(eli.id, 'Eli E.');
      expect(await store.userProfiles([])).toEqual([]);
      const profiles = await store.userProfiles([fay.id, eli.id, 'nobody000000', eli.id]);
      expect([...profiles].sort((a, b) => a.username.localeCompare(b.username))).toStrictEqual([
        { id: eli.id, username: 'eli', displayName: 'Eli E.' },
        { id: fay.id, username: 'fay' },
      ]);
      expect(await store.searchUsers('e', 10)).toStrictEqual([{ id: eli.id, username: 'eli', displayName: 'Eli E.' }]);
      expect(await store.searchUsers('', 10)).toStrictEqual([
        { id: eli.id, username: 'eli', displayName: 'Eli E.' },
        { id: fay.id, username: 'fay' },
        { id: gus.id, username: 'gus' },
      ]);

      const g = membersRoom('g', 'profiles');
      const p = (u: { id: string; username: string }) => ({ id: u.id, name: u.username });
      await store.applyMembershipEvents([
        roomEvent(g, '700-0', 'created', 'group', {}, p(gus)),
        joined(g, '700-1', p(gus)),
        member(g, '700-2', 'invited', p(eli), { role: 'member' }, p(gus)),
        member(g, '700-3', 'invited', p(fay), { role: 'member' }, p(gus)),
      ]);
      const members = await store.roomMembers(g, 10);
      expect(members.map((m) => [m.username, m.displayName])).toEqual([['eli', 'Eli E.'], ['fay', undefined], ['gus', undefined]]);
      expect(members.find((m) => m.id === fay.id)).not.toHaveProperty('displayName');
      const peers = (await store.myRooms(gus.id, 10)).find((r) => r.name === g)?.peers;
      expect(peers).toStrictEqual([{ id: eli.id, username: 'eli', displayName: 'Eli E.' }, { id: fay.id, username: 'fay' }]);
      // a change shows in the next read
      await store.setDisplayName(fay.id, 'Fay');
      expect((await store.roomMembers(g, 10)).find((m) => m.id === fay.id)?.displayName).toBe('Fay');
    });

    it('setAvatar replaces the avatar atomically and names the one it replaced; isAvatar knows only current ones', async () => {
      const hal = await store.createUser({ username: 'hal', passwordHash: 'h' });
      const ivy = await store.createUser({ username: 'ivy', passwordHash: 'h' });
      const A1 = `a${'1'.repeat(24)}`;
      const A2 = `a${'2'.repeat(24)}`;
      expect(await store.setAvatar('nobody000000', A1)).toBeNull();
      expect(await store.isAvatar(A1)).toBe(false);
      expect(await store.setAvatar(hal.id, A1)).toStrictEqual({ user: { ...hal, avatar: A1 } });
      expect(await store.isAvatar(A1)).toBe(true);
      expect(await store.setAvatar(hal.id, A2)).toStrictEqual({ user: { ...hal, avatar: A2 }, previous: A1 });
      expect(await store.isAvatar(A1)).toBe(false);
      expect(await store.isAvatar(A2)).toBe(true);
      expect(await store.findUserById(hal.id)).toStrictEqual({ ...hal, avatar: A2 });
      // shown with the display name wherever users are listed
      await store.setDisplayName(hal.id, 'Hal');
      expect(await store.userProfiles([hal.id, ivy.id])).toEqual(
        expect.arrayContaining([{ id: hal.id, username: 'hal', displayName: 'Hal', avatar: A2 }, { id: ivy.id, username: 'ivy' }]),
      );
      expect(await store.searchUsers('ha', 5)).toStrictEqual([{ id: hal.id, username: 'hal', displayName: 'Hal', avatar: A2 }]);
      // clearing
      expect(await store.setAvatar(hal.id, null)).toStrictEqual({ user: { ...hal, displayName: 'Hal' }, previous: A2 });
      expect(await store.isAvatar(A2)).toBe(false);
      expect(await store.setAvatar(hal.id, null)).toStrictEqual({ user: { ...hal, displayName: 'Hal' } });
    });
  });
}
