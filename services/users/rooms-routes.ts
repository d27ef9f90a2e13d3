// The signed-in part of the REST API served from the store: user search (to start a DM), the
// room list (public rooms + the caller's DMs) and history pages. Every route here requires a
// bearer token (bearerAuth first on each route).
import { Router } from 'express';
import { mayAccessRoom } from '../shared/rooms.js';
import type { Store } from '../shared/store/store.js';
import { authedUser, bearerAuth } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { parseHistoryQuery, parseRoomParam, parseSearchQuery, SEARCH_MAX_RESULTS } from './validation.js';

/** The room list is bounded; a user with more DMs than this sees the most recent ones. */
const ROOMS_LIST_LIMIT = 200;

export function roomsRouter(store: Store, jwtSecret: string): Router {
  const router = Router();
  const auth = bearerAuth(jwtSecret);

  router
    .route('/api/users')
    .get(auth, async (req, res) => {
      const users = await store.searchUsers(parseSearchQuery(req), SEARCH_MAX_RESULTS);
      res.json({ users: users.map((u) => ({ id: u.id, username: u.username })) });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/rooms')
    .get(auth, async (_req, res) => {
      res.json({ rooms: await store.listRooms(authedUser(res).id, ROOMS_LIST_LIMIT) });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/rooms/:room/messages')
    .get(auth, async (req, res) => {
      // Express has already percent-decoded the parameter, so `dm%3Aa%3Ab` arrives as `dm:a:b`.
      const room = parseRoomParam(req.params.room);
      if (!mayAccessRoom(authedUser(res).id, room)) {
        throw new ApiError('forbidden', 'this direct-message room belongs to two other users');
      }
      const { before, limit } = parseHistoryQuery(req);
      // One extra row tells whether older messages exist without a second query.
      const page = await store.messagesBefore(room, before, limit + 1);
      const hasMore = page.length > limit;
      res.json({ messages: hasMore ? page.slice(page.length - limit) : page, hasMore });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  return router;
}
