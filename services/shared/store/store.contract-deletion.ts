// The contract suite's account-deletion part (store.ts "account deletion"), run against every
// Store implementation by store.test.ts (a fresh store per test): deleting an account tombstones
// it (deleted + disabled, no password, no display name or avatar), revokes every session and
// hands back the families and the avatar, drops the inbox, keeps the username taken and out of
// people search; and messagesOfUser lists exactly the user's messages not yet deleted.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { msg } from './store.contract.js';
import { ev } from './store.contract-events.js';
import type { ChatMessage } from '../message.js';
import { DuplicateUsernameError, type Store } from './store.js';

const hash = () => randomBytes(32).toString('hex');

export function deletionContract(name: string, factory: () => Promise<Store>, cleanup?: (store: Store) => Promise<void>): void {
  describe(`${name} store contract: account deletion`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });

    it('tombstones the account, revokes every session, returns the families and the avatar; a repeat ends nothing more', async () => {
      const ann = await store.createUser({ username: 'ann', passwordHash: 'ann-hash' });
      const bob = await store.createUser({ username: 'bob', passwordHash: 'bob-hash' });
      await store.setDisplayName(ann.id, 'Ann A.');
      await store.setAvatar(ann.id, `a${'1'.repeat(24)}`);
      const expiresAt = Date.now() + 60_000;
      const tokens = [
        { tokenHash: hash(), userId: ann.id, familyId: 'fam-phone', expiresAt },
        { tokenHash: hash(), userId: ann.id, familyId: 'fam-laptop', expiresAt },
        { tokenHash: hash(), userId: bob.id, familyId: 'fam-bob', expiresAt },
      ];
      for (const t of tokens) await store.saveRefreshToken(t);
      await store.insertNotifications([
        { userId: ann.id, kind: 'mention', room: 'lobby', sourceId: '10-0', actor: { id: bob.id, name: 'bob' }, text: 'hi @ann', ts: 10 },
        { userId: bob.id, kind: 'mention', room: 'lobby', sourceId: '11-0', actor: { id: ann.id, name: 'ann' }, text: 'hi @bob', ts: 11 },
      ]);

      expect(await store.deleteAccount('nobody000000')).toEqual({ found: false, families: [] });
      expect(await store.deleteAccount(ann.id)).toEqual({ found: true, families: ['fam-laptop', 'fam-phone'], avatar: `a${'1'.repeat(24)}` });

      const gone = await store.findUserById(ann.id);
      expect(gone).toEqual({ id: ann.id, username: 'ann', passwordHash: '', createdAt: ann.createdAt, disabled: true, dnd: false, deleted: true });
      expect((await store.findUserByUsername('ANN'))?.deleted).toBe(true);
      expect((await store.consumeRefreshToken(tokens[0]!.tokenHash, Date.now())).status).toBe('revoked');
      expect((await store.consumeRefreshToken(tokens[2]!.tokenHash, Date.now())).status).toBe('ok');
      expect(await store.notifications(ann.id, { limit: 10 })).toEqual([]);
      expect(await store.notifications(bob.id, { limit: 10 })).toHaveLength(1);

      // the username stays taken (old messages carry it) and the account is in no people search
      await expect(store.createUser({ username: 'Ann', passwordHash: 'x' })).rejects.toBeInstanceOf(DuplicateUsernameError);
      expect((await store.searchUsers('an', 10)).map((u) => u.username)).toEqual([]);
      expect((await store.searchUsers('', 10)).map((u) => u.username)).toEqual(['bob']);
      expect(await store.userProfiles([ann.id, bob.id])).toEqual(
        expect.arrayContaining([{ id: ann.id, username: 'ann', deleted: true }, { id: bob.id, username: 'bob' }]),
      );

      expect(await store.deleteAccount(ann.id)).toEqual({ found: true, families: [] });
      expect((await store.findUserById(ann.id))?.deleted).toBe(true);
    });

    it('messagesOfUser lists the user\'s messages and replies not deleted, bounded by limit', async () => {
      const mine = (m: ChatMessage, replyTo?: string): ChatMessage => ({ ...m, user: { id: 'u_leaving01', name: 'leaving' }, ...(replyTo && { replyTo }) });
      await store.insertMessages([
        mine(msg('lobby', '10-0')),
        msg('lobby', '11-0'), // someone else's
        mine(msg('lobby', '12-0'), '11-0'), // a reply in their thread
        mine(msg('p:team', '13-0')),
        mine(msg('lobby', '14-0')), // deleted below
      ]);
      await store.applyEvents([ev.del('lobby', '15-0', '14-0', undefined, { id: 'u_leaving01', name: 'leaving' })]);

      const listed = await store.messagesOfUser('u_leaving01', 10);
      const key = (r: { room: string; id: string }) => `${r.room} ${r.id}`;
      expect(listed.map(key).sort()).toEqual(['lobby 10-0', 'lobby 12-0', 'p:team 13-0']);
      expect(listed.find((r) => r.id === '12-0')).toEqual({ room: 'lobby', id: '12-0', replyTo: '11-0' });
      expect(listed.find((r) => r.id === '10-0')).toEqual({ room: 'lobby', id: '10-0' });
      expect(await store.messagesOfUser('u_leaving01', 2)).toHaveLength(2);
      expect(await store.messagesOfUser('u_leaving01', 0)).toEqual([]);
      expect(await store.messagesOfUser('u_nobody0001', 10)).toEqual([]);

      // deleted as account-purge.ts deletes them: each by a delete event named by its own id
      await store.applyEvents(listed.map((r) => ev.del(r.room, r.id, r.id, r.replyTo, { id: 'u_leaving01', name: 'leaving' })));
      expect(await store.messagesOfUser('u_leaving01', 10)).toEqual([]);
      expect((await store.getMessage('lobby', '10-0'))?.deleted).toBe(true);
      expect((await store.getMessage('lobby', '11-0'))?.deleted).toBeUndefined();
      expect((await store.getMessage('lobby', '11-0'))?.replyCount).toBeUndefined();
    });
  });
}
