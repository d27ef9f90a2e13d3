// The signed-in part of the REST API served from the store: user search (to start a DM), the
// room list (public rooms + the caller's DMs) and history pages. Every route here requires a
// bearer token and is charged to the caller's request budget (`auth`, built in app.ts).
import { Router, type RequestHandler } from 'express';
import { mayAccessRoom } from '../shared/rooms.js';
import type { ChatMessage } from '../shared/message.js';
import type { Store } from '../shared/store/store.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { parseHistoryQuery, parseRoomParam, parseSearchQuery, SEARCH_MAX_RESULTS } from './validation.js';

/** The room list is bounded; a user with more DMs than this sees the most recent ones. */
const ROOMS_LIST_LIMIT = 200;

/**
 * The newest messages of `page` (oldest first) whose JSON fits in `maxBytes` — at least one, so
 * paging always moves. A page of 200 messages of 4,000 escaped control characters would be
 * ~4.8 MB; the client pages on while hasMore is true.
 */
export function fitPage(page: ChatMessage[], maxBytes: number): ChatMessage[] {
  let bytes = 2;
  let i = page.length;
  while (i > 0) {
    const size = Buffer.byteLength(JSON.stringify(page[i - 1])) + 1;
    if (bytes + size > maxBytes && i < page.length) break;
    bytes += size;
    i--;
  }
  return i === 0 ? page : page.slice(i);
}

export function roomsRouter(store: Store, { auth, historyMaxBytes }: { auth: RequestHandler; historyMaxBytes: number }): Router {
  const router = Router();

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
      const newest = page.length > limit ? page.slice(page.length - limit) : page;
      const messages = fitPage(newest, historyMaxBytes);
      res.json({ messages, hasMore: page.length > limit || messages.length < newest.length });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  return router;
}
