// The signed-in part of the REST API served from the store: people search (to start a DM), the
// room list (public rooms + the caller's DMs), history pages and thread pages. Every route here
// requires a bearer token and is charged to the caller's request budget (`auth`, built in app.ts).
// Messages are served in their current state (edits, deletes, reactions and reply counts the
// ingestion workers applied: store.ts HistoryMessage), each reaction's `me` for the caller.
// History pages also carry the room's membership and room events of their range (the system
// lines "alice invited bob"), as the ws `event` frames that announced them, so they outlive
// the capped room log.
import { Router, type RequestHandler, type Response } from 'express';
import { membershipFrame } from '../chat/frames.js';
import { compareIds } from '../shared/ids.js';
import type { HistoryMessage, Store } from '../shared/store/store.js';
import { authedUser } from './bearer-auth.js';
import { ApiError, methodNotAllowed } from './errors.js';
import { assertReadable } from './room-changes.js';
import { couldBeInUsername, historyQuery, messageIdParam, repliesQuery, roomName, SEARCH_MAX_RESULTS, userSearchQuery } from './schemas/rooms.js';
import { parse } from './validation.js';

/** The room list is bounded; a user with more DMs than this sees the most recent ones. */
const ROOMS_LIST_LIMIT = 200;

/** At most this many membership events on one history page: the newest of its range when more. */
export const HISTORY_EVENTS_MAX = 200;

/** A membership or room event as history shows it: its ws `event` frame (chat/frames.ts), parsed. */
export type HistoryEvent = { id: string } & Record<string, unknown>;

export interface HistoryPage {
  messages: HistoryMessage[];
  hasMore: boolean;
  events: HistoryEvent[];
}

/**
 * One history page from the newest messages before `before` and the membership events of the
 * same range (both oldest first). A page holds EVERY message and event whose id lies from its
 * oldest item (message or event) up to `before`, and when hasMore is false everything older
 * too, so paging back with `before` = the page's oldest id shows each exactly once.
 * `moreMessages`: older messages exist. `cutEvents`: the range held more than the events given
 * (the newest HISTORY_EVENTS_MAX), so messages older than the oldest of them wait for the next
 * page. Then the newest items whose JSON fits in `maxBytes` — at least one, so paging always
 * moves (200 messages of 4,000 escaped control characters would be ~4.8 MB).
 */
export function historyPage(
  messages: HistoryMessage[],
  moreMessages: boolean,
  events: HistoryEvent[],
  cutEvents: boolean,
  maxBytes: number,
): HistoryPage {
  const floor = cutEvents ? events[0]?.id : undefined;
  const items: (HistoryMessage | HistoryEvent)[] = [
    ...(floor === undefined ? messages : messages.filter((m) => compareIds(m.id, floor) > 0)),
    ...events,
  ].sort((x, y) => compareIds(x.id, y.id));
  let bytes = Buffer.byteLength(JSON.stringify({ messages: [], hasMore: false, events: [] }));
  let i = items.length;
  while (i > 0) {
    const size = Buffer.byteLength(JSON.stringify(items[i - 1])) + 1;
    if (bytes + size > maxBytes && i < items.length) break;
    bytes += size;
    i--;
  }
  const kept = new Set<object>(items.slice(i));
  return {
    messages: messages.filter((m) => kept.has(m)),
    hasMore: moreMessages || cutEvents || i > 0,
    events: events.filter((e) => kept.has(e)),
  };
}

/**
 * The OLDEST messages of `page` whose JSON fits in `maxBytes` after `used` bytes (a thread pages
 * forward, so the next page starts after the last one kept) — at least one, so paging moves.
 */
export function fitPageForward<T>(page: T[], maxBytes: number, used = 2): T[] {
  let bytes = used;
  let i = 0;
  while (i < page.length) {
    const size = Buffer.byteLength(JSON.stringify(page[i])) + 1;
    if (bytes + size > maxBytes && i > 0) break;
    bytes += size;
    i++;
  }
  return i === page.length ? page : page.slice(0, i);
}

