// The contract suite's account moderation part (store.contract.ts runs it for every
// implementation): an operator disabling a user (setUserDisabled) revokes every refresh-token
// family of theirs and hands back the ones it revoked; enabling lets a new login work again.
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RefreshTokenRecord, Store } from './store.js';

const hash = () => randomBytes(32).toString('hex');

export function accountsContract(getStore: () => Store): void {
  describe('disabling a user', () => {
    let store: Store;
    let NOW = Date.now();
    beforeEach(() => {
      store = getStore();
      NOW = Date.now();
    });
    const token = (userId: string, familyId: string, expiresAt = NOW + 60_000): RefreshTokenRecord => ({
      tokenHash: hash(),
      userId,
      familyId,
      expiresAt,
    });

    it('a new user is enabled; the flag is read back by id and by name, and an unknown id is not found', async () => {
      const u = await store.createUser({ username: 'dora', passwordHash: 'h' });
      expect(u.disabled).toBe(false);
      expect(await store.setUserDisabled('nobody000000', true)).toEqual({ found: false, families: [] });
      expect(await store.setUserDisabled('nobody000000', false)).toEqual({ found: false, families: [] });
      expect(await store.setUserDisabled(u.id, true)).toEqual({ found: true, families: [] });
      expect(await store.findUserById(u.id)).toEqual({ ...u, disabled: true });
      expect((await store.findUserByUsername('DORA'))?.disabled).toBe(true);
      expect(await store.setUserDisabled(u.id, false)).toEqual({ found: true, families: [] });
      expect(await store.findUserById(u.id)).toEqual(u);
    });

    it('revokes every family of the user and returns those it revoked; other users keep theirs', async () => {
      const eve = await store.createUser({ username: 'eve', passwordHash: 'h' });
      const fred = await store.createUser({ username: 'fred', passwordHash: 'h' });
      // fam-a: rotated once (a spent token and its live successor); fam-b: a second device;
      // fam-old: logged out before (already revoked: nothing left to end); fam-exp: expired.
      const a1 = token(eve.id, 'fam-a');
      const a2 = token(eve.id, 'fam-a');
      const b = token(eve.id, 'fam-b');
      const old = token(eve.id, 'fam-old');
      const exp = token(eve.id, 'fam-exp', NOW - 1);
      const other = token(fred.id, 'fam-fred');
      for (const t of [a1, a2, b, old, exp, other]) await store.saveRefreshToken(t);
      expect((await store.consumeRefreshToken(a1.tokenHash, NOW)).status).toBe('ok');
      await store.revokeRefreshFamily('fam-old');

      const r = await store.setUserDisabled(eve.id, true);
      expect(r.found).toBe(true);
      expect([...r.families].sort()).toEqual(['fam-a', 'fam-b', 'fam-exp']);
      // none of her refresh tokens is accepted any more, whatever state it was in
      for (const t of [a1, a2, b, old]) expect(await store.consumeRefreshToken(t.tokenHash, NOW)).toEqual({ status: 'revoked' });
      expect((await store.findUserById(eve.id))?.disabled).toBe(true);
      // fred is untouched
      expect((await store.findUserById(fred.id))?.disabled).toBe(false);
      expect((await store.consumeRefreshToken(other.tokenHash, NOW)).status).toBe('ok');
      // disabling again finds nothing left to revoke
      expect(await store.setUserDisabled(eve.id, true)).toEqual({ found: true, families: [] });
    });

    it('a rotation saved after its family was revoked (a race with a password change or a disable) is born revoked', async () => {
      const hal = await store.createUser({ username: 'hal', passwordHash: 'h' });
      const first = token(hal.id, 'fam-race');
      const other = token(hal.id, 'fam-other');
      await store.saveRefreshToken(first);
      await store.saveRefreshToken(other);
      expect((await store.consumeRefreshToken(first.tokenHash, NOW)).status).toBe('ok'); // the rotation began
      await store.revokeRefreshFamily('fam-race'); // the revocation lands in between
      const successor = token(hal.id, 'fam-race');
      await store.saveRefreshToken(successor); // the rotation's save
      expect(await store.consumeRefreshToken(successor.tokenHash, NOW)).toEqual({ status: 'revoked' });
      // another family of the same user is not touched
      const next = token(hal.id, 'fam-other');
      await store.saveRefreshToken(next);
      expect((await store.consumeRefreshToken(next.tokenHash, NOW)).status).toBe('ok');
    });

    it('enabling leaves old sessions ended and lets a new login session work', async () => {
      const gil = await store.createUser({ username: 'gil', passwordHash: 'h' });
      const before = token(gil.id, 'fam-before');
      await store.saveRefreshToken(before);
      expect((await store.setUserDisabled(gil.id, true)).families).toEqual(['fam-before']);
      expect(await store.setUserDisabled(gil.id, false)).toEqual({ found: true, families: [] });
      expect((await store.findUserById(gil.id))?.disabled).toBe(false);
      expect(await store.consumeRefreshToken(before.tokenHash, NOW)).toEqual({ status: 'revoked' });
      const after = token(gil.id, 'fam-after');
      await store.saveRefreshToken(after);
      expect(await store.consumeRefreshToken(after.tokenHash, NOW)).toEqual({ status: 'ok', record: after });
    });
  });
}
