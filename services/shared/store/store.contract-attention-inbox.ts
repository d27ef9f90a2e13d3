// The contract suite's attention part, continued (store.contract-attention.ts runs it inside its
// lifecycle): the notifications inbox (idempotent per (user, room, source), newest first, mark
// read, unread count), what decides whether a user is notified (notifyPrefs: membership, room
// mute, DND) and the mute flag in "my rooms".
import { beforeEach, describe, expect, it } from 'vitest';
import { dmRoomName } from '../rooms.js';
import { notificationId, parseNotificationId, PREVIEW_CHARS } from './store-common.js';
import { top } from './store.contract-attention.js';
import { joined, member, membersRoom, roomEvent } from './store.contract-membership.js';
import type { AppNotification, NewNotification, Store, User } from './store.js';

const actor = { id: 'u_actor', name: 'actor' };
function note(userId: string, room: string, sourceId: string, kind: NewNotification['kind'] = 'mention', text = `about ${sourceId}`): NewNotification {
  return { userId, kind, room, sourceId, actor, text, ts: Number(sourceId.split('-')[0]) };
}
/** What insertNotifications answers for a row it added: whose inbox, and the notification. */
const inserted = (n: NewNotification) => ({ userId: n.userId, notification: shown(n) });
/** What the inbox shows for `n` (unread unless told). */
const shown = (n: NewNotification, read = false): AppNotification => ({
  id: notificationId(n.room, n.sourceId),
  kind: n.kind,
  room: n.room,
  sourceId: n.sourceId,
  actor: n.actor,
  text: n.text,
  ts: n.ts,
  read,
});

