// Message search over REST (docs/REST.md "Search"), and the page of history around one message
// that a search result (or a notification) jumps to.
//
// GET /api/search searches every room the caller may read: the store filters by the rooms
// (store.ts searchMessages; SearchQuery.viewerId), so nothing here can widen it; `room` narrows
// it to one room, checked as history checks it (room-changes.ts assertReadable: 403/404). Each
// result carries its message in its current state, the [start, end) UTF-16 ranges where the
// query matched (the client builds the marks with textContent; never HTML from here) and the
// room's name, kind and title, so a client groups results by room without a lookup.
// The cursor is opaque to clients: the next offset into the ranked list.
import { Router, type RequestHandler } from 'express';
import { roomKindOf, type RoomKind } from '../shared/rooms.js';
import type { HistoryMessage, Store } from '../shared/store/store.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { assertReadable } from './room-changes.js';
import { aroundQuery, roomName } from './schemas/rooms.js';
import { searchCursor, searchQuery, SEARCH_MAX_OFFSET, type SearchRequest } from './schemas/search.js';
import { parse } from './validation.js';

export { searchCursor, type SearchRequest };

export interface SearchResult {
  message: HistoryMessage;
  highlights: [number, number][];
  room: { name: string; kind: RoomKind; title?: string };
}

/** Searches as `viewerId`; `nextCursor` when more results follow (and the next page is within SEARCH_MAX_OFFSET). */
export async function searchPage(store: Store, viewerId: string, r: SearchRequest): Promise<{ results: SearchResult[]; nextCursor?: string }> {
  let fromUserId: string | undefined;
  if (r.from !== undefined) {
    const user = await store.findUserByUsername(r.from);
    if (!user) return { results: [] };
    fromUserId = user.id;
  }
  // one more than asked tells whether another page follows
  const hits = await store.searchMessages({
    viewerId,
    q: r.q,
    ...(r.room !== undefined && { room: r.room }),
    ...(fromUserId !== undefined && { fromUserId }),
    ...(r.beforeMs !== undefined && { beforeId: `${r.beforeMs}-0` }),
    offset: r.offset,
    limit: r.limit + 1,
  });
  const page = hits.slice(0, r.limit);
  const rooms = new Map<string, SearchResult['room']>();
  for (const name of new Set(page.map((h) => h.message.room))) {
    const meta = await store.roomMeta(name);
    const room: SearchResult['room'] = { name, kind: meta?.kind ?? roomKindOf(name) ?? 'public' };
    if (meta?.title !== undefined) room.title = meta.title;
    rooms.set(name, room);
  }
  const results = page.map((h) => ({ message: h.message, highlights: h.highlights, room: rooms.get(h.message.room)! }));
  const next = r.offset + r.limit;
  return hits.length > r.limit && next <= SEARCH_MAX_OFFSET ? { results, nextCursor: searchCursor(next) } : { results };
}

export interface AroundPage {
  messages: HistoryMessage[];
  /** Older top-level messages exist before the first one (page back with `before` = its id). */
  hasOlder: boolean;
  /** Newer top-level messages exist after the last one. */
  hasNewer: boolean;
}

/**
 * Up to `limit` top-level messages of `room` centred on message `id`, oldest first: floor(limit/2)
 * before it, the message itself, the rest after it. A thread reply is shown in its parent's
 * place: the page is centred on the parent (the client opens the thread from there). The room
 * must already be checked readable by the caller. With `maxBytes`, the messages farthest from
 * the centre are left out (alternately older and newer) until the JSON fits, the centre always
 * kept, and hasOlder/hasNewer say so. 404 when the room has no such message.
 */
export async function aroundPage(store: Store, room: string, id: string, limit: number, viewerId: string, maxBytes = Infinity): Promise<AroundPage> {
  let centre = await store.getMessage(room, id, viewerId);
  if (centre?.replyTo !== undefined) centre = await store.getMessage(room, centre.replyTo, viewerId);
  if (centre === null) throw new ApiError('not_found', 'no such message in this room');
  const before = Math.floor(Math.max(1, limit) / 2);
  const after = Math.max(1, limit) - 1 - before;
  const [older, newer] = await Promise.all([
    store.messagesBefore(room, centre.id, before + 1, viewerId),
    store.messagesAfter(room, centre.id, after + 1, viewerId),
  ]);
  let hasOlder = older.length > before;
  let hasNewer = newer.length > after;
  const kept = { older: hasOlder ? older.slice(older.length - before) : older, newer: newer.slice(0, after) };
  // the byte cap: drop from the far ends, the older side first on a tie
  const size = (m: HistoryMessage) => Buffer.byteLength(JSON.stringify(m)) + 1;
  // `false`: the longer spelling, so the answer never exceeds the cap
  let bytes = Buffer.byteLength(JSON.stringify({ messages: [centre], hasOlder: false, hasNewer: false }));
  for (const m of [...kept.older, ...kept.newer]) bytes += size(m);
  while (bytes > maxBytes && kept.older.length + kept.newer.length > 0) {
    if (kept.older.length >= kept.newer.length) {
      bytes -= size(kept.older.shift()!);
      hasOlder = true;
    } else {
      bytes -= size(kept.newer.pop()!);
      hasNewer = true;
    }
  }
  return { messages: [...kept.older, centre, ...kept.newer], hasOlder, hasNewer };
}

export interface SearchDeps {
  auth: RequestHandler;
  /** The history page's byte cap (config HISTORY_PAGE_MAX_BYTES), also for pages around a message. */
  historyMaxBytes: number;
}

/**
 * GET /api/search, and GET /api/rooms/:room/messages?around=<id> — the latter only when `around`
 * is given: any other history request passes on (next('route'), before `auth`, so it is charged
 * once) to rooms-routes.ts. Mount before roomsRouter.
 */
export function searchRouter(store: Store, { auth, historyMaxBytes }: SearchDeps): Router {
  const router = Router();

  router
    .route('/api/search')
    .get(auth, async (req, res) => {
      const request = parse(searchQuery, req.query);
      const viewer = authedUser(res).id;
      if (request.room !== undefined) await assertReadable(store, request.room, viewer);
      res.json(await searchPage(store, viewer, request));
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router.get(
    '/api/rooms/:room/messages',
    (req, _res, next) => next((req.query as Record<string, unknown>).around === undefined ? 'route' : undefined),
    auth,
    async (req, res) => {
      const room = parse(roomName, req.params.room);
      const query = parse(aroundQuery, req.query);
      const viewer = authedUser(res).id;
      await assertReadable(store, room, viewer);
      res.json(await aroundPage(store, room, query.around, query.limit, viewer, historyMaxBytes));
    },
  );

  return router;
}
