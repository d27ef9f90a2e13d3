// The attention REST API (DESIGN.md "Per-user channel and attention", docs/REST.md "Attention"):
// muting a room's notifications, a room's read receipts, the notifications inbox (list, mark
// read) and the DND status the notify worker reads. Reads and writes go to the store; every
// route needs a bearer token and is charged to the caller's request budget (`auth`). Rooms are
// checked as history checks them (room-changes.ts assertReadable): a members-only room the caller
// is not in is 404, as one that does not exist; a DM is readable by its two users.
import { Router, type Request, type RequestHandler } from 'express';
import { GROUP_MAX_MEMBERS } from '../shared/membership.js';
import { roomKindOf } from '../shared/rooms.js';
import { parseNotificationId } from '../shared/store/store-common.js';
import type { Store } from '../shared/store/store.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { assertReadable, NO_SUCH_ROOM } from './room-changes.js';
import { jsonObjectBody, parseRoomParam } from './validation.js';

export const NOTIFICATIONS_DEFAULT_LIMIT = 30;
export const NOTIFICATIONS_MAX_LIMIT = 100;
/** Ids in one mark-read request (a page of the inbox). */
export const MARK_READ_MAX_IDS = 100;
export const STATUSES = ['online', 'away', 'dnd'] as const;
export type Status = (typeof STATUSES)[number];

const field = (name: string, rule: string) => new ApiError('invalid_field', `${name} ${rule}`);

/** A body with exactly the fields listed (a typo must not pass as "nothing to change"). */
function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw new ApiError('invalid_body', `unknown field ${extra[0]}: this request takes ${allowed.join(' or ')}`);
}

/** PATCH /api/me/rooms/:room {muted} */
export function parseMutedBody(body: Record<string, unknown>): boolean {
  onlyFields(body, ['muted']);
  if (typeof body.muted !== 'boolean') throw field('muted', 'must be true or false');
  return body.muted;
}

/** PUT /api/me/status {status} */
export function parseStatusBody(body: Record<string, unknown>): Status {
  onlyFields(body, ['status']);
  if (!STATUSES.includes(body.status as Status)) throw field('status', `must be ${STATUSES.join(', ')}`);
  return body.status as Status;
}

/** POST /api/me/notifications/read {ids} | {all: true} */
export function parseMarkRead(body: Record<string, unknown>): string[] | 'all' {
  onlyFields(body, ['ids', 'all']);
  if ('ids' in body === 'all' in body) throw new ApiError('invalid_body', 'give ids (a list) or all: true, one of them');
  if ('all' in body) {
    if (body.all !== true) throw field('all', 'must be true (to mark some, give ids)');
    return 'all';
  }
  const ids = body.ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MARK_READ_MAX_IDS) {
    throw field('ids', `must be an array of 1–${MARK_READ_MAX_IDS} notification ids (or give all: true)`);
  }
  for (const id of ids) notificationIdOf(id, 'ids[]');
  return [...new Set(ids as string[])];
}

function notificationIdOf(v: unknown, name: string): string {
  if (typeof v !== 'string' || parseNotificationId(v) === null) throw new ApiError('invalid_id', `${name} must be a notification id (the id of a listed notification)`);
  return v;
}

/** A single query-string value (repeated parameters arrive as arrays). */
function queryValue(req: Request, name: string): string | undefined {
  const v: unknown = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw field(name, 'must be given once');
  return v;
}

/** GET /api/me/notifications ?before=<id>&limit=<1..100>&unread=1 */
export function parseInboxQuery(req: Request): { beforeId?: string; limit: number; unreadOnly: boolean } {
  const before = queryValue(req, 'before');
  const rawLimit = queryValue(req, 'limit');
  const unread = queryValue(req, 'unread');
  let limit = NOTIFICATIONS_DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    if (!/^\d{1,3}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > NOTIFICATIONS_MAX_LIMIT) {
      throw new ApiError('invalid_limit', `limit must be an integer from 1 to ${NOTIFICATIONS_MAX_LIMIT}`);
    }
    limit = Number(rawLimit);
  }
  if (unread !== undefined && !['0', '1', 'true', 'false'].includes(unread)) throw field('unread', 'must be 1 or 0');
  return {
    ...(before !== undefined && { beforeId: notificationIdOf(before, 'before') }),
    limit,
    unreadOnly: unread === '1' || unread === 'true',
  };
}

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
      const room = parseRoomParam(req.params.room);
      const muted = parseMutedBody(jsonObjectBody(req));
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
      const room = parseRoomParam(req.params.room);
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
      const query = parseInboxQuery(req);
      const me = authedUser(res).id;
      const [notifications, unread] = await Promise.all([store.notifications(me, query), store.unreadNotificationCount(me)]);
      res.json({ notifications, unread });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/me/notifications/read')
    .post(auth, async (req, res) => {
      const ids = parseMarkRead(jsonObjectBody(req));
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
      const status = parseStatusBody(jsonObjectBody(req));
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
