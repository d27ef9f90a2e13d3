// One behaviour suite for every Store implementation (store.ts lists the guarantees). Each
// implementation's test file calls storeContract with a factory that opens a store on a fresh,
// empty database and a cleanup that throws it away. Room events (edits, deletes, reactions,
// threads) have their part in store.contract-events.ts, disabling accounts in
// store.contract-accounts.ts.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../message.js';
import { compareIds } from '../ids.js';
import { dmRoomName } from '../rooms.js';
import { DuplicateUsernameError, type RefreshTokenRecord, type Store } from './store.js';
import { accountsContract } from './store.contract-accounts.js';
import { eventsContract } from './store.contract-events.js';

export function msg(room: string, id: string, text = `text ${id}`): ChatMessage {
  const ms = Number(id.split('-')[0]);
  return { id, room, user: { id: 'u_sender01', name: 'sender' }, text, ts: ms, cid: `c${id.replace('-', '_')}` };
}

const hash = () => randomBytes(32).toString('hex');

export function storeContract(
  name: string,
  factory: () => Promise<Store>,
  cleanup?: (store: Store) => Promise<void>,
): void {
  describe(`${name} store contract`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });

    describe('users', () => {
      it('creates a user with a 12-character url-safe id and finds it by id and by name', async () => {
        const u = await store.createUser({ username: 'Alice', passwordHash: 'h1' });
        expect(u.id).toMatch(/^[A-Za-z0-9_-]{12}$/);
        expect(u.username).toBe('Alice');
        expect(u.passwordHash).toBe('h1');
        expect(typeof u.createdAt).toBe('number');
        expect(await store.findUserById(u.id)).toEqual(u);
        expect(await store.findUserByUsername('Alice')).toEqual(u);
      });

      it('gives every user a different id', async () => {
        const ids = new Set<string>();
        for (let i = 0; i < 20; i++) ids.add((await store.createUser({ username: `user${i}`, passwordHash: 'h' })).id);
        expect(ids.size).toBe(20);
      });

      it('looks usernames up case-insensitively and keeps the spelling they were registered with', async () => {
        const u = await store.createUser({ username: 'BoB', passwordHash: 'h' });
        expect((await store.findUserByUsername('bob'))?.id).toBe(u.id);
        expect((await store.findUserByUsername('BOB'))?.username).toBe('BoB');
      });

      it('refuses a username that differs only in case with DuplicateUsernameError', async () => {
        await store.createUser({ username: 'carol', passwordHash: 'h' });
        await expect(store.createUser({ username: 'CAROL', passwordHash: 'h2' })).rejects.toBeInstanceOf(
          DuplicateUsernameError,
        );
        await expect(store.createUser({ username: 'carol', passwordHash: 'h2' })).rejects.toBeInstanceOf(
          DuplicateUsernameError,
        );
        expect((await store.findUserByUsername('carol'))?.passwordHash).toBe('h');
      });

      it('returns null for unknown users', async () => {
        expect(await store.findUserById('nobody000000')).toBeNull();
        expect(await store.findUserByUsername('nobody')).toBeNull();
      });

      it('searches users case-insensitively, ordered by username, limited', async () => {
        for (const n of ['dave', 'Daisy', 'dan', 'erin', 'd_x', 'd.y', 'dzz']) await store.createUser({ username: n, passwordHash: 'h' });
        const found = await store.searchUsers('DA', 10);
        expect(found.map((u) => u.username)).toEqual(['Daisy', 'dan', 'dave']);
        expect(Object.keys(found[0]!).sort()).toEqual(['id', 'username']);
        expect((await store.searchUsers('da', 2)).map((u) => u.username)).toEqual(['Daisy', 'dan']);
        // `_` and `%` are literal characters in a prefix, not wildcards
        expect((await store.searchUsers('d_', 10)).map((u) => u.username)).toEqual(['d_x']);
        expect(await store.searchUsers('d%', 10)).toEqual([]);
        expect((await store.searchUsers('D.', 10)).map((u) => u.username)).toEqual(['d.y']);
        expect((await store.searchUsers('', 3)).map((u) => u.username)).toEqual(['d.y', 'd_x', 'Daisy']);
        expect((await store.searchUsers('zz', 10)).map((u) => u.username)).toEqual(['dzz']);
        expect(await store.searchUsers('qq', 10)).toEqual([]);
      });

      it('finds users whose name contains the query anywhere, names that start with it first', async () => {
        for (const n of ['carol', 'Robin', 'aron', 'rob', 'bro', 'x_ro', 'erin']) await store.createUser({ username: n, passwordHash: 'h' });
        // prefix matches by name, then the others by name; each user once
        expect((await store.searchUsers('RO', 10)).map((u) => u.username)).toEqual(['rob', 'Robin', 'aron', 'bro', 'carol', 'x_ro']);
        expect((await store.searchUsers('ro', 3)).map((u) => u.username)).toEqual(['rob', 'Robin', 'aron']);
        expect((await store.searchUsers('ro', 1)).map((u) => u.username)).toEqual(['rob']);
        expect((await store.searchUsers('rol', 10)).map((u) => u.username)).toEqual(['carol']);
        expect((await store.searchUsers('carol', 10)).map((u) => u.username)).toEqual(['carol']);
        // `%` and `_` stay literal inside a name as well as at its start
        expect((await store.searchUsers('_r', 10)).map((u) => u.username)).toEqual(['x_ro']);
        expect(await store.searchUsers('o_', 10)).toEqual([]);
        expect(await store.searchUsers('%r', 10)).toEqual([]);
        expect(await store.searchUsers('ro', 0)).toEqual([]);
      });
    });

    describe('refresh tokens', () => {
      // real time: a store may delete tokens some time after expiry (Mongo's TTL index)
      let NOW = Date.now();
      let userId: string;
      beforeEach(async () => {
        NOW = Date.now();
        userId = (await store.createUser({ username: 'tokenuser', passwordHash: 'h' })).id;
      });
      const token = (over: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
        tokenHash: hash(),
        userId,
        familyId: `fam-${hash().slice(0, 8)}`,
        expiresAt: NOW + 60_000,
        ...over,
      });

      it('consumes a live token once (ok), then reports it as reused with its record', async () => {
        const t = token();
        await store.saveRefreshToken(t);
        expect(await store.consumeRefreshToken(t.tokenHash, NOW)).toEqual({ status: 'ok', record: t });
        expect(await store.consumeRefreshToken(t.tokenHash, NOW + 1)).toEqual({ status: 'reused', record: t, usedAt: NOW });
      });

      it('reports when a reused token was spent (the `now` of the consume that spent it), unchanged by later reuse', async () => {
        const t = token();
        await store.saveRefreshToken(t);
        expect((await store.consumeRefreshToken(t.tokenHash, NOW - 5000)).status).toBe('ok');
        expect(await store.consumeRefreshToken(t.tokenHash, NOW)).toEqual({ status: 'reused', record: t, usedAt: NOW - 5000 });
        expect(await store.consumeRefreshToken(t.tokenHash, NOW + 1000)).toEqual({ status: 'reused', record: t, usedAt: NOW - 5000 });
      });

      it('reports an expired token as expired', async () => {
        const t = token({ expiresAt: NOW - 1 });
        await store.saveRefreshToken(t);
        expect(await store.consumeRefreshToken(t.tokenHash, NOW)).toEqual({ status: 'expired' });
        const u = token({ expiresAt: NOW });
        await store.saveRefreshToken(u);
        expect(await store.consumeRefreshToken(u.tokenHash, NOW)).toEqual({ status: 'expired' });
      });

      it('reports an unknown token as unknown', async () => {
        expect(await store.consumeRefreshToken(hash(), NOW)).toEqual({ status: 'unknown' });
        expect(await store.refreshTokenFamily(hash())).toBeNull();
      });

      it('revoking a family revokes every token in it and no other', async () => {
        const a = token({ familyId: 'fam-a' });
        const b = token({ familyId: 'fam-a' });
        const c = token({ familyId: 'fam-c' });
        for (const t of [a, b, c]) await store.saveRefreshToken(t);
        expect((await store.consumeRefreshToken(a.tokenHash, NOW)).status).toBe('ok');
        await store.revokeRefreshFamily('fam-a');
        expect(await store.consumeRefreshToken(a.tokenHash, NOW)).toEqual({ status: 'revoked' });
        expect(await store.consumeRefreshToken(b.tokenHash, NOW)).toEqual({ status: 'revoked' });
        expect((await store.consumeRefreshToken(c.tokenHash, NOW)).status).toBe('ok');
      });

      it('tells the family of a token whatever its state', async () => {
        const t = token({ familyId: 'fam-z' });
        await store.saveRefreshToken(t);
        expect(await store.refreshTokenFamily(t.tokenHash)).toBe('fam-z');
        await store.consumeRefreshToken(t.tokenHash, NOW);
        await store.revokeRefreshFamily('fam-z');
        expect(await store.refreshTokenFamily(t.tokenHash)).toBe('fam-z');
      });

      it('of concurrent consumes of one live token exactly one is ok and the rest see reused', async () => {
        const t = token();
        await store.saveRefreshToken(t);
        const results = await Promise.all(Array.from({ length: 8 }, () => store.consumeRefreshToken(t.tokenHash, NOW)));
        expect(results.filter((r) => r.status === 'ok')).toHaveLength(1);
        expect(results.filter((r) => r.status === 'reused')).toHaveLength(7);
        for (const r of results) if (r.status === 'reused') expect(r.usedAt).toBe(NOW);
      });
    });

    accountsContract(() => store);

    describe('messages', () => {
      it('stores a batch, and re-inserting it (redelivery) changes nothing', async () => {
        const batch = [msg('lobby', '1000-0'), msg('lobby', '1000-1'), msg('other', '1001-0')];
        expect(await store.insertMessages(batch)).toEqual({ inserted: 3, duplicates: 0, conflicts: [] });
        expect(await store.insertMessages(batch)).toEqual({ inserted: 0, duplicates: 3, conflicts: [] });
        expect(await store.getRoom('lobby')).toEqual({ name: 'lobby', lastMessageAt: 1000, messageCount: 2 });
        expect(await store.getRoom('other')).toEqual({ name: 'other', lastMessageAt: 1001, messageCount: 1 });
        expect(await store.messagesBefore('lobby', undefined, 10)).toEqual(batch.slice(0, 2));
      });

      it('a batch mixing new and already-stored messages inserts only the new ones and counts them once', async () => {
        await store.insertMessages([msg('lobby', '1000-0'), msg('lobby', '1000-1')]);
        const replayed = { ...msg('lobby', '1000-0'), text: 'a different text must not overwrite' };
        const result = await store.insertMessages([replayed, msg('lobby', '1000-2'), msg('lobby', '2000-0'), msg('lobby', '1000-1')]);
        expect(result).toEqual({ inserted: 2, duplicates: 2, conflicts: [] });
        expect(await store.getRoom('lobby')).toEqual({ name: 'lobby', lastMessageAt: 2000, messageCount: 4 });
        const all = await store.messagesBefore('lobby', undefined, 10);
        expect(all.map((m) => m.id)).toEqual(['1000-0', '1000-1', '1000-2', '2000-0']);
        expect(all[0]!.text).toBe('text 1000-0');
      });

      it('a duplicate within one batch is stored once', async () => {
        const m = msg('lobby', '5-0');
        expect(await store.insertMessages([m, m])).toEqual({ inserted: 1, duplicates: 1, conflicts: [] });
        expect((await store.getRoom('lobby'))?.messageCount).toBe(1);
      });

      it('a DIFFERENT message under a stored id is a conflict, not a duplicate: returned, nothing overwritten or counted', async () => {
        await store.insertMessages([msg('lobby', '7000-0')]);
        const other = { ...msg('lobby', '7000-0'), user: { id: 'someone-else', name: 'mallory' }, cid: 'other-cid', text: 'reused id' };
        const sameAuthorOtherCid = { ...msg('lobby', '7000-0'), cid: 'another-cid' };
        const result = await store.insertMessages([other, msg('lobby', '7000-1'), sameAuthorOtherCid, msg('lobby', '7000-0')]);
        expect(result).toEqual({ inserted: 1, duplicates: 1, conflicts: [other, sameAuthorOtherCid] });
        expect((await store.getRoom('lobby'))?.messageCount).toBe(2);
        expect((await store.messagesBefore('lobby', undefined, 10))[0]).toEqual(msg('lobby', '7000-0'));
      });

      it('two different messages with one id in the same batch: the first is stored, the second is a conflict', async () => {
        const a = msg('lobby', '8000-0');
        const b = { ...msg('lobby', '8000-0'), cid: 'b-cid', text: 'b' };
        expect(await store.insertMessages([a, b])).toEqual({ inserted: 1, duplicates: 0, conflicts: [b] });
      });

      it('an empty batch is a no-op', async () => {
        expect(await store.insertMessages([])).toEqual({ inserted: 0, duplicates: 0, conflicts: [] });
      });

      it('lastMessageAt never moves backwards when an older message arrives late', async () => {
        await store.insertMessages([msg('lobby', '5000-0')]);
        await store.insertMessages([msg('lobby', '4000-0')]);
        expect(await store.getRoom('lobby')).toEqual({ name: 'lobby', lastMessageAt: 5000, messageCount: 2 });
      });

      it('keeps every field of a message', async () => {
        const m: ChatMessage = {
          id: '1700000000123-7',
          room: 'lobby',
          user: { id: 'Ab_-12345678', name: 'Zoë' },
          text: 'héllo "world" \u{1F600}\nline two',
          ts: 1700000000123,
          cid: 'cid_-1',
        };
        await store.insertMessages([m]);
        expect(await store.messagesAfter('lobby', '0-0', 5)).toEqual([m]);
      });

      it('orders messages by numeric id, not by string', async () => {
        const ids = ['10-0', '9-0', '5-10', '5-2', '100000000000-0', '99999999999-1', '99999999999-0', '1700000000000-11', '1700000000000-3'];
        await store.insertMessages(ids.map((id) => msg('lobby', id)));
        const got = (await store.messagesBefore('lobby', undefined, 100)).map((m) => m.id);
        expect(got).toEqual([...ids].sort(compareIds));
        expect(got).toEqual(['5-2', '5-10', '9-0', '10-0', '99999999999-0', '99999999999-1', '100000000000-0', '1700000000000-3', '1700000000000-11']);
        expect((await store.messagesBefore('lobby', '10-0', 2)).map((m) => m.id)).toEqual(['5-10', '9-0']);
        expect((await store.messagesAfter('lobby', '5-2', 2)).map((m) => m.id)).toEqual(['5-10', '9-0']);
        expect((await store.messagesAfter('lobby', '99999999999-1', 10)).map((m) => m.id)).toEqual([
          '100000000000-0',
          '1700000000000-3',
          '1700000000000-11',
        ]);
        expect(await store.getRoom('lobby')).toMatchObject({ lastMessageAt: 1700000000000, messageCount: 9 });
      });

      it('pages backwards through a room with no gap and no repeat', async () => {
        const all: ChatMessage[] = [];
        for (let i = 0; i < 237; i++) all.push(msg('paging', `${1000 + Math.floor(i / 7)}-${i % 7}`));
        // stored out of order, in several batches, with a foreign room mixed in
        const shuffled = [...all].sort(() => Math.random() - 0.5);
        for (let i = 0; i < shuffled.length; i += 50) {
          await store.insertMessages([...shuffled.slice(i, i + 50), msg('elsewhere', `${2000 + i}-0`)]);
        }
        const seen: string[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await store.messagesBefore('paging', before, 20);
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(20);
          expect(page.every((m) => m.room === 'paging')).toBe(true);
          seen.unshift(...page.map((m) => m.id));
          before = page[0]!.id;
        }
        expect(seen).toEqual(all.map((m) => m.id));
        expect((await store.getRoom('paging'))?.messageCount).toBe(237);
      });

      it('messagesBefore returns the newest messages oldest first, and messagesAfter continues from an id', async () => {
        await store.insertMessages(Array.from({ length: 10 }, (_, i) => msg('lobby', `${100 + i}-0`)));
        expect((await store.messagesBefore('lobby', undefined, 3)).map((m) => m.id)).toEqual(['107-0', '108-0', '109-0']);
        expect((await store.messagesBefore('lobby', '103-0', 10)).map((m) => m.id)).toEqual(['100-0', '101-0', '102-0']);
        expect(await store.messagesBefore('lobby', '100-0', 10)).toEqual([]);
        expect((await store.messagesAfter('lobby', '106-0', 2)).map((m) => m.id)).toEqual(['107-0', '108-0']);
        // an id that is not stored is a position, not a key
        expect((await store.messagesAfter('lobby', '104-5', 2)).map((m) => m.id)).toEqual(['105-0', '106-0']);
        expect(await store.messagesAfter('lobby', '109-0', 10)).toEqual([]);
        expect(await store.messagesBefore('empty-room', undefined, 10)).toEqual([]);
        expect(await store.messagesAfter('empty-room', '0-0', 10)).toEqual([]);
      });
    });

    eventsContract(() => store);

    describe('rooms', () => {
      it('lists general even before any message, with zero messages', async () => {
        expect(await store.listRooms('someone0000', 50)).toEqual([{ name: 'general', lastMessageAt: null, messageCount: 0 }]);
        expect(await store.getRoom('general')).toEqual({ name: 'general', lastMessageAt: null, messageCount: 0 });
        expect(await store.getRoom('no-such-room')).toBeNull();
      });

      it('lists public rooms and only the DMs the user belongs to, most recent first, then by name', async () => {
        const dmAB = dmRoomName('userA', 'userB');
        const dmBC = dmRoomName('userB', 'userC');
        await store.insertMessages([
          msg('beta', '3000-0'),
          msg('alpha', '3000-1'),
          msg(dmAB, '5000-0'),
          msg(dmBC, '6000-0'),
          msg('zeta', '1000-0'),
          msg('alpha', '1000-0'),
        ]);
        const names = async (u: string) => (await store.listRooms(u, 50)).map((r) => r.name);
        expect(await names('userA')).toEqual([dmAB, 'alpha', 'beta', 'zeta', 'general']);
        expect(await names('userB')).toEqual([dmBC, dmAB, 'alpha', 'beta', 'zeta', 'general']);
        expect(await names('userC')).toEqual([dmBC, 'alpha', 'beta', 'zeta', 'general']);
        expect(await names('userD')).toEqual(['alpha', 'beta', 'zeta', 'general']);
        expect((await store.listRooms('userA', 50))[1]).toEqual({ name: 'alpha', lastMessageAt: 3000, messageCount: 2 });
      });

      it('keeps general listed when the limit cuts the list short', async () => {
        await store.insertMessages(['a1', 'a2', 'a3', 'a4'].map((r, i) => msg(r, `${1000 + i}-0`)));
        expect((await store.listRooms('someone0000', 3)).map((r) => r.name)).toEqual(['a4', 'a3', 'general']);
        await store.insertMessages([msg('general', '9000-0')]);
        expect((await store.listRooms('someone0000', 3)).map((r) => r.name)).toEqual(['general', 'a4', 'a3']);
      });
    });

    describe('health', () => {
      it('ping resolves on an open store', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('after close, calls reject instead of crashing or hanging, and close is idempotent', async () => {
        await store.close();
        await expect(store.ping()).rejects.toBeInstanceOf(Error);
        await expect(store.findUserById('x')).rejects.toBeInstanceOf(Error);
        await expect(store.insertMessages([msg('lobby', '1-0')])).rejects.toBeInstanceOf(Error);
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}
