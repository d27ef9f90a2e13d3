// The attention REST API (DESIGN.md "Per-user channel and attention", docs/REST.md "Attention"):
// muting a room's notifications, a room's read receipts, the notifications inbox (list, mark
// read) and the DND status the notify worker reads. Reads and writes go to the store; every
// route needs a bearer token and is charged to the caller's request budget (`auth`). Rooms are
// checked as history checks them (room-changes.ts assertReadable): a members-only room the caller
// is not in is 404, as one that does not exist; a DM is readable by its two users.
import { Router, type RequestHandler } from 'express';
import { GROUP_MAX_MEMBERS } from '../shared/membership.js';
import { roomKindOf } from '../shared/rooms.js';
import type { Store } from '../shared/store/store.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { assertReadable, NO_SUCH_ROOM } from './room-changes.js';
import { inboxQuery, markReadBody, mutedBody, statusBody } from './schemas/attention.js';
import { roomName } from './schemas/rooms.js';
import { parse, parseBody } from './validation.js';

export interface AttentionDeps {
  auth: RequestHandler;
  receiptsMaxMembers: number;
  /** Writes the DND copy the chat replicas' presence shows (shared/user-status.ts setPresenceDnd). */
  presenceDnd: (userId: string, dnd: boolean) => Promise<void>;
}

export function attentionRouter(store: Store, { auth, receiptsMaxMembers, presenceDnd }: AttentionDeps): Router {
  const router = Router();

  router
    .route('/api/me/rooms/:room')
    .patch(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      const { muted } = parseBody(req, mutedBody);
      const me = authedUser(res).id;
      await assertReadable(store, room, me);
      // A DM may be muted before its first message; any other room must exist (no rows for made-up names).
      if (roomKindOf(room) !== 'dm' && !(await store.roomMeta(room))) throw new ApiError('not_found', NO_SUCH_ROOM);
      await store.setRoomMuted(me, room, muted);
      res.status(204).end();
    })
    .all(methodNotAllowed(['PATCH']));

  router
    .route('/api/rooms/:room/reads')
    .get(auth, async (req, res) => {
      const room = parse(roomName, req.params.room);
      await assertReadable(store, room, authedUser(res).id);
      const kind = roomKindOf(room);
      // Every read is a frame to every member: on for DMs and groups, and for rooms up to the cap.
      let limit = kind === 'dm' ? 2 : GROUP_MAX_MEMBERS;
      if (kind !== 'dm' && kind !== 'group') {
        const members = (await store.roomMeta(room))?.memberCount ?? 0;
        if (receiptsMaxMembers === 0 || members > receiptsMaxMembers) {
          res.json({ receipts: false, reads: [] });
          return;
        }
        limit = receiptsMaxMembers;
      }
      res.json({ receipts: true, reads: limit > 0 ? await store.roomReads(room, limit) : [] });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/me/notifications')
    .get(auth, async (req, res) => {
      const query = parse(inboxQuery, req.query);
      const me = authedUser(res).id;
      const [notifications, unread] = await Promise.all([store.notifications(me, query), store.unreadNotificationCount(me)]);
      res.json({ notifications, unread });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/me/notifications/read')
    .post(auth, async (req, res) => {
      const ids = parseBody(req, markReadBody);
      const me = authedUser(res).id;
      await store.markNotificationsRead(me, ids);
      res.json({ unread: await store.unreadNotificationCount(me) });
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/api/me/status')
    // online and away are live presence (the chat replicas); only DND outlives a session. The
    // store is the truth the notify worker reads, so it is written first; Redis has a copy for
    // presence (a retry after a failure here is harmless: both writes are idempotent).
    .put(auth, async (req, res) => {
      const { status } = parseBody(req, statusBody);
      const me = authedUser(res).id;
      await store.setDnd(me, status === 'dnd');
      try {
        await presenceDnd(me, status === 'dnd');
      } catch {
        throw new ApiError('unavailable', 'the status was saved but could not be shown to others now; retry');
      }
      res.status(204).end();
    })
    .all(methodNotAllowed(['PUT']));

  return router;
}