export function attentionInboxContract(getStore: () => Store): void {
  describe('notifications, mute and DND', () => {
    let store: Store;
    beforeEach(() => {
      store = getStore();
    });

    describe('inbox', () => {
      it('is idempotent per (user, room, source): an insert returns only the rows it added', async () => {
        const a = note('u_one', 'lobby', '10-0');
        const b = note('u_one', 'lobby', '11-0', 'reply');
        expect(await store.insertNotifications([a])).toEqual([inserted(a)]);
        // a redelivery adds nothing, a mixed batch only its new rows, a row twice in one call once
        expect(await store.insertNotifications([a])).toEqual([]);
        expect(await store.insertNotifications([a, b, b])).toEqual([inserted(b)]);
        // the same source for another user, or in another room, is another notification
        const c = note('u_two', 'lobby', '10-0', 'group');
        const d = note('u_one', 'other', '10-0', 'dm');
        expect(await store.insertNotifications([c, d])).toEqual([inserted(c), inserted(d)]);
        expect(await store.notifications('u_one', { limit: 10 })).toEqual([shown(b), shown(d), shown(a)]);
        expect(await store.unreadNotificationCount('u_one')).toBe(3);
        expect(await store.insertNotifications([])).toEqual([]);
      });

      it('keeps the parent of a thread reply (replyTo) through insert and listing', async () => {
        const reply = { ...note('u_thread', 'lobby', '30-0', 'reply'), replyTo: '29-0' };
        expect(await store.insertNotifications([reply])).toEqual([{ userId: 'u_thread', notification: { ...shown(reply), replyTo: '29-0' } }]);
        expect(await store.notifications('u_thread', { limit: 5 })).toEqual([{ ...shown(reply), replyTo: '29-0' }]);
      });

      it('keeps a preview of the text (PREVIEW_CHARS code points) and the actor', async () => {
        const long = note('u_one', 'lobby', '20-0', 'dm', '😀'.repeat(PREVIEW_CHARS + 10));
        const stored = (await store.insertNotifications([long]))[0]?.notification;
        expect(stored).toEqual({ ...shown(long), text: '😀'.repeat(PREVIEW_CHARS) });
        expect(await store.notifications('u_one', { limit: 1 })).toEqual([stored]);
      });

      it('pages newest first by source id (numerically, then by room), after a cursor; unread only on request', async () => {
        const user = 'u_pager';
        const list = [
          note(user, 'alpha', '9-0'),
          note(user, 'alpha', '10-0'),
          note(user, 'beta', '10-0'),
          note(user, 'alpha', '10-2'),
          note(user, 'alpha', '100-0', 'invite'),
          note('u_someone', 'alpha', '50-0'),
        ];
        await store.insertNotifications(list);
        const newestFirst = [list[4]!, list[3]!, list[2]!, list[1]!, list[0]!].map((n) => shown(n));
        expect(await store.notifications(user, { limit: 10 })).toEqual(newestFirst);
        const pages: AppNotification[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await store.notifications(user, { limit: 2, ...(before !== undefined && { beforeId: before }) });
          pages.push(...page);
          if (page.length < 2) break;
          before = page[page.length - 1]!.id;
        }
        expect(pages).toEqual(newestFirst);
        expect(await store.notifications(user, { limit: 0 })).toEqual([]);
        expect(await store.notifications(user, { limit: 10, beforeId: 'not-a-cursor' })).toEqual([]);

        await store.markNotificationsRead(user, [newestFirst[1]!.id, newestFirst[3]!.id]);
        const unread = [newestFirst[0]!, newestFirst[2]!, newestFirst[4]!];
        expect(await store.notifications(user, { limit: 10, unreadOnly: true })).toEqual(unread);
        expect(await store.notifications(user, { limit: 1, unreadOnly: true, beforeId: unread[0]!.id })).toEqual([unread[1]]);
        expect(await store.notifications(user, { limit: 10 })).toEqual(newestFirst.map((n, i) => (i === 1 || i === 3 ? { ...n, read: true } : n)));
      });

      it('marks read by id (only the caller’s own) or all; the unread count follows', async () => {
        const mine = [note('u_me', 'lobby', '1-0'), note('u_me', 'lobby', '2-0'), note('u_me', 'dm:u_a:u_me', '3-0', 'dm')];
        const theirs = note('u_them', 'lobby', '1-0');
        await store.insertNotifications([...mine, theirs]);
        expect(await store.unreadNotificationCount('u_me')).toBe(3);
        await store.markNotificationsRead('u_me', [notificationId('lobby', '2-0'), 'garbage', notificationId('lobby', '99-0')]);
        expect(await store.unreadNotificationCount('u_me')).toBe(2);
        // the same key of another user's inbox: theirs stays unread
        await store.markNotificationsRead('u_me', [notificationId('lobby', '1-0')]);
        expect(await store.unreadNotificationCount('u_me')).toBe(1);
        expect(await store.unreadNotificationCount('u_them')).toBe(1);
        await store.markNotificationsRead('u_me', []);
        await store.markNotificationsRead('u_me', 'all');
        expect(await store.unreadNotificationCount('u_me')).toBe(0);
        expect(await store.unreadNotificationCount('u_them')).toBe(1);
        expect((await store.notifications('u_me', { limit: 10 })).every((n) => n.read)).toBe(true);
        // a redelivered insert does not make a read notification unread again
        expect(await store.insertNotifications(mine)).toEqual([]);
        expect(await store.unreadNotificationCount('u_me')).toBe(0);
        expect(await store.unreadNotificationCount('u_nobody')).toBe(0);
      });

      it('notification ids are opaque, round-trip, and refuse anything else', () => {
        const id = notificationId('dm:u_a:u_b', '1700000000000-3');
        expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(parseNotificationId(id)).toEqual({ room: 'dm:u_a:u_b', sourceId: '1700000000000-3' });
        for (const bad of ['', 'x', Buffer.from('lobby').toString('base64url'), Buffer.from('lobby\nnope').toString('base64url'), Buffer.from('Bad Room\n1-0').toString('base64url'), `${id}=`]) {
          expect(parseNotificationId(bad), bad).toBeNull();
        }
      });
    });

    describe('who is notified', () => {
      let ann: User;
      let ben: User;
      let cat: User;
      beforeEach(async () => {
        ann = await store.createUser({ username: 'ann', passwordHash: 'h' });
        ben = await store.createUser({ username: 'ben', passwordHash: 'h' });
        cat = await store.createUser({ username: 'cat', passwordHash: 'h' });
      });
      const who = (u: User) => ({ id: u.id, name: u.username });

      it('notifyPrefs: member now (DMs by name), muted, DND — for users that exist', async () => {
        const room = membersRoom('p', 'prefs');
        await store.applyMembershipEvents([
          roomEvent(room, '1-0', 'created', 'private', { title: 'Prefs' }, who(ann)),
          joined(room, '1-1', who(ann), 'owner'),
          joined(room, '1-2', who(ben)),
          member(room, '1-3', 'banned', who(cat), { banned: true }, who(ann)),
        ]);
        const off = { member: false, muted: false, dnd: false };
        expect(await store.notifyPrefs(room, [ann.id, ben.id, cat.id, 'u_ghost'])).toEqual(
          new Map([
            [ann.id, { member: true, muted: false, dnd: false }],
            [ben.id, { member: true, muted: false, dnd: false }],
            [cat.id, off],
          ]),
        );
        await store.setRoomMuted(ben.id, room, true);
        await store.setDnd(ann.id, true);
        const prefs = await store.notifyPrefs(room, [ann.id, ben.id]);
        expect(prefs.get(ann.id)).toEqual({ member: true, muted: false, dnd: true });
        expect(prefs.get(ben.id)).toEqual({ member: true, muted: true, dnd: false });
        await store.applyMembershipEvents([member(room, '2-0', 'left', who(ben))]);
        expect((await store.notifyPrefs(room, [ben.id])).get(ben.id)).toEqual({ member: false, muted: true, dnd: false });
        expect(await store.notifyPrefs(room, [])).toEqual(new Map());

        const dm = dmRoomName(ann.id, ben.id);
        await store.setRoomMuted(ann.id, dm, true);
        expect(await store.notifyPrefs(dm, [ann.id, ben.id, cat.id])).toEqual(
          new Map([
            [ann.id, { member: true, muted: true, dnd: true }],
            [ben.id, { member: true, muted: false, dnd: false }],
            [cat.id, off],
          ]),
        );
      });

      it('setDnd is on the user (findUserById/ByUsername); new users are not DND', async () => {
        expect(ann.dnd).toBe(false);
        expect((await store.findUserById(ann.id))?.dnd).toBe(false);
        await store.setDnd(ann.id, true);
        expect(await store.findUserById(ann.id)).toEqual({ ...ann, dnd: true });
        expect((await store.findUserByUsername('ANN'))?.dnd).toBe(true);
        await store.setDnd(ann.id, false);
        expect(await store.findUserById(ann.id)).toEqual(ann);
        await store.setDnd('u_ghost', true); // nobody: nothing happens
        expect(await store.findUserById('u_ghost')).toBeNull();
      });

      it('a muted room is flagged in my rooms (DMs too, without a membership), and the mute leaves the read position alone', async () => {
        const dm = dmRoomName(ann.id, ben.id);
        await store.applyMembershipEvents([joined('lobby', '1-0', who(ann))]);
        await store.insertMessages([top(dm, '5-0', 1, who(ben)), top('lobby', '6-0', 1, who(ben))]);
        await store.setRoomMuted(ann.id, dm, true);
        await store.setRoomMuted(ann.id, 'lobby', true);
        const mine = async () => Object.fromEntries((await store.myRooms(ann.id, 10)).map((r) => [r.name, [r.muted, r.unread]]));
        expect(await mine()).toEqual({ [dm]: [true, 1], lobby: [true, 1] });
        await store.setRoomMuted(ann.id, 'lobby', false);
        expect(await mine()).toEqual({ [dm]: [true, 1], lobby: [false, 1] });
        // the peer's own flag is their own
        expect((await store.myRooms(ben.id, 10)).find((r) => r.name === dm)?.muted).toBe(false);
      });
    });
  });
}
