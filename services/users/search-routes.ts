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
import { Router, type Request, type RequestHandler } from 'express';
import { isMessageId } from '../shared/ids.js';
import { roomKindOf, type RoomKind } from '../shared/rooms.js';
import { parseQuery } from '../shared/store/search-highlight.js';
import type { HistoryMessage, Store } from '../shared/store/store.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { assertReadable } from './room-changes.js';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, parseRoomParam, USERNAME_RE } from './validation.js';

export const SEARCH_Q_MAX = 200;
export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 50;
/** Results past this rank are not served: each page ranks every match before it, so deep pages cost most. */
export const SEARCH_MAX_OFFSET = 1000;

export interface SearchRequest {
  q: string;
  room?: string;
  /** A username (resolved to an id by the route). */
  from?: string;
  /** Only messages sent before this time (ms). */
  beforeMs?: number;
  offset: number;
  limit: number;
}

export interface SearchResult {
  message: HistoryMessage;
  highlights: [number, number][];
  room: { name: string; kind: RoomKind; title?: string };
}

const field = (name: string, rule: string) => new ApiError('invalid_field', `${name} ${rule}`);

/** A single query-string value (repeated parameters arrive as arrays). */
function queryValue(req: Request, name: string): string | undefined {
  const v: unknown = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw field(name, 'must be given once');
  return v;
}

/** The opaque cursor of the page starting at `offset`. */
export function searchCursor(offset: number): string {
  return Buffer.from(`o:${offset}`, 'utf8').toString('base64url');
}

function offsetOf(cursor: string): number {
  const text = /^[A-Za-z0-9_-]{1,16}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = /^o:(\d{1,4})$/.exec(text);
  const offset = m ? Number(m[1]) : -1;
  if (offset < 0 || offset > SEARCH_MAX_OFFSET || searchCursor(offset) !== cursor) throw field('cursor', 'is not a cursor this search gave (nextCursor)');
  return offset;
}

/** `before`: ms since the epoch, or an ISO 8601 date/time (2024-05-01, 2024-05-01T12:00:00Z). */
function timeOf(value: string): number {
  const ms = /^\d{1,15}$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > 8.64e15) throw field('before', 'must be a time: milliseconds since 1970, or an ISO date like 2024-05-01T12:00:00Z');
  return ms;
}

/** GET /api/search ?q=&room=&from=&before=&cursor=&limit= */
export function parseSearchRequest(req: Request): SearchRequest {
  const q = queryValue(req, 'q');
  if (q === undefined || q.length < 1 || q.length > SEARCH_Q_MAX) throw new ApiError('invalid_query', `q must be 1–${SEARCH_Q_MAX} characters`);
  if (parseQuery(q).length === 0) throw new ApiError('invalid_query', 'q must contain at least one word (letters or digits)');
  const room = queryValue(req, 'room');
  const from = queryValue(req, 'from');
  if (from !== undefined && !USERNAME_RE.test(from)) throw field('from', 'must be a username');
  const before = queryValue(req, 'before');
  const cursor = queryValue(req, 'cursor');
  const rawLimit = queryValue(req, 'limit');
  let limit = SEARCH_DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    if (!/^\d{1,3}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > SEARCH_MAX_LIMIT) {
      throw new ApiError('invalid_limit', `limit must be an integer from 1 to ${SEARCH_MAX_LIMIT}`);
    }
    limit = Number(rawLimit);
  }
  return {
    q,
    ...(room !== undefined && { room: parseRoomParam(room) }),
    ...(from !== undefined && { from }),
    ...(before !== undefined && { beforeMs: timeOf(before) }),
    offset: cursor === undefined ? 0 : offsetOf(cursor),
    limit,
  };
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

/** `?around=<id>&limit=<1..200>` of a history request (rooms-routes.ts), or null when `around` is absent. */
export function parseAroundQuery(req: Request): { around: string; limit: number } | null {
  const around = queryValue(req, 'around');
  if (around === undefined) return null;
  if (!isMessageId(around)) throw new ApiError('invalid_id', 'around must be a message id like 1700000000000-0');
  if (queryValue(req, 'before') !== undefined) throw new ApiError('invalid_field', 'give around or before, not both');
  const rawLimit = queryValue(req, 'limit');
  let limit = HISTORY_DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    if (!/^\d{1,9}$/.test(rawLimit) || Number(rawLimit) < 1) throw new ApiError('invalid_limit', `limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}`);
    limit = Math.min(Number(rawLimit), HISTORY_MAX_LIMIT);
  }
  return { around, limit };
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
      const request = parseSearchRequest(req);
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
      const room = parseRoomParam(req.params.room);
      const query = parseAroundQuery(req)!;
      const viewer = authedUser(res).id;
      await assertReadable(store, room, viewer);
      res.json(await aroundPage(store, room, query.around, query.limit, viewer, historyMaxBytes));
    },
  );

  return router;
}