/**
 * The room of the path, when the caller may read it: refused with 403 for a DM of two other
 * users or a public room they are banned from, 404 for a private room or group they are not
 * in (the same answer as for one that does not exist: room-changes.ts assertReadable).
 */
async function roomFor(store: Store, res: Response, param: unknown): Promise<string> {
  // Express has already percent-decoded the parameter, so `dm%3Aa%3Ab` arrives as `dm:a:b`.
  const room = parse(roomName, param);
  await assertReadable(store, room, authedUser(res).id);
  return room;
}

export function roomsRouter(store: Store, { auth, historyMaxBytes }: { auth: RequestHandler; historyMaxBytes: number }): Router {
  const router = Router();

  router
    .route('/api/users')
    .get(auth, async (req, res) => {
      // Names that contain the query, those that start with it first (the caller included: the
      // client shows them as "you"). A query no name can contain skips the store's scan.
      const { query } = parse(userSearchQuery, req.query);
      const users = couldBeInUsername(query) ? await store.searchUsers(query, SEARCH_MAX_RESULTS) : [];
      // displayName / avatar (profiles) only when set
      res.json({ users: users.map(({ id, username, displayName, avatar }) => ({ id, username, ...(displayName !== undefined && { displayName }), ...(avatar !== undefined && { avatar }) })) });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  router
    .route('/api/rooms')
    .get(auth, async (_req, res) => {
      res.json({ rooms: await store.listRooms(authedUser(res).id, ROOMS_LIST_LIMIT) });
    })
    // POST (create) is membership-routes.ts, mounted before this router
    .all(methodNotAllowed(['GET', 'HEAD', 'POST']));

  router
    .route('/api/rooms/:room/messages')
    .get(auth, async (req, res) => {
      const room = await roomFor(store, res, req.params.room);
      const { before, limit } = parse(historyQuery, req.query);
      // One extra row tells whether older messages (events) exist without a second query.
      // Top-level messages only: replies are in their thread, counted on their parent.
      const rows = await store.messagesBefore(room, before, limit + 1, authedUser(res).id);
      const moreMessages = rows.length > limit;
      const newest = moreMessages ? rows.slice(rows.length - limit) : rows;
      // The events of the page's range: after its oldest message, or all older ones on the
      // oldest page, so consecutive pages share none and miss none.
      const from = moreMessages ? newest[0]!.id : undefined;
      const entries = await store.membershipEventsBetween(room, from, before, HISTORY_EVENTS_MAX + 1);
      const cutEvents = entries.length > HISTORY_EVENTS_MAX;
      const events = (cutEvents ? entries.slice(1) : entries).map((e) => JSON.parse(membershipFrame(e)) as HistoryEvent);
      const page = historyPage(newest, moreMessages, events, cutEvents, historyMaxBytes);
      res.json({ messages: page.messages, hasMore: page.hasMore, events: page.events });
    })
    // POST (send) is message-routes.ts, mounted before this router
    .all(methodNotAllowed(['GET', 'HEAD', 'POST']));

  router
    .route('/api/rooms/:room/messages/:id/replies')
    .get(auth, async (req, res) => {
      const room = await roomFor(store, res, req.params.room);
      const id = parse(messageIdParam, req.params.id);
      const { after, limit } = parse(repliesQuery, req.query);
      const viewer = authedUser(res).id;
      const parent = await store.getMessage(room, id, viewer);
      // A reply has no thread of its own (threads are one level deep, as in Slack).
      if (parent === null || parent.replyTo !== undefined) {
        throw new ApiError('not_found', parent === null ? 'no such message in this room' : 'this message is a reply, not a thread');
      }
      // Oldest first, paging forward; one extra row tells whether more replies follow.
      const page = await store.repliesAfter(room, id, after, limit + 1, viewer);
      const oldest = page.length > limit ? page.slice(0, limit) : page;
      const used = Buffer.byteLength(JSON.stringify({ parent, replies: [], hasMore: false }));
      const replies = fitPageForward(oldest, historyMaxBytes, used);
      res.json({ parent, replies, hasMore: page.length > limit || replies.length < oldest.length });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  return router;
}
